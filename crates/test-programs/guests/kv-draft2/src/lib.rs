//! `kv-draft2`: a wasi:http handler whose routes call every function of
//! `wasi:keyvalue@0.2.0-draft2` (`store`, `atomics` with `cas`, `batch`). The
//! common routes are `kv-support`'s, shared with `kv-draft`; the `cas-*`
//! routes and checks are this draft's own. The contract is in
//! `crates/test-programs/README.md`.

use kv_support::{Draft, KeyPage, KvError, Query, Report, Response};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wit_bindgen::generate!({
    path: "../../../../wit/deps/keyvalue-0.2.0-draft2",
    world: "wasi:keyvalue/imports",
});

use wasi::keyvalue::atomics::{self, Cas, CasError};
use wasi::keyvalue::{batch, store};

struct KvDraft2;

impl Guest for KvDraft2 {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        kv_support::handle::<KvDraft2>(request, response_out);
    }
}

wasip2::http::proxy::export!(KvDraft2);

fn lift(err: store::Error) -> KvError {
    match err {
        store::Error::NoSuchStore => KvError::NoSuchStore,
        store::Error::AccessDenied => KvError::AccessDenied,
        store::Error::Other(message) => KvError::Other(message),
    }
}

impl Draft for KvDraft2 {
    kv_support::common_methods!();

    type Cursor = String;
    type Counter = i64;

    fn list_keys(
        bucket: &store::Bucket,
        cursor: Option<&String>,
    ) -> Result<KeyPage<String>, KvError> {
        let response = bucket.list_keys(cursor.map(String::as_str)).map_err(lift)?;
        Ok(KeyPage {
            keys: response.keys,
            cursor: response.cursor,
        })
    }

    fn increment(bucket: &store::Bucket, key: &str, delta: i64) -> Result<i64, KvError> {
        atomics::increment(bucket, key, delta).map_err(lift)
    }

    fn extra_route(route: &str, q: &Query) -> Option<Result<Response, Response>> {
        let serve = match route {
            "cas-current" => cas_current,
            "cas-swap" => cas_swap,
            "cas-increment" => cas_increment,
            "cas-conflict" => cas_conflict,
            _ => return None,
        };
        Some(open_and_key(q).and_then(|(bucket, key)| serve(&bucket, &key, q)))
    }

    fn extra_checks(b: &store::Bucket, r: &mut Report) {
        let key = |name: &str| format!("selftest-{name}");
        let _ = batch::delete_many(b, &[key("cas"), key("signed")]);

        // atomics.wit, increment on s64: a negative delta decrements.
        r.expect(
            "increment by a negative delta",
            Self::increment(b, &key("signed"), -10),
            Ok(-10),
        );
        r.expect(
            "increment back above zero",
            Self::increment(b, &key("signed"), 12),
            Ok(2),
        );

        // atomics.wit, cas: `current` is the value at `new`; `swap` writes if unchanged.
        let cas = Cas::new(b, &key("cas")).map_err(lift);
        match cas {
            Ok(cas) => {
                r.expect(
                    "cas current of a missing key is none",
                    cas.current().map_err(lift),
                    Ok(None),
                );
                r.expect("swap on an unchanged key", swap(cas, b"1"), Ok(()));
            }
            Err(err) => r.check("cas new", false, || err.to_string()),
        }
        r.expect(
            "get after swap",
            Self::get(b, &key("cas")),
            Ok(Some(b"1".to_vec())),
        );
        match conflict(b, &key("cas")) {
            Ok(steps) => r.expect(
                "a swap after another write fails with a fresh handle that then succeeds",
                steps.as_str(),
                "current=1\nset=2\nswap=cas-failed\nretry current=2\nretry swap=ok\nget=3\n",
            ),
            Err(err) => r.check("cas conflict", false, || err.to_string()),
        }
        let _ = batch::delete_many(b, &[key("cas"), key("signed")]);
    }
}

fn open_and_key(q: &Query) -> Result<(store::Bucket, String), Response> {
    let bucket = store::open(&q.required("bucket")?).map_err(|e| Response::from(lift(e)))?;
    Ok((bucket, q.required("key")?))
}

/// `swap` with its error flattened: a `cas-failed` becomes `other("cas-failed")`.
fn swap(cas: Cas, value: &[u8]) -> Result<(), KvError> {
    match atomics::swap(cas, value) {
        Ok(()) => Ok(()),
        Err(CasError::StoreError(err)) => Err(lift(err)),
        Err(CasError::CasFailed(_)) => Err(KvError::Other("cas-failed".into())),
    }
}

fn show(value: Option<Vec<u8>>) -> String {
    value.map_or_else(
        || "none".into(),
        |v| String::from_utf8_lossy(&v).into_owned(),
    )
}

/// `200` with the value `cas.current` gives, or `404` `none`.
fn cas_current(bucket: &store::Bucket, key: &str, _: &Query) -> Result<Response, Response> {
    let cas = Cas::new(bucket, key).map_err(lift)?;
    Ok(match cas.current().map_err(lift)? {
        Some(value) => Response::ok(value),
        None => Response::new(404, "none"),
    })
}

/// `cas.new`, then `swap` to `value`, if `expect` (when given) is what `current` shows.
fn cas_swap(bucket: &store::Bucket, key: &str, q: &Query) -> Result<Response, Response> {
    let value = q.required("value")?;
    let cas = Cas::new(bucket, key).map_err(lift)?;
    if let Some(expect) = q.get("expect") {
        let current = show(cas.current().map_err(lift)?);
        if current != expect {
            return Ok(Response::new(409, format!("changed: {current}")));
        }
    }
    match atomics::swap(cas, value.as_bytes()) {
        Ok(()) => Ok(Response::ok("ok")),
        Err(CasError::CasFailed(_)) => Ok(Response::new(409, "cas-failed")),
        Err(CasError::StoreError(err)) => Err(lift(err).into()),
    }
}

/// Adds one to a decimal counter with a compare-and-swap loop, retrying with the handle each
/// `cas-failed` hands back: `200` `{new} retries={n}`.
fn cas_increment(bucket: &store::Bucket, key: &str, _: &Query) -> Result<Response, Response> {
    let mut cas = Cas::new(bucket, key).map_err(lift)?;
    let mut retries = 0u32;
    loop {
        let current: Option<Vec<u8>> = cas.current().map_err(lift)?;
        let current = match current {
            None => 0,
            Some(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                text.parse::<i64>()
                    .map_err(|_| Response::new(409, format!("not a number: {text}")))?
            }
        };
        let next = current + 1;
        match atomics::swap(cas, next.to_string().as_bytes()) {
            Ok(()) => return Ok(Response::ok(format!("{next} retries={retries}"))),
            Err(CasError::CasFailed(fresh)) => {
                retries += 1;
                cas = fresh;
            }
            Err(CasError::StoreError(err)) => return Err(lift(err).into()),
        }
    }
}

/// A scripted conflict (see [`conflict`]): `200` with one line per step.
fn cas_conflict(bucket: &store::Bucket, key: &str, _: &Query) -> Result<Response, Response> {
    bucket.set(key, b"1").map_err(lift)?;
    Ok(Response::ok(conflict(bucket, key)?))
}

/// With `key` holding `1`: a CAS handle is made; the key is set to `2` behind its back;
/// its swap to `3` fails and hands back a handle that sees `2`, whose swap succeeds.
fn conflict(bucket: &store::Bucket, key: &str) -> Result<String, KvError> {
    let mut steps = String::new();
    let cas = Cas::new(bucket, key).map_err(lift)?;
    steps += &format!("current={}\n", show(cas.current().map_err(lift)?));
    bucket.set(key, b"2").map_err(lift)?;
    steps += "set=2\n";
    let retry = match atomics::swap(cas, b"3") {
        Ok(()) => {
            steps += "swap=ok\n";
            return Ok(steps);
        }
        Err(CasError::StoreError(err)) => return Err(lift(err)),
        Err(CasError::CasFailed(retry)) => retry,
    };
    steps += "swap=cas-failed\n";
    steps += &format!("retry current={}\n", show(retry.current().map_err(lift)?));
    steps += &format!(
        "retry swap={}\n",
        match swap(retry, b"3") {
            Ok(()) => "ok".to_string(),
            Err(err) => err.to_string(),
        }
    );
    steps += &format!("get={}\n", show(bucket.get(key).map_err(lift)?));
    Ok(steps)
}
