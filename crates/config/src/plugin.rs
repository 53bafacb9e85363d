//! Plugins as the runtime sees them: paths made absolute, defaults applied.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{ByteSize, InterfaceName, PluginConfig, PluginKind, redact_url};

/// Where an RPC plugin listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginAddress {
    /// `unix:PATH`
    Unix(PathBuf),
    /// `tcp:HOST:PORT`
    Tcp(String),
    /// `nats://[USER:PASSWORD@]HOST:PORT` or `tls://…` (several servers separated by commas),
    /// meeting on a subject prefix.
    Nats { url: String },
}

impl PluginAddress {
    /// Parses `unix:PATH`, `tcp:HOST:PORT` or `nats://HOST:PORT`.
    pub fn parse(text: &str) -> Result<PluginAddress, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(
                    "address `unix:` needs a socket path, e.g. unix:/run/billing.sock".into(),
                );
            }
            Ok(PluginAddress::Unix(PathBuf::from(path)))
        } else if let Some(addr) = text.strip_prefix("tcp:") {
            match addr.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(PluginAddress::Tcp(addr.to_string()))
                }
                _ => Err(format!(
                    "address {:?}: expected tcp:HOST:PORT, e.g. tcp:127.0.0.1:7000",
                    redact_url(text)
                )),
            }
        } else if text.starts_with("nats://") || text.starts_with("tls://") {
            Ok(PluginAddress::Nats {
                url: text.to_string(),
            })
        } else {
            // A mistyped NATS address (`nat://user:password@…`) may hold credentials.
            Err(format!(
                "address {:?}: expected unix:PATH, tcp:HOST:PORT, nats://HOST:PORT or tls://HOST:PORT",
                redact_url(text)
            ))
        }
    }

    fn resolve(self, base: &Path) -> PluginAddress {
        match self {
            PluginAddress::Unix(path) => PluginAddress::Unix(base.join(path)),
            other => other,
        }
    }
}

/// The address as written, credentials included: this is what the plugin is given
/// (`MANIFOLD_PLUGIN_ADDRESS`) and what parses back. Messages show [`redact_url`] of it.
impl fmt::Display for PluginAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PluginAddress::Unix(path) => write!(f, "unix:{}", path.display()),
            PluginAddress::Tcp(addr) => write!(f, "tcp:{addr}"),
            PluginAddress::Nats { url } => f.write_str(url),
        }
    }
}

/// Resource limits of a plugin program the host starts (`rlimits = { … }` in
/// `[plugins.NAME]`), each set as both the soft and the hard limit (setrlimit(2)) in the child
/// before it runs the program, so the plugin cannot raise them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Rlimits {
    /// Open file descriptors (`RLIMIT_NOFILE`).
    pub nofile: Option<u64>,
    /// Virtual memory (`RLIMIT_AS`): allocations beyond it fail.
    pub address_space: Option<ByteSize>,
    /// CPU time in seconds (`RLIMIT_CPU`): the kernel then kills the process.
    pub cpu_seconds: Option<u64>,
    /// Processes and threads of the plugin's user, all of them (`RLIMIT_NPROC`).
    pub processes: Option<u64>,
    /// The largest file the plugin may write (`RLIMIT_FSIZE`).
    pub file_size: Option<ByteSize>,
    /// The largest core dump (`RLIMIT_CORE`); 0 turns them off.
    pub core_size: Option<ByteSize>,
}

/// One of the limits of [`Rlimits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rlimit {
    Nofile,
    AddressSpace,
    CpuSeconds,
    Processes,
    FileSize,
    CoreSize,
}

impl Rlimit {
    /// The key in the manifest.
    pub fn key(self) -> &'static str {
        match self {
            Rlimit::Nofile => "nofile",
            Rlimit::AddressSpace => "address-space",
            Rlimit::CpuSeconds => "cpu-seconds",
            Rlimit::Processes => "processes",
            Rlimit::FileSize => "file-size",
            Rlimit::CoreSize => "core-size",
        }
    }
}

impl Rlimits {
    /// The limits set, in a fixed order.
    pub fn settings(&self) -> Vec<(Rlimit, u64)> {
        [
            (Rlimit::Nofile, self.nofile),
            (Rlimit::AddressSpace, self.address_space.map(|b| b.0)),
            (Rlimit::CpuSeconds, self.cpu_seconds),
            (Rlimit::Processes, self.processes),
            (Rlimit::FileSize, self.file_size.map(|b| b.0)),
            (Rlimit::CoreSize, self.core_size.map(|b| b.0)),
        ]
        .into_iter()
        .filter_map(|(limit, value)| Some((limit, value?)))
        .collect()
    }

    /// Refuses limits under which no program can start.
    pub fn validate(&self) -> Result<(), String> {
        /// Below this a dynamically linked program cannot even map its libraries.
        const MIN_ADDRESS_SPACE: u64 = 16 << 20;
        let at_least = |key: &str, value: Option<u64>, min: u64| match value {
            Some(v) if v < min => Err(format!("`{key}` must be at least {min}")),
            _ => Ok(()),
        };
        // stdin, stdout, stderr, the listening socket and a few more.
        at_least("nofile", self.nofile, 8)?;
        at_least("cpu-seconds", self.cpu_seconds, 1)?;
        at_least("processes", self.processes, 1)?;
        if let Some(size) = self.address_space
            && size.0 < MIN_ADDRESS_SPACE
        {
            return Err(format!(
                "`address-space` = {size} is too small to start a program; give at least {}",
                ByteSize(MIN_ADDRESS_SPACE)
            ));
        }
        Ok(())
    }
}

/// A plugin, ready to load.
#[derive(Debug, Clone)]
pub struct PluginPlan {
    pub name: String,
    pub kind: PluginKind,
    /// `dylib`/`wasm`: the file.
    pub path: Option<PathBuf>,
    /// The WIT file or directory, when given.
    pub wit: Option<PathBuf>,
    /// The interfaces to serve; empty: every interface of the WIT's main package.
    pub interfaces: Vec<InterfaceName>,
    /// `rpc`: the program to start, made absolute when it is a relative path with a `/`.
    pub command: Vec<String>,
    pub address: Option<PluginAddress>,
    pub subject: Option<String>,
    /// `rpc` over NATS: a credentials file, made absolute.
    pub credentials: Option<PathBuf>,
    /// `rpc` over NATS: TLS root certificates, made absolute.
    pub tls_ca: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
    pub timeout: Duration,
    pub max_in_flight: usize,
    /// `rpc`: the largest answer (bytes of results on the wire) accepted from one call.
    pub max_answer: u64,
    /// `rpc` with `command`: the resource limits of the program.
    pub rlimits: Rlimits,
    /// `wasm`: interfaces the plugin may import with its component's grants.
    pub share: Vec<InterfaceName>,
}

impl PluginPlan {
    /// Default deadline of one plugin call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default bound on an RPC plugin's calls in flight.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

    /// Resolves a validated `[plugins.NAME]` against the manifest's directory;
    /// `default_max_answer` applies when the plugin sets no `max-answer`.
    pub fn from_config(
        name: &str,
        config: &PluginConfig,
        base: &Path,
        default_max_answer: u64,
    ) -> PluginPlan {
        let address = config
            .address
            .as_deref()
            .and_then(|a| PluginAddress::parse(a).ok())
            .map(|a| a.resolve(base));
        PluginPlan {
            name: name.to_string(),
            kind: config.kind,
            path: config.path.as_ref().map(|p| base.join(p)),
            wit: config.wit.as_ref().map(|p| base.join(p)),
            interfaces: config.interfaces.clone().unwrap_or_default(),
            command: config.command.clone().unwrap_or_default(),
            address,
            subject: config.subject.clone(),
            credentials: config.credentials.as_ref().map(|p| base.join(p)),
            tls_ca: config.tls_ca.as_ref().map(|p| base.join(p)),
            env: config.env.clone(),
            cwd: config
                .cwd
                .as_ref()
                .map(|c| base.join(c))
                .unwrap_or_else(|| base.to_path_buf()),
            timeout: config
                .timeout
                .as_ref()
                .map(|t| t.0)
                .unwrap_or(Self::DEFAULT_TIMEOUT),
            max_in_flight: config.max_in_flight.unwrap_or(Self::DEFAULT_MAX_IN_FLIGHT),
            max_answer: config.max_answer.map_or(default_max_answer, |b| b.0),
            rlimits: config.rlimits.unwrap_or_default(),
            share: config.share.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            PluginAddress::parse("unix:/tmp/a.sock").unwrap(),
            PluginAddress::Unix("/tmp/a.sock".into())
        );
        assert_eq!(
            PluginAddress::parse("tcp:127.0.0.1:7000").unwrap(),
            PluginAddress::Tcp("127.0.0.1:7000".into())
        );
        assert!(PluginAddress::parse("tcp:127.0.0.1").is_err());
        assert!(PluginAddress::parse("unix:").is_err());
        assert!(PluginAddress::parse("http://x").is_err());
        assert_eq!(
            PluginAddress::parse("nats://127.0.0.1:4222")
                .unwrap()
                .to_string(),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn a_refused_address_is_shown_without_its_password() {
        for bad in [
            "nat://u:s3cret@bus.internal:4222",
            "tcp:u:s3cret@bus.internal",
        ] {
            let err = PluginAddress::parse(bad).unwrap_err();
            assert!(!err.contains("s3cret"), "{err}");
            assert!(err.contains("bus.internal"), "{err}");
        }
    }
}
