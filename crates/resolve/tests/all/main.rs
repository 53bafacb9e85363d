//! Integration tests of `manifold-resolve`, in one binary: golden reports built from the WAT
//! fixtures in `tests/fixtures/`, robustness against broken files, and the real guests of
//! `manifold-test-programs`.
//!
//! Regenerate the golden files (`tests/golden/`) after an intended change of wording with
//! `UPDATE_GOLDEN=1 cargo test --release -p manifold-resolve`, and review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

mod docs;
mod golden;
mod guests;
mod host;
mod robustness;
mod rules;
