//! The compile cache: a second run skips compilation; damaged entries are rebuilt.

use manifold_test_programs as programs;

use crate::util::stderr;

fn run_with_cache(dir: &std::path::Path) -> std::process::Output {
    crate::util::manifold()
        .args([
            "run",
            "-v",
            "--cache-dir",
            dir.to_str().unwrap(),
            programs::CLI_PROBE,
        ])
        .output()
        .unwrap()
}

fn entries(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn second_run_hits_and_damage_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_with_cache(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("cache=Miss"), "{}", stderr(&out));
    let files = entries(dir.path());
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_str().unwrap().to_string();
    let sha = {
        use std::process::Command;
        let o = Command::new("sha256sum")
            .arg(programs::CLI_PROBE)
            .output()
            .unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    assert!(
        name.starts_with(&sha),
        "entry {name} is keyed by the component's sha256 {sha}"
    );

    let out = run_with_cache(dir.path());
    assert!(stderr(&out).contains("cache=Hit"), "{}", stderr(&out));

    // Flip a byte in the middle of the compiled code: detected, rebuilt, still runs.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&files[0], &bytes).unwrap();
    let out = run_with_cache(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("cache=Rebuilt"), "{}", stderr(&out));
    assert!(crate::util::stdout(&out).contains("hello from cli-probe"));
    let out = run_with_cache(dir.path());
    assert!(stderr(&out).contains("cache=Hit"), "{}", stderr(&out));

    // --no-cache neither reads nor writes.
    let empty = tempfile::tempdir().unwrap();
    let out = crate::util::manifold()
        .args([
            "run",
            "-v",
            "--no-cache",
            "--cache-dir",
            empty.path().to_str().unwrap(),
            programs::CLI_PROBE,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(entries(empty.path()).is_empty());
}
