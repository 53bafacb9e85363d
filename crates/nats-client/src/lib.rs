//! How Manifold connects to NATS, for the key-value and blobstore backends and for RPC
//! plugins: one parser for server lists, one reconnect policy, one way to log connection
//! events, and NATS authentication:
//!
//! - a user and password, or a token, in the URL: `nats://user:password@host:4222`,
//!   `nats://token@host:4222`;
//! - a credentials file (a user JWT and its NKey seed, as `nsc` writes them);
//! - TLS: `tls://host:4222` requires it; `tls_ca` adds the root certificate(s) of a private
//!   CA (PEM) to the system's.
//!
//! Errors and log lines name the server without its password or token
//! ([`manifold_config::redact_url`]); the servers handed to `async-nats` carry no credentials
//! either (its debug logs print them whole), the URL's are sent as connect options instead.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, ConnectErrorKind, ConnectOptions, ServerAddr};
use manifold_config::{redact_url, split_url_list};

/// The longest wait between two reconnection attempts.
const MAX_RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// A list of NATS servers that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error(
    "{what} NATS URL {url:?} is not usable: {reason}; expected e.g. \"nats://127.0.0.1:4222\" \
     (several servers separated by commas)"
)]
pub struct UrlError {
    what: String,
    url: String,
    reason: String,
}

/// Connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "the NATS server at {servers} refused the {label} connection's credentials ({detail}); \
         check the user and password or token in the URL, or the credentials file"
    )]
    Auth {
        label: String,
        servers: String,
        detail: String,
    },
    #[error("cannot read the NATS {what} {path}: {source}", path = path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot connect the {label} connection to the NATS server at {servers}: {detail}")]
    Other {
        label: String,
        servers: String,
        detail: String,
    },
}

/// How to authenticate to NATS besides what the URL says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct NatsAuth {
    /// A credentials file (a user JWT and its NKey seed).
    pub credentials: Option<PathBuf>,
    /// Root certificates (PEM) to trust for TLS, besides the system's.
    pub tls_ca: Option<PathBuf>,
}

/// NATS servers and how to authenticate to them.
#[derive(Debug, Clone)]
pub struct NatsServers {
    /// The servers without user info (see [`UrlAuth`]).
    servers: Vec<ServerAddr>,
    /// The first server's user info.
    url_auth: Option<UrlAuth>,
    /// The servers as the user wrote them, passwords and tokens hidden.
    shown: String,
    auth: NatsAuth,
}

/// `user:password@` or `token@` of a server URL, percent-decoded. async-nats parses it in a
/// URL but does not send it: the first server's is sent for all (a cluster shares its
/// accounts).
#[derive(Clone)]
enum UrlAuth {
    UserPassword(String, String),
    Token(String),
}

impl std::fmt::Debug for UrlAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UrlAuth::UserPassword(user, _) => write!(f, "UserPassword({user:?}, \"***\")"),
            UrlAuth::Token(_) => f.write_str("Token(\"***\")"),
        }
    }
}

/// `server` without its user info, and that user info.
fn without_user_info(server: ServerAddr) -> Result<(ServerAddr, Option<UrlAuth>), String> {
    let url_auth = match (server.username(), server.password()) {
        (Some(user), Some(password)) => Some(UrlAuth::UserPassword(
            percent_decoded(user),
            percent_decoded(password),
        )),
        (Some(token), None) => Some(UrlAuth::Token(percent_decoded(token))),
        _ => None,
    };
    let mut url = server.into_inner();
    // Neither fails for a URL with a host, which every `ServerAddr` has.
    let cleared = url.set_username("").is_ok() && url.set_password(None).is_ok();
    if !cleared {
        return Err("its user info cannot be separated from the host".into());
    }
    let server = ServerAddr::from_url(url).map_err(|e| e.to_string())?;
    Ok((server, url_auth))
}

impl NatsServers {
    /// Parses `url`, one server or several separated by commas, each `nats://` or `tls://`
    /// with optional `user:password@` or `token@` (a comma not followed by a scheme is part
    /// of a password: [`split_url_list`]). `what` names the user in errors (e.g. "the
    /// key-value").
    pub fn parse(what: &str, url: &str, auth: NatsAuth) -> Result<NatsServers, UrlError> {
        let bad = |reason: String| UrlError {
            what: what.to_owned(),
            url: redact_url(url),
            reason,
        };
        let mut servers = Vec::new();
        let mut url_auth = None;
        for part in split_url_list(url) {
            let part = part.trim();
            if !(part.starts_with("nats://") || part.starts_with("tls://")) {
                return Err(bad(format!(
                    "{:?} does not start with nats:// or tls://",
                    redact_url(part)
                )));
            }
            let (server, auth) = part
                .parse::<ServerAddr>()
                .map_err(|e| e.to_string())
                .and_then(without_user_info)
                .map_err(|e| bad(format!("{:?}: {e}", redact_url(part))))?;
            if servers.is_empty() {
                url_auth = auth;
            }
            servers.push(server);
        }
        Ok(NatsServers {
            servers,
            url_auth,
            shown: redact_url(url),
            auth,
        })
    }

    /// The servers, without passwords or tokens, for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Connects, reconnecting for ever in the background after the first success; events
    /// are logged as those of the `label` connection (e.g. "key-value"). Needs a Tokio
    /// runtime.
    pub async fn connect(&self, label: &str, timeout: Duration) -> Result<Client, ConnectError> {
        let event_label = label.to_owned();
        let shown = self.shown.clone();
        let mut options = ConnectOptions::new()
            .name(format!("manifold-{}", label.replace(' ', "-")))
            .connection_timeout(timeout)
            .max_reconnects(None)
            .reconnect_delay_callback(|attempts| {
                let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
                (Duration::from_millis(50) * attempts).min(MAX_RECONNECT_DELAY)
            })
            .event_callback(move |event| {
                let (label, servers) = (event_label.clone(), shown.clone());
                async move {
                    match event {
                        async_nats::Event::Disconnected => tracing::warn!(
                            "{label} NATS connection to {servers} lost; reconnecting"
                        ),
                        async_nats::Event::Connected => {
                            tracing::info!("{label} NATS connection to {servers} established")
                        }
                        other => tracing::debug!(event = %other, "{label} NATS event"),
                    }
                }
            });
        options = match self.url_auth.clone() {
            Some(UrlAuth::UserPassword(user, password)) => {
                options.user_and_password(user, password)
            }
            Some(UrlAuth::Token(token)) => options.token(token),
            None => options,
        };
        if let Some(path) = &self.auth.credentials {
            options =
                options
                    .credentials_file(path)
                    .await
                    .map_err(|source| ConnectError::File {
                        what: "credentials file",
                        path: path.clone(),
                        source,
                    })?;
        }
        if let Some(path) = &self.auth.tls_ca {
            // async-nats reads the file only when it connects: check it now, to say which.
            std::fs::metadata(path).map_err(|source| ConnectError::File {
                what: "TLS root certificates",
                path: path.clone(),
                source,
            })?;
            options = options.add_root_certificates(path.clone());
        }
        options
            .connect(self.servers.as_slice())
            .await
            .map_err(|e| match e.kind() {
                ConnectErrorKind::AuthorizationViolation => ConnectError::Auth {
                    label: label.to_owned(),
                    servers: self.shown.clone(),
                    detail: e.to_string(),
                },
                _ => ConnectError::Other {
                    label: label.to_owned(),
                    servers: self.shown.clone(),
                    detail: e.to_string(),
                },
            })
    }
}

/// Whether `client` is connected now (it reconnects in the background otherwise).
pub fn is_connected(client: &Client) -> bool {
    client.connection_state() == State::Connected
}

/// `text` with its `%XX` escapes (as a URL's user info has them) decoded.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A client and its JetStream context, for a backend that keeps its data in JetStream.
pub struct JetStream {
    pub client: Client,
    pub jetstream: async_nats::jetstream::Context,
}

/// A [`JetStream`] connection made on first use (which needs a Tokio runtime) and shared by
/// every call after it.
pub struct LazyJetStream {
    servers: NatsServers,
    label: &'static str,
    connect_timeout: Duration,
    request_timeout: Duration,
    connection: tokio::sync::OnceCell<JetStream>,
}

impl LazyJetStream {
    /// Nothing is connected until [`LazyJetStream::get`]. `label` names the user in the
    /// connection's log lines (`key-value`, `blobstore`).
    pub fn new(
        servers: NatsServers,
        label: &'static str,
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> LazyJetStream {
        LazyJetStream {
            servers,
            label,
            connect_timeout,
            request_timeout,
            connection: tokio::sync::OnceCell::new(),
        }
    }

    /// The connection, made on first use; an error (a message) if it cannot be made, or while
    /// the client is between connections.
    pub async fn get(&self) -> Result<&JetStream, String> {
        let connection = self
            .connection
            .get_or_try_init(|| async {
                let client = self
                    .servers
                    .connect(self.label, self.connect_timeout)
                    .await
                    .map_err(|err| err.to_string())?;
                let mut jetstream = async_nats::jetstream::new(client.clone());
                jetstream.set_timeout(self.request_timeout);
                Ok::<_, String>(JetStream { client, jetstream })
            })
            .await?;
        if !is_connected(&connection.client) {
            return Err(format!(
                "not connected to the NATS server at {} (reconnecting in the background)",
                self.servers.shown()
            ));
        }
        Ok(connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What reaches a message or async-nats (whose debug logs print its servers whole) holds
    /// no password or token; the connect options do.
    #[test]
    fn passwords_and_tokens_stay_out_of_messages_and_the_server_list() {
        let servers = NatsServers::parse(
            "the key-value",
            "nats://alice:s3%40cret@a:4222, tls://t0ken@b:4222,nats://c:4222",
            NatsAuth::default(),
        )
        .unwrap();
        assert_eq!(
            servers.shown(),
            "nats://alice:***@a:4222, tls://***@b:4222,nats://c:4222"
        );
        let debug = format!("{servers:?}");
        assert!(!debug.contains("s3") && !debug.contains("t0ken"), "{debug}");
        assert!(debug.contains("alice"), "{debug}");
        let hosts: Vec<_> = servers.servers.iter().map(|s| s.as_url_str()).collect();
        assert_eq!(hosts, ["nats://a:4222", "tls://b:4222", "nats://c:4222"]);
        assert!(servers.servers.iter().all(|s| !s.has_user_pass()));
        match &servers.url_auth {
            Some(UrlAuth::UserPassword(user, password)) => {
                assert_eq!((user.as_str(), password.as_str()), ("alice", "s3@cret"));
            }
            other => panic!("{other:?}"),
        }
        let token = NatsServers::parse("x", "tls://t0ken@b:4222", NatsAuth::default()).unwrap();
        assert!(matches!(&token.url_auth, Some(UrlAuth::Token(t)) if t == "t0ken"));
    }

    /// An unescaped comma in a password does not cut the URL in two (which would print half
    /// of the password as a server).
    #[test]
    fn a_comma_in_a_password_stays_in_the_password() {
        let servers =
            NatsServers::parse("x", "nats://u:s3,cret@a:4222", NatsAuth::default()).unwrap();
        assert_eq!(servers.servers.len(), 1);
        assert_eq!(servers.shown(), "nats://u:***@a:4222");
        assert!(matches!(&servers.url_auth, Some(UrlAuth::UserPassword(_, p)) if p == "s3,cret"));
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_server_without_its_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let servers = NatsServers::parse(
            "the key-value",
            "nats://kv:s3cret@127.0.0.1:1",
            NatsAuth::default(),
        )
        .unwrap();
        let err = servers
            .connect("key-value", Duration::from_secs(2))
            .await
            .expect_err("nothing listens on port 1")
            .to_string();
        assert!(err.contains("nats://kv:***@127.0.0.1:1"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn user_info_is_percent_decoded() {
        assert_eq!(percent_decoded("p%40ss%3Aw%2Fd%zz%"), "p@ss:w/d%zz%");
    }

    #[test]
    fn urls() {
        let servers = NatsServers::parse(
            "the key-value",
            "nats://u:p@127.0.0.1:4222",
            NatsAuth::default(),
        )
        .unwrap();
        assert_eq!(servers.shown(), "nats://u:***@127.0.0.1:4222");
        let err = NatsServers::parse(
            "the key-value",
            "nats://a:1,redis://u:pw@b",
            NatsAuth::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("\"redis://u:***@b\" does not start with"),
            "{err}"
        );
        assert!(!err.contains("pw"), "{err}");
    }
}
