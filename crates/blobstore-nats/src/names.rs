//! How an app's containers and objects are spelled in NATS.
//!
//! Each app has one JetStream object store, `mf-APP` (the app name encoded to NATS's bucket
//! alphabet `[A-Za-z0-9_-]`), so two apps never share a stream. Inside it, container `c` is a
//! zero-byte marker object named `c`, and object `o` of container `c` is the object named
//! `c/o`. Container names never contain `/` (see `check_container_name`), so a marker never
//! collides with an object and `c/o` splits back at its first `/`: the mapping is injective.
//! The object store writes names base64-encoded into subjects, so any UTF-8 is fine there.

use sha2::{Digest, Sha256};

/// The longest object store name we make: the stream is `OBJ_` + the name, and the server
/// stores a stream in a directory of that name, so it has to stay well under the 255 bytes of
/// a file name.
pub(crate) const MAX_BUCKET_NAME: usize = 200;

/// The object store of app `app`.
///
/// Readable when it fits: `mf-` + the app name with every byte outside `[A-Za-z0-9]` written
/// `_` + two lowercase hex digits. Longer names become `mfh-` + the SHA-256 of the app name in
/// hex: distinct from every readable name, and from each other unless SHA-256 collides.
pub(crate) fn bucket_name(app: &str) -> String {
    let mut readable = String::with_capacity(app.len() + 3);
    readable.push_str("mf-");
    for &byte in app.as_bytes() {
        if byte.is_ascii_alphanumeric() {
            readable.push(char::from(byte));
        } else {
            readable.push('_');
            readable.push_str(&hex::encode([byte]));
        }
    }
    if readable.len() <= MAX_BUCKET_NAME {
        return readable;
    }
    format!("mfh-{}", hex::encode(Sha256::digest(app.as_bytes())))
}

/// The object store name of the marker object of container `container`.
pub(crate) fn marker_name(container: &str) -> String {
    container.to_owned()
}

/// The object store name of object `object` of container `container`.
pub(crate) fn object_name(container: &str, object: &str) -> String {
    format!("{container}/{object}")
}

/// The prefix of every object store name of container `container`'s objects.
pub(crate) fn object_prefix(container: &str) -> String {
    format!("{container}/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_bucket(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    #[test]
    fn bucket_names_are_valid_readable_and_distinct() {
        assert_eq!(bucket_name("shop"), "mf-shop");
        assert_eq!(bucket_name("team/a-b"), "mf-team_2fa_2db");
        let tricky = ["a-b", "a_2db", "a/b", "ü", "_c3_bc", "team/app", "teamapp"];
        let names: Vec<String> = tricky.iter().map(|a| bucket_name(a)).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(valid_bucket(name), "{name}");
            for other in &names[i + 1..] {
                assert_ne!(name, other);
            }
        }
    }

    #[test]
    fn long_app_names_are_hashed_within_the_limit() {
        let long = "é".repeat(120);
        let a = bucket_name(&long);
        assert!(a.starts_with("mfh-") && a.len() <= MAX_BUCKET_NAME, "{a}");
        assert!(valid_bucket(&a));
        assert_ne!(a, bucket_name(&format!("{long}x")));
    }

    #[test]
    fn markers_and_objects_never_collide() {
        // A container named like another container's object cannot exist (no `/`), so the
        // only names in one store are `c` (markers) and `c/o` (objects).
        assert_ne!(marker_name("a"), object_name("a", ""));
        assert_eq!(object_name("a", "b/c"), "a/b/c");
        assert!(object_name("a", "b/c").starts_with(&object_prefix("a")));
        assert!(!object_name("ab", "c").starts_with(&object_prefix("a")));
    }
}
