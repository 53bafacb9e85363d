//! `http-probe`: a wasi:http handler whose routes probe what a guest is given
//! (environment, files, outbound HTTP, clocks) and how the host copes with a
//! handler that misbehaves. Routes match on the last path segment, so the
//! guest works under any mount prefix. The contract is in
//! `crates/test-programs/README.md`; keep the two in step.
//!
//! Built with the *reactor* adapter, not the proxy one: the proxy adapter has
//! no filesystem, and `/file` reads through std::fs.

use wasip2::clocks::monotonic_clock;
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{Fields, IncomingRequest, OutgoingRequest, ResponseOutparam, Scheme};
use wasip2::io::poll;

use probe_support::http::{query_param, respond};

struct Probe;

impl Guest for Probe {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query.as_str(), ""));
        let (status, body) = match path.rsplit('/').next().unwrap_or_default() {
            "hello" => (200, "hello".to_string()),
            "path" => (200, path_with_query.clone()),
            "loop" => probe_support::spin_forever(),
            "oom" => probe_support::exhaust_memory(),
            "trap" => probe_support::deliberate_trap(),
            "env" => (200, environment()),
            "file" => read_file(query_param(query, "path").as_deref()),
            "fetch" => fetch(query_param(query, "url").as_deref()),
            "sleep" => sleep(query_param(query, "ms").as_deref()),
            _ => (404, "not found\n".to_string()),
        };
        respond(response_out, status, body.as_bytes());
    }
}

wasip2::http::proxy::export!(Probe);

/// `NAME=VALUE` lines, sorted, from wasi:cli/environment.
fn environment() -> String {
    let mut vars = wasip2::cli::environment::get_environment();
    vars.sort();
    vars.iter()
        .map(|(name, value)| format!("{name}={value}\n"))
        .collect()
}

fn read_file(path: Option<&str>) -> (u16, String) {
    let Some(path) = path else {
        return (400, "missing query parameter `path`\n".to_string());
    };
    match std::fs::read_to_string(path) {
        Ok(contents) => (200, contents),
        Err(err) => (500, format!("file error: {err}")),
    }
}

/// A GET through wasi:http/outgoing-handler; answers with the upstream status,
/// not its body.
fn fetch(url: Option<&str>) -> (u16, String) {
    let Some(url) = url else {
        return (400, "missing query parameter `url`\n".to_string());
    };
    match outgoing_get(url) {
        Ok(status) => (200, format!("status {status}")),
        Err(err) => (502, format!("fetch error: {err}")),
    }
}

fn outgoing_get(url: &str) -> Result<u16, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not an absolute URL"))?;
    let scheme = match scheme {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        other => Scheme::Other(other.to_string()),
    };
    let (authority, path_with_query) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };

    let request = OutgoingRequest::new(Fields::new());
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| format!("invalid scheme in `{url}`"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| format!("invalid authority `{authority}`"))?;
    request
        .set_path_with_query(Some(path_with_query))
        .map_err(|()| format!("invalid path `{path_with_query}`"))?;

    let pending = outgoing_handler::handle(request, None).map_err(|err| format!("{err:?}"))?;
    let ready = pending.subscribe();
    ready.block();
    drop(ready);
    match pending.get() {
        Some(Ok(Ok(response))) => Ok(response.status()),
        Some(Ok(Err(err))) => Err(format!("{err:?}")),
        Some(Err(())) => Err("the response was already taken".to_string()),
        None => Err("the response was not ready after the pollable fired".to_string()),
    }
}

/// Sleeps on a wasi:clocks pollable, so the host's scheduler (and its
/// timeouts) see a guest that waits rather than spins.
fn sleep(millis: Option<&str>) -> (u16, String) {
    let Some(millis) = millis.and_then(|millis| millis.parse::<u64>().ok()) else {
        return (
            400,
            "query parameter `ms` must be a whole number\n".to_string(),
        );
    };
    let timer = monotonic_clock::subscribe_duration(millis.saturating_mul(1_000_000));
    poll::poll(&[&timer]);
    (200, "slept".to_string())
}
