//! The data of every `Store`: the WASI contexts, the resource table, the memory limiter and
//! a typed slot per provider for state only that provider understands.

use std::any::{Any, TypeId};
use std::collections::HashMap;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

/// Everything one instance (one run, one request) owns. Created fresh per instance.
pub struct InstanceState {
    pub table: ResourceTable,
    /// The WASI 0.2 context; empty (no args, env, files, network) until a provider fills it.
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    /// Decides outbound HTTP; denies everything until a provider installs a policy.
    pub http_hooks: Box<dyn WasiHttpHooks>,
    pub limiter: MemoryLimiter,
    pub extensions: Extensions,
}

impl InstanceState {
    pub fn new(memory_cap: usize) -> InstanceState {
        InstanceState {
            table: ResourceTable::new(),
            wasi: WasiCtx::default(),
            http: WasiHttpCtx::new(),
            http_hooks: Box::new(DenyOutbound),
            limiter: MemoryLimiter::new(memory_cap),
            extensions: Extensions::default(),
        }
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut *self.http_hooks,
        }
    }
}

/// The outbound-HTTP policy when nothing is granted: every request is refused with
/// `HTTP-request-denied`, which is what the guest sees.
#[derive(Debug, Default)]
pub struct DenyOutbound;

impl WasiHttpHooks for DenyOutbound {
    fn send_request(
        &mut self,
        request: http::Request<wasmtime_wasi_http::WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = wasmtime_wasi_http::Result<(
                    http::Response<wasmtime_wasi_http::WasiBody>,
                    Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
                )>,
            > + Send,
    > {
        tracing::debug!(uri = %request.uri(), "outbound HTTP denied: nothing granted");
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}

/// Per-provider state, one value per type.
#[derive(Default)]
pub struct Extensions(HashMap<TypeId, Box<dyn Any + Send>>);

impl Extensions {
    pub fn insert<T: Any + Send>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(value));
    }

    pub fn get_mut<T: Any + Send>(&mut self) -> Option<&mut T> {
        self.0
            .get_mut(&TypeId::of::<T>())
            .and_then(|b| b.downcast_mut())
    }
}

/// Caps the linear memory of an instance (all its memories together) and remembers the peak
/// and whether the cap was hit, so a failure can be explained ("memory cap reached") rather
/// than reported as a bare trap.
#[derive(Debug)]
pub struct MemoryLimiter {
    cap: usize,
    current: usize,
    peak: usize,
    hit_cap: bool,
}

impl MemoryLimiter {
    pub fn new(cap: usize) -> MemoryLimiter {
        MemoryLimiter {
            cap,
            current: 0,
            peak: 0,
            hit_cap: false,
        }
    }

    /// The most linear memory the instance held at once, in bytes.
    pub fn peak(&self) -> usize {
        self.peak
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether a growth was refused because of the cap.
    pub fn hit_cap(&self) -> bool {
        self.hit_cap
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.current - current.min(self.current) + desired;
        if total > self.cap {
            self.hit_cap = true;
            return Ok(false);
        }
        self.current = total;
        self.peak = self.peak.max(total);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold references, 8-16 bytes each; a million is far beyond any real program
        // and keeps a hostile guest from using tables to get around the memory cap.
        Ok(desired <= 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn limiter_sums_memories_and_records_the_cap() {
        let mut l = MemoryLimiter::new(100);
        assert!(l.memory_growing(0, 60, None).unwrap());
        assert!(l.memory_growing(0, 30, None).unwrap());
        assert_eq!(l.peak(), 90);
        assert!(!l.hit_cap());
        assert!(!l.memory_growing(30, 50, None).unwrap());
        assert!(l.hit_cap());
        assert_eq!(l.peak(), 90);
    }
}
