//! Typed trampolines: functions whose signature is made only of "fast" types are linked with
//! Wasmtime's typed `func_wrap` (in-process plugins) or `func_wrap_async` (RPC) instead of
//! dynamic `Val`s. Wasmtime lifts the arguments into Rust values (a `list<u8>` or a string
//! stays a view of the guest's memory), which go straight into the wire buffer; the answer
//! is decoded straight into the Rust result, which Wasmtime lowers in bulk. A 64 KiB
//! `list<u8>` is then two copies instead of 65,536 `Val::U8`s each way.
//!
//! Fast types: `bool`, `u8`..`u64`, `s8`..`s64`, `f32`, `f64`, `char`, `string` and
//! `list<u8>`. Every combination of Rust types is its own instantiation of Wasmtime's generic
//! host-function code (about 7 KB of machine code and a noticeable share of this crate's
//! build time each), so the trampolines that exist are chosen ([`FastSignature::trampoline`]):
//!
//! - in-process: no or one parameter of any fast type with no or one result of any fast type
//!   (225 shapes); two parameters from [`PAIR`] with no result or one from [`PAIR_RESULTS`]
//!   (175 shapes);
//! - RPC: no or one parameter, and a string or byte list among the parameter and result (56
//!   shapes). Only these cost per element on the dynamic path; a scalar's round trip over a
//!   socket costs the same either way.
//!
//! Everything else takes the dynamic path (`link.rs`), with the same calls and checks.

use std::sync::Arc;

use anyhow::Context as _;
use manifold_plugin_api::wire::{Reader, WireError, put};
use manifold_provider::InstanceState;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentNamedList, Lift, LinkerInstance, Lower, WasmList, WasmStr};
use wit_parser::{Resolve, Type, TypeDefKind};

use crate::link::{Route, Target, with_scratch};

/// A type a typed trampoline can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fast {
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
}

/// The types both parameters of a two-parameter trampoline are taken from.
pub(crate) const PAIR: &[Fast] = &[Fast::U32, Fast::U64, Fast::S64, Fast::String, Fast::Bytes];

/// The result types of a two-parameter trampoline (or none).
pub(crate) const PAIR_RESULTS: &[Fast] = &[
    Fast::Bool,
    Fast::U32,
    Fast::U64,
    Fast::S64,
    Fast::String,
    Fast::Bytes,
];

/// A fast function's parameter types and result type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FastSignature {
    pub params: Vec<Fast>,
    pub result: Option<Fast>,
}

impl Fast {
    /// The fast type `ty` is (through aliases), if it is one.
    pub fn of(resolve: &Resolve, ty: &Type) -> Option<Fast> {
        Some(match ty {
            Type::Bool => Fast::Bool,
            Type::U8 => Fast::U8,
            Type::S8 => Fast::S8,
            Type::U16 => Fast::U16,
            Type::S16 => Fast::S16,
            Type::U32 => Fast::U32,
            Type::S32 => Fast::S32,
            Type::U64 => Fast::U64,
            Type::S64 => Fast::S64,
            Type::F32 => Fast::F32,
            Type::F64 => Fast::F64,
            Type::Char => Fast::Char,
            Type::String => Fast::String,
            Type::ErrorContext => return None,
            Type::Id(id) => match &resolve.types[*id].kind {
                TypeDefKind::Type(t) => Fast::of(resolve, t)?,
                TypeDefKind::List(t) if Fast::of(resolve, t) == Some(Fast::U8) => Fast::Bytes,
                _ => return None,
            },
        })
    }
}

impl FastSignature {
    /// `func`'s signature, if it is made of fast types (at most two parameters, one result).
    pub fn of(resolve: &Resolve, func: &wit_parser::Function) -> Option<FastSignature> {
        if func.params.len() > 2 {
            return None;
        }
        let params = func
            .params
            .iter()
            .map(|p| Fast::of(resolve, &p.ty))
            .collect::<Option<Vec<_>>>()?;
        let result = match &func.result {
            None => None,
            Some(t) => Some(Fast::of(resolve, t)?),
        };
        Some(FastSignature { params, result })
    }

    /// Whether a typed trampoline serves this signature, for an in-process plugin or an RPC
    /// one (the module's documentation says which).
    pub fn trampoline(&self, in_process: bool) -> bool {
        let bulk = |t: &Fast| matches!(t, Fast::String | Fast::Bytes);
        match (in_process, self.params.as_slice()) {
            (true, [] | [_]) => true,
            (true, [a, b]) => {
                PAIR.contains(a)
                    && PAIR.contains(b)
                    && self.result.is_none_or(|r| PAIR_RESULTS.contains(&r))
            }
            (false, [] | [_]) => self.params.iter().chain(&self.result).any(bulk),
            _ => false,
        }
    }
}

/// A Rust value of a fast type, encoded by the wire encoding.
pub(crate) trait Put {
    fn put(&self, out: &mut Vec<u8>);
}

/// A fast parameter as Wasmtime lifts it; strings and byte lists are read from the guest's
/// memory in place.
pub(crate) trait Param: Lift + Send + Sync + 'static {
    fn put_from(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()>;
}

/// A fast result, decoded from the answer for Wasmtime to lower.
pub(crate) trait Take: Lower + Send + Sync + Sized + 'static {
    fn take(r: &mut Reader<'_>) -> Result<Self, WireError>;
}

macro_rules! scalars {
    ($($ty:ty => |$v:ident, $out:ident| $put:expr, |$r:ident| $take:expr;)*) => {$(
        impl Put for $ty {
            fn put(&self, $out: &mut Vec<u8>) {
                let $v = *self;
                $put
            }
        }

        impl Param for $ty {
            fn put_from(
                &self,
                _: &StoreContextMut<'_, InstanceState>,
                out: &mut Vec<u8>,
            ) -> anyhow::Result<()> {
                self.put(out);
                Ok(())
            }
        }

        impl Take for $ty {
            fn take($r: &mut Reader<'_>) -> Result<Self, WireError> {
                $take
            }
        }
    )*};
}

scalars! {
    bool => |v, out| out.push(u8::from(v)), |r| r.bool();
    u8 => |v, out| out.push(v), |r| r.byte();
    i8 => |v, out| out.push(v as u8), |r| Ok(r.byte()? as i8);
    u16 => |v, out| put::uleb(out, v.into()), |r| Ok(r.uleb(16)? as u16);
    i16 => |v, out| put::sleb(out, v.into()), |r| Ok(r.sleb(16)? as i16);
    u32 => |v, out| put::uleb(out, v.into()), |r| Ok(r.uleb(32)? as u32);
    i32 => |v, out| put::sleb(out, v.into()), |r| Ok(r.sleb(32)? as i32);
    u64 => |v, out| put::uleb(out, v), |r| r.uleb(64);
    i64 => |v, out| put::sleb(out, v), |r| r.sleb(64);
    f32 => |v, out| put::f32(out, v), |r| r.f32();
    f64 => |v, out| put::f64(out, v), |r| r.f64();
    char => |v, out| put::char(out, v), |r| r.char();
}

impl Put for str {
    fn put(&self, out: &mut Vec<u8>) {
        put::bytes(out, self.as_bytes());
    }
}

impl Put for [u8] {
    fn put(&self, out: &mut Vec<u8>) {
        put::bytes(out, self);
    }
}

impl Param for WasmStr {
    fn put_from(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()> {
        self.to_str(store)?.put(out);
        Ok(())
    }
}

impl Param for WasmList<u8> {
    fn put_from(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()> {
        self.as_le_slice(store).put(out);
        Ok(())
    }
}

impl Take for String {
    fn take(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(r.string()?.to_owned())
    }
}

impl Take for Vec<u8> {
    fn take(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(r.bytes()?.to_vec())
    }
}

/// A fast function's parameters, as one tuple.
pub(crate) trait Params: ComponentNamedList + Lift + Send + Sync + 'static {
    fn put_all(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()>;
}

impl Params for () {
    fn put_all(
        &self,
        _: &StoreContextMut<'_, InstanceState>,
        _: &mut Vec<u8>,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

impl<A: Param> Params for (A,) {
    fn put_all(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()> {
        self.0.put_from(store, out)
    }
}

impl<A: Param, B: Param> Params for (A, B) {
    fn put_all(
        &self,
        store: &StoreContextMut<'_, InstanceState>,
        out: &mut Vec<u8>,
    ) -> anyhow::Result<()> {
        self.0.put_from(store, out)?;
        self.1.put_from(store, out)
    }
}

/// A fast function's results, as one tuple.
pub(crate) trait Results:
    ComponentNamedList + Lower + Send + Sync + Sized + 'static
{
    const COUNT: usize;
    fn take_all(r: &mut Reader<'_>) -> Result<Self, WireError>;
}

impl Results for () {
    const COUNT: usize = 0;
    fn take_all(_: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok(())
    }
}

impl<R: Take> Results for (R,) {
    const COUNT: usize = 1;
    fn take_all(r: &mut Reader<'_>) -> Result<Self, WireError> {
        Ok((R::take(r)?,))
    }
}

impl Target {
    /// The typed path's results from the answer, with the dynamic path's checks and messages.
    pub(crate) fn results<R: Results>(&self, reply: &[u8]) -> anyhow::Result<R> {
        self.check_answered(reply, R::COUNT)?;
        let mut reader = Reader::new(reply);
        let taken = R::take_all(&mut reader).and_then(|results| {
            reader.finish()?;
            Ok(results)
        });
        taken
            .map_err(anyhow::Error::from)
            .with_context(|| self.malformed())
    }
}

/// Runs `$body` with `$T` the Rust parameter type of the `Fast` value `$fast`.
macro_rules! param_type {
    ($fast:expr, $T:ident => $body:expr) => {
        match $fast {
            Fast::Bool => {
                type $T = bool;
                $body
            }
            Fast::U8 => {
                type $T = u8;
                $body
            }
            Fast::S8 => {
                type $T = i8;
                $body
            }
            Fast::U16 => {
                type $T = u16;
                $body
            }
            Fast::S16 => {
                type $T = i16;
                $body
            }
            Fast::U32 => {
                type $T = u32;
                $body
            }
            Fast::S32 => {
                type $T = i32;
                $body
            }
            Fast::U64 => {
                type $T = u64;
                $body
            }
            Fast::S64 => {
                type $T = i64;
                $body
            }
            Fast::F32 => {
                type $T = f32;
                $body
            }
            Fast::F64 => {
                type $T = f64;
                $body
            }
            Fast::Char => {
                type $T = char;
                $body
            }
            Fast::String => {
                type $T = WasmStr;
                $body
            }
            Fast::Bytes => {
                type $T = WasmList<u8>;
                $body
            }
        }
    };
}

/// As `param_type!`, for the types of [`PAIR`].
macro_rules! pair_type {
    ($fast:expr, $T:ident => $body:expr) => {
        match $fast {
            Fast::U32 => {
                type $T = u32;
                $body
            }
            Fast::U64 => {
                type $T = u64;
                $body
            }
            Fast::S64 => {
                type $T = i64;
                $body
            }
            Fast::String => {
                type $T = WasmStr;
                $body
            }
            Fast::Bytes => {
                type $T = WasmList<u8>;
                $body
            }
            other => anyhow::bail!("internal error: {other:?} is not in PAIR"),
        }
    };
}

/// As `param_type!`, for a string or byte list.
macro_rules! bulk_type {
    ($fast:expr, $T:ident => $body:expr) => {
        match $fast {
            Fast::String => {
                type $T = WasmStr;
                $body
            }
            Fast::Bytes => {
                type $T = WasmList<u8>;
                $body
            }
            other => anyhow::bail!("internal error: {other:?} is neither a string nor a list"),
        }
    };
}

/// Links one function whose signature has a trampoline (`signature.trampoline(..)` for the
/// target's route): picks the Rust types and the sync or async kind.
pub(crate) fn link_typed(
    inst: &mut LinkerInstance<'_, InstanceState>,
    name: &str,
    signature: &FastSignature,
    target: Arc<Target>,
) -> anyhow::Result<()> {
    let in_process = matches!(target.route, Route::InProcess { .. });
    anyhow::ensure!(
        signature.trampoline(in_process),
        "internal error: no trampoline for {name} ({signature:?})"
    );
    let link = Link { inst, name, target };
    let result = signature.result;
    match (in_process, signature.params.as_slice()) {
        (true, []) => any_result::<InProcessCall, ()>(link, result),
        (true, &[a]) => param_type!(a, A => any_result::<InProcessCall, (A,)>(link, result)),
        (true, &[a, b]) => pair_type!(a, A => pair_type!(b, B =>
            pair_result::<InProcessCall, (A, B)>(link, result)
        )),
        (false, []) => bulk_result::<RemoteCall, ()>(link, result),
        (false, &[a @ (Fast::String | Fast::Bytes)]) => {
            bulk_type!(a, A => any_result::<RemoteCall, (A,)>(link, result))
        }
        (false, &[a]) => param_type!(a, A => bulk_result::<RemoteCall, (A,)>(link, result)),
        _ => anyhow::bail!("internal error: no trampoline for {name} ({signature:?})"),
    }
}

struct Link<'l, 'i> {
    inst: &'l mut LinkerInstance<'i, InstanceState>,
    name: &'l str,
    target: Arc<Target>,
}

/// A kind of trampoline.
trait Wrap {
    fn wrap<P: Params, R: Results>(link: Link<'_, '_>) -> anyhow::Result<()>;
}

/// In-process: `func_wrap`, the thread's scratch buffers, no future.
struct InProcessCall;

impl Wrap for InProcessCall {
    fn wrap<P: Params, R: Results>(link: Link<'_, '_>) -> anyhow::Result<()> {
        let target = link.target;
        let Route::InProcess { plugin, index } = target.route.clone() else {
            anyhow::bail!("internal error: a synchronous trampoline for a remote plugin");
        };
        link.inst.func_wrap(
            link.name,
            move |store: StoreContextMut<'_, InstanceState>, params: P| {
                with_scratch(|scratch| {
                    params.put_all(&store, &mut scratch.params)?;
                    target.call_in_process(&*plugin, index, &scratch.params, &mut scratch.reply)?;
                    target.results::<R>(scratch.reply.as_bytes())
                })
                .map_err(wasmtime::Error::from_anyhow)
            },
        )?;
        Ok(())
    }
}

/// RPC: `func_wrap_async` over the transport's `call`.
struct RemoteCall;

impl Wrap for RemoteCall {
    fn wrap<P: Params, R: Results>(link: Link<'_, '_>) -> anyhow::Result<()> {
        let target = link.target;
        link.inst.func_wrap_async(
            link.name,
            move |store: StoreContextMut<'_, InstanceState>, params: P| {
                let target = target.clone();
                let mut encoded = Vec::new();
                let put = params.put_all(&store, &mut encoded);
                Box::new(async move {
                    let result: anyhow::Result<R> = async {
                        put?;
                        let reply = target.call_remote(encoded.into(), R::COUNT > 0).await?;
                        target.results::<R>(&reply)
                    }
                    .await;
                    result.map_err(wasmtime::Error::from_anyhow)
                })
            },
        )?;
        Ok(())
    }
}

/// Any result type, or none.
fn any_result<W: Wrap, P: Params>(link: Link<'_, '_>, result: Option<Fast>) -> anyhow::Result<()> {
    match result {
        None => W::wrap::<P, ()>(link),
        Some(Fast::Bool) => W::wrap::<P, (bool,)>(link),
        Some(Fast::U8) => W::wrap::<P, (u8,)>(link),
        Some(Fast::S8) => W::wrap::<P, (i8,)>(link),
        Some(Fast::U16) => W::wrap::<P, (u16,)>(link),
        Some(Fast::S16) => W::wrap::<P, (i16,)>(link),
        Some(Fast::U32) => W::wrap::<P, (u32,)>(link),
        Some(Fast::S32) => W::wrap::<P, (i32,)>(link),
        Some(Fast::U64) => W::wrap::<P, (u64,)>(link),
        Some(Fast::S64) => W::wrap::<P, (i64,)>(link),
        Some(Fast::F32) => W::wrap::<P, (f32,)>(link),
        Some(Fast::F64) => W::wrap::<P, (f64,)>(link),
        Some(Fast::Char) => W::wrap::<P, (char,)>(link),
        Some(Fast::String) => W::wrap::<P, (String,)>(link),
        Some(Fast::Bytes) => W::wrap::<P, (Vec<u8>,)>(link),
    }
}

/// A result of [`PAIR_RESULTS`], or none.
fn pair_result<W: Wrap, P: Params>(link: Link<'_, '_>, result: Option<Fast>) -> anyhow::Result<()> {
    match result {
        None => W::wrap::<P, ()>(link),
        Some(Fast::Bool) => W::wrap::<P, (bool,)>(link),
        Some(Fast::U32) => W::wrap::<P, (u32,)>(link),
        Some(Fast::U64) => W::wrap::<P, (u64,)>(link),
        Some(Fast::S64) => W::wrap::<P, (i64,)>(link),
        Some(Fast::String) => W::wrap::<P, (String,)>(link),
        Some(Fast::Bytes) => W::wrap::<P, (Vec<u8>,)>(link),
        Some(other) => anyhow::bail!("internal error: {other:?} is not in PAIR_RESULTS"),
    }
}

/// A string or byte-list result.
fn bulk_result<W: Wrap, P: Params>(link: Link<'_, '_>, result: Option<Fast>) -> anyhow::Result<()> {
    match result {
        Some(Fast::String) => W::wrap::<P, (String,)>(link),
        Some(Fast::Bytes) => W::wrap::<P, (Vec<u8>,)>(link),
        other => anyhow::bail!("internal error: {other:?} is neither a string nor a list"),
    }
}

#[cfg(test)]
#[path = "typed_tests.rs"]
mod tests;
