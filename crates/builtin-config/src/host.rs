//! The generated `wasi:config/store` bindings and their implementation over the values in an
//! instance's extensions.

use std::collections::BTreeMap;
use std::sync::Arc;

use manifold_provider::InstanceState;
use wasmtime::component::HasData;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config-0.2.0-draft",
        world: "wasi:config/imports",
        // Not `tracing`: it would log the values `get` returns, which may be secrets.
        imports: { default: trappable },
    });
}

pub(crate) use bindings::wasi::config::store;

/// This provider's slot in `InstanceState::extensions`.
pub(crate) struct ConfigContext(pub(crate) Arc<BTreeMap<String, String>>);

/// What a host function works with: the component's values, if the provider prepared the
/// instance.
pub(crate) struct ConfigView<'a> {
    values: Option<&'a BTreeMap<String, String>>,
}

/// Plumbs [`ConfigView`] into the generated `add_to_linker`.
pub(crate) struct ConfigData;

impl HasData for ConfigData {
    type Data<'a> = ConfigView<'a>;
}

/// The getter the generated `add_to_linker` is given.
pub(crate) fn view(state: &mut InstanceState) -> ConfigView<'_> {
    ConfigView {
        values: state
            .extensions
            .get_mut::<ConfigContext>()
            .map(|context| &*context.0),
    }
}

impl ConfigView<'_> {
    fn values(&self) -> wasmtime::Result<&BTreeMap<String, String>> {
        match self.values {
            Some(values) => Ok(values),
            None => wasmtime::bail!("the config provider did not prepare this instance"),
        }
    }
}

type Outcome<T> = wasmtime::Result<Result<T, store::Error>>;

impl store::Host for ConfigView<'_> {
    fn get(&mut self, key: String) -> Outcome<Option<String>> {
        let value = self.values()?.get(&key).cloned();
        tracing::trace!(key, found = value.is_some(), "wasi:config get");
        Ok(Ok(value))
    }

    fn get_all(&mut self) -> Outcome<Vec<(String, String)>> {
        let values = self.values()?;
        tracing::trace!(count = values.len(), "wasi:config get-all");
        Ok(Ok(values
            .iter()
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect()))
    }
}
