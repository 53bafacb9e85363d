//! `p3-http-probe`: a `wasi:http/handler@0.3.0` whose routes probe what a
//! host does with WASI 0.3 requests: instance reuse (`/count`), streaming in
//! both directions at once (`/echo`), async waits (`/sleep`), misbehaviour
//! (`/loop`, `/trap`, `/oom`), outgoing requests (`/outbound`) and headers. The
//! contract is in `crates/test-programs/README.md`; keep the two in step.

mod error_code;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use p3_http_support::wasi::clocks::monotonic_clock;
use p3_http_support::wasi::http::client;
use p3_http_support::wasi::http::types::{ErrorCode, Fields, Request, Response, Scheme};
use p3_http_support::wasi::random::random;
use p3_http_support::{
    CHUNK, Guest, StreamResult, ok_when_dropped, read_all, streaming_response, text_response,
};
use probe_support::http::query_param;

struct Probe;

impl Guest for Probe {
    async fn handle(request: Request) -> Result<Response, ErrorCode> {
        let handled = HANDLED.fetch_add(1, Ordering::Relaxed) + 1;
        let target = request
            .get_path_with_query()
            .unwrap_or_else(|| "/".to_string());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        // The last segment, so the guest works under any mount prefix.
        let route = path.rsplit('/').next().unwrap_or_default();
        Ok(match route {
            "count" => count(handled),
            "echo" => echo(request),
            "sleep" => sleep(query).await,
            "loop" => probe_support::spin_forever(),
            "trap" => probe_support::deliberate_trap(),
            "oom" => probe_support::exhaust_memory(),
            "outbound" => outbound(query).await,
            "headers" => headers(&request),
            _ => text_response(404, "not found\n"),
        })
    }
}

p3_http_support::export!(Probe);

/// Requests this instance has been given, on any route.
static HANDLED: AtomicU64 = AtomicU64::new(0);
/// This instance's id, drawn from `wasi:random/random` at its first `/count`.
static INSTANCE_ID: OnceLock<u64> = OnceLock::new();

fn count(handled: u64) -> Response {
    let id = INSTANCE_ID.get_or_init(random::get_random_u64);
    text_response(200, format!("instance={id:016x} count={handled}"))
}

/// Request headers `/echo` copies to its response. `trailer` names the
/// trailers to come: an HTTP/1.1 server such as hyper sends only the
/// trailers the response declares.
const ECHOED_HEADERS: [&str; 2] = ["content-type", "trailer"];

/// Streams the request body back while it is still arriving, one read
/// (at most `CHUNK` bytes) at a time, then the request's trailers. If the
/// request body breaks off, so does the response's, with the same error.
fn echo(request: Request) -> Response {
    let received = request.get_headers();
    let headers = Fields::new();
    for name in ECHOED_HEADERS {
        for value in received.get(name) {
            headers
                .append(name, &value)
                .expect("a received header is a valid header");
        }
    }
    let (consumed, consumed_reader) = ok_when_dropped();
    let (mut body, trailers) = Request::consume_body(request, consumed_reader);
    let (response, mut out, trailers_out) = streaming_response(200, headers);
    p3_http_support::spawn(async move {
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let (result, read) = body.read(chunk).await;
            let unwritten = out.write_all(read).await;
            if !unwritten.is_empty() {
                // The client stopped reading the response: stop echoing.
                return;
            }
            chunk = unwritten;
            chunk.reserve(CHUNK);
            if !matches!(result, StreamResult::Complete(_)) {
                break;
            }
        }
        drop(body);
        let end = trailers.await;
        drop(consumed);
        drop(out);
        // The client may be gone; nobody is left to tell.
        let _ = trailers_out.write(end).await;
    });
    response
}

async fn sleep(query: &str) -> Response {
    let Some(ms) = query_param(query, "ms").and_then(|ms| ms.parse::<u64>().ok()) else {
        return text_response(400, "ms must be a whole number of milliseconds\n");
    };
    monotonic_clock::wait_for(ms.saturating_mul(1_000_000)).await;
    text_response(200, format!("slept {ms}"))
}

/// A GET of `url` through `wasi:http/client`.
async fn outbound(query: &str) -> Response {
    let Some(url) = query_param(query, "url") else {
        return text_response(400, "missing query parameter `url`\n");
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return text_response(400, format!("not an absolute URL: {url}\n"));
    };
    let (authority, path_with_query) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let (_no_trailers, trailers) = p3_http_support::wit_future::new(|| Ok(None));
    let (request, _sent) = Request::new(Fields::new(), None, trailers, None);
    let parts = [
        request.set_scheme(Some(&scheme)),
        request.set_authority(Some(authority)),
        request.set_path_with_query(Some(path_with_query)),
    ];
    if parts.iter().any(Result::is_err) {
        return text_response(400, format!("the host refused the parts of {url}\n"));
    }
    match client::send(request).await {
        Ok(upstream) => {
            let status = upstream.get_status_code();
            let (_consumed, consumed_reader) = ok_when_dropped();
            let (body, _trailers) = Response::consume_body(upstream, consumed_reader);
            let mut answer = format!("status {status}\n").into_bytes();
            answer.extend(read_all(body).await);
            text_response(200, answer)
        }
        Err(error) => text_response(502, error_code::text(&error)),
    }
}

/// The request's headers, `name: value` a line, sorted by name (values of
/// one name in the order received).
fn headers(request: &Request) -> Response {
    let mut entries = request.get_headers().copy_all();
    entries.sort_by(|(a, _), (b, _)| a.cmp(b));
    let mut answer = Vec::new();
    for (name, value) in entries {
        answer.extend_from_slice(name.as_bytes());
        answer.extend_from_slice(b": ");
        answer.extend_from_slice(&value);
        answer.push(b'\n');
    }
    text_response(200, answer)
}
