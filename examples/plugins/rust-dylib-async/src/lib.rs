//! manifold:conformance-async/calls as a dynamic-library plugin, on the bindings
//! `manifold_plugin_sdk::generate!` makes from its WIT. An `async func` is an ordinary
//! method here: a dylib is called on the guest's thread and answers before returning, so it
//! serves async functions synchronously (the guest's other calls wait for this one).

use std::time::Duration;

use manifold_plugin_sdk::export_plugin;

manifold_plugin_sdk::generate!("../../../crates/test-programs/wit/conformance-async/calls.wit");

#[derive(Default)]
struct Calls;

impl calls::Interface for Calls {
    fn later_inc(&self, x: u64, ms: u32) -> u64 {
        std::thread::sleep(Duration::from_millis(ms.into()));
        x.wrapping_add(1)
    }

    /// Calls come one at a time, so each sees only itself (after the timeout, as the WIT
    /// says of a provider that serves one call at a time).
    fn gather(&self, _key: String, n: u32, timeout_ms: u32) -> u32 {
        if n > 1 {
            std::thread::sleep(Duration::from_millis(timeout_ms.into()));
        }
        1
    }
}

export_plugin!(Exports<Calls>);
