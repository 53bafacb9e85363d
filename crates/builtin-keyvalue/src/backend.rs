//! The embedded storage: one redb database file per data directory, opened once per process
//! and shared, with one table per app and bucket (`app/bucket`, see [`TableName`]).
//!
//! Every operation is one redb transaction, so it is atomic: `increment` and compare-and-swap
//! read and write inside one write transaction, and redb runs one write transaction at a time;
//! a batch is one transaction too. Commits are durable (`Durability::Immediate`, redb's
//! default): a write the guest saw succeed survives a crash of the process or the machine.
//!
//! These functions block (a commit waits for `fsync`); the bindings run writes on Tokio's
//! blocking pool.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

use redb::{
    Database, ReadOnlyTable, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition,
    TableError, WriteTransaction,
};

use crate::names::TableName;

/// A failed storage operation.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    #[error(transparent)]
    Storage(#[from] redb::Error),
    #[error("the value is not a decimal {0} (it is {1}), so it cannot be incremented")]
    NotACounter(&'static str, String),
    #[error("adding {delta} to {current} overflows {kind}")]
    Overflow {
        kind: &'static str,
        current: String,
        delta: String,
    },
    #[error("the storage task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Whether the guest caused this (a bad counter) rather than the storage failing.
    pub(crate) fn is_guest_error(&self) -> bool {
        matches!(
            self,
            StoreError::NotACounter(..) | StoreError::Overflow { .. }
        )
    }
}

fn storage(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Storage(err.into())
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A key with its value, as `get-many` returns it.
pub(crate) type KeyValue = (String, Vec<u8>);

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the data directory {}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the key-value database {} is open in another process (a second `manifold`?); \
         give each process its own data directory",
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

/// What a compare-and-swap found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Swap {
    /// The value was as expected and is now the new one.
    Done,
    /// The value had changed; this is what it is now (`None`: absent).
    Changed(Option<Vec<u8>>),
}

/// A counter type for `increment`: `u64` in 0.2.0-draft, `i64` in 0.2.0-draft2. Counters are
/// stored as decimal ASCII, like Redis's `INCRBY` and Wasmtime's in-memory store, so a guest
/// can `get` a counter and a Redis backend would read the same bytes.
pub(crate) trait Counter: Copy + FromStr + fmt::Display + Default + Send + 'static {
    const KIND: &'static str;
    fn checked_add(self, delta: Self) -> Option<Self>;
}

impl Counter for u64 {
    const KIND: &'static str = "u64";
    fn checked_add(self, delta: u64) -> Option<u64> {
        u64::checked_add(self, delta)
    }
}

impl Counter for i64 {
    const KIND: &'static str = "s64";
    fn checked_add(self, delta: i64) -> Option<i64> {
        i64::checked_add(self, delta)
    }
}

fn definition(table: &TableName) -> TableDefinition<'_, &'static str, &'static [u8]> {
    TableDefinition::new(table.as_str())
}

/// A handle on the shared database. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Store {
    db: Arc<Database>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the database file `file_name` in `dir`, creating `dir` if needed,
    /// or shares the handle this process already has on it.
    pub(crate) fn open(dir: &Path, file_name: &str) -> Result<Store, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| OpenError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(file_name);
        let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(db) = open.get(&path).and_then(Weak::upgrade) {
            return Ok(Store { db });
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
        Ok(Store { db })
    }

    /// Creates the tables that do not exist yet, so reads of a new bucket find it empty.
    pub(crate) fn create_tables<'a>(
        &self,
        tables: impl IntoIterator<Item = &'a TableName>,
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

    pub(crate) fn get(&self, table: &TableName, key: &str) -> Result<Option<Vec<u8>>> {
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => get(&t, key),
            None => Ok(None),
        })
    }

    pub(crate) fn exists(&self, table: &TableName, key: &str) -> Result<bool> {
        self.read(|txn| match open_read(txn, table)? {
            Some(t) => Ok(t.get(key).map_err(storage)?.is_some()),
            None => Ok(false),
        })
    }

    pub(crate) fn set(&self, table: &TableName, key: &str, value: &[u8]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            t.insert(key, value).map_err(storage)?;
            Ok(())
        })
    }

    pub(crate) fn delete(&self, table: &TableName, key: &str) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            t.remove(key).map_err(storage)?;
            Ok(())
        })
    }

    /// The page of keys that starts after skipping `offset` keys (0.2.0-draft's `u64` cursor).
    pub(crate) fn keys_from_offset(
        &self,
        table: &TableName,
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
        table: &TableName,
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
        table: &TableName,
        key: &str,
        delta: N,
    ) -> Result<N> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            let current = match get(&t, key)? {
                None => N::default(),
                Some(bytes) => parse_counter::<N>(&bytes)?,
            };
            let new = current
                .checked_add(delta)
                .ok_or_else(|| StoreError::Overflow {
                    kind: N::KIND,
                    current: current.to_string(),
                    delta: delta.to_string(),
                })?;
            t.insert(key, new.to_string().as_bytes()).map_err(storage)?;
            Ok(new)
        })
    }

    /// Writes `new` at `key` if the value there is still `expected` (`None`: absent).
    pub(crate) fn compare_and_swap(
        &self,
        table: &TableName,
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
        table: &TableName,
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
    pub(crate) fn set_many(&self, table: &TableName, pairs: &[(String, Vec<u8>)]) -> Result<()> {
        self.write(|txn| {
            let mut t = txn.open_table(definition(table)).map_err(storage)?;
            for (key, value) in pairs {
                t.insert(key.as_str(), value.as_slice()).map_err(storage)?;
            }
            Ok(())
        })
    }

    /// Deletes every key in one transaction; absent keys are skipped.
    pub(crate) fn delete_many(&self, table: &TableName, keys: &[String]) -> Result<()> {
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
    table: &TableName,
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

fn parse_counter<N: Counter>(bytes: &[u8]) -> Result<N> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.parse::<N>().ok())
        .ok_or_else(|| StoreError::NotACounter(N::KIND, describe_value(bytes)))
}

/// A short, printable rendering of a value for an error message.
fn describe_value(bytes: &[u8]) -> String {
    const SHOWN: usize = 32;
    let shown = String::from_utf8_lossy(&bytes[..bytes.len().min(SHOWN)]).into_owned();
    if bytes.len() > SHOWN {
        format!("{shown:?}… ({} bytes)", bytes.len())
    } else {
        format!("{shown:?}")
    }
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

#[cfg(test)]
mod tests;
