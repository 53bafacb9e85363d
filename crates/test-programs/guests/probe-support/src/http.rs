//! Small wasi:http helpers shared by the HTTP guests: a plain-text response and query
//! parameters.

use std::io::Write as _;

use wasip2::http::types::{Fields, OutgoingBody, OutgoingResponse, ResponseOutparam};

/// Answers `status` with `body` as `text/plain`, streaming it out.
pub fn respond(response_out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
        .expect("content-type is a valid header");
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(status)
        .expect("the guests only use valid status codes");
    let outgoing = response.body().expect("a new response has a body");
    ResponseOutparam::set(response_out, Ok(response));
    let mut out = outgoing.write().expect("a new body has a stream");
    // The client may be gone by now; then there is nobody left to tell.
    if out
        .write_all(body)
        .and_then(|()| std::io::Write::flush(&mut out))
        .is_err()
    {
        return;
    }
    drop(out);
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The first value of `name` in `k=v&k=v`, `%XX`-decoded (`+` is not a space).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

/// Decodes `%XX` escapes; anything else, a malformed escape included, is kept as is.
pub fn percent_decode(text: &str) -> String {
    let mut decoded = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let escaped = (byte == b'%')
            .then(|| tail.get(..2))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(value) => {
                decoded.push(value);
                rest = &tail[2..];
            }
            None => {
                decoded.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}
