//! A `wasi:keyvalue` backend on Redis, for apps whose instances run on several machines.
//!
//! Keys are scoped per app and bucket: the guest's key `k` in bucket `b` of app `a` is the
//! Redis key `manifold:a:b:k`, with `%` and `:` in the app and bucket names written `%25` and
//! `%3A`, so the first three `:` always separate the scope from the key and two apps (or two
//! buckets) can never reach each other's keys. `list-keys` is `SCAN MATCH` on that prefix.
//!
//! Atomicity comes from Redis: `increment` is `INCRBY`, compare-and-swap a Lua script,
//! `get-many` one `MGET` and `set-many`/`delete-many` one `MULTI`/`EXEC` pipeline.
//!
//! The connection is a [`ConnectionManager`], made on first use and shared by every component
//! in the process that names the same URL ([`RedisBackend::shared`]): when Redis goes away, calls fail fast with [`BackendError::Storage`] (the
//! guest sees `error::other`, the operator a log line), and the manager reconnects when Redis
//! is back.
//!
//! Messages name the server by its URL with the password hidden
//! ([`manifold_config::redact_url`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use manifold_builtin_keyvalue::backend::{
    Backend, BackendError, BackendResult, BoxFuture, KeyPage, KeyValue, ScopedBucket, Swap,
    shared_backend,
};
use manifold_config::redact_url;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script};
use tokio::sync::OnceCell;

/// Keys collected for one `list-keys` page before it is returned (a page may hold a few more:
/// one `SCAN` step is never split).
const PAGE_KEYS: usize = 1000;
/// How long to wait for a connection, and for a reply, before the call fails.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The Redis backend could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("the key-value Redis URL {url:?} is not usable: {source}")]
pub struct ConfigError {
    /// Redacted.
    url: String,
    #[source]
    source: RedisError,
}

/// A call to Redis failed (the server is unreachable, or it refused the command).
#[derive(Debug, thiserror::Error)]
#[error("the key-value Redis at {server}: {source}")]
pub struct StorageError {
    /// The URL, redacted.
    server: String,
    // Not `#[source]`: the message already holds it, and a log line shows only the message.
    source: RedisError,
}

/// A Redis server holding the buckets of apps. Cheap to share.
pub struct RedisBackend {
    client: Client,
    /// The URL, redacted, for messages.
    server: String,
    connection: OnceCell<ConnectionManager>,
}

impl RedisBackend {
    /// A backend on the Redis at `url` (`redis://[user:password@]host[:port][/db]`). Nothing
    /// is connected until the first call, so an app starts while Redis is down.
    pub fn new(url: &str) -> Result<RedisBackend, ConfigError> {
        let client = Client::open(url).map_err(|source| ConfigError {
            url: redact_url(url),
            source,
        })?;
        Ok(RedisBackend {
            client,
            server: redact_url(url),
            connection: OnceCell::new(),
        })
    }

    /// The backend of `url` for this process: every component (of every app) that names the
    /// same URL shares one backend, and so one `ConnectionManager`.
    pub fn shared(url: &str) -> Result<Arc<RedisBackend>, ConfigError> {
        shared_backend(url, RedisBackend::new)
    }

    /// The shared connection, made on first use (which needs a Tokio runtime).
    async fn connection(&self) -> BackendResult<ConnectionManager> {
        let manager = self
            .connection
            .get_or_try_init(|| async {
                // Few, quick retries: a guest waits for them, and a call that fails now is
                // better than one that outlives the request's deadline. Every failed call
                // starts a new reconnection, so the app recovers when Redis is back.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(Duration::from_millis(500));
                ConnectionManager::new_lazy_with_config(self.client.clone(), config)
            })
            .await
            .map_err(|e| self.storage_error(e))?;
        Ok(manager.clone())
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> BackendResult<T> {
        let mut connection = self.connection().await?;
        cmd.query_async(&mut connection)
            .await
            .map_err(|e| self.storage_error(e))
    }

    fn storage_error(&self, source: RedisError) -> BackendError {
        BackendError::Storage(Box::new(StorageError {
            server: self.server.clone(),
            source,
        }))
    }

    async fn scan(&self, bucket: &ScopedBucket, mut cursor: u64) -> BackendResult<KeyPage<u64>> {
        let prefix = key_prefix(bucket);
        let pattern = format!("{}*", glob_escape(&prefix));
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = self
                .query(command(
                    "SCAN",
                    (cursor, "MATCH", pattern.as_str(), "COUNT", PAGE_KEYS),
                ))
                .await?;
            for raw in batch {
                // Keys under our prefix were written by guests, whose keys are strings; a key
                // someone else put there that is not UTF-8 cannot be listed.
                let Ok(raw) = String::from_utf8(raw) else {
                    continue;
                };
                if let Some(key) = raw.strip_prefix(&prefix)
                    && seen.insert(key.to_owned())
                {
                    keys.push(key.to_owned());
                }
            }
            cursor = next;
            if cursor == 0 || keys.len() >= PAGE_KEYS {
                break;
            }
        }
        Ok(KeyPage {
            keys,
            next: (cursor != 0).then_some(cursor),
        })
    }
}

impl Backend for RedisBackend {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<Option<Vec<u8>>>> {
        Box::pin(self.query(command("GET", redis_key(bucket, key))))
    }

    fn exists<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<bool>> {
        Box::pin(self.query(command("EXISTS", redis_key(bucket, key))))
    }

    fn set<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        value: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(self.query(command("SET", (redis_key(bucket, key), value))))
    }

    fn delete<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            self.query::<i64>(command("DEL", redis_key(bucket, key)))
                .await
                .map(drop)
        })
    }

    /// The cursor is Redis's `SCAN` cursor; keys are in no particular order.
    fn list_keys_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<u64>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<u64>>> {
        Box::pin(self.scan(bucket, cursor.unwrap_or(0)))
    }

    /// The cursor is Redis's `SCAN` cursor in decimal; keys are in no particular order.
    fn list_keys_string<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        cursor: Option<&'a str>,
    ) -> BoxFuture<'a, BackendResult<KeyPage<String>>> {
        Box::pin(async move {
            let start = match cursor {
                None => 0,
                Some(text) => text.parse::<u64>().map_err(|_| {
                    BackendError::storage(format!(
                        "{text:?} is not a list-keys cursor this store returned"
                    ))
                })?,
            };
            let page = self.scan(bucket, start).await?;
            Ok(KeyPage {
                keys: page.keys,
                next: page.next.map(|c| c.to_string()),
            })
        })
    }

    /// Redis counters are signed 64-bit integers, so a `u64` counter ends at `i64::MAX`.
    fn increment_u64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: u64,
    ) -> BoxFuture<'a, BackendResult<u64>> {
        Box::pin(async move {
            let overflow = |current: String| BackendError::Overflow {
                kind: "u64 (a Redis integer)",
                current,
                delta: delta.to_string(),
            };
            let signed = i64::try_from(delta).map_err(|_| overflow("the counter".into()))?;
            let new = incrby(self, bucket, key, signed, "u64").await?;
            u64::try_from(new).map_err(|_| BackendError::NotACounter("u64", new.to_string()))
        })
    }

    fn increment_i64<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        delta: i64,
    ) -> BoxFuture<'a, BackendResult<i64>> {
        Box::pin(incrby(self, bucket, key, delta, "s64"))
    }

    fn compare_and_swap<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        key: &'a str,
        expected: Option<&'a [u8]>,
        new: &'a [u8],
    ) -> BoxFuture<'a, BackendResult<Swap>> {
        Box::pin(async move {
            // One script runs alone on the server: nothing can write between its GET and SET.
            static CAS: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
                Script::new(
                    r"
                    local current = redis.call('GET', KEYS[1])
                    local expected_present = ARGV[1] == '1'
                    if (expected_present and current == ARGV[2])
                        or (not expected_present and current == false) then
                        redis.call('SET', KEYS[1], ARGV[3])
                        return {'done'}
                    end
                    if current == false then return {'changed'} end
                    return {'changed', current}
                    ",
                )
            });
            let mut invocation = CAS.key(redis_key(bucket, key));
            invocation
                .arg(if expected.is_some() { "1" } else { "0" })
                .arg(expected.unwrap_or_default())
                .arg(new);
            let mut connection = self.connection().await?;
            let reply: Vec<Vec<u8>> = invocation
                .invoke_async(&mut connection)
                .await
                .map_err(|e| self.storage_error(e))?;
            match reply.as_slice() {
                [done] if done == b"done" => Ok(Swap::Done),
                [changed] if changed == b"changed" => Ok(Swap::Changed(None)),
                [changed, now] if changed == b"changed" => Ok(Swap::Changed(Some(now.clone()))),
                _ => Err(BackendError::storage(
                    "the compare-and-swap script gave an unexpected reply",
                )),
            }
        })
    }

    fn get_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<Vec<Option<KeyValue>>>> {
        Box::pin(async move {
            if keys.is_empty() {
                return Ok(Vec::new());
            }
            let scoped: Vec<String> = keys.iter().map(|key| redis_key(bucket, key)).collect();
            let values: Vec<Option<Vec<u8>>> = self.query(command("MGET", scoped)).await?;
            Ok(keys
                .iter()
                .zip(values)
                .map(|(key, value)| value.map(|v| (key.clone(), v)))
                .collect())
        })
    }

    fn set_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        pairs: &'a [KeyValue],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for (key, value) in pairs {
                pipe.set(redis_key(bucket, key), value.as_slice()).ignore();
            }
            exec(self, &pipe).await
        })
    }

    fn delete_many<'a>(
        &'a self,
        bucket: &'a ScopedBucket,
        keys: &'a [String],
    ) -> BoxFuture<'a, BackendResult<()>> {
        Box::pin(async move {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for key in keys {
                pipe.del(redis_key(bucket, key)).ignore();
            }
            exec(self, &pipe).await
        })
    }
}

async fn exec(backend: &RedisBackend, pipe: &redis::Pipeline) -> BackendResult<()> {
    let mut connection = backend.connection().await?;
    pipe.query_async::<()>(&mut connection)
        .await
        .map_err(|e| backend.storage_error(e))
}

/// `INCRBY`, with Redis's refusals turned into the counter errors the drafts describe.
async fn incrby(
    backend: &RedisBackend,
    bucket: &ScopedBucket,
    key: &str,
    delta: i64,
    kind: &'static str,
) -> BackendResult<i64> {
    let mut connection = backend.connection().await?;
    command("INCRBY", (redis_key(bucket, key), delta))
        .query_async(&mut connection)
        .await
        .map_err(|err| {
            let detail = err.detail().unwrap_or_default();
            if err.code() == Some("ERR") && detail.contains("not an integer") {
                BackendError::NotACounter(kind, "a value Redis cannot read as an integer".into())
            } else if err.code() == Some("ERR") && detail.contains("overflow") {
                BackendError::Overflow {
                    kind,
                    current: "the counter".into(),
                    delta: delta.to_string(),
                }
            } else {
                backend.storage_error(err)
            }
        })
}

fn command(name: &str, args: impl redis::ToRedisArgs) -> redis::Cmd {
    let mut cmd = redis::cmd(name);
    cmd.arg(args);
    cmd
}

/// `manifold:APP:BUCKET:`, with `%` and `:` escaped in the names.
fn key_prefix(bucket: &ScopedBucket) -> String {
    format!(
        "manifold:{}:{}:",
        escape_name(bucket.app()),
        escape_name(bucket.bucket())
    )
}

fn redis_key(bucket: &ScopedBucket, key: &str) -> String {
    let mut full = key_prefix(bucket);
    full.push_str(key);
    full
}

fn escape_name(name: &str) -> String {
    name.replace('%', "%25").replace(':', "%3A")
}

/// `text` as a `SCAN MATCH` pattern that matches only itself.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(app: &str, bucket: &str) -> ScopedBucket {
        ScopedBucket::checked(app, bucket).expect("valid names")
    }

    #[test]
    fn keys_are_scoped_by_app_and_bucket_without_ambiguity() {
        assert_eq!(
            redis_key(&scope("shop", "default"), "k"),
            "manifold:shop:default:k"
        );
        // A `:` in a bucket name cannot move the key into another bucket's range.
        let a = redis_key(&scope("a", "b:c"), "k");
        let b = redis_key(&scope("a", "b"), "c:k");
        assert_ne!(a, b);
        assert!(!a.starts_with(&key_prefix(&scope("a", "b"))));
        assert_eq!(a, "manifold:a:b%3Ac:k");
        assert_eq!(key_prefix(&scope("team/a%", "x")), "manifold:team/a%25:x:");
    }

    #[test]
    fn scan_patterns_match_only_the_prefix() {
        assert_eq!(
            glob_escape("manifold:a*b?[c]\\:"),
            "manifold:a\\*b\\?\\[c\\]\\\\:"
        );
    }

    /// Every message that names the server hides its password; the host stays.
    #[tokio::test]
    async fn messages_name_the_server_without_its_password() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let backend = RedisBackend::new("redis://app:s3cret@127.0.0.1:1/0").expect("a valid URL");
        let err = backend
            .get(&scope("app", "default"), "k")
            .await
            .expect_err("no Redis there")
            .to_string();
        assert!(
            err.starts_with("the key-value Redis at redis://app:***@127.0.0.1:1/0: "),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");

        let err = RedisBackend::new("redis://app:s3cret@127.0.0.1:notaport")
            .err()
            .expect("refused")
            .to_string();
        assert!(err.contains("redis://app:***@127.0.0.1:notaport"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_a_storage_error_not_a_hang() {
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        let backend = RedisBackend::new("redis://127.0.0.1:1").expect("a valid URL");
        let bucket = scope("app", "default");
        let start = std::time::Instant::now();
        for _ in 0..2 {
            let err = backend.get(&bucket, "k").await.expect_err("no Redis there");
            assert!(matches!(err, BackendError::Storage(_)), "{err}");
            assert!(!err.is_guest_error());
        }
        assert!(
            start.elapsed() < CONNECT_TIMEOUT * 4,
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn one_backend_per_url_per_process() {
        let a = RedisBackend::shared("redis://127.0.0.1:1/5").expect("a valid URL");
        let b = RedisBackend::shared("redis://127.0.0.1:1/5").expect("a valid URL");
        let c = RedisBackend::shared("redis://127.0.0.1:1/6").expect("a valid URL");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn a_bad_url_is_a_config_error() {
        let err = RedisBackend::new("not a url").err().expect("refused");
        assert!(err.to_string().contains("not a url"), "{err}");
    }
}
