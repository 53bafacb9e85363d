//! The routes of the `wasi:keyvalue` conformance guests (`kv-draft`, `kv-draft2`), written
//! once against [`Draft`], which each guest implements with its own draft's bindings; and
//! the HTTP side they share (routing on the last path segment, query parameters, responses).
//! The contract is in `crates/test-programs/README.md`; keep the two in step.

use std::fmt;
use std::io::Read as _;
use std::str::FromStr;

use probe_support::http::{percent_decode, respond};

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

mod selftest;

pub use selftest::Report;

/// The `error` variant of `wasi:keyvalue/store`, which both drafts define alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    NoSuchStore,
    AccessDenied,
    Other(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::NoSuchStore => f.write_str("no-such-store"),
            KvError::AccessDenied => f.write_str("access-denied"),
            KvError::Other(message) => write!(f, "other: {message}"),
        }
    }
}

/// A key with its value, as `get-many` returns it.
pub type KeyValue = (String, Vec<u8>);

/// One page of `list-keys`.
pub struct KeyPage<C> {
    pub keys: Vec<String>,
    pub cursor: Option<C>,
}

/// One draft of `wasi:keyvalue`, as a guest sees it.
pub trait Draft {
    /// The `bucket` resource.
    type Bucket;
    /// The `list-keys` cursor: `u64` in 0.2.0-draft, `string` in 0.2.0-draft2.
    type Cursor: FromStr + fmt::Display + Clone + PartialEq;
    /// `increment`'s delta and result: `u64` in 0.2.0-draft, `s64` in 0.2.0-draft2.
    type Counter: FromStr + fmt::Display + fmt::Debug + Copy + PartialEq + From<u8>;

    fn open(identifier: &str) -> Result<Self::Bucket, KvError>;
    fn get(bucket: &Self::Bucket, key: &str) -> Result<Option<Vec<u8>>, KvError>;
    fn set(bucket: &Self::Bucket, key: &str, value: &[u8]) -> Result<(), KvError>;
    fn delete(bucket: &Self::Bucket, key: &str) -> Result<(), KvError>;
    fn exists(bucket: &Self::Bucket, key: &str) -> Result<bool, KvError>;
    fn list_keys(
        bucket: &Self::Bucket,
        cursor: Option<&Self::Cursor>,
    ) -> Result<KeyPage<Self::Cursor>, KvError>;
    fn increment(
        bucket: &Self::Bucket,
        key: &str,
        delta: Self::Counter,
    ) -> Result<Self::Counter, KvError>;
    fn get_many(bucket: &Self::Bucket, keys: &[String]) -> Result<Vec<Option<KeyValue>>, KvError>;
    fn set_many(bucket: &Self::Bucket, pairs: &[KeyValue]) -> Result<(), KvError>;
    fn delete_many(bucket: &Self::Bucket, keys: &[String]) -> Result<(), KvError>;

    /// Routes only this draft has (compare-and-swap); `None` for a route it does not know.
    fn extra_route(route: &str, query: &Query) -> Option<Result<Response, Response>> {
        let _ = (route, query);
        None
    }

    /// Checks only this draft has, run by `/selftest` on `bucket`.
    fn extra_checks(bucket: &Self::Bucket, report: &mut Report) {
        let _ = (bucket, report);
    }
}

/// The [`Draft`] methods the two guests write alike, expanded inside `impl Draft for …`
/// where `store` and `batch` are that guest's generated interfaces and `lift` turns its
/// `store::Error` into a [`KvError`].
#[macro_export]
macro_rules! common_methods {
    () => {
        type Bucket = store::Bucket;

        fn open(identifier: &str) -> Result<store::Bucket, $crate::KvError> {
            store::open(identifier).map_err(lift)
        }

        fn get(bucket: &store::Bucket, key: &str) -> Result<Option<Vec<u8>>, $crate::KvError> {
            bucket.get(key).map_err(lift)
        }

        fn set(bucket: &store::Bucket, key: &str, value: &[u8]) -> Result<(), $crate::KvError> {
            bucket.set(key, value).map_err(lift)
        }

        fn delete(bucket: &store::Bucket, key: &str) -> Result<(), $crate::KvError> {
            bucket.delete(key).map_err(lift)
        }

        fn exists(bucket: &store::Bucket, key: &str) -> Result<bool, $crate::KvError> {
            bucket.exists(key).map_err(lift)
        }

        fn get_many(
            bucket: &store::Bucket,
            keys: &[String],
        ) -> Result<Vec<Option<$crate::KeyValue>>, $crate::KvError> {
            batch::get_many(bucket, keys).map_err(lift)
        }

        fn set_many(
            bucket: &store::Bucket,
            pairs: &[$crate::KeyValue],
        ) -> Result<(), $crate::KvError> {
            batch::set_many(bucket, pairs).map_err(lift)
        }

        fn delete_many(bucket: &store::Bucket, keys: &[String]) -> Result<(), $crate::KvError> {
            batch::delete_many(bucket, keys).map_err(lift)
        }
    };
}

/// A response: a status and a `text/plain` body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            body: body.into(),
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200, body)
    }

    pub fn bad_request(message: impl fmt::Display) -> Response {
        Response::new(400, format!("{message}\n"))
    }
}

/// A wasi:keyvalue error value becomes `500` `error: {variant}`.
impl From<KvError> for Response {
    fn from(err: KvError) -> Response {
        Response::new(500, format!("error: {err}"))
    }
}

/// The query of a request: `k=v&k=v`, values `%XX`-decoded.
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(query: &str) -> Query {
        let pairs = query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Query { pairs }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.raw(name).map(percent_decode)
    }

    /// The value of `name`, or a `400` that says it is missing.
    pub fn required(&self, name: &str) -> Result<String, Response> {
        self.get(name)
            .ok_or_else(|| Response::bad_request(format!("missing query parameter `{name}`")))
    }

    /// A comma-separated list (each item decoded after splitting, so `%2C` is a comma in an
    /// item); empty when the parameter is absent or empty.
    pub fn list(&self, name: &str) -> Vec<String> {
        match self.raw(name) {
            None | Some("") => Vec::new(),
            Some(raw) => raw.split(',').map(percent_decode).collect(),
        }
    }

    /// The parameter parsed as `T`, or `default` when absent, or a `400`.
    pub fn parsed<T: FromStr>(&self, name: &str, default: Option<T>) -> Result<T, Response> {
        match (self.get(name), default) {
            (Some(text), _) => text.parse().map_err(|_| {
                Response::bad_request(format!("query parameter `{name}` is malformed: {text:?}"))
            }),
            (None, Some(default)) => Ok(default),
            (None, None) => Err(Response::bad_request(format!(
                "missing query parameter `{name}`"
            ))),
        }
    }
}

/// Answers one request: the route is the last segment of the path, so the guest works under
/// any mount prefix (`/kv/draft/get` is `/get`).
pub fn handle<D: Draft>(request: IncomingRequest, response_out: ResponseOutparam) {
    let path_with_query = request.path_with_query().unwrap_or_default();
    let (path, query) = path_with_query
        .split_once('?')
        .unwrap_or((path_with_query.as_str(), ""));
    let route = path.rsplit('/').next().unwrap_or_default();
    let query = Query::parse(query);
    let response = match serve::<D>(route, &query, request) {
        Ok(response) | Err(response) => response,
    };
    respond(response_out, response.status, &response.body);
}

/// `n` `get`s or `set`s of one key, back to back; the body is the nanoseconds they took by the
/// guest's monotonic clock, so HTTP is not part of the measurement (`scripts/bench-keyvalue`).
fn bench<D: Draft>(bucket: &D::Bucket, q: &Query) -> Result<Response, Response> {
    use wasip2::clocks::monotonic_clock;
    let key = q.required("key")?;
    let n: u64 = q.parsed("n", None)?;
    let value = vec![b'x'; q.parsed("size", Some(3usize))?];
    let start = monotonic_clock::now();
    match q.required("op")?.as_str() {
        "get" => {
            for _ in 0..n {
                D::get(bucket, &key)?;
            }
        }
        "set" => {
            for _ in 0..n {
                D::set(bucket, &key, &value)?;
            }
        }
        other => return Err(Response::bad_request(format!("op {other:?}: get or set"))),
    }
    Ok(Response::ok(
        monotonic_clock::now().saturating_sub(start).to_string(),
    ))
}

fn serve<D: Draft>(route: &str, q: &Query, request: IncomingRequest) -> Result<Response, Response> {
    let ok = || Response::ok("ok");
    let open = || D::open(&q.required("bucket")?).map_err(Response::from);
    match route {
        "open" => open().map(|_| ok()),
        "get" => {
            let bucket = open()?;
            Ok(match D::get(&bucket, &q.required("key")?)? {
                Some(value) => Response::ok(value),
                None => Response::new(404, "none"),
            })
        }
        "set" => {
            let bucket = open()?;
            let key = q.required("key")?;
            let value = match q.get("value") {
                Some(value) => value.into_bytes(),
                None => read_body(request)?,
            };
            D::set(&bucket, &key, &value)?;
            Ok(ok())
        }
        "delete" => {
            D::delete(&open()?, &q.required("key")?)?;
            Ok(ok())
        }
        "exists" => {
            let found = D::exists(&open()?, &q.required("key")?)?;
            Ok(Response::ok(found.to_string()))
        }
        "list-keys" => {
            let bucket = open()?;
            let cursor = match q.get("cursor") {
                Some(_) => Some(q.parsed::<D::Cursor>("cursor", None)?),
                None => None,
            };
            let page = D::list_keys(&bucket, cursor.as_ref())?;
            let mut body = match page.cursor {
                Some(cursor) => format!("cursor: {cursor}\n"),
                None => "cursor: none\n".to_string(),
            };
            for key in page.keys {
                body.push_str(&key);
                body.push('\n');
            }
            Ok(Response::ok(body))
        }
        "list-all" => {
            let (pages, keys) = list_all::<D>(&open()?)?;
            let mut body = format!("pages: {pages}\n");
            for key in keys {
                body.push_str(&key);
                body.push('\n');
            }
            Ok(Response::ok(body))
        }
        "increment" => {
            let bucket = open()?;
            let key = q.required("key")?;
            let delta = q.parsed("delta", Some(D::Counter::from(1)))?;
            Ok(Response::ok(
                D::increment(&bucket, &key, delta)?.to_string(),
            ))
        }
        "get-many" => {
            let found = D::get_many(&open()?, &q.list("keys"))?;
            let mut body = Vec::new();
            for entry in found {
                match entry {
                    Some((key, value)) => {
                        body.extend_from_slice(key.as_bytes());
                        body.push(b'=');
                        body.extend_from_slice(&value);
                    }
                    None => body.extend_from_slice(b"none"),
                }
                body.push(b'\n');
            }
            Ok(Response::ok(body))
        }
        "set-many" => {
            let (keys, values) = (q.list("keys"), q.list("values"));
            if keys.len() != values.len() {
                return Err(Response::bad_request(format!(
                    "{} keys but {} values",
                    keys.len(),
                    values.len()
                )));
            }
            let pairs: Vec<KeyValue> = keys
                .into_iter()
                .zip(values.into_iter().map(String::into_bytes))
                .collect();
            D::set_many(&open()?, &pairs)?;
            Ok(ok())
        }
        "delete-many" => {
            D::delete_many(&open()?, &q.list("keys"))?;
            Ok(ok())
        }
        "fill" => {
            let bucket = open()?;
            let prefix = q.get("prefix").unwrap_or_default();
            let count: usize = q.parsed("count", None)?;
            let pairs: Vec<KeyValue> = (0..count)
                .map(|i| (format!("{prefix}{i:05}"), i.to_string().into_bytes()))
                .collect();
            D::set_many(&bucket, &pairs)?;
            Ok(ok())
        }
        "selftest" => Ok(selftest::run::<D>(&open()?)),
        "bench" => bench::<D>(&open()?, q),
        other => D::extra_route(other, q).unwrap_or_else(|| Ok(Response::new(404, "not found\n"))),
    }
}

/// Every key, following cursors to the end: how many pages it took, and the keys.
pub fn list_all<D: Draft>(bucket: &D::Bucket) -> Result<(usize, Vec<String>), KvError> {
    const MAX_PAGES: usize = 100_000;
    let mut keys = Vec::new();
    let mut cursor = None;
    for pages in 1..=MAX_PAGES {
        let page = D::list_keys(bucket, cursor.as_ref())?;
        keys.extend(page.keys);
        match page.cursor {
            Some(next) if Some(&next) == cursor.as_ref() => {
                return Err(KvError::Other(format!(
                    "list-keys returned its own cursor `{next}` again"
                )));
            }
            Some(next) => cursor = Some(next),
            None => return Ok((pages, keys)),
        }
    }
    Err(KvError::Other(format!(
        "list-keys still had a cursor after {MAX_PAGES} pages"
    )))
}

fn read_body(request: IncomingRequest) -> Result<Vec<u8>, Response> {
    let failed = |what: &str| Response::new(500, format!("reading the request body: {what}"));
    let body = request.consume().map_err(|()| failed("consumed twice"))?;
    let mut bytes = Vec::new();
    {
        let mut stream = body.stream().map_err(|()| failed("no stream"))?;
        stream
            .read_to_end(&mut bytes)
            .map_err(|err| failed(&err.to_string()))?;
    }
    wasip2::http::types::IncomingBody::finish(body);
    Ok(bytes)
}
