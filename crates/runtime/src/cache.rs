//! The compile cache: a component's compiled artifact on disk, keyed by the component's
//! sha256 and the engine's compatibility hash, so the second run of the same component skips
//! compilation.
//!
//! Each entry is `MAGIC | blake3(payload) | payload`. An entry whose checksum does not match,
//! or that Wasmtime refuses (another version or configuration), is deleted and rebuilt; an
//! entry is written to a temporary file and renamed, so a reader never sees half of one.

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
        let mut outcome = CacheOutcome::Miss;
        match std::fs::read(&path) {
            Ok(entry) => match Self::decode(engine, &entry) {
                Ok(compiled) => return Ok((compiled, CacheOutcome::Hit)),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "compile cache entry unusable, rebuilding: {e:#}");
                    let _ = std::fs::remove_file(&path);
                    outcome = CacheOutcome::Rebuilt;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
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
        // verified proves the bytes are exactly what was written. Wasmtime itself still
        // checks the artifact's version and engine settings and refuses a mismatch. The cache
        // directory belongs to the user running Manifold; anyone who can write it can already
        // replace the `manifold` binary's inputs.
        let compiled = unsafe { Component::deserialize(engine, payload) }?;
        Ok(compiled)
    }

    fn store(&self, path: &Path, compiled: &Component) -> anyhow::Result<()> {
        let payload = compiled.serialize()?;
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("creating {}", self.dir.display()))?;
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(MAGIC)?;
        tmp.write_all(blake3::hash(&payload).as_bytes())?;
        tmp.write_all(&payload)?;
        tmp.persist(path)?;
        Ok(())
    }
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
