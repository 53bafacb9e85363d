//! The storage behind `wasi:keyvalue`, as the bindings of both drafts see it: one trait,
//! [`Backend`], implemented by the embedded redb store (this crate) and by distributed stores
//! in crates of their own (`manifold-keyvalue-redis`, `manifold-keyvalue-nats`).
//!
//! A backend stores bytes under string keys in an app's bucket ([`ScopedBucket`]) and must
//! keep apps apart: two apps' buckets of the same name never share a key. `increment` and
//! `compare_and_swap` are atomic under concurrent callers, and so is each batch call where
//! the backend can make it so (NATS cannot; both drafts allow it). A backend that
//! fails (down, unreachable, full) returns [`BackendError::Storage`]; the bindings turn it into
//! the guest's `error::other` and a log line, never a trap.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

pub use crate::names::ScopedBucket;

/// The future a [`Backend`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a [`Backend`] method returns.
pub type BackendResult<T> = Result<T, BackendError>;

/// A key with its value, as `get-many` returns it.
pub type KeyValue = (String, Vec<u8>);

/// A failed backend operation.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The storage failed or could not be reached; the guest sees `error::other`.
    #[error(transparent)]
    Storage(Box<dyn std::error::Error + Send + Sync>),
    /// `increment` of a value that is not a decimal counter of the draft's type.
    #[error("the value is not a decimal {0} (it is {1}), so it cannot be incremented")]
    NotACounter(&'static str, String),
    /// A key or value this backend cannot store (e.g. a key longer than the backend's limit).
    #[error("{0}")]
    Unsupported(String),
    /// `increment` past the range of the draft's counter type.
    #[error("adding {delta} to {current} overflows {kind}")]
    Overflow {
        kind: &'static str,
        current: String,
        delta: String,
    },
}

impl BackendError {
    /// A storage failure with this message.
    pub fn storage(message: impl Into<String>) -> BackendError {
        BackendError::Storage(message.into().into())
    }

    /// Whether the guest caused this (a bad counter) rather than the storage failing.
    pub fn is_guest_error(&self) -> bool {
        !matches!(self, BackendError::Storage(_))
    }
}

/// A counter type for `increment`: `u64` in 0.2.0-draft, `i64` in 0.2.0-draft2. Counters are
/// stored as decimal ASCII, like Redis's `INCRBY` and Wasmtime's in-memory store, so a guest
/// can `get` a counter and every backend reads the same bytes.
pub trait Counter: Copy + FromStr + fmt::Display + Default + Send + 'static {
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

/// The counter after adding `delta` to the stored value `current` (absent counts as zero):
/// for backends that read, add and write back under their own atomicity.
pub fn incremented<N: Counter>(current: Option<&[u8]>, delta: N) -> BackendResult<N> {
    let current = match current {
        None => N::default(),
        Some(bytes) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|text| text.parse::<N>().ok())
            .ok_or_else(|| BackendError::NotACounter(N::KIND, describe_value(bytes)))?,
    };
    current
        .checked_add(delta)
        .ok_or_else(|| BackendError::Overflow {
            kind: N::KIND,
            current: current.to_string(),
            delta: delta.to_string(),
        })
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

/// One page of `list-keys`, with the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage<C> {
    pub keys: Vec<String>,
    pub next: Option<C>,
}

/// What a compare-and-swap found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Swap {
    /// The value was as expected and is now the new one.
    Done,
    /// The value had changed; this is what it is now (`None`: absent).
    Changed(Option<Vec<u8>>),
}

/// A key-value store that serves the buckets of apps. Cheap to share (`Arc<dyn Backend>`).
///
/// `list-keys` has one method per draft because the drafts' cursors differ (`u64` in
/// 0.2.0-draft, `string` in 0.2.0-draft2); each backend gives them the meaning it can keep,
/// and a cursor is only ever handed back to the backend that made it.
pub trait Backend: Send + Sync + 'static {
    /// The backend's kind, for log lines (`embedded`, `redis`).
    fn kind(&self) -> &'static str;

    fn get<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<Vec<u8>>>>;

    fn exists<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<bool>>;

    fn set<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Deleting an absent key succeeds.
    fn delete<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// A page of keys for 0.2.0-draft's `u64` cursor (`None`: the first page).
    fn list_keys_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<u64>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<u64>>>;

    /// A page of keys for 0.2.0-draft2's `string` cursor (`None`: the first page).
    fn list_keys_string<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<String>>>;

    /// Adds `delta` to the `u64` counter at `key` (absent counts as zero); the new value.
    fn increment_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: u64,
    ) -> BoxFuture<'a, BackendResult<u64>>;

    /// Adds `delta` to the `s64` counter at `key` (absent counts as zero); the new value.
    fn increment_i64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, BackendResult<i64>>;

    /// Writes `new` at `key` if the value there is still `expected` (`None`: absent), atomically.
    fn compare_and_swap<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<Swap>>;

    /// The value of every key, in order, `None` where absent.
    fn get_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Vec<Option<KeyValue>>>>;

    /// Sets every pair: all of them or, on an error, none, where the backend can (embedded,
    /// Redis); the WIT allows a backend to leave some set on an error (NATS does).
    fn set_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        pairs: &'a [KeyValue],
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Deletes every key, all or none where the backend can (as `set_many`); absent keys are
    /// skipped.
    fn delete_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>>;
}

/// The backend of type `B` for `url` in this process, made by `make` the first time (or again
/// once every user of the previous one is gone): every component, of every app, that names
/// the same URL shares one backend and so one connection (a Redis `ConnectionManager`, a NATS
/// client), instead of opening one each.
pub fn shared_backend<B: Send + Sync + 'static, E>(
    url: &str,
    make: impl FnOnce(&str) -> Result<B, E>,
) -> Result<Arc<B>, E> {
    type Registry = HashMap<(TypeId, String), Weak<dyn Any + Send + Sync>>;
    static SHARED: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);
    let mut shared = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
    let key = (TypeId::of::<B>(), url.to_owned());
    if let Some(backend) = shared.get(&key).and_then(Weak::upgrade)
        && let Ok(backend) = backend.downcast::<B>()
    {
        return Ok(backend);
    }
    shared.retain(|_, backend| backend.strong_count() > 0);
    let backend = Arc::new(make(url)?);
    let any: Arc<dyn Any + Send + Sync> = backend.clone();
    shared.insert(key, Arc::downgrade(&any));
    Ok(backend)
}
