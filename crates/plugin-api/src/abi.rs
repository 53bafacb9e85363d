//! The C ABI of dynamic-library plugins, version 1. `include/manifold_plugin.h` is the same
//! contract for C; a test keeps the two in step.
//!
//! A plugin library exports one symbol, [`ENTRY_SYMBOL`], of type [`EntryFn`]. The host calls
//! it once with its ABI version; the plugin returns a pointer to a [`PluginV1`] that lives as
//! long as the library is loaded, or null to refuse the host. The host reads `abi_version`
//! first and refuses the plugin unless it is [`ABI_VERSION`], before reading anything else.

use std::ffi::{c_char, c_void};

/// The version of this ABI. Bumped on any incompatible change; `abi_version` stays the first
/// field of the table in every version.
pub const ABI_VERSION: u32 = 1;

/// The one symbol a plugin library exports.
pub const ENTRY_SYMBOL: &str = "manifold_plugin_entry";

/// A call succeeded; `out` holds the encoded results.
pub const STATUS_OK: i32 = 0;
/// A call failed; `out` holds a UTF-8 message.
pub const STATUS_ERROR: i32 = 1;
/// A Rust plugin panicked during the call; `out` holds the panic message.
pub const STATUS_PANIC: i32 = 2;

/// A byte buffer the plugin allocated and the host hands back with `free_buf`.
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    /// For the plugin's allocator (e.g. a capacity); the host never reads it.
    pub cap: usize,
}

impl Buf {
    pub const EMPTY: Buf = Buf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
}

/// `call(ctx, instance, instance_len, func, func_len, params, params_len, out)`: calls a
/// function; strings are UTF-8, not NUL-terminated. Returns a `STATUS_*` code and fills `out`.
/// May be called from several threads at once.
pub type CallFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    instance: *const u8,
    instance_len: usize,
    func: *const u8,
    func_len: usize,
    params: *const u8,
    params_len: usize,
    out: *mut Buf,
) -> i32;

/// Frees a buffer the plugin filled in `call`.
pub type FreeBufFn = unsafe extern "C" fn(ctx: *mut c_void, buf: Buf);

/// What a plugin library describes itself with (ABI version 1).
#[repr(C)]
#[derive(Debug)]
pub struct PluginV1 {
    /// Must be [`ABI_VERSION`]; always the first field.
    pub abi_version: u32,
    /// The WIT the plugin implements: UTF-8 text of one WIT package (`wit_len` bytes).
    pub wit: *const c_char,
    pub wit_len: usize,
    /// The plugin's state, passed back on every call.
    pub ctx: *mut c_void,
    pub call: CallFn,
    pub free_buf: FreeBufFn,
}

/// `manifold_plugin_entry(host_abi_version)`.
pub type EntryFn = unsafe extern "C" fn(host_abi_version: u32) -> *const PluginV1;
