//! The built-in provider of `wasi:blobstore@0.2.0-draft` — `blobstore`, `container`,
//! `types` — on an embedded directory tree in the app's data directory or on any other
//! [`Backend`].
//!
//! Deny by default: a component reaches only the containers its manifest grants (any other
//! name is an `access denied` error, a malformed one an `invalid container name` error, and
//! neither touches storage). Names are scoped per app: container `c` of app `a` is stored
//! under `a`, so two apps sharing a data directory never see each other's objects.
//!
//! Objects are streamed both ways (`wasi:io` streams, never whole-object buffers), and a
//! written object becomes visible only at `outgoing-value.finish`, whole and durable (see
//! [`backend`]). [`BlobLimits`] bound what a guest writes: an object past `max-object-size`
//! is refused as it streams (on any backend), and the embedded backend keeps each app within
//! its `blob-quota`. Every failure reaches the guest as the interface's `error` string, with a
//! log line; none traps the host. Where the draft leaves room, see `host.rs` and `value.rs`.

pub mod backend;
mod embedded;
mod host;
mod names;
mod value;
mod wit;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};

pub use embedded::{BLOBSTORE_DIR, Embedded, OpenError};
pub use names::{
    InvalidName, MAX_NAME_BYTES, ScopedContainer, check_container_name, check_object_name,
};

use backend::Backend;
use host::{BlobContext, BlobData};
use names::check_app_name;

/// The draft served, as Wasmtime-based hosts (wasmCloud) ship it.
pub const DRAFT: &str = "0.2.0-draft";

/// Every interface served, in the order `names()` lists them.
const INTERFACES: [&str; 3] = ["blobstore", "container", "types"];

fn names() -> &'static [InterfaceName] {
    static NAMES: LazyLock<Vec<InterfaceName>> = LazyLock::new(|| {
        INTERFACES
            .iter()
            .map(|interface| {
                let full = format!("wasi:blobstore/{interface}@{DRAFT}");
                full.parse()
                    .unwrap_or_else(|e| panic!("bad built-in name {full}: {e}"))
            })
            .collect()
    });
    &NAMES
}

/// Why the provider could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum BlobstoreError {
    #[error("the app name {name:?} cannot scope blob containers: {reason}")]
    AppName { name: String, reason: InvalidName },
    #[error(
        "blob container {name:?} cannot be granted: {reason}; a container name is 1 to \
         {MAX_NAME_BYTES} bytes, without `/`, `\\` or control characters, and not `.` or `..`"
    )]
    ContainerName { name: String, reason: InvalidName },
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Another backend could not be set up.
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// Bounds on what the guests of an app write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlobLimits {
    /// The largest object, in bytes, on any backend; `None`: no limit.
    pub max_object_size: Option<u64>,
    /// The most bytes of objects the app keeps in the embedded backend (objects being written
    /// included); `None`: no limit. Other backends keep their own limits.
    pub quota: Option<u64>,
}

/// The `blobstore` provider of one component.
pub struct BlobstoreProvider {
    shared: Arc<Shared>,
}

/// What every instance of the component shares.
pub(crate) struct Shared {
    pub(crate) app: String,
    /// `None` when nothing is granted: no directory is created at all.
    pub(crate) backend: Option<Arc<dyn Backend>>,
    /// Granted container name → its scope.
    pub(crate) granted: HashMap<String, ScopedContainer>,
    /// The largest object a guest may write; `None`: no limit.
    pub(crate) max_object_size: Option<u64>,
}

impl BlobstoreProvider {
    pub const NAME: &'static str = "blobstore";

    /// A provider for a component of app `app` that was granted `containers`, on the
    /// embedded backend in `data_dir/blobstore/` (which locks `data_dir` for this process);
    /// with nothing granted, nothing is created.
    pub fn new(
        data_dir: &Path,
        app: &str,
        containers: &[String],
        limits: BlobLimits,
    ) -> Result<BlobstoreProvider, BlobstoreError> {
        Self::with_backend(app, containers, limits.max_object_size, || {
            Ok(Arc::new(Embedded::open(data_dir, limits.quota)?))
        })
    }

    /// A provider for a component of app `app` that was granted `containers`, on the
    /// backend `open` makes, refusing objects over `max_object_size` bytes; `open` is not
    /// called when nothing is granted.
    pub fn with_backend(
        app: &str,
        containers: &[String],
        max_object_size: Option<u64>,
        open: impl FnOnce() -> Result<Arc<dyn Backend>, BlobstoreError>,
    ) -> Result<BlobstoreProvider, BlobstoreError> {
        check_app_name(app).map_err(|reason| BlobstoreError::AppName {
            name: app.to_owned(),
            reason,
        })?;
        let mut granted = HashMap::new();
        for container in containers {
            let scope = ScopedContainer::checked(app, container).map_err(|reason| {
                BlobstoreError::ContainerName {
                    name: container.clone(),
                    reason,
                }
            })?;
            granted.insert(container.clone(), scope);
        }
        let backend = if granted.is_empty() {
            None
        } else {
            Some(open()?)
        };
        Ok(BlobstoreProvider {
            shared: Arc::new(Shared {
                app: app.to_owned(),
                backend,
                granted,
                max_object_size,
            }),
        })
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        names().to_vec()
    }

    /// The containers this component may use, sorted.
    pub fn containers(&self) -> Vec<&str> {
        let mut containers: Vec<&str> = self.shared.granted.keys().map(String::as_str).collect();
        containers.sort_unstable();
        containers
    }
}

impl Provider for BlobstoreProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn interfaces(&self) -> &[InterfaceName] {
        names()
    }

    fn wit(&self) -> Option<Arc<wit_parser::Resolve>> {
        Some(wit::shared())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        type LinkFn = fn(&mut Linker) -> wasmtime::Result<()>;
        // In the order of `names()`.
        let link: [LinkFn; 3] = [
            |l| host::blobstore::add_to_linker::<_, BlobData>(l, host::view),
            |l| host::container::add_to_linker::<_, BlobData>(l, host::view),
            |l| host::types::add_to_linker::<_, BlobData>(l, host::view),
        ];
        for (name, link) in names().iter().zip(link) {
            if chosen.contains(name) {
                link(linker)?;
            }
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        state.extensions.insert(BlobContext(self.shared.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
