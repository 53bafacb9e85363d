//! `p3-mixed`: a `wasi:http/handler@0.3.0` that draws a random number from
//! `wasi:random/random@0.2.12` (through the `wasip2` crate) and one from
//! `wasi:random/random@0.3.0`, and answers both. Every Rust guest imports
//! WASI 0.2 through std and the preview1 adapter; this one does it on
//! purpose and visibly, so a test can prove one component is given both
//! majors.

use p3_http_support::Guest;
use p3_http_support::wasi::http::types::{ErrorCode, Request, Response};
use p3_http_support::wasi::random::random as random_p3;
use wasip2::random::random as random_p2;

struct Mixed;

impl Guest for Mixed {
    async fn handle(_request: Request) -> Result<Response, ErrorCode> {
        let p2 = random_p2::get_random_u64();
        let p3 = random_p3::get_random_u64();
        Ok(p3_http_support::text_response(
            200,
            format!("p2 random={p2:016x}\np3 random={p3:016x}\n"),
        ))
    }
}

p3_http_support::export!(Mixed);
