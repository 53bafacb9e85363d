//! The generated `wasi:config/store` bindings, one module per version served, and their one
//! implementation over the values in an instance's extensions (and the shared source, if
//! there is one). The versions differ only in their package's version, so each module's
//! `Host` hands the call to [`ConfigView::lookup`] or [`ConfigView::lookup_all`] and turns
//! an [`Upstream`] failure into that version's `error::upstream`.

use std::sync::Arc;

use crate::Values;

use manifold_provider::{InstanceState, Linker};
use wasmtime::component::HasData;

/// Generates module `$module` with the bindings of `wasi:config@$version` (WIT in `$path`),
/// its `Host` over [`ConfigView`], and `add_to_linker`.
macro_rules! store_version {
    ($module:ident, $version:literal, $path:literal) => {
        pub(crate) mod $module {
            mod bindings {
                wasmtime::component::bindgen!({
                    path: $path,
                    world: "wasi:config/imports",
                    // Not `tracing`: it would log the values `get` returns, which may be
                    // secrets.
                    imports: { default: async | trappable },
                });
            }

            pub(crate) use bindings::wasi::config::store;

            use super::{ConfigView, Upstream};

            pub(crate) const VERSION: &str = $version;

            type Outcome<T> = wasmtime::Result<Result<T, store::Error>>;

            impl From<Upstream> for store::Error {
                fn from(Upstream(message): Upstream) -> store::Error {
                    store::Error::Upstream(message)
                }
            }

            impl store::Host for ConfigView<'_> {
                async fn get(&mut self, key: String) -> Outcome<Option<String>> {
                    Ok(self.lookup(key).await?.map_err(store::Error::from))
                }

                async fn get_all(&mut self) -> Outcome<Vec<(String, String)>> {
                    Ok(self.lookup_all().await?.map_err(store::Error::from))
                }
            }

            pub(crate) fn add_to_linker(linker: &mut super::Linker) -> wasmtime::Result<()> {
                store::add_to_linker::<_, super::ConfigData>(linker, super::view)
            }
        }
    };
}

store_version!(draft, "0.2.0-draft", "../../wit/deps/config-0.2.0-draft");
store_version!(rc1, "0.2.0-rc.1", "../../wit/deps/config-0.2.0-rc.1");
store_version!(
    draft_2024_09_27,
    "0.2.0-draft-2024-09-27",
    "../../wit/deps/config-0.2.0-draft-2024-09-27"
);

/// Links one version's `store`.
pub(crate) type LinkFn = fn(&mut Linker) -> wasmtime::Result<()>;

/// Every version served, with what links it: the proposal's tagged draft, what
/// `wasmtime serve -S config` serves, and what Spin 4 imports.
pub(crate) const VERSIONS: &[(&str, LinkFn)] = &[
    (draft::VERSION, draft::add_to_linker),
    (rc1::VERSION, rc1::add_to_linker),
    (draft_2024_09_27::VERSION, draft_2024_09_27::add_to_linker),
];

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

/// A failure of the config source, already logged: the guest's `error::upstream`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Upstream(pub(crate) String);

type Outcome<T> = wasmtime::Result<Result<T, Upstream>>;

/// A failed source, logged, as the guest's `error::upstream`.
fn upstream(source: &dyn crate::ConfigSource, op: &str, message: String) -> Upstream {
    tracing::error!(op, source = source.describe(), error = %message, "wasi:config source failure");
    Upstream(format!("{op} failed in the config source: {message}"))
}

impl ConfigView<'_> {
    fn values(&self) -> wasmtime::Result<Arc<Values>> {
        match self.values {
            Some(values) => Ok(values.clone()),
            None => wasmtime::bail!("the config provider did not prepare this instance"),
        }
    }

    /// `get`: the source's value unless the deployment pinned the key, else the resolved one.
    pub(crate) async fn lookup(&self, key: String) -> Outcome<Option<String>> {
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

    /// `get-all`: the resolved values with the source's over those not pinned, by key.
    pub(crate) async fn lookup_all(&self) -> Outcome<Vec<(String, String)>> {
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
