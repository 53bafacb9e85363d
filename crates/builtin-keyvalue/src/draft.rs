//! `wasi:keyvalue@0.2.0-draft` (the draft Wasmtime and wasmCloud ship): `store`, `atomics`
//! (only `increment`, on `u64`), `batch`. WIT: `wit/deps/keyvalue-0.2.0-draft/`.
//!
//! Where the draft leaves room, this is what we do:
//! - `get` of a missing key is `ok(none)` (store.wit, `get`).
//! - `list-keys` pages hold at most 1000 keys (or 256 KiB of them), in bytewise order. The
//!   `u64` cursor is the number of keys already returned: the next page starts after skipping
//!   that many, and the cursor is `none` on the last page (store.wit, `key-response`). Keys
//!   written or deleted between pages shift later pages, which the draft allows ("MAY show an
//!   out-of-date list of keys").
//! - `increment` of a missing key stores `delta` (atomics.wit); counters are decimal text, and
//!   a value that is not a decimal `u64`, or a sum past `u64::MAX`, is `error::other`.
//! - `batch` is stronger than the draft asks: each call is one transaction, all or nothing.

use wasmtime::component::Resource;

use crate::host::{GuestError, KvView, OpenBucket, common_bindings};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/keyvalue-0.2.0-draft",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable | tracing },
        with: {
            "wasi:keyvalue/store.bucket": crate::host::OpenBucket,
        },
    });
}

pub(crate) use bindings::wasi::keyvalue::{atomics, batch, store};

common_bindings!(cursor: u64);

/// `list-keys` with the backend's `u64` cursor.
async fn list_keys_page(
    bucket: &OpenBucket,
    cursor: Option<u64>,
) -> Result<store::KeyResponse, GuestError> {
    let page = bucket
        .run("list-keys", |s, t| s.list_keys_u64(t, cursor))
        .await?;
    Ok(store::KeyResponse {
        keys: page.keys,
        cursor: page.next,
    })
}

impl atomics::Host for KvView<'_> {
    async fn increment(
        &mut self,
        bucket: Resource<OpenBucket>,
        key: String,
        delta: u64,
    ) -> Outcome<u64> {
        let bucket = self.bucket(&bucket)?.clone();
        Ok(lift(
            bucket
                .run("increment", |s, t| s.increment_u64(t, &key, delta))
                .await,
        ))
    }
}
