//! `manifold.toml`: any text either parses and validates into a manifest and then a plan, or
//! is refused with an error; nothing panics, and a plan never escapes its app's data
//! directory by its name.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use manifold_config::{AppPlan, CliOverrides, Manifest, Mode};

/// One directory for the whole run, so an execution costs one small file write.
fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("a temporary directory"))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if Manifest::parse(text, Path::new("fuzz/manifold.toml")).is_err() {
        return;
    }
    let path = dir().path().join("manifold.toml");
    std::fs::write(&path, text).expect("writing the manifest");
    for mode in [Mode::Run, Mode::Serve] {
        let Ok(plan) = AppPlan::from_manifest(&path, &CliOverrides::default(), mode) else {
            continue;
        };
        // The app's name scopes its data: it is one path segment, never `..`.
        assert!(
            !plan.name.contains('/') && plan.name != ".." && plan.name != ".",
            "app name {:?} is not one safe path segment",
            plan.name
        );
    }
});
