//! Write a Manifold dynamic-library plugin in Rust.
//!
//! Implement [`Plugin`] for a type — its WIT, and one `call` that answers a function of the
//! WIT with [`Value`]s — and export it with [`export_plugin!`] from a `cdylib` crate:
//!
//! ```ignore
//! use manifold_plugin_sdk::{Call, Plugin, Value, export_plugin};
//!
//! #[derive(Default)]
//! struct Billing;
//!
//! impl Plugin for Billing {
//!     const WIT: &'static str = include_str!("../wit/billing.wit");
//!     fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
//!         match call.func {
//!             "charge" => Ok(vec![Value::U64(call.u64(0)? * 100)]),
//!             other => Err(format!("no function {other}")),
//!         }
//!     }
//! }
//!
//! export_plugin!(Billing);
//! ```
//!
//! The SDK decodes the parameters by the WIT's types before `call` and encodes the results
//! after it, so a plugin never sees bytes. A panic in `call` is caught and becomes an error
//! for that call; the host goes on.

mod dispatch;
mod value;

use std::collections::HashMap;
use std::ffi::c_void;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use dispatch::Dispatch;
pub use manifold_plugin_api as api;
use manifold_plugin_api::abi::{ABI_VERSION, Buf, PluginV1, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use manifold_plugin_api::wire::Reader;
pub use value::{Shape, Signature, Value, ValueError, decode, encode, signatures};

/// One call of a plugin function.
#[derive(Debug)]
pub struct Call<'a> {
    /// The interface, e.g. `acme:billing/charge@0.1.0`.
    pub interface: &'a str,
    /// The function: `charge`; `counter.add` for a method; `counter` for a constructor;
    /// `[drop]counter` when a guest dropped a handle (one `Value::Handle` parameter).
    pub func: &'a str,
    pub params: Vec<Value>,
}

impl Call<'_> {
    fn param(&self, i: usize) -> Result<&Value, String> {
        self.params
            .get(i)
            .ok_or_else(|| format!("{}: no parameter {i}", self.func))
    }

    pub fn u64(&self, i: usize) -> Result<u64, String> {
        match self.param(i)? {
            Value::U64(v) => Ok(*v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a u64",
                self.func
            )),
        }
    }

    pub fn s64(&self, i: usize) -> Result<i64, String> {
        match self.param(i)? {
            Value::S64(v) => Ok(*v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not an s64",
                self.func
            )),
        }
    }

    pub fn string(&self, i: usize) -> Result<&str, String> {
        match self.param(i)? {
            Value::String(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a string",
                self.func
            )),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<&[u8], String> {
        match self.param(i)? {
            Value::Bytes(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a list<u8>",
                self.func
            )),
        }
    }

    pub fn handle(&self, i: usize) -> Result<&[u8], String> {
        match self.param(i)? {
            Value::Handle(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a handle",
                self.func
            )),
        }
    }
}

/// A plugin: the WIT it implements and how it answers calls. One value serves every call,
/// from several threads at once.
pub trait Plugin: Default + Send + Sync + 'static {
    /// The WIT package the plugin implements (every interface in it is served).
    const WIT: &'static str;

    /// Answers one call with its results (none or one value, as the WIT says), or an error
    /// message, which the host reports and turns into a trap of the calling guest.
    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String>;
}

/// What the exported table points to.
struct Exported<P> {
    plugin: P,
    /// By interface, then function: looked up with the call's `&str`s, no allocation.
    signatures: HashMap<String, HashMap<String, Signature>>,
}

/// Builds the table for [`export_plugin!`]; not for direct use.
#[doc(hidden)]
pub fn entry<P: Plugin>(host_abi_version: u32) -> *const PluginV1 {
    if host_abi_version != ABI_VERSION {
        return std::ptr::null();
    }
    let Ok(signatures) = signatures(P::WIT) else {
        return std::ptr::null();
    };
    let exported: &'static Exported<P> = Box::leak(Box::new(Exported {
        plugin: P::default(),
        signatures: group(signatures),
    }));
    let table: &'static PluginV1 = Box::leak(Box::new(PluginV1 {
        abi_version: ABI_VERSION,
        wit: P::WIT.as_ptr().cast(),
        wit_len: P::WIT.len(),
        ctx: (exported as *const Exported<P>).cast_mut().cast::<c_void>(),
        call: call::<P>,
        free_buf,
    }));
    table
}

fn group(
    flat: HashMap<(String, String), Signature>,
) -> HashMap<String, HashMap<String, Signature>> {
    let mut out: HashMap<String, HashMap<String, Signature>> = HashMap::new();
    for ((instance, func), signature) in flat {
        out.entry(instance).or_default().insert(func, signature);
    }
    out
}

/// Exports `$plugin` (a [`Plugin`]) as this library's `manifold_plugin_entry`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The Manifold plugin entry point (ABI v1).
        #[unsafe(no_mangle)]
        pub extern "C" fn manifold_plugin_entry(
            host_abi_version: u32,
        ) -> *const $crate::api::abi::PluginV1 {
            $crate::entry::<$plugin>(host_abi_version)
        }
    };
}

fn into_buf(bytes: Vec<u8>) -> Buf {
    let mut bytes = std::mem::ManuallyDrop::new(bytes);
    Buf {
        ptr: bytes.as_mut_ptr(),
        len: bytes.len(),
        cap: bytes.capacity(),
    }
}

unsafe extern "C" fn free_buf(_ctx: *mut c_void, buf: Buf) {
    if !buf.ptr.is_null() {
        // SAFETY: every non-null `Buf` we hand out comes from `into_buf`, i.e. from a
        // `Vec<u8>` with exactly this pointer, length and capacity, and the host returns
        // each buffer once.
        drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn call<P: Plugin>(
    ctx: *mut c_void,
    instance: *const u8,
    instance_len: usize,
    func: *const u8,
    func_len: usize,
    params: *const u8,
    params_len: usize,
    out: *mut Buf,
) -> i32 {
    // SAFETY: the host passes back the `ctx` of the table `entry::<P>` built, which points to
    // a leaked (never freed) `Exported<P>`; and byte ranges valid for the call (the ABI).
    let (exported, instance, func, params) = unsafe {
        (
            &*ctx.cast::<Exported<P>>(),
            slice(instance, instance_len),
            slice(func, func_len),
            slice(params, params_len),
        )
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        dispatch(exported, instance, func, params)
    }));
    let (status, bytes) = match outcome {
        Ok(Ok(bytes)) => (STATUS_OK, bytes),
        Ok(Err(message)) => (STATUS_ERROR, message.into_bytes()),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            (STATUS_PANIC, message.into_bytes())
        }
    };
    if !out.is_null() {
        // SAFETY: `out` is the host's valid, writable `Buf` (the ABI).
        unsafe { out.write(into_buf(bytes)) };
    }
    status
}

/// # Safety
/// `ptr` must be valid for `len` bytes (or `len` zero).
unsafe fn slice<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the caller promises `ptr` is valid for `len` bytes.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

fn dispatch<P: Plugin>(
    exported: &Exported<P>,
    instance: &[u8],
    func: &[u8],
    params: &[u8],
) -> Result<Vec<u8>, String> {
    let instance = std::str::from_utf8(instance).map_err(|_| "instance is not UTF-8")?;
    let func = std::str::from_utf8(func).map_err(|_| "function name is not UTF-8")?;
    let signature = exported
        .signatures
        .get(instance)
        .and_then(|functions| functions.get(func))
        .ok_or_else(|| format!("this plugin has no function {instance}#{func}"))?;
    let mut reader = Reader::new(params);
    let params = signature
        .params
        .iter()
        .map(|shape| decode(shape, &mut reader))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{func}: bad parameters: {e}"))?;
    reader
        .finish()
        .map_err(|e| format!("{func}: bad parameters: {e}"))?;
    let results = exported.plugin.call(Call {
        interface: instance,
        func,
        params,
    })?;
    if results.len() != signature.results.len() {
        return Err(format!(
            "{func} returned {} values; its WIT says {}",
            results.len(),
            signature.results.len()
        ));
    }
    let mut out = Vec::new();
    for (value, shape) in results.iter().zip(&signature.results) {
        encode(value, shape, &mut out).map_err(|e| format!("{func}: bad result: {e}"))?;
    }
    Ok(out)
}
