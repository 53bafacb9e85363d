//! The code behind `manifold_plugin_sdk::generate!`, as a plain library: the proc-macro crate
//! (`manifold-plugin-sdk-macros`) calls [`expand`], and `manifold plugin new` uses the same
//! naming ([`names`]) and type mapping ([`types`]) to write stubs whose signatures are the
//! ones the macro generates.
//!
//! [`expand`] reads one WIT file (one package, as the host parses a plugin's WIT) and emits
//! the plugin's types, one trait per interface and per resource, and `Exports<T>`, which
//! implements `manifold_plugin_sdk::Dispatch` for any `T` implementing the interface traits.

pub mod names;
pub mod types;

use std::path::Path;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use wit_parser::{FunctionKind, InterfaceId, PackageId, Resolve, Type, TypeDefKind, TypeId};

use crate::names::{snake, upper_camel};
use crate::types::{Cx, Gen};

/// The bindings of the WIT file at `file`, or why there are none.
pub fn expand(file: &Path) -> Result<TokenStream, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read the WIT file {}: {e}", file.display()))?;
    let mut resolve = Resolve::default();
    let package = resolve
        .push_str(file, &text)
        .map_err(|e| format!("the WIT file {} does not parse: {e:#}", file.display()))?;
    let bindings = Bindings::new(&resolve, package);
    let body = bindings.emit()?;
    let path = file
        .to_str()
        .ok_or_else(|| format!("the path {} is not UTF-8", file.display()))?;
    Ok(quote! {
        /// The WIT package this plugin implements.
        pub const WIT: &str = include_str!(#path);
        #body
    })
}

/// Whether `generate!` can make bindings for `package` of `resolve`, and if not, why: what
/// `manifold plugin new --kind rust-dylib` checks before writing stubs against them.
pub fn check(resolve: &Resolve, package: PackageId) -> Result<(), String> {
    Bindings::new(resolve, package).emit().map(drop)
}

/// One function the plugin serves, numbered in the order of `Dispatch::lookup`.
struct Func<'a> {
    interface: InterfaceId,
    /// The interface's full name (`manifold:conformance/types@0.1.0`).
    interface_name: String,
    /// The name the host calls it by (`inc`, `counter.add`, `counter`, `[drop]counter`).
    wire_name: String,
    kind: FuncKind<'a>,
}

enum FuncKind<'a> {
    /// A function of the WIT: freestanding, or a resource's constructor, method or static.
    Wit(&'a wit_parser::Function),
    /// `[drop]r`: the host dropped its handle to a resource.
    Drop(TypeId),
}

struct Bindings<'a> {
    types: Gen<'a>,
    package: PackageId,
}

impl<'a> Bindings<'a> {
    fn new(resolve: &'a Resolve, package: PackageId) -> Self {
        Bindings {
            types: Gen { resolve },
            package,
        }
    }

    fn resolve(&self) -> &'a Resolve {
        self.types.resolve
    }

    /// The interfaces of the package, in order, with their full names
    /// (`manifold:conformance/types@0.1.0`).
    fn interfaces(&self) -> Vec<(InterfaceId, String)> {
        let package = &self.resolve().packages[self.package];
        let version = package
            .name
            .version
            .as_ref()
            .map(|v| format!("@{v}"))
            .unwrap_or_default();
        package
            .interfaces
            .iter()
            .map(|(name, id)| {
                let full = format!(
                    "{}:{}/{name}{version}",
                    package.name.namespace, package.name.name
                );
                (*id, full)
            })
            .collect()
    }

    fn resources(&self, iface: InterfaceId) -> Vec<(String, TypeId)> {
        self.resolve().interfaces[iface]
            .types
            .iter()
            .filter(|(_, id)| matches!(self.resolve().types[**id].kind, TypeDefKind::Resource))
            .map(|(name, id)| (name.clone(), *id))
            .collect()
    }

    fn funcs(&self) -> Vec<Func<'a>> {
        let mut out = Vec::new();
        for (iface, interface_name) in self.interfaces() {
            let resolve = self.resolve();
            for func in resolve.interfaces[iface].functions.values() {
                out.push(Func {
                    interface: iface,
                    interface_name: interface_name.clone(),
                    wire_name: manifold_plugin_api::rpc_func_name(&func.name).to_string(),
                    kind: FuncKind::Wit(func),
                });
            }
            for (name, id) in self.resources(iface) {
                out.push(Func {
                    interface: iface,
                    interface_name: interface_name.clone(),
                    wire_name: manifold_plugin_api::drop_func_name(&name),
                    kind: FuncKind::Drop(id),
                });
            }
        }
        out
    }

    fn module_name(&self, iface: InterfaceId) -> syn::Ident {
        let name = self.resolve().interfaces[iface]
            .name
            .as_deref()
            .unwrap_or("interface");
        snake(name)
    }

    fn table_field(&self, resource: TypeId) -> syn::Ident {
        let def = &self.resolve().types[resource];
        let iface = match def.owner {
            wit_parser::TypeOwner::Interface(i) => self.module_name(i).to_string(),
            _ => String::new(),
        };
        format_ident!(
            "{}_{}",
            iface.trim_start_matches("r#"),
            snake(def.name.as_deref().unwrap_or("resource"))
                .to_string()
                .trim_start_matches("r#")
        )
    }

    fn emit(&self) -> Result<TokenStream, String> {
        let mut modules = Vec::new();
        let mut bounds = Vec::new();
        let mut fields = Vec::new();
        for (iface, full_name) in self.interfaces() {
            let module = self.module_name(iface);
            let contents = self.types.interface(iface)?;
            let doc = format!(" Bindings of `{full_name}`.");
            modules.push(quote! {
                #[doc = #doc]
                #[allow(clippy::all, dead_code, unused_imports)]
                pub mod #module {
                    #contents
                }
            });
            if self.types.has_trait(iface) {
                bounds.push(quote!(#module::Interface));
            }
            for (_, id) in self.resources(iface) {
                let field = self.table_field(id);
                let ty = self.types.resource_ty(id, &Cx::Top)?;
                fields.push(quote!(#field: ::manifold_plugin_sdk::bindings::Table<#ty>));
            }
        }
        let funcs = self.funcs();
        let lookups = funcs.iter().enumerate().map(|(index, f)| {
            let interface = &f.interface_name;
            let name = &f.wire_name;
            let index = index as u32;
            quote!((#interface, #name) => ::core::option::Option::Some(#index),)
        });
        let names = funcs.iter().map(|f| &f.wire_name);
        let count = funcs.len();
        let arms = funcs
            .iter()
            .enumerate()
            .map(|(index, f)| {
                let index = index as u32;
                let body = self.call_body(f)?;
                Ok(quote!(#index => { #body }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let field_inits = self
            .interfaces()
            .into_iter()
            .flat_map(|(iface, _)| self.resources(iface))
            .map(|(_, id)| {
                let field = self.table_field(id);
                quote!(#field: ::core::default::Default::default(),)
            })
            .collect::<Vec<_>>();
        let bound = if bounds.is_empty() {
            quote!(::core::marker::Send + ::core::marker::Sync + 'static)
        } else {
            quote!(#(#bounds)+*)
        };
        Ok(quote! {
            #(#modules)*

            /// Exports a plugin `T` that implements the interface traits of [`WIT`]: the
            /// [`Dispatch`](::manifold_plugin_sdk::Dispatch) to hand to the export macro.
            /// It keeps the resources `T` creates behind the handles the host sees.
            pub struct Exports<T: #bound> {
                plugin: T,
                #(#fields,)*
            }

            impl<T: #bound + ::core::default::Default> ::core::default::Default for Exports<T> {
                fn default() -> Self {
                    Exports {
                        plugin: ::core::default::Default::default(),
                        #(#field_inits)*
                    }
                }
            }

            impl<T: #bound> Exports<T> {
                /// The plugin.
                pub fn plugin(&self) -> &T {
                    &self.plugin
                }

                #[allow(unused_variables, unused_mut, clippy::all)]
                fn dispatch(
                    &self,
                    index: u32,
                    r: &mut ::manifold_plugin_sdk::bindings::Reader<'_>,
                    out: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::manifold_plugin_sdk::bindings::WireError> {
                    match index {
                        #(#arms)*
                        _ => {}
                    }
                    ::core::result::Result::Ok(())
                }
            }

            impl<T: #bound + ::core::default::Default> ::manifold_plugin_sdk::Dispatch for Exports<T> {
                const WIT: &'static str = WIT;

                fn lookup(&self, interface: &str, func: &str) -> ::core::option::Option<u32> {
                    match (interface, func) {
                        #(#lookups)*
                        _ => ::core::option::Option::None,
                    }
                }

                fn call(
                    &self,
                    index: u32,
                    params: &[u8],
                    out: &mut ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    const NAMES: [&str; #count] = [#(#names),*];
                    let name = NAMES
                        .get(index as usize)
                        .ok_or_else(|| ::std::format!("this plugin has no function {index}"))?;
                    let mut r = ::manifold_plugin_sdk::bindings::Reader::new(params);
                    self.dispatch(index, &mut r, out)
                        .and_then(|()| r.finish())
                        .map_err(|e| ::std::format!("{name}: bad parameters: {e}"))
                }
            }
        })
    }

    /// Decodes the parameters of `f`, calls the plugin and encodes its result.
    fn call_body(&self, f: &Func<'_>) -> Result<TokenStream, String> {
        let func = match f.kind {
            FuncKind::Drop(resource) => {
                let field = self.table_field(resource);
                return Ok(quote!(self.#field.remove(r)?;));
            }
            FuncKind::Wit(func) => func,
        };
        let module = self.module_name(f.interface);
        let mut lets = Vec::new();
        let mut args = Vec::new();
        for (i, param) in func.params.iter().enumerate() {
            let local = format_ident!("p{i}");
            match self.borrowed(&param.ty) {
                Some(resource) => {
                    let field = self.table_field(resource);
                    lets.push(quote!(let #local = self.#field.get(r)?;));
                    args.push(quote!(&*#local));
                }
                None => {
                    let decode = self.decode(&param.ty)?;
                    lets.push(quote!(let #local = #decode;));
                    args.push(quote!(#local));
                }
            }
        }
        // An `async func` is called like the others: a dylib serves it synchronously.
        let call = match &func.kind {
            FunctionKind::Freestanding | FunctionKind::AsyncFreestanding => {
                let name = snake(func.item_name());
                quote!(<T as #module::Interface>::#name(&self.plugin, #(#args),*))
            }
            FunctionKind::Method(resource)
            | FunctionKind::AsyncMethod(resource)
            | FunctionKind::Static(resource)
            | FunctionKind::AsyncStatic(resource)
            | FunctionKind::Constructor(resource) => {
                let ty = self.types.resource_ty(*resource, &Cx::Top)?;
                let trait_name = upper_camel(self.types.name_of(*resource));
                let name = if matches!(func.kind, FunctionKind::Constructor(_)) {
                    format_ident!("new")
                } else {
                    snake(func.item_name())
                };
                quote!(<#ty as #module::#trait_name>::#name(#(#args),*))
            }
        };
        let encode = match &func.result {
            Some(ty) => self.encode(ty, quote!(ret))?,
            None => quote!(let () = ret;),
        };
        Ok(quote! {
            #(#lets)*
            let ret = #call;
            #encode
        })
    }

    /// The resource of a `borrow<R>` parameter.
    fn borrowed(&self, ty: &Type) -> Option<TypeId> {
        let Type::Id(id) = ty else { return None };
        match &self.resolve().types[*id].kind {
            TypeDefKind::Handle(wit_parser::Handle::Borrow(r)) => Some(self.types.resource_of(*r)),
            TypeDefKind::Type(t) => self.borrowed(t),
            _ => None,
        }
    }

    /// An expression decoding a value of `ty` from `r` (`?` on errors).
    fn decode(&self, ty: &Type) -> Result<TokenStream, String> {
        if !self.types.has_resource(ty) {
            let rust = self.types.rust_ty(ty, &Cx::Top)?;
            return Ok(quote!(<#rust as ::manifold_plugin_sdk::bindings::Wire>::decode(r)?));
        }
        let Type::Id(id) = ty else {
            unreachable!("only a defined type holds a resource")
        };
        Ok(match &self.resolve().types[*id].kind {
            TypeDefKind::Type(t) => self.decode(t)?,
            TypeDefKind::Handle(wit_parser::Handle::Own(res)) => {
                let field = self.table_field(self.types.resource_of(*res));
                quote!(self.#field.take(r)?)
            }
            TypeDefKind::Option(t) => {
                let inner = self.decode(t)?;
                quote!(if ::manifold_plugin_sdk::bindings::tag(r, "option tag")? {
                    ::core::option::Option::Some(#inner)
                } else {
                    ::core::option::Option::None
                })
            }
            TypeDefKind::Result(res) => {
                let ok = match &res.ok {
                    Some(t) => self.decode(t)?,
                    None => quote!(()),
                };
                let err = match &res.err {
                    Some(t) => self.decode(t)?,
                    None => quote!(()),
                };
                quote!(if ::manifold_plugin_sdk::bindings::tag(r, "result tag")? {
                    ::core::result::Result::Err(#err)
                } else {
                    ::core::result::Result::Ok(#ok)
                })
            }
            TypeDefKind::List(t) => {
                let inner = self.decode(t)?;
                quote!({
                    let n = r.len(1)?;
                    let mut items = ::std::vec::Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(#inner);
                    }
                    items
                })
            }
            TypeDefKind::Tuple(t) => {
                let items = t
                    .types
                    .iter()
                    .map(|t| self.decode(t))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!((#(#items,)*))
            }
            _ => return Err(self.types.resource_in_named_type(*id)),
        })
    }

    /// Statements encoding `value` (an owned value of `ty`) into `out`.
    fn encode(&self, ty: &Type, value: TokenStream) -> Result<TokenStream, String> {
        if !self.types.has_resource(ty) {
            return Ok(quote!(::manifold_plugin_sdk::bindings::Wire::encode(&#value, out);));
        }
        let Type::Id(id) = ty else {
            unreachable!("only a defined type holds a resource")
        };
        Ok(match &self.resolve().types[*id].kind {
            TypeDefKind::Type(t) => self.encode(t, value)?,
            TypeDefKind::Handle(wit_parser::Handle::Own(res)) => {
                let field = self.table_field(self.types.resource_of(*res));
                quote!(self.#field.insert(#value, out);)
            }
            TypeDefKind::Option(t) => {
                let inner = self.encode(t, quote!(v))?;
                quote!(match #value {
                    ::core::option::Option::None => out.push(0),
                    ::core::option::Option::Some(v) => { out.push(1); #inner }
                })
            }
            TypeDefKind::Result(res) => {
                let ok = match &res.ok {
                    Some(t) => self.encode(t, quote!(v))?,
                    None => quote!(let () = v;),
                };
                let err = match &res.err {
                    Some(t) => self.encode(t, quote!(v))?,
                    None => quote!(let () = v;),
                };
                quote!(match #value {
                    ::core::result::Result::Ok(v) => { out.push(0); #ok }
                    ::core::result::Result::Err(v) => { out.push(1); #err }
                })
            }
            TypeDefKind::List(t) => {
                let inner = self.encode(t, quote!(v))?;
                quote!({
                    let items = #value;
                    ::manifold_plugin_sdk::bindings::put::uleb(out, items.len() as u64);
                    for v in items { #inner }
                })
            }
            TypeDefKind::Tuple(t) => {
                let names: Vec<_> = (0..t.types.len()).map(|i| format_ident!("t{i}")).collect();
                let parts = t
                    .types
                    .iter()
                    .zip(&names)
                    .map(|(t, n)| self.encode(t, quote!(#n)))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!({
                    let (#(#names,)*) = #value;
                    #(#parts)*
                })
            }
            _ => return Err(self.types.resource_in_named_type(*id)),
        })
    }
}

#[cfg(test)]
mod tests;
