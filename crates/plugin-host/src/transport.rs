//! How a plugin is reached: one call is (interface, function, encoded parameters) → encoded
//! results. Dynamic libraries and RPC peers implement the same trait.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

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

pub trait Transport: Send + Sync + 'static {
    /// Calls `func` (its wRPC name) of `instance` with encoded `params`.
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, params: Bytes) -> CallFuture<'a>;

    /// The plugin's current incarnation: it changes when the plugin restarts, which
    /// invalidates every handle it issued before.
    fn generation(&self) -> u64 {
        0
    }
}
