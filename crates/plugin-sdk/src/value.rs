//! WIT values as a plugin sees them, and their wire encoding by WIT type.

use std::collections::HashMap;

use manifold_plugin_api::wire::{Reader, WireError, put};
use wit_parser::{Resolve, Type, TypeDefKind};

/// A WIT value. Records and tuples hold their fields in order; variants and enums their case
/// index; flags the set of flag indices.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    U8(u8),
    S8(i8),
    U16(u16),
    S16(i16),
    U32(u32),
    S32(i32),
    U64(u64),
    S64(i64),
    F32(f32),
    F64(f64),
    Char(char),
    String(String),
    /// `list<u8>`.
    Bytes(Vec<u8>),
    /// Any other `list<T>`.
    List(Vec<Value>),
    Record(Vec<Value>),
    Tuple(Vec<Value>),
    Variant(u32, Option<Box<Value>>),
    Enum(u32),
    Option(Option<Box<Value>>),
    Result(Result<Option<Box<Value>>, Option<Box<Value>>>),
    /// Indices of the flags that are set.
    Flags(Vec<u32>),
    /// A resource handle: bytes the plugin chose when it created the resource.
    Handle(Vec<u8>),
}

/// The shape of a value, resolved from WIT once at load.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Bool,
    U8,
    S8,
    U16,
    S16,
    U32,
    S32,
    U64,
    S64,
    F32,
    F64,
    Char,
    String,
    Bytes,
    List(Box<Shape>),
    Record(Vec<Shape>),
    Tuple(Vec<Shape>),
    Variant(Vec<Option<Shape>>),
    Enum(usize),
    Option(Box<Shape>),
    Result(Option<Box<Shape>>, Option<Box<Shape>>),
    Flags(usize),
    Handle,
}

impl Shape {
    /// The shape of a WIT type.
    pub fn of(resolve: &Resolve, ty: &Type) -> Result<Shape, String> {
        Ok(match ty {
            Type::Bool => Shape::Bool,
            Type::U8 => Shape::U8,
            Type::S8 => Shape::S8,
            Type::U16 => Shape::U16,
            Type::S16 => Shape::S16,
            Type::U32 => Shape::U32,
            Type::S32 => Shape::S32,
            Type::U64 => Shape::U64,
            Type::S64 => Shape::S64,
            Type::F32 => Shape::F32,
            Type::F64 => Shape::F64,
            Type::Char => Shape::Char,
            Type::String => Shape::String,
            Type::ErrorContext => return Err("error-context cannot cross to a plugin".into()),
            Type::Id(id) => {
                let def = &resolve.types[*id];
                match &def.kind {
                    TypeDefKind::Type(t) => Shape::of(resolve, t)?,
                    TypeDefKind::List(Type::U8) => Shape::Bytes,
                    TypeDefKind::List(t) => Shape::List(Box::new(Shape::of(resolve, t)?)),
                    TypeDefKind::Record(r) => Shape::Record(
                        r.fields
                            .iter()
                            .map(|f| Shape::of(resolve, &f.ty))
                            .collect::<Result<_, _>>()?,
                    ),
                    TypeDefKind::Tuple(t) => Shape::Tuple(
                        t.types
                            .iter()
                            .map(|t| Shape::of(resolve, t))
                            .collect::<Result<_, _>>()?,
                    ),
                    TypeDefKind::Variant(v) => Shape::Variant(
                        v.cases
                            .iter()
                            .map(|c| c.ty.as_ref().map(|t| Shape::of(resolve, t)).transpose())
                            .collect::<Result<_, _>>()?,
                    ),
                    TypeDefKind::Enum(e) => Shape::Enum(e.cases.len()),
                    TypeDefKind::Option(t) => Shape::Option(Box::new(Shape::of(resolve, t)?)),
                    TypeDefKind::Result(r) => Shape::Result(
                        r.ok.as_ref()
                            .map(|t| Shape::of(resolve, t).map(Box::new))
                            .transpose()?,
                        r.err
                            .as_ref()
                            .map(|t| Shape::of(resolve, t).map(Box::new))
                            .transpose()?,
                    ),
                    TypeDefKind::Flags(f) => Shape::Flags(f.flags.len()),
                    TypeDefKind::Handle(_) | TypeDefKind::Resource => Shape::Handle,
                    other => return Err(format!("{} cannot cross to a plugin", other.as_str())),
                }
            }
        })
    }
}

/// Why a value could not be encoded or decoded.
#[derive(Debug)]
pub struct ValueError(pub String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<WireError> for ValueError {
    fn from(e: WireError) -> ValueError {
        ValueError(e.to_string())
    }
}

/// Appends the encoding of `value`, which must have `shape`.
pub fn encode(value: &Value, shape: &Shape, out: &mut Vec<u8>) -> Result<(), ValueError> {
    match (value, shape) {
        (Value::Bool(v), Shape::Bool) => out.push(u8::from(*v)),
        (Value::U8(v), Shape::U8) => out.push(*v),
        (Value::S8(v), Shape::S8) => out.push(*v as u8),
        (Value::U16(v), Shape::U16) => put::uleb(out, (*v).into()),
        (Value::U32(v), Shape::U32) => put::uleb(out, (*v).into()),
        (Value::U64(v), Shape::U64) => put::uleb(out, *v),
        (Value::S16(v), Shape::S16) => put::sleb(out, (*v).into()),
        (Value::S32(v), Shape::S32) => put::sleb(out, (*v).into()),
        (Value::S64(v), Shape::S64) => put::sleb(out, *v),
        (Value::F32(v), Shape::F32) => put::f32(out, *v),
        (Value::F64(v), Shape::F64) => put::f64(out, *v),
        (Value::Char(v), Shape::Char) => put::char(out, *v),
        (Value::String(v), Shape::String) => put::bytes(out, v.as_bytes()),
        (Value::Bytes(v), Shape::Bytes) | (Value::Handle(v), Shape::Handle) => put::bytes(out, v),
        (Value::List(items), Shape::List(elem)) => {
            put::uleb(out, items.len() as u64);
            for item in items {
                encode(item, elem, out)?;
            }
        }
        (Value::Record(items), Shape::Record(shapes))
        | (Value::Tuple(items), Shape::Tuple(shapes)) => {
            if items.len() != shapes.len() {
                return Err(ValueError(format!(
                    "{} fields given, {} expected",
                    items.len(),
                    shapes.len()
                )));
            }
            for (item, shape) in items.iter().zip(shapes) {
                encode(item, shape, out)?;
            }
        }
        (Value::Variant(case, payload), Shape::Variant(cases)) => {
            let Some(case_shape) = cases.get(*case as usize) else {
                return Err(ValueError(format!("variant case {case} does not exist")));
            };
            put::uleb(out, (*case).into());
            match (payload, case_shape) {
                (Some(v), Some(s)) => encode(v, s, out)?,
                (None, None) => {}
                _ => return Err(ValueError(format!("payload of variant case {case}"))),
            }
        }
        (Value::Enum(case), Shape::Enum(n)) if (*case as usize) < *n => {
            put::uleb(out, (*case).into())
        }
        (Value::Option(None), Shape::Option(_)) => out.push(0),
        (Value::Option(Some(v)), Shape::Option(s)) => {
            out.push(1);
            encode(v, s, out)?;
        }
        (Value::Result(r), Shape::Result(ok, err)) => {
            let (tag, payload, shape) = match r {
                Ok(v) => (0, v, ok),
                Err(v) => (1, v, err),
            };
            out.push(tag);
            match (payload, shape) {
                (Some(v), Some(s)) => encode(v, s, out)?,
                (None, None) => {}
                _ => return Err(ValueError("result payload does not match its type".into())),
            }
        }
        (Value::Flags(set), Shape::Flags(n)) => {
            if let Some(bad) = set.iter().find(|i| **i as usize >= *n) {
                return Err(ValueError(format!("flag {bad} does not exist")));
            }
            put::flags(out, *n, set.iter().map(|i| *i as usize));
        }
        (value, shape) => {
            return Err(ValueError(format!("{value:?} is not a {shape:?}")));
        }
    }
    Ok(())
}

/// Reads one value of `shape`.
pub fn decode(shape: &Shape, r: &mut Reader<'_>) -> Result<Value, ValueError> {
    decode_at(shape, r, 0)
}

fn decode_at(shape: &Shape, r: &mut Reader<'_>, depth: u32) -> Result<Value, ValueError> {
    if depth > 64 {
        return Err(ValueError("value nested too deeply".into()));
    }
    let boxed = |v: Value| Some(Box::new(v));
    Ok(match shape {
        Shape::Bool => Value::Bool(r.bool()?),
        Shape::U8 => Value::U8(r.byte()?),
        Shape::S8 => Value::S8(r.byte()? as i8),
        Shape::U16 => Value::U16(r.uleb(16)? as u16),
        Shape::U32 => Value::U32(r.uleb(32)? as u32),
        Shape::U64 => Value::U64(r.uleb(64)?),
        Shape::S16 => Value::S16(r.sleb(16)? as i16),
        Shape::S32 => Value::S32(r.sleb(32)? as i32),
        Shape::S64 => Value::S64(r.sleb(64)?),
        Shape::F32 => Value::F32(r.f32()?),
        Shape::F64 => Value::F64(r.f64()?),
        Shape::Char => Value::Char(r.char()?),
        Shape::String => Value::String(r.string()?.to_owned()),
        Shape::Bytes => Value::Bytes(r.bytes()?.to_vec()),
        Shape::Handle => Value::Handle(r.bytes()?.to_vec()),
        Shape::List(elem) => {
            let n = r.len(1)?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(decode_at(elem, r, depth + 1)?);
            }
            Value::List(items)
        }
        Shape::Record(shapes) | Shape::Tuple(shapes) => {
            let items = shapes
                .iter()
                .map(|s| decode_at(s, r, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if matches!(shape, Shape::Record(_)) {
                Value::Record(items)
            } else {
                Value::Tuple(items)
            }
        }
        Shape::Variant(cases) => {
            let case = r.uleb(32)? as u32;
            let Some(case_shape) = cases.get(case as usize) else {
                return Err(ValueError(format!("variant case {case} does not exist")));
            };
            let payload = match case_shape {
                Some(s) => boxed(decode_at(s, r, depth + 1)?),
                None => None,
            };
            Value::Variant(case, payload)
        }
        Shape::Enum(n) => {
            let case = r.uleb(32)? as u32;
            if case as usize >= *n {
                return Err(ValueError(format!("enum case {case} does not exist")));
            }
            Value::Enum(case)
        }
        Shape::Option(s) => match r.byte()? {
            0 => Value::Option(None),
            1 => Value::Option(boxed(decode_at(s, r, depth + 1)?)),
            t => return Err(ValueError(format!("option tag {t}"))),
        },
        Shape::Result(ok, err) => {
            let tag = r.byte()?;
            let shape = match tag {
                0 => ok,
                1 => err,
                t => return Err(ValueError(format!("result tag {t}"))),
            };
            let payload = match shape {
                Some(s) => boxed(decode_at(s, r, depth + 1)?),
                None => None,
            };
            Value::Result(if tag == 0 { Ok(payload) } else { Err(payload) })
        }
        Shape::Flags(n) => Value::Flags(r.flags(*n)?.into_iter().map(|i| i as u32).collect()),
    })
}

/// A function's parameter and result shapes.
#[derive(Debug, Clone)]
pub struct Signature {
    pub params: Vec<Shape>,
    pub results: Vec<Shape>,
}

/// Every function of every interface of a WIT package, by (interface, wire function name),
/// including the `[drop]R` of each resource.
pub fn signatures(wit: &str) -> Result<HashMap<(String, String), Signature>, String> {
    let mut resolve = Resolve::default();
    resolve
        .push_str("plugin.wit", wit)
        .map_err(|e| format!("the plugin's WIT does not parse: {e:#}"))?;
    let mut out = HashMap::new();
    for (_, package) in resolve.packages.iter() {
        let version = package
            .name
            .version
            .as_ref()
            .map(|v| format!("@{v}"))
            .unwrap_or_default();
        for (iface_name, id) in &package.interfaces {
            let instance = format!(
                "{}:{}/{iface_name}{version}",
                package.name.namespace, package.name.name
            );
            let iface = &resolve.interfaces[*id];
            for (name, &tid) in &iface.types {
                if matches!(resolve.types[tid].kind, TypeDefKind::Resource) {
                    out.insert(
                        (instance.clone(), manifold_plugin_api::drop_func_name(name)),
                        Signature {
                            params: vec![Shape::Handle],
                            results: vec![],
                        },
                    );
                }
            }
            for (name, func) in &iface.functions {
                let params = func
                    .params
                    .iter()
                    .map(|p| Shape::of(&resolve, &p.ty))
                    .collect::<Result<_, _>>()?;
                let results = func
                    .result
                    .iter()
                    .map(|t| Shape::of(&resolve, t))
                    .collect::<Result<_, _>>()?;
                out.insert(
                    (
                        instance.clone(),
                        manifold_plugin_api::rpc_func_name(name).to_string(),
                    ),
                    Signature { params, results },
                );
            }
        }
    }
    Ok(out)
}
