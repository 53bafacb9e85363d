//! `generate!` bindings driven through `Dispatch::lookup`/`call` with bytes from the `Value`
//! codec, and their answers decoded with it: the generated codec must agree with the one
//! the host and every other plugin kind use, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use manifold_plugin_sdk::{Call, Dispatch, Plugin, ThroughValues, Value};

mod everything {
    manifold_plugin_sdk::generate!("tests/wit/everything.wit");
}

use everything::{base, store};

#[derive(Default)]
struct Everything;

impl base::Interface for Everything {
    fn echo_item(&self, i: base::Item) -> base::Item {
        base::Item {
            id: i.id + 1,
            r#type: i.r#type + 1,
            ..i
        }
    }
    fn echo_event(&self, e: base::Event) -> base::Event {
        e
    }
    fn echo_many(&self, m: base::Many) -> base::Many {
        !m
    }
    fn echo_bytes(&self, b: base::Bytes) -> base::Bytes {
        b.into_iter().rev().collect()
    }
    fn echo_nested(
        &self,
        x: Vec<Option<Result<(u8, char), base::Level>>>,
    ) -> Vec<Option<Result<(u8, char), base::Level>>> {
        x
    }
    fn floats(&self, a: f32, b: f64) -> (f32, f64) {
        (a * 2.0, b * 2.0)
    }
    fn check(&self, fail: bool) -> Result<(), ()> {
        if fail { Err(()) } else { Ok(()) }
    }
    fn nothing(&self) {}
    fn area(&self, s: base::Size) -> u64 {
        u64::from(s.w) * u64::from(s.h)
    }
    fn echo_wire(&self, r: base::Wire, out: u32) -> base::Wire {
        base::Wire {
            out: out as u8,
            self_: !r.self_,
            ..r
        }
    }
}

static LIVE: AtomicUsize = AtomicUsize::new(0);

struct Bucket {
    name: String,
    items: Mutex<Vec<base::Item>>,
}

impl Bucket {
    fn named(name: String) -> Bucket {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Bucket {
            name,
            items: Mutex::default(),
        }
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

impl store::Bucket for Bucket {
    fn new(name: String) -> Self {
        Bucket::named(name)
    }
    fn open(name: String) -> Result<Self, String> {
        if name.is_empty() {
            Err("no name".into())
        } else {
            Ok(Bucket::named(name))
        }
    }
    fn put(&self, i: base::Item) {
        self.items.lock().unwrap().push(i);
    }
    fn get(&self, id: u32) -> Option<base::Item> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.id == id)
            .cloned()
    }
    fn name(&self) -> String {
        self.name.clone()
    }
    fn split(&self) -> (Self, Self) {
        (
            Bucket::named(format!("{}.0", self.name)),
            Bucket::named(format!("{}.1", self.name)),
        )
    }
}

impl store::Interface for Everything {
    type Bucket = Bucket;

    fn merge(&self, a: Bucket, b: &Bucket) -> Bucket {
        Bucket::named(format!("{}+{}", a.name, b.name))
    }
    fn many(&self, names: Vec<String>) -> Vec<Bucket> {
        names.into_iter().map(Bucket::named).collect()
    }
    fn maybe(&self, name: Option<String>) -> Option<Bucket> {
        name.map(Bucket::named)
    }
    fn level_of(&self, b: &Bucket) -> base::Level {
        match b.items.lock().unwrap().len() {
            0 => base::Level::Low,
            1 => base::Level::Mid,
            _ => base::Level::High,
        }
    }
}

impl everything::tools::Interface for Everything {
    fn weigh(&self, b: &Bucket) -> u32 {
        b.items.lock().unwrap().len() as u32
    }
    fn fresh(&self) -> Bucket {
        Bucket::named("fresh".into())
    }
}

type Plugged = ThroughValues<everything::Exports<Everything>>;

fn call(plugin: &Plugged, interface: &str, func: &str, params: Vec<Value>) -> Vec<Value> {
    try_call(plugin, interface, func, params).unwrap_or_else(|e| panic!("{func}: {e}"))
}

fn try_call(
    plugin: &Plugged,
    interface: &str,
    func: &str,
    params: Vec<Value>,
) -> Result<Vec<Value>, String> {
    let interface = format!("test:everything/{interface}@1.0.0");
    plugin.call(Call {
        interface: &interface,
        func,
        params,
    })
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn some(v: Value) -> Option<Box<Value>> {
    Some(Box::new(v))
}

fn handle(results: &[Value]) -> Value {
    match results {
        [h @ Value::Handle(_)] => h.clone(),
        other => panic!("not one handle: {other:?}"),
    }
}

#[test]
fn every_type_round_trips_through_the_value_codec() {
    let p = Plugged::default();
    let item = |id, ty| {
        Value::Record(vec![
            Value::U32(id),
            s("x"),
            Value::List(vec![s("a"), s("b")]),
            Value::U8(ty),
        ])
    };
    assert_eq!(
        call(&p, "base", "echo-item", vec![item(1, 7)]),
        [item(2, 8)]
    );
    for event in [
        Value::Variant(0, None),
        Value::Variant(1, some(item(3, 0))),
        Value::Variant(2, some(Value::Tuple(vec![Value::S16(-1), Value::S16(300)]))),
        Value::Variant(3, some(Value::Option(some(s("hi"))))),
        Value::Variant(3, some(Value::Option(None))),
    ] {
        assert_eq!(call(&p, "base", "echo-event", vec![event.clone()]), [event]);
    }
    // Ten flags take two bytes; `!` flips only the ten.
    assert_eq!(
        call(&p, "base", "echo-many", vec![Value::Flags(vec![0, 9])]),
        [Value::Flags((1..9).collect())]
    );
    assert_eq!(
        call(&p, "base", "echo-bytes", vec![Value::Bytes(vec![1, 2, 3])]),
        [Value::Bytes(vec![3, 2, 1])]
    );
    let nested = Value::List(vec![
        Value::Option(None),
        Value::Option(some(Value::Result(Ok(some(Value::Tuple(vec![
            Value::U8(255),
            Value::Char('é'),
        ])))))),
        Value::Option(some(Value::Result(Err(some(Value::Enum(2)))))),
    ]);
    assert_eq!(
        call(&p, "base", "echo-nested", vec![nested.clone()]),
        [nested]
    );
    assert_eq!(
        call(
            &p,
            "base",
            "floats",
            vec![Value::F32(1.5), Value::F64(-0.25)]
        ),
        [Value::Tuple(vec![Value::F32(3.0), Value::F64(-0.5)])]
    );
    assert_eq!(
        call(&p, "base", "check", vec![Value::Bool(true)]),
        [Value::Result(Err(None))]
    );
    assert_eq!(
        call(&p, "base", "check", vec![Value::Bool(false)]),
        [Value::Result(Ok(None))]
    );
    assert_eq!(call(&p, "base", "nothing", vec![]), []);
    assert_eq!(
        call(
            &p,
            "base",
            "area",
            vec![Value::Record(vec![Value::U32(3), Value::U32(4)])]
        ),
        [Value::U64(12)]
    );
    let _: everything::shapes::Size = base::Size { w: 1, h: 2 };
    let wire = |out, me| Value::Record(vec![Value::U8(out), s("r"), Value::Bool(me)]);
    assert_eq!(
        call(&p, "base", "echo-wire", vec![wire(1, false), Value::U32(9)]),
        [wire(9, true)]
    );
}

#[test]
fn resources_live_behind_handles_until_the_host_drops_them() {
    let p = Plugged::default();
    let before = LIVE.load(Ordering::SeqCst);
    let a = handle(&call(&p, "store", "bucket", vec![s("a")]));
    let item = Value::Record(vec![
        Value::U32(5),
        s("five"),
        Value::List(vec![]),
        Value::U8(0),
    ]);
    assert_eq!(
        call(&p, "store", "bucket.put", vec![a.clone(), item.clone()]),
        []
    );
    assert_eq!(
        call(&p, "store", "bucket.get", vec![a.clone(), Value::U32(5)]),
        [Value::Option(some(item))]
    );
    assert_eq!(
        call(&p, "store", "level-of", vec![a.clone()]),
        [Value::Enum(1)]
    );
    // Another interface borrows and creates the same resource.
    assert_eq!(call(&p, "tools", "weigh", vec![a.clone()]), [Value::U32(1)]);
    let fresh = handle(&call(&p, "tools", "fresh", vec![]));
    assert_eq!(
        call(&p, "store", "bucket.name", vec![fresh.clone()]),
        [s("fresh")]
    );
    assert_eq!(call(&p, "store", "[drop]bucket", vec![fresh]), []);
    // Statics, and handles inside results, tuples, lists and options.
    let opened = call(&p, "store", "bucket.open", vec![s("b")]);
    let [Value::Result(Ok(Some(b)))] = opened.as_slice() else {
        panic!("{opened:?}")
    };
    let b = (**b).clone();
    assert_eq!(
        call(&p, "store", "bucket.open", vec![s("")]),
        [Value::Result(Err(some(s("no name"))))]
    );
    let split = call(&p, "store", "bucket.split", vec![b.clone()]);
    let [Value::Tuple(halves)] = split.as_slice() else {
        panic!("{split:?}")
    };
    assert_eq!(
        call(&p, "store", "bucket.name", vec![halves[1].clone()]),
        [s("b.1")]
    );
    let many = call(&p, "store", "many", vec![Value::List(vec![s("x"), s("y")])]);
    let [Value::List(many)] = many.as_slice() else {
        panic!("{many:?}")
    };
    assert_eq!(many.len(), 2);
    assert_eq!(
        call(&p, "store", "maybe", vec![Value::Option(None)]),
        [Value::Option(None)]
    );
    assert_eq!(LIVE.load(Ordering::SeqCst) - before, 6);
    // `merge` takes `a` (own): its handle is gone afterwards; `b` is only borrowed.
    let merged = handle(&call(&p, "store", "merge", vec![a.clone(), b.clone()]));
    assert_eq!(
        call(&p, "store", "bucket.name", vec![merged.clone()]),
        [s("a+b")]
    );
    let err = try_call(&p, "store", "bucket.name", vec![a.clone()]).unwrap_err();
    assert!(err.contains("its resource was dropped"), "{err}");
    assert_eq!(call(&p, "store", "bucket.name", vec![b.clone()]), [s("b")]);
    for h in [b, merged, halves[0].clone(), halves[1].clone()]
        .into_iter()
        .chain(many.iter().cloned())
    {
        assert_eq!(call(&p, "store", "[drop]bucket", vec![h]), []);
    }
    assert_eq!(LIVE.load(Ordering::SeqCst), before);
    let err = try_call(&p, "store", "[drop]bucket", vec![a]).unwrap_err();
    assert!(err.contains("[drop]bucket: bad parameters"), "{err}");
}

#[test]
fn bad_bytes_and_unknown_functions_are_errors_not_panics() {
    let d = everything::Exports::<Everything>::default();
    assert_eq!(d.lookup("test:everything/base@1.0.0", "nope"), None);
    assert_eq!(d.lookup("test:everything/base@2.0.0", "nothing"), None);
    let index = d.lookup("test:everything/base@1.0.0", "echo-many").unwrap();
    let mut out = Vec::new();
    // Bit 10 names no flag.
    let err = d.call(index, &[0, 0b100], &mut out).unwrap_err();
    assert!(err.starts_with("echo-many: bad parameters"), "{err}");
    let err = d.call(index, &[0, 0, 0], &mut out).unwrap_err();
    assert!(err.contains("trailing"), "{err}");
    let index = d
        .lookup("test:everything/base@1.0.0", "echo-event")
        .unwrap();
    assert!(d.call(index, &[4], &mut out).is_err(), "no case 4");
    let index = d
        .lookup("test:everything/store@1.0.0", "bucket.name")
        .unwrap();
    assert!(
        d.call(index, &[3, 1, 2, 3], &mut out).is_err(),
        "a short handle"
    );
    assert!(d.call(u32::MAX, &[], &mut out).is_err());
}

#[test]
fn generated_types_are_ordinary_rust() {
    use base::Many;
    let mut m = Many::F0 | Many::F9;
    assert!(m.contains(Many::F9));
    m.remove(Many::F9);
    assert_eq!(m, Many::F0);
    assert_eq!((!Many::empty()), Many::all());
    assert_eq!(Many::from_bits(1 << 10), None);
    assert_eq!(format!("{:?}", Many::F1 | Many::F3), "Many(F1 | F3)");
    let _: base::Id = 3u32;
    let _: base::Bytes = vec![1u8];
    assert_eq!(everything::WIT, include_str!("wit/everything.wit"));
}
