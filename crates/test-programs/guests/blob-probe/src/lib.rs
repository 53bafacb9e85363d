//! `blob-probe`: a wasi:http handler whose routes call every function of
//! `wasi:blobstore@0.2.0-draft`. `/selftest` checks each one against the draft's WIT in one
//! request; the other routes stream a request body into an object and an object into a
//! response, for the host's durability and isolation tests. The contract is in
//! `crates/test-programs/README.md`.

use std::io::Write as _;

use probe_support::http::{query_param, respond};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wit_bindgen::generate!({
    path: "../../../../wit/deps/blobstore-0.2.0-draft",
    world: "wasi:blobstore/imports",
    with: {
        "wasi:io/error@0.2.1": wasip2::io::error,
        "wasi:io/poll@0.2.1": wasip2::io::poll,
        "wasi:io/streams@0.2.1": wasip2::io::streams,
    },
});

mod selftest;

use wasi::blobstore::blobstore;
use wasi::blobstore::container::Container;
use wasi::blobstore::types::{IncomingValue, OutgoingValue};

struct BlobProbe;

impl Guest for BlobProbe {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query
            .split_once('?')
            .unwrap_or((path_with_query.as_str(), ""));
        let route = path.rsplit('/').next().unwrap_or_default().to_string();
        let query = query.to_string();
        let param = |name: &str| query_param(&query, name).unwrap_or_default();
        let (container, name) = (param("container"), param("name"));
        let result = match route.as_str() {
            "selftest" => Ok(selftest::run(&param("a"), &param("b"))),
            "create" => blobstore::create_container(&container).map(|_| (200, "ok".into())),
            "exists" => blobstore::container_exists(&container).map(|e| (200, e.to_string())),
            "open" => blobstore::get_container(&container).map(|_| (200, "ok".into())),
            "delete-container" => blobstore::delete_container(&container).map(|()| (200, "ok".into())),
            "put" => return put(request, response_out, &container, &name),
            "get" => return get(response_out, &container, &name),
            "list" => list(&container),
            "info" => blobstore::get_container(&container)
                .and_then(|c| c.object_info(&name))
                .map(|m| (200, format!("{} {}", m.name, m.size))),
            "has" => blobstore::get_container(&container)
                .and_then(|c| c.has_object(&name))
                .map(|found| (200, found.to_string())),
            "delete" => blobstore::get_container(&container)
                .and_then(|c| c.delete_object(&name))
                .map(|()| (200, "ok".into())),
            _ => Ok((404, "not found\n".into())),
        };
        let (status, body) = result.unwrap_or_else(|err| (500, format!("error: {err}")));
        respond(response_out, status, body.as_bytes());
    }
}

wasip2::http::proxy::export!(BlobProbe);

/// Every object name of a container, one a line, sorted.
fn list(container: &str) -> Result<(u16, String), String> {
    let c = blobstore::get_container(container)?;
    let mut names = all_names(&c)?;
    names.sort();
    Ok((200, names.iter().map(|n| format!("{n}\n")).collect()))
}

/// Reads a listing to its end, a few names at a time.
pub(crate) fn all_names(c: &Container) -> Result<Vec<String>, String> {
    let stream = c.list_objects()?;
    let mut names = Vec::new();
    for _ in 0..1_000_000 {
        let (batch, end) = stream.read_stream_object_names(7)?;
        names.extend(batch);
        if end {
            return Ok(names);
        }
    }
    Err("the listing never ended".into())
}

/// `PUT`s the request body into object `name` of `container` (created if missing), streamed
/// chunk by chunk: `200` `ok SIZE` once `finish` succeeded.
fn put(request: IncomingRequest, response_out: ResponseOutparam, container: &str, name: &str) {
    let result = (|| -> Result<u64, String> {
        let c = match blobstore::container_exists(container)? {
            true => blobstore::get_container(container)?,
            false => match blobstore::create_container(container) {
                Ok(c) => c,
                // Another request created it meanwhile.
                Err(_) => blobstore::get_container(container)?,
            },
        };
        let value = OutgoingValue::new_outgoing_value();
        c.write_data(name, &value)?;
        let body = request.consume().map_err(|()| "the body was consumed")?;
        let mut size = 0u64;
        {
            let mut input = body.stream().map_err(|()| "the body has no stream")?;
            let streamed = (|| -> Result<(), String> {
                let mut output = value
                    .outgoing_value_write_body()
                    .map_err(|()| "outgoing-value-write-body failed".to_string())?;
                let mut buf = vec![0; 16 * 1024];
                loop {
                    let n = std::io::Read::read(&mut input, &mut buf).map_err(|e| format!("reading the body: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    output
                        .write_all(&buf[..n])
                        .map_err(|e| format!("writing the object: {e}"))?;
                    size += n as u64;
                }
                std::io::Write::flush(&mut output).map_err(|e| format!("flushing the object: {e}"))
            })();
            if let Err(err) = streamed {
                // Read to the end, so the client's upload completes and it gets the answer.
                let _ = std::io::copy(&mut input, &mut std::io::sink());
                drop(input);
                IncomingBody::finish(body);
                // The stream's error is wasi:io's; the blob store's own reason is `finish`'s.
                return Err(OutgoingValue::finish(value).err().unwrap_or(err));
            }
        }
        IncomingBody::finish(body);
        OutgoingValue::finish(value)?;
        Ok(size)
    })();
    match result {
        Ok(size) => respond(response_out, 200, format!("ok {size}").as_bytes()),
        Err(err) => respond(response_out, 500, format!("error: {err}").as_bytes()),
    }
}

/// Streams object `name` of `container` into the response: `200` and its bytes, or `500`.
fn get(response_out: ResponseOutparam, container: &str, name: &str) {
    let value = match blobstore::get_container(container).and_then(|c| c.get_data(name, 0, u64::MAX)) {
        Ok(value) => value,
        Err(err) => return respond(response_out, 500, format!("error: {err}").as_bytes()),
    };
    let mut input = match IncomingValue::incoming_value_consume_async(value) {
        Ok(input) => input,
        Err(err) => return respond(response_out, 500, format!("error: {err}").as_bytes()),
    };
    let headers = Fields::new();
    let response = OutgoingResponse::new(headers);
    let outgoing = response.body().expect("a new response has a body");
    ResponseOutparam::set(response_out, Ok(response));
    {
        let mut out = outgoing.write().expect("a new body has a stream");
        let mut buf = vec![0; 16 * 1024];
        loop {
            match std::io::Read::read(&mut input, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if out.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
        let _ = std::io::Write::flush(&mut out);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
