//! What the WASI 0.3 HTTP guests share: bindings of the world
//! `wasi:http/service@0.3.0`, generated from the repository's
//! `wit/deps/0.3.0` (the WIT Wasmtime 48.0.8 serves), and helpers to answer
//! with a plain-text body.
//!
//! The bindings live here once; each guest implements [`Guest`] and calls
//! [`export!`](crate::export) on its type. WIT `async func`s are Rust
//! `async fn`s, `stream<u8>` is [`StreamReader<u8>`]/[`StreamWriter<u8>`],
//! `future<T>` is [`FutureReader<T>`]/[`FutureWriter<T>`].

wit_bindgen::generate!({
    // One file per package, dependencies first: wit-parser resolves each
    // file against the packages pushed before it.
    path: [
        "../../../../wit/deps/0.3.0/clocks.wit",
        "../../../../wit/deps/0.3.0/random.wit",
        "../../../../wit/deps/0.3.0/filesystem.wit",
        "../../../../wit/deps/0.3.0/sockets.wit",
        "../../../../wit/deps/0.3.0/cli.wit",
        "../../../../wit/deps/0.3.0/http.wit",
    ],
    world: "wasi:http/service@0.3.0",
    generate_all,
    pub_export_macro: true,
    default_bindings_module: "p3_http_support",
});

pub use exports::wasi::http::handler::Guest;
pub use wit_bindgen::{
    FutureReader, FutureWriter, StreamReader, StreamResult, StreamWriter, spawn,
};

use wasi::http::types::{ErrorCode, Fields, Response, Trailers};

/// How many bytes a guest moves from one stream to another at a time.
pub const CHUNK: usize = 64 * 1024;

/// The outcome of a body: its trailers, or why it broke off.
pub type BodyEnd = Result<Option<Trailers>, ErrorCode>;

/// Whether a body was handled: what `consume-body` is told, and what
/// `new` answers about sending one.
pub type BodyHandled = Result<(), ErrorCode>;

/// Fields holding `content-type: text/plain`, and nothing else.
pub fn text_plain() -> Fields {
    Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
        .expect("content-type is a valid header")
}

/// A response with `status` and `headers` whose body the caller writes to
/// the returned writer, and whose trailers it sends (or drops the writer:
/// then the body ends with no trailers).
pub fn streaming_response(
    status: u16,
    headers: Fields,
) -> (Response, StreamWriter<u8>, FutureWriter<BodyEnd>) {
    let (body_writer, body_reader) = wit_stream::new();
    let (trailers_writer, trailers_reader) = wit_future::new(|| Ok(None));
    // The second value says whether the host sent the whole response; a
    // handler that already returned has nobody to tell, so it is dropped.
    let (response, _sent) = Response::new(headers, Some(body_reader), trailers_reader);
    response
        .set_status_code(status)
        .expect("the guests only use valid status codes");
    (response, body_writer, trailers_writer)
}

/// A `future<result<_, error-code>>` that says `ok` once its writer is
/// dropped: what `consume-body` wants to hear when the body was handled.
pub fn ok_when_dropped() -> (FutureWriter<BodyHandled>, FutureReader<BodyHandled>) {
    wit_future::new(|| Ok(()))
}

/// A `text/plain` response with `status` and `body`. The body is written
/// by a task that runs on after the handler has returned the response.
pub fn text_response(status: u16, body: impl Into<Vec<u8>>) -> Response {
    let body = body.into();
    let (response, mut body_writer, _no_trailers) = streaming_response(status, text_plain());
    spawn(async move {
        // What is left unwritten if the client went away: nobody to tell.
        let _unwritten = body_writer.write_all(body).await;
    });
    response
}

/// Reads `body` to its end, `CHUNK` bytes at a time.
pub async fn read_all(mut body: StreamReader<u8>) -> Vec<u8> {
    let mut all = Vec::new();
    loop {
        all.reserve(CHUNK);
        let (result, filled) = body.read(all).await;
        all = filled;
        if !matches!(result, StreamResult::Complete(_)) {
            return all;
        }
    }
}
