//! The conformance guest against the Rust example plugins: a dynamic library written with
//! `manifold-plugin-sdk`, and an ordinary `wit-bindgen-wrpc` server over a Unix socket and
//! over TCP. Same guest, same checks as every other kind (`plugins.rs`).

use manifold_test_plugins as plugins;

use crate::plugins::{assert_conformance, conformance_manifest, run_conformance};
use crate::util::{manifold, scratch_with, stderr, stdout};

const WIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/test-programs/wit/conformance.wit"
);

/// The dylib is chosen explicitly, so the built-in reference provider cannot stand in.
fn dylib_passes_conformance(library: &str, provider: &str) {
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"dylib\"\npath = {library:?}\n\n\
             [providers.\"manifold:conformance/types\"]\nkind = \"dylib\"\nname = \"rust\"\n"
        )),
    );
    assert_conformance(&run_conformance(dir.path()), provider);
}

#[test]
fn rust_dylib_plugin_passes_conformance() {
    dylib_passes_conformance(plugins::RUST_DYLIB, "Rust dylib plugin");
}

#[test]
fn rust_dylib_plugin_with_generated_bindings_passes_conformance() {
    dylib_passes_conformance(
        plugins::RUST_DYLIB_TYPED,
        "Rust dylib plugin (generated bindings)",
    );
}

#[test]
fn rust_wrpc_server_passes_conformance_over_a_unix_socket() {
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\n",
            plugins::RUST_RPC
        )),
    );
    assert_conformance(
        &run_conformance(dir.path()),
        "Rust wRPC plugin (unix socket)",
    );
}

#[test]
fn rust_wrpc_server_passes_conformance_over_tcp() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\naddress = \"tcp:127.0.0.1:{port}\"\n",
            plugins::RUST_RPC
        )),
    );
    assert_conformance(&run_conformance(dir.path()), "Rust wRPC plugin (tcp)");
}

#[test]
fn rust_wrpc_server_already_running_passes_conformance() {
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir.path().join("plugin.sock");
    let mut server = std::process::Command::new(plugins::RUST_RPC)
        .env(
            "MANIFOLD_PLUGIN_ADDRESS",
            format!("unix:{}", socket.display()),
        )
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !socket.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\naddress = \"unix:{}\"\n",
            socket.display()
        )),
    );
    let out = run_conformance(dir.path());
    let _ = server.kill();
    let _ = server.wait();
    assert_conformance(&out, "Rust wRPC plugin (already running)");
}

/// A panic in a Rust dylib plugin fails that call (the guest traps with the panic's
/// message) and nothing else: the host reports it and exits as for any guest failure.
#[test]
fn a_panicking_rust_dylib_plugin_fails_only_the_call() {
    panicking_plugin_fails_only_the_call(plugins::RUST_DYLIB);
}

#[test]
fn a_panicking_rust_dylib_plugin_with_generated_bindings_fails_only_the_call() {
    panicking_plugin_fails_only_the_call(plugins::RUST_DYLIB_TYPED);
}

fn panicking_plugin_fails_only_the_call(library: &str) {
    let plugin = manifold_plugin_host::dylib::DylibPlugin::load("rust", library.as_ref()).unwrap();
    let instance = "manifold:conformance/types@0.1.0";
    let mut params = Vec::new();
    manifold_plugin_api::wire::put::bytes(&mut params, b"panic");
    let err = plugin.call_sync(instance, "shout", &params).unwrap_err();
    assert!(
        matches!(err, manifold_plugin_host::CallError::Panic { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("asked to panic"), "{err}");
    // The plugin still answers.
    let mut params = Vec::new();
    manifold_plugin_api::wire::put::bytes(&mut params, b"hi");
    let reply = plugin.call_sync(instance, "shout", &params).unwrap();
    assert_eq!(&reply[..], b"\x02HI");
}

/// The SDK's glue: calls by index, answers written into the host's buffer when they fit and
/// handed over in the SDK's own buffer when they do not, unknown names and indices refused.
#[test]
fn the_rust_dylib_plugin_answers_by_index_in_the_host_buffer_or_its_own() {
    use manifold_plugin_host::{Failure, InProcess as _, ReplyBuf};
    let plugin =
        manifold_plugin_host::dylib::DylibPlugin::load("rust", plugins::RUST_DYLIB.as_ref())
            .unwrap();
    let instance = "manifold:conformance/types@0.1.0";
    let reverse = plugin.lookup(instance, "reverse").unwrap();
    assert!(plugin.lookup(instance, "[drop]counter").is_some());
    assert_eq!(plugin.lookup(instance, "nope"), None);
    assert_eq!(plugin.lookup("acme:other/thing@1.0.0", "reverse"), None);
    let mut reply = ReplyBuf::default();
    for len in [0, 10, 1020, 1024, 5000, 70_000, 10, 0] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut params = Vec::new();
        manifold_plugin_api::wire::put::bytes(&mut params, &data);
        plugin.call_index(reverse, &params, &mut reply).unwrap();
        let mut expected = Vec::new();
        let reversed: Vec<u8> = data.iter().rev().copied().collect();
        manifold_plugin_api::wire::put::bytes(&mut expected, &reversed);
        assert_eq!(reply.as_bytes(), expected, "{len} bytes");
    }
    for index in [4_000_000, 1 << 40] {
        let err = plugin.call_index(index, &[], &mut reply).unwrap_err();
        assert_eq!(
            err,
            Failure::Error(format!("this plugin has no function {index}"))
        );
    }
}

#[test]
fn plugins_are_listed_with_their_kind() {
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.fast]\nkind = \"dylib\"\npath = {:?}\n\n[plugins.remote]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [\"/nonexistent\"]\n\n[providers.\"manifold:conformance/types\"]\nkind = \"rpc\"\nname = \"remote\"\n",
            plugins::RUST_DYLIB
        )),
    );
    let out = manifold()
        .args(["providers", "--manifest"])
        .arg(dir.path().join("manifold.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.starts_with("manifold:conformance/types@0.1.0") && l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} row:\n{text}"))
            .to_string()
    };
    assert!(line("rpc `remote`").ends_with("`remote`"), "{text}");
    assert!(line("dylib `fast`").contains("(not selected)"), "{text}");
    assert!(
        line("builtin `conformance`").contains("(not selected)"),
        "{text}"
    );
}

/// The typed Rust plugin's resource table under calls from many threads at once: every
/// counter keeps its own value, and every drop reaches the plugin. Loaded from a private copy,
/// so its statics (the live count) are this test's alone.
#[test]
fn a_rust_dylib_plugin_with_generated_bindings_serves_many_threads_at_once() {
    use manifold_plugin_api::wire::{Reader, put};

    const THREADS: u64 = 8;
    const ROUNDS: u64 = 200;
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libtyped.so");
    std::fs::copy(plugins::RUST_DYLIB_TYPED, &copy).unwrap();
    let plugin = manifold_plugin_host::dylib::DylibPlugin::load("typed", &copy).unwrap();
    let call = |func: &str, params: &[u8]| {
        plugin
            .call_sync("manifold:conformance/types@0.1.0", func, params)
            .unwrap_or_else(|e| panic!("{func}: {e}"))
            .to_vec()
    };
    let number = |bytes: &[u8]| {
        let mut r = Reader::new(bytes);
        let n = r.uleb(64).unwrap();
        r.finish().unwrap();
        n
    };
    let with_handle = |handle: &[u8], rest: &[u8]| {
        let mut params = Vec::new();
        put::bytes(&mut params, handle);
        params.extend_from_slice(rest);
        params
    };
    let handle = |reply: &[u8]| Reader::new(reply).bytes().unwrap().to_vec();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    let start = t << 32 | round;
                    let mut params = Vec::new();
                    put::uleb(&mut params, start);
                    let a = handle(&call("counter", &params));
                    let b = handle(&call("counter", &[1]));
                    for _ in 0..5 {
                        call("counter.add", &with_handle(&a, &[2]));
                    }
                    assert_eq!(
                        number(&call("counter.value", &with_handle(&a, &[]))),
                        start + 10
                    );
                    let mut both = with_handle(&a, &[]);
                    put::bytes(&mut both, &b);
                    assert_eq!(number(&call("total", &both)), start + 11);
                    for h in [a, b] {
                        call("[drop]counter", &with_handle(&h, &[]));
                    }
                }
            });
        }
    });
    assert_eq!(number(&call("live-counters", &[])), 0);
}
