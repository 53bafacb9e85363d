//! End-to-end tests: the real `manifold` binary against real guest components built from
//! source by `manifold-test-programs`. One test binary, so Wasmtime links once.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod cache;
mod config;
mod inspect;
mod keyvalue;
mod keyvalue_redis;
mod providers;
mod redis_server;
mod registry;
mod run;
mod serve;
mod util;
