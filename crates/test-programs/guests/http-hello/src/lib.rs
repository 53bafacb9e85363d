//! `http-hello`: a wasi:http handler that answers every request with
//! `200 Hello from Manifold!\n` (`content-type: text/plain`). It is also the
//! guest of `examples/hello`, built by `scripts/build-example`.

use std::io::{self, Write as _};

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

const GREETING: &[u8] = b"Hello from Manifold!\n";

struct Hello;

impl Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
            .expect("content-type is a valid header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("a new response has a body");
        ResponseOutparam::set(response_out, Ok(response));

        let mut out = body.write().expect("a new body has a stream");
        // The client may be gone by now; then there is nobody left to tell.
        if out
            .write_all(GREETING)
            .and_then(|()| io::Write::flush(&mut out))
            .is_err()
        {
            return;
        }
        drop(out);
        // Same as above: a failed finish only means the client went away.
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Hello);
