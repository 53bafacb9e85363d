//! Output through the 0.3 stdout and stderr streams.

use std::fmt::Debug;

use crate::wasi::cli::types::ErrorCode;
use crate::wasi::cli::{stderr, stdout};
use crate::{CHUNK, Outcome};
use wit_bindgen::{FutureReader, StreamReader, StreamResult, StreamWriter};

/// One of the program's output streams, handed to the host once, at start.
pub struct Output {
    writer: StreamWriter<u8>,
    done: FutureReader<Result<(), ErrorCode>>,
}

impl Output {
    pub fn stdout() -> Output {
        let (writer, reader) = crate::wit_stream::new();
        Output {
            writer,
            done: stdout::write_via_stream(reader),
        }
    }

    pub fn stderr() -> Output {
        let (writer, reader) = crate::wit_stream::new();
        Output {
            writer,
            done: stderr::write_via_stream(reader),
        }
    }

    pub async fn write(&mut self, bytes: Vec<u8>) {
        // Bytes the host no longer takes have nowhere else to go.
        let _unwritten = self.writer.write_all(bytes).await;
    }

    pub async fn line(&mut self, text: &str) {
        self.write(format!("{text}\n").into_bytes()).await;
    }

    /// Prints `error: CODE` and fails the run.
    pub async fn error(&mut self, code: &str) -> Outcome {
        self.line(&format!("error: {code}")).await;
        Outcome::Failure
    }

    /// Copies `reader` to this output one read (at most `CHUNK` bytes) at a
    /// time, so a long input streams rather than being held whole.
    pub async fn copy_from(&mut self, mut reader: StreamReader<u8>) {
        let mut chunk = Vec::with_capacity(CHUNK);
        loop {
            let (result, read) = reader.read(chunk).await;
            chunk = self.writer.write_all(read).await;
            if !chunk.is_empty() {
                // The host stopped taking output.
                return;
            }
            chunk.reserve(CHUNK);
            if !matches!(result, StreamResult::Complete(_)) {
                return;
            }
        }
    }

    /// Ends the stream and waits until the host has written all of it.
    pub async fn finish(self) {
        drop(self.writer);
        // A failed stdout leaves nowhere to report it.
        let _ = self.done.await;
    }
}

/// The WIT name of a case of an error enum or variant whose cases are all
/// lowercase kebab-case (`wasi:filesystem`, `wasi:sockets`, `wasi:cli`
/// error codes), e.g. `no-entry`. wit-bindgen's `Debug` spells a case
/// `ErrorCode::NoEntry` (with its payload, if any, in parentheses), which
/// turns back into the WIT name exactly; a payload is kept after `: `.
pub fn kebab_name(code: &impl Debug) -> String {
    let debug = format!("{code:?}");
    let case = debug
        .rsplit_once("::")
        .map_or(debug.as_str(), |(_, case)| case);
    let (camel, payload) = match case.split_once('(') {
        Some((camel, payload)) => (camel, Some(payload.trim_end_matches(')'))),
        None => (case, None),
    };
    let mut name = String::new();
    for (i, c) in camel.char_indices() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                name.push('-');
            }
            name.push(c.to_ascii_lowercase());
        } else {
            name.push(c);
        }
    }
    match payload {
        Some(payload) => format!("{name}: {payload}"),
        None => name,
    }
}
