//! A shared source of values behind the manifest's: where a cluster keeps configuration that
//! every instance should see (the app's key-value backend, wired up by the runtime). Read on
//! every call, so a changed value is seen by the next `get` without a restart.

use std::future::Future;
use std::pin::Pin;

/// The future a [`ConfigSource`] method returns.
pub type SourceFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// Values shared by the instances of an app, e.g. a key-value bucket. A failure is a message
/// for the guest's `error::upstream` (the provider also logs it); it must not contain values,
/// which may be secrets.
pub trait ConfigSource: Send + Sync + 'static {
    /// What the source is, for log lines (e.g. `key-value bucket "config" (redis)`).
    fn describe(&self) -> String;

    /// The value of `key`, `None` if the source does not have it.
    fn get<'a>(&'a self, key: &'a str) -> SourceFuture<'a, Option<String>>;

    /// Every key and value the source has.
    fn get_all(&self) -> SourceFuture<'_, Vec<(String, String)>>;
}
