//! The compile cache: a component's compiled artifact on disk, keyed by the component's
//! sha256 and the engine's compatibility hash, so the second run of the same component skips
//! compilation.
//!
//! Each entry is `MAGIC | blake3(payload) | payload`. An entry whose checksum does not match,
//! or that Wasmtime refuses (another version or configuration), is deleted and rebuilt; an
//! entry is written to a temporary file and renamed, so a reader never sees half of one.
//!
//! An entry is native code that is mapped executable, so it is loaded only from a directory
//! that no one else can write: owned by the user running Manifold and not writable by group
//! or others, and only from a file of that user that no one else can write. Otherwise the
//! cache is not used (the component is compiled, nothing is stored) and a warning says how to
//! fix the directory. The directory is created `0700`.

use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::load::ComponentBytes;

const MAGIC: &[u8; 8] = b"MFDCWSM1";
const HEADER: usize = MAGIC.len() + 32;

/// What the cache did for one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    /// Compiled now and stored.
    Miss,
    /// An entry existed but was unusable (corrupt or stale) and was rebuilt.
    Rebuilt,
    /// The cache directory (or the entry) could be written by someone else: compiled
    /// without the cache.
    Untrusted,
    Disabled,
}

/// A directory of compiled artifacts.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
}

impl CompileCache {
    pub fn new(dir: impl Into<PathBuf>) -> CompileCache {
        CompileCache { dir: dir.into() }
    }

    /// `$MANIFOLD_CACHE_DIR/compiled`, else the platform cache dir (`~/.cache/manifold/compiled`).
    pub fn default_dir() -> Option<PathBuf> {
        std::env::var_os("MANIFOLD_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("manifold")))
            .map(|d| d.join("compiled"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry path for a component on an engine.
    pub fn entry_path(&self, engine: &Engine, component: &ComponentBytes) -> PathBuf {
        let mut hasher = StableHasher(blake3::Hasher::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = hasher.0.finalize();
        self.dir.join(format!(
            "{}-{}.cwasm",
            component.sha256_hex(),
            &engine_hash.to_hex()[..16]
        ))
    }

    /// Loads the compiled component from the cache, or compiles and stores it. Cache trouble
    /// (an unwritable directory, a corrupt entry) never fails the load; it is logged.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        component: &ComponentBytes,
    ) -> anyhow::Result<(Component, CacheOutcome)> {
        let path = self.entry_path(engine, component);
        if let Err(why) = private(&self.dir) {
            tracing::warn!(
                dir = %self.dir.display(),
                "not using the compile cache: {why}; it holds native code that is run, so it \
                 must be yours alone (`chmod go-w` it, or choose another with \
                 MANIFOLD_CACHE_DIR)"
            );
            return Ok((component.compile(engine)?, CacheOutcome::Untrusted));
        }
        let mut outcome = CacheOutcome::Miss;
        match read_private(&path) {
            Ok(entry) => match Self::decode(engine, &entry) {
                Ok(compiled) => return Ok((compiled, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "compile cache entry unusable, rebuilding: {e:#}");
                    let _ = std::fs::remove_file(&path);
                    outcome = CacheOutcome::Rebuilt;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                tracing::warn!(path = %path.display(), "not using this compile cache entry: {e}; rebuilding it");
                let _ = std::fs::remove_file(&path);
                outcome = CacheOutcome::Rebuilt;
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), "cannot read compile cache entry: {e}")
            }
        }
        let compiled = component.compile(engine)?;
        if let Err(e) = self.store(&path, &compiled) {
            tracing::warn!(dir = %self.dir.display(), "cannot write the compile cache: {e:#}");
        }
        Ok((compiled, outcome))
    }

    fn decode(engine: &Engine, entry: &[u8]) -> anyhow::Result<Component> {
        anyhow::ensure!(
            entry.len() > HEADER && entry.starts_with(MAGIC),
            "not a cache entry (bad header)"
        );
        let (sum, payload) = entry[MAGIC.len()..].split_at(32);
        anyhow::ensure!(
            blake3::hash(payload).as_bytes() == sum,
            "checksum mismatch (the file was damaged)"
        );
        // SAFETY: `Component::deserialize` requires bytes produced by `Component::serialize`
        // (or `Engine::precompile_component`) and not tampered with, because it maps them as
        // executable code. This payload was written by `store` below from `serialize()`, the
        // entry's key includes the engine's compatibility hash, and the blake3 checksum just
        // verified proves the bytes are what some writer of this format wrote. The checksum
        // protects against damage (a torn write, a flipped bit), not against a malicious
        // writer, who can compute it too: that is what the owner and mode checks are for
        // (`private`, `read_private`): the directory and the entry belong to the user running
        // Manifold and no one else can write them, so only this user (who can already
        // replace the `manifold` binary) could have put native code there. Wasmtime itself
        // still checks the artifact's version and engine settings and refuses a mismatch.
        let compiled = unsafe { Component::deserialize(engine, payload) }?;
        Ok(compiled)
    }

    fn store(&self, path: &Path, compiled: &Component) -> anyhow::Result<()> {
        let payload = compiled.serialize()?;
        {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.dir)
                .with_context(|| format!("creating {}", self.dir.display()))?;
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(blake3::hash(&payload).as_bytes())?;
        tmp.write_all(&payload)?;
        tmp.persist(path)?;
        Ok(())
    }
}

/// Whether `metadata` belongs to this user and no one else can write it.
fn owned_and_private(metadata: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt as _;
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(format!(
            "it belongs to uid {}, not to uid {me}",
            metadata.uid()
        ));
    }
    if metadata.mode() & 0o022 != 0 {
        return Err(format!(
            "its mode {:o} lets group or others write it",
            metadata.mode() & 0o7777
        ));
    }
    Ok(())
}

/// Whether the cache directory may be trusted (one that does not exist yet may: it is
/// created private). A symbolic link is followed: its target is what is checked.
fn private(dir: &Path) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(metadata) => owned_and_private(&metadata),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // Unreadable: the load fails on its own and is logged there.
        Err(_) => Ok(()),
    }
}

/// Reads an entry, checking the file it opened (not the path, which could change between a
/// check and the open): `PermissionDenied` if someone else owns it or may write it.
fn read_private(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut file = std::fs::File::open(path)?;
    let metadata = file.metadata()?;
    owned_and_private(&metadata).map_err(|why| {
        std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("the entry {why}"),
        )
    })?;
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A `Hasher` whose output does not change between Rust releases (unlike `DefaultHasher`).
struct StableHasher(blake3::Hasher);

impl Hasher for StableHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        let hash = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(dir: &Path) -> ComponentBytes {
        let p = dir.join("c.wat");
        std::fs::write(&p, "(component (core module (func (export \"f\"))))").unwrap();
        crate::load::read_component(&p).unwrap()
    }

    #[test]
    fn hit_after_miss_and_rebuild_after_damage() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(dir.path().join("cache"));
        let c = component(dir.path());
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Miss
        );
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Hit
        );

        let entry = cache.entry_path(&engine, &c);
        let mut bytes = std::fs::read(&entry).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&entry, &bytes).unwrap();
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Rebuilt
        );
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Hit
        );

        std::fs::write(&entry, b"short").unwrap();
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Rebuilt
        );
    }

    #[test]
    fn a_directory_or_entry_others_can_write_is_not_loaded_from() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(dir.path().join("cache"));
        let c = component(dir.path());
        cache.load_or_compile(&engine, &c).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(cache.dir()), 0o700, "created private");
        let entry = cache.entry_path(&engine, &c);
        assert_eq!(mode(&entry) & 0o022, 0);

        // A directory anyone may write: a valid entry is still not loaded.
        std::fs::set_permissions(cache.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Untrusted
        );
        std::fs::set_permissions(cache.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Hit
        );
        // An entry others may write: rebuilt, and the new one is private.
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Rebuilt
        );
        assert_eq!(mode(&entry) & 0o022, 0);
        assert_eq!(
            cache.load_or_compile(&engine, &c).unwrap().1,
            CacheOutcome::Hit
        );
        // Another user's directory (only root can make one here).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(cache.dir(), Some(1), None).unwrap();
            assert_eq!(
                cache.load_or_compile(&engine, &c).unwrap().1,
                CacheOutcome::Untrusted
            );
        }
    }

    #[test]
    fn different_engine_settings_use_different_entries() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::new(dir.path());
        let c = component(dir.path());
        let a = Engine::default();
        let mut config = wasmtime::Config::new();
        config.consume_fuel(true);
        let b = Engine::new(&config).unwrap();
        assert_ne!(cache.entry_path(&a, &c), cache.entry_path(&b, &c));
    }

    #[test]
    fn unwritable_cache_still_compiles() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let cache = CompileCache::new(blocker.join("sub"));
        let c = component(dir.path());
        let (_, outcome) = cache.load_or_compile(&Engine::default(), &c).unwrap();
        assert_eq!(outcome, CacheOutcome::Miss);
    }
}
