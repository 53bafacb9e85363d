//! Typed bindings: [`generate!`](crate::generate), and what its code stands on: [`Wire`], the
//! wire codec of plain Rust values (no [`Value`](crate::Value) in between), and [`Table`],
//! which keeps a plugin's resources behind the opaque handles the host sees. Generated code
//! names these items; a plugin author does not need to.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use manifold_plugin_api::wire::{Reader, WireError, put};

/// Typed bindings for a plugin, generated from its WIT file (a path relative to the crate's
/// `Cargo.toml`; one package, the text the host receives as
/// [`Dispatch::WIT`](crate::Dispatch::WIT)).
///
/// It emits `WIT`, a module per interface with a Rust type per WIT type, a trait per
/// resource and the interface's trait `Interface`, and `Exports<T>`: the
/// [`Dispatch`](crate::Dispatch) of a plugin `T` that implements the interface traits, which
/// keeps `T`'s resources behind opaque handles. Functions return their WIT results plainly;
/// a failure the WIT does not foresee is a panic, which fails that call only.
/// `docs/plugins.md` has the whole mapping.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// use manifold_plugin_sdk::Dispatch;
///
/// manifold_plugin_sdk::generate!("tests/wit/billing.wit");
///
/// #[derive(Default)]
/// struct Billing;
///
/// impl charge::Interface for Billing {
///     type Invoice = Invoice;
///     fn charge(&self, cents: u64) -> u64 {
///         cents * 100
///     }
///     fn total(&self, a: &Invoice, b: &Invoice) -> u64 {
///         a.0.load(Ordering::Relaxed) + b.0.load(Ordering::Relaxed)
///     }
/// }
///
/// struct Invoice(AtomicU64);
///
/// impl charge::Invoice for Invoice {
///     fn new(start: u64) -> Self {
///         Invoice(AtomicU64::new(start))
///     }
///     fn add(&self, n: u64) -> u64 {
///         self.0.fetch_add(n, Ordering::Relaxed) + n
///     }
/// }
///
/// // In a plugin: `export_plugin!(Exports<Billing>);`. Here, a call as the
/// // host makes it: `charge(5)`, parameters and results in the wire encoding.
/// fn main() {
///     let plugin = Exports::<Billing>::default();
///     let charge = plugin.lookup("acme:billing/charge@0.1.0", "charge").unwrap();
///     let mut out = Vec::new();
///     plugin.call(charge, &[5], &mut out).unwrap();
///     assert_eq!(out, [0xf4, 0x03]); // 500, LEB128
/// }
/// ```
#[doc(inline)]
pub use manifold_plugin_sdk_macros::generate;

/// A Rust value with a wire encoding of its own (`docs/plugins.md#wire-encoding`): what a
/// WIT type without resources maps to. Generated records, variants, enums and flags
/// implement it too.
pub trait Wire: Sized {
    /// Appends the encoding of `self`.
    fn encode(&self, out: &mut Vec<u8>);

    /// Reads one value.
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError>;

    /// Appends a `list<Self>`; `u8` copies its bytes at once.
    #[doc(hidden)]
    fn encode_list(items: &[Self], out: &mut Vec<u8>) {
        put::uleb(out, items.len() as u64);
        for item in items {
            item.encode(out);
        }
    }

    /// Reads a `list<Self>`; `u8` copies its bytes at once.
    #[doc(hidden)]
    fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Self>, WireError> {
        // Every element takes a byte or more, so a hostile length cannot make us allocate.
        let n = r.len(1)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(Self::decode(r)?);
        }
        Ok(items)
    }
}

impl Wire for bool {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.bool()
    }
}

impl Wire for u8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.byte()
    }
    fn encode_list(items: &[u8], out: &mut Vec<u8>) {
        put::bytes(out, items);
    }
    fn decode_list(r: &mut Reader<'_>) -> Result<Vec<u8>, WireError> {
        Ok(r.bytes()?.to_vec())
    }
}

impl Wire for i8 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(r.byte()? as i8)
    }
}

macro_rules! leb {
    ($($ty:ty => $put:ident, $get:ident, $wide:ty, $bits:literal;)*) => {$(
        impl Wire for $ty {
            fn encode(&self, out: &mut Vec<u8>) {
                put::$put(out, <$wide>::from(*self));
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
                // `Reader` checked the range for `$bits` bits: the cast cannot truncate.
                Ok(r.$get($bits)? as $ty)
            }
        }
    )*};
}

leb! {
    u16 => uleb, uleb, u64, 16;
    u32 => uleb, uleb, u64, 32;
    u64 => uleb, uleb, u64, 64;
    i16 => sleb, sleb, i64, 16;
    i32 => sleb, sleb, i64, 32;
    i64 => sleb, sleb, i64, 64;
}

impl Wire for f32 {
    fn encode(&self, out: &mut Vec<u8>) {
        put::f32(out, *self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.f32()
    }
}

impl Wire for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        put::f64(out, *self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.f64()
    }
}

impl Wire for char {
    fn encode(&self, out: &mut Vec<u8>) {
        put::char(out, *self);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.char()
    }
}

impl Wire for String {
    fn encode(&self, out: &mut Vec<u8>) {
        put::bytes(out, self.as_bytes());
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        r.string().map(str::to_owned)
    }
}

impl<T: Wire> Wire for Vec<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        T::encode_list(self, out);
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        T::decode_list(r)
    }
}

impl<T: Wire> Wire for Option<T> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode(out);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match tag(r, "option tag")? {
            false => Ok(None),
            true => Ok(Some(T::decode(r)?)),
        }
    }
}

impl<T: Wire, E: Wire> Wire for Result<T, E> {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Ok(v) => {
                out.push(0);
                v.encode(out);
            }
            Err(e) => {
                out.push(1);
                e.encode(out);
            }
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
        match tag(r, "result tag")? {
            false => Ok(Ok(T::decode(r)?)),
            true => Ok(Err(E::decode(r)?)),
        }
    }
}

/// The tag of an `option` or a `result`: `false` for `none`/`ok`, `true` for `some`/`err`.
pub fn tag(r: &mut Reader<'_>, what: &'static str) -> Result<bool, WireError> {
    let at = r.offset();
    match r.byte()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(WireError::Invalid { what, offset: at }),
    }
}

/// The case index of a variant or enum of `cases` cases.
pub fn case(r: &mut Reader<'_>, cases: u32, what: &'static str) -> Result<u32, WireError> {
    let at = r.offset();
    let case = r.uleb(32)? as u32;
    if case >= cases {
        return Err(WireError::Invalid { what, offset: at });
    }
    Ok(case)
}

/// The bits of a flags value of `count` flags (at most 64).
pub fn flags(r: &mut Reader<'_>, count: usize) -> Result<u64, WireError> {
    Ok(r.flags(count)?.into_iter().fold(0, |bits, i| bits | 1 << i))
}

/// `()`: the missing payload of `result<_, E>` or `result<T>`, and `tuple<>`.
impl Wire for () {
    fn encode(&self, _: &mut Vec<u8>) {}
    fn decode(_: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(())
    }
}

macro_rules! tuples {
    ($(($($name:ident),+))*) => {$(
        #[allow(non_snake_case)]
        impl<$($name: Wire),+> Wire for ($($name,)+) {
            fn encode(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode(out);)+
            }
            fn decode(r: &mut Reader<'_>) -> Result<Self, WireError> {
                Ok(($($name::decode(r)?,)+))
            }
        }
    )*};
}

tuples! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
    (A, B, C, D, E, F, G, H, I)
    (A, B, C, D, E, F, G, H, I, J)
    (A, B, C, D, E, F, G, H, I, J, K)
    (A, B, C, D, E, F, G, H, I, J, K, L)
    (A, B, C, D, E, F, G, H, I, J, K, L, M)
    (A, B, C, D, E, F, G, H, I, J, K, L, M, N)
    (A, B, C, D, E, F, G, H, I, J, K, L, M, N, O)
    (A, B, C, D, E, F, G, H, I, J, K, L, M, N, O, P)
}

/// The live objects of one resource type, by handle. The host sees a handle as eight opaque
/// bytes (a little-endian id that is never reused, so a stale handle finds nothing rather
/// than another object); `[drop]r` removes the object, which Rust then drops.
pub struct Table<R> {
    next: AtomicU64,
    live: Mutex<HashMap<u64, Arc<R>>>,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table {
            next: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
        }
    }
}

impl<R> Table<R> {
    fn live(&self) -> MutexGuard<'_, HashMap<u64, Arc<R>>> {
        // The lock is never held while plugin code runs, so a poisoned map is still whole.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many objects are alive (created and not yet dropped by the host).
    pub fn len(&self) -> usize {
        self.live().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps `object` and appends its new handle.
    pub fn insert(&self, object: R, out: &mut Vec<u8>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.live().insert(id, Arc::new(object));
        put::bytes(out, &id.to_le_bytes());
    }

    fn id(r: &mut Reader<'_>) -> Result<u64, WireError> {
        let at = r.offset();
        let bytes: [u8; 8] = r.bytes()?.try_into().map_err(|_| WireError::Invalid {
            what: "handle (not one of this plugin's)",
            offset: at,
        })?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn gone(offset: usize) -> WireError {
        WireError::Invalid {
            what: "handle (its resource was dropped, or never existed)",
            offset,
        }
    }

    /// The object of a `borrow<R>` handle, kept alive for the call even if the host drops
    /// it meanwhile.
    pub fn get(&self, r: &mut Reader<'_>) -> Result<Arc<R>, WireError> {
        let at = r.offset();
        let id = Self::id(r)?;
        self.live().get(&id).cloned().ok_or_else(|| Self::gone(at))
    }

    /// The object of an `own<R>` handle, which the host gives up.
    pub fn take(&self, r: &mut Reader<'_>) -> Result<R, WireError> {
        let at = r.offset();
        let id = Self::id(r)?;
        let object = self.live().remove(&id).ok_or_else(|| Self::gone(at))?;
        Arc::try_unwrap(object).map_err(|object| {
            // Borrowed by a call still running: put it back rather than lose it.
            self.live().insert(id, object);
            WireError::Invalid {
                what: "handle (its resource is borrowed by a call in progress)",
                offset: at,
            }
        })
    }

    /// `[drop]r`: forgets the object of a handle (a handle already gone is an error).
    pub fn remove(&self, r: &mut Reader<'_>) -> Result<(), WireError> {
        let at = r.offset();
        let id = Self::id(r)?;
        // Dropped after the lock is released: the object's `Drop` is plugin code.
        let object = self.live().remove(&id);
        object.map(drop).ok_or_else(|| Self::gone(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Shape, Value, decode, encode};

    /// `Wire` and the `Value` codec agree, byte for byte, both ways.
    fn agree<T: Wire + PartialEq + std::fmt::Debug>(typed: T, value: Value, shape: Shape) {
        let mut ours = Vec::new();
        typed.encode(&mut ours);
        let mut theirs = Vec::new();
        encode(&value, &shape, &mut theirs).unwrap();
        assert_eq!(ours, theirs, "{value:?}");
        let mut r = Reader::new(&theirs);
        assert_eq!(T::decode(&mut r).unwrap(), typed);
        r.finish().unwrap();
        let mut r = Reader::new(&ours);
        assert_eq!(decode(&shape, &mut r).unwrap(), value);
    }

    #[test]
    fn primitives_agree_with_the_value_codec() {
        agree(true, Value::Bool(true), Shape::Bool);
        agree(200u8, Value::U8(200), Shape::U8);
        agree(-3i8, Value::S8(-3), Shape::S8);
        agree(65535u16, Value::U16(65535), Shape::U16);
        agree(-300i16, Value::S16(-300), Shape::S16);
        agree(u32::MAX, Value::U32(u32::MAX), Shape::U32);
        agree(i32::MIN, Value::S32(i32::MIN), Shape::S32);
        agree(u64::MAX, Value::U64(u64::MAX), Shape::U64);
        agree(i64::MIN, Value::S64(i64::MIN), Shape::S64);
        agree(1.5f32, Value::F32(1.5), Shape::F32);
        agree(-2.25f64, Value::F64(-2.25), Shape::F64);
        agree('ß', Value::Char('ß'), Shape::Char);
        agree(
            "héllo".to_string(),
            Value::String("héllo".into()),
            Shape::String,
        );
        agree(vec![1u8, 2, 3], Value::Bytes(vec![1, 2, 3]), Shape::Bytes);
        agree(
            vec!["b".to_string(), "a".into()],
            Value::List(vec![Value::String("b".into()), Value::String("a".into())]),
            Shape::List(Box::new(Shape::String)),
        );
        agree(
            Some(7u32),
            Value::Option(Some(Box::new(Value::U32(7)))),
            Shape::Option(Box::new(Shape::U32)),
        );
        agree(
            Err::<i64, String>("no".into()),
            Value::Result(Err(Some(Box::new(Value::String("no".into()))))),
            Shape::Result(Some(Box::new(Shape::S64)), Some(Box::new(Shape::String))),
        );
        agree(
            Ok::<(), ()>(()),
            Value::Result(Ok(None)),
            Shape::Result(None, None),
        );
        agree(
            (1u32, "x".to_string()),
            Value::Tuple(vec![Value::U32(1), Value::String("x".into())]),
            Shape::Tuple(vec![Shape::U32, Shape::String]),
        );
    }

    #[test]
    fn bad_bytes_are_errors() {
        assert!(Option::<u8>::decode(&mut Reader::new(&[2, 0])).is_err());
        assert!(Result::<u8, u8>::decode(&mut Reader::new(&[7, 0])).is_err());
        assert!(u16::decode(&mut Reader::new(&[0x80, 0x80, 0x04])).is_err());
        assert!(case(&mut Reader::new(&[3]), 3, "enum case").is_err());
        assert!(flags(&mut Reader::new(&[0b1000]), 3).is_err());
        // A hostile list length does not allocate.
        let mut out = Vec::new();
        put::uleb(&mut out, 1 << 31);
        assert!(Vec::<u32>::decode(&mut Reader::new(&out)).is_err());
    }

    #[test]
    fn handles_are_opaque_and_never_reused() {
        let table = Table::<String>::default();
        let mut out = Vec::new();
        table.insert("a".to_string(), &mut out);
        assert_eq!(table.len(), 1);
        let handle = out.clone();
        assert_eq!(*table.get(&mut Reader::new(&handle)).unwrap(), "a");
        let kept = table.get(&mut Reader::new(&handle)).unwrap();
        assert!(
            table.take(&mut Reader::new(&handle)).is_err(),
            "borrowed elsewhere"
        );
        drop(kept);
        assert_eq!(table.take(&mut Reader::new(&handle)).unwrap(), "a");
        assert!(table.is_empty());
        assert!(table.get(&mut Reader::new(&handle)).is_err());
        assert!(table.remove(&mut Reader::new(&handle)).is_err());
        out.clear();
        table.insert("b".to_string(), &mut out);
        assert_ne!(out, handle, "a new object gets a new handle");
        table.remove(&mut Reader::new(&out)).unwrap();
        assert!(table.is_empty());
        assert!(table.get(&mut Reader::new(&[3, 1, 2, 3])).is_err());
    }
}
