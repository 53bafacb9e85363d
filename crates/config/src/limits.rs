//! Resource limits per run or request (wall-clock deadline, memory cap, fuel, concurrency),
//! and of the app's stored data (the largest blob object, the blob store quota).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ConfigError;

/// A size in bytes, written `256MiB`, `64 KiB`, `1GB` or a bare number of bytes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize,
)]
#[serde(try_from = "toml::Value")]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = || ConfigError::Value {
            what: "size",
            value: spec.to_string(),
            message: "write a number with an optional unit: B, KiB, MiB, GiB, KB, MB, GB".into(),
        };
        let s = spec.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let n: u64 = digits.parse().map_err(|_| err())?;
        let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            _ => return Err(err()),
        };
        n.checked_mul(mult).map(ByteSize).ok_or_else(err)
    }
}

impl TryFrom<toml::Value> for ByteSize {
    type Error = ConfigError;
    fn try_from(value: toml::Value) -> Result<Self, Self::Error> {
        match value {
            toml::Value::String(s) => s.parse(),
            toml::Value::Integer(n) if n >= 0 => Ok(ByteSize(n as u64)),
            other => Err(ConfigError::Value {
                what: "size",
                value: other.to_string(),
                message: "write a string such as \"256MiB\" or a number of bytes".into(),
            }),
        }
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if n >= size && n.is_multiple_of(size) {
                return write!(f, "{}{unit}", n / size);
            }
        }
        write!(f, "{n}B")
    }
}

/// A duration written the humane way: `30s`, `500ms`, `2m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct HumanDuration(pub Duration);

impl TryFrom<String> for HumanDuration {
    type Error = ConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        parse_duration(&value).map(HumanDuration)
    }
}

/// Parses `30s`, `500ms`, `2m`, `1h 5m`.
pub fn parse_duration(spec: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(spec).map_err(|e| ConfigError::Value {
        what: "duration",
        value: spec.to_string(),
        message: format!("{e}; write e.g. \"30s\", \"500ms\" or \"2m\""),
    })
}

/// Limits as written in a manifest or on the command line: every field optional, so layers
/// (defaults < manifest `[limits]` < component `limits` < command line) can be merged.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LimitsConfig {
    /// Wall-clock deadline of one run or request.
    pub timeout: Option<HumanDuration>,
    /// Linear-memory cap per instance (all memories and tables of the instance together).
    pub memory: Option<ByteSize>,
    /// Fuel per run or request (roughly: Wasm instructions); unlimited when absent.
    pub fuel: Option<u64>,
    /// Instances running at once (`serve`); requests beyond it wait for a free slot.
    pub max_instances: Option<u32>,
    /// The largest `wasi:blobstore` object a guest may write. The app's, like `blob_quota`:
    /// only in `[limits]` or on the command line, never in a component's `limits`.
    pub max_object_size: Option<ByteSize>,
    /// The most bytes of objects the app may keep in the embedded blob store, objects being
    /// written included.
    pub blob_quota: Option<ByteSize>,
    /// Instance reuse of WASI 0.3 HTTP handlers; written as the component's `reuse` key,
    /// not in `[limits]`.
    #[serde(skip)]
    pub reuse: crate::ReuseConfig,
}

impl LimitsConfig {
    /// `self` with every unset field taken from `lower`.
    pub fn or(&self, lower: &LimitsConfig) -> LimitsConfig {
        LimitsConfig {
            timeout: self.timeout.or(lower.timeout),
            memory: self.memory.or(lower.memory),
            fuel: self.fuel.or(lower.fuel),
            max_instances: self.max_instances.or(lower.max_instances),
            max_object_size: self.max_object_size.or(lower.max_object_size),
            blob_quota: self.blob_quota.or(lower.blob_quota),
            reuse: self.reuse.or(&lower.reuse),
        }
    }

    /// The app's storage limits, with the defaults for what is unset.
    pub fn storage(&self) -> StorageLimits {
        StorageLimits {
            max_object_size: self
                .max_object_size
                .unwrap_or(StorageLimits::DEFAULT_MAX_OBJECT_SIZE),
            blob_quota: self.blob_quota,
        }
    }

    /// The keys set here that belong to the whole app (its storage), for refusing them in a
    /// component's `limits`.
    pub fn app_only_keys(&self) -> Vec<&'static str> {
        [
            ("max-object-size", self.max_object_size.is_some()),
            ("blob-quota", self.blob_quota.is_some()),
        ]
        .into_iter()
        .filter_map(|(key, set)| set.then_some(key))
        .collect()
    }

    /// Fills the remaining gaps with the defaults of `mode`.
    pub fn resolve(&self, mode: crate::Mode) -> Limits {
        let defaults = Limits::defaults(mode);
        Limits {
            timeout: self.timeout.map(|d| d.0).or(defaults.timeout),
            memory: self.memory.unwrap_or(defaults.memory),
            fuel: self.fuel.or(defaults.fuel),
            max_instances: self.max_instances.unwrap_or(defaults.max_instances),
            reuse: self.reuse.resolve(),
        }
    }
}

/// Limits with every default applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// `None`: no deadline (the default for `run`, which a user can stop with Ctrl-C).
    pub timeout: Option<Duration>,
    pub memory: ByteSize,
    pub fuel: Option<u64>,
    pub max_instances: u32,
    /// How a WASI 0.3 HTTP handler's instances are reused (`serve`).
    pub reuse: crate::Reuse,
}

impl Limits {
    pub const DEFAULT_SERVE_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_MEMORY: ByteSize = ByteSize(256 << 20);
    pub const DEFAULT_MAX_INSTANCES: u32 = 256;

    pub fn defaults(mode: crate::Mode) -> Limits {
        Limits {
            timeout: match mode {
                crate::Mode::Run => None,
                crate::Mode::Serve => Some(Self::DEFAULT_SERVE_TIMEOUT),
            },
            memory: Self::DEFAULT_MEMORY,
            fuel: None,
            max_instances: Self::DEFAULT_MAX_INSTANCES,
            reuse: crate::Reuse::default(),
        }
    }
}

/// Limits of the app's stored data, with the defaults applied. They are the app's, since the
/// storage is: one quota however many components share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StorageLimits {
    /// The largest `wasi:blobstore` object a guest may write, on any backend.
    pub max_object_size: ByteSize,
    /// The most bytes of objects the app may keep in the embedded blob store; `None`: as many
    /// as the disk holds.
    pub blob_quota: Option<ByteSize>,
}

impl StorageLimits {
    /// An object is streamed to disk, so memory does not bound it; this does. An object being
    /// written takes disk space before it is visible anywhere, so a guest that never ends one
    /// would otherwise fill the disk unseen. 1 GiB is far above what apps keep in one object
    /// (media, archives, model files are the exceptions: raise it for them).
    pub const DEFAULT_MAX_OBJECT_SIZE: ByteSize = ByteSize(1 << 30);
}

impl Default for StorageLimits {
    fn default() -> Self {
        LimitsConfig::default().storage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("256MiB".parse::<ByteSize>().unwrap().0, 256 << 20);
        assert_eq!("64 KiB".parse::<ByteSize>().unwrap().0, 64 << 10);
        assert_eq!("1GB".parse::<ByteSize>().unwrap().0, 1_000_000_000);
        assert_eq!("4096".parse::<ByteSize>().unwrap().0, 4096);
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert!("MiB".parse::<ByteSize>().is_err());
        assert!("99999999999999999999GiB".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(256 << 20).to_string(), "256MiB");
    }

    #[test]
    fn layering() {
        let cli = LimitsConfig {
            memory: Some(ByteSize(1)),
            ..Default::default()
        };
        let manifest = LimitsConfig {
            memory: Some(ByteSize(2)),
            fuel: Some(7),
            ..Default::default()
        };
        let merged = cli.or(&manifest).resolve(crate::Mode::Serve);
        assert_eq!(merged.memory, ByteSize(1));
        assert_eq!(merged.fuel, Some(7));
        assert_eq!(merged.timeout, Some(Limits::DEFAULT_SERVE_TIMEOUT));
        assert_eq!(
            LimitsConfig::default().resolve(crate::Mode::Run).timeout,
            None
        );
    }

    #[test]
    fn storage_limits_layer_and_default() {
        let cli = LimitsConfig {
            blob_quota: Some(ByteSize(10)),
            ..Default::default()
        };
        let manifest = LimitsConfig {
            max_object_size: Some(ByteSize(5)),
            blob_quota: Some(ByteSize(20)),
            ..Default::default()
        };
        let storage = cli.or(&manifest).storage();
        assert_eq!(storage.max_object_size, ByteSize(5));
        assert_eq!(storage.blob_quota, Some(ByteSize(10)));
        let defaults = StorageLimits::default();
        assert_eq!(
            defaults.max_object_size,
            StorageLimits::DEFAULT_MAX_OBJECT_SIZE
        );
        assert_eq!(defaults.blob_quota, None);
        assert_eq!(manifest.app_only_keys(), ["max-object-size", "blob-quota"]);
        assert!(LimitsConfig::default().app_only_keys().is_empty());
    }
}
