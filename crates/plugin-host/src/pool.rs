//! Connections to an RPC plugin dialed ahead of the calls that use them.
//!
//! wRPC's Unix and TCP transports carry exactly one invocation per connection, and the
//! connect + accept of each call costs more than the call itself. The pool keeps a few
//! connections open and waiting, dialed by a background task, so a call only writes and
//! reads. On the wire nothing changes: each connection still carries one invocation, so
//! unchanged upstream wRPC servers are served as before.
//!
//! A waiting connection can go bad: the plugin died or restarted (a new *generation*: the
//! whole pool is dropped), or it closed the idle connection. Before a call uses one, a
//! non-blocking peek checks that the plugin has not hung up (end of stream, a reset, or bytes
//! nobody asked for); such a connection is dropped and the next one tried, and when none is
//! left the call dials its own.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::{TcpStream, UnixStream};
use tokio::sync::{Notify, watch};

use crate::rpc::Status;

/// How many connections wait at most (per plugin).
pub(crate) const IDLE_CONNECTIONS: usize = 4;
/// How long the dialer waits after a failed dial (a plugin that is not listening).
const DIAL_RETRY: Duration = Duration::from_millis(100);

/// Where connections go.
#[derive(Debug, Clone)]
pub(crate) enum Dialer {
    Unix(PathBuf),
    Tcp(String),
}

/// One connection, carrying one invocation.
#[derive(Debug)]
pub(crate) enum Connection {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Dialer {
    pub(crate) async fn dial(&self) -> std::io::Result<Connection> {
        Ok(match self {
            Dialer::Unix(path) => Connection::Unix(UnixStream::connect(path).await?),
            Dialer::Tcp(addr) => {
                let stream = TcpStream::connect(addr.as_str()).await?;
                // Invocations are small writes each waited on by the peer (as upstream).
                stream.set_nodelay(true)?;
                Connection::Tcp(stream)
            }
        })
    }
}

impl Connection {
    /// Whether the peer may still read an invocation from this connection: it has neither
    /// hung up nor sent anything (a wRPC server speaks only after it has read a call).
    fn is_fresh(&self) -> bool {
        use rustix::net::{RecvFlags, recv};
        let mut byte = [0u8; 1];
        let peek = match self {
            Connection::Unix(s) => recv(s, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT),
            Connection::Tcp(s) => recv(s, &mut byte, RecvFlags::PEEK | RecvFlags::DONTWAIT),
        };
        matches!(peek, Err(e) if e == rustix::io::Errno::AGAIN)
    }
}

struct Waiting {
    connection: Connection,
    generation: u64,
}

/// The waiting connections of one plugin. The dialer task (see [`Pool::spawn_dialer`]) tops
/// it up to [`IDLE_CONNECTIONS`] whenever a call takes one.
pub(crate) struct Pool {
    dialer: Dialer,
    waiting: Mutex<VecDeque<Waiting>>,
    taken: Notify,
}

impl Pool {
    pub(crate) fn new(dialer: Dialer) -> Arc<Pool> {
        Arc::new(Pool {
            dialer,
            waiting: Mutex::new(VecDeque::with_capacity(IDLE_CONNECTIONS)),
            taken: Notify::new(),
        })
    }

    fn waiting(&self) -> std::sync::MutexGuard<'_, VecDeque<Waiting>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A connection to the plugin of `generation`: a waiting one that is still fresh (oldest
    /// first: a plugin that accepts one connection at a time serves them in that order), or
    /// a new one.
    pub(crate) async fn connection(&self, generation: u64) -> std::io::Result<Connection> {
        let found = {
            let mut waiting = self.waiting();
            let mut found = None;
            while let Some(w) = waiting.pop_front() {
                if w.generation == generation && w.connection.is_fresh() {
                    found = Some(w.connection);
                    break;
                }
                tracing::debug!(
                    generation = w.generation,
                    "dropping a waiting plugin connection that went stale"
                );
            }
            found
        };
        self.taken.notify_one();
        match found {
            Some(connection) => Ok(connection),
            None => self.dialer.dial().await,
        }
    }

    /// Keeps the pool topped up while the plugin is ready, and empty on a restart. Runs
    /// until `status`'s sender goes away or the task is aborted (the plugin's drop does).
    pub(crate) fn spawn_dialer(
        self: Arc<Pool>,
        mut status: watch::Receiver<Status>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut generation = None;
            loop {
                let Ok(ready) = status.wait_for(|s| s.ready).await.map(|s| *s) else {
                    return;
                };
                if generation != Some(ready.generation) {
                    // Connections to the previous process are of no use.
                    self.waiting().clear();
                    generation = Some(ready.generation);
                }
                if self.waiting().len() >= IDLE_CONNECTIONS {
                    tokio::select! {
                        () = self.taken.notified() => {}
                        changed = status.changed() => if changed.is_err() { return },
                    }
                    continue;
                }
                match self.dialer.dial().await {
                    Ok(connection) => {
                        let mut waiting = self.waiting();
                        if waiting.len() < IDLE_CONNECTIONS {
                            waiting.push_back(Waiting {
                                connection,
                                generation: ready.generation,
                            });
                        }
                    }
                    Err(e) => {
                        tracing::debug!("cannot dial ahead to the plugin: {e}");
                        tokio::time::sleep(DIAL_RETRY).await;
                    }
                }
            }
        })
    }
}
