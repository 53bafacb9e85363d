//! The WIT of `manifold:conformance@0.1.0` and `manifold:conformance-async@0.1.0`, embedded from `crates/test-programs/wit/`
//! (the file the guest's and this provider's bindings are generated from) and parsed once,
//! so a component's imports of it are checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

const FILES: &[(&str, &str)] = &[(
    "conformance.wit",
    include_str!("../../test-programs/wit/conformance.wit"),
)];
const ASYNC_FILES: &[(&str, &str)] = &[
    (
        "calls.wit",
        include_str!("../../test-programs/wit/conformance-async/calls.wit"),
    ),
    (
        "streams.wit",
        include_str!("../../test-programs/wit/conformance-async/streams.wit"),
    ),
];

static WIT: LazyLock<Arc<Resolve>> = LazyLock::new(|| {
    Arc::new(manifold_wit::parse_embedded(&[
        ("conformance", FILES),
        ("conformance-async", ASYNC_FILES),
    ]))
});

/// The package, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
