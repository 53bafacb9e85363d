//! The storage behind `wasi:keyvalue`, as the bindings of both drafts see it: one trait,
//! [`Backend`], implemented by the embedded redb store (this crate) and by distributed stores
//! in crates of their own (`manifold-keyvalue-redis`).
//!
//! A backend stores bytes under string keys in an app's bucket ([`ScopedBucket`]) and must
//! keep apps apart: two apps' buckets of the same name never share a key. `increment`,
//! `compare_and_swap` and each batch call are atomic under concurrent callers. A backend that
//! fails (down, unreachable, full) returns [`BackendError::Storage`]; the bindings turn it into
//! the guest's `error::other` and a log line, never a trap.

use std::future::Future;
use std::pin::Pin;

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

    /// Sets every pair: all of them or, on an error, none.
    fn set_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        pairs: &'a [KeyValue],
    ) -> BoxFuture<'a, BackendResult<()>>;

    /// Deletes every key, all or none; absent keys are skipped.
    fn delete_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>>;
}
