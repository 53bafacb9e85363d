//! The WIT of `wasi:config@0.2.0-draft`, embedded from the repository's
//! `wit/deps/config-0.2.0-draft/` (the files the bindings are generated from) and parsed
//! once, so a component's config imports can be checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

const DIR: &str = "config-0.2.0-draft";

/// `world.wit` holds the `package` line.
const FILES: &[(&str, &str)] = &[
    (
        "world.wit",
        include_str!("../../../wit/deps/config-0.2.0-draft/world.wit"),
    ),
    (
        "store.wit",
        include_str!("../../../wit/deps/config-0.2.0-draft/store.wit"),
    ),
];

static WIT: LazyLock<Arc<Resolve>> =
    LazyLock::new(|| Arc::new(manifold_wit::parse_embedded(&[(DIR, FILES)])));

/// The package, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
