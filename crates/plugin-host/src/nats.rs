//! wRPC over NATS, the host's side: Manifold's own client on `async-nats`, with the subject
//! layout of upstream `wrpc-transport-nats` (whose releases implement an older
//! `wrpc-transport` than the one `wit-bindgen-wrpc` servers and this host use).
//!
//! One call:
//! 1. The host subscribes to a fresh inbox `I` and to `I.results`, then publishes the encoded
//!    parameters (as much as fits in one message) to `PREFIX.wrpc.0.0.1.INSTANCE.FUNC` with
//!    reply subject `I`.
//! 2. The plugin answers on `I` with an empty message whose reply subject is its own inbox
//!    `S` (the handshake).
//! 3. The host publishes the rest of the parameters, if any, to `S.params`, then an empty
//!    message there (end of parameters).
//! 4. The plugin publishes the encoded results to `I.results`, then an empty message (end of
//!    results).
//!
//! Payloads are the unframed wRPC value encoding of the root stream, as with upstream; values
//! with async parts (streams, futures) are not supported, as over Unix sockets and TCP.
//! Nobody subscribed to the invocation subject shows as NATS's "no responders" status on
//! `I`, which is reported as such.

use std::time::Duration;

use anyhow::{Context as _, bail};
use async_nats::{Client, StatusCode};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt as _;
use manifold_nats_client::NatsServers;
use tokio::sync::OnceCell;

/// The wRPC protocol token in invocation subjects.
pub const PROTOCOL: &str = "wrpc.0.0.1";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The subject a plugin serving `func` of `instance` under `prefix` subscribes to.
pub fn invocation_subject(prefix: &str, instance: &str, func: &str) -> String {
    format!("{prefix}.{PROTOCOL}.{instance}.{func}")
}

/// Checks that `prefix` can begin a NATS subject: dot-separated tokens, none empty, without
/// whitespace or wildcards.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let bad = prefix.is_empty()
        || prefix
            .split('.')
            .any(|t| t.is_empty() || t == "*" || t == ">" || t.chars().any(char::is_whitespace));
    if bad {
        return Err(format!(
            "subject prefix {prefix:?} is not a NATS subject: use dot-separated tokens without \
             spaces or wildcards, e.g. \"acme.billing\""
        ));
    }
    Ok(())
}

/// Why a call over NATS failed.
#[derive(Debug)]
pub enum NatsError {
    /// Nobody is subscribed to the invocation subject.
    NoResponders {
        subject: String,
    },
    /// The results grew beyond the plugin's `max-answer`.
    AnswerTooLarge(crate::rpc::AnswerTooLarge),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for NatsError {
    fn from(e: anyhow::Error) -> Self {
        NatsError::Other(e)
    }
}

impl std::fmt::Display for NatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsError::NoResponders { subject } => write!(
                f,
                "no plugin is subscribed to {subject} on the NATS server (is it running, with \
                 the same subject prefix?)"
            ),
            NatsError::AnswerTooLarge(e) => write!(f, "{e}"),
            NatsError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

/// The host's connection to one NATS server, for one plugin.
pub struct NatsClient {
    servers: NatsServers,
    prefix: String,
    connection: OnceCell<Client>,
}

impl NatsClient {
    pub fn new(servers: NatsServers, prefix: &str) -> NatsClient {
        NatsClient {
            servers,
            prefix: prefix.to_string(),
            connection: OnceCell::new(),
        }
    }

    /// The servers, passwords hidden.
    pub fn servers(&self) -> &str {
        self.servers.shown()
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The connection, made on first use; an error while it is between connections (async-nats
    /// reconnects in the background).
    async fn client(&self) -> anyhow::Result<&Client> {
        let client = self
            .connection
            .get_or_try_init(|| self.servers.connect("plugin", CONNECT_TIMEOUT))
            .await?;
        if !manifold_nats_client::is_connected(client) {
            bail!(
                "not connected to the NATS server at {} (reconnecting in the background)",
                self.servers.shown()
            );
        }
        Ok(client)
    }

    /// Calls `func` of `instance`; the caller bounds it in time.
    pub async fn invoke(
        &self,
        instance: &str,
        func: &str,
        mut params: Bytes,
        max_answer: u64,
    ) -> Result<Bytes, NatsError> {
        let client = self.client().await?;
        let inbox = client.new_inbox();
        let mut handshake = client
            .subscribe(inbox.clone())
            .await
            .context("subscribing to the reply inbox")?;
        let mut results = client
            .subscribe(format!("{inbox}.results"))
            .await
            .context("subscribing to the results subject")?;
        let subject = invocation_subject(&self.prefix, instance, func);
        let max = client
            .server_info()
            .max_payload
            .saturating_sub(inbox.len())
            .max(1);
        let first = params.split_to(max.min(params.len()));
        client
            .publish_with_reply(subject.clone(), inbox.clone(), first)
            .await
            .context("publishing the invocation")?;
        client.flush().await.context("flushing the invocation")?;

        let answer = handshake
            .next()
            .await
            .context("the NATS subscription for the handshake ended")?;
        match answer.status {
            Some(StatusCode::NO_RESPONDERS) => return Err(NatsError::NoResponders { subject }),
            Some(code) if !code.is_success() => {
                return Err(NatsError::Other(anyhow::anyhow!(
                    "the NATS server answered the invocation with status {code}{}",
                    answer
                        .description
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                )));
            }
            _ => {}
        }
        let peer = answer
            .reply
            .context("the plugin's handshake has no reply subject")?;
        let params_subject = format!("{peer}.params");
        while !params.is_empty() {
            let chunk = params.split_to(max.min(params.len()));
            client
                .publish(params_subject.clone(), chunk)
                .await
                .context("publishing parameters")?;
        }
        client
            .publish(params_subject, Bytes::new())
            .await
            .context("publishing the end of the parameters")?;
        client.flush().await.context("flushing the parameters")?;

        let mut out = BytesMut::new();
        loop {
            let message = results
                .next()
                .await
                .context("the NATS subscription for the results ended")?;
            if message.payload.is_empty() {
                return Ok(out.freeze());
            }
            if (out.len() + message.payload.len()) as u64 > max_answer {
                return Err(NatsError::AnswerTooLarge(crate::rpc::AnswerTooLarge {
                    max: max_answer,
                }));
            }
            out.extend_from_slice(&message.payload);
        }
    }
}

#[cfg(test)]
mod tests {
    use manifold_nats_client::NatsAuth;

    use super::*;

    #[tokio::test]
    async fn a_refused_connection_names_the_server_without_its_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let url = "nats://billing:s3cret@127.0.0.1:1";
        let servers = NatsServers::parse("plugin `billing`'s", url, NatsAuth::default()).unwrap();
        let client = NatsClient::new(servers, "billing");
        assert_eq!(client.servers(), "nats://billing:***@127.0.0.1:1");
        let err = format!("{:#}", client.client().await.expect_err("nothing there"));
        assert!(err.contains("nats://billing:***@127.0.0.1:1"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
}
