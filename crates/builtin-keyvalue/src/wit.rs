//! The WIT of both drafts, embedded from the repository's `wit/deps/keyvalue-0.2.0-draft*/`
//! (the same files the bindings are generated from) and parsed once, so a component's
//! key-value imports can be checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

/// One package per directory; `world.wit` holds the `package` line.
const PACKAGES: &[(&str, &[(&str, &str)])] = &[
    (
        "keyvalue-0.2.0-draft",
        &[
            (
                "world.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft/world.wit"),
            ),
            (
                "store.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft/store.wit"),
            ),
            (
                "atomic.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft/atomic.wit"),
            ),
            (
                "batch.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft/batch.wit"),
            ),
            (
                "watch.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft/watch.wit"),
            ),
        ],
    ),
    (
        "keyvalue-0.2.0-draft2",
        &[
            (
                "world.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft2/world.wit"),
            ),
            (
                "store.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft2/store.wit"),
            ),
            (
                "atomic.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft2/atomic.wit"),
            ),
            (
                "batch.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft2/batch.wit"),
            ),
            (
                "watch.wit",
                include_str!("../../../wit/deps/keyvalue-0.2.0-draft2/watch.wit"),
            ),
        ],
    ),
];

static WIT: LazyLock<Arc<Resolve>> =
    LazyLock::new(|| Arc::new(manifold_wit::parse_embedded(PACKAGES)));

/// Both drafts' packages, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
