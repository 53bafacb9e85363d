//! `kv-draft2-on-draft`: a wasm plugin that exports `wasi:keyvalue/{store,atomics}` at
//! `0.2.0-draft2` and implements them on its imports of `0.2.0-draft`, the adapter shape of
//! `docs/plugins.md`. Composed into a draft2 guest, with `share` granting it the draft
//! interfaces, it works on the guest's own buckets.
//!
//! Limits, as an adapter can only offer what draft has: `increment` takes no negative delta
//! (draft's is a `u64`); `cas` compares the value read by `cas.new`/`current` with the value
//! at `swap`, in two calls, so it is not atomic across instances.

use std::cell::RefCell;

wit_bindgen::generate!({
    path: [
        "../../../../wit/deps/keyvalue-0.2.0-draft",
        "../../../../wit/deps/keyvalue-0.2.0-draft2",
        "../../wit/kv-adapter.wit",
    ],
    world: "manifold:kv-adapter/adapter",
    generate_all,
});

use exports::wasi::keyvalue0_2_0_draft2::atomics as atomics2;
use exports::wasi::keyvalue0_2_0_draft2::store as store2;
use wasi::keyvalue0_2_0_draft::{atomics, store};

struct Adapter;

/// A draft2 bucket: the draft bucket, and its identifier to open it again for a `cas`.
struct Bucket {
    identifier: String,
    inner: store::Bucket,
}

/// A draft2 `cas`: the key, its own handle on the bucket, and the value it last read.
struct Cas {
    bucket: store::Bucket,
    key: String,
    seen: RefCell<Option<Vec<u8>>>,
}

fn error(e: store::Error) -> store2::Error {
    match e {
        store::Error::NoSuchStore => store2::Error::NoSuchStore,
        store::Error::AccessDenied => store2::Error::AccessDenied,
        store::Error::Other(message) => store2::Error::Other(message),
    }
}

impl store2::Guest for Adapter {
    type Bucket = Bucket;

    fn open(identifier: String) -> Result<store2::Bucket, store2::Error> {
        let inner = store::open(&identifier).map_err(error)?;
        Ok(store2::Bucket::new(Bucket { identifier, inner }))
    }
}

impl store2::GuestBucket for Bucket {
    fn get(&self, key: String) -> Result<Option<Vec<u8>>, store2::Error> {
        self.inner.get(&key).map_err(error)
    }

    fn set(&self, key: String, value: Vec<u8>) -> Result<(), store2::Error> {
        self.inner.set(&key, &value).map_err(error)
    }

    fn delete(&self, key: String) -> Result<(), store2::Error> {
        self.inner.delete(&key).map_err(error)
    }

    fn exists(&self, key: String) -> Result<bool, store2::Error> {
        self.inner.exists(&key).map_err(error)
    }

    fn list_keys(&self, cursor: Option<String>) -> Result<store2::KeyResponse, store2::Error> {
        let cursor = match cursor {
            None => None,
            Some(text) => Some(text.parse::<u64>().map_err(|_| {
                store2::Error::Other(format!("cursor {text:?} was not given by this store"))
            })?),
        };
        let page = self.inner.list_keys(cursor).map_err(error)?;
        Ok(store2::KeyResponse {
            keys: page.keys,
            cursor: page.cursor.map(|c| c.to_string()),
        })
    }
}

impl atomics2::Guest for Adapter {
    type Cas = Cas;

    fn increment(
        bucket: store2::BucketBorrow<'_>,
        key: String,
        delta: i64,
    ) -> Result<i64, store2::Error> {
        let bucket = bucket.get::<Bucket>();
        let delta = u64::try_from(delta).map_err(|_| {
            store2::Error::Other("this adapter cannot increment by a negative delta".into())
        })?;
        let value = atomics::increment(&bucket.inner, &key, delta).map_err(error)?;
        i64::try_from(value)
            .map_err(|_| store2::Error::Other(format!("{value} does not fit an s64")))
    }

    fn swap(cas: atomics2::Cas, value: Vec<u8>) -> Result<(), atomics2::CasError> {
        let state = cas.get::<Cas>();
        let now = state
            .bucket
            .get(&state.key)
            .map_err(|e| atomics2::CasError::StoreError(error(e)))?;
        if now != *state.seen.borrow() {
            state.seen.replace(now);
            return Err(atomics2::CasError::CasFailed(cas));
        }
        state
            .bucket
            .set(&state.key, &value)
            .map_err(|e| atomics2::CasError::StoreError(error(e)))
    }
}

impl atomics2::GuestCas for Cas {
    fn new(bucket: store2::BucketBorrow<'_>, key: String) -> Result<atomics2::Cas, store2::Error> {
        let bucket = store::open(&bucket.get::<Bucket>().identifier).map_err(error)?;
        let seen = bucket.get(&key).map_err(error)?;
        Ok(atomics2::Cas::new(Cas {
            bucket,
            key,
            seen: RefCell::new(seen),
        }))
    }

    fn current(&self) -> Result<Option<Vec<u8>>, store2::Error> {
        Ok(self.seen.borrow().clone())
    }
}

export!(Adapter);
