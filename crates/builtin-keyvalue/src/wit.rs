//! The WIT of both drafts, embedded from the repository's `wit/deps/keyvalue-0.2.0-draft*/`
//! (the same files the bindings are generated from) and parsed once, so a component's
//! key-value imports can be checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::{Resolve, SourceMap};

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

static WIT: LazyLock<Arc<Resolve>> = LazyLock::new(|| {
    let mut resolve = Resolve::new();
    for (dir, files) in PACKAGES {
        let mut map = SourceMap::new();
        for (file, text) in *files {
            map.push_str(&format!("wit/deps/{dir}/{file}"), *text);
        }
        // The text is compiled into this binary and parsed by a test, so a failure here is a
        // bug in this crate, not something a user can cause.
        let group = match map.parse() {
            Ok(group) => group,
            Err((_, e)) => panic!("embedded wit/deps/{dir} does not parse: {e}"),
        };
        if let Err(e) = resolve.push_group(group) {
            panic!("embedded wit/deps/{dir} does not resolve: {e}");
        }
    }
    Arc::new(resolve)
});

/// Both drafts' packages, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
