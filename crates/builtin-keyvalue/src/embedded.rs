//! The embedded storage: one redb database file per data directory, opened once per process
//! and shared, with one table per app and bucket (`app/bucket`, see [`ScopedBucket`]).
//!
//! Every operation is one redb transaction, so it is atomic: `increment` and compare-and-swap
//! read and write inside one write transaction, and redb runs one write transaction at a time;
//! a batch is one transaction too. Commits are durable (`Durability::Immediate`, redb's
//! default): a write the guest saw succeed survives a crash of the process or the machine.
//!
//! These functions block (a commit waits for `fsync`); as a [`Backend`] the store runs writes on
//! Tokio's blocking pool and reads in place.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, WriteTransaction,
};

use manifold_provider::data_dir::{DataDirLock, LockError, lock_data_dir};

use crate::backend::{
    Backend, BackendError, BackendResult, BoxFuture, Counter, KeyPage, KeyValue, Swap, incremented,
};
use crate::names::ScopedBucket;

fn storage(err: impl Into<redb::Error>) -> BackendError {
    BackendError::Storage(Box::new(err.into()))
}

type Result<T, E = BackendError> = std::result::Result<T, E>;

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Another process holds the data directory.
    #[error(transparent)]
    Locked(#[from] LockError),
    /// redb's own lock: a process that does not take the data directory's lock (an older
    /// Manifold) has the file open.
    #[error(
        "the key-value database {} is open in another process (a second `manifold`?); stop \
         it, or give each process its own data directory (`--data-dir`, or `data-dir` in the \
         manifest)",
        path.display()
    )]
    InUse { path: PathBuf },
    #[error("cannot open the key-value database {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: redb::DatabaseError,
    },
    #[error("cannot create the tables of the key-value database {}", path.display())]
    Tables {
        path: PathBuf,
        #[source]
        source: redb::Error,
    },
}

/// Databases this process has open, by canonical path. redb locks its file, so a second
/// `Database::create` of the same file fails; every provider of every component that uses
/// the same data directory must share one handle.
static OPEN: LazyLock<Mutex<HashMap<PathBuf, Weak<Database>>>> = LazyLock::new(Default::default);

/// The most keys one `list-keys` page holds, and the most bytes of keys; a page holds at least
/// one key, however long.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageLimit {
    pub keys: usize,
    pub bytes: usize,
}

impl PageLimit {
    pub(crate) const DEFAULT: PageLimit = PageLimit {
        keys: 1000,
        bytes: 256 * 1024,
    };
}

/// One page of keys, in the table's (bytewise) order.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Page {
    pub keys: Vec<String>,
    /// Whether keys follow the last one in `keys`.
    pub more: bool,
}

fn definition(table: &ScopedBucket) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table.as_str())
}

/// A handle on the shared database. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    db: Arc<Database>,
    /// This process's hold on the data directory, for as long as the store is open.
    _lock: Arc<DataDirLock>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database file `file_name` in `dir`, creating `dir` if needed,
    /// or shares the handle this process already has on it. `dir` is locked for this process
    /// first ([`lock_data_dir`]): another process holding it is [`OpenError::Locked`].
    pub(crate) fn open(dir: &Path, file_name: &str) -> Result<Store, OpenError> {
        let lock = match lock_data_dir(dir) {
            Ok(lock) => lock,
            Err(LockError::Io { source, .. }) => {
                return Err(OpenError::CreateDir {
                    path: dir.to_path_buf(),
                    source,
                });
            }
            Err(in_use) => return Err(in_use.into()),
        };
        let path = lock.dir().join(file_name);
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(Store { db, _lock: lock });
        }
        let db = match Database::create(&path) {
            Ok(db) => Arc::new(db),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpenError::InUse { path });
            }
            Err(source) => return Err(OpenError::Open { path, source }),
        };
        open.retain(|_, db| db.strong_count() > 0);
        open.insert(path, Arc::downgrade(&db));
        Ok(Store { db, _lock: lock })
    }

    /// Creates the tables that do not exist yet, so reads of a new bucket find it empty.
    pub(crate) fn create_tables<'a>(
        &self,
        tables: impl IntoIterator<Item = &'a ScopedBucket>,
    ) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        for table in tables {
            txn.open_table(definition(table))?;
        }
        txn.commit()?;
        Ok(())
    }

    fn read<T>(&self, f: impl FnOnce(&ReadTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read().map_err(storage)?;
        f(&txn)
    }

    /// Runs `f` in a write transaction and commits it if `f` succeeds.
    fn write<T>(&self, f: impl FnOnce(&WriteTransaction) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_write().map_err(storage)?;
        let value = f(&txn)?;
        txn.commit().map_err(storage)?;
        Ok(value)
    }

    pub(crate) fn get(&self, table: &ScopedBucket, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => get(&t, key),
            None => Ok(None),
        })
    }

    pub(crate) fn exists(&self, table: &ScopedBucket, key: &str) -> Result<bool> {
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => Ok(t.get(key).map_err(storage)?.is_some()),
            None => Ok(false),
        })
    }

    pub(crate) fn set(&self, table: &ScopedBucket, key: &str, value: &[u8]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            t.insert(key, value).map_err(storage)?;
            Ok(())
        })
    }

    pub(crate) fn delete(&self, table: &ScopedBucket, key: &str) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            t.remove(key).map_err(storage)?;
            Ok(())
        })
    }

    /// The page of keys that starts after skipping `offset` keys (0.2.0-draft's `u64` cursor).
    pub(crate) fn keys_from_offset(
        &self,
        table: &ScopedBucket,
        offset: u64,
        limit: PageLimit,
    ) -> Result<Page> {
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => {
                let mut entries = t.range::<&str>(..).map_err(storage)?;
                for _ in 0..offset {
                    match entries.next() {
                        Some(entry) => drop(entry.map_err(storage)?),
                        None => return Ok(Page::empty()),
                    }
                }
                page(entries, limit)
            }
            None => Ok(Page::empty()),
        })
    }

    /// The page of keys that follow `after` (0.2.0-draft2's `string` cursor), or the first page.
    pub(crate) fn keys_after(
        &self,
        table: &ScopedBucket,
        after: Option<&str>,
        limit: PageLimit,
    ) -> Result<Page> {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => page(
                t.range::<&str>((lower, Bound::Unbounded))
                    .map_err(storage)?,
                limit,
            ),
            None => Ok(Page::empty()),
        })
    }

    /// Adds `delta` to the counter at `key` (absent counts as zero) and returns the new value.
    pub(crate) fn increment<N: Counter>(
        &self,
        table: &ScopedBucket,
        key: &str,
        delta: N,
    ) -> Result<N> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            let new = incremented(get(&t, key)?.as_deref(), delta)?;
            t.insert(key, new.to_string().as_bytes()).map_err(storage)?;
            Ok(new)
        })
    }

    /// Writes `new` at `key` if the value there is still `expected` (`None`: absent).
    pub(crate) fn compare_and_swap(
        &self,
        table: &ScopedBucket,
        key: &str,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swap> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            let current = get(&t, key)?;
            if current.as_deref() != expected {
                // Dropping the transaction without a commit aborts it; nothing was written.
                return Ok(Swap::Changed(current));
            }
            t.insert(key, new).map_err(storage)?;
            Ok(Swap::Done)
        })
    }

    /// The value of every key, in order, `None` where absent; from one snapshot.
    pub(crate) fn get_many(
        &self,
        table: &ScopedBucket,
        keys: Vec<String>,
    ) -> Result<Vec<Option<KeyValue>>> {
        self.read(|txn| {
            let t = open_read(txn, table)?;
            keys.into_iter()
                .map(|key| {
                    let value = match &t {
                        Some(t) => get(t, &key)?,
                        None => None,
                    };
                    Ok(value.map(|v| (key, v)))
                })
                .collect()
        })
    }

    /// Sets every pair in one transaction: all of them or, on an error, none.
    pub(crate) fn set_many(&self, table: &ScopedBucket, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            for (key, value) in pairs {
                t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            }
            Ok(())
        })
    }

    /// Deletes every key in one transaction; absent keys are skipped.
    pub(crate) fn delete_many(&self, table: &ScopedBucket, keys: &[String]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            for key in keys {
                t.remove(key.as_str()).map_err(storage)?;
            }
            Ok(())
        })
    }
}

/// Opens a table for reading; `None` if it was never created (an empty bucket).
fn open_read(
    txn: &ReadTransaction,
    table: &ScopedBucket,
) -> Result<Option<ReadOnlyTable<&'static str, &'static [u8]>>> {
    match txn.open_table(definition(table)) {
        Ok(t) => Ok(Some(t)),
        Err(TableError::TableDoesNotExist(_)) => Ok(None),
        Err(err) => Err(storage(err)),
    }
}

fn get(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<Vec<u8>>> {
    Ok(table.get(key).map_err(storage)?.map(|v| v.value().to_vec()))
}

type Entry<'a> = std::result::Result<
    (
        redb::AccessGuard<'a, &'static str>,
        redb::AccessGuard<'a, &'static [u8]>,
    ),
    redb::StorageError,
>;

fn page<'a>(mut entries: impl Iterator<Item = Entry<'a>>, limit: PageLimit) -> Result<Page> {
    let mut keys = Vec::new();
    let mut bytes = 0;
    for entry in entries.by_ref() {
        let (key, _) = entry.map_err(storage)?;
        let key = key.value();
        bytes += key.len();
        keys.push(key.to_owned());
        if keys.len() >= limit.keys || bytes >= limit.bytes {
            break;
        }
    }
    let more = entries.next().transpose().map_err(storage)?.is_some();
    Ok(Page { keys, more })
}

impl Page {
    fn empty() -> Page {
        Page {
            keys: Vec::new(),
            more: false,
        }
    }
}

/// Runs blocking storage work on Tokio's blocking pool; without a runtime (unit tests), in
/// place.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => runtime.spawn_blocking(work).await.unwrap_or_else(|err| {
            Err(BackendError::storage(format!(
                "the storage task failed: {err}"
            )))
        }),
        Err(_) => work(),
    }
}

/// Reads run in place: they are served from redb's cache and never wait for a commit, so
/// moving them to another thread would cost more than it saves. Writes (which wait for their
/// commit to reach the disk) run on Tokio's blocking pool, so they never stall the threads
/// that serve other requests.
impl Backend for Store {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn get<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<Vec<u8>>>> {
        Box::pin(async move { Store::get(self, bucket, key) })
    }

    fn exists<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(async move { Store::exists(self, bucket, key) })
    }

    fn set<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (store, bucket, key, value) =
            (self.clone(), bucket.clone(), key.to_owned(), value.to_vec());
        Box::pin(blocking(move || store.set(&bucket, &key, &value)))
    }

    fn delete<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (store, bucket, key) = (self.clone(), bucket.clone(), key.to_owned());
        Box::pin(blocking(move || store.delete(&bucket, &key)))
    }

    /// The cursor is the number of keys already returned: the next page starts after
    /// skipping that many.
    fn list_keys_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<u64>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<u64>>> {
        Box::pin(async move {
            let offset = cursor.unwrap_or(0);
            let page = self.keys_from_offset(bucket, offset, PageLimit::DEFAULT)?;
            let returned = u64::try_from(page.keys.len()).unwrap_or(u64::MAX);
            Ok(KeyPage {
                next: page.more.then(|| offset.saturating_add(returned)),
                keys: page.keys,
            })
        })
    }

    /// The cursor is the last key returned: the next page starts strictly after it.
    fn list_keys_string<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<String>>> {
        Box::pin(async move {
            let page = self.keys_after(bucket, cursor, PageLimit::DEFAULT)?;
            Ok(KeyPage {
                next: if page.more {
                    page.keys.last().cloned()
                } else {
                    None
                },
                keys: page.keys,
            })
        })
    }

    fn increment_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: u64,
    ) -> BoxFuture<'a, BackendResult<u64>> {
        let (store, bucket, key) = (self.clone(), bucket.clone(), key.to_owned());
        Box::pin(blocking(move || store.increment(&bucket, &key, delta)))
    }

    fn increment_i64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, BackendResult<i64>> {
        let (store, bucket, key) = (self.clone(), bucket.clone(), key.to_owned());
        Box::pin(blocking(move || store.increment(&bucket, &key, delta)))
    }

    fn compare_and_swap<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<Swap>> {
        let (store, bucket, key) = (self.clone(), bucket.clone(), key.to_owned());
        let (expected, new) = (expected.map(<[u8]>::to_vec), new.to_vec());
        Box::pin(blocking(move || {
            store.compare_and_swap(&bucket, &key, expected.as_deref(), &new)
        }))
    }

    fn get_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Vec<Option<KeyValue>>>> {
        Box::pin(async move { Store::get_many(self, bucket, keys.to_vec()) })
    }

    fn set_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        pairs: &'a [KeyValue],
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (store, bucket, pairs) = (self.clone(), bucket.clone(), pairs.to_vec());
        Box::pin(blocking(move || store.set_many(&bucket, &pairs)))
    }

    fn delete_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>> {
        let (store, bucket, keys) = (self.clone(), bucket.clone(), keys.to_vec());
        Box::pin(blocking(move || store.delete_many(&bucket, &keys)))
    }
}

#[cfg(test)]
mod tests;
