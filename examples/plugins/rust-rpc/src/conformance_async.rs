//! The async part of the conformance suite (manifold:conformance-async: `async func`s and
//! `stream<u8>`) on the handler traits `wit-bindgen-wrpc` generates. Nothing here is
//! Manifold's: wRPC calls are asynchronous already, and a `stream<u8>` is a stream of
//! `Bytes` chunks travelling on the invocation's own paths.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use tokio::sync::watch;

pub mod bindings {
    wit_bindgen_wrpc::generate!({
        world: "provider",
        path: "../../../crates/test-programs/wit/conformance-async",
    });
}

use bindings::exports::manifold::conformance_async::{calls, streams};

type ByteStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// `gather`'s groups, by key: calls in progress, and the most seen at once.
#[derive(Clone, Default)]
pub struct ConformanceAsync {
    groups: Arc<Mutex<HashMap<String, (u32, watch::Sender<u32>)>>>,
}

impl<C: Send> calls::Handler<C> for ConformanceAsync {
    async fn later_inc(&self, _: C, x: u64, ms: u32) -> anyhow::Result<u64> {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        Ok(x.wrapping_add(1))
    }

    async fn gather(&self, _: C, key: String, n: u32, timeout_ms: u32) -> anyhow::Result<u32> {
        let mut most = {
            let mut groups = self
                .groups
                .lock()
                .map_err(|_| anyhow::anyhow!("poisoned"))?;
            let (in_progress, most) = groups
                .entry(key.clone())
                .or_insert_with(|| (0, watch::channel(0).0));
            *in_progress += 1;
            let now = *in_progress;
            most.send_if_modified(|m| {
                let more = now > *m;
                *m = (*m).max(now);
                more
            });
            most.subscribe()
        };
        let _ = tokio::time::timeout(
            Duration::from_millis(timeout_ms.into()),
            most.wait_for(|&m| m >= n),
        )
        .await;
        let seen = (*most.borrow()).min(n);
        let mut groups = self
            .groups
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        if let Some((in_progress, _)) = groups.get_mut(&key) {
            *in_progress -= 1;
            if *in_progress == 0 {
                groups.remove(&key);
            }
        }
        Ok(seen)
    }
}

impl<C: Send> streams::Handler<C> for ConformanceAsync {
    async fn bump(&self, _: C, data: ByteStream) -> anyhow::Result<ByteStream> {
        Ok(Box::pin(data.map(|chunk| {
            chunk
                .iter()
                .map(|b| b.wrapping_add(1))
                .collect::<Vec<u8>>()
                .into()
        })))
    }

    async fn measure(&self, _: C, mut data: ByteStream) -> anyhow::Result<(u64, u64)> {
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(chunk) = data.next().await {
            count += chunk.len() as u64;
            sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        Ok((count, sum))
    }

    async fn produce(&self, _: C, n: u64) -> anyhow::Result<ByteStream> {
        let chunks = (0..n).step_by(64 * 1024).map(move |start| {
            let end = (start + 64 * 1024).min(n);
            Bytes::from((start..end).map(|j| (j % 251) as u8).collect::<Vec<u8>>())
        });
        Ok(Box::pin(futures::stream::iter(chunks)))
    }
}
