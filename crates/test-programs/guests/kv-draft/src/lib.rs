//! `kv-draft`: a wasi:http handler whose routes call every function of
//! `wasi:keyvalue@0.2.0-draft` (`store`, `atomics`, `batch`). The routes are
//! `kv-support`'s, shared with `kv-draft2`; this crate maps them onto this
//! draft's bindings. The contract is in `crates/test-programs/README.md`.

use kv_support::{Draft, KeyPage, KvError};
use wasip2::exports::http::incoming_handler::Guest;
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

wit_bindgen::generate!({
    path: "../../../../wit/deps/keyvalue-0.2.0-draft",
    world: "wasi:keyvalue/imports",
});

use wasi::keyvalue::{atomics, batch, store};

struct KvDraft;

impl Guest for KvDraft {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        kv_support::handle::<KvDraft>(request, response_out);
    }
}

wasip2::http::proxy::export!(KvDraft);

fn lift(err: store::Error) -> KvError {
    match err {
        store::Error::NoSuchStore => KvError::NoSuchStore,
        store::Error::AccessDenied => KvError::AccessDenied,
        store::Error::Other(message) => KvError::Other(message),
    }
}

impl Draft for KvDraft {
    kv_support::common_methods!();

    type Cursor = u64;
    type Counter = u64;

    fn list_keys(bucket: &store::Bucket, cursor: Option<&u64>) -> Result<KeyPage<u64>, KvError> {
        let response = bucket.list_keys(cursor.copied()).map_err(lift)?;
        Ok(KeyPage {
            keys: response.keys,
            cursor: response.cursor,
        })
    }

    fn increment(bucket: &store::Bucket, key: &str, delta: u64) -> Result<u64, KvError> {
        atomics::increment(bucket, key, delta).map_err(lift)
    }
}
