//! `http-echo`: a wasi:http handler that answers 200 and streams the request
//! body back one chunk at a time, never holding the whole body, so host tests
//! can check that bodies stream both ways. The request's `content-type`, if
//! any, is copied to the response.

use std::io::{self, Write as _};

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use wasip2::io::streams::StreamError;

/// The most bytes asked of the request stream at once.
const CHUNK: u64 = 64 * 1024;

struct Echo;

impl Guest for Echo {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::new();
        for value in request.headers().get("content-type") {
            headers
                .append("content-type", &value)
                .expect("a received content-type is a valid header");
        }
        let response = OutgoingResponse::new(headers);
        let response_body = response.body().expect("a new response has a body");
        // Answer before reading, so the response head goes out while the
        // request body is still arriving.
        ResponseOutparam::set(response_out, Ok(response));

        let request_body = request
            .consume()
            .expect("the request body is consumed once");
        let input = request_body
            .stream()
            .expect("the request body has a stream");
        let mut output = response_body.write().expect("a new body has a stream");
        loop {
            let chunk = match input.blocking_read(CHUNK) {
                Ok(chunk) => chunk,
                Err(StreamError::Closed) => break,
                // The request broke off: drop the response body unfinished,
                // so the client sees a broken response rather than a short one.
                Err(StreamError::LastOperationFailed(_)) => return,
            };
            if output
                .write_all(&chunk)
                .and_then(|()| io::Write::flush(&mut output))
                .is_err()
            {
                return;
            }
        }
        drop(input);
        drop(output);
        let _trailers = IncomingBody::finish(request_body);
        // A failed finish only means the client went away.
        let _ = OutgoingBody::finish(response_body, None);
    }
}

wasip2::http::proxy::export!(Echo);
