//! Dynamic-library plugins written in C: the conformance guest against
//! `examples/plugins/c/conformance.c`, libraries the host must refuse at load (a wrong ABI
//! version, no entry symbol, no file, not a library), the listings, and the C plugin's own
//! answers to malformed calls and to calls from many threads at once.
//!
//! The C sources are compiled here with clang (`scripts/install-deps` installs it), once per
//! test process, by [`c_library`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use manifold_plugin_api::wire::{Reader, put};
use manifold_plugin_host::dylib::DylibPlugin;
use manifold_plugin_host::{CallError, Failure, InProcess as _, ReplyBuf};

use crate::plugins::{assert_conformance, conformance_manifest, run_conformance};
use crate::util::{manifold, scratch_with, stderr, stdout};

const INTERFACE: &str = "manifold:conformance/types@0.1.0";

/// The C conformance plugin.
const CONFORMANCE_C: &str = "examples/plugins/c/conformance.c";

/// Compiles the C file `source` (relative to the repository) into a shared library with the
/// flags the docs give plugin authors, and returns its path. Once per test process; each
/// build goes to a private name and is renamed into place, so test processes running at once
/// never see a half-written library.
pub fn c_library(source: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.get(source) {
        return path.clone();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("c-plugins");
    std::fs::create_dir_all(&dir).unwrap();
    let stem = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let library = dir.join(format!("lib{stem}.so"));
    let partial = dir.join(format!(".lib{stem}.so.{}", std::process::id()));
    let wit = root.join("crates/test-programs/wit/conformance.wit");
    let out = Command::new("clang")
        .args([
            "-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread",
        ])
        .arg("-I")
        .arg(root.join("include"))
        .arg(format!("-DCONFORMANCE_WIT_PATH=\"{}\"", wit.display()))
        .arg("-o")
        .arg(&partial)
        .arg(root.join(source))
        .output()
        .unwrap_or_else(|e| panic!("cannot run clang ({e}); scripts/install-deps installs it"));
    assert!(
        out.status.success(),
        "clang {source}: {}\n{}",
        out.status,
        stderr(&out)
    );
    std::fs::rename(&partial, &library).unwrap();
    built.insert(source.to_owned(), library.clone());
    library
}

/// A directory with a `manifold.toml` that runs the conformance guest with plugin `c` of kind
/// dylib at `library`, chosen explicitly for the conformance interface (so the built-in
/// reference provider cannot stand in).
fn app_with_dylib(library: &Path) -> tempfile::TempDir {
    scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.c]\nkind = \"dylib\"\npath = {:?}\n\n\
             [providers.\"manifold:conformance/types\"]\nkind = \"dylib\"\nname = \"c\"\n",
            library.display().to_string(),
        )),
    )
}

#[test]
fn the_conformance_guest_passes_against_the_c_plugin() {
    let dir = app_with_dylib(&c_library(CONFORMANCE_C));
    assert_conformance(&run_conformance(dir.path()), "C dylib plugin `c`");
}

/// `manifold run` of an app whose plugin cannot be loaded: exit 125 (the host could not
/// start the app, docs/cli.md), never a signal, and stderr for the message.
fn refused(library: &Path) -> String {
    let dir = app_with_dylib(library);
    let out = run_conformance(dir.path());
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("plugin `c`"), "names the plugin: {err}");
    assert!(
        !stdout(&out).contains("ok "),
        "the guest must not start: {}",
        stdout(&out)
    );
    err
}

#[test]
fn a_library_of_another_abi_version_is_refused_naming_both() {
    let library = c_library("tests/fixtures/plugins/abi_99.c");
    let err = refused(&library);
    assert!(
        err.contains("speaks plugin ABI version 99; this host speaks version 2"),
        "{err}"
    );
    assert!(err.contains(&library.display().to_string()), "{err}");
}

/// A plugin built for ABI version 1 (calls by name) answers only a host of version 1: its
/// entry returns NULL, and the host says to rebuild it rather than guessing at its table.
#[test]
fn a_plugin_built_for_abi_version_1_is_refused_with_what_to_do() {
    let library = c_library("tests/fixtures/plugins/abi_1.c");
    let err = refused(&library);
    assert!(
        err.contains("refused this host's plugin ABI version 2; it was probably built for another version. Rebuild it"),
        "{err}"
    );
    assert!(err.contains(&library.display().to_string()), "{err}");
}

#[test]
fn a_plugin_that_cannot_resolve_a_function_of_its_wit_is_refused_naming_it() {
    let err = refused(&c_library("tests/fixtures/plugins/missing_function.c"));
    assert!(
        err.contains(
            "plugin `c` does not provide test:partial/api@0.1.0#absent, which its WIT declares"
        ),
        "{err}"
    );
}

#[test]
fn a_library_without_the_entry_symbol_is_refused() {
    let err = refused(&c_library("tests/fixtures/plugins/no_entry.c"));
    assert!(
        err.contains("does not export `manifold_plugin_entry`"),
        "{err}"
    );
}

#[test]
fn a_missing_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("libgone.so");
    let err = refused(&missing);
    assert!(err.contains("libgone.so does not exist"), "{err}");
}

#[test]
fn a_file_that_is_not_a_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("libgarbage.so");
    std::fs::write(&garbage, b"\x7fELF but not really").unwrap();
    let err = refused(&garbage);
    assert!(err.contains("cannot load"), "{err}");
}

#[test]
fn providers_and_inspect_list_the_c_plugin_as_a_dylib() {
    let dir = app_with_dylib(&c_library(CONFORMANCE_C));
    let manifest = dir.path().join("manifold.toml");

    let out = manifold()
        .args(["providers", "--json", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["interface"] == INTERFACE && r["provider"] == "c")
        .unwrap_or_else(|| panic!("plugin `c` not listed: {rows}"));
    assert_eq!(row["kind"], "dylib", "{row}");
    assert_eq!(row["selected"], true, "{row}");

    let out = manifold()
        .args(["providers", "--manifest"])
        .arg(&manifest)
        .output()
        .unwrap();
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with(INTERFACE) && l.contains("dylib `c`"))
        .unwrap_or_else(|| panic!("no line for plugin `c`: {text}"));
    assert!(!line.contains("not selected"), "{line}");

    let out = manifold()
        .args(["inspect", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imports = report["components"][0]["imports"].as_array().unwrap();
    let import = imports
        .iter()
        .find(|i| i["name"] == INTERFACE)
        .unwrap_or_else(|| panic!("{INTERFACE} not imported: {report}"));
    assert_eq!(import["status"], "ok", "{import}");
    assert_eq!(import["provider"]["name"], "c", "{import}");
    assert_eq!(import["provider"]["kind"], "dylib", "{import}");
}

/// The C plugin loaded into this process, from a private copy of the library: a library's
/// statics (the counter table) are per loaded file, so tests running at once do not share
/// counters.
fn load_private_copy() -> (DylibPlugin, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("libconformance.so");
    std::fs::copy(c_library(CONFORMANCE_C), &copy).unwrap();
    (DylibPlugin::load("c", &copy).unwrap(), dir)
}

fn call(plugin: &DylibPlugin, func: &str, params: &[u8]) -> Result<Vec<u8>, String> {
    match plugin.call_sync(INTERFACE, func, params) {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(CallError::Plugin { message, .. }) => Err(message),
        Err(other) => panic!("{func}: not a plugin error: {other}"),
    }
}

fn u64_param(v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    put::uleb(&mut out, v);
    out
}

fn read_u64(bytes: &[u8]) -> u64 {
    let mut r = Reader::new(bytes);
    let v = r.uleb(64).unwrap();
    r.finish().unwrap();
    v
}

fn new_counter(plugin: &DylibPlugin, start: u64) -> Vec<u8> {
    let reply = call(plugin, "counter", &u64_param(start)).unwrap();
    let mut r = Reader::new(&reply);
    let handle = r.bytes().unwrap().to_vec();
    r.finish().unwrap();
    handle
}

/// `handle` then `rest`, as a method's parameters.
fn with_handle(handle: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put::bytes(&mut out, handle);
    out.extend_from_slice(rest);
    out
}

#[test]
fn the_c_plugin_answers_malformed_calls_with_errors() {
    let (plugin, _dir) = load_private_copy();
    assert_eq!(
        plugin.wit(),
        include_str!("../../crates/test-programs/wit/conformance.wit")
    );

    let err = |func: &str, params: &[u8], needle: &str| {
        let message = call(&plugin, func, params)
            .err()
            .unwrap_or_else(|| panic!("{func} {params:x?} succeeded"));
        assert!(message.contains(needle), "{func} {params:x?}: {message}");
    };
    err("inc", &[], "value ends early at byte 0");
    err(
        "inc",
        &[1, 2],
        "trailing bytes after the last parameter at byte 1",
    );
    err("inc", &[0xff; 11], "bad LEB128 integer at byte 0");
    err("live-counters", &[0], "trailing bytes");
    err("shout", &[2, 0xff, 0xfe], "invalid UTF-8 string");
    // A string claiming 2^31 bytes in five: refused before anything is allocated.
    err(
        "shout",
        &[0x80, 0x80, 0x80, 0x80, 0x08],
        "length longer than the value",
    );
    err(
        "sort",
        &[0xff, 0xff, 0xff, 0xff, 0x0f],
        "length longer than the value",
    );
    err("next-color", &[3], "unknown variant or enum case");
    err("toggle", &[0b1000], "unknown flag set");
    err("scale", &[1, 0], "value ends early");
    let mut bad_bool = vec![0, 0, 0, 0, 0, 0, 0, 0];
    bad_bool.extend_from_slice(&[0; 12]); // f32, f64
    bad_bool.extend_from_slice(&[2, b'a']);
    err("bump", &bad_bool, "invalid bool at byte 20");
    let mut last_char = vec![0; 20];
    last_char.extend_from_slice(&[0, 0xf4, 0x8f, 0xbf, 0xbf]); // U+10FFFF
    err("bump", &last_char, "no character follows U+10FFFF");
    let mut surrogate = vec![0; 20];
    surrogate.extend_from_slice(&[0, 0xed, 0xa0, 0x80]);
    err("bump", &surrogate, "invalid char");
    // Unknown names: the plugin's lookup finds nothing, so the host never calls.
    err("nope", &[], "has no function `nope`");
    let message = plugin
        .call_sync("acme:other/thing@1.0.0", "inc", &u64_param(1))
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("no function `inc` in `acme:other/thing@1.0.0`"),
        "{message}"
    );

    // s64::MIN / -1 overflows in C (a trap on x86): the plugin answers MIN, as the builtin.
    let mut params = Vec::new();
    put::sleb(&mut params, i64::MIN);
    put::sleb(&mut params, -1);
    let reply = call(&plugin, "checked-div", &params).unwrap();
    let mut r = Reader::new(&reply);
    assert_eq!(r.byte().unwrap(), 0);
    assert_eq!(r.sleb(64).unwrap(), i64::MIN);

    // Handles: the wrong length, forged, stale after a drop, dropped twice.
    let handle = new_counter(&plugin, 7);
    assert_eq!(handle.len(), 8);
    err(
        "counter.value",
        &with_handle(&handle[..3], &[]),
        "unknown counter handle",
    );
    let mut forged = handle.clone();
    forged[4] ^= 1; // another generation of the same slot
    err(
        "counter.value",
        &with_handle(&forged, &[]),
        "unknown counter handle",
    );
    err(
        "counter.add",
        &with_handle(&handle, &[]),
        "value ends early",
    );
    let reply = call(&plugin, "counter.add", &with_handle(&handle, &u64_param(5))).unwrap();
    assert_eq!(read_u64(&reply), 12);
    assert!(
        call(&plugin, "[drop]counter", &with_handle(&handle, &[]))
            .unwrap()
            .is_empty()
    );
    err(
        "counter.value",
        &with_handle(&handle, &[]),
        "unknown counter handle",
    );
    err(
        "[drop]counter",
        &with_handle(&handle, &[]),
        "unknown counter handle",
    );
    // The slot is reused by the next counter; the old handle still does not reach it.
    let next = new_counter(&plugin, 1);
    assert_eq!(next[..4], handle[..4], "slot reused");
    err(
        "counter.value",
        &with_handle(&handle, &[]),
        "unknown counter handle",
    );
    let mut both = with_handle(&next, &[]);
    put::bytes(&mut both, &handle);
    err("total", &both, "unknown counter handle");
    call(&plugin, "[drop]counter", &with_handle(&next, &[])).unwrap();
    assert_eq!(read_u64(&call(&plugin, "live-counters", &[]).unwrap()), 0);
}

#[test]
fn the_c_plugin_serves_many_threads_at_once() {
    const THREADS: u64 = 8;
    const ROUNDS: u64 = 200;
    let (plugin, _dir) = load_private_copy();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let plugin = &plugin;
            scope.spawn(move || {
                for round in 0..ROUNDS {
                    let start = t << 32 | round;
                    let a = new_counter(plugin, start);
                    let b = new_counter(plugin, 1);
                    for _ in 0..5 {
                        call(plugin, "counter.add", &with_handle(&a, &u64_param(2))).unwrap();
                    }
                    let value = call(plugin, "counter.value", &with_handle(&a, &[])).unwrap();
                    assert_eq!(read_u64(&value), start + 10);
                    let mut both = with_handle(&a, &[]);
                    put::bytes(&mut both, &b);
                    assert_eq!(read_u64(&call(plugin, "total", &both).unwrap()), start + 11);
                    let mut text = Vec::new();
                    put::bytes(&mut text, format!("thread {t} round {round}").as_bytes());
                    let mut expected = Vec::new();
                    put::bytes(
                        &mut expected,
                        format!("THREAD {t} ROUND {round}").as_bytes(),
                    );
                    assert_eq!(call(plugin, "shout", &text).unwrap(), expected);
                    for handle in [a, b] {
                        call(plugin, "[drop]counter", &with_handle(&handle, &[])).unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(read_u64(&call(&plugin, "live-counters", &[]).unwrap()), 0);
}

/// Calls by index into one reused host buffer: answers that fit are written in place, larger
/// ones come in the plugin's own buffer (which the host copies, frees and grows its own for),
/// and both read the same; an index the plugin never gave is an error, not a crash.
#[test]
fn the_c_plugin_answers_by_index_in_the_host_buffer_or_its_own() {
    let (plugin, _dir) = load_private_copy();
    let reverse = plugin.lookup(INTERFACE, "reverse").unwrap();
    assert_eq!(plugin.lookup(INTERFACE, "nope"), None);
    assert_eq!(plugin.lookup("acme:other/thing@1.0.0", "reverse"), None);
    let mut reply = ReplyBuf::default();
    for len in [0, 10, 1020, 1024, 5000, 70_000, 10, 0] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let mut params = Vec::new();
        put::bytes(&mut params, &data);
        plugin.call_index(reverse, &params, &mut reply).unwrap();
        let mut expected = Vec::new();
        put::bytes(
            &mut expected,
            &data.iter().rev().copied().collect::<Vec<_>>(),
        );
        assert_eq!(reply.as_bytes(), expected, "{len} bytes");
    }
    let err = plugin.call_index(9999, &[], &mut reply).unwrap_err();
    assert_eq!(
        err,
        Failure::Error(format!("{INTERFACE} has no function number 9999"))
    );
    // An error message that does not fit the host's buffer comes in the plugin's own.
    let inc = plugin.lookup(INTERFACE, "inc").unwrap();
    let mut long = Vec::new();
    put::bytes(&mut long, &[b'x'; 3000]);
    let err = plugin.call_index(inc, &long, &mut reply).unwrap_err();
    assert!(
        matches!(&err, Failure::Error(m) if m.starts_with("malformed parameters")),
        "{err:?}"
    );
}
