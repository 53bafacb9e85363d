//! The generated `manifold:conformance-async` bindings (`async func`s, `stream<u8>`) and
//! their reference implementation: every call runs concurrently with the instance's others,
//! streams are copied by tasks of their own through `manifold_provider::byte_stream`.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use manifold_provider::InstanceState;
use manifold_provider::byte_stream::{ByteSink, ByteSource, CHANNEL_CHUNKS};
use tokio::sync::{mpsc, watch};
use wasmtime::component::{Accessor, HasData, StreamReader};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../test-programs/wit/conformance-async",
        world: "manifold:conformance-async/guest",
        imports: { default: trappable },
    });
}

pub(crate) use bindings::manifold::conformance_async::{calls, streams};

/// `gather`'s groups of an instance, by key: how many calls are in progress, and the most
/// seen at once (watched by the waiting calls).
#[derive(Debug, Default)]
pub(crate) struct Gatherings(HashMap<String, Group>);

#[derive(Debug)]
struct Group {
    in_progress: u32,
    most: watch::Sender<u32>,
}

/// Plumbs the instance's [`Gatherings`] into the generated `add_to_linker`s.
pub(crate) struct AsyncData;

impl HasData for AsyncData {
    type Data<'a> = &'a mut Gatherings;
}

/// The getter the generated `add_to_linker`s are given.
pub(crate) fn view(state: &mut InstanceState) -> &mut Gatherings {
    if state.extensions.get_mut::<Gatherings>().is_none() {
        state.extensions.insert(Gatherings::default());
    }
    state
        .extensions
        .get_mut::<Gatherings>()
        .unwrap_or_else(|| unreachable!("inserted just above"))
}

impl calls::Host for &mut Gatherings {}

impl<U> calls::HostWithStore<U> for AsyncData {
    async fn later_inc(_: &Accessor<U, Self>, x: u64, ms: u32) -> wasmtime::Result<u64> {
        tokio::time::sleep(Duration::from_millis(ms.into())).await;
        Ok(x.wrapping_add(1))
    }

    async fn gather(
        store: &Accessor<U, Self>,
        key: String,
        n: u32,
        timeout_ms: u32,
    ) -> wasmtime::Result<u32> {
        let mut most = store.with(|mut view| {
            let groups = &mut view.get().0;
            let group = groups.entry(key.clone()).or_insert_with(|| Group {
                in_progress: 0,
                most: watch::channel(0).0,
            });
            group.in_progress += 1;
            let now = group.in_progress;
            group.most.send_if_modified(|most| {
                let more = now > *most;
                *most = (*most).max(now);
                more
            });
            group.most.subscribe()
        });
        let timeout = Duration::from_millis(timeout_ms.into());
        let _ = tokio::time::timeout(timeout, most.wait_for(|&m| m >= n)).await;
        let seen = (*most.borrow()).min(n);
        store.with(|mut view| {
            let groups = &mut view.get().0;
            if let Some(group) = groups.get_mut(&key) {
                group.in_progress -= 1;
                if group.in_progress == 0 {
                    groups.remove(&key);
                }
            }
        });
        Ok(seen)
    }
}

impl streams::Host for &mut Gatherings {}

/// The receiving end of a guest's stream, read by a task.
fn receive<U>(
    store: &Accessor<U, AsyncData>,
    data: StreamReader<u8>,
) -> wasmtime::Result<mpsc::Receiver<Bytes>> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    store.with(|mut access| data.pipe(&mut access, ByteSink::new(tx)))?;
    Ok(rx)
}

/// A stream for the guest and the sender that feeds it.
fn send<U>(
    store: &Accessor<U, AsyncData>,
    what: &str,
) -> wasmtime::Result<(mpsc::Sender<std::io::Result<Bytes>>, StreamReader<u8>)> {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let source = ByteSource::new(rx, format!("conformance {what}"));
    let reader = store.with(|mut access| StreamReader::new(&mut access, source))?;
    Ok((tx, reader))
}

impl<U> streams::HostWithStore<U> for AsyncData {
    async fn bump(
        store: &Accessor<U, Self>,
        data: StreamReader<u8>,
    ) -> wasmtime::Result<StreamReader<u8>> {
        let mut input = receive(store, data)?;
        let (output, reader) = send(store, "bump")?;
        tokio::spawn(async move {
            while let Some(chunk) = input.recv().await {
                let bumped: Vec<u8> = chunk.iter().map(|b| b.wrapping_add(1)).collect();
                if output.send(Ok(bumped.into())).await.is_err() {
                    return; // the guest dropped the answer
                }
            }
        });
        Ok(reader)
    }

    async fn measure(
        store: &Accessor<U, Self>,
        data: StreamReader<u8>,
    ) -> wasmtime::Result<(u64, u64)> {
        let mut input = receive(store, data)?;
        let (mut count, mut sum) = (0u64, 0u64);
        while let Some(chunk) = input.recv().await {
            count += chunk.len() as u64;
            sum += chunk.iter().map(|&b| u64::from(b)).sum::<u64>();
        }
        Ok((count, sum))
    }

    async fn produce(store: &Accessor<U, Self>, n: u64) -> wasmtime::Result<StreamReader<u8>> {
        let (output, reader) = send(store, "produce")?;
        tokio::spawn(async move {
            let mut i = 0u64;
            while i < n {
                let len = (n - i).min(64 * 1024);
                let chunk: Vec<u8> = (i..i + len).map(|j| (j % 251) as u8).collect();
                if output.send(Ok(chunk.into())).await.is_err() {
                    return;
                }
                i += len;
            }
        });
        Ok(reader)
    }
}
