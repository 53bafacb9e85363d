//! The inside of one interface's module: a Rust type per WIT type (with its `Wire` codec), a
//! trait per resource and the interface's trait.

use proc_macro2::TokenStream;
use quote::quote;
use wit_parser::{
    Docs, Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId,
    TypeOwner,
};

use crate::names::{shouty, snake, upper_camel};

/// Where a Rust type is written, which decides how it names resources and other types.
pub enum Cx {
    /// Beside the interface modules (`Exports`): `types::Point`, `<T as types::Interface>::Counter`.
    Top,
    /// In the trait of an interface: `super::types::Point`, `Self::Counter`.
    Interface(InterfaceId),
    /// In the trait of a resource: `Self` is the resource.
    Resource(TypeId),
}

pub struct Gen<'a> {
    pub resolve: &'a Resolve,
}

fn docs(docs: &Docs) -> TokenStream {
    let lines = docs
        .contents
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(|l| format!(" {l}"));
    quote!(#(#[doc = #lines])*)
}

impl<'a> Gen<'a> {
    pub fn name_of(&self, id: TypeId) -> &'a str {
        self.resolve.types[id]
            .name
            .as_deref()
            .unwrap_or("anonymous")
    }

    /// The resource a handle or a `use` of it points to.
    pub fn resource_of(&self, mut id: TypeId) -> TypeId {
        while let TypeDefKind::Type(Type::Id(next)) = self.resolve.types[id].kind {
            id = next;
        }
        id
    }

    fn module_of(&self, id: TypeId) -> Result<TokenStream, String> {
        match self.resolve.types[id].owner {
            TypeOwner::Interface(i) => {
                let name = snake(
                    self.resolve.interfaces[i]
                        .name
                        .as_deref()
                        .unwrap_or("interface"),
                );
                Ok(quote!(#name))
            }
            _ => Err(format!(
                "type `{}` is not defined in an interface; a plugin serves interfaces only",
                self.name_of(id)
            )),
        }
    }

    /// Whether a value of `ty` holds a resource handle anywhere.
    pub fn has_resource(&self, ty: &Type) -> bool {
        let Type::Id(id) = ty else { return false };
        match &self.resolve.types[*id].kind {
            TypeDefKind::Handle(_) | TypeDefKind::Resource => true,
            TypeDefKind::Record(r) => r.fields.iter().any(|f| self.has_resource(&f.ty)),
            TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.has_resource(t)),
            TypeDefKind::Variant(v) => v
                .cases
                .iter()
                .any(|c| c.ty.as_ref().is_some_and(|t| self.has_resource(t))),
            TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
                self.has_resource(t)
            }
            TypeDefKind::Result(r) => {
                r.ok.as_ref().is_some_and(|t| self.has_resource(t))
                    || r.err.as_ref().is_some_and(|t| self.has_resource(t))
            }
            _ => false,
        }
    }

    pub fn resource_in_named_type(&self, id: TypeId) -> String {
        format!(
            "type `{}` holds a resource handle: the bindings support handles in parameters and \
             results, and in the option, result, list and tuple types written there, not yet \
             in named records, variants or aliases",
            self.name_of(id)
        )
    }

    /// The Rust type of the resource `id` (or a `use` of it) as written in `cx`.
    pub fn resource_ty(&self, id: TypeId, cx: &Cx) -> Result<TokenStream, String> {
        let id = self.resource_of(id);
        let name = upper_camel(self.name_of(id));
        let owner = match self.resolve.types[id].owner {
            TypeOwner::Interface(i) => i,
            _ => return Err(format!("resource `{name}` is not in an interface")),
        };
        match cx {
            Cx::Top => {
                let module = self.module_of(id)?;
                Ok(quote!(<T as #module::Interface>::#name))
            }
            Cx::Interface(i) if *i == owner => Ok(quote!(Self::#name)),
            // A resource `use`d from another interface: that interface's trait is a
            // supertrait of this one (see `interface`).
            Cx::Interface(_) => {
                let module = self.module_of(id)?;
                Ok(quote!(<Self as super::#module::Interface>::#name))
            }
            Cx::Resource(r) if *r == id => Ok(quote!(Self)),
            _ => Err(format!(
                "resource `{}` is used in a method of another resource; the bindings do not \
                 support that yet",
                self.name_of(id)
            )),
        }
    }

    /// The Rust type of a value of `ty`, as written in `cx`.
    pub fn rust_ty(&self, ty: &Type, cx: &Cx) -> Result<TokenStream, String> {
        Ok(match ty {
            Type::Bool => quote!(bool),
            Type::U8 => quote!(u8),
            Type::S8 => quote!(i8),
            Type::U16 => quote!(u16),
            Type::S16 => quote!(i16),
            Type::U32 => quote!(u32),
            Type::S32 => quote!(i32),
            Type::U64 => quote!(u64),
            Type::S64 => quote!(i64),
            Type::F32 => quote!(f32),
            Type::F64 => quote!(f64),
            Type::Char => quote!(char),
            Type::String => quote!(::std::string::String),
            Type::ErrorContext => return Err("error-context cannot cross to a plugin".into()),
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                match (&def.name, &def.kind) {
                    (Some(_), TypeDefKind::Resource) => self.resource_ty(*id, cx)?,
                    (Some(name), _) => {
                        if self.has_resource(ty) {
                            return Err(self.resource_in_named_type(*id));
                        }
                        let module = self.module_of(*id)?;
                        let name = upper_camel(name);
                        match cx {
                            Cx::Top => quote!(#module::#name),
                            _ => quote!(super::#module::#name),
                        }
                    }
                    (None, kind) => self.anonymous_ty(kind, cx)?,
                }
            }
        })
    }

    fn anonymous_ty(&self, kind: &TypeDefKind, cx: &Cx) -> Result<TokenStream, String> {
        Ok(match kind {
            TypeDefKind::Type(t) => self.rust_ty(t, cx)?,
            TypeDefKind::List(t) => {
                let t = self.rust_ty(t, cx)?;
                quote!(::std::vec::Vec<#t>)
            }
            TypeDefKind::Option(t) => {
                let t = self.rust_ty(t, cx)?;
                quote!(::core::option::Option<#t>)
            }
            TypeDefKind::Result(r) => {
                let ok = self.optional_ty(r.ok.as_ref(), cx)?;
                let err = self.optional_ty(r.err.as_ref(), cx)?;
                quote!(::core::result::Result<#ok, #err>)
            }
            TypeDefKind::Tuple(t) => {
                let items = t
                    .types
                    .iter()
                    .map(|t| self.rust_ty(t, cx))
                    .collect::<Result<Vec<_>, _>>()?;
                quote!((#(#items,)*))
            }
            TypeDefKind::Handle(Handle::Own(r)) => self.resource_ty(*r, cx)?,
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                return Err(format!(
                    "borrow<{}> is supported as a parameter only, not inside another type",
                    self.name_of(self.resource_of(*r))
                ));
            }
            other => return Err(format!("{} cannot cross to a plugin", other.as_str())),
        })
    }

    fn optional_ty(&self, ty: Option<&Type>, cx: &Cx) -> Result<TokenStream, String> {
        match ty {
            Some(t) => self.rust_ty(t, cx),
            None => Ok(quote!(())),
        }
    }

    /// The type of a parameter: a `borrow<R>` becomes `&R`.
    fn param_ty(&self, ty: &Type, cx: &Cx) -> Result<TokenStream, String> {
        if let Type::Id(id) = ty
            && let TypeDefKind::Handle(Handle::Borrow(r)) = &self.resolve.types[*id].kind
        {
            let r = self.resource_ty(*r, cx)?;
            return Ok(quote!(&#r));
        }
        self.rust_ty(ty, cx)
    }

    pub fn has_trait(&self, iface: InterfaceId) -> bool {
        let i = &self.resolve.interfaces[iface];
        !i.functions.is_empty()
            || i.types
                .values()
                .any(|id| matches!(self.resolve.types[*id].kind, TypeDefKind::Resource))
    }

    /// The contents of the module of `iface`.
    pub fn interface(&self, iface: InterfaceId) -> Result<TokenStream, String> {
        let i = &self.resolve.interfaces[iface];
        let mut items = Vec::new();
        let mut assoc = Vec::new();
        let mut supertraits = Vec::new();
        for (name, id) in &i.types {
            let def = &self.resolve.types[*id];
            if let TypeDefKind::Resource = def.kind {
                items.push(self.resource_trait(iface, *id)?);
                let ident = upper_camel(name);
                let doc = docs(&def.docs);
                assoc.push(quote!(#doc type #ident: #ident;));
            } else if let TypeDefKind::Type(Type::Id(used)) = def.kind
                && matches!(
                    self.resolve.types[self.resource_of(used)].kind,
                    TypeDefKind::Resource
                )
            {
                // `use other.{r}` of a resource: functions here name it through its own
                // interface's trait, a supertrait of this one; no item is needed.
                let module = self.module_of(self.resource_of(used))?;
                let supertrait = quote!(super::#module::Interface);
                if !supertraits
                    .iter()
                    .any(|s: &TokenStream| s.to_string() == supertrait.to_string())
                {
                    supertraits.push(supertrait);
                }
            } else {
                items.push(self.type_def(iface, *id)?);
            }
        }
        if self.has_trait(iface) {
            let cx = Cx::Interface(iface);
            let funcs = i
                .functions
                .values()
                // An `async func` is a plain method too: a dylib serves it synchronously.
                .filter(|f| {
                    matches!(
                        f.kind,
                        FunctionKind::Freestanding | FunctionKind::AsyncFreestanding
                    )
                })
                .map(|f| self.signature(f, &cx, false))
                .collect::<Result<Vec<_>, _>>()?;
            let doc = docs(&i.docs);
            items.push(quote! {
                #doc
                /// Implemented by the plugin: one method per function of the interface.
                pub trait Interface: #(#supertraits +)* ::core::marker::Send + ::core::marker::Sync + 'static {
                    #(#assoc)*
                    #(#funcs)*
                }
            });
        }
        Ok(quote!(#(#items)*))
    }

    /// `fn name(&self, a: A) -> R;` (`with_self`: a method, whose `self` parameter is the
    /// resource).
    pub fn signature(&self, f: &Function, cx: &Cx, method: bool) -> Result<TokenStream, String> {
        let name = match f.kind {
            FunctionKind::Constructor(_) => snake("new"),
            _ => snake(f.item_name()),
        };
        let skip = usize::from(method);
        let params = f
            .params
            .iter()
            .skip(skip)
            .map(|p| {
                let name = snake(&p.name);
                let ty = self.param_ty(&p.ty, cx)?;
                Ok(quote!(#name: #ty))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let receiver = match (&f.kind, cx) {
            (
                FunctionKind::Freestanding
                | FunctionKind::AsyncFreestanding
                | FunctionKind::Method(_)
                | FunctionKind::AsyncMethod(_),
                _,
            ) => quote!(&self,),
            _ => quote!(),
        };
        let result = match (&f.kind, &f.result) {
            (FunctionKind::Constructor(_), _) => quote!(-> Self),
            (_, Some(t)) => {
                let t = self.rust_ty(t, cx)?;
                quote!(-> #t)
            }
            (_, None) => quote!(),
        };
        let doc = docs(&f.docs);
        Ok(quote!(#doc fn #name(#receiver #(#params),*) #result;))
    }

    fn resource_trait(&self, iface: InterfaceId, id: TypeId) -> Result<TokenStream, String> {
        let def = &self.resolve.types[id];
        let name = upper_camel(self.name_of(id));
        let cx = Cx::Resource(id);
        let funcs = self.resolve.interfaces[iface]
            .functions
            .values()
            .filter_map(|f| match f.kind {
                FunctionKind::Method(r) | FunctionKind::AsyncMethod(r) if r == id => {
                    Some(self.signature(f, &cx, true))
                }
                FunctionKind::Static(r)
                | FunctionKind::AsyncStatic(r)
                | FunctionKind::Constructor(r)
                    if r == id =>
                {
                    Some(self.signature(f, &cx, false))
                }
                _ => None,
            })
            .collect::<Result<Vec<_>, _>>()?;
        let doc = docs(&def.docs);
        Ok(quote! {
            #doc
            /// Implemented by the plugin's type for this resource (the `Interface`'s associated
            /// type); the host holds its objects by handle, and dropping the handle drops the
            /// object.
            pub trait #name: ::core::marker::Sized + ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#funcs)*
            }
        })
    }

    /// A named type: its Rust definition and `Wire` codec.
    fn type_def(&self, iface: InterfaceId, id: TypeId) -> Result<TokenStream, String> {
        let def = &self.resolve.types[id];
        let name = upper_camel(self.name_of(id));
        let doc = docs(&def.docs);
        let cx = Cx::Interface(iface);
        if self.has_resource(&Type::Id(id)) {
            return Err(self.resource_in_named_type(id));
        }
        Ok(match &def.kind {
            TypeDefKind::Record(r) => {
                let fields = r
                    .fields
                    .iter()
                    .map(|f| {
                        let name = snake(&f.name);
                        let ty = self.rust_ty(&f.ty, &cx)?;
                        let doc = docs(&f.docs);
                        Ok(quote!(#doc pub #name: #ty))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                let names: Vec<_> = r.fields.iter().map(|f| snake(&f.name)).collect();
                quote! {
                    #doc
                    #[derive(Debug, Clone, PartialEq)]
                    pub struct #name { #(#fields,)* }

                    impl ::manifold_plugin_sdk::bindings::Wire for #name {
                        fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                            #(::manifold_plugin_sdk::bindings::Wire::encode(&self.#names, out);)*
                        }
                        fn decode(r: &mut ::manifold_plugin_sdk::bindings::Reader<'_>) -> ::core::result::Result<Self, ::manifold_plugin_sdk::bindings::WireError> {
                            ::core::result::Result::Ok(#name { #(#names: ::manifold_plugin_sdk::bindings::Wire::decode(r)?,)* })
                        }
                    }
                }
            }
            TypeDefKind::Variant(v) => {
                let count = v.cases.len() as u32;
                let mut cases = Vec::new();
                let mut encodes = Vec::new();
                let mut decodes = Vec::new();
                for (index, case) in v.cases.iter().enumerate() {
                    let case_name = upper_camel(&case.name);
                    let case_doc = docs(&case.docs);
                    let index64 = index as u64;
                    let pattern = if index + 1 == v.cases.len() {
                        quote!(_)
                    } else {
                        let index = index as u32;
                        quote!(#index)
                    };
                    match &case.ty {
                        Some(t) => {
                            let t = self.rust_ty(t, &cx)?;
                            cases.push(quote!(#case_doc #case_name(#t)));
                            encodes.push(quote!(#name::#case_name(v) => {
                                ::manifold_plugin_sdk::bindings::put::uleb(out, #index64);
                                ::manifold_plugin_sdk::bindings::Wire::encode(v, out);
                            }));
                            decodes.push(quote!(#pattern => #name::#case_name(::manifold_plugin_sdk::bindings::Wire::decode(r)?)));
                        }
                        None => {
                            cases.push(quote!(#case_doc #case_name));
                            encodes.push(quote!(#name::#case_name => ::manifold_plugin_sdk::bindings::put::uleb(out, #index64)));
                            decodes.push(quote!(#pattern => #name::#case_name));
                        }
                    }
                }
                quote! {
                    #doc
                    #[derive(Debug, Clone, PartialEq)]
                    pub enum #name { #(#cases,)* }

                    impl ::manifold_plugin_sdk::bindings::Wire for #name {
                        fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                            match self { #(#encodes,)* }
                        }
                        fn decode(r: &mut ::manifold_plugin_sdk::bindings::Reader<'_>) -> ::core::result::Result<Self, ::manifold_plugin_sdk::bindings::WireError> {
                            ::core::result::Result::Ok(
                                match ::manifold_plugin_sdk::bindings::case(r, #count, "variant case")? {
                                    #(#decodes,)*
                                }
                            )
                        }
                    }
                }
            }
            TypeDefKind::Enum(e) => {
                let count = e.cases.len() as u32;
                let cases: Vec<_> = e.cases.iter().map(|c| upper_camel(&c.name)).collect();
                let case_docs: Vec<_> = e.cases.iter().map(|c| docs(&c.docs)).collect();
                let decodes = cases.iter().enumerate().map(|(index, case)| {
                    if index + 1 == cases.len() {
                        quote!(_ => #name::#case)
                    } else {
                        let index = index as u32;
                        quote!(#index => #name::#case)
                    }
                });
                quote! {
                    #doc
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
                    pub enum #name { #(#case_docs #cases,)* }

                    impl ::manifold_plugin_sdk::bindings::Wire for #name {
                        fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                            ::manifold_plugin_sdk::bindings::put::uleb(out, *self as u64);
                        }
                        fn decode(r: &mut ::manifold_plugin_sdk::bindings::Reader<'_>) -> ::core::result::Result<Self, ::manifold_plugin_sdk::bindings::WireError> {
                            ::core::result::Result::Ok(
                                match ::manifold_plugin_sdk::bindings::case(r, #count, "enum case")? {
                                    #(#decodes,)*
                                }
                            )
                        }
                    }
                }
            }
            TypeDefKind::Flags(f) => self.flags(&name, &doc, f)?,
            kind => {
                let ty = self.anonymous_ty(kind, &cx)?;
                quote!(#doc pub type #name = #ty;)
            }
        })
    }

    fn flags(
        &self,
        name: &syn::Ident,
        doc: &TokenStream,
        f: &wit_parser::Flags,
    ) -> Result<TokenStream, String> {
        let count = f.flags.len();
        if count > 64 {
            return Err(format!(
                "flags `{name}` has {count} flags; at most 64 are supported"
            ));
        }
        let consts = f.flags.iter().enumerate().map(|(i, flag)| {
            let c = shouty(&flag.name);
            let d = docs(&flag.docs);
            let bit = 1u64 << i;
            quote!(#d pub const #c: #name = #name { bits: #bit };)
        });
        let labels = f.flags.iter().enumerate().map(|(i, flag)| {
            let bit = 1u64 << i;
            let label = shouty(&flag.name).to_string();
            quote!((#bit, #label))
        });
        let all = if count == 64 {
            u64::MAX
        } else {
            (1u64 << count) - 1
        };
        Ok(quote! {
            #doc
            #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
            pub struct #name { bits: u64 }

            impl #name {
                #(#consts)*

                /// No flag set.
                pub const fn empty() -> Self { #name { bits: 0 } }
                /// Every flag set.
                pub const fn all() -> Self { #name { bits: #all } }
                /// Bit i is flag i, in the order of the WIT.
                pub const fn bits(self) -> u64 { self.bits }
                /// `None` if a bit names no flag.
                pub const fn from_bits(bits: u64) -> ::core::option::Option<Self> {
                    if bits & !#all == 0 { ::core::option::Option::Some(#name { bits }) } else { ::core::option::Option::None }
                }
                pub const fn is_empty(self) -> bool { self.bits == 0 }
                /// Whether every flag of `other` is set in `self`.
                pub const fn contains(self, other: Self) -> bool { self.bits & other.bits == other.bits }
                pub fn insert(&mut self, other: Self) { self.bits |= other.bits; }
                pub fn remove(&mut self, other: Self) { self.bits &= !other.bits; }
                pub fn toggle(&mut self, other: Self) { self.bits ^= other.bits; }
            }

            impl ::core::ops::BitOr for #name {
                type Output = Self;
                fn bitor(self, other: Self) -> Self { #name { bits: self.bits | other.bits } }
            }
            impl ::core::ops::BitOrAssign for #name {
                fn bitor_assign(&mut self, other: Self) { self.bits |= other.bits; }
            }
            impl ::core::ops::BitAnd for #name {
                type Output = Self;
                fn bitand(self, other: Self) -> Self { #name { bits: self.bits & other.bits } }
            }
            impl ::core::ops::BitXor for #name {
                type Output = Self;
                fn bitxor(self, other: Self) -> Self { #name { bits: self.bits ^ other.bits } }
            }
            impl ::core::ops::Sub for #name {
                type Output = Self;
                fn sub(self, other: Self) -> Self { #name { bits: self.bits & !other.bits } }
            }
            impl ::core::ops::Not for #name {
                type Output = Self;
                fn not(self) -> Self { #name { bits: !self.bits & #all } }
            }

            impl ::core::fmt::Debug for #name {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    let labels: &[(u64, &str)] = &[#(#labels),*];
                    let mut set = labels.iter().filter(|(bit, _)| self.bits & bit != 0).map(|(_, l)| *l);
                    f.write_str(::core::stringify!(#name))?;
                    f.write_str("(")?;
                    if let ::core::option::Option::Some(first) = set.next() {
                        f.write_str(first)?;
                        for label in set {
                            f.write_str(" | ")?;
                            f.write_str(label)?;
                        }
                    }
                    f.write_str(")")
                }
            }

            impl ::manifold_plugin_sdk::bindings::Wire for #name {
                fn encode(&self, out: &mut ::std::vec::Vec<u8>) {
                    ::manifold_plugin_sdk::bindings::put::flags(out, #count, (0..#count).filter(|i| self.bits & (1u64 << i) != 0));
                }
                fn decode(r: &mut ::manifold_plugin_sdk::bindings::Reader<'_>) -> ::core::result::Result<Self, ::manifold_plugin_sdk::bindings::WireError> {
                    ::core::result::Result::Ok(#name { bits: ::manifold_plugin_sdk::bindings::flags(r, #count)? })
                }
            }
        })
    }
}
