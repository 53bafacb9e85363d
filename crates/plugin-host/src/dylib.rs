//! Dynamic-library plugins: loaded into the host process with `libloading`, called through
//! the C ABI of `manifold-plugin-api` (`include/manifold_plugin.h`, version 2): functions are
//! resolved to indices once, and each call writes its answer into the host's reusable buffer.
//!
//! In-process is the fastest kind and the least isolated: a Rust plugin's panic is caught by
//! the SDK and becomes an error for that call, but a crash in the library (a segfault in C
//! code, an abort) takes the host down with it. Use an RPC plugin for code you do not trust.

use std::cell::Cell;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_plugin_api::abi::{
    ABI_VERSION, Buf, CallFn, ENTRY_SYMBOL, EntryFn, FreeBufFn, LookupFn, STATUS_OK, STATUS_PANIC,
};

use crate::transport::{CallError, CallFuture, Failure, InProcess, ReplyBuf, Transport};

/// A loaded plugin library.
pub struct DylibPlugin {
    name: String,
    path: PathBuf,
    ctx: *mut c_void,
    lookup: LookupFn,
    call: CallFn,
    free_buf: FreeBufFn,
    wit: String,
    /// Kept last so the library outlives every use of the functions above; never unloaded
    /// while the plugin exists.
    _library: libloading::Library,
}

// SAFETY: the ABI requires `lookup`, `call` and `free_buf` to be callable from any thread, at
// the same time (documented in `include/manifold_plugin.h`); `ctx` is only passed back to
// them; the functions live in the library, which lives as long as `self`.
unsafe impl Send for DylibPlugin {}
// SAFETY: as for `Send`: shared use only calls thread-safe functions.
unsafe impl Sync for DylibPlugin {}

impl DylibPlugin {
    /// Loads `path`, checks its ABI version and reads its WIT.
    pub fn load(name: &str, path: &Path) -> anyhow::Result<DylibPlugin> {
        if !path.exists() {
            bail!("plugin `{name}`: library {} does not exist", path.display());
        }
        // SAFETY: loading a library runs its initialisers. That is the contract of a dylib
        // plugin: the operator chose to run this code in the host (docs/plugins.md).
        let library = unsafe { libloading::Library::new(path) }
            .with_context(|| format!("plugin `{name}`: cannot load {}", path.display()))?;
        // SAFETY: the symbol is declared by the ABI as `EntryFn`; a library exporting the
        // name with another signature breaks the ABI contract that the name promises.
        let entry: libloading::Symbol<EntryFn> = unsafe { library.get(ENTRY_SYMBOL.as_bytes()) }
            .with_context(|| {
                format!(
                    "plugin `{name}`: {} does not export `{ENTRY_SYMBOL}`; is it a Manifold plugin?",
                    path.display()
                )
            })?;
        // SAFETY: calling the entry point with our ABI version is what the ABI prescribes.
        let table = unsafe { entry(ABI_VERSION) };
        if table.is_null() {
            bail!(
                "plugin `{name}` ({}) refused this host's plugin ABI version {ABI_VERSION}; \
                 it was probably built for another version. Rebuild it against this host's \
                 manifold-plugin-sdk or include/manifold_plugin.h",
                path.display()
            );
        }
        // SAFETY: every version of the table starts with `abi_version: u32`, so reading the
        // first field is valid whatever version the plugin speaks; `table` is non-null and
        // points into the loaded library.
        let version = unsafe { std::ptr::read(table.cast::<u32>()) };
        if version != ABI_VERSION {
            bail!(
                "plugin `{name}` ({}) speaks plugin ABI version {version}; this host speaks \
                 version {ABI_VERSION}. Rebuild the plugin against this host's \
                 manifold-plugin-sdk or include/manifold_plugin.h",
                path.display()
            );
        }
        // SAFETY: the version is ours, so `table` points to a `PluginV2` that lives as long
        // as the library (the ABI); its function fields are `Option`s, so a null from C reads
        // as `None`, checked below.
        let t = unsafe { &*table };
        let (Some(lookup), Some(call), Some(free_buf)) = (t.lookup, t.call, t.free_buf) else {
            bail!(
                "plugin `{name}` ({}): its table lacks `lookup`, `call` or `free_buf`",
                path.display()
            );
        };
        if t.wit.is_null() {
            bail!("plugin `{name}` gave no WIT");
        }
        // SAFETY: `wit`/`wit_len` describe a byte range in the library (the ABI), non-null.
        let wit = unsafe { std::slice::from_raw_parts(t.wit.cast::<u8>(), t.wit_len) };
        let wit = std::str::from_utf8(wit)
            .with_context(|| format!("plugin `{name}`: its WIT is not UTF-8"))?
            .to_owned();
        Ok(DylibPlugin {
            name: name.to_owned(),
            path: path.to_owned(),
            ctx: t.ctx,
            lookup,
            call,
            free_buf,
            wit,
            _library: library,
        })
    }

    /// The WIT text the plugin implements.
    pub fn wit(&self) -> &str {
        &self.wit
    }

    /// Parses the plugin's WIT.
    pub fn resolve(&self) -> anyhow::Result<wit_parser::Resolve> {
        let mut resolve = wit_parser::Resolve::default();
        resolve
            .push_str(self.path.with_extension("wit"), &self.wit)
            .map_err(|e| {
                anyhow::anyhow!("plugin `{}`: its WIT does not parse: {e:#}", self.name)
            })?;
        Ok(resolve)
    }

    /// One call by name (resolved on every call: for tests and tools, not the hot path).
    pub fn call_sync(&self, instance: &str, func: &str, params: &[u8]) -> Result<Bytes, CallError> {
        let label = format!("{instance}#{func}");
        let Some(index) = InProcess::lookup(self, instance, func) else {
            return Err(CallError::Plugin {
                plugin: self.name.clone(),
                func: label,
                message: format!("the plugin has no function `{func}` in `{instance}`"),
            });
        };
        REPLY.with(|cell| {
            let mut reply = cell.take();
            let result = self.call_index(index, params, &mut reply);
            let result = result
                .map(|()| Bytes::copy_from_slice(reply.as_bytes()))
                .map_err(|failure| failure.into_call_error(&self.name, &label));
            cell.set(reply);
            result
        })
    }
}

thread_local! {
    /// `call_sync`'s reply buffer, reused per thread.
    static REPLY: Cell<ReplyBuf> = Cell::new(ReplyBuf::default());
}

impl InProcess for DylibPlugin {
    fn lookup(&self, instance: &str, func: &str) -> Option<u64> {
        // SAFETY: `lookup` and `ctx` come from a valid v2 table (checked at load) of a library
        // that lives as long as `self`; the byte ranges are valid for the call.
        let index = unsafe {
            (self.lookup)(
                self.ctx,
                instance.as_ptr(),
                instance.len(),
                func.as_ptr(),
                func.len(),
            )
        };
        u64::try_from(index).ok()
    }

    fn call_index(&self, index: u64, params: &[u8], reply: &mut ReplyBuf) -> Result<(), Failure> {
        let room = reply.lend();
        let scratch = room.as_mut_ptr();
        let mut out = Buf {
            ptr: scratch,
            len: 0,
            cap: room.len(),
        };
        // SAFETY: `call` and `ctx` come from a valid v2 table (checked at load) of a library
        // that lives as long as `self`; `params` is valid for its length during the call; `out`
        // lends `cap` writable, initialised bytes at `scratch` (the ABI's output buffer).
        let status =
            unsafe { (self.call)(self.ctx, index, params.as_ptr(), params.len(), &mut out) };
        if out.ptr == scratch {
            if !reply.set_len(out.len) {
                // Already past our buffer: the plugin broke the ABI; refuse the answer.
                return Err(Failure::Error(format!(
                    "the plugin claimed {} bytes written into a buffer of {}",
                    out.len, out.cap
                )));
            }
        } else if out.ptr.is_null() {
            reply.set_len(0);
        } else {
            // SAFETY: the plugin replaced the buffer with its own: `len` readable bytes at
            // `ptr`, valid until we hand it back with `free_buf`, right after this copy.
            reply.copy_from(unsafe { std::slice::from_raw_parts(out.ptr, out.len) });
            // SAFETY: the buffer came from this plugin's `call` and is freed exactly once.
            unsafe { (self.free_buf)(self.ctx, out) };
        }
        match status {
            STATUS_OK => Ok(()),
            STATUS_PANIC => Err(Failure::Panic(reply.lossy())),
            _ => Err(Failure::Error(reply.lossy())),
        }
    }
}

impl Transport for DylibPlugin {
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, params: Bytes) -> CallFuture<'a> {
        let result = self.call_sync(instance, func, &params);
        Box::pin(std::future::ready(result))
    }

    fn in_process(self: Arc<Self>) -> Option<Arc<dyn InProcess>> {
        Some(self)
    }
}
