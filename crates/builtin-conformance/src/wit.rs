//! The WIT of `manifold:conformance@0.1.0`, embedded from `crates/test-programs/wit/`
//! (the file the guest's and this provider's bindings are generated from) and parsed once,
//! so a component's imports of it are checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

const FILES: &[(&str, &str)] = &[(
    "conformance.wit",
    include_str!("../../test-programs/wit/conformance.wit"),
)];

static WIT: LazyLock<Arc<Resolve>> =
    LazyLock::new(|| Arc::new(manifold_wit::parse_embedded(&[("conformance", FILES)])));

/// The package, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
