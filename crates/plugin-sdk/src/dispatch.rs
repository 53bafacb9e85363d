//! [`Dispatch`]: the low-level face of a dynamic-library plugin, the one thing the ABI glue
//! exports. Both ways of writing a plugin in Rust end here: the value-based [`crate::Plugin`]
//! and typed bindings generated from WIT. Calls arrive by index (resolved once per function
//! when the host loads the plugin) with wire-encoded parameters, and answer with wire-encoded
//! results, so the hot path does no name lookup and no allocation it does not need.

/// What `export_plugin!` exports. One value serves every call, from several threads at once.
pub trait Dispatch: Default + Send + Sync + 'static {
    /// The WIT package the plugin implements (UTF-8 text).
    const WIT: &'static str;

    /// The index of `interface#func` (`func` as the host calls it, wRPC naming: `f`; `r.m`
    /// for a method or static function of resource `r`; `r` for its constructor; `[drop]r`
    /// when a guest drops a handle; see `manifold_plugin_api::rpc_func_name`), or `None` if
    /// the plugin has no such function. Called once per function when the plugin is loaded, never on the hot path.
    fn lookup(&self, interface: &str, func: &str) -> Option<u32>;

    /// Answers the call of function `index` (from [`Dispatch::lookup`]): decodes `params`
    /// (component-model value encoding, `manifold_plugin_api::wire`), runs it and appends the
    /// encoded results to `out`, which is empty on entry. An `Err` is a message for the host,
    /// which fails that call (the guest traps) and goes on. Panics are caught by the glue.
    fn call(&self, index: u32, params: &[u8], out: &mut Vec<u8>) -> Result<(), String>;
}
