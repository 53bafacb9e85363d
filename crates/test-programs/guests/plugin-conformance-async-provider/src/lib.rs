//! `plugin-conformance-async-provider`: `manifold:conformance-async@0.1.0` written as a Wasm
//! component (world `provider`) with wit-bindgen's async exports, to be composed with a
//! guest that imports it (a `kind = "wasm"` plugin). It gives the same results as the host's
//! built-in `conformance` provider. Its only import is the 0.3 monotonic clock (for
//! `later-inc`'s wait and `gather`'s timeout), which carries no authority.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Poll, Waker};

use wit_bindgen::{StreamReader, StreamResult};

wit_bindgen::generate!({
    inline: "
        package manifold:conformance-async-plugin;
        world conformance-async-plugin {
            import wasi:clocks/monotonic-clock@0.3.0;
            include manifold:conformance-async/provider@0.1.0;
        }
    ",
    path: [
        "../../../../wit/deps/0.3.0/clocks.wit",
        "../../wit/conformance-async",
    ],
    world: "manifold:conformance-async-plugin/conformance-async-plugin",
    generate_all,
});

use exports::manifold::conformance_async::{calls, streams};
use wasi::clocks::monotonic_clock;

struct Provider;

/// `gather`'s groups in this instance, by key.
#[derive(Default)]
struct Group {
    in_progress: u32,
    most: u32,
    waiting: Vec<Waker>,
}

thread_local! {
    static GROUPS: RefCell<HashMap<String, Group>> = RefCell::new(HashMap::new());
}

/// Waits until `done` holds or `timeout` (ns) passes, whichever is first.
async fn until(done: impl Fn() -> bool, key: &str, timeout_ns: u64) {
    let mut timer = pin!(monotonic_clock::wait_for(timeout_ns));
    std::future::poll_fn(|cx| {
        if done() || timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        GROUPS.with_borrow_mut(|groups| {
            if let Some(group) = groups.get_mut(key) {
                group.waiting.push(cx.waker().clone());
            }
        });
        Poll::Pending
    })
    .await
}

impl calls::Guest for Provider {
    async fn later_inc(x: u64, ms: u32) -> u64 {
        if ms > 0 {
            monotonic_clock::wait_for(u64::from(ms) * 1_000_000).await;
        }
        x.wrapping_add(1)
    }

    async fn gather(key: String, n: u32, timeout_ms: u32) -> u32 {
        let wake = GROUPS.with_borrow_mut(|groups| {
            let group = groups.entry(key.clone()).or_default();
            group.in_progress += 1;
            group.most = group.most.max(group.in_progress);
            std::mem::take(&mut group.waiting)
        });
        wake.into_iter().for_each(Waker::wake);
        let most = || GROUPS.with_borrow(|groups| groups.get(&key).map_or(0, |g| g.most));
        until(|| most() >= n, &key, u64::from(timeout_ms) * 1_000_000).await;
        let seen = most().min(n);
        GROUPS.with_borrow_mut(|groups| {
            if let Some(group) = groups.get_mut(&key) {
                group.in_progress -= 1;
                if group.in_progress == 0 {
                    groups.remove(&key);
                }
            }
        });
        seen
    }
}

impl streams::Guest for Provider {
    async fn bump(data: StreamReader<u8>) -> StreamReader<u8> {
        let (mut writer, reader) = wit_stream::new();
        wit_bindgen::spawn(async move {
            let mut data = data;
            let mut chunk = Vec::with_capacity(64 * 1024);
            loop {
                let (result, mut read) = data.read(chunk).await;
                read.iter_mut().for_each(|b| *b = b.wrapping_add(1));
                let unwritten = writer.write_all(read).await;
                if !unwritten.is_empty() || !matches!(result, StreamResult::Complete(_)) {
                    return;
                }
                chunk = unwritten;
                chunk.reserve(64 * 1024);
            }
        });
        reader
    }

    async fn measure(data: StreamReader<u8>) -> (u64, u64) {
        let mut data = data;
        let (mut count, mut sum) = (0u64, 0u64);
        let mut chunk = Vec::with_capacity(64 * 1024);
        loop {
            let (result, read) = data.read(chunk).await;
            count += read.len() as u64;
            sum += read.iter().map(|&b| u64::from(b)).sum::<u64>();
            if !matches!(result, StreamResult::Complete(_)) {
                return (count, sum);
            }
            chunk = read;
            chunk.clear();
        }
    }

    async fn produce(n: u64) -> StreamReader<u8> {
        let (mut writer, reader) = wit_stream::new();
        wit_bindgen::spawn(async move {
            let mut i = 0u64;
            while i < n {
                let len = (n - i).min(64 * 1024);
                let chunk: Vec<u8> = (i..i + len).map(|j| (j % 251) as u8).collect();
                if !writer.write_all(chunk).await.is_empty() {
                    return;
                }
                i += len;
            }
        });
        reader
    }
}

export!(Provider);
