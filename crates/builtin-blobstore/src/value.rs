//! The values of `wasi:blobstore/types`: `outgoing-value` (an object being written, through
//! a `wasi:io` output-stream) and `incoming-value` (a range being read, through an
//! input-stream or, on request, as one list).
//!
//! Where the draft leaves room, this is what we do:
//! - The output-stream writes straight into the backend's [`ObjectWriter`] (a staging file
//!   on the embedded backend), 64 KiB at most per `write` (`check-write`'s permit); nothing
//!   holds the whole object in memory.
//! - `write-data` may come before or after the bytes are written; it names where the object
//!   goes (a second `write-data` on the same value is an error). The object appears at
//!   `finish`, whole and durable; a value dropped without `finish` is discarded (types.wit:
//!   "should treat the value as corrupted"), so nothing partial is ever visible.
//! - `finish` while the body's output-stream is still open is an error (the draft says it
//!   "will trap"; we give the guest the error value instead). `finish` without `write-data`
//!   stores nothing and succeeds.
//! - `incoming-value-consume-sync` reads at most 64 MiB; larger ranges must be read as a
//!   stream (`incoming-value-consume-async`). `size` is the length of the range.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::AsyncReadExt as _;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::pipe::AsyncReadStream;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, OutputStream, Pollable, StreamError, StreamResult,
};
use wasmtime_wasi::runtime::AbortOnDropJoinHandle;

use crate::backend::{BackendResult, ObjectData, ObjectWriter};
use crate::host::{BlobView, OpenContainer, Outcome, guest_error, guest_try, types};

/// The most bytes one `write` may carry (what `check-write` permits).
const WRITE_CHUNK: usize = 64 * 1024;
/// The most bytes `incoming-value-consume-sync` returns.
const MAX_SYNC_READ: u64 = 64 * 1024 * 1024;

/// Where an object's writer is between writes.
enum Body {
    Ready(Box<dyn ObjectWriter>),
    /// A write in flight; the task hands the writer back with the result.
    Writing(AbortOnDropJoinHandle<(Box<dyn ObjectWriter>, BackendResult<()>)>),
    Failed(String),
}

/// What a finished write leaves: the writer, or why it failed (logged).
fn written(
    (writer, result): (Box<dyn ObjectWriter>, BackendResult<()>),
) -> Result<Box<dyn ObjectWriter>, String> {
    match result {
        Ok(()) => Ok(writer),
        Err(err) => {
            tracing::error!(error = %err, "wasi:blobstore write to an object failed");
            Err(err.to_string())
        }
    }
}

impl Body {
    fn settled(done: (Box<dyn ObjectWriter>, BackendResult<()>)) -> Body {
        match written(done) {
            Ok(writer) => Body::Ready(writer),
            Err(message) => Body::Failed(message),
        }
    }
}

/// Where the body's writer returns when its output-stream is dropped.
type Home = Arc<Mutex<Option<Body>>>;

/// The `outgoing-value` resource.
pub struct OutgoingValue {
    home: Home,
    body_taken: bool,
    target: Option<(OpenContainer, String)>,
}

impl OutgoingValue {
    /// `write-data`: where the object goes at `finish`.
    pub(crate) fn set_target(
        &mut self,
        container: OpenContainer,
        name: String,
    ) -> Result<(), String> {
        if let Some((c, n)) = &self.target {
            return Err(format!(
                "write-data was already called for this outgoing-value (object `{n}` of container `{}`)",
                c.scope.name()
            ));
        }
        self.target = Some((container, name));
        Ok(())
    }
}

/// The `incoming-value` resource.
pub struct IncomingValue {
    data: ObjectData,
}

impl IncomingValue {
    pub(crate) fn new(data: ObjectData) -> IncomingValue {
        IncomingValue { data }
    }
}

/// The output-stream of an outgoing value: each permitted write goes to the backend's writer
/// on a task, and the stream is writable again once it is done.
struct BodyStream {
    /// `None` once closed.
    body: Option<Body>,
    home: Home,
}

impl BodyStream {
    /// Takes the result of a finished write, without waiting.
    fn settle(&mut self) {
        if let Some(Body::Writing(task)) = &mut self.body
            && task.is_finished()
            && let Poll::Ready(done) = Pin::new(task).poll(&mut Context::from_waker(Waker::noop()))
        {
            self.body = Some(Body::settled(done));
        }
    }

    fn failed(message: &str) -> StreamError {
        StreamError::LastOperationFailed(wasmtime::format_err!("{message}"))
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for BodyStream {
    async fn ready(&mut self) {
        if let Some(Body::Writing(task)) = &mut self.body {
            let done = task.await;
            self.body = Some(Body::settled(done));
        }
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for BodyStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.settle();
        match self.body.take() {
            Some(Body::Ready(mut writer)) => {
                if bytes.len() > WRITE_CHUNK {
                    self.body = Some(Body::Ready(writer));
                    return Err(StreamError::trap(
                        "write of more bytes than check-write permitted",
                    ));
                }
                if bytes.is_empty() {
                    self.body = Some(Body::Ready(writer));
                    return Ok(());
                }
                self.body = Some(Body::Writing(wasmtime_wasi::runtime::spawn(async move {
                    let result = writer.write(bytes).await;
                    (writer, result)
                })));
                Ok(())
            }
            Some(Body::Failed(message)) => {
                let err = Self::failed(&message);
                self.body = Some(Body::Failed(message));
                Err(err)
            }
            Some(writing @ Body::Writing(_)) => {
                self.body = Some(writing);
                Err(StreamError::trap(
                    "write without a permit: call check-write first",
                ))
            }
            None => Err(StreamError::Closed),
        }
    }

    fn flush(&mut self) -> StreamResult<()> {
        // Every write is handed to the backend as it comes; a flush only reports errors.
        self.settle();
        match &self.body {
            Some(Body::Failed(message)) => Err(Self::failed(message)),
            Some(_) => Ok(()),
            None => Err(StreamError::Closed),
        }
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.settle();
        match &self.body {
            Some(Body::Ready(_)) => Ok(WRITE_CHUNK),
            Some(Body::Writing(_)) => Ok(0),
            Some(Body::Failed(message)) => Err(Self::failed(message)),
            None => Err(StreamError::Closed),
        }
    }

    async fn cancel(&mut self) {
        // Dropped by the guest: let the last write finish, so `finish` sees every byte.
        self.ready().await;
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            *self.home.lock().unwrap_or_else(PoisonError::into_inner) = Some(body);
        }
    }
}

impl types::Host for BlobView<'_> {}

impl types::HostOutgoingValue for BlobView<'_> {
    async fn new_outgoing_value(&mut self) -> wasmtime::Result<Resource<OutgoingValue>> {
        Ok(self.table.push(OutgoingValue {
            home: Arc::default(),
            body_taken: false,
            target: None,
        })?)
    }

    async fn outgoing_value_write_body(
        &mut self,
        value: Resource<OutgoingValue>,
    ) -> wasmtime::Result<Result<Resource<DynOutputStream>, ()>> {
        if self.table.get(&value)?.body_taken {
            tracing::debug!("wasi:blobstore outgoing-value-write-body refused: called twice");
            return Ok(Err(()));
        }
        let shared = self.shared()?;
        let Some(backend) = shared.backend.clone() else {
            if let Some(also) = manifold_provider::log_throttle::throttled(
                "blobstore-write-body-denied",
                &shared.app,
            ) {
                tracing::info!(app = %shared.app, also_refused = also, "wasi:blobstore outgoing-value-write-body refused: no container is granted to this component");
            }
            return Ok(Err(()));
        };
        let app = shared.app.clone();
        let writer = match backend.start_write(&app).await {
            Ok(writer) => writer,
            Err(err) => {
                guest_error("outgoing-value-write-body", backend.kind(), err);
                return Ok(Err(()));
            }
        };
        let value = self.table.get_mut(&value)?;
        value.body_taken = true;
        let stream: DynOutputStream = Box::new(BodyStream {
            body: Some(Body::Ready(writer)),
            home: value.home.clone(),
        });
        Ok(self.table.push(stream).map_err(|err| {
            tracing::warn!(%err, "wasi:blobstore refused: the resource table is full");
        }))
    }

    async fn finish(&mut self, value: Resource<OutgoingValue>) -> Outcome<()> {
        let OutgoingValue {
            home,
            body_taken,
            target,
        } = self.table.delete(value)?;
        let Some((container, name)) = target else {
            tracing::debug!(
                "wasi:blobstore finish of an outgoing-value without write-data: nothing stored"
            );
            return Ok(Ok(()));
        };
        let backend = &container.backend;
        let body = home.lock().unwrap_or_else(PoisonError::into_inner).take();
        let writer = match (body, body_taken) {
            (None, false) => {
                // No body was ever asked for: an empty object.
                let writer = backend.start_write(container.scope.app()).await;
                guest_try!(writer.map_err(|e| guest_error("finish", backend.kind(), e)))
            }
            (None, true) => {
                return Ok(Err(
                    "the output-stream of this outgoing-value is still open; drop it before finish"
                        .into(),
                ));
            }
            (Some(Body::Ready(writer)), _) => writer,
            (Some(Body::Writing(task)), _) => guest_try!(written(task.await)),
            (Some(Body::Failed(message)), _) => return Ok(Err(message)),
        };
        let result = writer.commit(&container.scope, &name).await;
        Ok(result.map_err(|e| guest_error("finish", backend.kind(), e)))
    }

    async fn drop(&mut self, value: Resource<OutgoingValue>) -> wasmtime::Result<()> {
        // Unfinished: its writer (if any) is dropped, and with it what it had staged.
        self.table.delete(value)?;
        Ok(())
    }
}

impl types::HostIncomingValue for BlobView<'_> {
    async fn incoming_value_consume_sync(
        &mut self,
        value: Resource<IncomingValue>,
    ) -> Outcome<Vec<u8>> {
        let IncomingValue { mut data } = self.table.delete(value)?;
        if data.len > MAX_SYNC_READ {
            return Ok(Err(format!(
                "the value is {} bytes; incoming-value-consume-sync reads at most {MAX_SYNC_READ}: \
                 read it as a stream with incoming-value-consume-async",
                data.len
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(data.len).unwrap_or(0));
        if let Err(err) = data.reader.read_to_end(&mut bytes).await {
            tracing::error!(%err, "wasi:blobstore reading an object failed");
            return Ok(Err(format!("reading the object failed: {err}")));
        }
        Ok(Ok(bytes))
    }

    async fn incoming_value_consume_async(
        &mut self,
        value: Resource<IncomingValue>,
    ) -> Outcome<Resource<DynInputStream>> {
        let IncomingValue { data } = self.table.delete(value)?;
        let stream: DynInputStream = Box::new(AsyncReadStream::new(data.reader));
        Ok(self
            .table
            .push(stream)
            .map_err(|err| format!("cannot make a stream: {err}")))
    }

    async fn size(&mut self, value: Resource<IncomingValue>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&value)?.data.len)
    }

    async fn drop(&mut self, value: Resource<IncomingValue>) -> wasmtime::Result<()> {
        self.table.delete(value)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

    use super::*;
    use crate::backend::{BackendError, BoxFuture, ScopedContainer};

    /// Keeps what is written in memory; fails every write once `fail` is set.
    struct Memory {
        bytes: Arc<Mutex<Vec<u8>>>,
        fail: bool,
    }

    impl ObjectWriter for Memory {
        fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, BackendResult<()>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                if self.fail {
                    return Err(BackendError::storage("disk full"));
                }
                self.bytes.lock().unwrap().extend_from_slice(&chunk);
                Ok(())
            })
        }

        fn commit<'a>(
            self: Box<Self>,
            _: &'a ScopedContainer,
            _: &'a str,
        ) -> BoxFuture<'a, BackendResult<()>> {
            Box::pin(async { Ok(()) })
        }
    }

    fn stream(fail: bool) -> (BodyStream, Arc<Mutex<Vec<u8>>>, Home) {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let home = Home::default();
        let writer = Memory {
            bytes: bytes.clone(),
            fail,
        };
        let stream = BodyStream {
            body: Some(Body::Ready(Box::new(writer))),
            home: home.clone(),
        };
        (stream, bytes, home)
    }

    #[tokio::test]
    async fn writes_wait_for_a_permit_and_every_byte_reaches_the_writer() {
        let (mut s, bytes, home) = stream(false);
        assert_eq!(s.check_write().unwrap(), WRITE_CHUNK);
        s.write(Bytes::from_static(b"hello ")).unwrap();
        // On this single-threaded runtime the write has not run yet: no permit, and a second
        // write before the first is done is a guest error (a trap), not a loss.
        assert_eq!(s.check_write().unwrap(), 0);
        assert!(matches!(
            s.write(Bytes::from_static(b"x")),
            Err(StreamError::Trap(_))
        ));
        s.ready().await;
        assert_eq!(s.check_write().unwrap(), WRITE_CHUNK);
        s.write(Bytes::from_static(b"world")).unwrap();
        s.flush().unwrap();
        assert!(matches!(
            s.write(Bytes::from(vec![0; WRITE_CHUNK + 1])),
            Err(StreamError::Trap(_))
        ));
        // Dropped as the guest drops it: the last write finishes, the writer goes home.
        s.cancel().await;
        drop(s);
        assert_eq!(&*bytes.lock().unwrap(), b"hello world");
        assert!(matches!(*home.lock().unwrap(), Some(Body::Ready(_))));
    }

    #[tokio::test]
    async fn a_failed_write_is_reported_and_stays_failed() {
        let (mut s, _, home) = stream(true);
        s.write(Bytes::from_static(b"x")).unwrap();
        s.ready().await;
        for _ in 0..2 {
            assert!(matches!(
                s.check_write(),
                Err(StreamError::LastOperationFailed(_))
            ));
        }
        assert!(matches!(
            s.write(Bytes::from_static(b"y")),
            Err(StreamError::LastOperationFailed(_))
        ));
        drop(s);
        match home.lock().unwrap().take() {
            Some(Body::Failed(message)) => assert!(message.contains("disk full"), "{message}"),
            _ => panic!("the failure went home"),
        }
    }
}
