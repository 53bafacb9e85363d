//! Plugins: the conformance guest (`plugin-conformance`) against every provider of
//! `manifold:conformance/types`. The same guest, unchanged, must pass whichever kind of
//! provider serves its imports; [`run_conformance`] and [`assert_conformance`] are the one
//! way every kind is checked.

use std::path::Path;
use std::process::Output;

use manifold_test_programs as programs;

use crate::util::{Server, get, manifold, scratch_with, stderr, stdout};

/// What the conformance guest prints, one `ok NAME` line per function, in this order, when
/// every check of that function passed (`crates/test-programs/README.md`).
pub const CONFORMANCE_CHECKS: &[&str] = &[
    "bump",
    "shout",
    "reverse",
    "sort",
    "add-points",
    "scale",
    "next-color",
    "toggle",
    "swap",
    "first-word",
    "checked-div",
    "inc",
    "counter.constructor",
    "counter.add",
    "counter.value",
    "total",
    "counter.drop",
    "live-counters",
];

/// A `manifold.toml` that runs the conformance guest as component `conformance`, followed by
/// `extra` (plugins, provider choices).
pub fn conformance_manifest(extra: &str) -> String {
    format!(
        "name = \"conformance\"\n\n[component.conformance]\nsource = {:?}\n\n{extra}",
        programs::PLUGIN_CONFORMANCE
    )
}

/// Runs `manifold run` in `manifest_dir`, whose `manifold.toml` runs the conformance guest
/// (see [`conformance_manifest`]).
pub fn run_conformance(manifest_dir: &Path) -> Output {
    crate::util::run_in(manifest_dir, &[])
}

/// Asserts that the conformance guest passed: exit 0, every `ok` line in order, the summary
/// line, and nothing failed. `provider` names what served the interface, for the message.
pub fn assert_conformance(output: &Output, provider: &str) {
    let out = stdout(output);
    let context = || {
        format!(
            "{provider}\n--- stdout\n{out}--- stderr\n{}",
            stderr(output)
        )
    };
    assert_eq!(output.status.code(), Some(0), "{}", context());
    let ok_lines: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("ok "))
        .collect();
    assert_eq!(ok_lines, CONFORMANCE_CHECKS, "{}", context());
    let summary = format!("all {} checks passed", CONFORMANCE_CHECKS.len());
    assert!(out.lines().any(|line| line == summary), "{}", context());
    assert!(!out.contains("FAIL"), "{}", context());
}

#[test]
fn the_builtin_reference_passes_by_default() {
    let out = manifold()
        .args(["run", programs::PLUGIN_CONFORMANCE])
        .output()
        .unwrap();
    assert_conformance(&out, "builtin `conformance` (default)");
}

#[test]
fn the_builtin_reference_passes_when_chosen_in_the_manifest() {
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(
            "[providers.\"manifold:conformance/types\"]\nkind = \"builtin\"\nname = \"conformance\"\n",
        ),
    );
    assert_conformance(&run_conformance(dir.path()), "builtin `conformance`");
}

#[test]
fn the_builtin_reference_is_listed() {
    let out = manifold().args(["providers", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["interface"] == "manifold:conformance/types@0.1.0")
        .unwrap_or_else(|| panic!("not listed: {rows}"));
    assert_eq!(row["provider"], "conformance");
    assert_eq!(row["kind"], "builtin");
}

/// A scratch directory with `plugin.wasm` (a copy of `plugin`) and a manifest for `app` with
/// `[plugins.NAME]` of kind wasm at `plugin.wasm`, followed by `extra`.
fn wasm_plugin_app(app: &str, plugin: &str, name: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin, dir.path().join("plugin.wasm")).unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "name = \"wasm-plugin\"\n\n[component.app]\nsource = {app:?}\n\n\
             [plugins.{name}]\nkind = \"wasm\"\npath = \"plugin.wasm\"\n\n{extra}"
        ),
    )
    .unwrap();
    dir
}

/// What `manifold inspect --json` says serves `interface` for the app in `dir`:
/// (provider name, provider kind).
fn served_by(dir: &Path, interface: &str) -> (String, String) {
    let out = manifold()
        .args(["inspect", "--json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let import = report["components"][0]["imports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["interface"] == interface)
        .unwrap_or_else(|| panic!("no import of {interface}: {report}"));
    let provider = &import["provider"];
    (
        provider["name"].as_str().unwrap().to_owned(),
        provider["kind"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_wasm_plugin_passes_conformance_and_comes_before_the_builtin() {
    let dir = wasm_plugin_app(
        programs::PLUGIN_CONFORMANCE,
        programs::PLUGIN_CONFORMANCE_PROVIDER,
        "conformance-wasm",
        "",
    );
    assert_eq!(
        served_by(dir.path(), "manifold:conformance/types"),
        ("conformance-wasm".into(), "wasm".into())
    );
    assert_conformance(&run_conformance(dir.path()), "wasm plugin (by priority)");

    let out = manifold()
        .args(["providers", "--json", "--manifest"])
        .arg(dir.path().join("manifold.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows: Vec<(String, String, bool)> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["interface"] == "manifold:conformance/types@0.1.0")
        .map(|r| {
            (
                r["provider"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
                r["selected"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("conformance-wasm".into(), "wasm".into(), true),
            ("conformance".into(), "builtin".into(), false),
        ]
    );
}

#[test]
fn the_manifest_chooses_between_a_wasm_plugin_and_the_builtin() {
    let choose = |kind: &str, name: &str| {
        wasm_plugin_app(
            programs::PLUGIN_CONFORMANCE,
            programs::PLUGIN_CONFORMANCE_PROVIDER,
            "conf",
            &format!(
                "[providers.\"manifold:conformance/types\"]\nkind = \"{kind}\"\nname = \"{name}\"\n"
            ),
        )
    };
    let dir = choose("wasm", "conf");
    assert_eq!(
        served_by(dir.path(), "manifold:conformance/types"),
        ("conf".into(), "wasm".into())
    );
    assert_conformance(&run_conformance(dir.path()), "wasm plugin (chosen)");
    let dir = choose("builtin", "conformance");
    assert_eq!(
        served_by(dir.path(), "manifold:conformance/types"),
        ("conformance".into(), "builtin".into())
    );
    assert_conformance(
        &run_conformance(dir.path()),
        "builtin (chosen over a plugin)",
    );
}

/// Runs `peek-app` granted a variable and a directory, with `plugin-peek` whose
/// `[plugins.peek]` ends with `plugin_keys`: what each of them sees.
fn peek(plugin_keys: &str) -> String {
    let dir = wasm_plugin_app(
        programs::PEEK_APP,
        programs::PLUGIN_PEEK,
        "peek",
        "[component.app.env]\nSECRET = \"app-only\"\n",
    );
    std::fs::create_dir(dir.path().join("data")).unwrap();
    let manifest = dir.path().join("manifold.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(
            "[component.app]\n",
            "[component.app]\ndirs = [\"data::/data\"]\n",
        )
        .replace(
            "path = \"plugin.wasm\"\n",
            &format!("path = \"plugin.wasm\"\n{plugin_keys}"),
        );
    std::fs::write(&manifest, text).unwrap();
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn a_wasm_plugin_gets_none_of_the_grants_of_its_component() {
    // The app sees its grants; the plugin, composed into it, sees nothing.
    assert_eq!(peek(""), "app env SECRET=app-only\napp dir /data\ndone\n");
}

#[test]
fn share_gives_a_wasm_plugin_the_grants_of_its_component() {
    assert_eq!(
        peek("share = [\"wasi:cli/environment\"]\n"),
        "app env SECRET=app-only\napp dir /data\nplugin env SECRET=app-only\ndone\n"
    );
    assert_eq!(
        peek("share = [\"wasi:cli/environment\", \"wasi:filesystem/preopens@0.2.12\"]\n"),
        "app env SECRET=app-only\napp dir /data\n\
         plugin env SECRET=app-only\nplugin dir /data\ndone\n"
    );
}

#[test]
fn a_wasm_plugin_that_imports_what_a_plugin_may_not_is_refused() {
    // cli-probe exports an interface (wasi:cli/run) and imports sockets, among others.
    let dir = wasm_plugin_app(
        programs::PLUGIN_CONFORMANCE,
        programs::CLI_PROBE,
        "greedy",
        "",
    );
    for command in ["run", "inspect"] {
        let out = manifold()
            .arg(command)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{command}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("wasm plugin `greedy`")
                && err.contains("wasi:sockets/tcp@0.2.12")
                && err.contains("which a plugin may not"),
            "{command}: {err}"
        );
    }
}

#[test]
fn a_wasm_plugin_without_the_export_it_claims_or_its_file_is_an_error() {
    let dir = wasm_plugin_app(
        programs::PLUGIN_CONFORMANCE,
        programs::HTTP_HELLO,
        "hello",
        "",
    );
    let manifest = dir.path().join("manifold.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "path = \"plugin.wasm\"\n",
        "path = \"plugin.wasm\"\ninterfaces = [\"manifold:conformance/types\"]\n",
    );
    std::fs::write(&manifest, text).unwrap();
    let out = run_conformance(dir.path());
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("wasm plugin `hello`")
            && err.contains("does not export manifold:conformance/types")
            && err.contains("it exports wasi:http/incoming-handler@0.2.12"),
        "{err}"
    );

    std::fs::remove_file(dir.path().join("plugin.wasm")).unwrap();
    let out = run_conformance(dir.path());
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("cannot load wasm plugin `hello`") && err.contains("plugin.wasm"),
        "{err}"
    );
}

#[test]
fn the_compile_cache_keys_on_the_composed_component() {
    let cache = tempfile::tempdir().unwrap();
    let run = |dir: &Path| {
        crate::util::run_in(dir, &["-v", "--cache-dir", cache.path().to_str().unwrap()])
    };
    let composed = wasm_plugin_app(
        programs::PLUGIN_CONFORMANCE,
        programs::PLUGIN_CONFORMANCE_PROVIDER,
        "conf",
        "",
    );
    let plain = scratch_with("manifold.toml", &conformance_manifest(""));
    for (dir, what) in [
        (composed.path(), "composed, first"),
        (plain.path(), "plain"),
        (composed.path(), "composed, again"),
    ] {
        let out = run(dir);
        assert_conformance(&out, what);
        let expected = if what == "composed, again" {
            "cache=Hit"
        } else {
            "cache=Miss"
        };
        assert!(stderr(&out).contains(expected), "{what}: {}", stderr(&out));
    }
}

/// `http-counter` (wasi:keyvalue draft2) served through the adapter plugin
/// `kv-draft2-on-draft` (draft2 on draft), the draft interfaces left to the built-in
/// `keyvalue`; `component_keys` and `plugin_keys` are added to the component's and the
/// plugin's tables.
fn adapter_app(component_keys: &str, plugin_keys: &str) -> tempfile::TempDir {
    let dir = wasm_plugin_app(
        programs::HTTP_COUNTER,
        programs::KV_DRAFT2_ON_DRAFT,
        "kv-adapter",
        "[providers.\"wasi:keyvalue/store@0.2.0-draft\"]\nkind = \"builtin\"\nname = \"keyvalue\"\n\
         [providers.\"wasi:keyvalue/atomics@0.2.0-draft\"]\nkind = \"builtin\"\nname = \"keyvalue\"\n",
    );
    let manifest = dir.path().join("manifold.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(
            "name = \"wasm-plugin\"\n",
            "name = \"wasm-plugin\"\ndata-dir = \"data\"\n",
        )
        .replace(
            "[component.app]\n",
            &format!("[component.app]\n{component_keys}"),
        )
        .replace(
            "path = \"plugin.wasm\"\n",
            &format!("path = \"plugin.wasm\"\n{plugin_keys}"),
        );
    std::fs::write(&manifest, text).unwrap();
    dir
}

const SHARE_DRAFT: &str =
    "share = [\"wasi:keyvalue/store@0.2.0-draft\", \"wasi:keyvalue/atomics@0.2.0-draft\"]\n";

#[test]
fn an_adapter_plugin_serves_draft2_on_draft_with_the_components_buckets() {
    let dir = adapter_app("keyvalue = [\"default\"]\n", SHARE_DRAFT);
    assert_eq!(
        served_by(dir.path(), "wasi:keyvalue/store"),
        ("kv-adapter".into(), "wasm".into())
    );
    let server = Server::start_in(&[], Some(dir.path()));
    assert_eq!(
        get(&server.url("/a")),
        (200, "/a has been visited 1 time\n".into())
    );
    assert_eq!(
        get(&server.url("/a")),
        (200, "/a has been visited 2 times\n".into())
    );
    drop(server);

    // The plugin works with the component's grants: no bucket granted, none opened.
    let dir = adapter_app("", SHARE_DRAFT);
    let server = Server::start_in(&[], Some(dir.path()));
    let (status, body) = get(&server.url("/a"));
    assert_eq!(status, 500, "{body}");
    assert_eq!(body, "key-value error: Error::AccessDenied\n");
    drop(server);

    // Without `share`, the adapter may not import key-value at all.
    let dir = adapter_app("keyvalue = [\"default\"]\n", "");
    let out = manifold()
        .arg("inspect")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imports wasi:keyvalue/store@0.2.0-draft"),
        "{}",
        stderr(&out)
    );
}
