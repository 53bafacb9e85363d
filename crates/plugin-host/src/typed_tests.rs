//! The typed trampolines' encoders and decoders against the dynamic codec: the same bytes
//! out for every value, the same values or the same error messages back for every answer,
//! well-formed or not; and which signatures get a trampoline.

use std::sync::Arc;

use bytes::Bytes;
use manifold_provider::InstanceState;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Val};
use wasmtime::{Config, Engine, Store};

use super::*;
use crate::handles::HandleOwner;
use crate::transport::{CallError, CallFuture, Transport};

/// A component importing `f-T: func(x: T) -> T` for every fast type, for real component types.
const TYPES: &str = r#"(component
    (import "f-bool" (func (param "x" bool) (result bool)))
    (import "f-u8" (func (param "x" u8) (result u8)))
    (import "f-s8" (func (param "x" s8) (result s8)))
    (import "f-u16" (func (param "x" u16) (result u16)))
    (import "f-s16" (func (param "x" s16) (result s16)))
    (import "f-u32" (func (param "x" u32) (result u32)))
    (import "f-s32" (func (param "x" s32) (result s32)))
    (import "f-u64" (func (param "x" u64) (result u64)))
    (import "f-s64" (func (param "x" s64) (result s64)))
    (import "f-f32" (func (param "x" f32) (result f32)))
    (import "f-f64" (func (param "x" f64) (result f64)))
    (import "f-char" (func (param "x" char) (result char)))
    (import "f-string" (func (param "x" string) (result string)))
    (import "f-bytes" (func (param "x" (list u8)) (result (list u8))))
)"#;

struct Nowhere;

impl Transport for Nowhere {
    fn call<'a>(&'a self, _: &'a str, _: &'a str, _: Bytes) -> CallFuture<'a> {
        Box::pin(std::future::ready(Err(CallError::Unreachable {
            plugin: "p".into(),
            func: "f".into(),
            message: "not in tests".into(),
        })))
    }
}

struct Fixture {
    store: Store<InstanceState>,
    funcs: Vec<(String, ComponentFunc)>,
    target: Target,
}

impl Fixture {
    fn new() -> Fixture {
        let mut config = Config::new();
        config.wasm_component_model(true);
        let engine = Engine::new(&config).unwrap();
        let component = Component::new(&engine, TYPES).unwrap();
        let funcs = component
            .component_type()
            .imports(&engine)
            .map(|(name, item)| match item.ty {
                ComponentItem::ComponentFunc(f) => (name.to_owned(), f),
                other => panic!("{name}: {other:?}"),
            })
            .collect();
        let owner = Arc::new(HandleOwner {
            plugin: "p".into(),
            transport: Arc::new(Nowhere),
            resources: Vec::new(),
        });
        Fixture {
            // Enough memory that the dynamic path's element budget does not cut the long lists.
            store: Store::new(&engine, InstanceState::new(64 << 20)),
            funcs,
            target: Target {
                owner,
                instance: "t:t/t@1.0.0".into(),
                rpc_name: "f".into(),
                label: "t:t/t@1.0.0#f".into(),
                route: Route::Remote,
            },
        }
    }

    fn func(&self, name: &str) -> ComponentFunc {
        self.funcs
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1
            .clone()
    }

    /// The dynamic codec's encoding of `value` as `func`'s parameter.
    fn dynamic_encoding(&mut self, func: &str, value: &Val) -> Vec<u8> {
        let ty = self.func(func);
        let mut store = self.store.as_context_mut();
        self.target
            .encode(&mut store, &ty, std::slice::from_ref(value), Vec::new())
            .unwrap()
    }

    /// The dynamic path's answer for `reply` as `func`'s result: the value or the message.
    fn dynamic_answer(&mut self, func: &str, reply: &[u8]) -> Result<String, String> {
        let ty = self.func(func);
        let mut results = [Val::Bool(false)];
        let mut store = self.store.as_context_mut();
        self.target
            .decode(&mut store, &ty, reply, &mut results)
            .map(|()| format!("{:?}", results[0]))
            .map_err(|e| format!("{e:#}"))
    }
}

use wasmtime::AsContextMut as _;

/// The typed side of one type: its encoder and its decoder (as the `Val` it lowers to).
trait Typed: Sized {
    fn encode(&self) -> Vec<u8>;
    fn answer(target: &Target, reply: &[u8]) -> Result<String, String>;
}

macro_rules! typed {
    ($($ty:ty => $val:ident),* $(,)?) => {$(
        impl Typed for $ty {
            fn encode(&self) -> Vec<u8> {
                let mut out = Vec::new();
                self.put(&mut out);
                out
            }
            fn answer(target: &Target, reply: &[u8]) -> Result<String, String> {
                target
                    .results::<($ty,)>(reply)
                    .map(|(v,)| format!("{:?}", Val::$val(v.into())))
                    .map_err(|e| format!("{e:#}"))
            }
        }
    )*};
}

typed! {
    bool => Bool, u8 => U8, i8 => S8, u16 => U16, i16 => S16, u32 => U32, i32 => S32,
    u64 => U64, i64 => S64, f32 => Float32, f64 => Float64, char => Char, String => String,
}

/// `list<u8>`: encoded from a slice, decoded into a `Vec<u8>`.
struct ByteList(Vec<u8>);

impl Typed for ByteList {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.as_slice().put(&mut out);
        out
    }
    fn answer(target: &Target, reply: &[u8]) -> Result<String, String> {
        target
            .results::<(Vec<u8>,)>(reply)
            .map(|(v,)| format!("{:?}", Val::List(v.into_iter().map(Val::U8).collect())))
            .map_err(|e| format!("{e:#}"))
    }
}

/// Checks one type: every value encodes to the same bytes both ways; every answer (the
/// values' encodings, with a byte too many, cut short, and hostile bytes) decodes to the same
/// value or fails with the same message both ways.
fn check<T: Typed>(fixture: &mut Fixture, func: &str, values: Vec<(T, Val)>) {
    let mut answers: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1],
        vec![2],
        vec![0x7f],
        vec![0x80],
        vec![0x80, 0x01],
        vec![0xff; 11],
        vec![0xc3, 0xa9],
        vec![0xed, 0xa0, 0x80],
        vec![0xf4, 0x90, 0x80, 0x80],
        vec![3, b'a', b'b', b'c'],
        vec![2, 0xff, 0xfe],
        vec![5, 1],
        vec![0xff, 0xff, 0xff, 0xff, 0x0f],
    ];
    for (typed, dynamic) in &values {
        let bytes = typed.encode();
        assert_eq!(
            bytes,
            fixture.dynamic_encoding(func, dynamic),
            "{func}: encoding {dynamic:?}"
        );
        let mut longer = bytes.clone();
        longer.push(0);
        let mut shorter = bytes.clone();
        shorter.pop();
        answers.extend([bytes, longer, shorter]);
    }
    for reply in answers {
        let dynamic = fixture.dynamic_answer(func, &reply);
        let typed = T::answer(&fixture.target, &reply);
        assert_eq!(typed, dynamic, "{func}: answer {reply:x?}");
    }
}

#[test]
fn typed_and_dynamic_codecs_agree_on_every_fast_type() {
    let f = &mut Fixture::new();
    check(
        f,
        "f-bool",
        vec![(true, Val::Bool(true)), (false, Val::Bool(false))],
    );
    check(f, "f-u8", [0, 1, 127, 255].map(|v| (v, Val::U8(v))).into());
    check(
        f,
        "f-s8",
        [i8::MIN, -1, 0, 1, i8::MAX].map(|v| (v, Val::S8(v))).into(),
    );
    check(
        f,
        "f-u16",
        [0, 127, 300, u16::MAX].map(|v| (v, Val::U16(v))).into(),
    );
    check(
        f,
        "f-s16",
        [i16::MIN, -65, -64, 63, 64, i16::MAX]
            .map(|v| (v, Val::S16(v)))
            .into(),
    );
    check(
        f,
        "f-u32",
        [0, 624_485, u32::MAX].map(|v| (v, Val::U32(v))).into(),
    );
    check(
        f,
        "f-s32",
        [i32::MIN, -123_456, 0, i32::MAX]
            .map(|v| (v, Val::S32(v)))
            .into(),
    );
    check(
        f,
        "f-u64",
        [0, 1 << 63, u64::MAX].map(|v| (v, Val::U64(v))).into(),
    );
    check(
        f,
        "f-s64",
        [i64::MIN, -1, 0, i64::MAX].map(|v| (v, Val::S64(v))).into(),
    );
    let f32s = [
        1.5,
        -0.0,
        f32::INFINITY,
        f32::from_bits(0x7fc0_0001),
        f32::MIN_POSITIVE,
    ];
    check(f, "f-f32", f32s.map(|v| (v, Val::Float32(v))).into());
    let f64s = [
        1.5,
        -0.0,
        f64::NEG_INFINITY,
        f64::from_bits(0x7ff0_0000_0000_0001),
    ];
    check(f, "f-f64", f64s.map(|v| (v, Val::Float64(v))).into());
    check(
        f,
        "f-char",
        ['a', 'é', '€', '😀', '\u{10ffff}']
            .map(|v| (v, Val::Char(v)))
            .into(),
    );
    let strings = ["", "hello", "héllo wörld 😀"];
    check(
        f,
        "f-string",
        strings
            .map(|s| (s.to_owned(), Val::String(s.into())))
            .into(),
    );
    let lists = [
        vec![],
        vec![0, 1, 255],
        (0..70_000).map(|i| i as u8).collect(),
    ];
    check(
        f,
        "f-bytes",
        lists
            .map(|l| {
                let val = Val::List(l.iter().copied().map(Val::U8).collect());
                (ByteList(l), val)
            })
            .into(),
    );
}

#[test]
fn an_empty_answer_and_a_missing_result_fail_alike() {
    let f = &mut Fixture::new();
    let expected =
        "plugin `p` closed the connection without answering t:t/t@1.0.0#f (its log may say why)";
    assert_eq!(f.dynamic_answer("f-u64", &[]), Err(expected.into()));
    assert_eq!(<u64 as Typed>::answer(&f.target, &[]), Err(expected.into()));
    // Trailing bytes after the result: wrapped in the same context both ways.
    let typed = <String as Typed>::answer(&f.target, &[1, b'a', 0]).unwrap_err();
    assert_eq!(
        typed,
        "plugin `p` answered t:t/t@1.0.0#f with a malformed value: 1 trailing bytes after the last value"
    );
    assert_eq!(f.dynamic_answer("f-string", &[1, b'a', 0]), Err(typed));
}

/// The signatures of the functions of interface `api` or `types` in `wit`.
fn signatures(wit: &str) -> Vec<(String, Option<FastSignature>)> {
    let mut resolve = Resolve::default();
    let package = resolve.push_str("test.wit", wit).unwrap();
    let interfaces = &resolve.packages[package].interfaces;
    let iface = interfaces
        .get("api")
        .or(interfaces.get("types"))
        .copied()
        .unwrap();
    resolve.interfaces[iface]
        .functions
        .iter()
        .map(|(name, func)| (name.clone(), FastSignature::of(&resolve, func)))
        .collect()
}

fn with_trampoline(wit: &str, in_process: bool) -> Vec<String> {
    signatures(wit)
        .into_iter()
        .filter(|(_, s)| s.as_ref().is_some_and(|s| s.trampoline(in_process)))
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn which_conformance_functions_get_a_trampoline() {
    let wit = include_str!("../../test-programs/wit/conformance.wit");
    assert_eq!(
        with_trampoline(wit, true),
        ["shout", "reverse", "inc", "live-counters"],
        "in-process: the others take the dynamic path, in the same interface"
    );
    assert_eq!(with_trampoline(wit, false), ["shout", "reverse"], "RPC");
}

#[test]
fn aliases_pairs_and_arity() {
    let wit = "package t:t@1.0.0;
        interface api {
            type id = u64;
            type blob = list<u8>;
            put: func(key: string, value: blob) -> id;
            add: func(a: id, b: u32) -> u64;
            narrow: func(a: u8, b: u8) -> u8;
            pair-to-float: func(a: u64, b: u64) -> f64;
            three: func(a: u8, b: u8, c: u8);
            nothing: func();
            words: func(w: list<string>) -> u32;
            maybe: func(x: option<u8>);
            count: func(b: blob) -> u32;
        }";
    let all = signatures(wit);
    let put = all.iter().find(|(n, _)| n == "put").unwrap().1.clone();
    assert_eq!(
        put,
        Some(FastSignature {
            params: vec![Fast::String, Fast::Bytes],
            result: Some(Fast::U64),
        })
    );
    for (name, expected) in [("three", None), ("words", None), ("maybe", None)] {
        let found = all.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(found.1, expected, "{name}");
    }
    assert_eq!(
        with_trampoline(wit, true),
        ["put", "add", "nothing", "count"]
    );
    assert_eq!(with_trampoline(wit, false), ["count"]);
}

#[test]
fn the_dynamic_path_decodes_no_more_list_elements_than_the_memory_cap_holds_as_vals() {
    let mut fixture = Fixture::new();
    let cap = 1 << 20;
    fixture.store = Store::new(fixture.store.engine(), InstanceState::new(cap));
    let within = crate::codec::values_budget(cap);
    let answer = |n: usize| {
        let mut reply = Vec::new();
        put::bytes(&mut reply, &vec![7u8; n]);
        reply
    };
    assert!(fixture.dynamic_answer("f-bytes", &answer(within)).is_ok());
    let err = fixture
        .dynamic_answer("f-bytes", &answer(within + 1))
        .unwrap_err();
    assert!(
        err.contains("more list elements than this path can lower"),
        "{err}"
    );
}
