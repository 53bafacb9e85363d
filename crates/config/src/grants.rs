//! Capability grants: directories, environment variables and outbound HTTP destinations
//! (socket grants, which share the host patterns, are in `sockets.rs`).
//!
//! Each grant has one textual syntax shared by the command line and the manifest, so a user
//! writes `--dir data::/data:ro` and `dirs = ["data::/data:ro"]` the same way.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::ConfigError;

/// `HOST[::GUEST][:ro]`: a host directory made visible to the guest at `GUEST` (default: the
/// same path as on the host), read-write unless `:ro` is given.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct DirGrant {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

impl FromStr for DirGrant {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: &str| ConfigError::Value {
            what: "directory grant (HOST[::GUEST][:ro])",
            value: spec.to_string(),
            message: message.to_string(),
        };
        let (rest, read_only) = match spec.strip_suffix(":ro") {
            Some(rest) => (rest, true),
            None => (spec.strip_suffix(":rw").unwrap_or(spec), false),
        };
        let (host, guest) = match rest.split_once("::") {
            Some((host, guest)) => (host, guest),
            None => (rest, rest),
        };
        if host.is_empty() {
            return Err(err("the host directory is empty"));
        }
        if rest.contains("::") && (host.ends_with(':') || guest.starts_with(':')) {
            return Err(err(
                "a `:` next to `::` makes it unclear where the host path ends; \
                 rename the directory or give the guest path without a leading `:`",
            ));
        }
        if guest.is_empty() {
            return Err(err("the guest path after `::` is empty"));
        }
        if guest.contains('\0') || host.contains('\0') {
            return Err(err("paths may not contain NUL"));
        }
        Ok(DirGrant {
            host: PathBuf::from(host),
            guest: guest.to_string(),
            read_only,
        })
    }
}

impl TryFrom<String> for DirGrant {
    type Error = ConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Display for DirGrant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.display().to_string();
        let body = if host == self.guest {
            host
        } else {
            format!("{host}::{}", self.guest)
        };
        f.write_str(&body)?;
        if self.read_only {
            f.write_str(":ro")?;
        } else if body.ends_with(":ro") || body.ends_with(":rw") {
            // Without it the path's own suffix would read as the access mode.
            f.write_str(":rw")?;
        }
        Ok(())
    }
}

/// `NAME=VALUE`, or `NAME` alone to pass the host's value through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvGrant {
    pub name: String,
    /// `None` means: inherit the host's value (nothing is set if the host has none).
    pub value: Option<String>,
}

impl FromStr for EnvGrant {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (spec, None),
        };
        validate_env_name(name).map_err(|message| ConfigError::Value {
            what: "environment grant (NAME[=VALUE])",
            value: spec.to_string(),
            message,
        })?;
        Ok(EnvGrant {
            name: name.to_string(),
            value,
        })
    }
}

pub(crate) fn validate_env_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the variable name is empty".into());
    }
    if name.contains(['=', '\0']) {
        return Err("a variable name may not contain `=` or NUL".into());
    }
    // A shell cannot set or read such a name, and a program's getenv is never asked for one:
    // it is a typo (`--env 'FOO BAR=1'`), refused rather than granted unseen.
    if let Some(c) = name.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "a variable name may not contain whitespace or control characters (found {:?}); \
             write NAME=VALUE with the value after the `=`",
            c
        ));
    }
    Ok(())
}

/// An outbound HTTP destination the guest may call: `SCHEME://HOST[:PORT]`, where `SCHEME`,
/// `HOST` and `PORT` may be `*`, and `HOST` may start with `*.` to match subdomains. Without
/// a port, only the default port of the request's scheme (http 80, https 443) is admitted,
/// also when `SCHEME` is `*`; every port is written `:*`.
/// Examples: `https://api.example.com`, `http://127.0.0.1:*`, `*://*.example.com:*`, `*`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct OutboundPattern {
    scheme: Option<String>,
    host: HostPattern,
    port: PortPattern,
    text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    /// No port written: the default port of the request's scheme, for `*://` too (so
    /// `*://example.com` is ports 80 and 443, never 8080).
    Default,
    Any,
    Exact(u16),
}

/// The host part of a destination pattern: `*`, `*.SUFFIX` or one host (a name or an IP
/// address, IPv6 without its brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.com`: any subdomain of the suffix (not the suffix itself).
    Subdomains(String),
}

impl HostPattern {
    pub(crate) fn parse(host: &str) -> Result<HostPattern, &'static str> {
        Ok(match host {
            "" => return Err("the host is empty"),
            "*" => HostPattern::Any,
            h if h.starts_with("*.") && h.len() > 2 && !h[2..].contains('*') => {
                HostPattern::Subdomains(h[2..].to_string())
            }
            h if h.contains('*') => {
                return Err("`*` may only be the whole host or a leading `*.` label");
            }
            h => HostPattern::Exact(h.trim_start_matches('[').trim_end_matches(']').into()),
        })
    }

    /// Whether `host` (a name or an IP address, brackets allowed) is matched, ignoring case.
    pub(crate) fn matches(&self, host: &str) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match self {
            HostPattern::Any => true,
            HostPattern::Exact(want) => want.eq_ignore_ascii_case(host),
            HostPattern::Subdomains(suffix) => {
                host.len() > suffix.len() + 1
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
        }
    }
}

impl OutboundPattern {
    /// Whether a request to `scheme://host:port` is allowed by this pattern. `port` is the
    /// effective port (the scheme's default when the URL has none).
    pub fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        if let Some(want) = &self.scheme
            && !want.eq_ignore_ascii_case(scheme)
        {
            return false;
        }
        let port_ok = match self.port {
            PortPattern::Any => true,
            PortPattern::Exact(want) => want == port,
            // `https://example.com` means the scheme's default port, as a browser would;
            // `*://example.com` means each scheme on its own default port.
            PortPattern::Default => default_port(scheme) == Some(port),
        };
        port_ok && self.host.matches(host)
    }
}

/// The default port of an HTTP scheme.
pub fn default_port(scheme: &str) -> Option<u16> {
    match scheme.to_ascii_lowercase().as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

impl FromStr for OutboundPattern {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: &str| ConfigError::Value {
            what: "outbound pattern (SCHEME://HOST[:PORT], `*` wildcards)",
            value: spec.to_string(),
            message: message.to_string(),
        };
        if spec == "*" {
            return Ok(OutboundPattern {
                scheme: None,
                host: HostPattern::Any,
                port: PortPattern::Any,
                text: spec.to_string(),
            });
        }
        let (scheme, rest) = spec
            .split_once("://")
            .ok_or_else(|| err("missing `://`; write e.g. `https://api.example.com`"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            _ => return Err(err("the scheme must be `http`, `https` or `*`")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(err(
                "only SCHEME://HOST[:PORT] is allowed (no path, query or user info)",
            ));
        }
        let (host, port) = split_host_port(rest).map_err(|m| err(&m))?;
        let port = match port {
            None => PortPattern::Default,
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse::<u16>()
                    .map_err(|_| err("the port must be a number from 0 to 65535 or `*`"))?,
            ),
        };
        let host = HostPattern::parse(host).map_err(err)?;
        Ok(OutboundPattern {
            scheme,
            host,
            port,
            text: spec.to_string(),
        })
    }
}

pub(crate) fn split_host_port(s: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or("unclosed `[` in an IPv6 address")?;
        let host = &s[..end + 2];
        return match &rest[end + 1..] {
            "" => Ok((host, None)),
            p => p
                .strip_prefix(':')
                .map(|p| (host, Some(p)))
                .ok_or_else(|| "unexpected text after `]`".to_string()),
        };
    }
    Ok(match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    })
}

impl TryFrom<String> for OutboundPattern {
    type Error = ConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Display for OutboundPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `grants` fuzz target: a read-write grant whose guest path ends in `:ro`
    /// printed as a read-only one.
    #[test]
    fn dir_grants_print_as_they_parse() {
        for spec in [
            "a::b:ro:rw",
            "a::b:rw:rw",
            "a::b:ro",
            "data",
            "A::rw",
            "x:ro:rw",
            "x::/y:rw:ro",
        ] {
            let grant: DirGrant = spec.parse().unwrap();
            let again: DirGrant = grant.to_string().parse().unwrap();
            assert_eq!(again, grant, "{spec} printed as {grant}");
        }
        for ambiguous in ["a:::b", "a::::b"] {
            assert!(ambiguous.parse::<DirGrant>().is_err(), "{ambiguous}");
        }
    }

    #[test]
    fn dir_grant_forms() {
        let g: DirGrant = "data".parse().unwrap();
        assert_eq!(
            (g.host.to_str().unwrap(), g.guest.as_str(), g.read_only),
            ("data", "data", false)
        );
        let g: DirGrant = "./data::/srv:ro".parse().unwrap();
        assert_eq!(
            (g.host.to_str().unwrap(), g.guest.as_str(), g.read_only),
            ("./data", "/srv", true)
        );
        let g: DirGrant = "/tmp/x::/x:rw".parse().unwrap();
        assert!(!g.read_only);
        assert!("::/x".parse::<DirGrant>().is_err());
        assert!("/x::".parse::<DirGrant>().is_err());
    }

    #[test]
    fn env_grant_forms() {
        let g: EnvGrant = "A=b=c".parse().unwrap();
        assert_eq!(g.value.as_deref(), Some("b=c"));
        let g: EnvGrant = "HOME".parse().unwrap();
        assert_eq!(g.value, None);
        assert!("=x".parse::<EnvGrant>().is_err());
        for typo in ["FOO BAR=1", " FOO=1", "FOO\t=1", "A\u{1b}B=1"] {
            let err = typo.parse::<EnvGrant>().unwrap_err().to_string();
            assert!(
                err.contains("whitespace or control characters"),
                "{typo:?}: {err}"
            );
        }
        // The value may hold anything.
        assert_eq!(
            "GREETING=hello world"
                .parse::<EnvGrant>()
                .unwrap()
                .value
                .as_deref(),
            Some("hello world")
        );
    }

    #[test]
    fn outbound_patterns_match() {
        let p: OutboundPattern = "https://api.example.com".parse().unwrap();
        assert!(p.matches("https", "api.example.com", 443));
        assert!(p.matches("https", "API.example.com", 443));
        assert!(!p.matches("http", "api.example.com", 80));
        assert!(!p.matches("https", "api.example.com", 8443));
        assert!(!p.matches("https", "evil.com", 443));

        let p: OutboundPattern = "http://127.0.0.1:*".parse().unwrap();
        assert!(p.matches("http", "127.0.0.1", 1234));
        assert!(!p.matches("http", "127.0.0.2", 1234));

        let p: OutboundPattern = "*://*.example.com".parse().unwrap();
        assert!(p.matches("https", "a.example.com", 443));
        assert!(p.matches("http", "a.b.example.com", 80));
        assert!(!p.matches("http", "a.b.example.com", 8080));
        assert!(!p.matches("http", "example.com", 80));
        assert!(!p.matches("http", "badexample.com", 80));

        let p: OutboundPattern = "http://[::1]:8080".parse().unwrap();
        assert!(p.matches("http", "[::1]", 8080));

        assert!(
            "*".parse::<OutboundPattern>()
                .unwrap()
                .matches("http", "x", 1)
        );
        assert!(
            "*".parse::<OutboundPattern>()
                .unwrap()
                .matches("https", "x", 8443)
        );
        for bad in [
            "example.com",
            "ftp://x",
            "https://x/path",
            "https://a*b.com",
            "http://x:99999",
        ] {
            assert!(bad.parse::<OutboundPattern>().is_err(), "{bad}");
        }
    }

    /// `*://HOST` covers both schemes, each on its own default port, as documented; every
    /// port is written `:*`. It used to admit every port.
    #[test]
    fn a_scheme_wildcard_without_a_port_means_each_scheme_default_port() {
        let p: OutboundPattern = "*://example.com".parse().unwrap();
        assert!(p.matches("http", "example.com", 80));
        assert!(p.matches("https", "example.com", 443));
        assert!(!p.matches("http", "example.com", 8080));
        assert!(!p.matches("https", "example.com", 8443));
        // Each scheme on its own default, not the other's.
        assert!(!p.matches("http", "example.com", 443));
        assert!(!p.matches("https", "example.com", 80));

        let p: OutboundPattern = "*://example.com:*".parse().unwrap();
        assert!(p.matches("http", "example.com", 8080));
        assert!(p.matches("https", "example.com", 8443));
        assert!(!p.matches("http", "other.com", 8080));

        let p: OutboundPattern = "*://example.com:8080".parse().unwrap();
        assert!(p.matches("http", "example.com", 8080));
        assert!(p.matches("https", "example.com", 8080));
        assert!(!p.matches("http", "example.com", 80));

        let p: OutboundPattern = "*://*".parse().unwrap();
        assert!(p.matches("https", "anything.test", 443));
        assert!(!p.matches("https", "anything.test", 8443));
    }

    /// What the `grants` fuzz target checks, for the forms whose meaning changed.
    #[test]
    fn outbound_patterns_print_as_they_parse() {
        for spec in [
            "*",
            "*://example.com",
            "*://example.com:*",
            "*://*.example.com:8080",
            "https://example.com/",
            "http://[::1]",
        ] {
            let pattern: OutboundPattern = spec.parse().unwrap();
            let again: OutboundPattern = pattern.to_string().parse().unwrap();
            assert_eq!(again, pattern, "{spec} printed as {pattern}");
        }
    }
}
