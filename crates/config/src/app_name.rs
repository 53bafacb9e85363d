//! The app's name: it scopes the app's data (its data directory, key-value buckets, blob
//! containers, Redis keys and NATS buckets), so two unrelated apps must never get the same
//! one by accident, and no name may reach outside the data directory.
//!
//! A name given by the user (`--name`, the manifest's `name`) is checked to be one safe path
//! segment. A default name is a readable part (the file's stem, the repository's or
//! package's last part, the manifest's directory) and a short hash of the whole identity (the
//! canonical path, or the registry and repository without tag or digest), so
//! `/tmp/x/api.wasm` and `~/prod/api.wasm`, or `ghcr.io/evil/app` and `ghcr.io/acme/app`,
//! are different apps, and versions of one repository are the same app.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Longest accepted name.
const MAX_LEN: usize = 100;

/// Checks a name the user chose: letters, digits, `.`, `-` and `_`, not starting with `.`
/// (so never `.` or `..`), at most 100 characters.
pub fn validate_app_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the app name is empty".into());
    }
    if name.len() > MAX_LEN {
        return Err(format!("the app name is longer than {MAX_LEN} characters"));
    }
    if name.starts_with('.') {
        return Err("the app name may not start with `.`".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "the app name may hold only letters, digits, `.`, `-` and `_` (it names the app's \
             data directory), not {bad:?}"
        ));
    }
    Ok(())
}

/// `READABLE-HASH`: the readable part cleaned to safe characters (at most 40), and the first
/// 8 hex digits of the SHA-256 of `identity`.
pub(crate) fn derived_name(readable: &str, identity: &str) -> String {
    let mut clean: String = readable
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(40)
        .collect();
    if clean.is_empty() {
        clean.push_str("app");
    }
    let digest = Sha256::digest(identity.as_bytes());
    format!("{clean}-{}", hex::encode(&digest[..4]))
}

/// The default name of an app made of one component file: its stem and its canonical path
/// (the absolute path when it cannot be canonicalized).
pub(crate) fn file_app_name(source: &Path) -> String {
    let stem = source
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into());
    derived_name(&stem, &canonical(source))
}

/// The default name of an app described by a manifest without a `name`: the directory's
/// name and its canonical path.
pub(crate) fn dir_app_name(dir: &Path) -> String {
    let canonical = canonical(dir);
    let readable = Path::new(&canonical)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "app".into());
    derived_name(&readable, &canonical)
}

/// The default name of an app from a registry: the last part of the repository or package,
/// and the reference without its tag, version or digest.
pub(crate) fn remote_app_name(text: &str) -> String {
    let no_digest = text.split('@').next().unwrap_or(text);
    let identity = match no_digest.rsplit_once('/') {
        // `registry/repo:tag`: the tag follows the last `:` after the last `/`.
        Some((head, tail)) => format!("{head}/{}", tail.split(':').next().unwrap_or(tail)),
        // `ns:name` (a package; its version followed the `@`).
        None => no_digest.to_string(),
    };
    let readable = identity.rsplit(['/', ':']).next().unwrap_or("app");
    derived_name(readable, &identity)
}

fn canonical(path: &Path) -> String {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_are_one_safe_segment() {
        for ok in ["shop", "api-v2", "my_app.prod", "A1"] {
            validate_app_name(ok).unwrap();
        }
        for bad in [
            "", ".", "..", "../../x", "a/b", ".hidden", "a b", "x:y", "a\\b",
        ] {
            assert!(validate_app_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_app_name(&"a".repeat(101)).is_err());
    }

    #[test]
    fn same_stem_in_two_directories_is_two_apps() {
        let one = tempfile::tempdir().unwrap();
        let two = tempfile::tempdir().unwrap();
        let a = one.path().join("api.wasm");
        let b = two.path().join("api.wasm");
        std::fs::write(&a, b"").unwrap();
        std::fs::write(&b, b"").unwrap();
        let (na, nb) = (file_app_name(&a), file_app_name(&b));
        assert_ne!(na, nb);
        assert!(
            na.starts_with("api-") && nb.starts_with("api-"),
            "{na} {nb}"
        );
        // The same file by another path is the same app.
        let dotted = one.path().join(".").join("api.wasm");
        assert_eq!(file_app_name(&dotted), na);
        validate_app_name(&na).unwrap();
    }

    #[test]
    fn remote_names_keep_the_whole_repository() {
        let evil = remote_app_name("ghcr.io/evil/app:1.0.0");
        let acme = remote_app_name("ghcr.io/acme/app:1.0.0");
        assert_ne!(evil, acme);
        assert!(acme.starts_with("app-"), "{acme}");
        // Versions and digests of one repository are one app.
        assert_eq!(remote_app_name("ghcr.io/acme/app:2.0.0"), acme);
        assert_eq!(
            remote_app_name(
                "ghcr.io/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
            ),
            acme
        );
        assert_eq!(
            remote_app_name("localhost:5000/acme/app"),
            remote_app_name("localhost:5000/acme/app:1")
        );
        // Packages: the version does not count, the namespace does.
        assert_eq!(
            remote_app_name("acme:app@1.0.0"),
            remote_app_name("acme:app@2.0.0")
        );
        assert_ne!(remote_app_name("acme:app"), remote_app_name("evil:app"));
        validate_app_name(&acme).unwrap();
    }
}
