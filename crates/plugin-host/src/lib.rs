//! The host side of plugins: providers whose interfaces arrive at run time.
//!
//! - [`PluginProvider`] links a WIT interface function by function — with a typed trampoline
//!   when the signature is made of scalars, strings and byte lists (`typed.rs`), otherwise
//!   with dynamic values (`link.rs`) — encodes the arguments in the plugin wire encoding
//!   ([`manifold_plugin_api::wire`]) and hands them to a [`Transport`], synchronously and by
//!   index when it is [`InProcess`];
//! - [`dylib`]: a dynamic library loaded in-process (the C ABI of `manifold-plugin-api`);
//! - [`rpc`]: a program spoken to over wRPC on a Unix socket or TCP, started, watched and
//!   restarted by the host, or already running at an address.
//!
//! All of Manifold's `unsafe` for plugins is in this crate (`dylib.rs`, and setting the
//! rlimits of a started plugin in `rlimits.rs`).

mod codec;
mod concurrent;
pub mod dylib;
mod handles;
mod link;
pub mod nats;
mod plugin_log;
mod pool;
mod provider;
mod rlimits;
pub mod rpc;
mod rpc_streams;
mod transport;
mod typed;
mod unix_socket;

pub use provider::{PluginProvider, interfaces_of};
pub use transport::{CallError, CallFuture, Failure, InProcess, ReplyBuf, Transport};

/// Reads a WIT file or directory.
pub fn load_wit(path: &std::path::Path) -> anyhow::Result<wit_parser::Resolve> {
    let mut resolve = wit_parser::Resolve::default();
    resolve
        .push_path(path)
        .map_err(|e| anyhow::anyhow!("cannot read WIT {}: {e:#}", path.display()))?;
    Ok(resolve)
}
