//! The built-in provider of `wasi:config/store`, at `0.2.0-draft` (the proposal's tagged draft),
//! `0.2.0-rc.1` (`wasmtime serve -S config`) and `0.2.0-draft-2024-09-27` (Spin 4), all from
//! the same values, so a component built for any of those hosts runs here. The values a
//! component sees are resolved once, when the app loads, from three layers (later wins):
//!
//! 1. the manifest: the app's `[config]` table, with the component's `config` table over it;
//! 2. the host's environment: `MANIFOLD_CONFIG_<KEY>` (see [`env_var_name`]) replaces the
//!    value of a key that the manifest defines, and only of such a key, so the environment
//!    of the host can change what an app was given but never add to it;
//! 3. the command line: `--config KEY=VALUE`, which may also add keys.
//!
//! Every instance then gets an `Arc` of the result; `get` and `get-all` never touch the
//! environment. Values are never logged (they may be secrets), keys are.
//!
//! With a shared [`ConfigSource`] (the manifest's `[config-source] type = "keyvalue"`), its
//! values come between the manifest's and the deployment's: read on every call, they replace
//! the manifest's, while a key the deployment pinned (by a variable or `--config`) keeps its
//! value. A source that fails gives the guest `error::upstream` and a log line.

mod host;
mod source;
mod values;
mod wit;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use manifold_config::ComponentPlan;
use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};

pub use source::{ConfigSource, SourceFuture};
pub use values::{ENV_PREFIX, env_var_name};

use host::ConfigContext;

/// The versions of `wasi:config/store` served, in the order they are offered.
pub fn versions() -> impl Iterator<Item = &'static str> {
    host::VERSIONS.iter().map(|(version, _)| *version)
}

/// `wasi:config/store` at each of [`versions`], in the same order.
fn names() -> &'static [InterfaceName] {
    static NAMES: LazyLock<Vec<InterfaceName>> = LazyLock::new(|| {
        versions()
            .map(|version| {
                let full = format!("wasi:config/store@{version}");
                full.parse()
                    .unwrap_or_else(|e| panic!("bad built-in name {full}: {e}"))
            })
            .collect()
    });
    &NAMES
}

/// The `config` provider of one component: its values, resolved.
pub struct ConfigProvider {
    values: Arc<Values>,
}

/// What every instance of a component reads.
#[derive(Clone)]
pub(crate) struct Values {
    /// The manifest's values with the deployment's (variables, `--config`) over them.
    pub(crate) resolved: BTreeMap<String, String>,
    /// Keys whose value the deployment gave: a source does not override them.
    pub(crate) pinned: BTreeSet<String>,
    pub(crate) source: Option<Arc<dyn ConfigSource>>,
}

impl ConfigProvider {
    pub const NAME: &'static str = "config";

    /// The values of `component`, with the host's `MANIFOLD_CONFIG_*` variables read now.
    pub fn new(component: &ComponentPlan) -> ConfigProvider {
        Self::from_layers(
            &component.config,
            &component.config_overrides,
            values::host_env,
        )
    }

    /// The values from the manifest's `manifest`, the variables `env` gives for their keys,
    /// and `overrides` (from the command line), in that order.
    pub fn from_layers(
        manifest: &BTreeMap<String, String>,
        overrides: &BTreeMap<String, String>,
        env: impl Fn(&str) -> Option<String>,
    ) -> ConfigProvider {
        let (resolved, pinned) = values::resolve(manifest, overrides, env);
        ConfigProvider {
            values: Arc::new(Values {
                resolved,
                pinned,
                source: None,
            }),
        }
    }

    /// The same values with `source`'s over the manifest's (not over pinned keys).
    pub fn with_source(self, source: Arc<dyn ConfigSource>) -> ConfigProvider {
        let values = Arc::unwrap_or_clone(self.values);
        ConfigProvider {
            values: Arc::new(Values {
                source: Some(source),
                ..values
            }),
        }
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        names().to_vec()
    }

    /// The values from the manifest and the deployment (without a source's), by key.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values.resolved
    }
}

impl Provider for ConfigProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn interfaces(&self) -> &[InterfaceName] {
        names()
    }

    fn wit(&self) -> Option<Arc<wit_parser::Resolve>> {
        Some(wit::shared())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        for (name, (_, link)) in names().iter().zip(host::VERSIONS) {
            if chosen.contains(name) {
                link(linker)?;
            }
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        state.extensions.insert(ConfigContext(self.values.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
