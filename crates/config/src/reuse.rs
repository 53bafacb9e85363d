//! Instance reuse for WASI 0.3 HTTP handlers: how many requests one instance may serve in its
//! life and at once, and how long it may sit idle before it is dropped.
//!
//! A 0.3 `wasi:http/handler` is an `async func`, so one instance can take several requests at
//! once; reusing it spares the instantiation that dominates a small request. The price is
//! isolation: state can cross requests, and a trap ends every request in flight on that
//! instance. 0.2 handlers (`incoming-handler`) always get one fresh instance per request.

use std::time::Duration;

use crate::limits::parse_duration;
use crate::{ConfigError, HumanDuration};

/// Reuse as written (`reuse = false`, `reuse = true`, or a table) or given by flags: every
/// field optional, so layers can be merged like [`LimitsConfig`](crate::LimitsConfig).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "toml::Value")]
pub struct ReuseConfig {
    /// `Some(false)`: one fresh instance per request.
    pub enabled: Option<bool>,
    pub max_requests: Option<u32>,
    pub max_concurrent: Option<u32>,
    pub idle_timeout: Option<HumanDuration>,
}

impl ReuseConfig {
    /// `self` with every unset field taken from `lower`. Turning reuse off wins over any
    /// setting below it; a setting above it turns it back on only if said so (`enabled`).
    pub fn or(&self, lower: &ReuseConfig) -> ReuseConfig {
        ReuseConfig {
            enabled: self.enabled.or(lower.enabled),
            max_requests: self.max_requests.or(lower.max_requests),
            max_concurrent: self.max_concurrent.or(lower.max_concurrent),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
        }
    }

    /// Fills the gaps with the defaults.
    pub fn resolve(&self) -> Reuse {
        if self.enabled == Some(false) {
            return Reuse::Off;
        }
        Reuse::On {
            max_requests: self.max_requests.unwrap_or(Reuse::DEFAULT_MAX_REQUESTS),
            max_concurrent: self.max_concurrent.unwrap_or(Reuse::DEFAULT_MAX_CONCURRENT),
            idle_timeout: self
                .idle_timeout
                .map(|d| d.0)
                .unwrap_or(Reuse::DEFAULT_IDLE_TIMEOUT),
        }
    }
}

impl TryFrom<toml::Value> for ReuseConfig {
    type Error = ConfigError;

    fn try_from(value: toml::Value) -> Result<Self, Self::Error> {
        let err = |value: &dyn std::fmt::Display, message: &str| ConfigError::Value {
            what: "reuse",
            value: value.to_string(),
            message: message.to_string(),
        };
        let table = match value {
            toml::Value::Boolean(enabled) => {
                return Ok(ReuseConfig {
                    enabled: Some(enabled),
                    ..Default::default()
                });
            }
            toml::Value::Table(table) => table,
            other => {
                return Err(err(
                    &other,
                    "write `reuse = false`, `reuse = true` or a table such as \
                     { max-requests = 128, max-concurrent = 16, idle-timeout = \"10s\" }",
                ));
            }
        };
        let mut reuse = ReuseConfig {
            enabled: Some(true),
            ..Default::default()
        };
        for (key, value) in table {
            let count = |value: &toml::Value| match value {
                toml::Value::Integer(n) if *n >= 1 && *n <= i64::from(u32::MAX) => Ok(*n as u32),
                other => Err(err(
                    other,
                    &format!("`{key}` must be a whole number, at least 1"),
                )),
            };
            match key.as_str() {
                "max-requests" => reuse.max_requests = Some(count(&value)?),
                "max-concurrent" => reuse.max_concurrent = Some(count(&value)?),
                "idle-timeout" => match &value {
                    toml::Value::String(s) => {
                        reuse.idle_timeout = Some(HumanDuration(parse_duration(s)?));
                    }
                    other => {
                        return Err(err(other, "`idle-timeout` is a duration such as \"10s\""));
                    }
                },
                other => {
                    return Err(err(
                        &other,
                        "unknown key; `reuse` takes max-requests, max-concurrent and idle-timeout",
                    ));
                }
            }
        }
        Ok(reuse)
    }
}

/// Reuse with every default applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Reuse {
    /// One fresh instance per request.
    Off,
    On {
        /// Requests one instance serves in its life, then it is retired.
        max_requests: u32,
        /// Requests one instance serves at once.
        max_concurrent: u32,
        /// An instance with nothing to do for this long is dropped.
        idle_timeout: Duration,
    },
}

impl Reuse {
    /// As `wasmtime serve` (128 requests, 16 at once): reuse amortises instantiation over
    /// that many requests already, and more would only let state live longer.
    pub const DEFAULT_MAX_REQUESTS: u32 = 128;
    pub const DEFAULT_MAX_CONCURRENT: u32 = 16;
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
}

impl Default for Reuse {
    fn default() -> Reuse {
        ReuseConfig::default().resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ReuseConfig, String> {
        #[derive(serde::Deserialize)]
        struct Doc {
            reuse: ReuseConfig,
        }
        toml::from_str::<Doc>(text)
            .map(|d| d.reuse)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn forms() {
        assert_eq!(parse("reuse = false").unwrap().resolve(), Reuse::Off);
        assert_eq!(parse("reuse = true").unwrap().resolve(), Reuse::default());
        let r = parse("reuse = { max-requests = 5, idle-timeout = \"2s\" }")
            .unwrap()
            .resolve();
        assert_eq!(
            r,
            Reuse::On {
                max_requests: 5,
                max_concurrent: Reuse::DEFAULT_MAX_CONCURRENT,
                idle_timeout: Duration::from_secs(2),
            }
        );
    }

    #[test]
    fn bad_values_say_what_to_write() {
        for (text, expected) in [
            ("reuse = 3", "write `reuse = false`"),
            ("reuse = { max-requests = 0 }", "at least 1"),
            ("reuse = { max-concurrent = \"many\" }", "whole number"),
            ("reuse = { idle-timeout = \"soon\" }", "duration"),
            ("reuse = { idle-timeout = 5 }", "duration such as"),
            ("reuse = { max-request = 5 }", "unknown key"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn layering_and_off() {
        let flags = ReuseConfig {
            max_requests: Some(9),
            ..Default::default()
        };
        let manifest = parse("reuse = { max-concurrent = 2 }").unwrap();
        let Reuse::On {
            max_requests,
            max_concurrent,
            ..
        } = flags.or(&manifest).resolve()
        else {
            panic!("reuse is on")
        };
        assert_eq!((max_requests, max_concurrent), (9, 2));
        let off = parse("reuse = false").unwrap();
        assert_eq!(flags.or(&off).resolve(), Reuse::Off);
        let on = ReuseConfig {
            enabled: Some(true),
            ..Default::default()
        };
        assert_eq!(on.or(&off).resolve(), Reuse::default());
    }
}
