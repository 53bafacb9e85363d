//! How an app's bucket and a guest's key are spelled in NATS, whose names are narrow:
//! JetStream bucket names are `[A-Za-z0-9_-]+` and key-value keys `[-/_=.A-Za-z0-9]+` (`.`
//! separating subject tokens), while bucket, app and key names of guests are any UTF-8.
//!
//! Both mappings are injective, so two apps, two buckets or two keys never share a NATS name;
//! keys are also decoded back for `list-keys`.

use manifold_builtin_keyvalue::ScopedBucket;
use sha2::{Digest, Sha256};

/// The longest JetStream bucket name we make: the stream is `KV_` + the name, and the server
/// stores a stream in a directory of that name, so it has to stay well under the 255 bytes of
/// a file name.
pub(crate) const MAX_BUCKET_NAME: usize = 200;

/// The longest encoded key we send. NATS closes a connection whose protocol line (`HPUB
/// $KV.BUCKET.KEY REPLY …`) exceeds the server's `max_control_line` (4096 bytes by default),
/// which would cut off every other app on the connection, so longer keys are refused first.
pub(crate) const MAX_ENCODED_KEY: usize = 3000;

/// The JetStream bucket of an app's bucket.
///
/// Readable when it fits: `mf-APP-BUCKET`, with every byte of the names outside `[A-Za-z0-9]`
/// written `_` + two lowercase hex digits (so neither part contains `-`, and the split is
/// unambiguous). Names whose readable form is longer than [`MAX_BUCKET_NAME`] become
/// `mfh-` + the SHA-256 of both names (length-prefixed), in hex: distinct from every readable
/// name (`mfh-` is not `mf-` + an encoded app), and distinct from each other unless SHA-256
/// collides.
pub(crate) fn bucket_name(scope: &ScopedBucket) -> String {
    let readable = format!(
        "mf-{}-{}",
        encode_name(scope.app()),
        encode_name(scope.bucket())
    );
    if readable.len() <= MAX_BUCKET_NAME {
        return readable;
    }
    let mut hash = Sha256::new();
    for part in [scope.app(), scope.bucket()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    format!("mfh-{}", hex::encode(hash.finalize()))
}

fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for &byte in name.as_bytes() {
        if byte.is_ascii_alphanumeric() {
            out.push(char::from(byte));
        } else {
            out.push('_');
            out.push_str(&hex::encode([byte]));
        }
    }
    out
}

/// The NATS key of a guest's key, or `None` if it would be longer than [`MAX_ENCODED_KEY`].
///
/// Bytes in `[A-Za-z0-9_/-]` stay as they are; every other byte (`.`, `=`, `*`, `>`, a space,
/// UTF-8 beyond ASCII) is written `=` + two uppercase hex digits. The empty key, which NATS
/// does not allow, is `=` alone (no other key encodes to it: an escape is always three bytes).
pub(crate) fn encode_key(key: &str) -> Option<String> {
    if key.is_empty() {
        return Some("=".to_owned());
    }
    let mut out = String::with_capacity(key.len());
    for &byte in key.as_bytes() {
        if keeps(byte) {
            out.push(char::from(byte));
        } else {
            out.push('=');
            out.push_str(&hex::encode_upper([byte]));
        }
        if out.len() > MAX_ENCODED_KEY {
            return None;
        }
    }
    Some(out)
}

fn keeps(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'/' | b'-')
}

/// The guest's key of a NATS key that [`encode_key`] made; `None` for any other (a key someone
/// wrote into the bucket by other means), which `list-keys` then leaves out.
pub(crate) fn decode_key(encoded: &str) -> Option<String> {
    if encoded == "=" {
        return Some(String::new());
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            let hex = bytes.get(i + 1..i + 3)?;
            if hex.iter().any(u8::is_ascii_lowercase) {
                return None;
            }
            let byte = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let key = String::from_utf8(out).ok()?;
    // Only the canonical spelling decodes, so decoding is the inverse of encoding.
    (encode_key(&key).as_deref() == Some(encoded)).then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(app: &str, bucket: &str) -> ScopedBucket {
        ScopedBucket::checked(app, bucket).expect("valid names")
    }

    fn valid_bucket(name: &str) -> bool {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    }

    #[test]
    fn bucket_names_are_valid_readable_and_distinct() {
        assert_eq!(bucket_name(&scope("shop", "default")), "mf-shop-default");
        assert_eq!(bucket_name(&scope("team/a", "x-y")), "mf-team_2fa-x_2dy");
        let tricky = [
            ("a", "b-c"),
            ("a-b", "c"),
            ("a_2db", "c"),
            ("a", "b_2dc"),
            ("ü", "x"),
            ("_c3_bc", "x"),
            ("team/app", "cache"),
            ("team", "app"),
        ];
        let names: Vec<String> = tricky
            .iter()
            .map(|(a, b)| bucket_name(&scope(a, b)))
            .collect();
        for (i, name) in names.iter().enumerate() {
            assert!(valid_bucket(name), "{name}");
            for other in &names[i + 1..] {
                assert_ne!(name, other);
            }
        }
    }

    #[test]
    fn long_names_are_hashed_within_the_limit() {
        let long = "é".repeat(127);
        let a = bucket_name(&scope(&long, "default"));
        let b = bucket_name(&scope(&long, "other"));
        assert!(a.starts_with("mfh-") && a.len() <= MAX_BUCKET_NAME, "{a}");
        assert!(valid_bucket(&a));
        assert_ne!(a, b);
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart in the hash, too.
        let x = "x".repeat(150);
        assert_ne!(
            bucket_name(&scope(&format!("{x}a"), &format!("b{x}"))),
            bucket_name(&scope(&format!("{x}ab"), &x))
        );
    }

    #[test]
    fn keys_round_trip_and_stay_valid_nats_keys() {
        for key in [
            "",
            "k",
            "a.b",
            "a..b",
            ".",
            "=",
            "=3D",
            "*",
            ">",
            "with space",
            "ünïcode",
            "path/like-key_1",
            "$KV",
        ] {
            let encoded = encode_key(key).expect("short");
            assert!(
                !encoded.is_empty()
                    && encoded.bytes().all(|b| keeps(b) || b == b'=')
                    && !encoded.starts_with('.'),
                "{key:?} -> {encoded}"
            );
            assert_eq!(decode_key(&encoded).as_deref(), Some(key), "{encoded}");
        }
        assert_eq!(encode_key("a.b").as_deref(), Some("a=2Eb"));
        assert_ne!(encode_key("=3D"), encode_key("="));
    }

    #[test]
    fn foreign_and_non_canonical_keys_do_not_decode() {
        for foreign in ["a.b", "=2e", "=2", "=ZZ", "=41", "=FF"] {
            assert_eq!(decode_key(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn over_long_keys_are_refused() {
        assert!(encode_key(&"k".repeat(MAX_ENCODED_KEY)).is_some());
        assert!(encode_key(&"k".repeat(MAX_ENCODED_KEY + 1)).is_none());
        assert!(encode_key(&".".repeat(MAX_ENCODED_KEY / 3 + 1)).is_none());
    }
}
