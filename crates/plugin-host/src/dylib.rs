//! Dynamic-library plugins: loaded into the host process with `libloading`, called through
//! the C ABI of `manifold-plugin-api` (`include/manifold_plugin.h`).
//!
//! In-process is the fastest kind and the least isolated: a Rust plugin's panic is caught by
//! the SDK and becomes an error for that call, but a crash in the library (a segfault in C
//! code, an abort) takes the host down with it. Use an RPC plugin for code you do not trust.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_plugin_api::abi::{
    ABI_VERSION, Buf, ENTRY_SYMBOL, EntryFn, PluginV1, STATUS_OK, STATUS_PANIC,
};

use crate::transport::{CallError, CallFuture, Transport};

/// A loaded plugin library.
pub struct DylibPlugin {
    name: String,
    path: PathBuf,
    table: *const PluginV1,
    wit: String,
    /// Kept last so the library outlives every use of `table`; never unloaded while the
    /// plugin exists.
    _library: libloading::Library,
}

// SAFETY: the ABI requires `call` and `free_buf` to be callable from any thread, at the same
// time (documented in `include/manifold_plugin.h`); `table` points to memory owned by the
// library, which lives as long as `self`, and is only read.
unsafe impl Send for DylibPlugin {}
// SAFETY: as for `Send`: shared use only reads the table and calls thread-safe functions.
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
                "plugin `{name}` ({}) refused this host's plugin ABI version {ABI_VERSION}",
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
        // SAFETY: the version is ours, so `table` points to a `PluginV1` that lives as long as
        // the library; `wit`/`wit_len` describe a byte range in it (checked for null here).
        let wit = unsafe {
            let t = &*table;
            if t.wit.is_null() {
                bail!("plugin `{name}` gave no WIT");
            }
            std::slice::from_raw_parts(t.wit.cast::<u8>(), t.wit_len)
        };
        let wit = std::str::from_utf8(wit)
            .with_context(|| format!("plugin `{name}`: its WIT is not UTF-8"))?
            .to_owned();
        Ok(DylibPlugin {
            name: name.to_owned(),
            path: path.to_owned(),
            table,
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

    /// One synchronous call.
    pub fn call_sync(&self, instance: &str, func: &str, params: &[u8]) -> Result<Bytes, CallError> {
        let mut out = Buf::EMPTY;
        // SAFETY: `table` is a valid v1 table (checked at load) for as long as `self` lives;
        // every pointer passed is valid for its length for the duration of the call; `out` is
        // a valid `Buf` for the plugin to fill.
        let status = unsafe {
            let t = &*self.table;
            (t.call)(
                t.ctx,
                instance.as_ptr(),
                instance.len(),
                func.as_ptr(),
                func.len(),
                params.as_ptr(),
                params.len(),
                &mut out,
            )
        };
        let bytes = if out.ptr.is_null() || out.len == 0 {
            Bytes::new()
        } else {
            // SAFETY: the plugin filled `out` with `len` readable bytes at `ptr`, valid until
            // we hand the buffer back with `free_buf`, which happens right after this copy.
            Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(out.ptr, out.len) })
        };
        if !out.ptr.is_null() {
            // SAFETY: the buffer came from this plugin's `call` and is freed exactly once.
            unsafe {
                let t = &*self.table;
                (t.free_buf)(t.ctx, out);
            }
        }
        let message = || String::from_utf8_lossy(&bytes).into_owned();
        match status {
            STATUS_OK => Ok(bytes),
            STATUS_PANIC => Err(CallError::Panic {
                plugin: self.name.clone(),
                func: format!("{instance}#{func}"),
                message: message(),
            }),
            _ => Err(CallError::Plugin {
                plugin: self.name.clone(),
                func: format!("{instance}#{func}"),
                message: message(),
            }),
        }
    }
}

impl Transport for DylibPlugin {
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, params: Bytes) -> CallFuture<'a> {
        let result = self.call_sync(instance, func, &params);
        Box::pin(std::future::ready(result))
    }
}
