//! One process per data directory. The embedded stores (the key-value redb file, the blob
//! store's directory tree) are written by one process at a time: the blob store empties its
//! `staging/` at start, which would delete another live process's objects in flight, and its
//! quota counts bytes in memory. So the first store a process opens in a data directory takes
//! an advisory lock on `DATA_DIR/manifold.lock` (`flock`, released by the kernel when the
//! process exits, even on `kill -9`), holding it while any of its stores is open; a second
//! process is refused with the directory and the pid that holds it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, Weak};

/// The lock file in a data directory; it holds the pid of the process that has it.
pub const LOCK_FILE: &str = "manifold.lock";

/// Why a data directory could not be locked for this process.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the data directory {} is in use by another process{}, likely a second `manifold` on \
         the same app; stop it, or give each process its own data directory (`--data-dir`, or \
         `data-dir` in the manifest)",
        dir.display(),
        pid.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    InUse { dir: PathBuf, pid: Option<u32> },
    #[error("cannot lock the data directory {}", dir.display())]
    Io {
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// This process's hold on a data directory; the lock is released when the last handle is
/// dropped.
#[derive(Debug)]
pub struct DataDirLock {
    dir: PathBuf,
    _file: File,
}

impl DataDirLock {
    /// The data directory (canonical).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Data directories this process holds, by canonical path: `flock` locks belong to an open
/// file, so a second open of the same lock file in this process would conflict with the
/// first; every store of every component shares one.
static HELD: LazyLock<Mutex<HashMap<PathBuf, Weak<DataDirLock>>>> = LazyLock::new(Default::default);

/// Locks `dir` (created if missing) for this process, or shares the lock it already holds.
pub fn lock_data_dir(dir: &Path) -> Result<Arc<DataDirLock>, LockError> {
    let fail = |source| LockError::Io {
        dir: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let dir = dir.canonicalize().map_err(fail)?;
    let mut held = HELD.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(lock) = held.get(&dir).and_then(Weak::upgrade) {
        return Ok(lock);
    }
    let fail = |source| LockError::Io {
        dir: dir.clone(),
        source,
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(fail)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let pid = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(LockError::InUse { dir, pid });
        }
        Err(std::fs::TryLockError::Error(source)) => return Err(fail(source)),
    }
    // For the message of the next process that finds it taken.
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{}", std::process::id()))
        .map_err(fail)?;
    let lock = Arc::new(DataDirLock {
        dir: dir.clone(),
        _file: file,
    });
    held.retain(|_, lock| lock.strong_count() > 0);
    held.insert(dir, Arc::downgrade(&lock));
    Ok(lock)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

    use super::*;

    #[test]
    fn one_lock_per_directory_shared_in_the_process_and_released_with_the_last_handle() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = lock_data_dir(&data).unwrap();
        let second = lock_data_dir(&data).unwrap();
        assert!(Arc::ptr_eq(&first, &second), "shared within the process");
        let pid: u32 = std::fs::read_to_string(data.join(LOCK_FILE))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert_eq!(pid, std::process::id());
        // Another open file description, as another process would have: refused.
        let other = File::open(data.join(LOCK_FILE)).unwrap();
        assert!(matches!(
            other.try_lock(),
            Err(std::fs::TryLockError::WouldBlock)
        ));
        drop((first, second));
        other.try_lock().expect("released with the last handle");
    }

    #[test]
    fn a_directory_locked_elsewhere_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let mut holder = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(dir.path().join(LOCK_FILE))
            .unwrap();
        holder.lock().unwrap();
        writeln!(holder, "4242").unwrap();
        let err = lock_data_dir(dir.path()).unwrap_err();
        assert!(
            matches!(
                err,
                LockError::InUse {
                    pid: Some(4242),
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("in use by another process (pid 4242)"),
            "{message}"
        );
        assert!(
            message.contains(&dir.path().canonicalize().unwrap().display().to_string()),
            "{message}"
        );
    }
}
