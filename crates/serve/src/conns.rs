//! Client connections: how many the server holds and how long a client may take.
//!
//! hyper applies no timeouts of its own here (its HTTP/1 header timer would also cut every
//! kept-alive connection at the same mark), so each connection task watches its connection:
//!
//! - a connection with no request in flight that has received bytes (or is new) must complete
//!   a request header within `header_read_timeout`, counted from its first byte (a slowloris
//!   client trickling a header is cut there);
//! - a kept-alive connection that has received nothing since its last response is closed after
//!   `idle_timeout`;
//! - a request counts as in flight from the moment hyper hands it over until its response
//!   body has been written out (or dropped), so a streaming response is never cut.
//!
//! At most `max_connections` are held. A new client at the limit makes room by closing the
//! connection that has been idle longest; when every connection is in the middle of a request,
//! the new client is answered `503 Service Unavailable` with `Retry-After` and closed, never
//! left in the kernel's backlog. Running out of file descriptors (`EMFILE`) closes an idle
//! connection too, and accepting backs off for a moment instead of spinning.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use manifold_provider::log_throttle::Throttle;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{Notify, Semaphore};

/// No byte received since the connection last became idle.
const NONE: u64 = u64::MAX;

/// Connections answered 503 at once; beyond this a refused client is just closed.
const REFUSING_AT_ONCE: usize = 64;

/// What a refused client reads.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 51\r\n\
retry-after: 1\r\n\
connection: close\r\n\
\r\n\
the server has too many connections; try again soon\n";

/// The limits the server runs with, the connection cap resolved.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_idle_timeout: Duration,
}

impl Limits {
    /// Fills in the connection cap: as configured, else 10,000 or three quarters of the
    /// open-file limit, whichever is lower (the rest is for the app's own files, sockets and
    /// plugins). Raises the soft open-file limit to the hard one first, as most servers do.
    pub fn resolve(limits: &manifold_config::ConnectionLimits) -> Limits {
        let files = raise_open_file_limit();
        let default = (files.saturating_mul(3) / 4).clamp(16, 10_000) as usize;
        let max_connections = match limits.max_connections {
            Some(n) => {
                if u64::from(n) > files.saturating_sub(64) {
                    tracing::warn!(
                        max_connections = n,
                        open_file_limit = files,
                        "max-connections is close to or above the open-file limit; accepts will \
                         fail with EMFILE before the cap is reached (raise `ulimit -n`)"
                    );
                }
                n as usize
            }
            None => default,
        };
        Limits {
            max_connections,
            header_read_timeout: limits.header_read_timeout,
            idle_timeout: limits.idle_timeout,
            body_idle_timeout: limits.body_idle_timeout,
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft limit in force.
fn raise_open_file_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum
        && limit.current.is_some_and(|current| current < max)
    {
        let raised = rustix::process::Rlimit {
            current: Some(max),
            maximum: Some(max),
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            limit.current = Some(max);
        }
    }
    limit.current.unwrap_or(1 << 20)
}

/// Every open client connection.
pub(crate) struct Connections {
    pub limits: Limits,
    epoch: Instant,
    table: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Woken whenever a connection closes (shutdown waits for the table to empty).
    closed: Notify,
    refusing: Arc<Semaphore>,
    refused_log: Throttle,
    emfile_log: Throttle,
}

impl Connections {
    pub fn new(limits: Limits) -> Connections {
        Connections {
            limits,
            epoch: Instant::now(),
            table: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            closed: Notify::new(),
            refusing: Arc::new(Semaphore::new(REFUSING_AT_ONCE)),
            refused_log: Throttle::new(),
            emfile_log: Throttle::new(),
        }
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The table; a panic elsewhere while it was held leaves it usable (each change is one
    /// insert or remove).
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.table
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether a newly accepted connection may be served: below the cap, or room was made
    /// by closing the longest-idle connection.
    pub fn admit(&self) -> bool {
        if self.len() < self.limits.max_connections {
            return true;
        }
        self.evict_longest_idle()
    }

    /// Asks the connection idle the longest (no request in flight) to close. False when
    /// every connection is busy.
    fn evict_longest_idle(&self) -> bool {
        let table = self.table();
        let victim = table
            .values()
            .filter(|c| {
                c.in_flight.load(Ordering::Acquire) == 0 && !c.evicted.load(Ordering::Relaxed)
            })
            .min_by_key(|c| c.idle_since.load(Ordering::Relaxed));
        match victim {
            Some(conn) => {
                conn.evicted.store(true, Ordering::Relaxed);
                conn.wake.notify_one();
                true
            }
            None => false,
        }
    }

    /// Registers a newly accepted connection.
    pub fn open(self: &Arc<Self>) -> Arc<Conn> {
        let now = self.now();
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            in_flight: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            // A new connection owes a request header from its accept on.
            first_byte: AtomicU64::new(now),
            evicted: AtomicBool::new(false),
            wake: Notify::new(),
        });
        self.table().insert(conn.id, conn.clone());
        conn
    }

    pub fn close(&self, conn: &Conn) {
        self.table().remove(&conn.id);
        self.closed.notify_waiters();
    }

    /// Waits until every connection has closed.
    pub async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            let mut closed = std::pin::pin!(closed);
            closed.as_mut().enable();
            if self.len() == 0 {
                return;
            }
            closed.await;
        }
    }

    /// Answers a client beyond the cap `503` (written at once: the socket's send buffer is
    /// empty), then reads what it sent for a moment so that closing does not reset the
    /// connection before the client has read the answer.
    pub fn refuse(&self, mut stream: TcpStream) {
        if let Some(suppressed) = self.refused_log.ready(self.now()) {
            tracing::warn!(
                max_connections = self.limits.max_connections,
                also_refused = suppressed,
                "every connection is busy with a request; answered a new client 503 (raise \
                 --max-connections, or the instance and plugin limits that keep requests long)"
            );
        }
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                stream.write_all(BUSY).await?;
                stream.shutdown().await?;
                let mut sink = [0u8; 4096];
                let mut read = 0;
                while read < 64 << 10 {
                    match stream.read(&mut sink).await? {
                        0 => break,
                        n => read += n,
                    }
                }
                io::Result::Ok(())
            })
            .await;
        });
    }

    /// An accept failed. Out of descriptors: close an idle connection and back off;
    /// anything else (a client that reset before the accept): go on at once.
    pub async fn accept_failed(&self, error: io::Error) {
        use rustix::io::Errno;
        let exhausted = matches!(
            Errno::from_io_error(&error),
            Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
        );
        if !exhausted {
            tracing::debug!("accept failed: {error}");
            return;
        }
        let evicted = self.evict_longest_idle();
        if let Some(suppressed) = self.emfile_log.ready(self.now()) {
            tracing::warn!(
                connections = self.len(),
                also_failed = suppressed,
                closed_an_idle_one = evicted,
                "cannot accept a connection: {error} (lower --max-connections or raise `ulimit -n`)"
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One client connection's state, shared by its task, its I/O and its requests.
pub(crate) struct Conn {
    id: u64,
    epoch: Instant,
    in_flight: AtomicU32,
    /// When the last request ended (or the connection was accepted), in ms since `epoch`.
    idle_since: AtomicU64,
    /// When the first byte after `idle_since` arrived, or [`NONE`].
    first_byte: AtomicU64,
    evicted: AtomicBool,
    wake: Notify,
}

/// What the watchdog decided.
pub(crate) enum Verdict {
    /// Look again at this instant.
    Keep(tokio::time::Instant),
    /// Close the connection, for this reason (logged at debug level).
    Close(&'static str),
}

impl Conn {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A request has arrived; it is in flight until the returned guard drops.
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard(self.clone())
    }

    /// Resolves when the accept loop asks this connection to make room.
    pub async fn evicted(&self) {
        self.wake.notified().await;
    }

    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Checks the connection against its timeouts.
    pub fn check(&self, limits: &Limits) -> Verdict {
        let now = self.now();
        let later = |ms: u64| {
            tokio::time::Instant::from_std(self.epoch + Duration::from_millis(ms))
                .max(tokio::time::Instant::now() + Duration::from_millis(1))
        };
        if !self.is_idle() {
            let step = limits
                .header_read_timeout
                .min(limits.idle_timeout)
                .max(Duration::from_millis(100));
            return Verdict::Keep(tokio::time::Instant::now() + step);
        }
        let first = self.first_byte.load(Ordering::Acquire);
        if first != NONE {
            let deadline = first.saturating_add(limits.header_read_timeout.as_millis() as u64);
            if now >= deadline {
                return Verdict::Close("no complete request header within the header-read timeout");
            }
            return Verdict::Keep(later(deadline));
        }
        let idle_since = self.idle_since.load(Ordering::Acquire);
        let deadline = idle_since.saturating_add(limits.idle_timeout.as_millis() as u64);
        if now >= deadline {
            return Verdict::Close("kept-alive connection idle past the idle timeout");
        }
        Verdict::Keep(later(deadline))
    }

    fn received(&self) {
        if self.first_byte.load(Ordering::Relaxed) == NONE {
            self.first_byte.store(self.now(), Ordering::Release);
        }
    }
}

/// Keeps a request in flight; dropped when its response has been written out.
pub(crate) struct RequestGuard(Arc<Conn>);

impl RequestGuard {
    /// `body`, keeping the request in flight until hyper has written it out or dropped it.
    pub fn hold<B>(self, body: B) -> Held<B> {
        Held { body, _guard: self }
    }
}

/// A response body with its request's guard.
pub(crate) struct Held<B> {
    body: B,
    _guard: RequestGuard,
}

impl<B: hyper::body::Body + Unpin> hyper::body::Body for Held<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let conn = &self.0;
        if conn.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            conn.first_byte.store(NONE, Ordering::Release);
            conn.idle_since.store(conn.now(), Ordering::Release);
        }
    }
}

/// The client's socket, noting when bytes arrive.
pub(crate) struct TrackedIo {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl TrackedIo {
    pub fn new(stream: TcpStream, conn: Arc<Conn>) -> TrackedIo {
        TrackedIo { stream, conn }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.received();
        }
        polled
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> Limits {
        Limits {
            max_connections: max,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(30),
        }
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room_and_busy_ones_never_do() {
        let conns = Arc::new(Connections::new(limits(2)));
        let busy = conns.open();
        let _request = busy.begin();
        let idle = conns.open();
        assert!(conns.admit(), "room is made by closing the idle connection");
        assert!(idle.evicted.load(Ordering::Relaxed));
        assert!(!busy.evicted.load(Ordering::Relaxed));
        // With only busy connections (the evicted one counts until it closes), nothing is
        // admitted.
        assert!(!conns.admit());
        conns.close(&idle);
        assert!(conns.admit());
    }

    #[test]
    fn a_request_in_flight_is_never_timed_out_and_ending_it_starts_the_idle_clock() {
        let conns = Arc::new(Connections::new(Limits {
            header_read_timeout: Duration::ZERO,
            idle_timeout: Duration::ZERO,
            ..limits(10)
        }));
        let conn = conns.open();
        assert!(
            matches!(conn.check(&conns.limits), Verdict::Close(reason) if reason.contains("header"))
        );
        let request = conn.begin();
        assert!(matches!(conn.check(&conns.limits), Verdict::Keep(_)));
        drop(request);
        assert!(
            matches!(conn.check(&conns.limits), Verdict::Close(reason) if reason.contains("idle"))
        );
        conn.received();
        assert!(
            matches!(conn.check(&conns.limits), Verdict::Close(reason) if reason.contains("header"))
        );
    }
}
