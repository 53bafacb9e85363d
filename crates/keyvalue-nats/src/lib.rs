//! A `wasi:keyvalue` backend on NATS JetStream key-value buckets, for apps whose instances run
//! on several machines that share a NATS server (or cluster) with JetStream enabled.
//!
//! Each app's bucket is a JetStream bucket of its own, `mf-APP-BUCKET` with the names encoded
//! to NATS's narrow alphabet (see `names`), created on first use; the guest's keys are encoded
//! the same way and decoded for `list-keys`. Two apps, or two buckets, never share a JetStream
//! bucket. An operator sees an app's buckets with `nats kv ls` (the bucket's description
//! names the app and bucket).
//!
//! Atomicity comes from JetStream's per-key revisions: `increment` and compare-and-swap read the
//! key's entry and write with "expected last revision", retrying when another writer got there
//! first, so concurrent increments are exact. NATS 2.9 and 2.10 have no multi-key transaction
//! (atomic batch publish arrived in 2.12), so `get-many` reads each key on its own (not one
//! snapshot) and `set-many`/`delete-many` write each key on its own, concurrently: on an
//! error some keys may be written and others not, which both drafts' `batch.wit` allows.
//!
//! One client per server URL per process ([`NatsBackend::shared`]), made on first use, so an
//! app starts while NATS is down. While the client is disconnected, calls fail at once with
//! [`BackendError::Storage`] (the guest sees `error::other`, the operator a log line) and the
//! client reconnects in the background; calls succeed again when NATS is back.

mod listings;
mod names;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt, stream};
use manifold_builtin_keyvalue::backend::{
    Backend, BackendError, BackendResult, BoxFuture, Counter, KeyPage, KeyValue, ScopedBucket,
    Swap, incremented, shared_backend,
};
use manifold_nats_client::{JetStream, LazyJetStream, NatsServers};

use listings::{Cursor, Listings, Snapshot};
use names::{MAX_ENCODED_KEY, bucket_name, decode_key, encode_key};

/// Keys returned by one `list-keys` page.
const PAGE_KEYS: usize = 1000;
/// How long to wait for a connection, and for JetStream's reply to a request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long `increment` and compare-and-swap keep retrying a write that lost the race.
const RETRY_FOR: Duration = Duration::from_secs(5);

pub use manifold_nats_client::NatsAuth;
/// The NATS URL could not be used.
pub use manifold_nats_client::UrlError as ConfigError;

/// A NATS server (or cluster) with JetStream, holding the buckets of apps. Cheap to share.
pub struct NatsBackend {
    connection: LazyJetStream,
    /// Open JetStream buckets; an entry is dropped when a call on it fails, so a bucket that
    /// vanished (a server that lost its storage) is looked up, or created, again.
    stores: Mutex<HashMap<ScopedBucket, kv::Store>>,
    /// The rest of each listing in progress, so its pages do not read the bucket again.
    listings: Listings,
    /// How many times a bucket's keys were read whole (for tests of the above).
    key_reads: std::sync::atomic::AtomicU64,
}

impl NatsBackend {
    /// A backend on the NATS at `url` (`nats://[user:password@]host[:port]`, `tls://…`, or
    /// several separated by commas). Nothing is connected until the first call.
    pub fn new(url: &str) -> Result<NatsBackend, ConfigError> {
        NatsBackend::with_auth(url, NatsAuth::default())
    }

    /// [`NatsBackend::new`], authenticating also with `auth` (a credentials file, TLS roots).
    pub fn with_auth(url: &str, auth: NatsAuth) -> Result<NatsBackend, ConfigError> {
        let servers = NatsServers::parse("the key-value", url, auth)?;
        Ok(NatsBackend {
            connection: LazyJetStream::new(servers, "key-value", CONNECT_TIMEOUT, REQUEST_TIMEOUT),
            stores: Mutex::new(HashMap::new()),
            listings: Listings::default(),
            key_reads: Default::default(),
        })
    }

    /// The backend of `url` for this process: every component (of every app) that names the
    /// same URL shares one backend, and so one NATS connection.
    pub fn shared(url: &str, auth: &NatsAuth) -> Result<Arc<NatsBackend>, ConfigError> {
        let key = format!("{url}\n{auth:?}");
        shared_backend(&key, |_| NatsBackend::with_auth(url, auth.clone()))
    }

    /// The connection, made on first use (which needs a Tokio runtime); an error while the
    /// client is between connections.
    async fn connection(&self) -> BackendResult<&JetStream> {
        self.connection.get().await.map_err(BackendError::storage)
    }

    /// The JetStream bucket of `scope`, created if it does not exist yet.
    async fn store(&self, scope: &ScopedBucket) -> BackendResult<kv::Store> {
        let connection = self.connection().await?;
        if let Some(store) = self.stores().get(scope) {
            return Ok(store.clone());
        }
        let name = bucket_name(scope);
        let store = match connection.jetstream.get_key_value(name.as_str()).await {
            Ok(store) => store,
            Err(_) => {
                // The stream a key-value bucket is, as `create_key_value` would make it; made
                // directly because `create_key_value` first asks for the account's limits,
                // whose reply from a 2.9 server this client cannot read.
                let config = jetstream::stream::Config {
                    name: format!("KV_{name}"),
                    description: Some(format!(
                        "manifold key-value: app {:?}, bucket {:?}",
                        scope.app(),
                        scope.bucket()
                    )),
                    subjects: vec![format!("$KV.{name}.>")],
                    max_messages_per_subject: 1,
                    max_bytes: -1,
                    max_messages: -1,
                    allow_rollup: true,
                    deny_delete: true,
                    allow_direct: true,
                    discard: jetstream::stream::DiscardPolicy::New,
                    num_replicas: 1,
                    ..Default::default()
                };
                let created = connection.jetstream.create_stream(config).await;
                // Another process may have created it in between: look it up again either way.
                match connection.jetstream.get_key_value(name.as_str()).await {
                    Ok(store) => store,
                    Err(get) => {
                        let why = match created {
                            Err(create) => create.to_string(),
                            Ok(_) => get.to_string(),
                        };
                        return Err(BackendError::storage(format!(
                            "cannot open or create the JetStream key-value bucket {name}: {why} \
                             (is JetStream enabled, `nats-server -js`?)"
                        )));
                    }
                }
            }
        };
        self.stores().insert(scope.clone(), store.clone());
        Ok(store)
    }

    fn stores(&self) -> std::sync::MutexGuard<'_, HashMap<ScopedBucket, kv::Store>> {
        self.stores.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Passes `result` on, forgetting the bucket's handle if the storage failed.
    fn checked<T>(&self, scope: &ScopedBucket, result: BackendResult<T>) -> BackendResult<T> {
        if let Err(BackendError::Storage(_)) = &result {
            self.stores().remove(scope);
        }
        result
    }

    async fn get_value(&self, scope: &ScopedBucket, key: &str) -> BackendResult<Option<Bytes>> {
        // A key too long to store was never stored.
        let Some(key) = encode_key(key) else {
            return Ok(None);
        };
        let store = self.store(scope).await?;
        let value = store.get(key).await.map_err(|e| failed("get", e));
        self.checked(scope, value)
    }

    async fn put(&self, scope: &ScopedBucket, key: &str, value: &[u8]) -> BackendResult<()> {
        let key = encode_key(key).ok_or_else(|| too_long(key))?;
        let store = self.store(scope).await?;
        let done = store
            .put(key, Bytes::copy_from_slice(value))
            .await
            .map(drop)
            .map_err(|e| failed("put", e));
        self.checked(scope, done)
    }

    async fn remove(&self, scope: &ScopedBucket, key: &str) -> BackendResult<()> {
        let Some(key) = encode_key(key) else {
            return Ok(());
        };
        let store = self.store(scope).await?;
        let done = store.delete(key).await.map_err(|e| failed("delete", e));
        self.checked(scope, done)
    }

    /// Every key of the bucket, sorted, so pages are stable between calls.
    async fn sorted_keys(&self, scope: &ScopedBucket) -> BackendResult<Vec<String>> {
        self.key_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let store = self.store(scope).await?;
        let listed = async {
            let encoded: Vec<String> = store
                .keys()
                .await
                .map_err(|e| failed("list keys", e))?
                .try_collect()
                .await
                .map_err(|e| failed("list keys", e))?;
            Ok(encoded)
        }
        .await;
        let mut keys: Vec<String> = self
            .checked(scope, listed)?
            .iter()
            .filter_map(|encoded| decode_key(encoded))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Ok(keys)
    }

    /// The listing a page continues: kept from its first page when the cursor is known,
    /// else the bucket's keys read now, starting where `start` finds the cursor in them.
    async fn listing(
        &self,
        bucket: &ScopedBucket,
        cursor: Option<Cursor>,
        start: impl FnOnce(&[String]) -> usize,
    ) -> BackendResult<(Snapshot, Instant)> {
        if let Some(cursor) = &cursor
            && let Some(kept) = self.listings.resume(bucket, cursor)
        {
            return Ok(kept);
        }
        let keys: Arc<[String]> = self.sorted_keys(bucket).await?.into();
        let start = start(&keys);
        Ok((Snapshot { keys, start }, Instant::now()))
    }

    /// One page of `snapshot`; the rest is kept under the page's cursor (`next(end, last)`:
    /// the keys returned so far, and the last of them).
    fn page<C: Clone + Into<Cursor>>(
        &self,
        bucket: &ScopedBucket,
        snapshot: Snapshot,
        taken: Instant,
        next: impl FnOnce(usize, &str) -> C,
    ) -> KeyPage<C> {
        let Snapshot { keys, start } = snapshot;
        let end = (start + PAGE_KEYS).min(keys.len());
        let page = keys[start..end].to_vec();
        let cursor = match page.last() {
            Some(last) if end < keys.len() => Some(next(end, last)),
            _ => None,
        };
        if let Some(cursor) = &cursor {
            self.listings.keep(
                bucket,
                cursor.clone().into(),
                Snapshot { keys, start: end },
                taken,
            );
        }
        KeyPage {
            keys: page,
            next: cursor,
        }
    }

    /// Reads the key's entry and writes `update(current)` expecting the revision read,
    /// again while another writer gets there first. `update` returns the value to write, or
    /// `Err(outcome)` to stop without writing.
    async fn read_modify_write<T>(
        &self,
        scope: &ScopedBucket,
        key: &str,
        update: impl Fn(Option<&[u8]>) -> BackendResult<Result<(Bytes, T), T>>,
    ) -> BackendResult<T> {
        let encoded = encode_key(key).ok_or_else(|| too_long(key))?;
        let store = self.store(scope).await?;
        let started = Instant::now();
        let result = async {
            loop {
                let entry = store
                    .entry(encoded.as_str())
                    .await
                    .map_err(|e| failed("read", e))?;
                let (current, revision) = match &entry {
                    Some(entry) if entry.operation == kv::Operation::Put => {
                        (Some(&entry.value[..]), entry.revision)
                    }
                    // Deleted: absent, but the next write must follow the delete marker.
                    Some(entry) => (None, entry.revision),
                    None => (None, 0),
                };
                let (value, outcome) = match update(current)? {
                    Ok(write) => write,
                    Err(outcome) => return Ok(outcome),
                };
                match store.update(encoded.as_str(), value, revision).await {
                    Ok(_) => return Ok(outcome),
                    Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        if started.elapsed() > RETRY_FOR {
                            return Err(BackendError::storage(format!(
                                "gave up after {RETRY_FOR:?}: the key kept changing under \
                                 concurrent writers"
                            )));
                        }
                        tokio::task::yield_now().await;
                    }
                    Err(err) => return Err(failed("write", err)),
                }
            }
        }
        .await;
        self.checked(scope, result)
    }

    async fn increment<N: Counter>(
        &self,
        scope: &ScopedBucket,
        key: &str,
        delta: N,
    ) -> BackendResult<N> {
        self.read_modify_write(scope, key, |current| {
            let new = incremented(current, delta)?;
            Ok(Ok((Bytes::from(new.to_string()), new)))
        })
        .await
    }
}

impl Backend for NatsBackend {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn get<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<Vec<u8>>>> {
        Box::pin(async move { Ok(self.get_value(bucket, key).await?.map(Vec::from)) })
    }

    fn exists<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(async move { Ok(self.get_value(bucket, key).await?.is_some()) })
    }

    fn set<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(self.put(bucket, key, value))
    }

    fn delete<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(self.remove(bucket, key))
    }

    /// The cursor is how many keys (in key order) were already returned.
    fn list_keys_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<u64>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<u64>>> {
        Box::pin(async move {
            let offset = cursor.unwrap_or(0);
            let (snapshot, taken) = self
                .listing(bucket, cursor.map(Cursor::Offset), |keys| {
                    usize::try_from(offset)
                        .unwrap_or(usize::MAX)
                        .min(keys.len())
                })
                .await?;
            Ok(self.page(bucket, snapshot, taken, |end, _| {
                u64::try_from(end).unwrap_or(u64::MAX)
            }))
        })
    }

    /// The cursor is the last key returned; the next page starts after it.
    fn list_keys_string<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<String>>> {
        Box::pin(async move {
            let (snapshot, taken) = self
                .listing(
                    bucket,
                    cursor.map(|c| Cursor::After(c.to_owned())),
                    |keys| cursor.map_or(0, |after| keys.partition_point(|k| k.as_str() <= after)),
                )
                .await?;
            Ok(self.page(bucket, snapshot, taken, |_, last| last.to_owned()))
        })
    }

    fn increment_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: u64,
    ) -> BoxFuture<'a, BackendResult<u64>> {
        Box::pin(self.increment(bucket, key, delta))
    }

    fn increment_i64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, BackendResult<i64>> {
        Box::pin(self.increment(bucket, key, delta))
    }

    fn compare_and_swap<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<Swap>> {
        Box::pin(self.read_modify_write(bucket, key, move |current| {
            Ok(if current == expected {
                Ok((Bytes::copy_from_slice(new), Swap::Done))
            } else {
                Err(Swap::Changed(current.map(<[u8]>::to_vec)))
            })
        }))
    }

    fn get_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Vec<Option<KeyValue>>>> {
        Box::pin(async move {
            // In order, FAN_OUT at a time. Collected first: a closure inside the stream's type
            // trips rustc's `Send` inference for the boxed future.
            let calls: Vec<_> = keys
                .iter()
                .map(|key| async move {
                    let value = self.get_value(bucket, key).await?;
                    Ok::<_, BackendError>(value.map(|v| (key.clone(), Vec::from(v))))
                })
                .collect();
            stream::iter(calls).buffered(FAN_OUT).try_collect().await
        })
    }

    fn set_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        pairs: &'a [KeyValue],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            // Refuse the whole batch, before writing anything, if a key cannot be stored.
            if let Some((key, _)) = pairs.iter().find(|(key, _)| encode_key(key).is_none()) {
                return Err(too_long(key));
            }
            let mut pending = stream::FuturesUnordered::new();
            for (key, value) in pairs {
                if pending.len() >= FAN_OUT
                    && let Some(done) = pending.next().await
                {
                    done?;
                }
                pending.push(self.put(bucket, key, value));
            }
            while let Some(done) = pending.next().await {
                done?;
            }
            Ok(())
        })
    }

    fn delete_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let mut pending = stream::FuturesUnordered::new();
            for key in keys {
                if pending.len() >= FAN_OUT
                    && let Some(done) = pending.next().await
                {
                    done?;
                }
                pending.push(self.remove(bucket, key));
            }
            while let Some(done) = pending.next().await {
                done?;
            }
            Ok(())
        })
    }
}

/// Calls of one guest batch in flight at once: a list of a million keys is a million calls,
/// not a million at once.
const FAN_OUT: usize = 16;

fn failed(what: &str, err: impl std::fmt::Display) -> BackendError {
    BackendError::storage(format!("NATS {what} failed: {err}"))
}

fn too_long(key: &str) -> BackendError {
    BackendError::Unsupported(format!(
        "the key ({} bytes) is too long for the NATS key-value backend: encoded for NATS it \
         would exceed {MAX_ENCODED_KEY} bytes (bytes other than ASCII letters, digits, `_`, \
         `-` and `/` take three)",
        key.len()
    ))
}

#[cfg(test)]
mod tests;
