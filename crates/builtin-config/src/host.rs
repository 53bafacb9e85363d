//! The generated `wasi:config/store` bindings and their implementation over the values in an
//! instance's extensions (and the shared source, if there is one).

use std::sync::Arc;

use crate::Values;

use manifold_provider::InstanceState;
use wasmtime::component::HasData;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/config-0.2.0-draft",
        world: "wasi:config/imports",
        // Not `tracing`: it would log the values `get` returns, which may be secrets.
        imports: { default: async | trappable },
    });
}

pub(crate) use bindings::wasi::config::store;

/// This provider's slot in `InstanceState::extensions`.
pub(crate) struct ConfigContext(pub(crate) Arc<Values>);

/// What a host function works with: the component's values, if the provider prepared the
/// instance.
pub(crate) struct ConfigView<'a> {
    values: Option<&'a Arc<Values>>,
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
            .map(|context| &context.0),
    }
}

impl ConfigView<'_> {
    fn values(&self) -> wasmtime::Result<Arc<Values>> {
        match self.values {
            Some(values) => Ok(values.clone()),
            None => wasmtime::bail!("the config provider did not prepare this instance"),
        }
    }
}

type Outcome<T> = wasmtime::Result<Result<T, store::Error>>;

/// A failed source, logged, as the guest's `error::upstream`.
fn upstream(source: &dyn crate::ConfigSource, op: &str, message: String) -> store::Error {
    tracing::error!(op, source = source.describe(), error = %message, "wasi:config source failure");
    store::Error::Upstream(format!("{op} failed in the config source: {message}"))
}

impl store::Host for ConfigView<'_> {
    async fn get(&mut self, key: String) -> Outcome<Option<String>> {
        let values = self.values()?;
        let from_source = match &values.source {
            Some(source) if !values.pinned.contains(&key) => match source.get(&key).await {
                Ok(value) => value,
                Err(message) => return Ok(Err(upstream(&**source, "get", message))),
            },
            _ => None,
        };
        let value = from_source.or_else(|| values.resolved.get(&key).cloned());
        tracing::trace!(key, found = value.is_some(), "wasi:config get");
        Ok(Ok(value))
    }

    async fn get_all(&mut self) -> Outcome<Vec<(String, String)>> {
        let values = self.values()?;
        let mut all = values.resolved.clone();
        if let Some(source) = &values.source {
            match source.get_all().await {
                Ok(shared) => all.extend(
                    shared
                        .into_iter()
                        .filter(|(key, _)| !values.pinned.contains(key)),
                ),
                Err(message) => return Ok(Err(upstream(&**source, "get-all", message))),
            }
        }
        tracing::trace!(count = all.len(), "wasi:config get-all");
        Ok(Ok(all.into_iter().collect()))
    }
}
