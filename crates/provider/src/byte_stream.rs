//! The host's ends of a component-model `stream<u8>`, as channels of [`Bytes`]: a
//! [`ByteSink`] takes what a guest writes into a stream the host reads (a `stream<u8>`
//! parameter of a host function), a [`ByteSource`] gives a guest what the host sends into a
//! stream it returns. Providers that move bytes elsewhere (a plugin over wRPC, a task of their
//! own) use these rather than each implementing Wasmtime's producer and consumer traits.
//!
//! Both are bounded: the sink waits for room in its channel before it takes the guest's
//! bytes (back-pressure reaches the guest's write), and the source hands each chunk to
//! Wasmtime only when the guest reads.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::sync::mpsc;
use wasmtime::StoreContextMut;
use wasmtime::component::{Destination, Source, StreamConsumer, StreamProducer, StreamResult};

/// How many chunks a channel between a guest's stream and its host side holds.
pub const CHANNEL_CHUNKS: usize = 4;

type Reserve = Pin<
    Box<dyn Future<Output = Result<mpsc::OwnedPermit<Bytes>, mpsc::error::SendError<()>>> + Send>,
>;

/// Reads a guest's `stream<u8>` into a channel, one chunk per guest write (as large as the
/// guest wrote it). The channel's end is the stream's end: when the guest drops its writer,
/// the sink is dropped and the receiver sees `None`.
pub struct ByteSink {
    tx: mpsc::Sender<Bytes>,
    /// Room being reserved in the channel, before the guest's bytes are taken.
    reserving: Option<Reserve>,
    permit: Option<mpsc::OwnedPermit<Bytes>>,
}

impl ByteSink {
    pub fn new(tx: mpsc::Sender<Bytes>) -> ByteSink {
        ByteSink {
            tx,
            reserving: None,
            permit: None,
        }
    }

    /// Room for one chunk; `Err` when the receiver is gone.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        if self.permit.is_some() {
            return Poll::Ready(Ok(()));
        }
        let reserving = self
            .reserving
            .get_or_insert_with(|| Box::pin(self.tx.clone().reserve_owned()));
        match reserving.as_mut().poll(cx) {
            Poll::Ready(Ok(permit)) => {
                self.reserving = None;
                self.permit = Some(permit);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_)) => {
                self.reserving = None;
                Poll::Ready(Err(()))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<D> StreamConsumer<D> for ByteSink {
    type Item = u8;

    fn poll_consume(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        store: StoreContextMut<D>,
        source: Source<'_, u8>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        match self.poll_room(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(())) => return Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => return Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => return Poll::Pending,
        }
        let mut source = source.as_direct(store);
        let bytes = source.remaining();
        if bytes.is_empty() {
            // A zero-length write asks whether a write would be taken: it would.
            return Poll::Ready(Ok(StreamResult::Completed));
        }
        let chunk = Bytes::copy_from_slice(bytes);
        let n = chunk.len();
        source.mark_read(n);
        if let Some(permit) = self.permit.take() {
            permit.send(chunk);
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}

/// Gives a guest, as a `stream<u8>` it reads, the chunks sent into a channel. The stream
/// ends when every sender is dropped, or at the first `Err` (a `stream<u8>` carries no error:
/// the cause is logged with `what`, and the guest sees the stream end).
pub struct ByteSource {
    rx: mpsc::Receiver<std::io::Result<Bytes>>,
    /// A chunk received by a readiness check, for the next read.
    ready: Option<Bytes>,
    what: String,
}

impl ByteSource {
    /// `what` names the stream in the log, e.g. "plugin `p` answering x#y".
    pub fn new(rx: mpsc::Receiver<std::io::Result<Bytes>>, what: String) -> ByteSource {
        ByteSource {
            rx,
            ready: None,
            what,
        }
    }

    /// A stream of exactly `bytes`, then its end.
    pub fn of(bytes: Bytes) -> ByteSource {
        let (tx, rx) = mpsc::channel(1);
        if !bytes.is_empty() {
            let _ = tx.try_send(Ok(bytes));
        }
        ByteSource::new(rx, String::new())
    }

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(chunk) = self.ready.take() {
            return Poll::Ready(Some(chunk));
        }
        loop {
            return match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(chunk)),
                Poll::Ready(Some(Err(e))) => {
                    tracing::warn!("{}: the stream broke off: {e}", self.what);
                    self.rx.close();
                    Poll::Ready(None)
                }
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl<D> StreamProducer<D> for ByteSource {
    type Item = u8;
    type Buffer = Bytes;

    fn poll_produce<'a>(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut store: StoreContextMut<'a, D>,
        mut destination: Destination<'a, u8, Bytes>,
        finish: bool,
    ) -> Poll<wasmtime::Result<StreamResult>> {
        let chunk = match self.poll_chunk(cx) {
            Poll::Ready(Some(chunk)) => chunk,
            Poll::Ready(None) => return Poll::Ready(Ok(StreamResult::Dropped)),
            Poll::Pending if finish => return Poll::Ready(Ok(StreamResult::Cancelled)),
            Poll::Pending => return Poll::Pending,
        };
        if destination.remaining(&mut store) == Some(0) {
            // A readiness check: the chunk waits for the read that follows.
            self.ready = Some(chunk);
        } else {
            // Wasmtime copies it into the reader's buffer, keeping what does not fit for the
            // next reads.
            destination.set_buffer(chunk);
        }
        Poll::Ready(Ok(StreamResult::Completed))
    }
}
