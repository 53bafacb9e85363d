//! The contract between Manifold and its plugins, with no dependency on Wasmtime:
//!
//! - [`wire`]: how component values travel between the host and any plugin (dynamic
//!   library or RPC peer): the component model's value encoding, as wRPC uses it;
//! - [`abi`]: the C ABI of dynamic-library plugins, mirrored by `include/manifold_plugin.h`.
//!
//! A plugin call is always the same triple: the interface (`instance`, e.g.
//! `acme:billing/charge@0.1.0`), the function's wRPC name (`charge`, `counter.add` for a
//! method, `counter` for a constructor, `[drop]counter` when a guest drops a handle) and the
//! encoded parameters; the answer is the encoded results or an error message.

pub mod abi;
pub mod wire;

/// The function name a plugin is called with for a WIT function name: wRPC's convention
/// (`[method]counter.add` → `counter.add`, `[constructor]counter` → `counter`,
/// `[static]counter.make` → `counter.make`).
pub fn rpc_func_name(wit_name: &str) -> &str {
    wit_name
        .strip_prefix("[constructor]")
        .or_else(|| wit_name.strip_prefix("[method]"))
        .or_else(|| wit_name.strip_prefix("[static]"))
        .unwrap_or(wit_name)
}

/// The function a plugin is called with when a guest drops its handle to `resource`
/// (a Manifold extension of wRPC, whose resources are opaque bytes): `[drop]resource`, with
/// the handle as its one parameter.
pub fn drop_func_name(resource: &str) -> String {
    format!("[drop]{resource}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(rpc_func_name("[method]counter.add"), "counter.add");
        assert_eq!(rpc_func_name("[constructor]counter"), "counter");
        assert_eq!(rpc_func_name("[static]counter.make"), "counter.make");
        assert_eq!(rpc_func_name("inc"), "inc");
        assert_eq!(drop_func_name("counter"), "[drop]counter");
    }
}
