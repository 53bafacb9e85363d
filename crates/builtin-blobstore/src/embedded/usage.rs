//! The bytes each app keeps in the embedded store, for its quota: counted once when the store
//! is opened (one `stat` per object), then kept up to date by every change, in memory.
//!
//! An app's usage is the length of each of its objects plus every byte reserved by an object
//! being written. A writer reserves each chunk before it writes it, under the same lock that
//! checks the quota, so two writers cannot both slip past it; what it reserved becomes the
//! object's at `commit`, or is given back when it is dropped. A change that replaces or
//! removes a file (`commit`, `copy`, `move`, `delete`, a container's deletion) runs under
//! that lock, measuring what it frees and applying it together with the change, so two
//! changes to one name cannot both count the file they replaced. Only this process changes the files: it holds the data
//! directory's lock ([`manifold_provider::data_dir`]).
//!
//! Not counted: the directories, each container's `created` file, and the files of a deleted
//! container that could not all be removed (they are removed at the next start).

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::backend::{BackendError, BackendResult};

use super::{CONTAINERS, OBJECTS};

/// Bytes per app directory (its file name under the store's root).
#[derive(Debug, Default)]
pub(super) struct Usage {
    apps: Mutex<HashMap<String, u64>>,
}

impl Usage {
    /// Counts every object of every app under `root`.
    pub(super) fn scan(root: &Path) -> io::Result<Usage> {
        let mut apps = HashMap::new();
        for app in fs::read_dir(root)? {
            let app = app?;
            let Some(name) = app.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let containers = app.path().join(CONTAINERS);
            if !containers.is_dir() {
                continue;
            }
            let mut bytes = 0u64;
            for container in fs::read_dir(&containers)? {
                bytes = bytes.saturating_add(dir_bytes(&container?.path().join(OBJECTS))?);
            }
            apps.insert(name, bytes);
        }
        Ok(Usage {
            apps: Mutex::new(apps),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, u64>> {
        self.apps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes app `app` uses now.
    #[cfg(test)]
    pub(super) fn used(&self, app: &str) -> u64 {
        self.lock().get(app).copied().unwrap_or(0)
    }

    /// Adds `bytes` to `reservation`, unless they would take its app past `quota`.
    pub(super) fn reserve(
        &self,
        reservation: &mut Reservation,
        bytes: u64,
        quota: Option<u64>,
    ) -> BackendResult<()> {
        let mut apps = self.lock();
        let used = apps.entry(reservation.app.clone()).or_insert(0);
        let wanted = used.saturating_add(bytes);
        if let Some(quota) = quota
            && wanted > quota
        {
            return Err(BackendError::QuotaExceeded {
                quota,
                used: *used,
                wanted: bytes,
            });
        }
        *used = wanted;
        reservation.bytes += bytes;
        Ok(())
    }

    /// Runs `change`, a rename or removal in app `app`, with the usage locked; it returns its
    /// result and the bytes it freed (measured before it changed anything, with
    /// [`file_len`]), which are subtracted from the app. `change` must be short: it holds up
    /// every other write of the process.
    pub(super) fn change<T>(
        &self,
        app: &str,
        change: impl FnOnce() -> BackendResult<(T, u64)>,
    ) -> BackendResult<T> {
        let mut apps = self.lock();
        let (done, freed) = change()?;
        subtract(&mut apps, app, freed);
        Ok(done)
    }

    /// Gives back `bytes` that are no longer stored (the objects of a deleted container).
    pub(super) fn release(&self, app: &str, bytes: u64) {
        subtract(&mut self.lock(), app, bytes);
    }
}

fn subtract(apps: &mut HashMap<String, u64>, app: &str, bytes: u64) {
    if let Some(used) = apps.get_mut(app) {
        *used = used.saturating_sub(bytes);
    }
}

/// The length of the file at `path`; 0 if there is none.
pub(super) fn file_len(path: &Path) -> u64 {
    fs::symlink_metadata(path)
        .ok()
        .filter(fs::Metadata::is_file)
        .map_or(0, |meta| meta.len())
}

/// The bytes of the files directly in `dir` (0 if it is not a directory).
pub(super) fn dir_bytes(dir: &Path) -> io::Result<u64> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(0);
        }
        Err(e) => return Err(e),
    };
    let mut bytes = 0u64;
    for entry in entries {
        let meta = entry?.metadata()?;
        if meta.is_file() {
            bytes = bytes.saturating_add(meta.len());
        }
    }
    Ok(bytes)
}

/// Bytes an object being written holds against its app's quota: given back on drop, unless
/// [`Reservation::keep`] made them the stored object's.
pub(super) struct Reservation {
    usage: Arc<Usage>,
    app: String,
    bytes: u64,
}

impl Reservation {
    /// An empty reservation for app directory `app`.
    pub(super) fn new(usage: Arc<Usage>, app: String) -> Reservation {
        Reservation {
            usage,
            app,
            bytes: 0,
        }
    }

    /// The bytes are now a stored object's: counted until it is replaced or deleted.
    pub(super) fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.usage.release(&self.app, self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

    use super::*;

    #[test]
    fn concurrent_reservations_never_pass_the_quota() {
        let usage = Arc::new(Usage::default());
        let granted: u64 = std::thread::scope(|s| {
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let usage = usage.clone();
                    s.spawn(move || {
                        let mut held = Vec::new();
                        let mut bytes = 0;
                        for _ in 0..1000 {
                            let mut r = Reservation::new(usage.clone(), "app".into());
                            if usage.reserve(&mut r, 7, Some(10_000)).is_ok() {
                                bytes += 7;
                                held.push(r);
                            }
                        }
                        held.into_iter().for_each(Reservation::keep);
                        bytes
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(granted, 10_000 / 7 * 7);
        assert_eq!(usage.used("app"), granted);
    }

    #[test]
    fn a_dropped_reservation_gives_its_bytes_back_and_a_kept_one_does_not() {
        let usage = Arc::new(Usage::default());
        let mut dropped = Reservation::new(usage.clone(), "app".into());
        usage.reserve(&mut dropped, 60, Some(100)).unwrap();
        let mut kept = Reservation::new(usage.clone(), "app".into());
        let err = usage.reserve(&mut kept, 41, Some(100)).unwrap_err();
        assert!(
            matches!(
                err,
                BackendError::QuotaExceeded {
                    quota: 100,
                    used: 60,
                    wanted: 41
                }
            ),
            "{err:?}"
        );
        drop(dropped);
        usage.reserve(&mut kept, 41, Some(100)).unwrap();
        kept.keep();
        assert_eq!(usage.used("app"), 41);
        assert_eq!(usage.used("other"), 0);
    }

    #[test]
    fn a_scan_counts_objects_only_and_a_change_subtracts_what_it_freed() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir
            .path()
            .join("app")
            .join(CONTAINERS)
            .join("c")
            .join(OBJECTS);
        fs::create_dir_all(&objects).unwrap();
        fs::write(objects.join("a"), [0; 30]).unwrap();
        fs::write(objects.join("b"), [0; 12]).unwrap();
        fs::write(objects.join("../created"), b"1700000000").unwrap();
        fs::create_dir_all(dir.path().join("app").join("staging")).unwrap();
        fs::write(dir.path().join("app/staging/object-x"), [0; 99]).unwrap();
        let usage = Usage::scan(dir.path()).unwrap();
        assert_eq!(usage.used("app"), 42);

        let failed = usage.change("app", || -> BackendResult<((), u64)> {
            let _ = file_len(&objects.join("a"));
            Err(BackendError::storage("no"))
        });
        assert!(failed.is_err());
        assert_eq!(usage.used("app"), 42, "a failed change frees nothing");
        let a = objects.join("a");
        usage
            .change("app", || {
                let freed = file_len(&a);
                fs::remove_file(&a).map_err(|e| BackendError::storage(e.to_string()))?;
                Ok(((), freed))
            })
            .unwrap();
        assert_eq!(usage.used("app"), 12);
        assert_eq!(file_len(&a), 0, "no file, no bytes");
    }
}
