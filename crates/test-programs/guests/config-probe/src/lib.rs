//! `config-probe`: a wasi:http handler whose routes call `wasi:config/store@0.2.0-draft`
//! (`get`, `get-all`). The contract is in `crates/test-programs/README.md`.

use std::io::Write as _;

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wit_bindgen::generate!({
    path: "../../../../wit/deps/config-0.2.0-draft",
    world: "wasi:config/imports",
});

use wasi::config::store;

struct ConfigProbe;

impl Guest for ConfigProbe {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query.as_str(), ""));
        let route = path.rsplit('/').next().unwrap_or_default();
        let (status, body) = serve(route, query);
        respond(response_out, status, body.as_bytes());
    }
}

wasip2::http::proxy::export!(ConfigProbe);

fn serve(route: &str, query: &str) -> (u16, String) {
    match route {
        "get" => {
            let Some(key) = query_value(query, "key") else {
                return (400, "missing query parameter `key`\n".into());
            };
            match store::get(&key) {
                Ok(Some(value)) => (200, value),
                Ok(None) => (404, "none".into()),
                Err(err) => (500, error_text(&err)),
            }
        }
        "all" => match store::get_all() {
            Ok(mut pairs) => {
                pairs.sort();
                let body = pairs
                    .iter()
                    .map(|(key, value)| format!("{key}={value}\n"))
                    .collect();
                (200, body)
            }
            Err(err) => (500, error_text(&err)),
        },
        _ => (404, "not found\n".into()),
    }
}

fn error_text(err: &store::Error) -> String {
    match err {
        store::Error::Upstream(message) => format!("error: upstream: {message}"),
        store::Error::Io(message) => format!("error: io: {message}"),
    }
}

/// The first value of `name` in `k=v&k=v`, `%XX`-decoded (`+` is not a space).
fn query_value(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode(value))
}

fn percent_decode(text: &str) -> String {
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

fn respond(response_out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
        .expect("content-type is a valid header");
    let response = OutgoingResponse::new(headers);
    response
        .set_status_code(status)
        .expect("the guest only uses valid status codes");
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
