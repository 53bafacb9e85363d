//! `generate!`: typed Rust bindings for a Manifold plugin from its WIT, re-exported and
//! documented as `manifold_plugin_sdk::generate!`. This crate is the entry point only: the
//! work is `manifold_plugin_sdk_gen::expand`, a plain function (unit-tested there), whose
//! naming and type mapping `manifold plugin new` reuses.

use std::path::PathBuf;

use manifold_plugin_sdk_gen::expand;

/// Bindings for the WIT file at the given path, relative to the crate's `Cargo.toml`:
/// `generate!("wit/billing.wit");`. See `manifold_plugin_sdk::generate!`.
#[proc_macro]
pub fn generate(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let path = syn::parse_macro_input!(input as syn::LitStr);
    let base = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let file = match base {
        Some(base) => base.join(path.value()),
        None => PathBuf::from(path.value()),
    };
    match expand(&file) {
        Ok(tokens) => tokens.into(),
        Err(message) => syn::Error::new(path.span(), message)
            .to_compile_error()
            .into(),
    }
}
