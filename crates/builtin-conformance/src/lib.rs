//! The built-in provider of `manifold:conformance/types@0.1.0`: the reference implementation
//! of the plugin conformance interface. The conformance guest (`plugin-conformance` in
//! `crates/test-programs`) passes against it; every plugin kind (dylib, rpc, wasm) must give
//! the same results. Counters live in the instance's resource table, with a count of the
//! live ones so a guest can see its drops arrive. It also serves the async part of the suite,
//! `manifold:conformance-async` (`async func`s and `stream<u8>`, `host_async.rs`).

mod host;
mod host_async;
mod wit;

use std::sync::{Arc, LazyLock};

use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};

/// The synchronous interface served.
pub const INTERFACE: &str = "manifold:conformance/types@0.1.0";
/// The async interfaces served: `async func`s, and `stream<u8>` both ways.
pub const ASYNC_CALLS: &str = "manifold:conformance-async/calls@0.1.0";
pub const ASYNC_STREAMS: &str = "manifold:conformance-async/streams@0.1.0";

fn names() -> &'static [InterfaceName] {
    static NAMES: LazyLock<Vec<InterfaceName>> = LazyLock::new(|| {
        [INTERFACE, ASYNC_CALLS, ASYNC_STREAMS]
            .iter()
            .map(|name| {
                name.parse()
                    .unwrap_or_else(|e| panic!("bad built-in name {name}: {e}"))
            })
            .collect()
    });
    &NAMES
}

/// The `conformance` provider. It has no configuration: every instance starts with no
/// counters.
#[derive(Debug, Default)]
pub struct ConformanceProvider;

impl ConformanceProvider {
    pub const NAME: &'static str = "conformance";

    pub fn new() -> ConformanceProvider {
        ConformanceProvider
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        names().to_vec()
    }
}

impl Provider for ConformanceProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn interfaces(&self) -> &[InterfaceName] {
        names()
    }

    fn wit(&self) -> Option<Arc<wit_parser::Resolve>> {
        Some(wit::shared())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        let [types, calls, streams] = names() else {
            unreachable!("three names")
        };
        if chosen.contains(types) {
            host::types::add_to_linker::<_, host::ConformanceData>(linker, host::view)?;
        }
        if chosen.contains(calls) {
            host_async::calls::add_to_linker::<_, host_async::AsyncData>(linker, host_async::view)?;
        }
        if chosen.contains(streams) {
            host_async::streams::add_to_linker::<_, host_async::AsyncData>(
                linker,
                host_async::view,
            )?;
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        state.extensions.insert(host::LiveCounters::default());
        Ok(())
    }
}

#[cfg(test)]
mod tests;
