//! Resolving a component's values once, at load: the manifest's, then the host's
//! `MANIFOLD_CONFIG_*` variables for the keys the manifest defines, then the command line's.

use std::collections::{BTreeMap, BTreeSet};

/// What every overriding variable starts with.
pub const ENV_PREFIX: &str = "MANIFOLD_CONFIG_";

/// The host variable that overrides `key`: [`ENV_PREFIX`], then the key with ASCII letters
/// upper-cased, ASCII digits and `_` kept, and every other character (`.`, `-`, a space,
/// anything not ASCII) turned into one `_`. So `db.url` is `MANIFOLD_CONFIG_DB_URL` and
/// `feature-x` is `MANIFOLD_CONFIG_FEATURE_X`; keys that differ only in case or in those
/// characters (`db.url`, `DB-URL`) share one variable.
pub fn env_var_name(key: &str) -> String {
    let mut name = String::with_capacity(ENV_PREFIX.len() + key.len());
    name.push_str(ENV_PREFIX);
    name.extend(key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    name
}

/// The layers, in order; `env` is asked only for the variables of the manifest's keys. Also
/// the keys the deployment pinned (a variable or `--config` gave their value), which a shared
/// [`ConfigSource`](crate::ConfigSource) does not override.
pub(crate) fn resolve(
    manifest: &BTreeMap<String, String>,
    overrides: &BTreeMap<String, String>,
    env: impl Fn(&str) -> Option<String>,
) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let mut values = manifest.clone();
    let mut pinned = BTreeSet::new();
    for (key, value) in &mut values {
        let variable = env_var_name(key);
        if let Some(from_env) = env(&variable) {
            tracing::info!(
                key,
                variable,
                "config value taken from the host environment"
            );
            *value = from_env;
            pinned.insert(key.clone());
        }
    }
    for (key, value) in overrides {
        values.insert(key.clone(), value.clone());
        pinned.insert(key.clone());
    }
    (values, pinned)
}

/// The host's value of `variable`; one that is not UTF-8 is ignored, with a warning.
pub(crate) fn host_env(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(value) => Some(value),
        Err(std::env::VarError::NotPresent) => None,
        Err(std::env::VarError::NotUnicode(_)) => {
            tracing::warn!(
                variable,
                "ignored: the value is not UTF-8, and wasi:config values are strings"
            );
            None
        }
    }
}
