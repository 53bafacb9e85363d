//! The C side of `export_plugin!`: the ABI v2 table of a [`Dispatch`] and its three
//! functions. Results are encoded into a reusable thread-local buffer, then copied into the
//! host's buffer when they fit; otherwise the buffer itself is handed to the host, which
//! returns it with `free_buf`. Panics are caught here, at the boundary.
//!
//! `unsafe` here is the FFI only: reading what the host passes and writing its buffer, each
//! with its `// SAFETY:`.

use std::any::Any;
use std::cell::Cell;
use std::ffi::c_void;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind};

use manifold_plugin_api::abi::{
    ABI_VERSION, Buf, NO_FUNCTION, PluginV2, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
};

use crate::{Dispatch, Plugin, ValuePlugin};

/// The entry function `export_plugin!` forwards to.
pub type Entry = fn(u32) -> *const PluginV2;

/// Picks what `export_plugin!` exports for a type: the type itself if it is a [`Dispatch`],
/// else its [`ValuePlugin`] if it is a [`Plugin`] (method resolution tries
/// [`ViaDispatch`], implemented on `Probe<T>`, before [`ViaPlugin`], implemented on
/// `&Probe<T>`).
pub struct Probe<T>(PhantomData<T>);

impl<T> Probe<T> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Probe<T> {
        Probe(PhantomData)
    }
}

pub trait ViaDispatch {
    fn entry(&self) -> Entry;
}

impl<D: Dispatch> ViaDispatch for Probe<D> {
    fn entry(&self) -> Entry {
        entry::<D>
    }
}

pub trait ViaPlugin {
    fn entry(&self) -> Entry;
}

impl<P: Plugin> ViaPlugin for &Probe<P> {
    fn entry(&self) -> Entry {
        entry::<ValuePlugin<P>>
    }
}

/// Exports `$plugin` as this library's `manifold_plugin_entry`: a [`Dispatch`] as it is, a
/// [`Plugin`] through [`ValuePlugin`](crate::ValuePlugin).
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        /// The Manifold plugin entry point (ABI v2).
        #[unsafe(no_mangle)]
        pub extern "C" fn manifold_plugin_entry(
            host_abi_version: u32,
        ) -> *const $crate::api::abi::PluginV2 {
            #[allow(unused_imports)]
            use $crate::{ViaDispatch as _, ViaPlugin as _};
            let entry = (&$crate::Probe::<$plugin>::new()).entry();
            entry(host_abi_version)
        }
    };
}

/// Builds the table of `D` (once per call; the host calls it once per load), or null for a
/// host of another ABI version or when `D::default()` panics.
pub fn entry<D: Dispatch>(host_abi_version: u32) -> *const PluginV2 {
    if host_abi_version != ABI_VERSION {
        return std::ptr::null();
    }
    let Ok(dispatch) = catch_unwind(D::default) else {
        return std::ptr::null();
    };
    let dispatch: &'static D = Box::leak(Box::new(dispatch));
    let table: &'static PluginV2 = Box::leak(Box::new(PluginV2 {
        abi_version: ABI_VERSION,
        wit: D::WIT.as_ptr().cast(),
        wit_len: D::WIT.len(),
        ctx: (dispatch as *const D).cast_mut().cast::<c_void>(),
        lookup: Some(lookup::<D>),
        call: Some(call::<D>),
        free_buf: Some(free_buf),
    }));
    table
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

unsafe extern "C" fn lookup<D: Dispatch>(
    ctx: *mut c_void,
    instance: *const u8,
    instance_len: usize,
    func: *const u8,
    func_len: usize,
) -> i64 {
    // SAFETY: the host passes back the `ctx` of the table `entry::<D>` built, which points to
    // a leaked (never freed) `D`; and byte ranges valid for the call (the ABI).
    let (dispatch, instance, func) = unsafe {
        (
            &*ctx.cast::<D>(),
            slice(instance, instance_len),
            slice(func, func_len),
        )
    };
    let (Ok(instance), Ok(func)) = (std::str::from_utf8(instance), std::str::from_utf8(func))
    else {
        return NO_FUNCTION;
    };
    match catch_unwind(AssertUnwindSafe(|| dispatch.lookup(instance, func))) {
        Ok(Some(index)) => i64::from(index),
        _ => NO_FUNCTION,
    }
}

thread_local! {
    /// Where results are encoded, reused call after call.
    static OUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Above this, a thread's output buffer is not kept for the next call.
const MAX_KEPT: usize = 1 << 20;

unsafe extern "C" fn call<D: Dispatch>(
    ctx: *mut c_void,
    index: u64,
    params: *const u8,
    params_len: usize,
    out: *mut Buf,
) -> i32 {
    if out.is_null() {
        return STATUS_ERROR;
    }
    // SAFETY: as in `lookup`; `out` is the host's valid, writable `Buf` (the ABI), not
    // aliased during the call.
    let (dispatch, params, out) =
        unsafe { (&*ctx.cast::<D>(), slice(params, params_len), &mut *out) };
    // One access to the thread-local buffer per call: in a `cdylib` each is a call to
    // `__tls_get_addr`, a visible part of a small call's cost.
    OUT.with(|kept| {
        let mut buf = kept.take();
        buf.clear();
        let outcome = catch_unwind(AssertUnwindSafe(|| match u32::try_from(index) {
            Ok(index) => dispatch.call(index, params, &mut buf),
            Err(_) => Err(format!("this plugin has no function {index}")),
        }));
        let status = match outcome {
            Ok(Ok(())) => STATUS_OK,
            Ok(Err(message)) => {
                buf.clear();
                buf.extend_from_slice(message.as_bytes());
                STATUS_ERROR
            }
            Err(panic) => {
                buf.clear();
                buf.extend_from_slice(panic_message(&*panic).as_bytes());
                STATUS_PANIC
            }
        };
        if let Some(buf) = reply(buf, out) {
            kept.set(buf);
        }
        status
    })
}

fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

/// Puts `bytes` into the host's buffer if they fit and gives them back to be kept for the
/// next call, else hands the buffer over.
fn reply(bytes: Vec<u8>, out: &mut Buf) -> Option<Vec<u8>> {
    if !out.ptr.is_null() && bytes.len() <= out.cap {
        // SAFETY: the host lends `cap` writable bytes at `ptr` (the ABI), which do not overlap
        // our own buffer; we write `bytes.len() <= cap` of them.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), out.ptr, bytes.len()) };
        out.len = bytes.len();
        (bytes.capacity() <= MAX_KEPT).then_some(bytes)
    } else {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        *out = Buf {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            cap: bytes.capacity(),
        };
        None
    }
}

unsafe extern "C" fn free_buf(_ctx: *mut c_void, buf: Buf) {
    if !buf.ptr.is_null() {
        // SAFETY: every buffer we hand over comes from `reply`, i.e. from a `Vec<u8>` with
        // exactly this pointer, length and capacity, and the host returns each buffer once.
        drop(unsafe { Vec::from_raw_parts(buf.ptr, buf.len, buf.cap) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Call, Value};

    const WIT: &str = "package t:t@1.0.0; interface api { inc: func(x: u64) -> u64; }";

    /// What generated bindings look like to the glue.
    #[derive(Default)]
    struct Bindings;

    impl Dispatch for Bindings {
        const WIT: &'static str = WIT;
        fn lookup(&self, _: &str, func: &str) -> Option<u32> {
            (func == "inc").then_some(7)
        }
        fn call(&self, _: u32, params: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
            out.extend(params.iter().map(|b| b + 1));
            Ok(())
        }
    }

    #[derive(Default)]
    struct Values;

    impl Plugin for Values {
        const WIT: &'static str = WIT;
        fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
            Ok(vec![Value::U64(call.u64(0)? + 1)])
        }
    }

    #[test]
    // The borrow is what `export_plugin!` writes: it lets a `Plugin` fall back to `ViaPlugin`.
    #[allow(clippy::needless_borrow)]
    fn export_plugin_exports_a_dispatch_as_it_is_and_a_plugin_through_value_plugin() {
        #[allow(unused_imports)]
        use crate::{ViaDispatch as _, ViaPlugin as _};
        let dispatch = (&Probe::<Bindings>::new()).entry();
        assert_eq!(dispatch as usize, entry::<Bindings> as Entry as usize);
        let plugin = (&Probe::<Values>::new()).entry();
        assert_eq!(
            plugin as usize,
            entry::<ValuePlugin<Values>> as Entry as usize
        );
        assert!(
            entry::<Bindings>(ABI_VERSION - 1).is_null(),
            "another host version"
        );
    }

    #[test]
    fn value_plugin_resolves_its_wit_once_and_calls_by_index() {
        let plugin = ValuePlugin::<Values>::default();
        assert_eq!(plugin.error(), None);
        let index = plugin.lookup("t:t/api@1.0.0", "inc").unwrap();
        assert_eq!(plugin.lookup("t:t/api@1.0.0", "dec"), None);
        let mut out = Vec::new();
        plugin.call(index, &[41], &mut out).unwrap();
        assert_eq!(out, [42]);
        let err = plugin.call(index, &[41, 0], &mut Vec::new()).unwrap_err();
        assert!(err.contains("bad parameters"), "{err}");
        let err = plugin.call(index + 1, &[], &mut Vec::new()).unwrap_err();
        assert!(err.contains("no function"), "{err}");
    }
}
