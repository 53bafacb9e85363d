//! The local store, content-addressed: blobs and manifests by digest, and tags → manifest
//! digests with the time they were read from the registry.
//!
//! ```text
//! ROOT/blobs/sha256/HEX          a layer or config blob, exactly the bytes the digest names
//! ROOT/manifests/sha256/HEX      a manifest, as the registry sent it
//! ROOT/tags/HASH.json            {reference, manifest, layer, size, fetched}
//! ROOT/tmp/                      downloads in progress (same filesystem, renamed into place)
//! ```
//!
//! Every file is written to `tmp/` and renamed into place, so a reader never sees half of one;
//! two processes downloading the same blob both rename identical bytes onto the same name, and
//! whichever lands last wins with the same content.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A tag resolved from a registry, remembered for a while.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TagEntry {
    /// The reference as resolved (`registry/repo:tag`).
    pub reference: String,
    /// Digest of the manifest.
    pub manifest: String,
    /// Digest of the Wasm layer.
    pub layer: String,
    pub size: u64,
    /// Seconds since the epoch when the registry was last asked.
    pub fetched: u64,
}

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Splits `sha256:HEX` and checks it, so a digest from the network never becomes a path
/// outside the store.
pub fn digest_hex(digest: &str) -> anyhow::Result<&str> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(hex)
        }
        _ => bail!("unsupported digest {digest:?}: expected sha256:<64 hex digits>"),
    }
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// `sha256:HEX` of a file's bytes, read in chunks.
fn file_digest(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut chunk)? {
            0 => break,
            n => hasher.update(&chunk[..n]),
        }
    }
    Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Store {
    pub fn new(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// `$MANIFOLD_CACHE_DIR/registry`, else `~/.cache/manifold/registry`.
    pub fn default_root() -> Option<PathBuf> {
        std::env::var_os("MANIFOLD_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("manifold")))
            .map(|d| d.join("registry"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        Ok(self.root.join("blobs/sha256").join(digest_hex(digest)?))
    }

    fn manifest_path(&self, digest: &str) -> anyhow::Result<PathBuf> {
        Ok(self.root.join("manifests/sha256").join(digest_hex(digest)?))
    }

    fn tag_path(&self, reference: &str) -> PathBuf {
        let key = hex::encode(&Sha256::digest(reference.as_bytes())[..16]);
        self.root.join("tags").join(format!("{key}.json"))
    }

    /// A temporary file in the store, on the same filesystem as its final place.
    pub fn temp_file(&self) -> anyhow::Result<tempfile::NamedTempFile> {
        let dir = self.root.join("tmp");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the cache directory {}", dir.display()))?;
        tempfile::NamedTempFile::new_in(&dir)
            .with_context(|| format!("cannot create a file in {}", dir.display()))
    }

    /// Moves a finished temporary file to its final name.
    pub fn commit(&self, tmp: tempfile::NamedTempFile, dest: &Path) -> anyhow::Result<()> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        tmp.as_file()
            .sync_all()
            .context("cannot flush a cache file")?;
        tmp.persist(dest)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot move a download into {}", dest.display()))?;
        Ok(())
    }

    fn write_atomic(&self, dest: &Path, bytes: &[u8]) -> anyhow::Result<()> {
        let mut tmp = self.temp_file()?;
        tmp.write_all(bytes).context("cannot write a cache file")?;
        self.commit(tmp, dest)
    }

    /// Whether the store holds a file of the expected size for the blob: for listings, which
    /// trust nothing. Use [`Store::blob`] before using the file.
    pub fn has_blob(&self, digest: &str, size: u64) -> bool {
        self.blob_path(digest)
            .ok()
            .and_then(|path| std::fs::metadata(path).ok())
            .is_some_and(|m| m.len() == size)
    }

    /// The blob's path when the store holds it with the expected size and digest. A file
    /// whose bytes do not hash to its name (damaged on disk, or replaced) is removed, with a
    /// warning, so that the caller fetches it again; it is never handed out.
    pub fn blob(&self, digest: &str, size: u64) -> anyhow::Result<Option<PathBuf>> {
        let path = self.blob_path(digest)?;
        if !self.has_blob(digest, size) {
            return Ok(None);
        }
        let actual = match file_digest(&path) {
            Ok(actual) => actual,
            Err(e) => {
                tracing::warn!(
                    "cannot read the cached blob {}: {e}; fetching it again",
                    path.display()
                );
                return Ok(None);
            }
        };
        if actual != digest {
            tracing::warn!(
                "the cached blob {} is damaged or was replaced (its bytes hash to {actual}); \
                 removing it and fetching it again",
                path.display()
            );
            let _ = std::fs::remove_file(&path);
            return Ok(None);
        }
        Ok(Some(path))
    }

    pub fn manifest(&self, digest: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.manifest_path(digest)?;
        match std::fs::read(&path) {
            // Checked on every read: a manifest names the blobs we trust.
            Ok(bytes) if sha256_digest(&bytes) == digest => Ok(Some(bytes)),
            Ok(_) => {
                let _ = std::fs::remove_file(&path);
                Ok(None)
            }
            Err(_) => Ok(None),
        }
    }

    pub fn put_manifest(&self, digest: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.write_atomic(&self.manifest_path(digest)?, bytes)
    }

    /// The tag entry if one exists and is younger than `ttl`.
    pub fn tag(&self, reference: &str, ttl: Duration) -> Option<TagEntry> {
        let text = std::fs::read(self.tag_path(reference)).ok()?;
        let entry: TagEntry = serde_json::from_slice(&text).ok()?;
        (entry.reference == reference && now().saturating_sub(entry.fetched) < ttl.as_secs())
            .then_some(entry)
    }

    pub fn put_tag(
        &self,
        reference: &str,
        manifest: &str,
        layer: &str,
        size: u64,
    ) -> anyhow::Result<()> {
        let entry = TagEntry {
            reference: reference.to_owned(),
            manifest: manifest.to_owned(),
            layer: layer.to_owned(),
            size,
            fetched: now(),
        };
        let json = serde_json::to_vec_pretty(&entry)?;
        self.write_atomic(&self.tag_path(reference), &json)
    }

    /// Every tag entry, sorted by reference.
    pub fn tags(&self) -> Vec<TagEntry> {
        let mut out: Vec<TagEntry> = std::fs::read_dir(self.root.join("tags"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|t| serde_json::from_slice(&t).ok())
            .collect();
        out.sort_by(|a, b| a.reference.cmp(&b.reference));
        out
    }

    /// Removes what no tag names (or everything with `all`), and stale temporary files.
    /// Returns (files removed, bytes freed).
    pub fn prune(&self, all: bool) -> anyhow::Result<(u64, u64)> {
        let keep: std::collections::HashSet<String> = if all {
            Default::default()
        } else {
            self.tags()
                .into_iter()
                .flat_map(|t| [t.manifest, t.layer])
                .filter_map(|d| digest_hex(&d).ok().map(str::to_owned))
                .collect()
        };
        let mut removed = (0, 0);
        let mut remove = |path: &Path, size: u64| {
            if std::fs::remove_file(path).is_ok() {
                removed.0 += 1;
                removed.1 += size;
            }
        };
        if all {
            for e in std::fs::read_dir(self.root.join("tags"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let size = e.metadata().map_or(0, |m| m.len());
                remove(&e.path(), size);
            }
        }
        for dir in ["blobs/sha256", "manifests/sha256"] {
            for e in std::fs::read_dir(self.root.join(dir))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = e.file_name().to_string_lossy().into_owned();
                if !keep.contains(&name) {
                    let size = e.metadata().map_or(0, |m| m.len());
                    // Manifests are kept when their blobs are: a manifest of a tag references
                    // the config blob too, which is not cached, so only the two named digests
                    // count.
                    remove(&e.path(), size);
                }
            }
        }
        let hour = Duration::from_secs(3600);
        for e in std::fs::read_dir(self.root.join("tmp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let meta = e.metadata().ok();
            let old = meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > hour);
            if all || old {
                remove(&e.path(), meta.map_or(0, |m| m.len()));
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked_before_they_become_paths() {
        let store = Store::new("/tmp/x");
        assert!(store.blob_path("sha256:../../etc/passwd").is_err());
        assert!(store.blob_path("md5:abc").is_err());
        let d = sha256_digest(b"hi");
        assert!(
            store
                .blob_path(&d)
                .unwrap()
                .ends_with(digest_hex(&d).unwrap())
        );
    }

    #[test]
    fn a_cached_blob_of_the_right_size_but_other_bytes_is_removed_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let d = sha256_digest(b"good");
        let path = store.blob_path(&d).unwrap();
        let mut tmp = store.temp_file().unwrap();
        tmp.write_all(b"good").unwrap();
        store.commit(tmp, &path).unwrap();
        assert_eq!(store.blob(&d, 4).unwrap(), Some(path.clone()));
        // Same size, other bytes: damaged on disk, or replaced by someone.
        std::fs::write(&path, b"evil").unwrap();
        assert_eq!(store.blob(&d, 4).unwrap(), None);
        assert!(
            !path.exists(),
            "the damaged file is removed so it is fetched again"
        );
    }

    #[test]
    fn tags_expire_and_prune_keeps_what_tags_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let blob = b"blob";
        let d = sha256_digest(blob);
        let mut tmp = store.temp_file().unwrap();
        tmp.write_all(blob).unwrap();
        store.commit(tmp, &store.blob_path(&d).unwrap()).unwrap();
        let orphan = sha256_digest(b"orphan");
        store.put_manifest(&orphan, b"orphan").unwrap();
        store.put_tag("r/x:1", &orphan, &d, 4).unwrap();
        assert!(store.tag("r/x:1", Duration::from_secs(60)).is_some());
        assert!(store.tag("r/x:1", Duration::ZERO).is_none());
        assert!(store.tag("r/x:2", Duration::from_secs(60)).is_none());
        let stray = sha256_digest(b"stray");
        store.put_manifest(&stray, b"stray").unwrap();
        assert_eq!(store.prune(false).unwrap().0, 1);
        assert!(store.blob(&d, 4).unwrap().is_some());
        assert!(store.manifest(&orphan).unwrap().is_some());
        store.prune(true).unwrap();
        assert!(store.blob(&d, 4).unwrap().is_none());
        assert!(store.tags().is_empty());
    }
}
