//! `wasi:keyvalue@0.2.0-draft2`: `store`, `atomics` (`increment` on `s64`, and
//! compare-and-swap through the `cas` resource), `batch`. WIT:
//! `wit/deps/keyvalue-0.2.0-draft2/`.
//!
//! Where it differs from 0.2.0-draft, or leaves room, this is what we do:
//! - `get` of a missing key is `ok(none)`, as in 0.2.0-draft (store.wit, `get`).
//! - `list-keys` pages hold at most 1000 keys (or 256 KiB of them), in bytewise order. The
//!   cursor is a `string`: the last key of the page, and the next page starts strictly after
//!   it, so keys written or deleted meanwhile never make a later page skip or repeat a key
//!   that stayed. `none` on the last page (store.wit, `key-response`).
//! - `increment` takes and returns `s64`, so a negative delta decrements; a missing key
//!   stores `delta` (atomics.wit). Counters are decimal text; a value that is not a decimal
//!   `s64`, or a sum out of range, is `error::other`.
//! - `cas.new` reads the key's value then; `current` returns that value; `swap` writes only if
//!   the key still holds it, all in one write transaction, else returns `cas-failed` with a new
//!   handle whose `current` is the value found (atomics.wit: "Implementors MUST return a CAS
//!   handle that has been updated to the latest version"). Versions are the values
//!   themselves: a value changed and changed back counts as unchanged.
//! - `batch` is stronger than the draft asks: each call is one transaction, all or nothing.

use wasmtime::component::{Resource, ResourceTable};

use crate::backend::Swap;
use crate::host::{GuestError, KvView, OpenBucket, common_bindings};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit/deps/keyvalue-0.2.0-draft2",
        world: "wasi:keyvalue/imports",
        imports: { default: async | trappable | tracing },
        with: {
            "wasi:keyvalue/store.bucket": crate::host::OpenBucket,
            "wasi:keyvalue/atomics.cas": crate::draft2::Cas,
        },
    });
}

pub(crate) use bindings::wasi::keyvalue::{atomics, batch, store};

/// A compare-and-swap in progress: the key and the value it held when the handle was made.
pub struct Cas {
    bucket: OpenBucket,
    key: String,
    seen: Option<Vec<u8>>,
}

common_bindings!(cursor: String);

/// Adds a CAS handle to the instance's table; a full table is the guest's error, not a trap.
fn push(table: &mut ResourceTable, cas: Cas) -> Result<Resource<Cas>, GuestError> {
    table.push(cas).map_err(|err| {
        tracing::warn!(%err, "wasi:keyvalue cas refused: the resource table is full");
        GuestError::Other(format!("cannot make a CAS handle: {err}"))
    })
}

/// `list-keys` with the backend's `string` cursor.
async fn list_keys_page(
    bucket: &OpenBucket,
    cursor: Option<String>,
) -> Result<store::KeyResponse, GuestError> {
    let page = bucket
        .run("list-keys", |s, t| s.list_keys_string(t, cursor.as_deref()))
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
        delta: i64,
    ) -> Outcome<i64> {
        let bucket = self.bucket(&bucket)?.clone();
        Ok(lift(
            bucket
                .run("increment", |s, t| s.increment_i64(t, &key, delta))
                .await,
        ))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        // `swap` consumes the handle, whatever happens.
        let Cas { bucket, key, seen } = self.table.delete(cas)?;
        let result = bucket
            .run("swap", |s, t| {
                s.compare_and_swap(t, &key, seen.as_deref(), &value)
            })
            .await;
        match result {
            Ok(Swap::Done) => Ok(Ok(())),
            Ok(Swap::Changed(now)) => {
                let retry = Cas {
                    bucket,
                    key,
                    seen: now,
                };
                Ok(Err(match push(self.table, retry) {
                    Ok(retry) => atomics::CasError::CasFailed(retry),
                    Err(err) => atomics::CasError::StoreError(err.into()),
                }))
            }
            Err(err) => Ok(Err(atomics::CasError::StoreError(err.into()))),
        }
    }
}

impl atomics::HostCas for KvView<'_> {
    async fn new(&mut self, bucket: Resource<OpenBucket>, key: String) -> Outcome<Resource<Cas>> {
        let bucket = self.bucket(&bucket)?.clone();
        let seen = match bucket.run("cas.new", |s, t| s.get(t, &key)).await {
            Ok(seen) => seen,
            Err(err) => return Ok(Err(err.into())),
        };
        let cas = Cas { bucket, key, seen };
        Ok(lift(push(self.table, cas)))
    }

    async fn current(&mut self, cas: Resource<Cas>) -> Outcome<Option<Vec<u8>>> {
        Ok(Ok(self.table.get(&cas)?.seen.clone()))
    }

    async fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}
