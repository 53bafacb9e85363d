//! The embedded backend: a directory tree under the app's data directory.
//!
//! ```text
//! DATA_DIR/blobstore/APP/staging/                 objects being written, containers being
//!                                                 created or deleted (emptied at start)
//! DATA_DIR/blobstore/APP/containers/C/created     the container's creation time
//! DATA_DIR/blobstore/APP/containers/C/objects/O   one file per object
//! ```
//!
//! `APP`, `C` and `O` are [`file_name`]s of checked names, so an identifier can never name a
//! path outside its own directory. Every change becomes visible by one `rename` within the
//! app's directory, after the new data is `fsync`ed, and the directory that changed is
//! `fsync`ed before the guest is told it succeeded: an object is written to a temporary file in
//! `staging/`, synced, renamed over its name, and the directory synced; a crash at any point
//! leaves the old object or the new one, never a part. A container appears (with its
//! `created` file and `objects/`) by one rename, and disappears by one rename into `staging/`
//! before its files are removed.
//!
//! The file operations block, so each runs on Tokio's blocking pool. An object being read
//! is an open file: it keeps its bytes even if the object is deleted or replaced meanwhile.
//!
//! One process owns a data directory at a time ([`lock_data_dir`]), taken before anything in
//! it is touched: a second process would otherwise empty the first's `staging/` (its objects
//! in flight) when it starts, and the quota's count ([`usage`]) would miss its changes.

mod usage;

use std::collections::HashMap;
use std::fs::{self, File, ReadDir};
use std::io::{self, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use manifold_provider::data_dir::{DataDirLock, LockError, lock_data_dir};
use tempfile::NamedTempFile;
use tokio::io::AsyncReadExt as _;

use usage::{Reservation, Usage, dir_bytes, file_len};

use crate::backend::{
    Backend, BackendError, BackendResult, BoxFuture, ContainerInfo, ObjectData, ObjectInfo,
    ObjectNames, ObjectWriter, ScopedContainer,
};
use crate::names::{file_name, from_file_name};

/// The directory under the data directory that holds every app's containers.
pub const BLOBSTORE_DIR: &str = "blobstore";
const STAGING: &str = "staging";
const CONTAINERS: &str = "containers";
const OBJECTS: &str = "objects";
const CREATED: &str = "created";

/// The stores open in this process, by root: every component's handle on one root shares its
/// lock, its count of bytes, and the one emptying of `staging/` before any write.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Root>>>> = LazyLock::new(Default::default);

/// Why the embedded store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be locked, or another process holds it.
    #[error(transparent)]
    DataDir(#[from] LockError),
    #[error("cannot open the blob store directory {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn storage(context: String, err: io::Error) -> BackendError {
    BackendError::Storage(format!("{context}: {err}").into())
}

/// One store root, shared by every handle on it in this process.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    usage: Arc<Usage>,
    /// This process's hold on the data directory, for as long as a handle is open.
    _lock: Arc<DataDirLock>,
}

/// The embedded store of one data directory.
#[derive(Debug, Clone)]
pub struct Embedded {
    root: Arc<Root>,
    /// The most bytes an app may keep, objects being written included; `None`: no limit.
    quota: Option<u64>,
}

impl Embedded {
    /// Opens (creating it) `data_dir/blobstore`, each app keeping at most `quota` bytes of
    /// objects. The data directory is locked for this process first (another process holding
    /// it is [`OpenError::DataDir`]); then, when no other handle of this process has the store
    /// open, what a crash left in the apps' `staging/` directories is removed and their
    /// objects are counted.
    pub fn open(data_dir: &Path, quota: Option<u64>) -> Result<Embedded, OpenError> {
        let lock = lock_data_dir(data_dir)?;
        let root = lock.dir().join(BLOBSTORE_DIR);
        let fail = |source| OpenError::Io {
            path: root.clone(),
            source,
        };
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(root) = open.get(&root).and_then(Weak::upgrade) {
            return Ok(Embedded { root, quota });
        }
        if !root.is_dir() {
            fs::create_dir_all(&root).map_err(fail)?;
            // So that the directory itself survives a crash, not only what is put in it.
            File::open(lock.dir())
                .and_then(|d| d.sync_all())
                .map_err(fail)?;
        }
        // No writer of this process is left (each holds the root), and no other process may
        // write here: what is in staging/ is a crash's.
        for app in fs::read_dir(&root).map_err(fail)? {
            let staging = app.map_err(fail)?.path().join(STAGING);
            if staging.is_dir() {
                empty_dir(&staging).map_err(fail)?;
            }
        }
        let usage = Usage::scan(&root).map_err(fail)?;
        let shared = Arc::new(Root {
            path: root.clone(),
            usage: Arc::new(usage),
            _lock: lock,
        });
        open.retain(|_, root| root.strong_count() > 0);
        open.insert(root, Arc::downgrade(&shared));
        Ok(Embedded {
            root: shared,
            quota,
        })
    }

    fn app_dir(&self, app: &str) -> PathBuf {
        self.root.path.join(file_name(app))
    }

    fn usage(&self) -> &Usage {
        &self.root.usage
    }
}

fn empty_dir(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            fs::remove_dir_all(&path)?;
        } else {
            fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Runs blocking file work on Tokio's blocking pool.
fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> BackendResult<T> + Send + 'static,
) -> BoxFuture<'static, BackendResult<T>> {
    Box::pin(async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|err| BackendError::storage(format!("blob store task failed: {err}")))?
    })
}

fn sync_dir(dir: &Path) -> BackendResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| storage(format!("syncing {}", dir.display()), e))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The paths of one container, and the key of its app's usage.
#[derive(Clone)]
struct Paths {
    /// The app's directory name, which keys its usage.
    key: String,
    app: PathBuf,
    container: PathBuf,
}

impl Paths {
    fn new(store: &Embedded, container: &ScopedContainer) -> Paths {
        let key = file_name(container.app());
        let app = store.root.path.join(&key);
        let container = app.join(CONTAINERS).join(file_name(container.name()));
        Paths {
            key,
            app,
            container,
        }
    }

    fn staging(&self) -> PathBuf {
        self.app.join(STAGING)
    }

    fn objects(&self) -> PathBuf {
        self.container.join(OBJECTS)
    }

    fn object(&self, name: &str) -> PathBuf {
        self.objects().join(file_name(name))
    }

    /// `NoSuchContainer` unless the container exists.
    fn require(&self, container: &ScopedContainer) -> BackendResult<()> {
        if self.objects().is_dir() {
            Ok(())
        } else {
            Err(BackendError::NoSuchContainer(container.name().to_owned()))
        }
    }
}

/// Creates the app's `staging/` and `containers/` (and syncs what it created).
fn prepare_app(app_dir: &Path) -> BackendResult<()> {
    let fail = |e| storage(format!("creating {}", app_dir.display()), e);
    for sub in [STAGING, CONTAINERS] {
        let dir = app_dir.join(sub);
        if !dir.is_dir() {
            fs::create_dir_all(&dir).map_err(fail)?;
            sync_dir(app_dir)?;
            if let Some(root) = app_dir.parent() {
                sync_dir(root)?;
            }
        }
    }
    Ok(())
}

impl Backend for Embedded {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn create_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>> {
        let (paths, scope) = (Paths::new(self, container), container.clone());
        blocking(move || {
            prepare_app(&paths.app)?;
            let exists = || BackendError::ContainerExists(scope.name().to_owned());
            if paths.container.exists() {
                return Err(exists());
            }
            let fail = |e| storage(format!("creating container `{}`", scope.name()), e);
            // Built in staging/, then renamed into place: it appears whole or not at all.
            let new = tempfile::Builder::new()
                .prefix("container-")
                .tempdir_in(paths.staging())
                .map_err(fail)?;
            let created_at = now();
            let mut file = File::create(new.path().join(CREATED)).map_err(fail)?;
            file.write_all(created_at.to_string().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(fail)?;
            fs::create_dir(new.path().join(OBJECTS)).map_err(fail)?;
            sync_dir(new.path())?;
            // The target is never an empty directory (a container holds `created`), so the
            // rename fails rather than replace a container made meanwhile.
            match fs::rename(new.path(), &paths.container) {
                Ok(()) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::DirectoryNotEmpty | io::ErrorKind::AlreadyExists
                    ) =>
                {
                    return Err(exists());
                }
                Err(e) => return Err(fail(e)),
            }
            let _ = new.keep();
            sync_dir(&paths.app.join(CONTAINERS))?;
            Ok(ContainerInfo { created_at })
        })
    }

    fn container_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>> {
        let (paths, scope) = (Paths::new(self, container), container.clone());
        blocking(
            move || match fs::read_to_string(paths.container.join(CREATED)) {
                Ok(text) => Ok(ContainerInfo {
                    created_at: text.trim().parse().unwrap_or(0),
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(BackendError::NoSuchContainer(scope.name().to_owned()))
                }
                Err(e) => Err(storage(format!("reading container `{}`", scope.name()), e)),
            },
        )
    }

    fn delete_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (paths, scope) = (Paths::new(self, container), container.clone());
        let usage = self.root.usage.clone();
        blocking(move || {
            paths.require(&scope)?;
            let fail = |e| storage(format!("deleting container `{}`", scope.name()), e);
            // Renamed out of sight first, so it disappears at once, then removed.
            let trash = tempfile::Builder::new()
                .prefix("deleted-")
                .tempdir_in(paths.staging())
                .map_err(fail)?;
            let moved = trash.path().join("container");
            // With the usage locked, so no change to one of its objects is half counted.
            usage.change(&paths.key, || match fs::rename(&paths.container, &moved) {
                Ok(()) => Ok(((), 0)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    Err(BackendError::NoSuchContainer(scope.name().to_owned()))
                }
                Err(e) => Err(fail(e)),
            })?;
            // Out of sight, nothing changes it any more.
            match dir_bytes(&moved.join(OBJECTS)) {
                Ok(bytes) => usage.release(&paths.key, bytes),
                Err(err) => {
                    tracing::warn!(container = %scope, %err, "a deleted container's objects could not be measured; the app's quota counts them until the next start");
                }
            }
            sync_dir(&paths.app.join(CONTAINERS))?;
            if let Err(err) = trash.close() {
                tracing::warn!(container = %scope, %err, "a deleted container's files were not all removed; they are removed at the next start");
            }
            Ok(())
        })
    }

    fn object_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<ObjectInfo>> {
        let (paths, scope, name) = (
            Paths::new(self, container),
            container.clone(),
            name.to_owned(),
        );
        blocking(move || match fs::metadata(paths.object(&name)) {
            Ok(meta) => Ok(ObjectInfo {
                created_at: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_secs()),
                size: meta.len(),
            }),
            Err(e) => Err(object_error(&paths, &scope, &name, e)),
        })
    }

    fn read_object<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, BackendResult<ObjectData>> {
        let (paths, scope, name) = (
            Paths::new(self, container),
            container.clone(),
            name.to_owned(),
        );
        Box::pin(async move {
            let (file, len) = blocking(move || {
                let mut file = File::open(paths.object(&name))
                    .map_err(|e| object_error(&paths, &scope, &name, e))?;
                let fail = |e| storage(format!("reading object `{name}`"), e);
                let size = file.metadata().map_err(fail)?.len();
                let len = range_len(&name, size, start, end)?;
                file.seek(SeekFrom::Start(start)).map_err(fail)?;
                Ok((file, len))
            })
            .await?;
            let reader = tokio::fs::File::from_std(file).take(len);
            Ok(ObjectData {
                len,
                reader: Box::pin(reader),
            })
        })
    }

    fn start_write<'a>(
        &'a self,
        app: &'a str,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectWriter>>> {
        let (app_dir, app) = (self.app_dir(app), app.to_owned());
        let store = self.clone();
        let reservation = Reservation::new(self.root.usage.clone(), file_name(&app));
        blocking(move || {
            prepare_app(&app_dir)?;
            let file = tempfile::Builder::new()
                .prefix("object-")
                .tempfile_in(app_dir.join(STAGING))
                .map_err(|e| storage("creating a staging file".into(), e))?;
            let writer: Box<dyn ObjectWriter> = Box::new(Writer {
                store,
                app,
                file: Some(file),
                reservation,
            });
            Ok(writer)
        })
    }

    fn list_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectNames>>> {
        let (paths, scope) = (Paths::new(self, container), container.clone());
        blocking(move || match fs::read_dir(paths.objects()) {
            Ok(dir) => {
                let names: Box<dyn ObjectNames> = Box::new(Names { dir: Some(dir) });
                Ok(names)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(BackendError::NoSuchContainer(scope.name().to_owned()))
            }
            Err(e) => Err(storage(format!("listing container `{}`", scope.name()), e)),
        })
    }

    fn delete_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
        names: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (paths, scope, names) = (
            Paths::new(self, container),
            container.clone(),
            names.to_vec(),
        );
        let usage = self.root.usage.clone();
        blocking(move || {
            paths.require(&scope)?;
            for name in &names {
                remove_object(&usage, &paths, &paths.object(name), name)?;
            }
            sync_dir(&paths.objects())
        })
    }

    fn clear<'a>(&'a self, container: &'a ScopedContainer) -> BoxFuture<'a, BackendResult<()>> {
        let (paths, scope) = (Paths::new(self, container), container.clone());
        let usage = self.root.usage.clone();
        blocking(move || {
            paths.require(&scope)?;
            let fail = |e| storage(format!("clearing container `{}`", scope.name()), e);
            for entry in fs::read_dir(paths.objects()).map_err(fail)? {
                let path = entry.map_err(fail)?.path();
                remove_object(&usage, &paths, &path, &path.display().to_string())?;
            }
            sync_dir(&paths.objects())
        })
    }

    fn copy_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>> {
        let from = (Paths::new(self, src.0), src.0.clone(), src.1.to_owned());
        let to = (Paths::new(self, dest.0), dest.0.clone(), dest.1.to_owned());
        let (usage, quota) = (self.root.usage.clone(), self.quota);
        blocking(move || {
            let (from_paths, from_scope, from_name) = from;
            let (to_paths, to_scope, to_name) = to;
            to_paths.require(&to_scope)?;
            let mut source = File::open(from_paths.object(&from_name))
                .map_err(|e| object_error(&from_paths, &from_scope, &from_name, e))?;
            let fail = |e| storage(format!("copying object `{from_name}`"), e);
            // The copy's bytes count from before the first is written, as a writer's do.
            let len = source.metadata().map_err(fail)?.len();
            let mut reservation = Reservation::new(usage.clone(), to_paths.key.clone());
            usage.reserve(&mut reservation, len, quota)?;
            let mut copy = tempfile::Builder::new()
                .prefix("copy-")
                .tempfile_in(to_paths.staging())
                .map_err(fail)?;
            // No more than was reserved, should the source grow meanwhile.
            io::copy(&mut io::Read::take(&mut source, len), copy.as_file_mut()).map_err(fail)?;
            publish(&usage, copy, &to_paths, &to_scope, &to_name, reservation)
        })
    }

    fn move_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>> {
        let from = (Paths::new(self, src.0), src.0.clone(), src.1.to_owned());
        let to = (Paths::new(self, dest.0), dest.0.clone(), dest.1.to_owned());
        let usage = self.root.usage.clone();
        blocking(move || {
            let (from_paths, from_scope, from_name) = from;
            let (to_paths, to_scope, to_name) = to;
            if from_scope.app() != to_scope.app() {
                // The bindings never ask for it; the quota counts per app.
                return Err(BackendError::storage(
                    "an object moves only between containers of one app",
                ));
            }
            to_paths.require(&to_scope)?;
            let (source, target) = (from_paths.object(&from_name), to_paths.object(&to_name));
            if source == target {
                // Renaming a file onto itself succeeds without a change; say whether it exists.
                return fs::metadata(&source)
                    .map(|_| ())
                    .map_err(|e| object_error(&from_paths, &from_scope, &from_name, e));
            }
            // The moved bytes stay the app's; the object it replaces is freed.
            usage.change(&to_paths.key, || {
                let freed = file_len(&target);
                fs::rename(&source, &target)
                    .map_err(|e| object_error(&from_paths, &from_scope, &from_name, e))?;
                Ok(((), freed))
            })?;
            sync_dir(&to_paths.objects())?;
            if from_paths.objects() != to_paths.objects() {
                sync_dir(&from_paths.objects())?;
            }
            Ok(())
        })
    }
}

/// The error for a failed operation on an existing-or-not object: which of the container or
/// the object is missing, or a storage failure.
fn object_error(
    paths: &Paths,
    scope: &ScopedContainer,
    name: &str,
    err: io::Error,
) -> BackendError {
    if err.kind() != io::ErrorKind::NotFound {
        return storage(
            format!("object `{name}` of container `{}`", scope.name()),
            err,
        );
    }
    match paths.require(scope) {
        Err(missing) => missing,
        Ok(()) => BackendError::no_such_object(scope, name),
    }
}

/// Removes the object file at `path` of the container at `paths`, if it is there, and
/// subtracts it from the app's usage.
fn remove_object(usage: &Usage, paths: &Paths, path: &Path, name: &str) -> BackendResult<()> {
    usage.change(&paths.key, || {
        let freed = file_len(path);
        match fs::remove_file(path) {
            Ok(()) => Ok(((), freed)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(((), 0)),
            Err(e) => Err(storage(format!("deleting object `{name}`"), e)),
        }
    })
}

/// The length of `start..=end` in an object of `size` bytes; `end` is capped at the last
/// byte, and any range of an empty object is empty.
fn range_len(name: &str, size: u64, start: u64, end: u64) -> BackendResult<u64> {
    if start > end {
        return Err(BackendError::BadRange(format!(
            "get-data of `{name}`: start {start} is after end {end} (both are inclusive offsets)"
        )));
    }
    if size == 0 {
        return Ok(0);
    }
    if start >= size {
        return Err(BackendError::BadRange(format!(
            "get-data of `{name}`: start {start} is past the end of the object ({size} bytes)"
        )));
    }
    Ok(end.min(size - 1) - start + 1)
}

/// Syncs a finished staging file and renames it over object `name`, then syncs the directory.
/// The bytes `reservation` holds become the object's, and the object it replaces is freed.
fn publish(
    usage: &Usage,
    file: NamedTempFile,
    paths: &Paths,
    scope: &ScopedContainer,
    name: &str,
    reservation: Reservation,
) -> BackendResult<()> {
    let fail = |e| storage(format!("writing object `{name}` of `{}`", scope.name()), e);
    file.as_file().sync_all().map_err(fail)?;
    let target = paths.object(name);
    usage.change(&paths.key, || {
        let freed = file_len(&target);
        match file.persist(&target) {
            Ok(_) => Ok(((), freed)),
            Err(e) if e.error.kind() == io::ErrorKind::NotFound => {
                Err(BackendError::NoSuchContainer(scope.name().to_owned()))
            }
            Err(e) => Err(fail(e.error)),
        }
    })?;
    reservation.keep();
    sync_dir(&paths.objects())
}

/// An object being written: a file in the app's `staging/`, removed if never committed, and
/// the bytes it holds against the app's quota.
struct Writer {
    store: Embedded,
    app: String,
    /// `None` once a write failed, and while one is in flight on the blocking pool.
    file: Option<NamedTempFile>,
    reservation: Reservation,
}

impl ObjectWriter for Writer {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let mut file = self
                .file
                .take()
                .ok_or_else(|| BackendError::storage("an earlier write to this object failed"))?;
            // Counted before it is written, so writers at once cannot pass the quota together.
            // Refused, the staging file is dropped (removed) with `file`.
            let len = chunk.len() as u64;
            self.store
                .usage()
                .reserve(&mut self.reservation, len, self.store.quota)?;
            let file = blocking(move || {
                file.as_file_mut()
                    .write_all(&chunk)
                    .map_err(|e| storage("writing a staging file".into(), e))?;
                Ok(file)
            })
            .await?;
            self.file = Some(file);
            Ok(())
        })
    }

    fn commit<'a>(
        self: Box<Self>,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>> {
        let Writer {
            store,
            app,
            file,
            reservation,
        } = *self;
        let paths = Paths::new(&store, container);
        let (scope, name) = (container.clone(), name.to_owned());
        let same_app = app == scope.app();
        blocking(move || {
            let file = file
                .ok_or_else(|| BackendError::storage("an earlier write to this object failed"))?;
            if !same_app {
                return Err(BackendError::storage(
                    "an object is committed only to a container of the app that wrote it",
                ));
            }
            paths.require(&scope)?;
            publish(store.usage(), file, &paths, &scope, &name, reservation)
        })
    }
}

/// A listing: the objects directory, read a batch at a time.
struct Names {
    /// `None` at the end, or while a batch is read on the blocking pool.
    dir: Option<ReadDir>,
}

impl ObjectNames for Names {
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, BackendResult<Vec<String>>> {
        Box::pin(async move {
            let Some(mut dir) = self.dir.take() else {
                return Ok(Vec::new());
            };
            let (dir, names) = blocking(move || {
                let mut names = Vec::new();
                while names.len() < max.max(1) {
                    match dir.next() {
                        None => return Ok((None, names)),
                        Some(Err(e)) => return Err(storage("listing objects".into(), e)),
                        Some(Ok(entry)) => {
                            // Only files this store wrote; anything else is not an object.
                            if let Some(name) = entry.file_name().to_str().and_then(from_file_name)
                            {
                                names.push(name);
                            }
                        }
                    }
                }
                Ok((Some(dir), names))
            })
            .await?;
            self.dir = dir;
            Ok(names)
        })
    }
}

#[cfg(test)]
mod tests;
