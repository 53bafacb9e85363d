//! A `wasi:blobstore` backend on NATS JetStream object stores, for apps whose instances run on
//! several machines that share a NATS server (or cluster) with JetStream enabled.
//!
//! Each app has one object store of its own, `mf-APP` (see `names`): its containers are
//! zero-byte marker objects `CONTAINER` and its objects are `CONTAINER/OBJECT` in that store,
//! so two apps never share a stream, and an operator sees an app's data with
//! `nats object ls mf-APP`. The layout is the standard object store's (chunks on
//! `$O.BUCKET.C.NUID`, one JSON meta message per name on `$O.BUCKET.M.NAME` rolled up), so
//! `nats object get` reads what a guest wrote.
//!
//! Writes stream: the guest's bytes are published in 128 KiB chunks under a fresh NUID as they
//! arrive, before the object's name is even known, and nothing refers to them until
//! [`ObjectWriter::commit`] publishes the meta message, which replaces the name's previous
//! meta in one JetStream write: a reader sees the old object or the whole new one, never part
//! of one. A write dropped unfinished has its chunks purged; one cut off by a crash leaves
//! chunks that no name refers to (invisible, but stored until the app's store is removed).
//! A commit is acknowledged once JetStream has stored the meta message, which is as durable as
//! the server's storage (file storage, replicas, `sync_interval`) makes it.
//!
//! Reads stream too: an ordered consumer delivers the object's chunks, a range is cut from
//! them, and the SHA-256 digest is checked when the whole object is read (the last bytes are
//! held back until it matches). Replacing or deleting an object purges its old chunks, so a
//! read in progress at that moment ends with an error (after at most [`READ_IDLE`]) rather
//! than with bytes of another version. JetStream has no ranged read: `get-data` of a range
//! still streams the chunks before it.
//!
//! One client per server URL per process ([`NatsBackend::shared`]), made on first use, so an
//! app starts while NATS is down. While the client is disconnected, calls fail at once with
//! [`BackendError::Storage`] (the guest sees the interface's error, the operator a log line)
//! and the client reconnects in the background; calls succeed again when NATS is back.

mod names;

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream::object_store::{ObjectInfo, ObjectOptions, ObjectStore};
use async_nats::jetstream::{self, consumer, stream};
use async_nats::{Client, HeaderMap};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use manifold_builtin_blobstore::backend::{
    Backend, BackendError, BackendResult, BoxFuture, ContainerInfo, ObjectData, ObjectInfo as Info,
    ObjectNames, ObjectWriter, ScopedContainer,
};
use manifold_builtin_keyvalue::backend::shared_backend;
use manifold_nats_client::{JetStream, LazyJetStream, NatsServers};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::mpsc;

use names::{bucket_name, marker_name, object_name, object_prefix};

/// The size of the chunks objects are stored in (the object store's default).
const CHUNK_SIZE: usize = 128 * 1024;
/// How long to wait for a connection, and for JetStream's reply to a request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a read waits for the next chunk before it fails (NATS gone, or the object
/// replaced or deleted under it).
pub const READ_IDLE: Duration = Duration::from_secs(10);
/// How long listing a store's names may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

pub use manifold_nats_client::NatsAuth;
/// The NATS URL could not be used.
pub use manifold_nats_client::UrlError as ConfigError;

/// A NATS server (or cluster) with JetStream, holding the containers of apps. Cheap to share.
pub struct NatsBackend {
    inner: Arc<Inner>,
}

struct Inner {
    connection: LazyJetStream,
    /// Open object stores by app; an entry is dropped when a call on it fails, so a store that
    /// vanished (a server that lost its storage) is looked up, or created, again.
    stores: Mutex<HashMap<String, Store>>,
}

/// The object store of one app.
#[derive(Clone)]
struct Store {
    bucket: String,
    client: Client,
    jetstream: jetstream::Context,
    objects: ObjectStore,
    stream: stream::Stream,
}

impl NatsBackend {
    /// A backend on the NATS at `url` (`nats://[user:password@]host[:port]`, `tls://…`, or
    /// several separated by commas). Nothing is connected until the first call.
    pub fn new(url: &str) -> Result<NatsBackend, ConfigError> {
        NatsBackend::with_auth(url, NatsAuth::default())
    }

    /// [`NatsBackend::new`], authenticating also with `auth` (a credentials file, TLS roots).
    pub fn with_auth(url: &str, auth: NatsAuth) -> Result<NatsBackend, ConfigError> {
        let servers = NatsServers::parse("the blobstore", url, auth)?;
        Ok(NatsBackend {
            inner: Arc::new(Inner {
                connection: LazyJetStream::new(
                    servers,
                    "blobstore",
                    CONNECT_TIMEOUT,
                    REQUEST_TIMEOUT,
                ),
                stores: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The backend of `url` for this process: every component (of every app) that names the
    /// same URL shares one backend, and so one NATS connection.
    pub fn shared(url: &str, auth: &NatsAuth) -> Result<Arc<NatsBackend>, ConfigError> {
        let key = format!("{url}\n{auth:?}");
        shared_backend(&key, |_| NatsBackend::with_auth(url, auth.clone()))
    }
}

impl Inner {
    /// The connection, made on first use (which needs a Tokio runtime); an error while the
    /// client is between connections.
    async fn connection(&self) -> BackendResult<&JetStream> {
        self.connection.get().await.map_err(BackendError::storage)
    }

    /// The object store of app `app`, created if it does not exist yet.
    async fn store(&self, app: &str) -> BackendResult<Store> {
        let connection = self.connection().await?;
        if let Some(store) = self.stores().get(app) {
            return Ok(store.clone());
        }
        let bucket = bucket_name(app);
        let jetstream = &connection.jetstream;
        let objects = match jetstream.get_object_store(&bucket).await {
            Ok(objects) => objects,
            Err(_) => {
                let created = jetstream
                    .create_object_store(jetstream::object_store::Config {
                        bucket: bucket.clone(),
                        description: Some(format!("manifold blobstore: app {app:?}")),
                        num_replicas: 1,
                        ..Default::default()
                    })
                    .await;
                // Another process may have created it in between: look it up again either way.
                match jetstream.get_object_store(&bucket).await {
                    Ok(objects) => objects,
                    Err(get) => {
                        let why = match created {
                            Err(create) => create.to_string(),
                            Ok(_) => get.to_string(),
                        };
                        return Err(BackendError::storage(format!(
                            "cannot open or create the JetStream object store {bucket}: {why} \
                             (is JetStream enabled, `nats-server -js`?)"
                        )));
                    }
                }
            }
        };
        let stream = jetstream
            .get_stream(format!("OBJ_{bucket}"))
            .await
            .map_err(|e| failed("open the object store's stream", e))?;
        let store = Store {
            bucket,
            client: connection.client.clone(),
            jetstream: jetstream.clone(),
            objects,
            stream,
        };
        self.stores().insert(app.to_owned(), store.clone());
        Ok(store)
    }

    fn stores(&self) -> std::sync::MutexGuard<'_, HashMap<String, Store>> {
        self.stores.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Passes `result` on, forgetting app `app`'s store if the storage failed.
    fn checked<T>(&self, app: &str, result: BackendResult<T>) -> BackendResult<T> {
        if let Err(BackendError::Storage(_)) = &result {
            self.stores().remove(app);
        }
        result
    }
}

impl Store {
    fn meta_subject(&self, name: &str) -> String {
        format!("$O.{}.M.{}", self.bucket, URL_SAFE.encode(name))
    }

    fn chunk_subject(&self, nuid: &str) -> String {
        format!("$O.{}.C.{nuid}", self.bucket)
    }

    /// The meta of the live object `name` (not deleted, not a link someone else made).
    async fn info(&self, name: &str) -> BackendResult<Option<ObjectInfo>> {
        let message = match self
            .stream
            .get_last_raw_message_by_subject(&self.meta_subject(name))
            .await
        {
            Ok(message) => message,
            Err(e) if e.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
                return Ok(None);
            }
            Err(e) => return Err(failed("read object meta", e)),
        };
        let info: ObjectInfo = serde_json::from_slice(&message.payload)
            .map_err(|e| failed(&format!("decode the meta of {name:?}"), e))?;
        let link = info.options.as_ref().is_some_and(|o| o.link.is_some());
        Ok((!info.deleted && !link).then_some(info))
    }

    /// Publishes `info` as the only meta of its name (a roll-up), atomically replacing the
    /// previous one.
    async fn publish_meta(&self, info: &ObjectInfo) -> BackendResult<()> {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_ROLLUP, "sub");
        let payload = serde_json::to_vec(info).map_err(|e| failed("encode object meta", e))?;
        self.jetstream
            .publish_with_headers(self.meta_subject(&info.name), headers, payload.into())
            .await
            .map_err(|e| failed("publish object meta", e))?
            .await
            .map_err(|e| failed("store object meta", e))?;
        Ok(())
    }

    async fn purge_chunks(&self, nuid: &str) -> BackendResult<()> {
        self.stream
            .purge()
            .filter(self.chunk_subject(nuid))
            .await
            .map(drop)
            .map_err(|e| failed("purge old chunks", e))
    }

    /// Replaces the meta of `info`'s name with a deletion marker, then purges its chunks
    /// unless `keep_chunks` (a move that handed them to another name).
    async fn delete(&self, mut info: ObjectInfo, keep_chunks: bool) -> BackendResult<()> {
        let nuid = info.nuid.clone();
        info.deleted = true;
        info.size = 0;
        info.chunks = 0;
        info.digest = None;
        info.modified = Some(OffsetDateTime::now_utc());
        self.publish_meta(&info).await?;
        if !keep_chunks {
            self.purge_chunks(&nuid).await?;
        }
        Ok(())
    }

    async fn container_exists(&self, scope: &ScopedContainer) -> BackendResult<bool> {
        Ok(self.info(&marker_name(scope.name())).await?.is_some())
    }

    async fn require_container(&self, scope: &ScopedContainer) -> BackendResult<()> {
        if self.container_exists(scope).await? {
            Ok(())
        } else {
            Err(BackendError::NoSuchContainer(scope.name().to_owned()))
        }
    }

    /// The error for object `name` of `scope` that is not there: which of the two is missing.
    async fn missing(&self, scope: &ScopedContainer, name: &str) -> BackendError {
        match self.require_container(scope).await {
            Err(e) => e,
            Ok(()) => BackendError::NoSuchObject {
                container: scope.name().to_owned(),
                object: name.to_owned(),
            },
        }
    }

    /// The live object `name` of `scope`, or the error saying what is missing.
    async fn object(&self, scope: &ScopedContainer, name: &str) -> BackendResult<ObjectInfo> {
        match self.info(&object_name(scope.name(), name)).await? {
            Some(info) => Ok(info),
            None => Err(self.missing(scope, name).await),
        }
    }

    /// The names of every live object of container `scope`, sorted.
    async fn names(&self, scope: &ScopedContainer) -> BackendResult<Vec<String>> {
        let prefix = object_prefix(scope.name());
        let listed = async {
            let mut list = self
                .objects
                .list()
                .await
                .map_err(|e| failed("list objects", e))?;
            let mut names = Vec::new();
            while let Some(info) = list.next().await {
                let info = info.map_err(|e| failed("list objects", e))?;
                let link = info.options.as_ref().is_some_and(|o| o.link.is_some());
                if let Some(name) = info.name.strip_prefix(&prefix)
                    && !link
                {
                    names.push(name.to_owned());
                }
            }
            Ok(names)
        };
        let mut names = tokio::time::timeout(LIST_TIMEOUT, listed)
            .await
            .map_err(|_| {
                BackendError::storage(format!("listing objects took over {LIST_TIMEOUT:?}"))
            })??;
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }

    /// Deletes every object of `scope` (the container must exist).
    async fn clear(&self, scope: &ScopedContainer) -> BackendResult<()> {
        let names = self.names(scope).await?;
        self.delete_objects(scope, &names).await
    }

    async fn delete_objects(&self, scope: &ScopedContainer, names: &[String]) -> BackendResult<()> {
        // FAN_OUT at a time: a guest's list of names may be long.
        let mut pending = futures_util::stream::FuturesUnordered::new();
        for name in names {
            if pending.len() >= FAN_OUT
                && let Some(done) = pending.next().await
            {
                done?;
            }
            pending.push(self.delete_object(scope, name));
        }
        while let Some(done) = pending.next().await {
            done?;
        }
        Ok(())
    }

    async fn delete_object(&self, scope: &ScopedContainer, name: &str) -> BackendResult<()> {
        match self.info(&object_name(scope.name(), name)).await? {
            Some(info) => self.delete(info, false).await,
            None => Ok(()),
        }
    }
}

/// Deletions of one batch in flight at once.
const FAN_OUT: usize = 16;

/// An object being written: its chunks are published as they fill, under a NUID that no
/// name refers to until [`ObjectWriter::commit`].
struct Writer {
    store: Store,
    inner: Arc<Inner>,
    app: String,
    nuid: String,
    buffer: BytesMut,
    digest: Sha256,
    size: u64,
    chunks: usize,
    committed: bool,
}

impl Writer {
    async fn publish_chunk(&mut self, chunk: Bytes) -> BackendResult<()> {
        self.store
            .jetstream
            .publish(self.store.chunk_subject(&self.nuid), chunk)
            .await
            .map_err(|e| failed("publish a chunk", e))?
            .await
            .map_err(|e| failed("store a chunk", e))?;
        self.chunks += 1;
        Ok(())
    }

    async fn append(&mut self, chunk: Bytes) -> BackendResult<()> {
        self.digest.update(&chunk);
        self.size += chunk.len() as u64;
        self.buffer.extend_from_slice(&chunk);
        while self.buffer.len() >= CHUNK_SIZE {
            let full = self.buffer.split_to(CHUNK_SIZE).freeze();
            self.publish_chunk(full).await?;
        }
        Ok(())
    }

    async fn finish(&mut self, scope: &ScopedContainer, name: &str) -> BackendResult<()> {
        if scope.app() != self.app {
            return Err(BackendError::storage(format!(
                "an object started for app {:?} cannot be committed to app {:?}",
                self.app,
                scope.app()
            )));
        }
        if !self.buffer.is_empty() {
            let rest = self.buffer.split().freeze();
            self.publish_chunk(rest).await?;
        }
        self.store.require_container(scope).await?;
        let full = object_name(scope.name(), name);
        let previous = self.store.info(&full).await?;
        let digest = std::mem::take(&mut self.digest).finalize();
        let info = ObjectInfo {
            name: full,
            description: None,
            metadata: HashMap::new(),
            headers: None,
            options: Some(ObjectOptions {
                link: None,
                max_chunk_size: Some(CHUNK_SIZE),
            }),
            bucket: self.store.bucket.clone(),
            nuid: self.nuid.clone(),
            size: usize::try_from(self.size).unwrap_or(usize::MAX),
            chunks: self.chunks,
            modified: Some(OffsetDateTime::now_utc()),
            digest: Some(format!("SHA-256={}", URL_SAFE.encode(digest))),
            deleted: false,
        };
        self.store.publish_meta(&info).await?;
        self.committed = true;
        if let Some(previous) = previous
            && let Err(e) = self.store.purge_chunks(&previous.nuid).await
        {
            // The new object is in place; only the old one's space is not yet reclaimed.
            tracing::warn!(
                object = %info.name,
                bucket = %self.store.bucket,
                "could not purge the chunks of the replaced object: {e}"
            );
        }
        Ok(())
    }
}

impl ObjectWriter for Writer {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, BackendResult<()>> {
        Box::pin(async move {
            let result = self.append(chunk).await;
            self.inner.checked(&self.app, result)
        })
    }

    fn commit<'a>(
        mut self: Box<Self>,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = self.finish(container, name).await;
            self.inner.checked(&self.app, result)
        })
    }
}

impl Drop for Writer {
    /// An object never committed: its chunks are purged in the background.
    fn drop(&mut self) {
        if self.committed || self.chunks == 0 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (store, nuid) = (self.store.clone(), self.nuid.clone());
            runtime.spawn(async move {
                if let Err(e) = store.purge_chunks(&nuid).await {
                    tracing::debug!("could not purge the chunks of an unfinished object: {e}");
                }
            });
        }
    }
}

/// The names of a container's objects, listed up front.
struct Names(std::vec::IntoIter<String>);

impl ObjectNames for Names {
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, BackendResult<Vec<String>>> {
        let batch = self.0.by_ref().take(max.max(1)).collect();
        Box::pin(async move { Ok(batch) })
    }
}

/// The bytes of an object, as the task reading its chunks hands them over.
struct ChunkReader {
    chunks: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.current.is_empty() {
            match self.chunks.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                Poll::Ready(Some(Ok(bytes))) => self.current = bytes,
            }
        }
        let n = self.current.len().min(buf.remaining());
        let bytes = self.current.split_to(n);
        buf.put_slice(&bytes);
        Poll::Ready(Ok(()))
    }
}

/// Feeds bytes `start..start + len` of the object `info` from its chunks to `out`, holding
/// the last piece back until the digest of a whole-object read has matched.
async fn pump(
    mut messages: consumer::push::Ordered,
    info: ObjectInfo,
    start: u64,
    len: u64,
    out: mpsc::Sender<io::Result<Bytes>>,
) {
    let end = start + len;
    let result = async {
        let mut offset = 0u64;
        let mut digest = Sha256::new();
        let mut held: Option<Bytes> = None;
        while offset < end {
            let message = match tokio::time::timeout(READ_IDLE, messages.next()).await {
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "no chunk of object {:?} arrived for {READ_IDLE:?} (NATS is down, or \
                             the object was replaced or deleted while being read)",
                            info.name
                        ),
                    ));
                }
                Ok(None) => return Err(io::Error::other("the chunk subscription ended early")),
                Ok(Some(Err(e))) => {
                    return Err(io::Error::other(format!("reading a chunk from NATS: {e}")));
                }
                Ok(Some(Ok(message))) => message,
            };
            let payload = message.payload.clone();
            digest.update(&payload);
            let chunk_start = offset;
            offset += payload.len() as u64;
            let size = payload.len() as u64;
            let from = usize::try_from(start.saturating_sub(chunk_start).min(size)).unwrap_or(0);
            let to = usize::try_from(end.saturating_sub(chunk_start).min(size)).unwrap_or(0);
            if from < to
                && let Some(previous) = held.replace(payload.slice(from..to))
                && out.send(Ok(previous)).await.is_err()
            {
                return Ok(()); // the reader is gone
            }
        }
        if start == 0
            && offset == info.size as u64
            && let Some(expected) = &info.digest
        {
            let got = format!("SHA-256={}", URL_SAFE.encode(digest.finalize()));
            if &got != expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("object {:?} does not match its digest", info.name),
                ));
            }
        }
        if let Some(last) = held {
            let _ = out.send(Ok(last)).await;
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = out.send(Err(e)).await;
    }
}

impl NatsBackend {
    async fn read(
        &self,
        scope: &ScopedContainer,
        name: &str,
        start: u64,
        end: u64,
    ) -> BackendResult<ObjectData> {
        let store = self.inner.store(scope.app()).await?;
        let info = store.object(scope, name).await?;
        let len = range_len(name, info.size as u64, start, end)?;
        let (sender, chunks) = mpsc::channel(4);
        if len > 0 {
            let consumer = store
                .stream
                .create_consumer(consumer::push::OrderedConfig {
                    deliver_subject: store.client.new_inbox(),
                    filter_subject: store.chunk_subject(&info.nuid),
                    ..Default::default()
                })
                .await
                .map_err(|e| failed("start reading an object", e))?;
            let messages = consumer
                .messages()
                .await
                .map_err(|e| failed("start reading an object", e))?;
            tokio::spawn(pump(messages, info, start, len, sender));
        }
        Ok(ObjectData {
            len,
            reader: Box::pin(ChunkReader {
                chunks,
                current: Bytes::new(),
            }),
        })
    }

    async fn writer(&self, app: &str) -> BackendResult<Writer> {
        let store = self.inner.store(app).await?;
        Ok(Writer {
            store,
            inner: self.inner.clone(),
            app: app.to_owned(),
            nuid: nuid::next().to_string(),
            buffer: BytesMut::new(),
            digest: Sha256::new(),
            size: 0,
            chunks: 0,
            committed: false,
        })
    }

    async fn copy(
        &self,
        src: (&ScopedContainer, &str),
        dest: (&ScopedContainer, &str),
    ) -> BackendResult<()> {
        let target = self.inner.store(dest.0.app()).await?;
        target.require_container(dest.0).await?;
        let mut data = self.read(src.0, src.1, 0, u64::MAX).await?;
        let mut writer = self.writer(dest.0.app()).await?;
        loop {
            let mut buffer = BytesMut::with_capacity(CHUNK_SIZE);
            let n = data
                .reader
                .read_buf(&mut buffer)
                .await
                .map_err(|e| failed(&format!("read {:?} to copy it", src.1), e))?;
            if n == 0 {
                break;
            }
            writer.append(buffer.freeze()).await?;
        }
        writer.finish(dest.0, dest.1).await
    }

    async fn rename(
        &self,
        src: (&ScopedContainer, &str),
        dest: (&ScopedContainer, &str),
    ) -> BackendResult<()> {
        if src.0.app() != dest.0.app() {
            // Different object stores: the bytes have to move.
            self.copy(src, dest).await?;
            let store = self.inner.store(src.0.app()).await?;
            return store.delete_objects(src.0, &[src.1.to_owned()]).await;
        }
        let store = self.inner.store(src.0.app()).await?;
        let source = store.object(src.0, src.1).await?;
        store.require_container(dest.0).await?;
        let target_name = object_name(dest.0.name(), dest.1);
        if source.name == target_name {
            return Ok(());
        }
        let previous = store.info(&target_name).await?;
        let moved = ObjectInfo {
            name: target_name,
            ..source.clone()
        };
        // The destination refers to the chunks first, then the source stops referring to them.
        store.publish_meta(&moved).await?;
        store.delete(source, true).await?;
        if let Some(previous) = previous
            && previous.nuid != moved.nuid
        {
            store.purge_chunks(&previous.nuid).await?;
        }
        Ok(())
    }
}

impl Backend for NatsBackend {
    fn kind(&self) -> &'static str {
        "nats"
    }

    fn create_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                if store.container_exists(container).await? {
                    return Err(BackendError::ContainerExists(container.name().to_owned()));
                }
                let now = OffsetDateTime::now_utc();
                let marker = ObjectInfo {
                    name: marker_name(container.name()),
                    description: Some("manifold blob container".to_owned()),
                    metadata: HashMap::new(),
                    headers: None,
                    options: None,
                    bucket: store.bucket.clone(),
                    nuid: nuid::next().to_string(),
                    size: 0,
                    chunks: 0,
                    modified: Some(now),
                    digest: Some(format!("SHA-256={}", URL_SAFE.encode(Sha256::digest([])))),
                    deleted: false,
                };
                store.publish_meta(&marker).await?;
                Ok(ContainerInfo {
                    created_at: seconds(Some(now)),
                })
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn container_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<ContainerInfo>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                match store.info(&marker_name(container.name())).await? {
                    Some(marker) => Ok(ContainerInfo {
                        created_at: seconds(marker.modified),
                    }),
                    None => Err(BackendError::NoSuchContainer(container.name().to_owned())),
                }
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn delete_container<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                let Some(marker) = store.info(&marker_name(container.name())).await? else {
                    return Err(BackendError::NoSuchContainer(container.name().to_owned()));
                };
                store.clear(container).await?;
                store.delete(marker, false).await
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn object_info<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
    ) -> BoxFuture<'a, BackendResult<Info>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                let info = store.object(container, name).await?;
                Ok(Info {
                    created_at: seconds(info.modified),
                    size: info.size as u64,
                })
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn read_object<'a>(
        &'a self,
        container: &'a ScopedContainer,
        name: &'a str,
        start: u64,
        end: u64,
    ) -> BoxFuture<'a, BackendResult<ObjectData>> {
        Box::pin(async move {
            let result = self.read(container, name, start, end).await;
            self.inner.checked(container.app(), result)
        })
    }

    fn start_write<'a>(
        &'a self,
        app: &'a str,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectWriter>>> {
        Box::pin(async move {
            let result = self.writer(app).await;
            let writer = self.inner.checked(app, result)?;
            Ok(Box::new(writer) as Box<dyn ObjectWriter>)
        })
    }

    fn list_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
    ) -> BoxFuture<'a, BackendResult<Box<dyn ObjectNames>>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                store.require_container(container).await?;
                store.names(container).await
            }
            .await;
            let names = self.inner.checked(container.app(), result)?;
            Ok(Box::new(Names(names.into_iter())) as Box<dyn ObjectNames>)
        })
    }

    fn delete_objects<'a>(
        &'a self,
        container: &'a ScopedContainer,
        names: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                store.require_container(container).await?;
                store.delete_objects(container, names).await
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn clear<'a>(&'a self, container: &'a ScopedContainer) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = async {
                let store = self.inner.store(container.app()).await?;
                store.require_container(container).await?;
                store.clear(container).await
            }
            .await;
            self.inner.checked(container.app(), result)
        })
    }

    fn copy_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = self.copy(src, dest).await;
            self.inner.checked(dest.0.app(), result)
        })
    }

    fn move_object<'a>(
        &'a self,
        src: (&'a ScopedContainer, &'a str),
        dest: (&'a ScopedContainer, &'a str),
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let result = self.rename(src, dest).await;
            self.inner.checked(src.0.app(), result)
        })
    }
}

/// Seconds since the Unix epoch of an object store time (0 if unknown).
fn seconds(time: Option<OffsetDateTime>) -> u64 {
    time.map_or(0, |t| u64::try_from(t.unix_timestamp()).unwrap_or(0))
}

/// The length of `start..=end` in an object of `size` bytes; `end` is capped at the last
/// byte, and any range of an empty object is empty (as the embedded backend does).
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

fn failed(what: &str, err: impl std::fmt::Display) -> BackendError {
    BackendError::storage(format!("NATS could not {what}: {err}"))
}

#[cfg(test)]
mod tests;
