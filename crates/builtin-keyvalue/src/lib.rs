//! The built-in provider of `wasi:keyvalue` — `store`, `atomics` and `batch` — at both
//! `0.2.0-draft` (what Wasmtime and wasmCloud ship) and `0.2.0-draft2`, side by side, on an
//! embedded redb database file in the app's data directory or on any other [`Backend`]
//! (`manifold-keyvalue-redis`, `manifold-keyvalue-nats`).
//!
//! Deny by default: a component opens only the buckets it was granted (`open` of anything
//! else is `access-denied`; of a malformed identifier, `no-such-store`). Names are scoped per
//! app: bucket `b` of app `a` is table `a/b`, so two apps sharing a data directory never see
//! each other's keys. Both drafts see the same data: a bucket is a bucket, whichever draft a
//! component was built against.
//!
//! A storage failure reaches the guest as `error::other` and is logged; it never traps.
//! Where the drafts differ, see the `draft` and `draft2` modules.

pub mod backend;
mod draft;
mod draft2;
mod embedded;
mod host;
mod names;
mod wit;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};

pub use embedded::OpenError;
pub use names::{InvalidName, MAX_NAME_BYTES, ScopedBucket, check_bucket_name};

use backend::Backend;
use embedded::Store;
use host::{KvContext, KvData};
use names::check_app_name;

/// The first draft, as Wasmtime's `wasmtime-wasi-keyvalue` and wasmCloud ship it.
pub const DRAFT: &str = "0.2.0-draft";
/// The later draft, with compare-and-swap and string cursors.
pub const DRAFT2: &str = "0.2.0-draft2";
/// The database file in the data directory.
pub const DATABASE_FILE: &str = "keyvalue.redb";

/// Every interface served, in the order `names()` lists them: each of these at each draft.
const INTERFACES: [&str; 3] = ["store", "atomics", "batch"];

fn names() -> &'static [InterfaceName] {
    static NAMES: LazyLock<Vec<InterfaceName>> = LazyLock::new(|| {
        [DRAFT, DRAFT2]
            .iter()
            .flat_map(|version| {
                INTERFACES.iter().map(move |interface| {
                    let full = format!("wasi:keyvalue/{interface}@{version}");
                    full.parse()
                        .unwrap_or_else(|e| panic!("bad built-in name {full}: {e}"))
                })
            })
            .collect()
    });
    &NAMES
}

/// Why the provider could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum KeyValueError {
    #[error("the app name {name:?} cannot scope key-value buckets: {reason}")]
    AppName { name: String, reason: InvalidName },
    #[error(
        "key-value bucket {name:?} cannot be granted: {reason}; a bucket name is 1 to \
         {MAX_NAME_BYTES} bytes, without `/`, `\\` or control characters, and not `.` or `..`"
    )]
    BucketName { name: String, reason: InvalidName },
    #[error(transparent)]
    Open(#[from] OpenError),
    /// Another backend could not be set up (a bad URL, …).
    #[error(transparent)]
    Backend(Box<dyn std::error::Error + Send + Sync>),
}

/// The embedded backend of `data_dir` (`data_dir/keyvalue.redb`, shared by everything in this
/// process that names the same directory), with the tables of `scopes` created.
pub fn open_embedded(
    data_dir: &Path,
    scopes: &[ScopedBucket],
) -> Result<Arc<dyn Backend>, KeyValueError> {
    let store = Store::open(data_dir, DATABASE_FILE)?;
    store
        .create_tables(scopes)
        .map_err(|source| OpenError::Tables {
            path: data_dir.join(DATABASE_FILE),
            source,
        })?;
    Ok(Arc::new(store))
}

/// The `keyvalue` provider of one component.
pub struct KeyValueProvider {
    shared: Arc<Shared>,
}

/// What every instance of the component shares.
pub(crate) struct Shared {
    pub(crate) app: String,
    /// `None` when nothing is granted: no database is opened, or created, at all.
    pub(crate) backend: Option<Arc<dyn Backend>>,
    /// Granted bucket name → its table.
    pub(crate) granted: HashMap<String, ScopedBucket>,
}

impl KeyValueProvider {
    pub const NAME: &'static str = "keyvalue";

    /// A provider for a component of app `app` that was granted `buckets`, on the embedded
    /// backend. The database is `data_dir/keyvalue.redb`, created (with `data_dir`) on first
    /// use and shared by every provider in this process that names the same directory; with
    /// no buckets granted, nothing is opened or created.
    pub fn new(
        data_dir: &Path,
        app: &str,
        buckets: &[String],
    ) -> Result<KeyValueProvider, KeyValueError> {
        Self::with_backend(app, buckets, |scopes| open_embedded(data_dir, scopes))
    }

    /// A provider for a component of app `app` that was granted `buckets`, on the backend
    /// that `open` makes for the granted buckets; `open` is not called when nothing is
    /// granted.
    pub fn with_backend(
        app: &str,
        buckets: &[String],
        open: impl FnOnce(&[ScopedBucket]) -> Result<Arc<dyn Backend>, KeyValueError>,
    ) -> Result<KeyValueProvider, KeyValueError> {
        check_app_name(app).map_err(|reason| KeyValueError::AppName {
            name: app.to_owned(),
            reason,
        })?;
        let mut granted = HashMap::new();
        for bucket in buckets {
            check_bucket_name(bucket).map_err(|reason| KeyValueError::BucketName {
                name: bucket.clone(),
                reason,
            })?;
            granted.insert(bucket.clone(), ScopedBucket::new(app, bucket));
        }
        let backend = if granted.is_empty() {
            None
        } else {
            let scopes: Vec<ScopedBucket> = granted.values().cloned().collect();
            Some(open(&scopes)?)
        };
        Ok(KeyValueProvider {
            shared: Arc::new(Shared {
                app: app.to_owned(),
                backend,
                granted,
            }),
        })
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        names().to_vec()
    }

    /// The buckets this component may open, sorted.
    pub fn buckets(&self) -> Vec<&str> {
        let mut buckets: Vec<&str> = self.shared.granted.keys().map(String::as_str).collect();
        buckets.sort_unstable();
        buckets
    }
}

impl Provider for KeyValueProvider {
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
        let link: [LinkFn; 6] = [
            |l| draft::store::add_to_linker::<_, KvData>(l, host::view),
            |l| draft::atomics::add_to_linker::<_, KvData>(l, host::view),
            |l| draft::batch::add_to_linker::<_, KvData>(l, host::view),
            |l| draft2::store::add_to_linker::<_, KvData>(l, host::view),
            |l| draft2::atomics::add_to_linker::<_, KvData>(l, host::view),
            |l| draft2::batch::add_to_linker::<_, KvData>(l, host::view),
        ];
        for (name, link) in names().iter().zip(link) {
            if chosen.contains(name) {
                link(linker)?;
            }
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        state.extensions.insert(KvContext(self.shared.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
