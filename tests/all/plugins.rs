//! Plugins: the conformance guest (`plugin-conformance`) against every provider of
//! `manifold:conformance/types`. The same guest, unchanged, must pass whichever kind of
//! provider serves its imports; [`run_conformance`] and [`assert_conformance`] are the one
//! way every kind is checked.

use std::path::Path;
use std::process::Output;

use manifold_test_programs as programs;

use crate::util::{manifold, scratch_with, stderr, stdout};

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
    manifold()
        .arg("run")
        .current_dir(manifest_dir)
        .output()
        .expect("spawn manifold run")
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
