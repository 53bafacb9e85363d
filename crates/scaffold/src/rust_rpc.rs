//! `rust-rpc`: a Cargo project on `wit-bindgen-wrpc`, the trait implementations it generates
//! stubbed out one method per function.

use std::fmt::Write as _;

use heck::{ToSnakeCase as _, ToUpperCamelCase as _};
use wit_parser::{Handle, Resolve, Type, TypeDefKind};

use crate::model::{Func, Model, signature};
use crate::{Project, not_implemented, rust_ident};

const CARGO_TOML: &str = include_str!("../templates/rust-rpc/Cargo.toml");
const MAIN_RS: &str = include_str!("../templates/rust-rpc/main.rs");
const PLUGIN_RS: &str = include_str!("../templates/rust-rpc/plugin.rs");

pub fn render(model: &Model, project: &Project) -> Vec<(String, String)> {
    let resolve = &model.resolve;
    let mut exports = String::new();
    let mut drops = Vec::new();
    let mut uses = String::new();
    let mut impls = String::new();
    let mut aliases: Vec<String> = Vec::new();
    for iface in &model.interfaces {
        let _ = writeln!(exports, "  export {};", iface.qualified);
        drops.extend(
            iface
                .resources
                .iter()
                .map(|r| format!("({:?}, {r:?})", iface.qualified)),
        );
        if iface.functions.is_empty() && iface.resources.is_empty() {
            continue; // wit-bindgen-wrpc generates no trait for it
        }
        let mut alias = module_ident(&iface.name);
        while aliases.contains(&alias) {
            alias.push('_');
        }
        aliases.push(alias.clone());
        let _ = writeln!(
            uses,
            "use crate::bindings::exports::{} as {alias};",
            module_path(resolve, iface.id)
        );

        // One trait for the freestanding functions, one per resource.
        let mut traits: Vec<(Option<&str>, String)> = vec![(None, String::new())];
        traits.extend(
            iface
                .resources
                .iter()
                .map(|r| (Some(r.as_str()), String::new())),
        );
        for func in &iface.functions {
            let body = traits
                .iter_mut()
                .find(|(r, _)| *r == func.resource.as_deref())
                .map(|(_, body)| body);
            if let Some(body) = body {
                method(body, resolve, &alias, &iface.qualified, func);
            }
        }
        for (resource, body) in traits {
            let name = match resource {
                None => "Handler".to_owned(),
                Some(r) => format!("Handler{}", r.to_upper_camel_case()),
            };
            let body = body.trim_end_matches('\n');
            let _ = if body.is_empty() {
                writeln!(impls, "impl<C: Send> {alias}::{name}<C> for Plugin {{}}\n")
            } else {
                writeln!(
                    impls,
                    "impl<C: Send> {alias}::{name}<C> for Plugin {{\n{body}\n}}\n"
                )
            };
        }
    }
    let interfaces = model.interface_list();
    let cargo = CARGO_TOML
        .replace("{{NAME}}", &project.name)
        .replace("{{INTERFACES}}", &interfaces);
    let main = MAIN_RS
        .replace("{{NAME}}", &project.name)
        .replace("{{WIT_FILE}}", &project.wit_file)
        .replace("{{EXPORTS}}", &exports.replace('\n', "\\n"))
        .replace("{{DROPS}}", &drops.join(", "));
    let plugin = PLUGIN_RS
        .replace("{{INTERFACES}}", &interfaces)
        .replace("{{USES}}", uses.trim_end())
        .replace("{{IMPLS}}", impls.trim_end());
    vec![
        ("Cargo.toml".to_owned(), cargo),
        ("src/main.rs".to_owned(), main),
        (
            "src/plugin.rs".to_owned(),
            format!("{}\n", plugin.trim_end()),
        ),
    ]
}

/// The path of an exported interface's module in the generated bindings:
/// `manifold::conformance::types`.
fn module_path(resolve: &Resolve, id: wit_parser::InterfaceId) -> String {
    let iface = &resolve.interfaces[id];
    let name = iface.name.as_deref().unwrap_or_default();
    match iface.package.map(|p| &resolve.packages[p].name) {
        Some(package) => format!(
            "{}::{}::{}",
            module_ident(&package.namespace),
            module_ident(&package.name),
            module_ident(name)
        ),
        None => module_ident(name),
    }
}

fn module_ident(name: &str) -> String {
    rust_ident(&name.to_snake_case())
}

fn method(out: &mut String, resolve: &Resolve, alias: &str, interface: &str, func: &Func) {
    let name = if func.is_constructor() {
        "new".to_owned()
    } else {
        rust_ident(&func.item_name().to_snake_case())
    };
    let mut params = vec!["&self".to_owned(), "_cx: C".to_owned()];
    for param in &func.wit.params {
        params.push(format!(
            "_{}: {}",
            param.name.to_snake_case(),
            rust_type(resolve, alias, &param.ty)
        ));
    }
    let result = func
        .wit
        .result
        .as_ref()
        .map_or("()".to_owned(), |t| rust_type(resolve, alias, t));
    let allow = if params.len() > 7 {
        "    #[allow(clippy::too_many_arguments)]\n"
    } else {
        ""
    };
    let _ = write!(
        out,
        "    /// `{}`\n{allow}    async fn {name}({}) -> anyhow::Result<{result}> {{\n        \
         anyhow::bail!({:?})\n    }}\n\n",
        signature(resolve, func),
        params.join(", "),
        not_implemented(interface, &func.rpc_name),
    );
}

/// The Rust type `wit-bindgen-wrpc` gives an exported function's parameter or result.
fn rust_type(resolve: &Resolve, alias: &str, ty: &Type) -> String {
    let Type::Id(id) = ty else {
        return match ty {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::S8 => "i8",
            Type::S16 => "i16",
            Type::S32 => "i32",
            Type::S64 => "i64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::Char => "char",
            Type::String => "String",
            Type::ErrorContext | Type::Id(_) => "()",
        }
        .to_owned();
    };
    let def = &resolve.types[*id];
    let ty = |t: &Type| rust_type(resolve, alias, t);
    let opt = |t: &Option<Type>| t.as_ref().map_or("()".to_owned(), ty);
    let resource_name = |r: &wit_parser::TypeId| {
        resolve.types[*r]
            .name
            .as_deref()
            .map(|n| format!("{alias}::{}", upper_camel(n)))
            .unwrap_or_default()
    };
    match &def.kind {
        TypeDefKind::Handle(Handle::Own(r)) => format!("ResourceOwn<{}>", resource_name(r)),
        TypeDefKind::Handle(Handle::Borrow(r)) => format!("ResourceBorrow<{}>", resource_name(r)),
        _ if def.name.is_some() => {
            format!(
                "{alias}::{}",
                upper_camel(def.name.as_deref().unwrap_or_default())
            )
        }
        TypeDefKind::List(Type::U8) => "Bytes".to_owned(),
        TypeDefKind::List(t) => format!("Vec<{}>", ty(t)),
        TypeDefKind::Option(t) => format!("Option<{}>", ty(t)),
        TypeDefKind::Result(r) => format!("Result<{}, {}>", opt(&r.ok), opt(&r.err)),
        TypeDefKind::Tuple(t) => {
            let types: Vec<String> = t.types.iter().map(ty).collect();
            if types.len() == 1 {
                format!("({},)", types[0])
            } else {
                format!("({})", types.join(", "))
            }
        }
        TypeDefKind::Type(t) => ty(t),
        // Refused by the model.
        _ => "()".to_owned(),
    }
}

/// wit-bindgen-wrpc's type names: upper camel case, `handler` renamed away from its traits.
fn upper_camel(name: &str) -> String {
    if name == "handler" {
        "Handler_".to_owned()
    } else {
        name.to_upper_camel_case()
    }
}
