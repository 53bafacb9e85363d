//! {{NAME}}: a Manifold dynamic-library plugin, scaffolded from wit/{{WIT_FILE}} by
//! `manifold plugin new`, on `manifold-plugin-sdk`'s typed bindings.
//!
//! `generate!` reads the WIT at compile time and makes a module per interface: its types as
//! ordinary Rust types (records as structs, variants and enums as enums, `list<T>` as
//! `Vec<T>`, `option`/`result` as `Option`/`Result`, flags as a bit set), a trait
//! `Interface` with one method per function, and a trait per resource, implemented by the
//! type the interface's trait names for it. `Exports<T>` turns a `T` implementing every
//! interface's trait into the plugin the host loads.
//!
//! Every stub panics with "not implemented: …". A panic is how a plugin fails a call the
//! WIT gives no error for: the host catches it, fails that call (the guest's call traps with
//! the message) and goes on. Return a WIT `result`'s `Err` for errors the WIT declares.

use manifold_plugin_sdk::export_plugin;

manifold_plugin_sdk::generate!("wit/{{WIT_FILE}}");

/// The plugin: one value for the host's whole process, shared by every call (`&self`;
/// use atomics or a `Mutex` for state).
#[derive(Default)]
pub struct {{TYPE}};

{{IMPLS}}

export_plugin!(Exports<{{TYPE}}>);
