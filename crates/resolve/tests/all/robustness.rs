//! No input makes decoding panic: every truncation of a real component, corrupted bytes,
//! random bytes after a valid header, random bytes.

use manifold_resolve::decode_component;

use crate::host::fixture;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn every_truncation_is_an_error_with_an_offset() {
    let bytes = fixture("ok-older-version");
    let mut errors = 0;
    for len in 8..bytes.len() {
        // A component cut right after a section can be a valid (smaller) component.
        if let Err(err) = decode_component(&bytes[..len], "t.wasm") {
            assert_eq!(err.kind(), "malformed", "length {len}: {err}");
            assert!(
                err.offset().is_some_and(|o| o <= len),
                "length {len}: {err}"
            );
            errors += 1;
        }
    }
    assert!(errors > bytes.len() * 9 / 10, "{errors} of {}", bytes.len());
    for len in 0..8 {
        assert!(decode_component(&bytes[..len], "t.wasm").is_err());
    }
    assert!(decode_component(&bytes, "t.wasm").is_ok());
}

#[test]
fn corrupted_and_random_bytes_never_panic() {
    let components = [fixture("ok-older-version"), fixture("several-problems")];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for original in &components {
        for _ in 0..2000 {
            let mut bytes = original.clone();
            for _ in 0..=(rng.next() % 4) {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] = rng.next() as u8;
            }
            let _ = decode_component(&bytes, "corrupt.wasm");
        }
    }
    let header = &components[0][..8];
    for n in 0..500 {
        let mut bytes = header.to_vec();
        bytes.extend(rng.bytes(n));
        let _ = decode_component(&bytes, "random-body.wasm");
        let _ = decode_component(&rng.bytes(n), "random.wasm");
    }
}
