//! The wire encoding of component values between the host and a plugin: the component
//! model's value definition encoding, as wRPC uses it (see `docs/plugins.md#wire-encoding`).
//!
//! | type | bytes |
//! |---|---|
//! | `bool`, `u8`, `s8` | one byte |
//! | `u16`, `u32`, `u64` | unsigned LEB128 |
//! | `s16`, `s32`, `s64` | signed LEB128 |
//! | `f32`, `f64` | little-endian IEEE 754 (NaN canonical) |
//! | `char` | its UTF-8 bytes |
//! | `string`, `list<T>` | LEB128 length (bytes, elements), then the bytes / elements |
//! | record, tuple | the fields in order |
//! | variant, enum | LEB128 case index, then the case's payload if any |
//! | `option<T>` | `0` or `1` then `T` |
//! | `result<T, E>` | `0` then `T`, or `1` then `E` |
//! | flags | a little-endian bit set of ⌈n/8⌉ bytes, bit i = flag i |
//! | `own<R>`, `borrow<R>` | the plugin's handle: LEB128 length, then opaque bytes |
//!
//! Parameters are encoded one after another; so are results.

use thiserror::Error;

/// A malformed or truncated value from a plugin.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WireError {
    #[error("value ends early (needed {needed} more bytes at offset {offset})")]
    Truncated { offset: usize, needed: usize },
    #[error("bad LEB128 integer at offset {0}")]
    BadLeb(usize),
    #[error("integer {value} out of range for {ty} at offset {offset}")]
    OutOfRange {
        value: i128,
        ty: &'static str,
        offset: usize,
    },
    #[error("invalid {what} at offset {offset}")]
    Invalid { what: &'static str, offset: usize },
    #[error("{0} trailing bytes after the last value")]
    Trailing(usize),
    #[error("value nested too deeply")]
    TooDeep,
}

/// Appends encodings to a buffer.
pub mod put {
    pub fn uleb(out: &mut Vec<u8>, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    pub fn sleb(out: &mut Vec<u8>, mut v: i64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            let done = (v == 0 && byte & 0x40 == 0) || (v == -1 && byte & 0x40 != 0);
            if done {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
        uleb(out, b.len() as u64);
        out.extend_from_slice(b);
    }

    pub fn f32(out: &mut Vec<u8>, v: f32) {
        let v = if v.is_nan() {
            f32::from_bits(0x7fc0_0000)
        } else {
            v
        };
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(out: &mut Vec<u8>, v: f64) {
        let v = if v.is_nan() {
            f64::from_bits(0x7ff8_0000_0000_0000)
        } else {
            v
        };
        out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn char(out: &mut Vec<u8>, c: char) {
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// `names` are the type's flags in order; `set` says which are set.
    pub fn flags(out: &mut Vec<u8>, count: usize, set: impl Iterator<Item = usize>) {
        let start = out.len();
        out.resize(start + count.div_ceil(8).max(1), 0);
        for i in set {
            out[start + i / 8] |= 1 << (i % 8);
        }
    }
}

/// Reads encodings from a byte slice, remembering the offset for messages.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Errors unless every byte was read.
    pub fn finish(&self) -> Result<(), WireError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            n => Err(WireError::Trailing(n)),
        }
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() - self.pos < n {
            return Err(WireError::Truncated {
                offset: self.pos,
                needed: n - (self.buf.len() - self.pos),
            });
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    pub fn bool(&mut self) -> Result<bool, WireError> {
        let at = self.pos;
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Invalid {
                what: "bool",
                offset: at,
            }),
        }
    }

    pub fn uleb(&mut self, bits: u32) -> Result<u64, WireError> {
        let at = self.pos;
        let mut result: u64 = 0;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            if shift >= 64 || (shift == 63 && byte > 1) {
                return Err(WireError::BadLeb(at));
            }
            result |= u64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if bits < 64 && result >> bits != 0 {
            return Err(WireError::OutOfRange {
                value: result.into(),
                ty: unsigned_name(bits),
                offset: at,
            });
        }
        Ok(result)
    }

    pub fn sleb(&mut self, bits: u32) -> Result<i64, WireError> {
        let at = self.pos;
        let mut result: i64 = 0;
        let mut shift = 0u32;
        let mut byte;
        loop {
            byte = self.byte()?;
            if shift >= 64 {
                return Err(WireError::BadLeb(at));
            }
            result |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        if shift < 64 && byte & 0x40 != 0 {
            result |= -1i64 << shift;
        }
        if bits < 64 {
            let min = -(1i64 << (bits - 1));
            let max = (1i64 << (bits - 1)) - 1;
            if result < min || result > max {
                return Err(WireError::OutOfRange {
                    value: result.into(),
                    ty: signed_name(bits),
                    offset: at,
                });
            }
        }
        Ok(result)
    }

    /// A length that must fit in what is left (each element takes at least `min_size`
    /// bytes), so a hostile length cannot make the host allocate.
    pub fn len(&mut self, min_size: usize) -> Result<usize, WireError> {
        let at = self.pos;
        let n = self.uleb(32)? as usize;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_size) > left {
            return Err(WireError::Truncated {
                offset: at,
                needed: n.saturating_mul(min_size) - left,
            });
        }
        Ok(n)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.len(1)?;
        self.take(n)
    }

    pub fn string(&mut self) -> Result<&'a str, WireError> {
        let at = self.pos;
        let b = self.bytes()?;
        std::str::from_utf8(b).map_err(|_| WireError::Invalid {
            what: "UTF-8 string",
            offset: at,
        })
    }

    pub fn f32(&mut self) -> Result<f32, WireError> {
        let b = self.take(4)?;
        Ok(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn f64(&mut self) -> Result<f64, WireError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(f64::from_le_bytes(a))
    }

    pub fn char(&mut self) -> Result<char, WireError> {
        let at = self.pos;
        let first = self.byte()?;
        let len = match first {
            0x00..=0x7f => 1,
            0xc0..=0xdf => 2,
            0xe0..=0xef => 3,
            0xf0..=0xf7 => 4,
            _ => {
                return Err(WireError::Invalid {
                    what: "char",
                    offset: at,
                });
            }
        };
        let rest = self.take(len - 1)?;
        let mut buf = [first, 0, 0, 0];
        buf[1..len].copy_from_slice(rest);
        std::str::from_utf8(&buf[..len])
            .ok()
            .and_then(|s| s.chars().next())
            .ok_or(WireError::Invalid {
                what: "char",
                offset: at,
            })
    }

    /// Flag indices that are set, for a type of `count` flags.
    pub fn flags(&mut self, count: usize) -> Result<Vec<usize>, WireError> {
        let at = self.pos;
        let bytes = self.take(count.div_ceil(8).max(1))?;
        let mut set = Vec::new();
        for (i, byte) in bytes.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    let index = i * 8 + bit;
                    if index >= count {
                        return Err(WireError::Invalid {
                            what: "flags (unknown flag set)",
                            offset: at,
                        });
                    }
                    set.push(index);
                }
            }
        }
        Ok(set)
    }
}

fn unsigned_name(bits: u32) -> &'static str {
    match bits {
        8 => "u8",
        16 => "u16",
        32 => "u32",
        _ => "u64",
    }
}

fn signed_name(bits: u32) -> &'static str {
    match bits {
        8 => "s8",
        16 => "s16",
        32 => "s32",
        _ => "s64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leb_round_trips() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            put::uleb(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.uleb(64).unwrap(), v);
            r.finish().unwrap();
        }
        for v in [
            0i64,
            1,
            -1,
            63,
            64,
            -64,
            -65,
            i32::MIN as i64,
            i64::MIN,
            i64::MAX,
        ] {
            let mut out = Vec::new();
            put::sleb(&mut out, v);
            let mut r = Reader::new(&out);
            assert_eq!(r.sleb(64).unwrap(), v, "{v}");
            r.finish().unwrap();
        }
    }

    #[test]
    fn known_encodings() {
        let mut out = Vec::new();
        put::uleb(&mut out, 624485);
        assert_eq!(out, [0xe5, 0x8e, 0x26]);
        out.clear();
        put::sleb(&mut out, -123456);
        assert_eq!(out, [0xc0, 0xbb, 0x78]);
    }

    #[test]
    fn hostile_input_is_an_error() {
        assert!(matches!(
            Reader::new(&[0xff; 20]).uleb(64),
            Err(WireError::BadLeb(0))
        ));
        assert!(matches!(
            Reader::new(&[0x80, 0x02]).uleb(8),
            Err(WireError::OutOfRange { .. })
        ));
        // A list claiming 2^31 elements in three bytes does not allocate.
        let mut out = Vec::new();
        put::uleb(&mut out, 1 << 31);
        assert!(matches!(
            Reader::new(&out).len(1),
            Err(WireError::Truncated { .. })
        ));
        assert!(Reader::new(&[2, 0xff, 0xfe]).string().is_err());
        assert!(Reader::new(&[0xed, 0xa0, 0x80]).char().is_err());
        assert!(Reader::new(&[0b1000]).flags(3).is_err());
        assert!(Reader::new(&[2]).bool().is_err());
    }
}
