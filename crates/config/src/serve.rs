//! Connection limits of `manifold serve` (`[serve]` in the manifest, or flags): how many
//! client connections the server holds at once and how long a client may take to send.
//!
//! These protect the server, not a component: a slow or idle client must not hold file
//! descriptors and memory that well-behaved clients need.

use std::time::Duration;

use crate::HumanDuration;

/// The `[serve]` table or the command line's flags: every field optional, so the command
/// line can be laid over the manifest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeConfig {
    /// Client connections held at once. When full, an idle connection is closed to make
    /// room; when none is idle, the new client gets `503 Service Unavailable`.
    pub max_connections: Option<u32>,
    /// Time a client has to send a complete request header, counted from the connection's
    /// first byte (or, for a new connection, from its accept).
    pub header_read_timeout: Option<HumanDuration>,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Option<HumanDuration>,
    /// Time a request body may go without a byte while the component waits for one.
    pub body_idle_timeout: Option<HumanDuration>,
}

impl ServeConfig {
    /// `self` with every unset field taken from `lower`.
    pub fn or(&self, lower: &ServeConfig) -> ServeConfig {
        ServeConfig {
            max_connections: self.max_connections.or(lower.max_connections),
            header_read_timeout: self.header_read_timeout.or(lower.header_read_timeout),
            idle_timeout: self.idle_timeout.or(lower.idle_timeout),
            body_idle_timeout: self.body_idle_timeout.or(lower.body_idle_timeout),
        }
    }

    /// Fills the gaps with the defaults. `max_connections` stays optional: its default
    /// depends on the process's file-descriptor limit, which the server reads when it starts.
    pub fn resolve(&self) -> ConnectionLimits {
        let or = |d: Option<HumanDuration>, default| d.map_or(default, |d| d.0);
        ConnectionLimits {
            max_connections: self.max_connections,
            header_read_timeout: or(
                self.header_read_timeout,
                ConnectionLimits::DEFAULT_HEADER_READ_TIMEOUT,
            ),
            idle_timeout: or(self.idle_timeout, ConnectionLimits::DEFAULT_IDLE_TIMEOUT),
            body_idle_timeout: or(
                self.body_idle_timeout,
                ConnectionLimits::DEFAULT_BODY_IDLE_TIMEOUT,
            ),
        }
    }
}

/// Connection limits with the defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// `None`: the server's default (see `manifold-serve`), from the descriptor limit.
    pub max_connections: Option<u32>,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_idle_timeout: Duration,
}

impl ConnectionLimits {
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ServeConfig::default().resolve()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_lays_over_the_manifest_and_defaults_fill_the_rest() {
        let manifest: ServeConfig = toml::from_str(
            "max-connections = 500\nheader-read-timeout = \"5s\"\nidle-timeout = \"2m\"",
        )
        .unwrap();
        let cli = ServeConfig {
            header_read_timeout: Some(HumanDuration(Duration::from_secs(1))),
            ..Default::default()
        };
        let limits = cli.or(&manifest).resolve();
        assert_eq!(limits.max_connections, Some(500));
        assert_eq!(limits.header_read_timeout, Duration::from_secs(1));
        assert_eq!(limits.idle_timeout, Duration::from_secs(120));
        assert_eq!(
            limits.body_idle_timeout,
            ConnectionLimits::DEFAULT_BODY_IDLE_TIMEOUT
        );
    }

    #[test]
    fn unknown_keys_and_bad_durations_are_refused() {
        let err = toml::from_str::<ServeConfig>("max-conections = 5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `max-conections`"), "{err}");
        let err = toml::from_str::<ServeConfig>("idle-timeout = \"soon\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"soon\""), "{err}");
    }
}
