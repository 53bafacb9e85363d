//! `http-counter`, the example app of `examples/counter`: every request increments a counter
//! named after its path in the `wasi:keyvalue` bucket `default` and answers
//! `/PATH has been visited N times`. One atomic `increment` per request, so concurrent
//! visitors are all counted.

use probe_support::http::respond;
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wit_bindgen::generate!({
    path: "../../../../wit/deps/keyvalue-0.2.0-draft2",
    world: "wasi:keyvalue/imports",
});

use wasi::keyvalue::{atomics, store};

struct Counter;

impl Guest for Counter {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let target = request.path_with_query().unwrap_or_else(|| "/".into());
        let path = target.split('?').next().unwrap_or("/");
        let counted =
            store::open("default").and_then(|bucket| atomics::increment(&bucket, path, 1));
        match counted {
            Ok(n) => {
                let plural = if n == 1 { "" } else { "s" };
                let body = format!("{path} has been visited {n} time{plural}\n");
                respond(response_out, 200, body.as_bytes());
            }
            Err(e) => respond(
                response_out,
                500,
                format!("key-value error: {e:?}\n").as_bytes(),
            ),
        }
    }
}

wasip2::http::proxy::export!(Counter);
