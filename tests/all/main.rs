//! End-to-end tests: the real `manifold` binary against real guest components built from
//! source by `manifold-test-programs`. One test binary, so Wasmtime links once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod blobstore;
mod blobstore_limits;
mod blobstore_nats;
mod cache;
mod config;
mod config_keyvalue;
mod inspect;
mod keyvalue;
mod keyvalue_nats;
mod keyvalue_redis;
mod nats_server;
mod plugin_new;
mod plugins;
mod plugins_async;
mod plugins_dylib;
mod plugins_nats;
mod plugins_rpc;
mod plugins_rust;
mod providers;
mod redis_server;
mod registry;
mod run;
mod run_p3;
mod serve;
mod serve_limits;
mod serve_p3;
mod server_process;
mod sockets;
mod util;
