//! `plugin-http`: an HTTP app calling `manifold:conformance/types@0.1.0`, so tests can load
//! a plugin through `manifold serve`. A failed plugin call traps, which the host answers
//! with a 5xx.
//!
//! - `GET /inc?x=N`: `inc(N)`, answered as decimal text;
//! - `GET /hold?ms=N`: creates `counter(7)`, waits N ms, adds 1 and answers the value (8),
//!   so a test can restart the plugin while the guest holds a handle;
//! - `GET /bench?call=inc|reverse&n=N`: N calls of `inc` (u64 -> u64) or of `reverse` on
//!   64 KiB, timed by the guest's monotonic clock; answers the nanoseconds per call
//!   (`scripts/bench-plugins`).

use probe_support::http::{query_param, respond};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wit_bindgen::generate!({
    path: "../../wit/conformance.wit",
    world: "guest",
});

use manifold::conformance::types;

struct PluginHttp;

impl Guest for PluginHttp {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let number = |name: &str| query_param(query, name).and_then(|v| v.parse::<u64>().ok());
        match path {
            "/inc" => match number("x") {
                Some(x) => respond(response_out, 200, types::inc(x).to_string().as_bytes()),
                None => respond(response_out, 400, b"x must be a u64\n"),
            },
            "/hold" => {
                let counter = types::Counter::new(7);
                let ms = number("ms").unwrap_or(0);
                wasip2::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
                let value = counter.add(1);
                respond(response_out, 200, value.to_string().as_bytes());
            }
            "/bench" => {
                let n = number("n").unwrap_or(1000).max(1);
                let payload = vec![7u8; 64 * 1024];
                let call = query_param(query, "call").unwrap_or_default();
                let now = wasip2::clocks::monotonic_clock::now;
                let start = now();
                let mut check = 0u64;
                match call.as_str() {
                    "inc" => {
                        for i in 0..n {
                            check = check.wrapping_add(types::inc(i));
                        }
                    }
                    "reverse" => {
                        for _ in 0..n {
                            check = check.wrapping_add(types::reverse(&payload).len() as u64);
                        }
                    }
                    _ => return respond(response_out, 400, b"call must be inc or reverse\n"),
                }
                let per_call = (now() - start) / n;
                let body = format!("{per_call} {check}\n");
                respond(response_out, 200, body.as_bytes());
            }
            _ => respond(response_out, 404, b"not found\n"),
        }
    }
}

wasip2::http::proxy::export!(PluginHttp);
