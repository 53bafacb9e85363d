//! manifold:conformance/types served over NATS by upstream wRPC's NATS transport
//! (`wrpc-transport-nats`), with nothing of Manifold's: the proof that Manifold's own NATS
//! transport (`crates/plugin-host/src/nats.rs`) speaks upstream's wire. Reads the server URL
//! from `MANIFOLD_PLUGIN_ADDRESS` and the subject prefix from `MANIFOLD_PLUGIN_SUBJECT`.
//!
//! The conformance functions are `rust-rpc`'s, shared as a module. Manifold's `[drop]counter`
//! is served too, as `rust-rpc` does.

#[path = "../../rust-rpc/src/conformance.rs"]
mod conformance;
#[path = "../../rust-rpc/src/nats_url.rs"]
mod nats_url;

use std::sync::Arc;

use anyhow::Context as _;
use futures::StreamExt as _;
use futures::stream::select_all;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use wit_bindgen_wrpc::wrpc_transport::Serve as _;

use conformance::{Conformance, INSTANCE, bindings, id_of};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url =
        std::env::var("MANIFOLD_PLUGIN_ADDRESS").context("MANIFOLD_PLUGIN_ADDRESS is not set")?;
    let prefix = std::env::var("MANIFOLD_PLUGIN_SUBJECT")
        .context("MANIFOLD_PLUGIN_SUBJECT (the subject prefix) is not set")?;
    let nats = nats_url::with_url_credentials(async_nats::ConnectOptions::new(), &url)?
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connect(url.as_str())
        .await
        .with_context(|| format!("cannot connect to NATS at {url}"))?;
    let wrpc = wrpc_transport_nats::Client::new(nats, prefix, None)
        .await
        .context("cannot set up the wRPC NATS client")?;
    let plugin = Conformance::default();

    // Manifold's `[drop]counter`: one parameter, the handle as list<u8>; no results.
    let mut drops = wrpc
        .serve(INSTANCE, "[drop]counter", Arc::from([]))
        .await?
        .boxed();
    let counters = plugin.counters.clone();
    tokio::spawn(async move {
        while let Some(Ok((_, mut outgoing, mut incoming))) = drops.next().await {
            let counters = counters.clone();
            tokio::spawn(async move {
                let mut params = Vec::new();
                if incoming.read_to_end(&mut params).await.is_ok()
                    && let Some((&len, handle)) = params.split_first()
                    && usize::from(len) == handle.len()
                    && let Ok(id) = id_of(handle)
                    && let Ok(mut counters) = counters.lock()
                {
                    counters.remove(&id);
                }
                let _ = outgoing.shutdown().await;
            });
        }
    });

    let invocations = bindings::serve(&wrpc, plugin).await?;
    let mut invocations = select_all(invocations.into_iter().map(|(_, _, stream)| stream));
    while let Some(next) = invocations.next().await {
        match next {
            Ok(call) => {
                tokio::spawn(async move {
                    if let Err(e) = call.await {
                        eprintln!("call failed: {e:#}");
                    }
                });
            }
            Err(e) => eprintln!("bad invocation: {e:#}"),
        }
    }
    anyhow::bail!("the NATS subscriptions ended")
}
