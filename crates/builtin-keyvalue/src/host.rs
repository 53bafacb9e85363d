//! What the bindings of both drafts share: the per-instance view they are handed, the `bucket`
//! resource, `open` with its grant check, calling the [`Backend`], and turning a storage
//! failure into the guest's `error` value (with a log line) instead of a trap.

use std::sync::Arc;

use manifold_provider::InstanceState;
use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::Shared;
use crate::backend::{Backend, BackendError, BackendResult, BoxFuture};
use crate::names::{ScopedBucket, check_bucket_name};

/// This provider's slot in `InstanceState::extensions`.
pub(crate) struct KvContext(pub(crate) Arc<Shared>);

/// What a host function of either draft works with.
pub(crate) struct KvView<'a> {
    pub(crate) table: &'a mut ResourceTable,
    shared: Option<&'a Shared>,
}

/// Plumbs [`KvView`] into the generated `add_to_linker` functions.
pub(crate) struct KvData;

impl HasData for KvData {
    type Data<'a> = KvView<'a>;
}

/// The getter every generated `add_to_linker` is given.
pub(crate) fn view(state: &mut InstanceState) -> KvView<'_> {
    let InstanceState {
        table, extensions, ..
    } = state;
    KvView {
        table,
        shared: extensions.get_mut::<KvContext>().map(|c| &*c.0),
    }
}

/// An open bucket: what both drafts' `bucket` resource holds.
#[derive(Clone)]
pub struct OpenBucket {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) scope: ScopedBucket,
}

impl OpenBucket {
    /// Runs one backend operation on this bucket and lifts its result into the guest's
    /// `result<T, error>`.
    pub(crate) async fn run<'a, T>(
        &'a self,
        op: &'static str,
        work: impl FnOnce(&'a dyn Backend, &'a ScopedBucket) -> BoxFuture<'a, BackendResult<T>>,
    ) -> Result<T, GuestError> {
        let result = work(&*self.backend, &self.scope).await;
        to_guest(op, self, result)
    }
}

/// The three cases of the `error` variant, which both drafts define alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GuestError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl KvView<'_> {
    /// `open`: a well-formed identifier that the component was granted becomes a bucket;
    /// a malformed one is `no-such-store` (no such bucket can exist), a well-formed one that
    /// was not granted is `access-denied`.
    pub(crate) fn open(
        &mut self,
        identifier: &str,
    ) -> wasmtime::Result<Result<Resource<OpenBucket>, GuestError>> {
        let Some(shared) = self.shared else {
            wasmtime::bail!("the key-value provider did not prepare this instance");
        };
        if let Err(reason) = check_bucket_name(identifier) {
            if let Some(also) =
                manifold_provider::log_throttle::throttled("keyvalue-open-invalid", &shared.app)
            {
                tracing::info!(
                    app = %shared.app, identifier = %identifier.escape_debug(), %reason,
                    also_refused = also, "wasi:keyvalue open refused: not a valid bucket name"
                );
            }
            return Ok(Err(GuestError::NoSuchStore));
        }
        let (Some(backend), Some(scope)) = (&shared.backend, shared.granted.get(identifier)) else {
            if let Some(also) =
                manifold_provider::log_throttle::throttled("keyvalue-open-denied", &shared.app)
            {
                tracing::info!(
                    app = %shared.app, bucket = %identifier.escape_debug(), also_refused = also,
                    "wasi:keyvalue open refused: the bucket is not granted to this component"
                );
            }
            return Ok(Err(GuestError::AccessDenied));
        };
        let bucket = OpenBucket {
            backend: backend.clone(),
            scope: scope.clone(),
        };
        match self.table.push(bucket) {
            Ok(handle) => Ok(Ok(handle)),
            Err(err) => {
                tracing::warn!(app = %shared.app, bucket = identifier, %err, "wasi:keyvalue open failed");
                Ok(Err(GuestError::Other(format!(
                    "cannot open the bucket: {err}"
                ))))
            }
        }
    }

    pub(crate) fn bucket(&self, handle: &Resource<OpenBucket>) -> wasmtime::Result<&OpenBucket> {
        Ok(self.table.get(handle)?)
    }

    pub(crate) fn drop_bucket(&mut self, handle: Resource<OpenBucket>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

/// The guest's view of a failed operation, logged: a storage failure as an error (an
/// operator must look), a guest's own mistake (incrementing a non-number) at debug level.
/// The guest is told what failed, never how: the detail (host paths, server addresses) is
/// the operator's and stays in the log.
fn guest_error(op: &'static str, bucket: &OpenBucket, err: BackendError) -> GuestError {
    failure(op, bucket.backend.kind(), &bucket.scope, err)
}

fn failure(
    op: &'static str,
    backend: &'static str,
    scope: &ScopedBucket,
    err: BackendError,
) -> GuestError {
    if err.is_guest_error() {
        tracing::debug!(op, backend, bucket = %scope, error = %err, "wasi:keyvalue operation refused");
        return GuestError::Other(err.to_string());
    }
    tracing::error!(op, backend, bucket = %scope, error = %err, "wasi:keyvalue storage failure");
    storage_failure_message(op, scope.bucket(), backend)
}

fn storage_failure_message(op: &str, bucket: &str, backend: &str) -> GuestError {
    GuestError::Other(format!(
        "{op} on bucket `{bucket}` failed in the {backend} key-value storage (the host's log \
         has the details)"
    ))
}

/// Lifts a backend result into the guest's `result<T, error>`.
pub(crate) fn to_guest<T>(
    op: &'static str,
    bucket: &OpenBucket,
    result: BackendResult<T>,
) -> Result<T, GuestError> {
    result.map_err(|err| guest_error(op, bucket, err))
}

/// Implements, for one draft's generated bindings, everything the two drafts spell alike:
/// the `error` conversion, `open`, the `bucket` methods (`list-keys` through the draft's own
/// `list_keys_page`, since the cursor types differ), and `batch`. Expanded in each draft's
/// module, where `store` and `batch` name that draft's generated interfaces.
macro_rules! common_bindings {
    (cursor: $cursor:ty) => {
        type Outcome<T> = wasmtime::Result<Result<T, store::Error>>;

        impl From<$crate::host::GuestError> for store::Error {
            fn from(err: $crate::host::GuestError) -> store::Error {
                use $crate::host::GuestError;
                match err {
                    GuestError::NoSuchStore => store::Error::NoSuchStore,
                    GuestError::AccessDenied => store::Error::AccessDenied,
                    GuestError::Other(message) => store::Error::Other(message),
                }
            }
        }

        fn lift<T>(result: Result<T, $crate::host::GuestError>) -> Result<T, store::Error> {
            result.map_err(store::Error::from)
        }

        impl store::Host for $crate::host::KvView<'_> {
            async fn open(
                &mut self,
                identifier: String,
            ) -> Outcome<wasmtime::component::Resource<$crate::host::OpenBucket>> {
                Ok(lift($crate::host::KvView::open(self, &identifier)?))
            }
        }

        impl store::HostBucket for $crate::host::KvView<'_> {
            async fn get(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                key: String,
            ) -> Outcome<Option<Vec<u8>>> {
                Ok(lift(
                    self.bucket(&bucket)?
                        .run("get", |s, t| s.get(t, &key))
                        .await,
                ))
            }

            async fn set(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                key: String,
                value: Vec<u8>,
            ) -> Outcome<()> {
                let bucket = self.bucket(&bucket)?.clone();
                Ok(lift(bucket.run("set", |s, t| s.set(t, &key, &value)).await))
            }

            async fn delete(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                key: String,
            ) -> Outcome<()> {
                let bucket = self.bucket(&bucket)?.clone();
                Ok(lift(bucket.run("delete", |s, t| s.delete(t, &key)).await))
            }

            async fn exists(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                key: String,
            ) -> Outcome<bool> {
                Ok(lift(
                    self.bucket(&bucket)?
                        .run("exists", |s, t| s.exists(t, &key))
                        .await,
                ))
            }

            async fn list_keys(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                cursor: Option<$cursor>,
            ) -> Outcome<store::KeyResponse> {
                Ok(lift(list_keys_page(self.bucket(&bucket)?, cursor).await))
            }

            async fn drop(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
            ) -> wasmtime::Result<()> {
                self.drop_bucket(bucket)
            }
        }

        impl batch::Host for $crate::host::KvView<'_> {
            async fn get_many(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                keys: Vec<String>,
            ) -> Outcome<Vec<Option<(String, Vec<u8>)>>> {
                Ok(lift(
                    self.bucket(&bucket)?
                        .run("get-many", |s, t| s.get_many(t, &keys))
                        .await,
                ))
            }

            async fn set_many(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                key_values: Vec<(String, Vec<u8>)>,
            ) -> Outcome<()> {
                let bucket = self.bucket(&bucket)?.clone();
                Ok(lift(
                    bucket
                        .run("set-many", |s, t| s.set_many(t, &key_values))
                        .await,
                ))
            }

            async fn delete_many(
                &mut self,
                bucket: wasmtime::component::Resource<$crate::host::OpenBucket>,
                keys: Vec<String>,
            ) -> Outcome<()> {
                let bucket = self.bucket(&bucket)?.clone();
                Ok(lift(
                    bucket
                        .run("delete-many", |s, t| s.delete_many(t, &keys))
                        .await,
                ))
            }
        }
    };
}

pub(crate) use common_bindings;

#[cfg(test)]
mod guest_error_tests {
    use super::*;

    #[test]
    fn a_storage_failure_tells_the_guest_what_failed_but_not_the_host_paths() {
        let scope = ScopedBucket::checked("app", "cache").unwrap();
        let err = BackendError::storage("cannot open /srv/secret/data/kv.redb: Permission denied");
        let GuestError::Other(message) = failure("set", "embedded", &scope, err) else {
            panic!("not `other`");
        };
        assert!(
            message.contains("set on bucket `cache` failed"),
            "{message}"
        );
        assert!(!message.contains("/srv/secret"), "{message}");
    }
}
