//! The provider model: the one seam through which every host interface reaches a guest.
//!
//! A [`Provider`] supplies WIT interfaces (e.g. `wasi:cli/environment@0.2.12`) to a
//! component's imports. It works in three phases, in the spirit of Spin's factors:
//!
//! 1. **configure** — built once per component from the app plan (its grants);
//! 2. **link** — [`Provider::add_to_linker`] adds the interfaces it was chosen for to the
//!    component's `Linker`, once, before `instantiate_pre`;
//! 3. **prepare** — [`Provider::prepare_instance`] fills its part of the fresh
//!    [`InstanceState`] of every run or request.
//!
//! Built-in WASI interfaces, built-in cloud interfaces and plugins (dynamic libraries, RPC
//! peers, Wasm components) all implement this one trait; `run` and `serve` never special-case
//! an interface.

pub mod byte_stream;
pub mod data_dir;
pub mod log_throttle;
pub mod names;
mod state;

use std::fmt;
use std::sync::Arc;

pub use manifold_config::{InterfaceName, ProviderKind};
pub use state::{DenyOutbound, Extensions, InstanceState, MemoryLimiter};

/// The linker every provider adds to.
pub type Linker = wasmtime::component::Linker<InstanceState>;

/// Something that supplies WIT interfaces to guests.
pub trait Provider: Send + Sync + 'static {
    /// A short name, unique on this host (`wasi`, `http`, or a plugin's configured name).
    fn name(&self) -> &str;

    /// What kind of provider this is.
    fn kind(&self) -> ProviderKind;

    /// Every interface this provider can serve, each with the version it implements.
    fn interfaces(&self) -> &[InterfaceName];

    /// Adds `chosen` (a subset of [`Provider::interfaces`]) to the linker.
    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()>;

    /// The WIT defining [`Provider::interfaces`], so a component's imports can be checked
    /// function by function before linking. `None`: checked by name and version only.
    fn wit(&self) -> Option<Arc<wit_parser::Resolve>> {
        None
    }

    /// Fills this provider's part of a fresh instance's state. Called for every run or
    /// request, so it should be cheap.
    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        let _ = state;
        Ok(())
    }
}

impl fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} provider `{}`", self.kind(), self.name())
    }
}

/// Which provider serves which interface, for one component.
#[derive(Clone, Default)]
pub struct Bindings {
    /// In link order; each with the interfaces it serves.
    pub entries: Vec<(Arc<dyn Provider>, Vec<InterfaceName>)>,
}

impl fmt::Debug for Bindings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(p, names)| (p.name(), names)))
            .finish()
    }
}

impl Bindings {
    /// The provider serving `interface` (compared without version).
    pub fn provider_of(&self, interface: &InterfaceName) -> Option<&Arc<dyn Provider>> {
        self.entries.iter().find_map(|(p, names)| {
            names
                .iter()
                .any(|n| n.unversioned() == interface.unversioned())
                .then_some(p)
        })
    }

    /// Links every chosen interface of every provider.
    pub fn add_to_linker(&self, linker: &mut Linker) -> anyhow::Result<()> {
        for (provider, names) in &self.entries {
            if names.is_empty() {
                continue;
            }
            provider.add_to_linker(linker, names).map_err(|e| {
                e.context(format!(
                    "{} provider `{}` failed to link its interfaces",
                    provider.kind(),
                    provider.name()
                ))
            })?;
        }
        Ok(())
    }

    /// Lets every provider that serves something prepare a fresh instance.
    pub fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        for (provider, names) in &self.entries {
            if !names.is_empty() {
                provider.prepare_instance(state)?;
            }
        }
        Ok(())
    }
}
