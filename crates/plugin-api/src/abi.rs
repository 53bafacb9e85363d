//! The C ABI of dynamic-library plugins, version 2. `include/manifold_plugin.h` is the same
//! contract for C; a test below keeps the two in step.
//!
//! A plugin library exports one symbol, [`ENTRY_SYMBOL`], of type [`EntryFn`]. The host calls
//! it once with its ABI version; the plugin returns a pointer to a [`PluginV2`] that lives as
//! long as the library is loaded, or null to refuse the host. The host reads `abi_version`
//! first and refuses the plugin unless it is [`ABI_VERSION`], before reading anything else.
//!
//! Version 2 calls by index: at load the host resolves every function the plugin's WIT
//! declares with `lookup`, once; each call then passes the index, the encoded parameters
//! and an output buffer the host owns, which the plugin fills in place when the results fit
//! (no allocation and no name comparison per call). Version 1 (calls by name, a buffer the
//! plugin always allocated) is no longer accepted.

use std::ffi::{c_char, c_void};

/// The version of this ABI. Bumped on any incompatible change; `abi_version` stays the first
/// field of the table in every version.
pub const ABI_VERSION: u32 = 2;

/// The one symbol a plugin library exports.
pub const ENTRY_SYMBOL: &str = "manifold_plugin_entry";

/// A call succeeded; `out` holds the encoded results.
pub const STATUS_OK: i32 = 0;
/// A call failed; `out` holds a UTF-8 message.
pub const STATUS_ERROR: i32 = 1;
/// A Rust plugin panicked during the call; `out` holds the panic message.
pub const STATUS_PANIC: i32 = 2;

/// `lookup`'s answer for a function the plugin does not have.
pub const NO_FUNCTION: i64 = -1;

/// A byte buffer. As `call`'s `out`, the host passes its own scratch buffer
/// (`{ptr, len: 0, cap}`): the plugin writes up to `cap` bytes at `ptr` and sets `len`, or,
/// when they do not fit, replaces all three fields with a buffer of its own, which the host
/// copies and hands back with `free_buf`. `ptr` may also be set to null (no bytes).
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    pub ptr: *mut u8,
    pub len: usize,
    /// Room at `ptr`. For a buffer the plugin allocated, whatever its allocator needs (the
    /// host only hands it back).
    pub cap: usize,
}

impl Buf {
    pub const EMPTY: Buf = Buf {
        ptr: std::ptr::null_mut(),
        len: 0,
        cap: 0,
    };
}

/// `lookup(ctx, instance, instance_len, func, func_len)`: the plugin's index of a function,
/// or a negative number ([`NO_FUNCTION`]) if it has none of that name. Strings are UTF-8, not
/// NUL-terminated; `func` is the wRPC name (`inc`, `counter.add`, `counter`, `[drop]counter`).
/// Called once per function when the plugin is loaded, never per call.
pub type LookupFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    instance: *const u8,
    instance_len: usize,
    func: *const u8,
    func_len: usize,
) -> i64;

/// `call(ctx, index, params, params_len, out)`: calls the function `lookup` gave `index`.
/// Returns a `STATUS_*` code and fills `out` (see [`Buf`]). May be called from several threads
/// at once.
pub type CallFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    index: u64,
    params: *const u8,
    params_len: usize,
    out: *mut Buf,
) -> i32;

/// Frees a buffer the plugin allocated in `call` (never the host's own).
pub type FreeBufFn = unsafe extern "C" fn(ctx: *mut c_void, buf: Buf);

/// What a plugin library describes itself with (ABI version 2). The functions are `Option`s
/// so that a null pointer from C is a load error, not undefined behaviour.
#[repr(C)]
#[derive(Debug)]
pub struct PluginV2 {
    /// Must be [`ABI_VERSION`]; always the first field.
    pub abi_version: u32,
    /// The WIT the plugin implements: UTF-8 text of one WIT package (`wit_len` bytes).
    pub wit: *const c_char,
    pub wit_len: usize,
    /// The plugin's state, passed back on every call.
    pub ctx: *mut c_void,
    pub lookup: Option<LookupFn>,
    pub call: Option<CallFn>,
    pub free_buf: Option<FreeBufFn>,
}

/// `manifold_plugin_entry(host_abi_version)`.
pub type EntryFn = unsafe extern "C" fn(host_abi_version: u32) -> *const PluginV2;

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = include_str!("../../../include/manifold_plugin.h");

    /// The tokens of the header's C code (comments removed), for comparing declarations
    /// without depending on formatting.
    fn tokens(c: &str) -> Vec<String> {
        let mut code = String::new();
        let mut rest = c;
        while let Some(start) = rest.find("/*") {
            code.push_str(&rest[..start]);
            let end = rest[start..].find("*/").expect("unterminated comment") + start + 2;
            code.push(' ');
            rest = &rest[end..];
        }
        code.push_str(rest);
        let mut out = Vec::new();
        let mut word = String::new();
        for ch in code.chars() {
            if ch.is_alphanumeric() || ch == '_' {
                word.push(ch);
            } else {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                if !ch.is_whitespace() {
                    out.push(ch.to_string());
                }
            }
        }
        out
    }

    fn contains(haystack: &[String], needle: &str) -> bool {
        let needle = tokens(needle);
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn the_header_declares_this_abi() {
        let header = tokens(HEADER);
        let expect = |decl: String| assert!(contains(&header, &decl), "header lacks `{decl}`");
        expect(format!("#define MANIFOLD_PLUGIN_ABI_VERSION {ABI_VERSION}"));
        expect(format!("#define MANIFOLD_STATUS_OK {STATUS_OK}"));
        expect(format!("#define MANIFOLD_STATUS_ERROR {STATUS_ERROR}"));
        expect(format!("#define MANIFOLD_STATUS_PANIC {STATUS_PANIC}"));
        expect(format!("#define MANIFOLD_NO_FUNCTION ({NO_FUNCTION})"));
        expect(
            "typedef struct manifold_buf { uint8_t *ptr; size_t len; size_t cap; } manifold_buf;"
                .into(),
        );
        // The table's fields in the order of `PluginV2`, with the signatures of the aliases.
        expect(
            "typedef struct manifold_plugin_v2 {
                uint32_t abi_version;
                const char *wit;
                size_t wit_len;
                void *ctx;
                int64_t (*lookup)(void *ctx, const uint8_t *instance, size_t instance_len,
                                  const uint8_t *func, size_t func_len);
                int32_t (*call)(void *ctx, uint64_t index, const uint8_t *params,
                                size_t params_len, manifold_buf *out);
                void (*free_buf)(void *ctx, manifold_buf buf);
            } manifold_plugin_v2;"
                .into(),
        );
        expect(format!(
            "const manifold_plugin_v2 *{ENTRY_SYMBOL}(uint32_t host_abi_version);"
        ));
    }

    #[test]
    fn the_rust_declarations_have_the_c_layout() {
        use std::mem::{offset_of, size_of};
        let word = size_of::<usize>();
        assert_eq!(size_of::<Buf>(), 3 * word);
        // Option<fn> is a nullable pointer.
        assert_eq!(size_of::<Option<CallFn>>(), word);
        assert_eq!(offset_of!(PluginV2, abi_version), 0);
        assert_eq!(offset_of!(PluginV2, wit), word);
        assert_eq!(offset_of!(PluginV2, wit_len), 2 * word);
        assert_eq!(offset_of!(PluginV2, ctx), 3 * word);
        assert_eq!(offset_of!(PluginV2, lookup), 4 * word);
        assert_eq!(offset_of!(PluginV2, call), 5 * word);
        assert_eq!(offset_of!(PluginV2, free_buf), 6 * word);
    }
}
