//! `manifold inspect` and the all-at-once import report at `run`/`serve` time, checked
//! against golden files in `tests/golden/` (regenerate with
//! `UPDATE_GOLDEN=1 cargo test --release --test all inspect`, then review the diff).

use std::path::{Path, PathBuf};

use crate::util::{manifold, stderr, stdout};

/// The resolver's fixtures (`crates/resolve/tests/fixtures`) and ours (`tests/fixtures`).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/resolve/tests/fixtures")
}

fn own_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Compares `actual` with `tests/golden/NAME`, or rewrites it under `UPDATE_GOLDEN=1`.
fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        // Under CI a golden file is checked, never rewritten: a run that rewrites it passes
        // whatever the output.
        assert!(
            std::env::var_os("CI").is_none(),
            "UPDATE_GOLDEN is refused under CI"
        );
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

/// Runs manifold in a fixtures directory, so paths in messages are short and stable.
fn in_fixtures(args: &[&str]) -> std::process::Output {
    let file = args.last().unwrap();
    let dir = if own_fixtures().join(file).exists() {
        own_fixtures()
    } else {
        fixtures()
    };
    manifold().args(args).current_dir(dir).output().unwrap()
}

#[test]
fn inspect_reports_match_goldens() {
    for (fixture, code) in [
        ("ok-older-version.wat", 0),
        ("newer-version-ok.wat", 0),
        ("newer-version-missing.wat", 1),
        ("no-provider.wat", 1),
        ("wrong-builtin-type.wat", 1),
        ("core-module.wat", 1),
    ] {
        let out = in_fixtures(&["inspect", fixture]);
        assert_eq!(out.status.code(), Some(code), "{fixture}: {}", stderr(&out));
        golden(
            &format!("inspect-{}.txt", fixture.trim_end_matches(".wat")),
            &stdout(&out),
        );
    }
}

#[test]
fn inspect_json_is_stable() {
    let out = in_fixtures(&["inspect", "--json", "newer-version-missing.wat"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], 1);
    assert_eq!(v["ok"], false);
    golden("inspect-newer-version-missing.json", &stdout(&out));

    let out = in_fixtures(&["inspect", "--json", "core-module.wat"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "core-module", "{v}");
}

#[test]
fn run_and_serve_report_every_unmet_import_before_starting() {
    let out = in_fixtures(&["run", "newer-version-missing.wat"]);
    assert_eq!(out.status.code(), Some(125));
    golden("run-newer-version-missing.txt", &stderr(&out));

    let out = in_fixtures(&["serve", "no-provider.wat", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("no provider offers acme:billing/charge at any version"),
        "{err}"
    );
    assert!(
        !err.contains("serving http://"),
        "must not half-start: {err}"
    );
}

#[test]
fn garbage_and_truncated_files_name_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("garbage.wasm"),
        b"\x00asm\x0d\x00\x01\x00\xff\xff\xff\xff",
    )
    .unwrap();
    let hello = std::fs::read(manifold_test_programs::HTTP_HELLO).unwrap();
    std::fs::write(dir.path().join("truncated.wasm"), &hello[..3000]).unwrap();
    for file in ["garbage.wasm", "truncated.wasm"] {
        for cmd in ["inspect", "run"] {
            let out = manifold()
                .args([cmd, file])
                .current_dir(dir.path())
                .output()
                .unwrap();
            let text = format!("{}{}", stdout(&out), stderr(&out));
            assert_ne!(out.status.code(), Some(0), "{cmd} {file}");
            assert!(text.contains("(at offset 0x"), "{cmd} {file}: {text}");
            assert!(!text.contains("panicked"), "{text}");
        }
    }
}

#[test]
fn inspect_a_manifest_covers_every_component() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.good]\nsource = \"{}\"\n[component.bad]\nsource = \"{}\"\nroute = \"/bad\"\n",
            manifold_test_programs::HTTP_HELLO,
            fixtures().join("no-provider.wat").display()
        ),
    )
    .unwrap();
    let out = manifold()
        .args(["inspect", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    let components = v["components"].as_array().unwrap();
    assert_eq!(components.len(), 2);
    let good = components.iter().find(|c| c["name"] == "good").unwrap();
    assert_eq!(good["ok"], true);
}

#[test]
fn every_guest_can_run_on_this_host() {
    for (name, path) in manifold_test_programs::ALL {
        // `peek-app` needs its wasm plugin, `plugin-peek` (tests/all/plugins.rs).
        if ["import-unknown", "core-module", "peek-app"].contains(name) {
            continue;
        }
        let out = manifold().args(["inspect", path]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stdout(&out));
    }
}

#[test]
fn a_newer_minor_version_runs_with_a_note_under_verbose() {
    let out = in_fixtures(&["run", "newer-import-runs.wat"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("0.2.99"),
        "quiet by default: {}",
        stderr(&out)
    );
    let out = in_fixtures(&["run", "-v", "newer-import-runs.wat"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(
            "component targets 0.2.99; host provides 0.2.12; every function it uses is present"
        ),
        "{err}"
    );
}
