//! Write a Manifold dynamic-library plugin in Rust.
//!
//! Implement [`Plugin`] for a type — its WIT, and one `call` that answers a function of the
//! WIT with [`Value`]s — and export it with [`export_plugin!`] from a `cdylib` crate:
//!
//! ```ignore
//! use manifold_plugin_sdk::{Call, Plugin, Value, export_plugin};
//!
//! #[derive(Default)]
//! struct Billing;
//!
//! impl Plugin for Billing {
//!     const WIT: &'static str = include_str!("../wit/billing.wit");
//!     fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
//!         match call.func {
//!             "charge" => Ok(vec![Value::U64(call.u64(0)? * 100)]),
//!             other => Err(format!("no function {other}")),
//!         }
//!     }
//! }
//!
//! export_plugin!(Billing);
//! ```
//!
//! The SDK decodes the parameters by the WIT's types before `call` and encodes the results
//! after it, so a plugin never sees bytes. A panic in `call` is caught and becomes an error
//! for that call; the host goes on.
//!
//! Most plugins want typed bindings instead: [`generate!`] turns the WIT into Rust types and
//! traits, and its `Exports<T>` is a [`Dispatch`] that decodes and encodes straight between
//! those types and the wire ([`bindings`]).
//!
//! Underneath, `export_plugin!` exports any [`Dispatch`]: calls by index with encoded
//! parameters and results, the contract typed bindings generated from WIT implement. A
//! [`Plugin`] is exported through [`ValuePlugin`], which implements `Dispatch` over a table of
//! the WIT's functions built at load.

pub mod bindings;
mod dispatch;
mod export;
mod through_values;
mod value;

pub use bindings::generate;
pub use dispatch::Dispatch;
#[doc(hidden)]
pub use export::{Probe, ViaDispatch, ViaPlugin, entry};
pub use manifold_plugin_api as api;
use manifold_plugin_api::wire::Reader;
pub use through_values::ThroughValues;
pub use value::{Shape, Signature, Value, ValueError, decode, encode, signatures};

/// One call of a plugin function.
#[derive(Debug)]
pub struct Call<'a> {
    /// The interface, e.g. `acme:billing/charge@0.1.0`.
    pub interface: &'a str,
    /// The function: `charge`; `counter.add` for a method; `counter` for a constructor;
    /// `[drop]counter` when a guest dropped a handle (one `Value::Handle` parameter).
    pub func: &'a str,
    pub params: Vec<Value>,
}

impl Call<'_> {
    fn param(&self, i: usize) -> Result<&Value, String> {
        self.params
            .get(i)
            .ok_or_else(|| format!("{}: no parameter {i}", self.func))
    }

    pub fn u64(&self, i: usize) -> Result<u64, String> {
        match self.param(i)? {
            Value::U64(v) => Ok(*v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a u64",
                self.func
            )),
        }
    }

    pub fn s64(&self, i: usize) -> Result<i64, String> {
        match self.param(i)? {
            Value::S64(v) => Ok(*v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not an s64",
                self.func
            )),
        }
    }

    pub fn string(&self, i: usize) -> Result<&str, String> {
        match self.param(i)? {
            Value::String(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a string",
                self.func
            )),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<&[u8], String> {
        match self.param(i)? {
            Value::Bytes(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a list<u8>",
                self.func
            )),
        }
    }

    pub fn handle(&self, i: usize) -> Result<&[u8], String> {
        match self.param(i)? {
            Value::Handle(v) => Ok(v),
            other => Err(format!(
                "{}: parameter {i} is {other:?}, not a handle",
                self.func
            )),
        }
    }
}

/// A plugin: the WIT it implements and how it answers calls. One value serves every call,
/// from several threads at once.
pub trait Plugin: Default + Send + Sync + 'static {
    /// The WIT package the plugin implements (every interface in it is served).
    const WIT: &'static str;

    /// Answers one call with its results (none or one value, as the WIT says), or an error
    /// message, which the host reports and turns into a trap of the calling guest.
    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String>;
}

/// A [`Plugin`] as a [`Dispatch`]: the WIT's functions (and each resource's `[drop]R`) in a
/// table built once, so a call finds its signature and names by index, with no lookup and no
/// `String` per call. `export_plugin!` uses it for any type that is a `Plugin` and not itself a
/// `Dispatch`.
pub struct ValuePlugin<P> {
    plugin: P,
    functions: Vec<Function>,
    /// Why the table is empty, if the WIT could not be read (every lookup then fails, and the
    /// host names the function it could not find).
    error: Option<String>,
}

struct Function {
    interface: String,
    func: String,
    signature: Signature,
}

impl<P: Plugin> Default for ValuePlugin<P> {
    fn default() -> Self {
        let (functions, error) = match signatures(P::WIT) {
            Ok(all) => {
                let mut functions: Vec<Function> = all
                    .into_iter()
                    .map(|((interface, func), signature)| Function {
                        interface,
                        func,
                        signature,
                    })
                    .collect();
                functions.sort_by(|a, b| (&a.interface, &a.func).cmp(&(&b.interface, &b.func)));
                (functions, None)
            }
            Err(e) => (Vec::new(), Some(e)),
        };
        ValuePlugin {
            plugin: P::default(),
            functions,
            error,
        }
    }
}

impl<P: Plugin> ValuePlugin<P> {
    /// The plugin itself.
    pub fn plugin(&self) -> &P {
        &self.plugin
    }

    /// Why the plugin's WIT could not be read, if it could not.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

impl<P: Plugin> Dispatch for ValuePlugin<P> {
    const WIT: &'static str = P::WIT;

    fn lookup(&self, interface: &str, func: &str) -> Option<u32> {
        let index = self
            .functions
            .iter()
            .position(|f| f.interface == interface && f.func == func)?;
        u32::try_from(index).ok()
    }

    fn call(&self, index: u32, params: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let function = self
            .functions
            .get(index as usize)
            .ok_or_else(|| format!("this plugin has no function {index}"))?;
        let (func, signature) = (function.func.as_str(), &function.signature);
        let mut reader = Reader::new(params);
        let params = signature
            .params
            .iter()
            .map(|shape| decode(shape, &mut reader))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{func}: bad parameters: {e}"))?;
        reader
            .finish()
            .map_err(|e| format!("{func}: bad parameters: {e}"))?;
        let results = self.plugin.call(Call {
            interface: &function.interface,
            func,
            params,
        })?;
        if results.len() != signature.results.len() {
            return Err(format!(
                "{func} returned {} values; its WIT says {}",
                results.len(),
                signature.results.len()
            ));
        }
        for (value, shape) in results.iter().zip(&signature.results) {
            encode(value, shape, out).map_err(|e| format!("{func}: bad result: {e}"))?;
        }
        Ok(())
    }
}
