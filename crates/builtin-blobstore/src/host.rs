//! The bindings of `wasi:blobstore@0.2.0-draft` (WIT: `wit/deps/blobstore-0.2.0-draft/`):
//! the per-instance view, the grant check, the `blobstore` functions and the `container`
//! and `stream-object-names` resources. The values (`outgoing-value`, `incoming-value`) are
//! in `value.rs`.
//!
//! Where the draft leaves room, this is what we do:
//! - A grant lets a component use a container name; the container exists once created
//!   (`create-container`, an error if it exists), until deleted. Every function that names a
//!   container not granted fails with `access denied: …`, whether or not it exists.
//! - `container-exists` of a granted name is `ok(false)` until it is created.
//! - `has-object` of a missing object is `ok(false)`; `object-info` of one is an error.
//! - `copy-object` and `move-object` need both containers granted and existing; the
//!   destination is replaced, and appears whole at once.
//! - `read-stream-object-names(len)` returns at most 10 000 names per call (ask again for
//!   more); the flag is `true` once no names are left.
//! - `delete-objects` checks every name first: one bad name deletes nothing.
//! - Timestamps (`created-at`) are seconds since the Unix epoch; an object's is the time
//!   this version of it was written.

use std::collections::VecDeque;
use std::sync::Arc;

use manifold_provider::InstanceState;
use wasmtime::component::{HasData, Resource, ResourceTable};

use crate::Shared;
use crate::backend::{Backend, BackendError, ObjectNames, ScopedContainer};
use crate::names::{check_container_name, check_object_name};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/blobstore-0.2.0-draft",
        world: "wasi:blobstore/imports",
        imports: { default: async | trappable | tracing },
        with: {
            "wasi:io": wasmtime_wasi::p2::bindings::io,
            "wasi:blobstore/container.container": crate::host::OpenContainer,
            "wasi:blobstore/container.stream-object-names": crate::host::NameStream,
            "wasi:blobstore/types.outgoing-value": crate::value::OutgoingValue,
            "wasi:blobstore/types.incoming-value": crate::value::IncomingValue,
        },
    });
}

pub(crate) use bindings::wasi::blobstore::{blobstore, container, types};

/// What a host function returns: a trap (a host bug, a bad handle) or the guest's result.
pub(crate) type Outcome<T> = wasmtime::Result<Result<T, String>>;

/// The most names one `read-stream-object-names` call returns.
const MAX_NAMES_PER_READ: usize = 10_000;

/// This provider's slot in `InstanceState::extensions`.
pub(crate) struct BlobContext(pub(crate) Arc<Shared>);

/// What a host function works with.
pub(crate) struct BlobView<'a> {
    pub(crate) table: &'a mut ResourceTable,
    shared: Option<&'a Shared>,
}

/// Plumbs [`BlobView`] into the generated `add_to_linker` functions.
pub(crate) struct BlobData;

impl HasData for BlobData {
    type Data<'a> = BlobView<'a>;
}

/// The getter every generated `add_to_linker` is given.
pub(crate) fn view(state: &mut InstanceState) -> BlobView<'_> {
    let InstanceState {
        table, extensions, ..
    } = state;
    BlobView {
        table,
        shared: extensions.get_mut::<BlobContext>().map(|c| &*c.0),
    }
}

/// A container the guest holds: what the `container` resource is.
#[derive(Clone)]
pub struct OpenContainer {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) scope: ScopedContainer,
}

/// A listing in progress: the `stream-object-names` resource.
pub struct NameStream {
    /// The backend's kind, for log lines.
    kind: &'static str,
    names: Box<dyn ObjectNames>,
    buffered: VecDeque<String>,
    ended: bool,
}

impl NameStream {
    /// Buffers names until there are more than `want` or the listing ends.
    async fn fill(&mut self, want: usize) -> Result<(), BackendError> {
        while self.buffered.len() <= want && !self.ended {
            let batch = self
                .names
                .next_batch(want + 1 - self.buffered.len())
                .await?;
            if batch.is_empty() {
                self.ended = true;
            }
            self.buffered.extend(batch);
        }
        Ok(())
    }

    /// Takes up to `len` names; `true` if none are left after them.
    async fn take(&mut self, len: u64) -> Result<(Vec<String>, bool), BackendError> {
        let len = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(MAX_NAMES_PER_READ);
        self.fill(len).await?;
        let names: Vec<String> = self
            .buffered
            .drain(..len.min(self.buffered.len()))
            .collect();
        Ok((names, self.ended && self.buffered.is_empty()))
    }
}

/// The guest's error string for a failed backend operation, logged: a storage failure as an
/// error (an operator must look), a guest's own mistake at debug level. The guest is told
/// what failed, never how: the detail (host paths, server addresses) stays in the log.
pub(crate) fn guest_error(op: &'static str, kind: &'static str, err: BackendError) -> String {
    if let BackendError::QuotaExceeded { quota, .. } = &err {
        // The operator may want to raise it: said, but not once per refused write.
        if let Some(also) = manifold_provider::log_throttle::throttled("blobstore-quota", kind) {
            tracing::warn!(
                op,
                backend = kind,
                quota,
                also_refused = also,
                "wasi:blobstore refused a write: the app's blob-quota is used up"
            );
        }
        return err.to_string();
    }
    if err.is_guest_error() {
        tracing::debug!(op, backend = kind, error = %err, "wasi:blobstore operation refused");
        return err.to_string();
    }
    tracing::error!(op, backend = kind, error = %err, "wasi:blobstore storage failure");
    format!("{op} failed in the {kind} blob storage (the host's log has the details)")
}

impl BlobView<'_> {
    pub(crate) fn shared(&self) -> wasmtime::Result<&Shared> {
        match self.shared {
            Some(shared) => Ok(shared),
            None => wasmtime::bail!("the blobstore provider did not prepare this instance"),
        }
    }

    /// The container `name` if the component was granted it: a malformed name or one not
    /// granted is the guest's error, and reaches no storage.
    fn grant(
        &self,
        op: &'static str,
        name: &str,
    ) -> wasmtime::Result<Result<OpenContainer, String>> {
        let shared = self.shared()?;
        if let Err(reason) = check_container_name(name) {
            if let Some(also) =
                manifold_provider::log_throttle::throttled("blobstore-invalid", &shared.app)
            {
                tracing::info!(
                    op, app = %shared.app, container = %name.escape_debug(), %reason,
                    also_refused = also, "wasi:blobstore refused: not a valid container name"
                );
            }
            return Ok(Err(format!(
                "invalid container name {:?}: {reason}",
                name.escape_debug().to_string()
            )));
        }
        let (Some(backend), Some(scope)) = (&shared.backend, shared.granted.get(name)) else {
            if let Some(also) =
                manifold_provider::log_throttle::throttled("blobstore-denied", &shared.app)
            {
                tracing::info!(
                    op, app = %shared.app, container = %name.escape_debug(), also_refused = also,
                    "wasi:blobstore refused: the container is not granted to this component"
                );
            }
            return Ok(Err(format!(
                "access denied: container `{name}` is not granted to this component"
            )));
        };
        Ok(Ok(OpenContainer {
            backend: backend.clone(),
            scope: scope.clone(),
        }))
    }

    fn open(&self, handle: &Resource<OpenContainer>) -> wasmtime::Result<OpenContainer> {
        Ok(self.table.get(handle)?.clone())
    }

    fn push<T: Send + 'static>(&mut self, value: T) -> Result<Resource<T>, String> {
        self.table.push(value).map_err(|err| {
            tracing::warn!(%err, "wasi:blobstore refused: the resource table is full");
            format!("cannot make a handle: {err}")
        })
    }
}

/// Checks an object name, as the guest's error.
fn object_name(name: &str) -> Result<(), String> {
    check_object_name(name).map_err(|reason| {
        format!(
            "invalid object name {:?}: {reason}",
            name.escape_debug().to_string()
        )
    })
}

/// Returns the guest's error from the enclosing host function.
macro_rules! guest_try {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(err) => return Ok(Err(err)),
        }
    };
}

pub(crate) use guest_try;

impl blobstore::Host for BlobView<'_> {
    async fn create_container(&mut self, name: String) -> Outcome<Resource<OpenContainer>> {
        let c = guest_try!(self.grant("create-container", &name)?);
        let result = c.backend.create_container(&c.scope).await;
        guest_try!(result.map_err(|e| guest_error("create-container", c.backend.kind(), e)));
        Ok(self.push(c))
    }

    async fn get_container(&mut self, name: String) -> Outcome<Resource<OpenContainer>> {
        let c = guest_try!(self.grant("get-container", &name)?);
        let result = c.backend.container_info(&c.scope).await;
        guest_try!(result.map_err(|e| guest_error("get-container", c.backend.kind(), e)));
        Ok(self.push(c))
    }

    async fn delete_container(&mut self, name: String) -> Outcome<()> {
        let c = guest_try!(self.grant("delete-container", &name)?);
        let result = c.backend.delete_container(&c.scope).await;
        Ok(result.map_err(|e| guest_error("delete-container", c.backend.kind(), e)))
    }

    async fn container_exists(&mut self, name: String) -> Outcome<bool> {
        let c = guest_try!(self.grant("container-exists", &name)?);
        Ok(match c.backend.container_info(&c.scope).await {
            Ok(_) => Ok(true),
            Err(BackendError::NoSuchContainer(_)) => Ok(false),
            Err(e) => Err(guest_error("container-exists", c.backend.kind(), e)),
        })
    }

    async fn copy_object(
        &mut self,
        src: blobstore::ObjectId,
        dest: blobstore::ObjectId,
    ) -> Outcome<()> {
        let (from, to) = guest_try!(self.two_objects("copy-object", &src, &dest)?);
        let result = from
            .backend
            .copy_object((&from.scope, &src.object), (&to.scope, &dest.object))
            .await;
        Ok(result.map_err(|e| guest_error("copy-object", from.backend.kind(), e)))
    }

    async fn move_object(
        &mut self,
        src: blobstore::ObjectId,
        dest: blobstore::ObjectId,
    ) -> Outcome<()> {
        let (from, to) = guest_try!(self.two_objects("move-object", &src, &dest)?);
        let result = from
            .backend
            .move_object((&from.scope, &src.object), (&to.scope, &dest.object))
            .await;
        Ok(result.map_err(|e| guest_error("move-object", from.backend.kind(), e)))
    }
}

impl BlobView<'_> {
    /// The containers of a copy or move, both granted, and both object names checked.
    fn two_objects(
        &self,
        op: &'static str,
        src: &blobstore::ObjectId,
        dest: &blobstore::ObjectId,
    ) -> wasmtime::Result<Result<(OpenContainer, OpenContainer), String>> {
        let from = guest_try!(self.grant(op, &src.container)?);
        let to = guest_try!(self.grant(op, &dest.container)?);
        guest_try!(object_name(&src.object));
        guest_try!(object_name(&dest.object));
        Ok(Ok((from, to)))
    }
}

impl container::Host for BlobView<'_> {}

impl container::HostContainer for BlobView<'_> {
    async fn name(&mut self, c: Resource<OpenContainer>) -> Outcome<String> {
        Ok(Ok(self.open(&c)?.scope.name().to_owned()))
    }

    async fn info(&mut self, c: Resource<OpenContainer>) -> Outcome<container::ContainerMetadata> {
        let c = self.open(&c)?;
        let info = c.backend.container_info(&c.scope).await;
        let info = guest_try!(info.map_err(|e| guest_error("info", c.backend.kind(), e)));
        Ok(Ok(container::ContainerMetadata {
            name: c.scope.name().to_owned(),
            created_at: info.created_at,
        }))
    }

    async fn get_data(
        &mut self,
        c: Resource<OpenContainer>,
        name: String,
        start: u64,
        end: u64,
    ) -> Outcome<Resource<crate::value::IncomingValue>> {
        let c = self.open(&c)?;
        guest_try!(object_name(&name));
        let data = c.backend.read_object(&c.scope, &name, start, end).await;
        let data = guest_try!(data.map_err(|e| guest_error("get-data", c.backend.kind(), e)));
        Ok(self.push(crate::value::IncomingValue::new(data)))
    }

    async fn write_data(
        &mut self,
        c: Resource<OpenContainer>,
        name: String,
        data: Resource<crate::value::OutgoingValue>,
    ) -> Outcome<()> {
        let c = self.open(&c)?;
        guest_try!(object_name(&name));
        let exists = c.backend.container_info(&c.scope).await;
        guest_try!(exists.map_err(|e| guest_error("write-data", c.backend.kind(), e)));
        Ok(self.table.get_mut(&data)?.set_target(c, name))
    }

    async fn list_objects(&mut self, c: Resource<OpenContainer>) -> Outcome<Resource<NameStream>> {
        let c = self.open(&c)?;
        let names = c.backend.list_objects(&c.scope).await;
        let names = guest_try!(names.map_err(|e| guest_error("list-objects", c.backend.kind(), e)));
        Ok(self.push(NameStream {
            kind: c.backend.kind(),
            names,
            buffered: VecDeque::new(),
            ended: false,
        }))
    }

    async fn delete_object(&mut self, c: Resource<OpenContainer>, name: String) -> Outcome<()> {
        self.delete_objects(c, vec![name]).await
    }

    async fn delete_objects(
        &mut self,
        c: Resource<OpenContainer>,
        names: Vec<String>,
    ) -> Outcome<()> {
        let c = self.open(&c)?;
        for name in &names {
            guest_try!(object_name(name));
        }
        let result = c.backend.delete_objects(&c.scope, &names).await;
        Ok(result.map_err(|e| guest_error("delete-objects", c.backend.kind(), e)))
    }

    async fn has_object(&mut self, c: Resource<OpenContainer>, name: String) -> Outcome<bool> {
        let c = self.open(&c)?;
        guest_try!(object_name(&name));
        Ok(match c.backend.object_info(&c.scope, &name).await {
            Ok(_) => Ok(true),
            Err(BackendError::NoSuchObject { .. }) => Ok(false),
            Err(e) => Err(guest_error("has-object", c.backend.kind(), e)),
        })
    }

    async fn object_info(
        &mut self,
        c: Resource<OpenContainer>,
        name: String,
    ) -> Outcome<container::ObjectMetadata> {
        let c = self.open(&c)?;
        guest_try!(object_name(&name));
        let info = c.backend.object_info(&c.scope, &name).await;
        let info = guest_try!(info.map_err(|e| guest_error("object-info", c.backend.kind(), e)));
        Ok(Ok(container::ObjectMetadata {
            name,
            container: c.scope.name().to_owned(),
            created_at: info.created_at,
            size: info.size,
        }))
    }

    async fn clear(&mut self, c: Resource<OpenContainer>) -> Outcome<()> {
        let c = self.open(&c)?;
        let result = c.backend.clear(&c.scope).await;
        Ok(result.map_err(|e| guest_error("clear", c.backend.kind(), e)))
    }

    async fn drop(&mut self, c: Resource<OpenContainer>) -> wasmtime::Result<()> {
        self.table.delete(c)?;
        Ok(())
    }
}

impl container::HostStreamObjectNames for BlobView<'_> {
    async fn read_stream_object_names(
        &mut self,
        names: Resource<NameStream>,
        len: u64,
    ) -> Outcome<(Vec<String>, bool)> {
        let stream = self.table.get_mut(&names)?;
        let kind = stream.kind;
        Ok(stream
            .take(len)
            .await
            .map_err(|e| guest_error("read-stream-object-names", kind, e)))
    }

    async fn skip_stream_object_names(
        &mut self,
        names: Resource<NameStream>,
        num: u64,
    ) -> Outcome<(u64, bool)> {
        let stream = self.table.get_mut(&names)?;
        let kind = stream.kind;
        let mut skipped = 0u64;
        loop {
            let want = num - skipped;
            let (batch, ended) = guest_try!(stream.take(want).await.map_err(|e| guest_error(
                "skip-stream-object-names",
                kind,
                e
            )));
            skipped += batch.len() as u64;
            if ended || skipped >= num {
                return Ok(Ok((skipped, ended)));
            }
        }
    }

    async fn drop(&mut self, names: Resource<NameStream>) -> wasmtime::Result<()> {
        self.table.delete(names)?;
        Ok(())
    }
}

#[cfg(test)]
mod guest_error_tests {
    use super::*;

    #[test]
    fn a_storage_failure_tells_the_guest_what_failed_but_not_the_host_paths() {
        let err = BackendError::storage("cannot write /srv/secret/blobs/tmp/x: No space left");
        let message = guest_error("write-data", "embedded", err);
        assert!(
            message.contains("write-data failed in the embedded blob storage"),
            "{message}"
        );
        assert!(!message.contains("/srv/secret"), "{message}");
    }
}
