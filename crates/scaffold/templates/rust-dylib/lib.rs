//! {{NAME}}: a Manifold dynamic-library plugin, scaffolded from wit/{{WIT_FILE}} by
//! `manifold plugin new`, on `manifold-plugin-sdk`'s value-based `Plugin` trait.
//!
//! The SDK decodes each call's parameters by the WIT's types into `Value`s and encodes the
//! results back: `Value::U64` for a `u64`, `Value::String`, `Value::Bytes` for `list<u8>`,
//! `Value::List`, `Value::Record(fields)` and `Value::Tuple` with fields in order,
//! `Value::Variant(case, payload)` and `Value::Enum(case)` by case index,
//! `Value::Flags(indices)`, `Value::Option`, `Value::Result`, and `Value::Handle(bytes)` for
//! a resource (bytes you choose when you create one). A function answers with no value or
//! one, as its WIT says.
//!
//! Every stub answers `Err("not implemented: …")`: the host fails that call (the guest's
//! call traps with the message) and goes on. A panic is caught the same way.

use manifold_plugin_sdk::{Call, Plugin, Value, export_plugin};

#[derive(Default)]
struct {{TYPE}};

impl Plugin for {{TYPE}} {
    const WIT: &'static str = include_str!("../wit/{{WIT_FILE}}");

    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
        let params = call.params.as_slice();
        match (call.interface, call.func) {
{{ARMS}}
            (interface, func) => Err(format!("this plugin has no function {interface}#{func}")),
        }
    }
}

impl {{TYPE}} {
{{STUBS}}
}

export_plugin!({{TYPE}});
