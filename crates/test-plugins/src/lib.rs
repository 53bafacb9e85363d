//! Native example plugins for the tests, built from `examples/plugins` by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/plugins.rs"));
