//! `plugin-http`: an HTTP app calling `manifold:conformance/types@0.1.0`, so tests can load
//! a plugin through `manifold serve`. A failed plugin call traps, which the host answers
//! with a 5xx.
//!
//! - `GET /inc?x=N`: `inc(N)`, answered as decimal text;
//! - `GET /hold?ms=N`: creates `counter(7)`, waits N ms, adds 1 and answers the value (8),
//!   so a test can restart the plugin while the guest holds a handle.

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
            _ => respond(response_out, 404, b"not found\n"),
        }
    }
}

wasip2::http::proxy::export!(PluginHttp);
