//! [`ThroughValues`]: a [`Dispatch`] (e.g. bindings from [`generate!`](crate::generate)) seen
//! as a value-based [`Plugin`], to drive it with [`Value`]s in tests. Each call is decoded to
//! `Value`s and encoded again on the way in and out; export the `Dispatch` itself
//! (`export_plugin!(Exports<T>)`) in a plugin.

use std::collections::HashMap;

use manifold_plugin_api::wire::Reader;

use crate::{Call, Dispatch, Plugin, Signature, Value, decode, encode, signatures};

/// A [`Plugin`] that answers every call with `D`.
pub struct ThroughValues<D> {
    dispatch: D,
    /// By interface, then function: the index `D` gave and the value shapes.
    funcs: HashMap<String, HashMap<String, (u32, Signature)>>,
}

impl<D: Dispatch> ThroughValues<D> {
    /// The dispatcher, e.g. to reach the plugin's own state.
    pub fn dispatch(&self) -> &D {
        &self.dispatch
    }
}

impl<D: Dispatch> Default for ThroughValues<D> {
    fn default() -> Self {
        let dispatch = D::default();
        let mut funcs: HashMap<String, HashMap<String, (u32, Signature)>> = HashMap::new();
        // A WIT that does not parse is refused by the export glue before any call, which
        // then never reaches an empty table.
        for ((interface, func), signature) in signatures(D::WIT).unwrap_or_default() {
            if let Some(index) = dispatch.lookup(&interface, &func) {
                funcs
                    .entry(interface)
                    .or_default()
                    .insert(func, (index, signature));
            }
        }
        ThroughValues { dispatch, funcs }
    }
}

impl<D: Dispatch> Plugin for ThroughValues<D> {
    const WIT: &'static str = D::WIT;

    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
        let (index, signature) = self
            .funcs
            .get(call.interface)
            .and_then(|funcs| funcs.get(call.func))
            .ok_or_else(|| {
                format!(
                    "this plugin has no function {}#{}",
                    call.interface, call.func
                )
            })?;
        let mut params = Vec::new();
        for (value, shape) in call.params.iter().zip(&signature.params) {
            encode(value, shape, &mut params).map_err(|e| e.to_string())?;
        }
        let mut out = Vec::new();
        self.dispatch.call(*index, &params, &mut out)?;
        let mut reader = Reader::new(&out);
        let results = signature
            .results
            .iter()
            .map(|shape| decode(shape, &mut reader))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{}: bad results: {e}", call.func))?;
        reader
            .finish()
            .map_err(|e| format!("{}: bad results: {e}", call.func))?;
        Ok(results)
    }
}
