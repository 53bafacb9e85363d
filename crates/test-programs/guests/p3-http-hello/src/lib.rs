//! `p3-http-hello`: a `wasi:http/handler@0.3.0` that answers every request
//! with `200 Hello from a WASI 0.3 component!\n` (`content-type:
//! text/plain`). It is the WASI 0.3 benchmark guest, so it does nothing else.

use p3_http_support::Guest;
use p3_http_support::wasi::http::types::{ErrorCode, Request, Response};

const GREETING: &[u8] = b"Hello from a WASI 0.3 component!\n";

struct Hello;

impl Guest for Hello {
    async fn handle(_request: Request) -> Result<Response, ErrorCode> {
        Ok(p3_http_support::text_response(200, GREETING))
    }
}

p3_http_support::export!(Hello);
