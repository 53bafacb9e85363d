//! Golden reports: each case's text (`manifold inspect`'s listing plus the report) and JSON
//! are compared with `tests/golden/{case}.txt` and `.json`. With `UPDATE_GOLDEN=1` set, the
//! files are written instead.

use std::path::{Path, PathBuf};

use manifold_resolve::{DecodeError, decode_component, resolve};

use manifold_resolve::Offer;

use crate::host::{fixture, host_offers, side_by_side_offers};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Compares `actual` with the golden file `name`, or writes it under `UPDATE_GOLDEN`.
fn check(name: &str, actual: &str) {
    let path = golden_dir().join(name);
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
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nrun `UPDATE_GOLDEN=1 cargo test --release -p manifold-resolve` \
             to create it",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n--- expected\n{expected}\n--- \
             actual\n{actual}\nIf the change is intended, run `UPDATE_GOLDEN=1 cargo test \
             --release -p manifold-resolve` and review the diff.",
            path.display(),
            first + 1
        );
    }
}

fn json_text(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// Resolves `tests/fixtures/{case}.wat` against the test host; checks both goldens and
/// whether the component can run.
fn component_case(case: &str, can_run: bool) {
    component_case_on(case, can_run, &host_offers());
}

fn component_case_on(case: &str, can_run: bool, offers: &[Offer]) {
    let origin = format!("{case}.wasm");
    let world = decode_component(&fixture(case), &origin).unwrap();
    let resolution = resolve(&world, offers);
    check(&format!("{case}.txt"), &resolution.render_inspect(&origin));
    check(
        &format!("{case}.json"),
        &json_text(&resolution.to_json(&origin)),
    );
    assert_eq!(resolution.is_ok(), can_run, "{case}");
}

/// A file that is not a component: its message and JSON.
fn decode_error_case(case: &str, origin: &str, bytes: &[u8]) -> DecodeError {
    let err = decode_component(bytes, origin).unwrap_err();
    check(&format!("{case}.txt"), &format!("error: {err}\n"));
    check(&format!("{case}.json"), &json_text(&err.to_json(origin)));
    err
}

#[test]
fn ok_older_version() {
    component_case("ok-older-version", true);
}

#[test]
fn newer_version_with_every_function() {
    component_case("newer-version-ok", true);
}

#[test]
fn newer_version_with_missing_functions() {
    component_case("newer-version-missing", false);
}

#[test]
fn prerelease_mismatch() {
    component_case("prerelease-mismatch", false);
}

#[test]
fn release_candidate_of_a_release_the_host_has() {
    component_case("rc-vs-final", false);
}

#[test]
fn wasi_0_2_and_0_3_are_different_series() {
    component_case("major-mismatch", false);
}

#[test]
fn async_functions_are_marked_in_json() {
    component_case("async-functions", true);
}

#[test]
fn no_provider() {
    component_case("no-provider", false);
}

#[test]
fn wrong_function_type() {
    component_case("wrong-type", false);
}

#[test]
fn several_problems() {
    component_case("several-problems", false);
}

#[test]
fn two_versions_side_by_side() {
    let offers = side_by_side_offers();
    component_case_on("side-by-side", true, &offers);
    component_case_on("side-by-side-draft", true, &offers);
}

#[test]
fn core_module() {
    let err = decode_error_case("core-module", "core-module.wasm", &fixture("core-module"));
    assert_eq!(err.kind(), "core-module");
}

#[test]
fn garbage_bytes() {
    let err = decode_error_case("garbage", "garbage.wasm", b"GIF89a, not WebAssembly");
    assert_eq!(err.kind(), "not-wasm");
}

#[test]
fn empty_file() {
    let err = decode_error_case("empty", "empty.wasm", b"");
    assert_eq!(err.kind(), "not-wasm");
}

#[test]
fn truncated_file() {
    let bytes = fixture("ok-older-version");
    let err = decode_error_case("truncated", "truncated.wasm", &bytes[..bytes.len() * 2 / 3]);
    assert_eq!(err.kind(), "malformed");
    assert!(err.offset().is_some());
}

/// Every fixture has its goldens, and every golden belongs to a case.
#[test]
fn every_fixture_has_a_golden() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut cases: Vec<String> = std::fs::read_dir(&fixtures)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    cases.extend(["garbage", "empty", "truncated"].map(String::from));
    let mut expected: Vec<String> = cases
        .iter()
        .flat_map(|c| [format!("{c}.json"), format!("{c}.txt")])
        .collect();
    expected.sort();
    let mut goldens: Vec<String> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    goldens.sort();
    assert_eq!(goldens, expected);
}
