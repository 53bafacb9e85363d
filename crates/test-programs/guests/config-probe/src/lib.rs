//! `config-probe`: a wasi:http handler whose routes call `wasi:config/store@0.2.0-draft`
//! (`get`, `get-all`). The contract is in `crates/test-programs/README.md`.

use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wit_bindgen::generate!({
    path: "../../../../wit/deps/config-0.2.0-draft",
    world: "wasi:config/imports",
});

use wasi::config::store;

use probe_support::http::{query_param, respond};

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
            let Some(key) = query_param(query, "key") else {
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
