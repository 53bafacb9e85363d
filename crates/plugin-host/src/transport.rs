//! How a plugin is reached: one call is (interface, function, encoded parameters) → encoded
//! results. Dynamic libraries and RPC peers implement the same trait; an in-process plugin
//! (a dynamic library) also offers [`InProcess`], synchronous calls by index into a buffer the
//! host reuses, with no future, no boxing and no allocation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Why a plugin call failed. The guest's call traps with this message; the host goes on.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin `{plugin}` failed {func}: {message}")]
    Plugin {
        plugin: String,
        func: String,
        message: String,
    },
    #[error("plugin `{plugin}` panicked in {func}: {message}")]
    Panic {
        plugin: String,
        func: String,
        message: String,
    },
    #[error("plugin `{plugin}` did not answer {func} within {timeout:?}")]
    Timeout {
        plugin: String,
        func: String,
        timeout: std::time::Duration,
    },
    #[error("plugin `{plugin}` is unreachable for {func}: {message}")]
    Unreachable {
        plugin: String,
        func: String,
        message: String,
    },
}

pub type CallFuture<'a> = Pin<Box<dyn Future<Output = Result<Bytes, CallError>> + Send + 'a>>;

/// Each stream parameter's index and the receiver of its bytes.
pub type ParamStreams = Vec<(u32, mpsc::Receiver<Bytes>)>;

/// A call of a function with `stream<u8>` parameters or results: wRPC's async values, whose
/// bytes travel on paths of their own (`[i]` for parameter or result `i`) next to the
/// parameters and results on path `[]`.
pub struct StreamingCall<'a> {
    pub instance: &'a str,
    /// The wRPC name.
    pub func: &'a str,
    /// The encoded parameters, each stream as "pending" (`0x00`).
    pub params: Bytes,
    /// Each stream parameter's index and its bytes; the stream ends when the sender is
    /// dropped (the guest closed it).
    pub outgoing: ParamStreams,
    /// The indices of the results that are streams.
    pub incoming: Vec<u32>,
    /// Whether the bytes on path `[]` so far are all of the results.
    pub complete: &'a (dyn Fn(&[u8]) -> bool + Send + Sync),
}

/// What a [`StreamingCall`] answered: the results on path `[]`, and a receiver for each
/// result stream the plugin sends on a path of its own (one sent "ready", inline in `root`,
/// has none). A receiver ends with the stream, or with an `Err` if the plugin broke it off.
pub struct StreamingAnswer {
    pub root: Bytes,
    pub streams: Vec<(u32, mpsc::Receiver<std::io::Result<Bytes>>)>,
}

pub type StreamingFuture<'a> =
    Pin<Box<dyn Future<Output = Result<StreamingAnswer, CallError>> + Send + 'a>>;

pub trait Transport: Send + Sync + 'static {
    /// Calls `func` (its wRPC name) of `instance` with encoded `params`.
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, params: Bytes) -> CallFuture<'a>;

    /// The plugin's current incarnation: it changes when the plugin restarts, which
    /// invalidates every handle it issued before.
    fn generation(&self) -> u64 {
        0
    }

    /// Why a call begun while the plugin was at `generation` got no answer, when the
    /// transport can tell (the plugin's process exited, with its status). Asked only after
    /// an empty answer to a function with results; may wait a moment for the supervisor to
    /// notice an exit that closed the connection a little before it was reaped.
    fn why_unanswered(
        &self,
        generation: u64,
    ) -> Pin<Box<dyn Future<Output = Option<String>> + Send + '_>> {
        let _ = generation;
        Box::pin(std::future::ready(None))
    }

    /// Whether [`Transport::call_streaming`] is served: functions with `stream<u8>`
    /// parameters or results are refused at load otherwise.
    fn streams(&self) -> bool {
        false
    }

    /// Calls a function with `stream<u8>` parameters or results.
    fn call_streaming<'a>(&'a self, call: StreamingCall<'a>) -> StreamingFuture<'a> {
        Box::pin(async move {
            Err(CallError::Unreachable {
                plugin: String::new(),
                func: format!("{}#{}", call.instance, call.func),
                message: "this transport carries no streams".into(),
            })
        })
    }

    /// The same plugin as an [`InProcess`] transport, if it is one: the provider then calls
    /// it synchronously by index.
    fn in_process(self: Arc<Self>) -> Option<Arc<dyn InProcess>> {
        None
    }
}

/// A plugin called on the caller's thread that answers before returning (a dynamic library).
pub trait InProcess: Send + Sync + 'static {
    /// The plugin's index for `func` (wRPC name) of `instance`, or `None` if it has no such
    /// function. Asked once per function when the provider is built.
    fn lookup(&self, instance: &str, func: &str) -> Option<u64>;

    /// Calls the function at `index` with encoded `params`; on success `reply` holds the
    /// encoded results. The caller names the function in errors ([`Failure::into_call_error`]).
    fn call_index(&self, index: u64, params: &[u8], reply: &mut ReplyBuf) -> Result<(), Failure>;
}

/// How an in-process call failed, before the caller names the plugin and function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The plugin answered with an error message.
    Error(String),
    /// The plugin panicked (a Rust plugin; the SDK caught it).
    Panic(String),
}

impl Failure {
    /// `func` is `instance#name`, as in every other call error.
    pub fn into_call_error(self, plugin: &str, func: &str) -> CallError {
        match self {
            Failure::Error(message) => CallError::Plugin {
                plugin: plugin.to_owned(),
                func: func.to_owned(),
                message,
            },
            Failure::Panic(message) => CallError::Panic {
                plugin: plugin.to_owned(),
                func: func.to_owned(),
                message,
            },
        }
    }
}

/// The host's reusable buffer for the answer of an in-process call, lent to the plugin to
/// write into. Its bytes are always initialised (zeroed when it grows), so whatever length
/// the plugin reports, reading them is defined behaviour.
#[derive(Debug, Default)]
pub struct ReplyBuf {
    room: Vec<u8>,
    len: usize,
}

impl ReplyBuf {
    /// What a fresh buffer offers: enough for any scalar answer and short strings.
    pub const MIN_ROOM: usize = 1024;
    /// Above this, a buffer is not kept for the next call (one big answer must not pin its
    /// memory to a thread for good).
    pub const MAX_KEPT: usize = 1 << 20;

    /// The answer.
    pub fn as_bytes(&self) -> &[u8] {
        &self.room[..self.len]
    }

    /// Empties the buffer and returns the room to lend to the plugin (at least
    /// [`Self::MIN_ROOM`] bytes).
    pub fn lend(&mut self) -> &mut [u8] {
        self.len = 0;
        if self.room.len() > Self::MAX_KEPT {
            self.room = Vec::new();
        }
        if self.room.len() < Self::MIN_ROOM {
            self.room.resize(Self::MIN_ROOM, 0);
        }
        &mut self.room
    }

    /// The plugin wrote `len` bytes in place; `false` if that is more than it was lent.
    pub fn set_len(&mut self, len: usize) -> bool {
        if len > self.room.len() {
            return false;
        }
        self.len = len;
        true
    }

    /// The answer is `bytes` (the plugin's own buffer); the room grows to hold it, so the next
    /// answer of that size fits in place.
    pub fn copy_from(&mut self, bytes: &[u8]) {
        if bytes.len() > self.room.len() {
            self.room.resize(bytes.len().next_power_of_two(), 0);
        }
        self.room[..bytes.len()].copy_from_slice(bytes);
        self.len = bytes.len();
    }

    /// The answer as text, for error messages.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_buf_lends_room_and_grows() {
        let mut reply = ReplyBuf::default();
        assert!(reply.lend().len() >= ReplyBuf::MIN_ROOM);
        reply.lend()[..3].copy_from_slice(b"abc");
        assert!(reply.set_len(3));
        assert_eq!(reply.as_bytes(), b"abc");
        assert!(!reply.set_len(ReplyBuf::MIN_ROOM + 1));
        let big = vec![7; 5000];
        reply.copy_from(&big);
        assert_eq!(reply.as_bytes(), &big[..]);
        assert!(
            reply.lend().len() >= 5000,
            "kept the room for the next answer"
        );
        assert!(reply.as_bytes().is_empty());
        reply.copy_from(&vec![1; ReplyBuf::MAX_KEPT + 1]);
        assert_eq!(
            reply.lend().len(),
            ReplyBuf::MIN_ROOM,
            "a huge buffer is not kept"
        );
    }
}
