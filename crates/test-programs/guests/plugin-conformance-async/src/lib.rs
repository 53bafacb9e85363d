//! `plugin-conformance-async`: calls every function of `manifold:conformance-async`
//! (`crates/test-programs/wit/conformance-async.wit`) and checks each result, against
//! whichever provider the host links: the built-in reference, an rpc plugin, a wasm plugin or
//! (for `calls`) a dylib. Its arguments say which parts to run:
//!
//! - `calls`: `later-inc` once, then 8 `later-inc`s of 200 ms in flight at once;
//! - `gather N`: N `gather`s with one key at once (timeout 5 s); prints `gathered M`;
//! - `streams`: `produce`, `measure` and `bump`, small and large (1 MiB), and `bump` in
//!   lock step (each chunk's answer read before the next chunk is written).
//!
//! It prints `ok CHECK` or `FAIL CHECK: …` per check, then `pass`, or `fail: N` and exits 1.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use manifold::conformance_async::{calls, streams};
use wasi::clocks::monotonic_clock;
use wit_bindgen::{StreamReader, StreamResult};

wit_bindgen::generate!({
    inline: "
        package manifold:conformance-async-guest;
        world conformance-async-guest {
            include wasi:cli/command@0.3.0;
            include manifold:conformance-async/guest@0.1.0;
        }
    ",
    // One file per package, dependencies first.
    path: [
        "../../../../wit/deps/0.3.0/clocks.wit",
        "../../../../wit/deps/0.3.0/random.wit",
        "../../../../wit/deps/0.3.0/filesystem.wit",
        "../../../../wit/deps/0.3.0/sockets.wit",
        "../../../../wit/deps/0.3.0/cli.wit",
        "../../wit/conformance-async",
    ],
    world: "manifold:conformance-async-guest/conformance-async-guest",
    generate_all,
});

struct Guest;

impl exports::wasi::cli::run::Guest for Guest {
    async fn run() -> Result<(), ()> {
        let args = wasi::cli::environment::get_arguments();
        let mut report = Report::default();
        let mut args = args.iter().skip(1);
        while let Some(part) = args.next() {
            match part.as_str() {
                "calls" => check_calls(&mut report).await,
                "gather" => {
                    let n = args.next().and_then(|n| n.parse().ok()).unwrap_or(4);
                    let seen = join_all(
                        (0..n)
                            .map(|_| Box::pin(calls::gather("g".to_string(), n, 5000)) as Boxed<u32>)
                            .collect(),
                    )
                    .await;
                    let most = seen.iter().copied().max().unwrap_or(0);
                    report.line(format!("gathered {most}"));
                }
                "streams" => check_streams(&mut report).await,
                other => report.check(&format!("argument {other}"), false, "unknown part"),
            }
        }
        report.finish().await
    }
}

export!(Guest);

type Boxed<T> = Pin<Box<dyn Future<Output = T>>>;

/// Polls every future until all are done; the results in order.
async fn join_all<T>(mut futures: Vec<Boxed<T>>) -> Vec<T> {
    let mut results: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, slot) in futures.iter_mut().zip(results.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(v) => *slot = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    results.into_iter().flatten().collect()
}

async fn check_calls(report: &mut Report) {
    let got = calls::later_inc(41, 0).await;
    report.check("later-inc", got == 42, &format!("got {got}, want 42"));
    let got = calls::later_inc(u64::MAX, 1).await;
    report.check("later-inc wraps", got == 0, &format!("got {got}, want 0"));

    // Eight calls of 200 ms each at once: all answers right, in about 200 ms when the
    // provider serves them concurrently (printed, not checked: a dylib serves them in turn).
    let start = monotonic_clock::now();
    let answers = join_all(
        (0..8u64)
            .map(|i| Box::pin(calls::later_inc(i * 10, 200)) as Boxed<u64>)
            .collect(),
    )
    .await;
    let elapsed_ms = (monotonic_clock::now() - start) / 1_000_000;
    let want: Vec<u64> = (0..8u64).map(|i| i * 10 + 1).collect();
    report.check(
        "later-inc x8",
        answers == want,
        &format!("got {answers:?}, want {want:?}"),
    );
    report.line(format!("later-inc x8 took {elapsed_ms} ms"));
}

/// `n` bytes, byte i being `(i * 7 + 3) mod 256`.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i.wrapping_mul(7).wrapping_add(3)) as u8).collect()
}

/// A stream that carries `bytes`, written by a task of its own.
fn stream_of(bytes: Vec<u8>) -> StreamReader<u8> {
    let (mut writer, reader) = wit_stream::new();
    wit_bindgen::spawn(async move {
        let _unwritten = writer.write_all(bytes).await;
    });
    reader
}

/// Reads `reader` to its end.
async fn read_all(mut reader: StreamReader<u8>) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        all.reserve(64 * 1024);
        let (result, filled) = reader.read(all).await;
        all = filled;
        if !matches!(result, StreamResult::Complete(_)) {
            return all;
        }
    }
}

/// Reads exactly `n` bytes (fewer if the stream ends first).
async fn read_exact(reader: &mut StreamReader<u8>, n: usize) -> Vec<u8> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        let room = Vec::with_capacity(n - got.len());
        let (result, filled) = reader.read(room).await;
        got.extend_from_slice(&filled);
        if !matches!(result, StreamResult::Complete(_)) {
            break;
        }
    }
    got
}

async fn check_streams(report: &mut Report) {
    for n in [0usize, 5, 1 << 20] {
        let got = read_all(streams::produce(n as u64).await).await;
        let want: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        report.check(
            &format!("produce {n}"),
            got == want,
            &format!("got {} bytes, first differing at {:?}", got.len(), first_diff(&got, &want)),
        );

        let data = pattern(n);
        let want = (n as u64, data.iter().map(|&b| u64::from(b)).sum::<u64>());
        let got = streams::measure(stream_of(data.clone())).await;
        report.check(&format!("measure {n}"), got == want, &format!("got {got:?}, want {want:?}"));

        let got = read_all(streams::bump(stream_of(data.clone())).await).await;
        let want: Vec<u8> = data.iter().map(|b| b.wrapping_add(1)).collect();
        report.check(
            &format!("bump {n}"),
            got == want,
            &format!("got {} bytes, first differing at {:?}", got.len(), first_diff(&got, &want)),
        );
    }

    // Lock step: each chunk's answer is read before the next chunk is written, which only
    // a provider that streams (rather than reading to the end first) can answer.
    let (mut writer, reader) = wit_stream::new();
    let mut answers = streams::bump(reader).await;
    let mut ok = true;
    let mut detail = String::new();
    for round in 0..4u8 {
        let chunk = vec![round * 10; 1000];
        let _unwritten = writer.write_all(chunk.clone()).await;
        let got = read_exact(&mut answers, chunk.len()).await;
        if got.len() != chunk.len() || got.iter().any(|&b| b != round * 10 + 1) {
            ok = false;
            detail = format!("round {round}: got {} bytes", got.len());
            break;
        }
    }
    drop(writer);
    let rest = read_all(answers).await;
    report.check("bump in lock step", ok && rest.is_empty(), &detail);
}

fn first_diff(a: &[u8], b: &[u8]) -> Option<usize> {
    (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i))
}

#[derive(Default)]
struct Report {
    text: String,
    failures: u32,
}

impl Report {
    fn line(&mut self, line: String) {
        self.text.push_str(&line);
        self.text.push('\n');
    }

    fn check(&mut self, name: &str, ok: bool, detail: &str) {
        if ok {
            self.line(format!("ok {name}"));
        } else {
            self.failures += 1;
            self.line(format!("FAIL {name}: {detail}"));
        }
    }

    /// Prints the report on stdout (the 0.3 stream) and ends the run.
    async fn finish(mut self) -> Result<(), ()> {
        let failed = self.failures > 0;
        if failed {
            self.line(format!("fail: {}", self.failures));
        } else {
            self.line("pass".into());
        }
        let (mut writer, reader) = wit_stream::new();
        let done = wasi::cli::stdout::write_via_stream(reader);
        let _unwritten = writer.write_all(self.text.into_bytes()).await;
        drop(writer);
        let _ = done.await;
        if failed { Err(()) } else { Ok(()) }
    }
}
