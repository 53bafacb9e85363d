//! manifold:conformance/types as a dynamic-library plugin, written with
//! `manifold-plugin-sdk`: one `call` that matches on the function and works on `Value`s.
//!
//! Test hook: `shout("panic")` panics, to show that the host catches a plugin's panic,
//! fails only that call, and goes on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use manifold_plugin_sdk::{Call, Plugin, Value, export_plugin};

#[derive(Default)]
struct Conformance {
    /// Live counters by handle id.
    counters: Mutex<HashMap<u64, u64>>,
    next_id: AtomicU64,
}

fn boxed(v: Value) -> Option<Box<Value>> {
    Some(Box::new(v))
}

fn handle_id(handle: &[u8]) -> Result<u64, String> {
    let bytes: [u8; 8] = handle
        .try_into()
        .map_err(|_| format!("bad counter handle ({} bytes)", handle.len()))?;
    Ok(u64::from_le_bytes(bytes))
}

fn record_point(v: &Value) -> Result<(i32, i32, String), String> {
    match v {
        Value::Record(f) => match f.as_slice() {
            [Value::S32(x), Value::S32(y), Value::String(l)] => Ok((*x, *y, l.clone())),
            _ => Err(format!("not a point: {v:?}")),
        },
        _ => Err(format!("not a point: {v:?}")),
    }
}

fn point(x: i32, y: i32, label: String) -> Value {
    Value::Record(vec![Value::S32(x), Value::S32(y), Value::String(label)])
}

impl Conformance {
    fn counter_value(&self, handle: &[u8]) -> Result<u64, String> {
        let id = handle_id(handle)?;
        let counters = self.counters.lock().map_err(|_| "poisoned")?;
        counters
            .get(&id)
            .copied()
            .ok_or_else(|| format!("no counter {id}"))
    }
}

impl Plugin for Conformance {
    const WIT: &'static str = include_str!("../../../../crates/test-programs/wit/conformance.wit");

    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
        let p = &call.params;
        let one = |v: Value| Ok(vec![v]);
        match call.func {
            "bump" => match p.as_slice() {
                [
                    Value::U8(a),
                    Value::S8(b),
                    Value::U16(c),
                    Value::S16(d),
                    Value::U32(e),
                    Value::S32(f),
                    Value::U64(g),
                    Value::S64(h),
                    Value::F32(i),
                    Value::F64(j),
                    Value::Bool(k),
                    Value::Char(l),
                ] => one(Value::Tuple(vec![
                    Value::U8(a.wrapping_add(1)),
                    Value::S8(b.wrapping_add(1)),
                    Value::U16(c.wrapping_add(1)),
                    Value::S16(d.wrapping_add(1)),
                    Value::U32(e.wrapping_add(1)),
                    Value::S32(f.wrapping_add(1)),
                    Value::U64(g.wrapping_add(1)),
                    Value::S64(h.wrapping_add(1)),
                    Value::F32(i * 2.0),
                    Value::F64(j * 2.0),
                    Value::Bool(!k),
                    Value::Char(char::from_u32(*l as u32 + 1).ok_or("no next char")?),
                ])),
                _ => Err("bump: bad parameters".into()),
            },
            "shout" => {
                let s = call.string(0)?;
                if s == "panic" {
                    panic!("asked to panic");
                }
                one(Value::String(s.to_ascii_uppercase()))
            }
            "reverse" => {
                let mut b = call.bytes(0)?.to_vec();
                b.reverse();
                one(Value::Bytes(b))
            }
            "sort" => match &p[0] {
                Value::List(words) => {
                    let mut words: Vec<String> = words
                        .iter()
                        .map(|w| match w {
                            Value::String(s) => Ok(s.clone()),
                            other => Err(format!("sort: {other:?}")),
                        })
                        .collect::<Result<_, _>>()?;
                    words.sort();
                    one(Value::List(words.into_iter().map(Value::String).collect()))
                }
                other => Err(format!("sort: {other:?}")),
            },
            "add-points" => {
                let (ax, ay, al) = record_point(&p[0])?;
                let (bx, by, bl) = record_point(&p[1])?;
                one(point(
                    ax.wrapping_add(bx),
                    ay.wrapping_add(by),
                    format!("{al}+{bl}"),
                ))
            }
            "scale" => {
                let Value::F64(k) = p[1] else {
                    return Err("scale: k".into());
                };
                match &p[0] {
                    Value::Variant(0, Some(r)) => match **r {
                        Value::F64(r) => one(Value::Variant(0, boxed(Value::F64(r * k)))),
                        _ => Err("scale: circle".into()),
                    },
                    Value::Variant(1, Some(pt)) => {
                        let (x, y, l) = record_point(pt)?;
                        one(Value::Variant(
                            1,
                            boxed(point(
                                (f64::from(x) * k) as i32,
                                (f64::from(y) * k) as i32,
                                l,
                            )),
                        ))
                    }
                    Value::Variant(2, None) => one(Value::Variant(2, None)),
                    other => Err(format!("scale: {other:?}")),
                }
            }
            "next-color" => match p[0] {
                Value::Enum(c) => one(Value::Enum((c + 1) % 3)),
                _ => Err("next-color".into()),
            },
            "toggle" => match &p[0] {
                Value::Flags(set) => {
                    one(Value::Flags((0..3).filter(|i| !set.contains(i)).collect()))
                }
                _ => Err("toggle".into()),
            },
            "swap" => match &p[0] {
                Value::Tuple(t) => match t.as_slice() {
                    [a, b] => one(Value::Tuple(vec![b.clone(), a.clone()])),
                    _ => Err("swap".into()),
                },
                _ => Err("swap".into()),
            },
            "first-word" => {
                let s = call.string(0)?;
                one(Value::Option(
                    s.split(' ')
                        .find(|w| !w.is_empty())
                        .map(|w| Box::new(Value::String(w.to_string()))),
                ))
            }
            "checked-div" => {
                let (a, b) = (call.s64(0)?, call.s64(1)?);
                one(Value::Result(match a.checked_div(b) {
                    Some(q) => Ok(boxed(Value::S64(q))),
                    None if b == 0 => Err(boxed(Value::String("division by zero".into()))),
                    None => Err(boxed(Value::String("overflow".into()))),
                }))
            }
            "inc" => one(Value::U64(call.u64(0)?.wrapping_add(1))),
            "counter" => {
                let start = call.u64(0)?;
                let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .lock()
                    .map_err(|_| "poisoned")?
                    .insert(id, start);
                one(Value::Handle(id.to_le_bytes().to_vec()))
            }
            "counter.add" => {
                let id = handle_id(call.handle(0)?)?;
                let n = call.u64(1)?;
                let mut counters = self.counters.lock().map_err(|_| "poisoned")?;
                let value = counters.get_mut(&id).ok_or("no such counter")?;
                *value = value.wrapping_add(n);
                one(Value::U64(*value))
            }
            "counter.value" => one(Value::U64(self.counter_value(call.handle(0)?)?)),
            "total" => {
                let a = self.counter_value(call.handle(0)?)?;
                let b = self.counter_value(call.handle(1)?)?;
                one(Value::U64(a.wrapping_add(b)))
            }
            "live-counters" => one(Value::U32(
                self.counters.lock().map_err(|_| "poisoned")?.len() as u32,
            )),
            "[drop]counter" => {
                let id = handle_id(call.handle(0)?)?;
                self.counters.lock().map_err(|_| "poisoned")?.remove(&id);
                Ok(vec![])
            }
            other => Err(format!("no function {other}")),
        }
    }
}

export_plugin!(Conformance);
