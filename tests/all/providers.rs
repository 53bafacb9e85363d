//! `manifold providers` and the manifest's `[providers]` choices.

use manifold_test_programs as programs;

use crate::util::{manifold, scratch_with, stderr, stdout};

#[test]
fn providers_lists_builtin_interfaces_with_versions() {
    let out = manifold().arg("providers").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in [
        "wasi:cli/environment@0.2.12",
        "wasi:filesystem/types@0.2.12",
        "wasi:http/outgoing-handler@0.2.12",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(
        !text.contains("not selected"),
        "every built-in interface is served: {text}"
    );
    let out = manifold().args(["providers", "--json"]).output().unwrap();
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["interface"] == "wasi:http/types@0.2.12")
        .unwrap();
    assert_eq!(row["provider"], "http");
    assert_eq!(row["kind"], "builtin");
    let draft2 = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["interface"] == "wasi:keyvalue/store@0.2.0-draft2")
        .unwrap();
    assert_eq!(
        draft2["selected"], true,
        "both drafts are served side by side"
    );
}

fn manifest_with_provider(provider: &str) -> tempfile::TempDir {
    scratch_with(
        "manifold.toml",
        &format!(
            "[component.p]\nsource = \"{}\"\n[providers.\"wasi:cli/environment\"]\nname = \"{provider}\"\n",
            programs::CLI_PROBE
        ),
    )
}

#[test]
fn a_manifest_can_choose_the_provider_of_an_interface() {
    let dir = manifest_with_provider("wasi");
    let out = crate::util::run_in(dir.path(), &["--env", "X=1", "--", "env"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("env X=1"));
}

#[test]
fn a_bad_provider_choice_is_explained() {
    let dir = manifest_with_provider("http");
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("does not offer wasi:cli/environment")
            && err.contains("wasi:http/types@0.2.12"),
        "{err}"
    );

    let dir = manifest_with_provider("nope");
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("`nope`, which does not exist") && err.contains("`wasi`, `http`"),
        "{err}"
    );
}

/// The conformance provider is for tests: the binary this suite runs has it (through the root
/// package's dev-dependency), but the graph `cargo build` and `cargo install` resolve for the
/// `manifold` binary must not contain it. `cargo tree` answers from Cargo.lock and the
/// manifests, offline, with the same feature resolution as a build.
#[test]
fn the_release_build_leaves_the_conformance_provider_out() {
    let tree = |edges: &str| {
        let out = std::process::Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "tree",
                "--offline",
                "--prefix",
                "none",
                "-p",
                "manifold",
                "-e",
                edges,
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "cargo tree: {}", stderr(&out));
        stdout(&out)
    };
    assert!(
        !tree("normal,build").contains("manifold-builtin-conformance"),
        "a release build links the test-only conformance provider"
    );
    assert!(
        tree("all").contains("manifold-builtin-conformance"),
        "the tests must link the conformance provider (root dev-dependency)"
    );
}
