//! The WIT of every `wasi:config` version served, embedded from the repository's
//! `wit/deps/config-*/` (the files the bindings are generated from) and parsed once, so a
//! component's config imports can be checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

/// The files of `wit/deps/$dir`; `world.wit` holds the `package` line.
macro_rules! package {
    ($dir:literal) => {
        (
            $dir,
            &[
                (
                    "world.wit",
                    include_str!(concat!("../../../wit/deps/", $dir, "/world.wit")),
                ),
                (
                    "store.wit",
                    include_str!(concat!("../../../wit/deps/", $dir, "/store.wit")),
                ),
            ],
        )
    };
}

const PACKAGES: &[(&str, &[(&str, &str)])] = &[
    package!("config-0.2.0-draft"),
    package!("config-0.2.0-rc.1"),
    package!("config-0.2.0-draft-2024-09-27"),
];

static WIT: LazyLock<Arc<Resolve>> =
    LazyLock::new(|| Arc::new(manifold_wit::parse_embedded(PACKAGES)));

/// The packages, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
