//! The app manifest (`manifold.toml`) and command-line grants, parsed and validated into one
//! plan that the runtime executes.
//!
//! Parsing is strict: unknown keys and bad values are refused with the file, line and a hint
//! (the `toml` crate's spans do the pointing). What leaves this crate is an [`AppPlan`]: plain
//! data with every default filled in, so the runtime never looks at TOML.

mod app_name;
mod grants;
mod interface;
mod limits;
mod manifest;
mod plan;
mod plugin;
mod redact;
mod reuse;
mod serve;
mod sockets;
mod source;

pub use app_name::validate_app_name;
pub use grants::{DirGrant, EnvGrant, OutboundPattern, default_port};
pub use interface::InterfaceName;
pub use limits::{ByteSize, Limits, LimitsConfig, StorageLimits};
pub use limits::{HumanDuration, parse_duration};
pub use manifest::{
    BlobstoreBackend, ComponentConfig, ConfigSource, KeyValueBackend, Manifest, PluginConfig,
    PluginKind, ProviderConfig, ProviderKind, Route,
};
pub use plan::{AppPlan, CliOverrides, ComponentPlan, Mode, default_data_dir};
pub use plugin::{PluginAddress, PluginPlan, Rlimit, Rlimits};
pub use redact::{redact_url, split_url_list};
pub use reuse::{Reuse, ReuseConfig};
pub use serve::{ConnectionLimits, ServeConfig};
pub use sockets::{ConnectPattern, ListenPattern, SocketProtocol};
pub use source::SourceSpec;

/// Errors from reading and validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid manifest {path}:\n{message}")]
    Parse {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("invalid manifest {path}: {message}")]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("invalid value {value:?} for {what}: {message}")]
    Value {
        what: &'static str,
        value: String,
        message: String,
    },
}
