//! Component values (`wasmtime::component::Val`) to and from the wire encoding
//! ([`manifold_plugin_api::wire`]), guided by the function's types.
//!
//! Resources are the one place the encoding needs the store: a handle the guest holds is a
//! host resource whose representation indexes this instance's [`Handles`] table, which keeps
//! the plugin's opaque handle bytes.

use anyhow::{Context as _, anyhow, bail};
use manifold_plugin_api::wire::{Reader, put};
use wasmtime::StoreContextMut;
use wasmtime::component::{ResourceAny, ResourceDynamic, ResourceType, Type, Val};

use crate::handles::{HandleOwner, Handles};
use manifold_provider::InstanceState;

/// Deepest nesting of values accepted from a plugin.
const MAX_DEPTH: u32 = 64;

/// Encodes values, turning resource handles into the plugin's handle bytes.
pub(crate) struct Encoder<'s, 'a> {
    pub store: &'s mut StoreContextMut<'a, InstanceState>,
    pub owner: &'s HandleOwner,
    pub out: Vec<u8>,
}

impl Encoder<'_, '_> {
    pub fn value(&mut self, val: &Val, ty: &Type) -> anyhow::Result<()> {
        let out = &mut self.out;
        match (val, ty) {
            (Val::Bool(v), Type::Bool) => out.push(u8::from(*v)),
            (Val::U8(v), Type::U8) => out.push(*v),
            (Val::S8(v), Type::S8) => out.push(*v as u8),
            (Val::U16(v), Type::U16) => put::uleb(out, (*v).into()),
            (Val::U32(v), Type::U32) => put::uleb(out, (*v).into()),
            (Val::U64(v), Type::U64) => put::uleb(out, *v),
            (Val::S16(v), Type::S16) => put::sleb(out, (*v).into()),
            (Val::S32(v), Type::S32) => put::sleb(out, (*v).into()),
            (Val::S64(v), Type::S64) => put::sleb(out, *v),
            (Val::Float32(v), Type::Float32) => put::f32(out, *v),
            (Val::Float64(v), Type::Float64) => put::f64(out, *v),
            (Val::Char(v), Type::Char) => put::char(out, *v),
            (Val::String(v), Type::String) => put::bytes(out, v.as_bytes()),
            (Val::List(items), Type::List(list)) => {
                put::uleb(out, items.len() as u64);
                let elem = list.ty();
                if let Type::U8 = elem {
                    // The common bulk case: bytes go out as they are.
                    out.reserve(items.len());
                    for item in items {
                        match item {
                            Val::U8(b) => out.push(*b),
                            other => bail!("list<u8> holds {other:?}"),
                        }
                    }
                } else {
                    for item in items {
                        self.value(item, &elem)?;
                    }
                }
            }
            (Val::Record(fields), Type::Record(record)) => {
                for ((_, v), field) in fields.iter().zip(record.fields()) {
                    self.value(v, &field.ty)?;
                }
            }
            (Val::Tuple(items), Type::Tuple(tuple)) => {
                for (v, t) in items.iter().zip(tuple.types()) {
                    self.value(v, &t)?;
                }
            }
            (Val::Variant(name, payload), Type::Variant(variant)) => {
                let (index, case) = variant
                    .cases()
                    .enumerate()
                    .find(|(_, c)| c.name == name)
                    .with_context(|| format!("variant has no case `{name}`"))?;
                put::uleb(out, index as u64);
                match (payload, case.ty) {
                    (Some(v), Some(t)) => self.value(v, &t)?,
                    (None, None) => {}
                    _ => bail!("variant case `{name}` payload does not match its type"),
                }
            }
            (Val::Enum(name), Type::Enum(e)) => {
                let index = e
                    .names()
                    .position(|n| n == name)
                    .with_context(|| format!("enum has no case `{name}`"))?;
                put::uleb(out, index as u64);
            }
            (Val::Option(v), Type::Option(o)) => match v {
                None => out.push(0),
                Some(v) => {
                    out.push(1);
                    self.value(v, &o.ty())?;
                }
            },
            (Val::Result(r), Type::Result(rt)) => match r {
                Ok(v) => {
                    out.push(0);
                    if let (Some(v), Some(t)) = (v, rt.ok()) {
                        self.value(v, &t)?;
                    }
                }
                Err(v) => {
                    out.push(1);
                    if let (Some(v), Some(t)) = (v, rt.err()) {
                        self.value(v, &t)?;
                    }
                }
            },
            (Val::Flags(set), Type::Flags(flags)) => {
                let names: Vec<&str> = flags.names().collect();
                let indices = set
                    .iter()
                    .map(|s| {
                        names
                            .iter()
                            .position(|n| n == s)
                            .with_context(|| format!("flags have no `{s}`"))
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                put::flags(out, names.len(), indices.into_iter());
            }
            (Val::Resource(any), Type::Own(rt) | Type::Borrow(rt)) => {
                let owned = matches!(ty, Type::Own(_));
                let handle = self.resource(*any, *rt, owned)?;
                put::bytes(&mut self.out, &handle);
            }
            (val, ty) => bail!("cannot send {val:?} as {ty:?} to a plugin"),
        }
        Ok(())
    }

    /// The plugin's handle for a resource the guest passes; an owned one leaves the table
    /// (the plugin owns it now).
    fn resource(
        &mut self,
        any: ResourceAny,
        ty: ResourceType,
        owned: bool,
    ) -> anyhow::Result<bytes::Bytes> {
        let resource = ResourceDynamic::try_from_resource_any(any, &mut *self.store)
            .map_err(anyhow::Error::from)
            .context("a resource that is not the plugin's was passed to it")?;
        let rep = resource.rep();
        let handles = handles(self.store);
        let handle = if owned {
            handles.take(rep, ty, self.owner)?
        } else {
            handles.get(rep, ty, self.owner)?
        };
        Ok(handle)
    }
}

/// Decodes values from a plugin, turning its handle bytes into guest resources.
pub(crate) struct Decoder<'s, 'r, 'a> {
    pub store: &'s mut StoreContextMut<'a, InstanceState>,
    pub owner: &'s HandleOwner,
    pub reader: Reader<'r>,
    /// List elements this answer may still become: each is a `Val` of
    /// `size_of::<Val>()` bytes however small on the wire, so the dynamic path may hold no
    /// more than the calling instance's memory cap in them ([`values_budget`]).
    pub budget: usize,
}

/// How many list elements an answer on the dynamic path may decode into, for an instance
/// with `memory_cap` bytes of linear memory.
pub(crate) fn values_budget(memory_cap: usize) -> usize {
    memory_cap / std::mem::size_of::<Val>()
}

impl Decoder<'_, '_, '_> {
    fn spend(&mut self, elements: usize) -> anyhow::Result<()> {
        match self.budget.checked_sub(elements) {
            Some(left) => {
                self.budget = left;
                Ok(())
            }
            None => bail!(
                "the answer holds more list elements than this path can lower within the \
                 instance's memory cap ({} more; a list<u8> directly in a function's \
                 parameters or results has no such bound)",
                elements - self.budget
            ),
        }
    }

    pub fn value(&mut self, ty: &Type, depth: u32) -> anyhow::Result<Val> {
        if depth > MAX_DEPTH {
            bail!("value nested too deeply");
        }
        let r = &mut self.reader;
        Ok(match ty {
            Type::Bool => Val::Bool(r.bool()?),
            Type::U8 => Val::U8(r.byte()?),
            Type::S8 => Val::S8(r.byte()? as i8),
            Type::U16 => Val::U16(r.uleb(16)? as u16),
            Type::U32 => Val::U32(r.uleb(32)? as u32),
            Type::U64 => Val::U64(r.uleb(64)?),
            Type::S16 => Val::S16(r.sleb(16)? as i16),
            Type::S32 => Val::S32(r.sleb(32)? as i32),
            Type::S64 => Val::S64(r.sleb(64)?),
            Type::Float32 => Val::Float32(r.f32()?),
            Type::Float64 => Val::Float64(r.f64()?),
            Type::Char => Val::Char(r.char()?),
            Type::String => Val::String(r.string()?.to_owned()),
            Type::List(list) => {
                let elem = list.ty();
                if let Type::U8 = elem {
                    let bytes = r.bytes()?;
                    self.spend(bytes.len())?;
                    Val::List(bytes.iter().map(|b| Val::U8(*b)).collect())
                } else {
                    let n = r.len(1)?;
                    self.spend(n)?;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.value(&elem, depth + 1)?);
                    }
                    Val::List(items)
                }
            }
            Type::Record(record) => {
                let mut fields = Vec::with_capacity(record.fields().len());
                for field in record.fields() {
                    let v = self.value(&field.ty, depth + 1)?;
                    fields.push((field.name.to_string(), v));
                }
                Val::Record(fields)
            }
            Type::Tuple(tuple) => {
                let mut items = Vec::with_capacity(tuple.types().len());
                for t in tuple.types() {
                    items.push(self.value(&t, depth + 1)?);
                }
                Val::Tuple(items)
            }
            Type::Variant(variant) => {
                let at = r.offset();
                let index = r.uleb(32)? as usize;
                let case = variant
                    .cases()
                    .nth(index)
                    .ok_or_else(|| anyhow!("variant case {index} does not exist (offset {at})"))?;
                let payload = match case.ty {
                    Some(t) => Some(Box::new(self.value(&t, depth + 1)?)),
                    None => None,
                };
                Val::Variant(case.name.to_string(), payload)
            }
            Type::Enum(e) => {
                let at = r.offset();
                let index = r.uleb(32)? as usize;
                let name = e
                    .names()
                    .nth(index)
                    .ok_or_else(|| anyhow!("enum case {index} does not exist (offset {at})"))?;
                Val::Enum(name.to_string())
            }
            Type::Option(o) => {
                let at = r.offset();
                match r.byte()? {
                    0 => Val::Option(None),
                    1 => Val::Option(Some(Box::new(self.value(&o.ty(), depth + 1)?))),
                    b => bail!("option tag {b} at offset {at}"),
                }
            }
            Type::Result(rt) => {
                let at = r.offset();
                match r.byte()? {
                    0 => Val::Result(Ok(match rt.ok() {
                        Some(t) => Some(Box::new(self.value(&t, depth + 1)?)),
                        None => None,
                    })),
                    1 => Val::Result(Err(match rt.err() {
                        Some(t) => Some(Box::new(self.value(&t, depth + 1)?)),
                        None => None,
                    })),
                    b => bail!("result tag {b} at offset {at}"),
                }
            }
            Type::Flags(flags) => {
                let names: Vec<&str> = flags.names().collect();
                let set = r.flags(names.len())?;
                Val::Flags(set.into_iter().map(|i| names[i].to_string()).collect())
            }
            Type::Own(rt) => {
                let handle = bytes::Bytes::copy_from_slice(r.bytes()?);
                let dynamic_ty = self
                    .owner
                    .dynamic_id(rt)
                    .context("a plugin returned a handle of a resource it does not define")?;
                let generation = self.owner.transport.generation();
                let rep = handles(self.store).insert(*rt, generation, handle);
                let resource = ResourceDynamic::new_own(rep, dynamic_ty);
                Val::Resource(resource.try_into_resource_any(&mut *self.store)?)
            }
            Type::Borrow(_) => bail!("a plugin cannot return a borrowed handle"),
            other => bail!("values of type {other:?} cannot cross to a plugin"),
        })
    }
}

/// This instance's table of plugin handles.
pub(crate) fn handles<'s>(store: &'s mut StoreContextMut<'_, InstanceState>) -> &'s mut Handles {
    let extensions = &mut store.data_mut().extensions;
    if extensions.get_mut::<Handles>().is_none() {
        extensions.insert(Handles::default());
    }
    extensions.get_mut::<Handles>().expect("just inserted")
}

/// Reads past one value of type `ty` without building it (nothing is created, no handle
/// enters a table): how the results of a streaming call are known to be complete before they
/// are decoded. A `stream<u8>` is its marker: pending (`0`, its bytes come on a path of their
/// own) or ready (`1`, then its bytes inline).
pub(crate) fn skip(r: &mut Reader<'_>, ty: &Type, depth: u32) -> anyhow::Result<()> {
    if depth > MAX_DEPTH {
        bail!("value nested too deeply");
    }
    match ty {
        Type::Bool | Type::U8 | Type::S8 => {
            r.byte()?;
        }
        Type::U16 => {
            r.uleb(16)?;
        }
        Type::U32 => {
            r.uleb(32)?;
        }
        Type::U64 => {
            r.uleb(64)?;
        }
        Type::S16 => {
            r.sleb(16)?;
        }
        Type::S32 => {
            r.sleb(32)?;
        }
        Type::S64 => {
            r.sleb(64)?;
        }
        Type::Float32 => {
            r.f32()?;
        }
        Type::Float64 => {
            r.f64()?;
        }
        Type::Char => {
            r.char()?;
        }
        Type::String | Type::Own(_) | Type::Borrow(_) => {
            r.bytes()?;
        }
        Type::List(list) => match list.ty() {
            Type::U8 => {
                r.bytes()?;
            }
            elem => {
                for _ in 0..r.len(1)? {
                    skip(r, &elem, depth + 1)?;
                }
            }
        },
        Type::Record(record) => {
            for field in record.fields() {
                skip(r, &field.ty, depth + 1)?;
            }
        }
        Type::Tuple(tuple) => {
            for t in tuple.types() {
                skip(r, &t, depth + 1)?;
            }
        }
        Type::Variant(variant) => {
            let index = r.uleb(32)? as usize;
            let case = variant
                .cases()
                .nth(index)
                .ok_or_else(|| anyhow!("variant case {index} does not exist"))?;
            if let Some(t) = case.ty {
                skip(r, &t, depth + 1)?;
            }
        }
        Type::Enum(_) => {
            r.uleb(32)?;
        }
        Type::Option(o) => {
            if r.byte()? == 1 {
                skip(r, &o.ty(), depth + 1)?;
            }
        }
        Type::Result(rt) => {
            let payload = if r.byte()? == 0 { rt.ok() } else { rt.err() };
            if let Some(t) = payload {
                skip(r, &t, depth + 1)?;
            }
        }
        Type::Flags(flags) => {
            r.flags(flags.names().len())?;
        }
        Type::Stream(_) => {
            if r.byte()? == 1 {
                r.bytes()?;
            }
        }
        other => bail!("values of type {other:?} cannot cross to a plugin"),
    }
    Ok(())
}
