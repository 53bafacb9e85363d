//! `rust-dylib`: a `cdylib` crate on `manifold-plugin-sdk`'s typed bindings
//! (`generate!` on the copied WIT): a `#[derive(Default)]` struct implementing each
//! interface's `Interface` trait, a struct per resource implementing its trait, and every
//! function a stub that panics with "not implemented: …".
//!
//! The Rust signatures are not worked out here: they come from `manifold-plugin-sdk-gen`,
//! the code behind `generate!`, so they are the ones the macro generates.

use anyhow::{Context as _, anyhow};
use heck::ToUpperCamelCase as _;
use manifold_plugin_sdk_gen::names::{snake, upper_camel};
use manifold_plugin_sdk_gen::types::{Cx, Gen};
use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote;
use wit_parser::{Function, FunctionKind, TypeDefKind};

use crate::model::Model;
use crate::{Project, not_implemented};

const CARGO_TOML: &str = include_str!("../templates/rust-dylib/Cargo.toml");
const LIB_RS: &str = include_str!("../templates/rust-dylib/lib.rs");

pub fn render(model: &Model, project: &Project) -> anyhow::Result<Vec<(String, String)>> {
    let resolve = &model.resolve;
    let package = model
        .interfaces
        .first()
        .and_then(|i| resolve.interfaces[i.id].package)
        .context("no interface picked")?;
    manifold_plugin_sdk_gen::check(resolve, package).map_err(|e| {
        anyhow!(
            "--kind rust-dylib writes against the SDK's typed bindings (generate!), which \
             cannot serve this WIT: {e}; --kind rust-rpc or python-rpc can"
        )
    })?;
    let bindings = Gen { resolve };
    // Names at the crate root the stubs must not shadow: the bindings' `Exports`, the
    // prelude's types the signatures use, and `Self`.
    let mut taken: Vec<String> = ["Exports", "String", "Vec", "Option", "Result", "Self"]
        .map(String::from)
        .to_vec();
    let plugin = unique(&mut taken, &project.name.to_upper_camel_case());
    let plugin = Ident::new(&plugin, Span::call_site());
    let mut items = Vec::new();
    for (name, &id) in &resolve.packages[package].interfaces {
        if !bindings.has_trait(id) {
            continue;
        }
        let iface = &resolve.interfaces[id];
        let qualified = resolve.id_of(id).unwrap_or_default();
        let module = snake(name);
        let picked = model.interfaces.iter().any(|i| i.id == id);
        let mut assoc = Vec::new();
        let mut resources = Vec::new();
        for (resource, &rid) in &iface.types {
            if !matches!(resolve.types[rid].kind, TypeDefKind::Resource) {
                continue;
            }
            let trait_name = upper_camel(resource);
            let ty = unique(&mut taken, trait_name.to_string().trim_start_matches("r#"));
            let ty = Ident::new(&ty, Span::call_site());
            assoc.push(quote!(type #trait_name = #ty;));
            let stubs = iface
                .functions
                .values()
                .filter_map(|f| match f.kind {
                    FunctionKind::Method(r) | FunctionKind::AsyncMethod(r) if r == rid => {
                        Some((f, true))
                    }
                    FunctionKind::Static(r)
                    | FunctionKind::AsyncStatic(r)
                    | FunctionKind::Constructor(r)
                        if r == rid =>
                    {
                        Some((f, false))
                    }
                    _ => None,
                })
                .map(|(f, method)| stub(&bindings, f, &Cx::Resource(rid), method, &qualified))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let doc = format!(" The resource `{resource}` of `{qualified}`: add what one holds.");
            resources.push(quote! {
                #[doc = #doc]
                pub struct #ty;

                #[allow(unused_variables)]
                impl #module::#trait_name for #ty {
                    #(#stubs)*
                }
            });
        }
        let stubs = iface
            .functions
            .values()
            // An `async func` is a plain method: a dylib serves it synchronously.
            .filter(|f| {
                matches!(
                    f.kind,
                    FunctionKind::Freestanding | FunctionKind::AsyncFreestanding
                )
            })
            .map(|f| stub(&bindings, f, &Cx::Interface(id), false, &qualified))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let doc = if picked {
            format!(" `{qualified}`.")
        } else {
            format!(
                " `{qualified}`: not served (plugin.toml does not list it), but `Exports` \
                 needs every interface of the WIT implemented."
            )
        };
        items.push(quote! {
            #[doc = #doc]
            #[allow(unused_variables)]
            impl #module::Interface for #plugin {
                #(#assoc)*
                #(#stubs)*
            }
        });
        items.extend(resources);
    }
    let file: syn::File = syn::parse2(quote!(#(#items)*))
        .map_err(|e| anyhow!("the stubs do not parse as Rust (a bug): {e}"))?;
    let impls = file
        .items
        .into_iter()
        .map(|item| {
            let one = syn::File {
                shebang: None,
                attrs: Vec::new(),
                items: vec![item],
            };
            prettyplease::unparse(&one)
                .replace("    }\n    fn ", "    }\n\n    fn ")
                .replace(";\n    fn ", ";\n\n    fn ")
        })
        .collect::<Vec<_>>()
        .join("\n");

    let cargo = CARGO_TOML
        .replace("{{NAME}}", &project.name)
        .replace("{{INTERFACES}}", &model.interface_list())
        .replace("{{SDK}}", &project.sdk.dependency());
    let lib = LIB_RS
        .replace("{{NAME}}", &project.name)
        .replace("{{WIT_FILE}}", &project.wit_file)
        .replace("{{TYPE}}", &plugin.to_string())
        .replace("{{IMPLS}}", impls.trim_end());
    Ok(vec![
        ("Cargo.toml".to_owned(), cargo),
        ("src/lib.rs".to_owned(), lib),
    ])
}

/// `fn name(&self, a: A) -> R { panic!("not implemented: IFACE#FUNC") }`, with the
/// signature of the trait `generate!` makes, as written where the stubs are (the crate root,
/// beside the bindings' modules).
fn stub(
    bindings: &Gen<'_>,
    f: &Function,
    cx: &Cx,
    method: bool,
    qualified: &str,
) -> anyhow::Result<TokenStream> {
    let decl = bindings
        .signature(f, cx, method)
        .map_err(|e| anyhow!("{}: {e}", f.name))?;
    let decl: syn::TraitItemFn =
        syn::parse_str(&prelude_names(&without_super(decl).to_string()))
            .map_err(|e| anyhow!("{}: the signature does not parse (a bug): {e}", f.name))?;
    let sig = decl.sig;
    let message = not_implemented(qualified, manifold_plugin_api::rpc_func_name(&f.name));
    Ok(quote!(#sig { panic!(#message) }))
}

/// The trait's paths (`super::types::Point`, written inside the bindings' modules) as seen
/// from the crate root (`types::Point`). `super` is a keyword, so WIT names never produce it.
fn without_super(tokens: TokenStream) -> TokenStream {
    let mut out = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(tree) = iter.next() {
        match tree {
            TokenTree::Ident(ref i) if i == "super" => {
                // Drop `super` and the `::` after it.
                for _ in 0..2 {
                    if matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
                        iter.next();
                    }
                }
            }
            TokenTree::Group(g) => {
                let mut inner = proc_macro2::Group::new(g.delimiter(), without_super(g.stream()));
                inner.set_span(g.span());
                out.push(TokenTree::Group(inner));
            }
            other => out.push(other),
        }
    }
    out.into_iter().collect()
}

/// The bindings spell the standard types by full path; the stubs use the prelude's names.
/// `code` is a token stream as text (`:: std :: string :: String`). Generated paths are
/// `module::Type` at most, so nothing else matches.
fn prelude_names(code: &str) -> String {
    code.replace(":: std :: string :: String", "String")
        .replace(":: std :: vec :: Vec", "Vec")
        .replace(":: core :: option :: Option", "Option")
        .replace(":: core :: result :: Result", "Result")
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

/// `name`, or `name2`, `name3`… if it is taken; then it is taken.
fn unique(taken: &mut Vec<String>, name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}
