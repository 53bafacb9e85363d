//! The values of `wasi:blobstore/types`: `outgoing-value` (an object being written, through
//! a `wasi:io` output-stream) and `incoming-value` (a range being read, through an
//! input-stream or, on request, as one list).
//!
//! Where the draft leaves room, this is what we do:
//! - The output-stream writes straight into the backend's [`ObjectWriter`] (a staging file
//!   on the embedded backend), 64 KiB at most per `write` (`check-write`'s permit); nothing
//!   holds the whole object in memory.
//! - The `write` that would take the object past the app's `max-object-size`, or its quota
//!   (the backend's [`BackendError::QuotaExceeded`]), fails the stream, drops the writer
//!   (and what it staged), and makes `finish` return the interface's error saying so; the
//!   object is not stored, and the one it would have replaced stays.
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

/// What a finished write to a `kind` backend leaves: the writer, or the guest's error (logged).
fn written(
    kind: &'static str,
    (writer, result): (Box<dyn ObjectWriter>, BackendResult<()>),
) -> Result<Box<dyn ObjectWriter>, String> {
    result
        .map(|()| writer)
        .map_err(|err| guest_error("outgoing-value write", kind, err))
}

impl Body {
    fn settled(kind: &'static str, done: (Box<dyn ObjectWriter>, BackendResult<()>)) -> Body {
        match written(kind, done) {
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
    /// The backend's kind, for log lines.
    kind: &'static str,
    size: SizeLimit,
}

/// The bytes an object has so far, against the app's `max-object-size`.
struct SizeLimit {
    app: String,
    max: Option<u64>,
    written: u64,
}

impl SizeLimit {
    /// Counts `len` more bytes, unless they take the object past the limit: then the guest's
    /// error (logged).
    fn admit(&mut self, len: usize) -> Result<(), String> {
        let total = self.written.saturating_add(len as u64);
        match self.max {
            Some(max) if total > max => {
                if let Some(also) =
                    manifold_provider::log_throttle::throttled("blobstore-too-large", &self.app)
                {
                    tracing::warn!(app = %self.app, max_object_size = max, also_refused = also, "wasi:blobstore refused an object over max-object-size");
                }
                Err(format!(
                    "the object is larger than the app's max-object-size of {max} bytes; \
                     nothing was stored (write a smaller object, or raise `max-object-size` in \
                     the app's `[limits]`)"
                ))
            }
            _ => {
                self.written = total;
                Ok(())
            }
        }
    }
}

impl BodyStream {
    /// Takes the result of a finished write, without waiting.
    fn settle(&mut self) {
        if let Some(Body::Writing(task)) = &mut self.body
            && task.is_finished()
            && let Poll::Ready(done) = Pin::new(task).poll(&mut Context::from_waker(Waker::noop()))
        {
            self.body = Some(Body::settled(self.kind, done));
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
            self.body = Some(Body::settled(self.kind, done));
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
                if let Err(message) = self.size.admit(bytes.len()) {
                    // Refused before any of it is written; `writer` is dropped here, and with
                    // it what it staged.
                    let err = Self::failed(&message);
                    self.body = Some(Body::Failed(message));
                    return Err(err);
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
        let max_object_size = shared.max_object_size;
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
            kind: backend.kind(),
            size: SizeLimit {
                app,
                max: max_object_size,
                written: 0,
            },
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
            (Some(Body::Writing(task)), _) => guest_try!(written(backend.kind(), task.await)),
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

    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::backend::{BackendError, BoxFuture, ScopedContainer};

    /// How every write of a [`Memory`] writer ends.
    #[derive(Clone, Copy)]
    enum WriteEnd {
        Stored,
        DiskFull,
        OverQuota,
    }

    /// Keeps what is written in memory, and says when it is dropped.
    struct Memory {
        bytes: Arc<Mutex<Vec<u8>>>,
        outcome: WriteEnd,
        dropped: Arc<AtomicBool>,
    }

    impl ObjectWriter for Memory {
        fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, BackendResult<()>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                match self.outcome {
                    WriteEnd::Stored => {}
                    WriteEnd::DiskFull => return Err(BackendError::storage("disk full")),
                    WriteEnd::OverQuota => {
                        return Err(BackendError::QuotaExceeded {
                            quota: 4,
                            used: 3,
                            wanted: chunk.len() as u64,
                        });
                    }
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

    impl Drop for Memory {
        fn drop(&mut self) {
            self.dropped.store(true, Ordering::SeqCst);
        }
    }

    struct Probe {
        stream: BodyStream,
        bytes: Arc<Mutex<Vec<u8>>>,
        home: Home,
        dropped: Arc<AtomicBool>,
    }

    /// The message of the failure a dropped stream left for `finish`.
    fn failure(home: &Home) -> String {
        match &*home.lock().unwrap() {
            Some(Body::Failed(message)) => message.clone(),
            _ => panic!("no failure went home"),
        }
    }

    fn stream_with(outcome: WriteEnd, max: Option<u64>) -> Probe {
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let dropped = Arc::new(AtomicBool::new(false));
        let home = Home::default();
        let writer = Memory {
            bytes: bytes.clone(),
            outcome,
            dropped: dropped.clone(),
        };
        let stream = BodyStream {
            body: Some(Body::Ready(Box::new(writer))),
            home: home.clone(),
            kind: "memory",
            size: SizeLimit {
                app: "app".into(),
                max,
                written: 0,
            },
        };
        Probe {
            stream,
            bytes,
            home,
            dropped,
        }
    }

    fn stream(fail: bool) -> (BodyStream, Arc<Mutex<Vec<u8>>>, Home) {
        let outcome = if fail {
            WriteEnd::DiskFull
        } else {
            WriteEnd::Stored
        };
        let Probe {
            stream,
            bytes,
            home,
            ..
        } = stream_with(outcome, None);
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
            // What failed, not how: the detail is in the host's log.
            Some(Body::Failed(message)) => assert_eq!(
                message,
                "outgoing-value write failed in the memory blob storage (the host's log has the details)"
            ),
            _ => panic!("the failure went home"),
        }
    }

    #[tokio::test]
    async fn the_write_that_passes_max_object_size_is_refused_before_it_is_written() {
        let mut p = stream_with(WriteEnd::Stored, Some(10));
        p.stream.write(Bytes::from_static(b"123456")).unwrap();
        p.stream.ready().await;
        p.stream.write(Bytes::from_static(b"7890")).unwrap();
        p.stream.ready().await;
        // 11 bytes would be one too many: refused while streaming, not at `finish`.
        let refused = p.stream.write(Bytes::from_static(b"!"));
        assert!(
            matches!(&refused, Err(StreamError::LastOperationFailed(e)) if e.to_string().contains("max-object-size of 10 bytes")),
            "{refused:?}"
        );
        assert_eq!(&*p.bytes.lock().unwrap(), b"1234567890");
        assert!(
            p.dropped.load(Ordering::SeqCst),
            "the writer is dropped at once, and with it what it staged"
        );
        assert!(matches!(
            p.stream.check_write(),
            Err(StreamError::LastOperationFailed(_))
        ));
        drop(p.stream);
        let message = failure(&p.home);
        assert!(
            message.starts_with("the object is larger than the app's max-object-size of 10 bytes; nothing was stored"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn an_object_of_exactly_max_object_size_is_stored() {
        let mut p = stream_with(WriteEnd::Stored, Some(4));
        p.stream.write(Bytes::from_static(b"1234")).unwrap();
        p.stream.ready().await;
        p.stream.flush().unwrap();
        drop(p.stream);
        assert!(matches!(*p.home.lock().unwrap(), Some(Body::Ready(_))));
        assert_eq!(&*p.bytes.lock().unwrap(), b"1234");
    }

    #[tokio::test]
    async fn a_full_quota_reaches_finish_as_the_guests_error() {
        let mut p = stream_with(WriteEnd::OverQuota, None);
        p.stream.write(Bytes::from_static(b"xy")).unwrap();
        p.stream.ready().await;
        assert!(matches!(
            p.stream.check_write(),
            Err(StreamError::LastOperationFailed(_))
        ));
        assert!(p.dropped.load(Ordering::SeqCst));
        drop(p.stream);
        let message = failure(&p.home);
        assert!(
            message.starts_with("the app's blob storage quota of 4 bytes is used up"),
            "{message}"
        );
    }
}
