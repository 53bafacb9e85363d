//! The async part of the plugin conformance suite: the guest `plugin-conformance-async` (a
//! WASI 0.3 command) calls `manifold:conformance-async` — `async func`s, several in flight at
//! once, and `stream<u8>` both ways — against every provider kind that claims it: the
//! built-in reference, an ordinary `wit-bindgen-wrpc` server (streams as wRPC streams), a
//! Wasm-component plugin (composed), and, for the async functions alone, a dylib (served
//! synchronously). That a dylib or a NATS plugin is refused streams at load is checked in
//! `plugin-host`'s unit tests.

use std::path::Path;
use std::process::Output;

use manifold_test_plugins as plugins;
use manifold_test_programs as programs;

use crate::util::{manifold, run_in, scratch_with, stderr, stdout};

/// The package (both interfaces), for the rpc plugin.
const WIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/test-programs/wit/conformance-async"
);
const CALLS: &str = "manifold:conformance-async/calls";
const STREAMS: &str = "manifold:conformance-async/streams";

/// What the guest prints for `calls` and `streams`, one `ok CHECK` line each, in order.
const CALL_CHECKS: &[&str] = &["later-inc", "later-inc wraps", "later-inc x8"];
const STREAM_CHECKS: &[&str] = &[
    "produce 0",
    "measure 0",
    "bump 0",
    "produce 5",
    "measure 5",
    "bump 5",
    "produce 1048576",
    "measure 1048576",
    "bump 1048576",
    "bump in lock step",
];

/// A manifest that runs the guest with `args`, followed by `extra` (plugins, choices).
fn manifest(args: &[&str], extra: &str) -> String {
    format!(
        "name = \"conformance-async\"\n\n[component.app]\nsource = {:?}\nargs = {args:?}\n\n{extra}",
        programs::PLUGIN_CONFORMANCE_ASYNC
    )
}

/// Runs the guest in `dir` and asserts it passed with exactly `checks`; its stdout.
fn assert_passes(dir: &Path, checks: &[&str], provider: &str) -> String {
    let output = run_in(dir, &[]);
    let out = stdout(&output);
    let context = || {
        format!(
            "{provider}\n--- stdout\n{out}--- stderr\n{}",
            stderr(&output)
        )
    };
    assert_eq!(output.status.code(), Some(0), "{}", context());
    let ok: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    assert_eq!(ok, checks, "{}", context());
    assert!(out.lines().any(|l| l == "pass"), "{}", context());
    out
}

/// How many of `n` concurrent `gather` calls the provider had in progress at once.
fn gathered(output: &Output) -> u32 {
    let out = stdout(output);
    out.lines()
        .find_map(|l| l.strip_prefix("gathered "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `gathered` line\n{out}\n{}", stderr(output)))
}

fn all_checks() -> Vec<&'static str> {
    CALL_CHECKS.iter().chain(STREAM_CHECKS).copied().collect()
}

/// `[providers]` entries choosing plugin `name` of `kind` for `interfaces`.
fn choose(kind: &str, name: &str, interfaces: &[&str]) -> String {
    interfaces
        .iter()
        .map(|i| format!("[providers.\"{i}\"]\nkind = \"{kind}\"\nname = \"{name}\"\n"))
        .collect()
}

#[test]
fn the_builtin_reference_passes_and_serves_calls_concurrently() {
    let dir = scratch_with(
        "manifold.toml",
        &manifest(&["calls", "streams", "gather", "4"], ""),
    );
    assert_passes(dir.path(), &all_checks(), "builtin `conformance`");
    assert_eq!(gathered(&run_in(dir.path(), &[])), 4);
}

#[test]
fn a_wrpc_server_serves_async_functions_and_byte_streams() {
    let extra = format!(
        "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\n\n{}",
        plugins::RUST_RPC,
        choose("rpc", "rust", &[CALLS, STREAMS]),
    );
    let dir = scratch_with("manifold.toml", &manifest(&["calls", "streams"], &extra));
    assert_passes(dir.path(), &all_checks(), "Rust wRPC plugin");
    // Several calls of one guest in flight at once, each on its own connection.
    let dir = scratch_with("manifold.toml", &manifest(&["gather", "4"], &extra));
    assert_eq!(gathered(&run_in(dir.path(), &[])), 4);
}

#[test]
fn a_wrpc_server_over_tcp_streams_too() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!(
        "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\naddress = \"tcp:127.0.0.1:{port}\"\n\n{}",
        plugins::RUST_RPC,
        choose("rpc", "rust", &[CALLS, STREAMS]),
    );
    let dir = scratch_with("manifold.toml", &manifest(&["streams"], &extra));
    assert_passes(dir.path(), STREAM_CHECKS, "Rust wRPC plugin (tcp)");
}

#[test]
fn a_wasm_plugin_serves_async_functions_and_byte_streams_by_composition() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        programs::PLUGIN_CONFORMANCE_ASYNC_PROVIDER,
        dir.path().join("plugin.wasm"),
    )
    .unwrap();
    let extra = format!(
        "[plugins.async]\nkind = \"wasm\"\npath = \"plugin.wasm\"\n\n{}",
        choose("wasm", "async", &[CALLS, STREAMS]),
    );
    std::fs::write(
        dir.path().join("manifold.toml"),
        manifest(&["calls", "streams", "gather", "4"], &extra),
    )
    .unwrap();
    assert_passes(dir.path(), &all_checks(), "wasm plugin");
    assert_eq!(gathered(&run_in(dir.path(), &[])), 4);
}

#[test]
fn a_dylib_on_generated_bindings_serves_async_functions_synchronously() {
    let extra = format!(
        "[plugins.rust]\nkind = \"dylib\"\npath = {:?}\n\n{}",
        plugins::RUST_DYLIB_ASYNC,
        choose("dylib", "rust", &[CALLS]),
    );
    let dir = scratch_with(
        "manifold.toml",
        &manifest(&["calls", "gather", "3"], &extra),
    );
    let output = run_in(dir.path(), &[]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}{}", stderr(&output));
    let ok: Vec<&str> = out.lines().filter_map(|l| l.strip_prefix("ok ")).collect();
    assert_eq!(ok, CALL_CHECKS, "{out}");
    // One call at a time: each gather sees itself alone.
    assert_eq!(gathered(&output), 1, "{out}");
}

#[test]
fn the_async_interfaces_are_listed() {
    let out = manifold().args(["providers", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for interface in [CALLS, STREAMS] {
        let wanted = format!("{interface}@0.1.0");
        assert!(
            rows.as_array()
                .unwrap()
                .iter()
                .any(|r| r["interface"] == wanted.as_str() && r["provider"] == "conformance"),
            "{wanted} not listed: {rows}"
        );
    }
}
