//! The WIT of `wasi:blobstore@0.2.0-draft`, embedded from the repository's
//! `wit/deps/blobstore-0.2.0-draft/` (the same files the bindings are generated from, with the
//! `wasi:io@0.2.1` they `use`) and parsed once, so a component's blobstore imports can be
//! checked function by function before linking.

use std::sync::{Arc, LazyLock};

use wit_parser::Resolve;

macro_rules! file {
    ($dir:literal, $name:literal) => {
        (
            $name,
            include_str!(concat!("../../../wit/deps/", $dir, "/", $name)),
        )
    };
}

/// `wasi:io` first: `push_group` resolves a package's `use`s against those already pushed.
const PACKAGES: &[(&str, &[(&str, &str)])] = &[
    (
        "blobstore-0.2.0-draft/deps/io",
        &[
            file!("blobstore-0.2.0-draft/deps/io", "world.wit"),
            file!("blobstore-0.2.0-draft/deps/io", "error.wit"),
            file!("blobstore-0.2.0-draft/deps/io", "poll.wit"),
            file!("blobstore-0.2.0-draft/deps/io", "streams.wit"),
        ],
    ),
    (
        "blobstore-0.2.0-draft",
        &[
            file!("blobstore-0.2.0-draft", "world.wit"),
            file!("blobstore-0.2.0-draft", "blobstore.wit"),
            file!("blobstore-0.2.0-draft", "container.wit"),
            file!("blobstore-0.2.0-draft", "types.wit"),
        ],
    ),
];

static WIT: LazyLock<Arc<Resolve>> =
    LazyLock::new(|| Arc::new(manifold_wit::parse_embedded(PACKAGES)));

/// The draft's packages, parsed on first use.
pub(crate) fn shared() -> Arc<Resolve> {
    Arc::clone(&WIT)
}
