//! `wasi:config` values from the app's key-value backend (`[config-source] type =
//! "keyvalue"`): the config provider's [`ConfigSource`] over a key-value bucket, so every
//! instance of an app, on every machine sharing the backend, reads the same current values.

use std::sync::Arc;

use manifold_builtin_config::{ConfigSource, SourceFuture};
use manifold_builtin_keyvalue::ScopedBucket;
use manifold_builtin_keyvalue::backend::{Backend, BackendError};

/// Values are the bucket's keys and values (UTF-8); the bucket is the app's, scoped like any
/// other, and need not be granted to a component for the component to read its config.
pub(crate) struct KeyValueConfig {
    pub(crate) backend: Arc<dyn Backend>,
    pub(crate) scope: ScopedBucket,
}

impl KeyValueConfig {
    fn text(key: &str, value: Vec<u8>) -> Result<String, String> {
        String::from_utf8(value)
            .map_err(|_| format!("the value of {key:?} in the config bucket is not UTF-8"))
    }
}

fn message(err: BackendError) -> String {
    err.to_string()
}

impl ConfigSource for KeyValueConfig {
    fn describe(&self) -> String {
        format!(
            "key-value bucket {:?} ({})",
            self.scope.bucket(),
            self.backend.kind()
        )
    }

    fn get<'a>(&'a self, key: &'a str) -> SourceFuture<'a, Option<String>> {
        Box::pin(async move {
            match self.backend.get(&self.scope, key).await.map_err(message)? {
                Some(value) => Ok(Some(Self::text(key, value)?)),
                None => Ok(None),
            }
        })
    }

    fn get_all(&self) -> SourceFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            let mut keys = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = self
                    .backend
                    .list_keys_string(&self.scope, cursor.as_deref())
                    .await
                    .map_err(message)?;
                keys.extend(page.keys);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            let values = self
                .backend
                .get_many(&self.scope, &keys)
                .await
                .map_err(message)?;
            // A key deleted between listing and reading is simply gone.
            values
                .into_iter()
                .flatten()
                .map(|(key, value)| Ok((key.clone(), Self::text(&key, value)?)))
                .collect()
        })
    }
}
