//! `rust-dylib`: a `cdylib` crate on `manifold-plugin-sdk`'s value-based `Plugin` trait, one
//! method per function answering "not implemented".
//!
//! Everything that depends on the SDK's shape is in this file and
//! `templates/rust-dylib/`, so that a new SDK (typed bindings generated from WIT) replaces
//! them and nothing else.

use std::fmt::Write as _;

use heck::{ToSnakeCase as _, ToUpperCamelCase as _};

use crate::model::{Func, Model, signature};
use crate::{Project, not_implemented};

const CARGO_TOML: &str = include_str!("../templates/rust-dylib/Cargo.toml");
const LIB_RS: &str = include_str!("../templates/rust-dylib/lib.rs");

pub fn render(model: &Model, project: &Project) -> Vec<(String, String)> {
    let type_name = project.name.to_upper_camel_case();
    let mut arms = String::new();
    let mut stubs = String::new();
    let mut methods: Vec<String> = Vec::new();
    for iface in &model.interfaces {
        for func in &iface.functions {
            let method = unique(&mut methods, &method_name(func));
            let _ = writeln!(
                arms,
                "            ({:?}, {:?}) => self.{method}(params),",
                iface.qualified, func.rpc_name
            );
            let _ = write!(
                stubs,
                "    /// `{}` of `{}`.\n    \
                 fn {method}(&self, _params: &[Value]) -> Result<Vec<Value>, String> {{\n        \
                 Err({:?}.into())\n    }}\n\n",
                signature(&model.resolve, func),
                iface.qualified,
                not_implemented(&iface.qualified, &func.rpc_name),
            );
        }
        for resource in &iface.resources {
            let _ = writeln!(
                arms,
                "            // A guest dropped its handle (params[0], a Value::Handle): free what it names.\n            \
                 ({:?}, \"[drop]{resource}\") => Ok(vec![]),",
                iface.qualified
            );
        }
    }
    let interfaces = model.interface_list();
    let cargo = CARGO_TOML
        .replace("{{NAME}}", &project.name)
        .replace("{{INTERFACES}}", &interfaces)
        .replace("{{SDK}}", &project.sdk.dependency());
    let lib = LIB_RS
        .replace("{{NAME}}", &project.name)
        .replace("{{WIT_FILE}}", &project.wit_file)
        .replace("{{TYPE}}", &type_name)
        .replace("{{ARMS}}", arms.trim_end())
        .replace("{{STUBS}}", stubs.trim_end());
    vec![
        ("Cargo.toml".to_owned(), cargo),
        ("src/lib.rs".to_owned(), lib),
    ]
}

/// The library this kind builds, relative to the project: `target/release/libNAME.so`.
pub fn artifact(name: &str) -> String {
    format!(
        "target/release/{}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    )
}

fn method_name(func: &Func) -> String {
    let name = match &func.resource {
        Some(resource) if func.is_constructor() => format!("{resource}-new"),
        Some(resource) => format!("{resource}-{}", func.item_name()),
        None => func.item_name().to_owned(),
    };
    crate::rust_ident(&name.to_snake_case())
}

fn unique(taken: &mut Vec<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}
