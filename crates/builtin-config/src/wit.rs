//! The WIT of `wasi:config@0.2.0-draft`, embedded from the repository's
//! `wit/deps/config-0.2.0-draft/` (the files the bindings are generated from) and parsed
//! once, so a component's config imports can be checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::{Resolve, SourceMap};

const DIR: &str = "wit/deps/config-0.2.0-draft";

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

static WIT: LazyLock<Arc<Resolve>> = LazyLock::new(|| {
    let mut map = SourceMap::new();
    for (file, text) in FILES {
        map.push_str(&format!("{DIR}/{file}"), *text);
    }
    // The text is compiled into this binary and parsed by a test, so a failure here is a bug
    // in this crate, not something a user can cause.
    let group = match map.parse() {
        Ok(group) => group,
        Err((_, e)) => panic!("embedded {DIR} does not parse: {e}"),
    };
    let mut resolve = Resolve::new();
    if let Err(e) = resolve.push_group(group) {
        panic!("embedded {DIR} does not resolve: {e}");
    }
    Arc::new(resolve)
});

/// The package, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
