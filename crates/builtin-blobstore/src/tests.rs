#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn nothing_granted_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let provider = BlobstoreProvider::new(&data, "app", &[], BlobLimits::default()).unwrap();
    assert!(provider.containers().is_empty());
    assert!(!data.exists(), "no directory for an app that uses no blobs");
}

#[test]
fn grants_are_checked_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let provider = BlobstoreProvider::new(
        dir.path(),
        "app",
        &strings(&["photos", "docs"]),
        BlobLimits::default(),
    )
    .unwrap();
    assert_eq!(provider.containers(), ["docs", "photos"]);
    assert!(dir.path().join(BLOBSTORE_DIR).is_dir());
    for bad in ["", "../x", "a/b", "..", "nul\0"] {
        let err =
            BlobstoreProvider::new(dir.path(), "app", &strings(&[bad]), BlobLimits::default())
                .err()
                .unwrap_or_else(|| panic!("{bad:?} was granted"));
        assert!(
            err.to_string().contains("cannot be granted"),
            "{bad:?}: {err}"
        );
    }
    let err = BlobstoreProvider::new(dir.path(), "", &strings(&["x"]), BlobLimits::default())
        .err()
        .unwrap();
    assert!(err.to_string().contains("app name"), "{err}");
}

#[test]
fn offers_the_three_interfaces_of_the_draft_with_their_wit() {
    let offered: Vec<String> = BlobstoreProvider::offered()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        offered,
        [
            "wasi:blobstore/blobstore@0.2.0-draft",
            "wasi:blobstore/container@0.2.0-draft",
            "wasi:blobstore/types@0.2.0-draft",
        ]
    );
    let resolve = wit::shared();
    for name in BlobstoreProvider::offered() {
        assert!(
            manifold_wit::interface(&resolve, &name).is_some(),
            "{name} missing from the embedded WIT"
        );
    }
}
