//! Socket grants: `--allow-connect tcp://db:5432` and `--allow-listen tcp://127.0.0.1:8080`
//! (`allow-connect`, `allow-listen` in the manifest), for TCP and UDP.
//!
//! A connect pattern is written like an `--allow-outbound` one (`*`, `*.SUFFIX`, a name or an
//! IP address, a port or `*`) with the scheme `tcp` or `udp`. A socket address is an IP, so a
//! pattern given by name admits an address only when that name resolved to it: the caller
//! passes the names the guest looked up for the address (see `builtin-wasi`). A listen pattern
//! names a local IP address (or `*`); `0.0.0.0` and `[::]` stand for every local address of
//! their family.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use crate::ConfigError;
use crate::grants::{HostPattern, split_host_port};

/// The transport a socket grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketProtocol {
    Tcp,
    Udp,
}

impl SocketProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SocketProtocol::Tcp => "tcp",
            SocketProtocol::Udp => "udp",
        }
    }
}

/// `tcp://HOST:PORT` or `udp://HOST:PORT`: a remote endpoint the guest may connect (or send)
/// to. `HOST` is `*`, `*.SUFFIX`, a name or an IP address (IPv6 in brackets); `PORT` a number
/// or `*`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ConnectPattern {
    protocol: SocketProtocol,
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
    text: String,
}

impl ConnectPattern {
    pub fn protocol(&self) -> SocketProtocol {
        self.protocol
    }

    /// Whether the guest may look up `name` because of this pattern: the host matches it
    /// (a trailing dot aside), whatever the port.
    pub fn admits_name(&self, name: &str) -> bool {
        self.host.matches(name.strip_suffix('.').unwrap_or(name))
    }

    /// Whether a connection to `address` is admitted: the port matches, and the host is
    /// `*`, is this IP address, or matches one of `names`, the names that resolved to it.
    pub fn admits<'a>(
        &self,
        protocol: SocketProtocol,
        address: SocketAddr,
        names: impl IntoIterator<Item = &'a str>,
    ) -> bool {
        protocol == self.protocol
            && self.port.is_none_or(|port| port == address.port())
            && (self.host_is_ip(address.ip()) || names.into_iter().any(|n| self.admits_name(n)))
    }

    fn host_is_ip(&self, ip: IpAddr) -> bool {
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(host) => host
                .parse::<IpAddr>()
                .is_ok_and(|want| want.to_canonical() == ip.to_canonical()),
            HostPattern::Subdomains(_) => false,
        }
    }
}

impl FromStr for ConnectPattern {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: &str| ConfigError::Value {
            what: "connect pattern (tcp://HOST:PORT or udp://HOST:PORT, `*` wildcards)",
            value: spec.to_string(),
            message: message.to_string(),
        };
        let (protocol, host, port) = parse_endpoint(spec).map_err(|m| err(&m))?;
        let host = HostPattern::parse(host).map_err(err)?;
        if port == Some(0) {
            return Err(err("port 0 cannot be connected to; write a port or `*`"));
        }
        Ok(ConnectPattern {
            protocol,
            host,
            port,
            text: spec.to_string(),
        })
    }
}

/// `tcp://IP:PORT` or `udp://IP:PORT`: a local address the guest may listen on (TCP) or bind
/// to (UDP). `IP` is an IP address (IPv6 in brackets) or `*`; `0.0.0.0` and `[::]` admit any
/// local address of their family. `PORT` is a number or `*` (any port, ephemeral ones too).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct ListenPattern {
    protocol: SocketProtocol,
    /// `None`: any local address.
    ip: Option<IpAddr>,
    /// `None`: any port.
    port: Option<u16>,
    text: String,
}

impl ListenPattern {
    pub fn protocol(&self) -> SocketProtocol {
        self.protocol
    }

    /// Whether the guest may listen on (bind) the local `address`.
    pub fn admits(&self, protocol: SocketProtocol, address: SocketAddr) -> bool {
        let ip = address.ip().to_canonical();
        protocol == self.protocol
            && self.port.is_none_or(|port| port == address.port())
            && self.ip.is_none_or(|want| {
                want == ip || (want.is_unspecified() && want.is_ipv4() == ip.is_ipv4())
            })
    }
}

impl FromStr for ListenPattern {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: &str| ConfigError::Value {
            what: "listen pattern (tcp://IP:PORT or udp://IP:PORT, `*` wildcards)",
            value: spec.to_string(),
            message: message.to_string(),
        };
        let (protocol, host, port) = parse_endpoint(spec).map_err(|m| err(&m))?;
        let ip = match host {
            "*" => None,
            host => Some(
                host.trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<IpAddr>()
                    .map_err(|_| {
                        err("the host must be a local IP address (e.g. 127.0.0.1, [::1], 0.0.0.0) or `*`")
                    })?
                    .to_canonical(),
            ),
        };
        if port == Some(0) {
            return Err(err(
                "port 0 is not a grant; write `*` to allow any port, ephemeral ones included",
            ));
        }
        Ok(ListenPattern {
            protocol,
            ip,
            port,
            text: spec.to_string(),
        })
    }
}

/// `PROTO://HOST:PORT` → protocol, host text, port (`None` for `*`).
fn parse_endpoint(spec: &str) -> Result<(SocketProtocol, &str, Option<u16>), String> {
    let (scheme, rest) = spec
        .split_once("://")
        .ok_or("missing `://`; write e.g. `tcp://db.example.com:5432`")?;
    let protocol = match scheme {
        "tcp" => SocketProtocol::Tcp,
        "udp" => SocketProtocol::Udp,
        _ => return Err("the scheme must be `tcp` or `udp`".into()),
    };
    if rest.contains(['/', '?', '#', '@']) {
        return Err("only PROTO://HOST:PORT is allowed (no path, query or user info)".into());
    }
    let (host, port) = split_host_port(rest)?;
    let port = match port {
        None => return Err("missing port: write HOST:PORT, with PORT a number or `*`".into()),
        Some("*") => None,
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| "the port must be a number from 1 to 65535 or `*`")?,
        ),
    };
    Ok((protocol, host, port))
}

macro_rules! text_pattern {
    ($($ty:ty),*) => {$(
        impl TryFrom<String> for $ty {
            type Error = ConfigError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                value.parse()
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.text)
            }
        }
    )*};
}
text_pattern!(ConnectPattern, ListenPattern);

#[cfg(test)]
mod tests {
    use super::*;
    use SocketProtocol::{Tcp, Udp};

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn connect_by_ip() {
        let p: ConnectPattern = "tcp://127.0.0.1:5432".parse().unwrap();
        assert!(p.admits(Tcp, addr("127.0.0.1:5432"), []));
        assert!(!p.admits(Tcp, addr("127.0.0.1:5433"), []));
        assert!(!p.admits(Tcp, addr("127.0.0.2:5432"), []));
        assert!(!p.admits(Udp, addr("127.0.0.1:5432"), []));
        assert!(p.admits(Tcp, addr("[::ffff:127.0.0.1]:5432"), []));

        let p: ConnectPattern = "udp://[::1]:*".parse().unwrap();
        assert!(p.admits(Udp, addr("[::1]:53"), []));
        assert!(!p.admits(Tcp, addr("[::1]:53"), []));
    }

    #[test]
    fn connect_by_name_needs_the_name_that_resolved() {
        let p: ConnectPattern = "tcp://db:5432".parse().unwrap();
        assert!(!p.admits(Tcp, addr("10.0.0.5:5432"), []));
        assert!(!p.admits(Tcp, addr("10.0.0.5:5432"), ["cache"]));
        assert!(p.admits(Tcp, addr("10.0.0.5:5432"), ["cache", "DB"]));
        assert!(p.admits_name("db") && p.admits_name("db.") && !p.admits_name("db2"));

        let p: ConnectPattern = "tcp://*.example.com:*".parse().unwrap();
        assert!(p.admits_name("a.example.com") && !p.admits_name("example.com"));
        assert!(p.admits(Tcp, addr("10.0.0.5:1"), ["a.b.example.com"]));
        assert!(!p.admits(Tcp, addr("10.0.0.5:1"), []));

        let p: ConnectPattern = "tcp://*:443".parse().unwrap();
        assert!(p.admits_name("anything") && p.admits(Tcp, addr("1.2.3.4:443"), []));
    }

    #[test]
    fn listen_addresses() {
        let p: ListenPattern = "tcp://127.0.0.1:8080".parse().unwrap();
        assert!(p.admits(Tcp, addr("127.0.0.1:8080")));
        assert!(!p.admits(Tcp, addr("0.0.0.0:8080")));
        assert!(!p.admits(Tcp, addr("127.0.0.1:8081")));
        assert!(!p.admits(Udp, addr("127.0.0.1:8080")));

        let p: ListenPattern = "tcp://0.0.0.0:*".parse().unwrap();
        assert!(p.admits(Tcp, addr("127.0.0.1:1234")) && p.admits(Tcp, addr("0.0.0.0:9")));
        assert!(!p.admits(Tcp, addr("[::1]:1234")));

        let p: ListenPattern = "udp://[::1]:53".parse().unwrap();
        assert!(p.admits(Udp, addr("[::1]:53")));
        let p: ListenPattern = "tcp://*:*".parse().unwrap();
        assert!(p.admits(Tcp, addr("[::]:1")));
    }

    #[test]
    fn bad_patterns_say_why() {
        for (bad, why) in [
            ("db:5432", "missing `://`"),
            ("http://db:5432", "`tcp` or `udp`"),
            ("tcp://db", "missing port"),
            ("tcp://db:0", "port 0"),
            ("tcp://db:70000", "number from 1 to 65535"),
            ("tcp://d*b:1", "leading `*.`"),
            ("tcp://db:1/x", "no path"),
            ("tcp://:1", "host is empty"),
        ] {
            let err = bad.parse::<ConnectPattern>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
        for (bad, why) in [
            ("tcp://localhost:80", "local IP address"),
            ("tcp://127.0.0.1:0", "write `*`"),
            ("tcp://127.0.0.1", "missing port"),
        ] {
            let err = bad.parse::<ListenPattern>().unwrap_err().to_string();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
