//! The storage behind `wasi:blobstore`, as the bindings see it: one trait, [`Backend`],
//! implemented by the embedded directory tree (this crate, `embedded.rs`) and by distributed
//! stores in crates of their own (`blobstore-nats`: a NATS JetStream object store), chosen by
//! the manifest's `[blobstore] type`.
//!
//! Objects move as streams in both directions, never as whole-object buffers:
//! - reading, [`Backend::read_object`] hands back an [`ObjectData`] (an `AsyncRead` of the
//!   requested range), which the bindings turn into a `wasi:io` input-stream. It must keep
//!   serving the bytes it started with even if the object is deleted or replaced meanwhile
//!   (types.wit: "the underlying bytes are held … for the lifetime of the data-blob");
//! - writing, [`Backend::start_write`] opens an [`ObjectWriter`] that takes the guest's
//!   output-stream chunk by chunk *before* the object's name is known (the guest may call
//!   `write-data` before or after writing), and [`ObjectWriter::commit`] publishes it under
//!   its name at `finish`, all at once: a reader sees the old object or the whole new one,
//!   and a crash at any point never leaves a partial object visible. Dropping a writer
//!   without committing discards it.
//!
//! A backend keeps apps apart: containers are [`ScopedContainer`]s (app and name). A backend
//! that keeps a quota refuses a write past it with [`BackendError::QuotaExceeded`]. A backend
//! that fails (down, unreachable, full) returns [`BackendError::Storage`]; the bindings turn
//! every error into the guest's `error` string and a log line, never a trap.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use tokio::io::AsyncRead;

pub use crate::names::ScopedContainer;

/// The future a [`Backend`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a [`Backend`] method returns.
pub type BackendResult<T> = Result<T, BackendError>;

/// A failed backend operation.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("container `{0}` does not exist")]
    NoSuchContainer(String),
    #[error("container `{0}` already exists")]
    ContainerExists(String),
    #[error("object `{object}` does not exist in container `{container}`")]
    NoSuchObject { container: String, object: String },
    /// `get-data` with a range the object does not have.
    #[error("{0}")]
    BadRange(String),
    /// A write would take the app past its quota (`blob-quota`); nothing was stored.
    #[error(
        "the app's blob storage quota of {quota} bytes is used up: {used} bytes are stored or \
         being written, and {wanted} more do not fit; nothing was stored (delete objects, or \
         raise `blob-quota` in the app's `[limits]`)"
    )]
    QuotaExceeded { quota: u64, used: u64, wanted: u64 },
    /// The storage failed or could not be reached.
    #[error(transparent)]
    Storage(Box<dyn std::error::Error + Send + Sync>),
}

impl BackendError {
    /// A storage failure with this message.
    pub fn storage(message: impl Into<String>) -> BackendError {
        BackendError::Storage(message.into().into())
    }

    /// Whether the guest caused this (a missing object, a bad range) rather than the storage
    /// failing.
    pub fn is_guest_error(&self) -> bool {
        !matches!(self, BackendError::Storage(_))
    }

    pub(crate) fn no_such_object(container: &ScopedContainer, object: &str) -> BackendError {
        BackendError::NoSuchObject {
            container: container.name().to_owned(),
            object: object.to_owned(),
        }
    }
}

/// What `info` says about a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerInfo {
    /// Seconds since the Unix epoch.
    pub created_at: u64,
}

/// What `object-info` says about an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Seconds since the Unix epoch at which this version of the object was written.
    pub created_at: u64,
    pub size: u64,
}

/// A range of an object being read: its length, and the bytes.
pub struct ObjectData {
    pub len: u64,
    pub reader: Pin<Box<dyn AsyncRead + Send>>,
}

/// An object being written, not yet visible under any name.
pub trait ObjectWriter: Send + 'static {
    /// Appends `chunk`.
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, BackendResult<()>>;

    /// Makes everything written so far the object `name` of `container`, replacing any
    /// object of that name, atomically and durably: when this returns `Ok`, the object
    /// survives a crash of the process or the machine.
    fn commit<'a>(
        self: Box<Self>,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>>;
}

/// The names of a container's objects, a batch at a time.
pub trait ObjectNames: Send + 'static {
    /// Up to `max` more names (at least one unless the listing is over); empty at the end.
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, BackendResult<Vec<String>>>;
}

/// A blob store that serves the containers of apps. Cheap to share (`Arc<dyn Backend>`).
/// Every method that names a container fails with [`BackendError::NoSuchContainer`] if it
/// does not exist.
pub trait Backend: Send + Sync + 'static {
    /// The backend's kind, for log lines (`embedded`).
    fn kind(&self) -> &'static str;

    /// Creates an empty container; [`BackendError::ContainerExists`] if there is one.
    fn create_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>>;

    fn container_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>>;

    /// Deletes a container and every object in it.
    fn delete_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// [`BackendError::NoSuchObject`] if the object does not exist.
    fn object_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<ObjectInfo>>;

    /// The bytes `start..=end` of an object (`end` past the last byte means "to the end").
    fn read_object<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, BackendResult<ObjectData>>;

    /// Starts writing a new object of app `app`; it becomes visible at
    /// [`ObjectWriter::commit`].
    fn start_write<'a>(
        &'a self,
        app: &'a str,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectWriter>>>;

    /// The names of the container's objects, in no particular order.
    fn list_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectNames>>>;

    /// Deletes the objects; absent ones are skipped.
    fn delete_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
        names: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Deletes every object of the container, leaving it empty.
    fn clear<'a>(&'a self, container: &'a ScopedContainer) -> BoxFuture<'a, BackendResult<()>>;

    /// Copies an object, replacing the destination if it exists; the copy appears at once.
    fn copy_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Moves (renames) an object, replacing the destination if it exists.
    fn move_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>>;
}
