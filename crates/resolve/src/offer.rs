//! What the host offers: one [`Offer`] per (provider, interface version), with the
//! interface's WIT when it is known, and [`Provided`], an offer's names as reports show them.

use std::fmt;
use std::sync::Arc;

use manifold_config::InterfaceName;
use wit_parser::{InterfaceId, Resolve};

/// What the host offers: one entry per (provider, interface version).
#[derive(Clone)]
pub struct Offer {
    /// The interface, with the version the provider implements.
    pub interface: InterfaceName,
    /// The provider's name (`wasi`, `http`, a plugin's configured name).
    pub provider: String,
    /// The provider's kind (`builtin`, …).
    pub kind: String,
    /// The interface's WIT, when known: then imports are checked function by function.
    pub wit: Option<(Arc<Resolve>, InterfaceId)>,
}

impl Offer {
    /// An offer known by name and version only.
    pub fn new(
        interface: InterfaceName,
        provider: impl Into<String>,
        kind: impl Into<String>,
    ) -> Offer {
        Offer {
            interface,
            provider: provider.into(),
            kind: kind.into(),
            wit: None,
        }
    }

    /// Attaches the interface's WIT from `resolve`, found by the offer's name and version;
    /// the offer stays without WIT if `resolve` has no such interface.
    pub fn with_wit_from(mut self, resolve: &Arc<Resolve>) -> Offer {
        self.wit =
            manifold_wit::interface(resolve, &self.interface).map(|id| (resolve.clone(), id));
        self
    }

    /// An offer of a built-in provider, with its WIT from [`manifold_wit::builtin`].
    pub fn builtin(interface: InterfaceName, provider: impl Into<String>) -> Offer {
        Offer::new(interface, provider, "builtin").with_wit_from(&manifold_wit::builtin_shared())
    }

    /// Names of this offer, for reports.
    pub fn provided(&self) -> Provided {
        Provided {
            interface: self.interface.clone(),
            provider: self.provider.clone(),
            kind: self.kind.clone(),
        }
    }
}

impl fmt::Debug for Offer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Offer")
            .field("interface", &self.interface.to_string())
            .field("provider", &self.provider)
            .field("kind", &self.kind)
            .field("wit", &self.wit.is_some())
            .finish()
    }
}

/// An offer's names: which provider, of which kind, offers which interface version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provided {
    pub interface: InterfaceName,
    pub provider: String,
    pub kind: String,
}

impl fmt::Display for Provided {
    /// `wasi:cli/environment@0.2.12 (provider: builtin `wasi`)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (provider: {} `{}`)",
            self.interface, self.kind, self.provider
        )
    }
}
