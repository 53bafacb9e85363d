//! `manifold.toml`, exactly as written: serde types with `deny_unknown_fields`, so a typo is
//! an error with a line number rather than a silently ignored key. See `docs/manifest.md`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::redact::redact_urls_in;
use crate::{
    ConfigError, ConnectPattern, DirGrant, InterfaceName, LimitsConfig, ListenPattern,
    OutboundPattern, redact_url, split_url_list,
};

/// The whole manifest.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// The app's name (default: the manifest's directory name). Scopes its stored data.
    pub name: Option<String>,
    /// Where the app's data (key-value database, …) lives, relative to the manifest.
    pub data_dir: Option<String>,
    /// Limits for every component unless a component overrides them.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `wasi:config` values for every component: string keys to string values.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The components, by name. At least one.
    #[serde(default)]
    pub component: BTreeMap<String, ComponentConfig>,
    /// Which provider serves an interface, keyed by interface name (version optional).
    #[serde(default)]
    pub providers: BTreeMap<InterfaceName, ProviderConfig>,
    /// Where the app's `wasi:keyvalue` buckets are stored (`[keyvalue]`).
    #[serde(default)]
    pub keyvalue: KeyValueBackend,
    /// Where the app's `wasi:blobstore` containers are stored (`[blobstore]`).
    #[serde(default)]
    pub blobstore: BlobstoreBackend,
    /// Plugins: providers of host interfaces loaded at run time (`[plugins.NAME]`).
    #[serde(default)]
    pub plugins: BTreeMap<String, PluginConfig>,
    /// Where `wasi:config` values come from besides the manifest (`[config-source]`).
    #[serde(default)]
    pub config_source: ConfigSource,
    /// `manifold serve`'s connection limits (`[serve]`).
    #[serde(default)]
    pub serve: crate::ServeConfig,
}

/// A plugin: a provider of host interfaces that is not compiled into the host
/// (`[plugins.NAME]`). See `docs/plugins.md`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PluginConfig {
    /// `dylib`, `rpc` or `wasm`.
    pub kind: PluginKind,
    /// `dylib`: the shared library; `wasm`: the component. Relative to the manifest.
    pub path: Option<String>,
    /// The WIT file or directory defining what the plugin serves (required for `rpc`; a
    /// `dylib` or `wasm` plugin carries its own). Relative to the manifest.
    pub wit: Option<String>,
    /// Which interfaces of the WIT the plugin serves (default: every interface of the WIT's
    /// main package).
    pub interfaces: Option<Vec<InterfaceName>>,
    /// `rpc`: the program the host starts and supervises, with its arguments.
    pub command: Option<Vec<String>>,
    /// `rpc`: where the plugin listens: `unix:PATH`, `tcp:HOST:PORT` or
    /// `nats://HOST:PORT` (with `subject`). With `command`, a `unix:` address defaults to a
    /// socket in a private temporary directory, passed to the program as
    /// `MANIFOLD_PLUGIN_ADDRESS`.
    pub address: Option<String>,
    /// `rpc` over NATS: the subject prefix the host and the plugin meet on.
    pub subject: Option<String>,
    /// `rpc` over NATS: a NATS credentials file (user JWT and NKey seed), relative to the
    /// manifest. (A user and password or a token go in the URL.)
    pub credentials: Option<String>,
    /// `rpc` over NATS with `tls://`: root certificates (PEM) to trust besides the system's,
    /// relative to the manifest.
    pub tls_ca: Option<String>,
    /// `rpc` with `command`: environment of the program (nothing else is inherited).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// `rpc` with `command`: working directory (default: the manifest's directory).
    pub cwd: Option<String>,
    /// `rpc` with `command`: resource limits of the program (setrlimit(2), soft and hard).
    pub rlimits: Option<crate::Rlimits>,
    /// Deadline of one call (default 30s).
    pub timeout: Option<crate::HumanDuration>,
    /// `rpc`: calls in flight at once; more wait (default 64).
    pub max_in_flight: Option<usize>,
    /// `rpc`: the largest answer accepted from one call (default: the app's largest
    /// instance memory cap, since a larger answer could not be lowered into the guest).
    pub max_answer: Option<crate::ByteSize>,
    /// `wasm`: interfaces the plugin may import beyond those without authority, served with
    /// the grants of the component it is composed with (e.g. `wasi:keyvalue/store` for an
    /// adapter that works on the component's buckets).
    pub share: Option<Vec<InterfaceName>>,
}

/// Kinds of plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    /// A shared library loaded into the host process (C ABI, `include/manifold_plugin.h`).
    Dylib,
    /// A program spoken to over wRPC (Unix socket, TCP or NATS).
    Rpc,
    /// A Wasm component that exports the interfaces.
    Wasm,
}

impl From<PluginKind> for ProviderKind {
    fn from(kind: PluginKind) -> ProviderKind {
        match kind {
            PluginKind::Dylib => ProviderKind::Dylib,
            PluginKind::Rpc => ProviderKind::Rpc,
            PluginKind::Wasm => ProviderKind::Wasm,
        }
    }
}

/// The app's blob store backend: `[blobstore]` with `type = "embedded"` (the default), or
/// `type = "nats"` and a `url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum BlobstoreBackend {
    /// A directory tree, `blobstore/` in the app's data directory. (A struct variant, so
    /// that `deny_unknown_fields` refuses stray keys.)
    Embedded {},
    /// A NATS server with JetStream (an object store per app), e.g. `nats://127.0.0.1:4222`
    /// (`tls://` for TLS; several servers of a cluster separated by commas).
    Nats {
        url: String,
        /// A NATS credentials file (user JWT and NKey seed), relative to the manifest.
        credentials: Option<PathBuf>,
        /// Root certificates (PEM) trusted for `tls://`, relative to the manifest.
        tls_ca: Option<PathBuf>,
    },
}

impl BlobstoreBackend {
    /// Makes the files it names relative to the manifest's directory `base`.
    pub(crate) fn resolve(self, base: &Path) -> BlobstoreBackend {
        match self {
            BlobstoreBackend::Nats {
                url,
                credentials,
                tls_ca,
            } => BlobstoreBackend::Nats {
                url,
                credentials: credentials.map(|p| base.join(p)),
                tls_ca: tls_ca.map(|p| base.join(p)),
            },
            other => other,
        }
    }
}

impl Default for BlobstoreBackend {
    fn default() -> BlobstoreBackend {
        BlobstoreBackend::Embedded {}
    }
}

/// Where an app's `wasi:config` values come from besides the manifest: `[config-source]` with
/// `type = "manifest"` (the default: nowhere else) or `type = "keyvalue"`: a bucket of the
/// app's key-value backend (`[keyvalue]`), read on every call, so every instance in a cluster
/// sees the same, current values.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConfigSource {
    Manifest {},
    Keyvalue {
        /// The bucket holding the values (default `config`), scoped to the app like any other.
        #[serde(default = "default_config_bucket")]
        bucket: String,
    },
}

impl Default for ConfigSource {
    fn default() -> ConfigSource {
        ConfigSource::Manifest {}
    }
}

fn default_config_bucket() -> String {
    "config".into()
}

/// The app's key-value backend: `[keyvalue]` with `type = "embedded"` (the default), or
/// `type = "redis"` or `type = "nats"` and a `url`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum KeyValueBackend {
    /// A redb database file in the app's data directory. (A struct variant, so that
    /// `deny_unknown_fields` refuses a stray `url`.)
    Embedded {},
    /// A Redis server, e.g. `redis://127.0.0.1:6379` (`rediss://` for TLS, `/N` for a db).
    Redis { url: String },
    /// A NATS server with JetStream, e.g. `nats://127.0.0.1:4222` (`tls://` for TLS; several
    /// servers of a cluster separated by commas).
    Nats {
        url: String,
        /// A NATS credentials file (user JWT and NKey seed), relative to the manifest.
        credentials: Option<PathBuf>,
        /// Root certificates (PEM) trusted for `tls://`, relative to the manifest.
        tls_ca: Option<PathBuf>,
    },
}

impl KeyValueBackend {
    /// Makes the files it names relative to the manifest's directory `base`.
    pub(crate) fn resolve(self, base: &Path) -> KeyValueBackend {
        match self {
            KeyValueBackend::Nats {
                url,
                credentials,
                tls_ca,
            } => KeyValueBackend::Nats {
                url,
                credentials: credentials.map(|p| base.join(p)),
                tls_ca: tls_ca.map(|p| base.join(p)),
            },
            other => other,
        }
    }
}

impl Default for KeyValueBackend {
    fn default() -> KeyValueBackend {
        KeyValueBackend::Embedded {}
    }
}

/// The URL schemes the Redis backend understands.
const REDIS_SCHEMES: [&str; 4] = ["redis://", "rediss://", "redis+unix://", "unix://"];

/// The URL schemes the NATS backend understands.
const NATS_SCHEMES: [&str; 2] = ["nats://", "tls://"];

/// Whether every server of `url` (split as the NATS client splits it) has a NATS scheme.
fn is_nats_url_list(url: &str) -> bool {
    split_url_list(url).iter().all(|server| {
        NATS_SCHEMES
            .iter()
            .any(|scheme| server.trim().starts_with(scheme))
    })
}

/// One component of the app and the capabilities granted to it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ComponentConfig {
    /// Path of the `.wasm` or `.wat` file, relative to the manifest.
    pub source: String,
    /// `serve`: the path prefix this component answers (default `/`).
    pub route: Option<Route>,
    /// `run`: arguments after the program name.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables with fixed values.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Environment variables passed through from the host, when the host has them.
    #[serde(default)]
    pub inherit_env: Vec<String>,
    /// Directory grants, `HOST[::GUEST][:ro]`; host paths relative to the manifest.
    #[serde(default)]
    pub dirs: Vec<DirGrant>,
    /// Outbound HTTP destinations, `SCHEME://HOST[:PORT]` with `*` wildcards.
    #[serde(default)]
    pub allow_outbound: Vec<OutboundPattern>,
    /// Remote TCP/UDP endpoints this component may connect to, `tcp://HOST:PORT`.
    #[serde(default)]
    pub allow_connect: Vec<ConnectPattern>,
    /// Local addresses this component may listen on (TCP) or bind (UDP), `tcp://IP:PORT`.
    #[serde(default)]
    pub allow_listen: Vec<ListenPattern>,
    /// Key-value buckets this component may open (`wasi:keyvalue`).
    #[serde(default)]
    pub keyvalue: Vec<String>,
    /// Blob containers this component may use (`wasi:blobstore`).
    #[serde(default)]
    pub blobstore: Vec<String>,
    /// `wasi:config` values for this component, over the app's `[config]`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Limits for this component, over the app's `[limits]`.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Instance reuse of a WASI 0.3 HTTP handler: `false`, `true` or
    /// `{ max-requests, max-concurrent, idle-timeout }`.
    #[serde(default)]
    pub reuse: crate::ReuseConfig,
}

/// A route: a path prefix starting with `/`. `/api` matches `/api` and `/api/...`, not `/apix`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Route(String);

impl Route {
    pub fn root() -> Route {
        Route("/".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `path` falls under this route.
    pub fn matches(&self, path: &str) -> bool {
        let prefix = self.0.as_str();
        prefix == "/"
            || (path.starts_with(prefix)
                && matches!(
                    path.as_bytes().get(prefix.len()),
                    None | Some(b'/') | Some(b'?')
                ))
    }
}

impl TryFrom<String> for Route {
    type Error = ConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let err = |message: &str| ConfigError::Value {
            what: "route",
            value: value.clone(),
            message: message.into(),
        };
        if !value.starts_with('/') {
            return Err(err(
                "a route is a path prefix and starts with `/`, e.g. \"/api\"",
            ));
        }
        if value.contains(['?', '#', '*', ' ']) {
            return Err(err(
                "a route is a plain path prefix: no `?`, `#`, `*` or spaces",
            ));
        }
        let trimmed = if value.len() > 1 {
            value.trim_end_matches('/')
        } else {
            &value
        };
        Ok(Route(if trimmed.is_empty() {
            "/".into()
        } else {
            trimmed.into()
        }))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which provider serves an interface.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProviderConfig {
    /// The kind of provider.
    #[serde(default)]
    pub kind: ProviderKind,
    /// Which provider: a built-in one (`manifold providers` lists them) or a plugin's name
    /// (`[plugins.NAME]`).
    pub name: String,
}

/// Kinds of providers: compiled in, or one of the plugin kinds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderKind {
    #[default]
    Builtin,
    Dylib,
    Rpc,
    Wasm,
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderKind::Builtin => "builtin",
            ProviderKind::Dylib => "dylib",
            ProviderKind::Rpc => "rpc",
            ProviderKind::Wasm => "wasm",
        })
    }
}

impl Manifest {
    /// Reads and parses a manifest file, with the file name and line in every error.
    pub fn load(path: &Path) -> Result<Manifest, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses manifest text; `path` is only used in messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ConfigError> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            // The error quotes the line it points at, which may be a `url` with a password.
            message: redact_urls_in(&e.to_string()),
        })?;
        manifest.validate(path)?;
        Ok(manifest)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if let Some(name) = &self.name {
            crate::validate_app_name(name).map_err(|m| invalid(format!("name {name:?}: {m}")))?;
        }
        if self.component.is_empty() {
            return Err(invalid(
                "no components; add one, e.g.\n\n[component.hello]\nsource = \"hello.wasm\"\n"
                    .into(),
            ));
        }
        validate_config_keys(&self.config).map_err(|m| invalid(format!("[config]: {m}")))?;
        // URLs are shown redacted: a manifest's `url` may hold a password or a token.
        if let KeyValueBackend::Redis { url } = &self.keyvalue
            && !REDIS_SCHEMES.iter().any(|scheme| url.starts_with(scheme))
        {
            return Err(invalid(format!(
                "[keyvalue]: url {:?} is not a Redis URL; expected one starting with {}, \
                 e.g. \"redis://127.0.0.1:6379\"",
                redact_url(url),
                REDIS_SCHEMES.join(", ")
            )));
        }
        if let KeyValueBackend::Nats { url, .. } = &self.keyvalue
            && !is_nats_url_list(url)
        {
            return Err(invalid(format!(
                "[keyvalue]: url {:?} is not a NATS URL; expected servers starting with {}, \
                 separated by commas, e.g. \"nats://127.0.0.1:4222\"",
                redact_url(url),
                NATS_SCHEMES.join(" or ")
            )));
        }
        if let BlobstoreBackend::Nats { url, .. } = &self.blobstore
            && !is_nats_url_list(url)
        {
            return Err(invalid(format!(
                "[blobstore]: url {:?} is not a NATS URL; expected servers starting with {}, \
                 separated by commas, e.g. \"nats://127.0.0.1:4222\"",
                redact_url(url),
                NATS_SCHEMES.join(" or ")
            )));
        }
        for (name, plugin) in &self.plugins {
            validate_plugin(name, plugin).map_err(|m| invalid(format!("[plugins.{name}]: {m}")))?;
        }
        let mut routes: BTreeMap<&Route, &str> = BTreeMap::new();
        let root = Route::root();
        for (name, component) in &self.component {
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid(format!(
                    "component name {name:?}: use letters, digits, `-` and `_`"
                )));
            }
            if component.source.trim().is_empty() {
                return Err(invalid(format!("component `{name}`: `source` is empty")));
            }
            for var in component.env.keys().chain(&component.inherit_env) {
                crate::grants::validate_env_name(var)
                    .map_err(|m| invalid(format!("component `{name}`: env {var:?}: {m}")))?;
            }
            validate_config_keys(&component.config)
                .map_err(|m| invalid(format!("component `{name}`: config: {m}")))?;
            if let [key, ..] = component.limits.app_only_keys()[..] {
                return Err(invalid(format!(
                    "component `{name}`: limits: `{key}` is the whole app's (its storage is \
                     shared by its components); set it in `[limits]`"
                )));
            }
            let route = component.route.as_ref().unwrap_or(&root);
            if let Some(other) = routes.insert(route, name) {
                return Err(invalid(format!(
                    "components `{other}` and `{name}` both claim the route `{route}`; give each its own `route`"
                )));
            }
        }
        Ok(())
    }
}

/// What each plugin kind needs, and nothing it would ignore.
fn validate_plugin(name: &str, p: &PluginConfig) -> Result<(), String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err("use letters, digits, `-` and `_` in a plugin's name".into());
    }
    let rpc_only = [
        ("command", p.command.is_some()),
        ("address", p.address.is_some()),
        ("subject", p.subject.is_some()),
        ("credentials", p.credentials.is_some()),
        ("tls-ca", p.tls_ca.is_some()),
        ("env", !p.env.is_empty()),
        ("cwd", p.cwd.is_some()),
        ("rlimits", p.rlimits.is_some()),
        ("max-in-flight", p.max_in_flight.is_some()),
        ("max-answer", p.max_answer.is_some()),
    ];
    match p.kind {
        PluginKind::Dylib | PluginKind::Wasm => {
            if p.path.is_none() {
                return Err(format!(
                    "a {} plugin needs `path`, e.g. path = \"{}\"",
                    p.kind_name(),
                    if p.kind == PluginKind::Dylib {
                        "plugins/libmy_plugin.so"
                    } else {
                        "plugins/my-plugin.wasm"
                    }
                ));
            }
            if let Some((key, _)) = rpc_only.iter().find(|(_, set)| *set) {
                return Err(format!("`{key}` is for rpc plugins only"));
            }
            if p.kind == PluginKind::Dylib && p.share.is_some() {
                return Err("`share` is for wasm plugins only".into());
            }
        }
        PluginKind::Rpc => {
            if p.share.is_some() {
                return Err("`share` is for wasm plugins only".into());
            }
            if p.path.is_some() {
                return Err("`path` is for dylib and wasm plugins; an rpc plugin has `command` and/or `address`".into());
            }
            if p.wit.is_none() {
                return Err(
                    "an rpc plugin needs `wit`, the WIT file (or directory) of what it serves"
                        .into(),
                );
            }
            if p.command.is_none() && p.address.is_none() {
                return Err("an rpc plugin needs `command` (the host starts it) or `address` (it is already running)".into());
            }
            if let Some(command) = &p.command
                && command.first().is_none_or(|c| c.trim().is_empty())
            {
                return Err("`command` is empty; give the program and its arguments".into());
            }
            if let Some(address) = &p.address {
                crate::PluginAddress::parse(address)?;
            }
            let on_nats = p
                .address
                .as_deref()
                .is_some_and(|a| a.starts_with("nats://") || a.starts_with("tls://"));
            for (key, set) in [
                ("subject", p.subject.is_some()),
                ("credentials", p.credentials.is_some()),
                ("tls-ca", p.tls_ca.is_some()),
            ] {
                if set && !on_nats {
                    return Err(format!("`{key}` is for an address `nats://…` or `tls://…`"));
                }
            }
            if p.max_in_flight == Some(0) {
                return Err("`max-in-flight` must be at least 1".into());
            }
            if p.max_answer.is_some_and(|b| b.0 == 0) {
                return Err("`max-answer` must be at least 1 byte".into());
            }
            if let Some(rlimits) = &p.rlimits {
                if p.command.is_none() {
                    return Err("`rlimits` apply to a program the host starts: give `command`, or set the limits where the plugin at `address` is started".into());
                }
                rlimits.validate().map_err(|m| format!("rlimits: {m}"))?;
            }
        }
    }
    Ok(())
}

impl PluginConfig {
    fn kind_name(&self) -> &'static str {
        match self.kind {
            PluginKind::Dylib => "dylib",
            PluginKind::Rpc => "rpc",
            PluginKind::Wasm => "wasm",
        }
    }
}

/// A config key is any non-empty string; TOML has already made every value a string.
fn validate_config_keys(config: &BTreeMap<String, String>) -> Result<(), String> {
    if config.contains_key("") {
        return Err("a key is empty; give every value a name".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The name scopes the app's data directory: `../../x` would move it elsewhere.
    #[test]
    fn name_must_be_one_safe_segment() {
        for bad in ["../../x", "a/b", "..", ""] {
            let text = format!("name = {bad:?}\n[component.a]\nsource = \"a.wasm\"\n");
            let err = Manifest::parse(&text, Path::new("m.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("name"), "{bad:?}: {err}");
        }
        let ok = "name = \"shop-2\"\n[component.a]\nsource = \"a.wasm\"\n";
        assert_eq!(
            Manifest::parse(ok, Path::new("m.toml"))
                .unwrap()
                .name
                .as_deref(),
            Some("shop-2")
        );
    }

    fn parse(text: &str) -> Result<Manifest, String> {
        Manifest::parse(text, Path::new("manifold.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn full_manifest() {
        let m = parse(
            r#"
            name = "shop"
            [limits]
            timeout = "5s"
            memory = "64MiB"
            max-object-size = "16MiB"
            blob-quota = "2GiB"
            [component.api]
            source = "api.wasm"
            route = "/api/"
            env = { GREETING = "hi" }
            inherit-env = ["HOME"]
            dirs = ["data::/data:ro"]
            allow-outbound = ["https://example.com"]
            allow-connect = ["tcp://db:5432", "udp://10.0.0.1:53"]
            allow-listen = ["tcp://127.0.0.1:8080"]
            limits = { fuel = 1000 }
            [component.web]
            source = "web.wat"
            [providers."wasi:cli/environment"]
            name = "wasi"
            "#,
        )
        .unwrap();
        assert_eq!(m.name.as_deref(), Some("shop"));
        let api = &m.component["api"];
        assert_eq!(api.route.as_ref().unwrap().as_str(), "/api");
        assert!(api.dirs[0].read_only);
        assert_eq!(api.limits.fuel, Some(1000));
        assert_eq!(api.allow_connect[0].to_string(), "tcp://db:5432");
        assert_eq!(api.allow_connect.len(), 2);
        assert_eq!(api.allow_listen[0].to_string(), "tcp://127.0.0.1:8080");
        assert_eq!(m.limits.memory.unwrap().0, 64 << 20);
        assert_eq!(m.limits.storage().max_object_size.0, 16 << 20);
        assert_eq!(m.limits.storage().blob_quota.unwrap().0, 2 << 30);
        let (key, provider) = m.providers.iter().next().unwrap();
        assert_eq!(key.to_string(), "wasi:cli/environment");
        assert_eq!(provider.kind, ProviderKind::Builtin);
    }

    #[test]
    fn storage_limits_are_the_apps_not_a_components() {
        let err =
            parse("[component.a]\nsource = \"a\"\nlimits = { fuel = 1, blob-quota = \"1MiB\" }\n")
                .unwrap_err();
        assert!(
            err.contains("component `a`: limits: `blob-quota` is the whole app's")
                && err.contains("set it in `[limits]`"),
            "{err}"
        );
        let err = parse("[limits]\nmax-object-size = \"huge\"\n[component.a]\nsource = \"a\"\n")
            .unwrap_err();
        assert!(err.contains("size") && err.contains("line 2"), "{err}");
    }

    #[test]
    fn unknown_key_has_line_and_name() {
        let err = parse("[component.a]\nsource = \"a.wasm\"\nenvv = {}\n").unwrap_err();
        assert!(err.contains("manifold.toml"), "{err}");
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("envv"), "{err}");
        assert!(err.contains("expected one of"), "{err}");
    }

    #[test]
    fn bad_values_point_at_the_line() {
        for (text, needle) in [
            (
                "[component.a]\nsource = \"a\"\nroute = \"api\"\n",
                "starts with `/`",
            ),
            (
                "[component.a]\nsource = \"a\"\ndirs = [\"::x\"]\n",
                "host directory is empty",
            ),
            (
                "[component.a]\nsource = \"a\"\nallow-outbound = [\"example.com\"]\n",
                "missing `://`",
            ),
            (
                "[component.a]\nsource = \"a\"\nallow-connect = [\"tcp://db\"]\n",
                "missing port",
            ),
            (
                "[component.a]\nsource = \"a\"\nallow-listen = [\"tcp://db:80\"]\n",
                "local IP address",
            ),
            (
                "[limits]\ntimeout = \"soon\"\n[component.a]\nsource = \"a\"\n",
                "duration",
            ),
            (
                "[limits]\nmemory = \"lots\"\n[component.a]\nsource = \"a\"\n",
                "size",
            ),
            (
                "[component.a]\nsource = \"a\"\n[providers.\"nope\"]\nname = \"x\"\n",
                "interface name",
            ),
            (
                "[component.a]\nsource = \"a\"\n[providers.\"a:b/c\"]\nkind = \"magic\"\nname = \"x\"\n",
                "builtin",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains("line"), "{text}: {err}");
        }
    }

    #[test]
    fn plugins() {
        let m = parse(
            r#"
            [component.a]
            source = "a.wasm"
            [plugins.billing]
            kind = "rpc"
            wit = "billing.wit"
            command = ["python3", "billing.py"]
            timeout = "2s"
            rlimits = { nofile = 256, address-space = "2GiB", cpu-seconds = 60, processes = 32, file-size = "1GiB", core-size = 0 }
            [plugins.fast]
            kind = "dylib"
            path = "libfast.so"
            [providers."acme:billing/charge"]
            kind = "rpc"
            name = "billing"
            "#,
        )
        .unwrap();
        assert_eq!(m.plugins.len(), 2);
        let rlimits = m.plugins["billing"].rlimits.unwrap();
        assert_eq!(
            rlimits.settings(),
            vec![
                (crate::Rlimit::Nofile, 256),
                (crate::Rlimit::AddressSpace, 2 << 30),
                (crate::Rlimit::CpuSeconds, 60),
                (crate::Rlimit::Processes, 32),
                (crate::Rlimit::FileSize, 1 << 30),
                (crate::Rlimit::CoreSize, 0),
            ]
        );
        assert_eq!(m.plugins["billing"].kind, PluginKind::Rpc);
        assert_eq!(
            m.plugins["billing"].timeout.as_ref().unwrap().0,
            std::time::Duration::from_secs(2)
        );
        let (_, choice) = m.providers.iter().next().unwrap();
        assert_eq!(choice.kind, ProviderKind::Rpc);
    }

    #[test]
    fn bad_plugins() {
        let base = "[component.a]\nsource = \"a\"\n";
        for (plugin, needle) in [
            ("[plugins.p]\nkind = \"dylib\"\n", "needs `path`"),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"x.wit\"\n",
                "needs `command`",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\ncommand = [\"x\"]\n",
                "needs `wit`",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = []\n",
                "`command` is empty",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\naddress = \"http://x\"\n",
                "expected unix:PATH",
            ),
            (
                "[plugins.p]\nkind = \"dylib\"\npath = \"l.so\"\ncommand = [\"x\"]\n",
                "for rpc plugins only",
            ),
            (
                "[plugins.\"a b\"]\nkind = \"wasm\"\npath = \"p.wasm\"\n",
                "letters, digits",
            ),
            ("[plugins.p]\nkind = \"lua\"\n", "unknown variant"),
            (
                "[plugins.p]\nkind = \"dylib\"\npath = \"l.so\"\nshare = [\"wasi:cli/environment\"]\n",
                "for wasm plugins only",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\naddress = \"tcp:h:1\"\nrlimits = { nofile = 64 }\n",
                "give `command`",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = [\"x\"]\nrlimits = { nofile = 0 }\n",
                "rlimits: `nofile` must be at least 8",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = [\"x\"]\nrlimits = { address-space = \"1MiB\" }\n",
                "rlimits: `address-space` = 1MiB is too small",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = [\"x\"]\nrlimits = { address-space = \"2 lots\" }\n",
                "invalid value \"2 lots\" for size",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = [\"x\"]\nrlimits = { cpu-seconds = -1 }\n",
                "invalid value",
            ),
            (
                "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\ncommand = [\"x\"]\nrlimits = { memory = 1 }\n",
                "unknown field `memory`",
            ),
        ] {
            let text = format!("{base}{plugin}");
            let err = parse(&text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn semantic_errors() {
        assert!(
            parse("name = \"x\"\n")
                .unwrap_err()
                .contains("no components")
        );
        let err =
            parse("[component.a]\nsource = \"a\"\n[component.b]\nsource = \"b\"\n").unwrap_err();
        assert!(err.contains("both claim the route `/`"), "{err}");
        assert!(
            parse("[component.a]\nsource = \"\"\n")
                .unwrap_err()
                .contains("empty")
        );
    }

    #[test]
    fn config_tables_of_the_app_and_of_a_component() {
        let m = parse(
            r#"
            [config]
            greeting = "hello"
            "db.url" = "postgres://localhost/app"
            [component.api]
            source = "api.wasm"
            config = { greeting = "hi", "feature-x" = "on" }
            [component.web]
            source = "web.wasm"
            route = "/web"
            "#,
        )
        .unwrap();
        assert_eq!(m.config["greeting"], "hello");
        assert_eq!(m.config["db.url"], "postgres://localhost/app");
        let api = &m.component["api"].config;
        assert_eq!(api["greeting"], "hi");
        assert_eq!(api["feature-x"], "on");
        assert!(m.component["web"].config.is_empty());
        assert!(
            parse("[component.a]\nsource = \"a\"\n")
                .unwrap()
                .config
                .is_empty()
        );
    }

    #[test]
    fn config_values_are_strings_and_keys_are_not_empty() {
        for (text, needle) in [
            (
                "[config]\nport = 8080\n[component.a]\nsource = \"a\"\n",
                "expected a string",
            ),
            (
                "[config.db]\nurl = \"x\"\n[component.a]\nsource = \"a\"\n",
                "expected a string",
            ),
            (
                "[component.a]\nsource = \"a\"\nconfig = { on = true }\n",
                "expected a string",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
            assert!(err.contains("line"), "{text}: {err}");
        }
        let err = parse("[config]\n\"\" = \"x\"\n[component.a]\nsource = \"a\"\n").unwrap_err();
        assert!(err.contains("[config]: a key is empty"), "{err}");
        let err = parse("[component.a]\nsource = \"a\"\nconfig = { \"\" = \"x\" }\n").unwrap_err();
        assert!(
            err.contains("component `a`: config: a key is empty"),
            "{err}"
        );
    }

    #[test]
    fn keyvalue_backend_is_embedded_unless_chosen() {
        let one = "[component.a]\nsource = \"a\"\n";
        assert_eq!(parse(one).unwrap().keyvalue, KeyValueBackend::Embedded {});
        let embedded = parse(&format!("[keyvalue]\ntype = \"embedded\"\n{one}")).unwrap();
        assert_eq!(embedded.keyvalue, KeyValueBackend::Embedded {});
        let redis = parse(&format!(
            "[keyvalue]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n{one}"
        ))
        .unwrap();
        assert_eq!(
            redis.keyvalue,
            KeyValueBackend::Redis {
                url: "redis://127.0.0.1:6379".into()
            }
        );
        let source = parse(&format!("[config-source]\ntype = \"keyvalue\"\n{one}")).unwrap();
        assert_eq!(
            source.config_source,
            ConfigSource::Keyvalue {
                bucket: "config".into()
            }
        );
        assert_eq!(parse(one).unwrap().config_source, ConfigSource::Manifest {});
        let err = parse(&format!("[config-source]\ntype = \"etcd\"\n{one}")).unwrap_err();
        assert!(err.contains("etcd"), "{err}");
        let nats = parse(&format!(
            "[keyvalue]\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n{one}"
        ))
        .unwrap();
        assert_eq!(
            nats.keyvalue,
            KeyValueBackend::Nats {
                url: "nats://127.0.0.1:4222".into(),
                credentials: None,
                tls_ca: None,
            }
        );
        for (text, needle) in [
            ("[keyvalue]\ntype = \"memcached\"\n", "memcached"),
            ("[keyvalue]\ntype = \"redis\"\n", "url"),
            (
                "[keyvalue]\ntype = \"redis\"\nurl = \"redis://x\"\nuri = \"y\"\n",
                "uri",
            ),
            (
                "[keyvalue]\ntype = \"embedded\"\nurl = \"redis://x\"\n",
                "url",
            ),
            (
                "[keyvalue]\ntype = \"redis\"\nurl = \"http://x\"\n",
                "not a Redis URL",
            ),
            ("[keyvalue]\ntype = \"nats\"\n", "url"),
            (
                "[keyvalue]\ntype = \"nats\"\nurl = \"nats://a:4222,redis://b\"\n",
                "not a NATS URL",
            ),
        ] {
            let err = parse(&format!("{text}{one}")).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    /// A manifest's backend URL may hold a password or a token: every message about it shows
    /// the server, never the secret.
    #[test]
    fn backend_urls_in_messages_hide_their_credentials() {
        let one = "[component.a]\nsource = \"a\"\n";
        for text in [
            "[keyvalue]\ntype = \"redis\"\nurl = \"http://app:s3cret@db.internal:6379\"\n",
            "[keyvalue]\ntype = \"nats\"\nurl = \"nats://a:4222,natz://app:s3cret@db.internal\"\n",
            "[keyvalue]\ntype = \"nats\"\nurl = \"redis://s3cret@db.internal\"\n",
            "[blobstore]\ntype = \"nats\"\nurl = \"http://app:s3cret@db.internal\"\n",
            "[plugins.p]\nkind = \"rpc\"\nwit = \"w\"\naddress = \"nat://app:s3cret@db.internal:4222\"\n",
        ] {
            let err = parse(&format!("{text}{one}")).unwrap_err();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("db.internal"), "{err}");
        }
        // The TOML parser quotes the line it points at.
        for text in [
            "[keyvalue]\ntype = \"redis\"\nurl = \"redis://app:s3cret@db.internal\n",
            "keyvalue = { type = \"redis\", url = \"redis://app:s3cret@db.internal\", uri = 1 }\n",
        ] {
            let err = parse(&format!("{text}{one}")).unwrap_err();
            assert!(err.contains("TOML parse error"), "{err}");
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("redis://app:***@db.internal"), "{err}");
        }
        // A password holding a comma is one server, not two (the NATS client reads it so).
        parse(&format!(
            "[keyvalue]\ntype = \"nats\"\nurl = \"nats://app:s3,cret@a:4222, tls://b:4222\"\n{one}"
        ))
        .unwrap();
    }

    #[test]
    fn blobstore_grants_and_backend() {
        let one = "[component.a]\nsource = \"a\"\nblobstore = [\"photos\", \"docs\"]\n";
        let m = parse(one).unwrap();
        assert_eq!(m.blobstore, BlobstoreBackend::Embedded {});
        assert_eq!(m.component["a"].blobstore, ["photos", "docs"]);
        let embedded = parse(&format!("[blobstore]\ntype = \"embedded\"\n{one}")).unwrap();
        assert_eq!(embedded.blobstore, BlobstoreBackend::Embedded {});
        let nats = parse(&format!(
            "[blobstore]\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n{one}"
        ))
        .unwrap();
        assert_eq!(
            nats.blobstore,
            BlobstoreBackend::Nats {
                url: "nats://127.0.0.1:4222".into(),
                credentials: None,
                tls_ca: None,
            }
        );
        for (text, needle) in [
            ("[blobstore]\ntype = \"s3\"\n", "s3"),
            ("[blobstore]\ntype = \"embedded\"\npath = \"x\"\n", "path"),
            ("[blobstore]\ntype = \"nats\"\n", "url"),
            (
                "[blobstore]\ntype = \"nats\"\nurl = \"redis://x\"\n",
                "not a NATS URL",
            ),
        ] {
            let err = parse(&format!("{text}{one}")).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn routes_match_whole_segments() {
        let r = Route::try_from("/api".to_string()).unwrap();
        assert!(r.matches("/api"));
        assert!(r.matches("/api/x"));
        assert!(r.matches("/api?q"));
        assert!(!r.matches("/apix"));
        assert!(Route::root().matches("/anything"));
    }
}
