//! Reading a component file: `.wasm` or `.wat`, checked to be a component before anything
//! is compiled, with messages that say what the file is when it is not one.

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A component's binary, read and checked.
pub struct ComponentBytes {
    pub bytes: Vec<u8>,
    pub sha256: [u8; 32],
    /// For messages: the file it came from.
    pub origin: String,
}

impl std::fmt::Debug for ComponentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentBytes")
            .field("origin", &self.origin)
            .field("len", &self.bytes.len())
            .field("sha256", &self.sha256_hex())
            .finish()
    }
}

impl ComponentBytes {
    /// `bytes` (already checked to be a component) with their digest.
    pub fn new(bytes: Vec<u8>, origin: String) -> ComponentBytes {
        let sha256 = Sha256::digest(&bytes).into();
        ComponentBytes {
            bytes,
            sha256,
            origin,
        }
    }

    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Compiles without any cache.
    pub fn compile(&self, engine: &Engine) -> anyhow::Result<Component> {
        Component::new(engine, &self.bytes).map_err(|e| {
            // A malformed file: say where, in the decoder's words, not the compiler's.
            if let Err(decode) = manifold_resolve::decode_component(&self.bytes, &self.origin) {
                return anyhow::Error::from(decode);
            }
            anyhow::Error::from(e).context(format!("cannot compile {}", self.origin))
        })
    }
}

const WASM_MAGIC: &[u8] = b"\0asm";

/// Reads `path`; `.wat` files (or any file starting with text) are parsed as the WebAssembly
/// text format. Refuses, with an explanation, anything that is not a component.
pub fn read_component(path: &Path) -> anyhow::Result<ComponentBytes> {
    let origin = path.display().to_string();
    let raw = std::fs::read(path).with_context(|| format!("cannot read {origin}"))?;
    let is_text = path.extension().is_some_and(|e| e == "wat")
        || (!raw.starts_with(WASM_MAGIC)
            && std::str::from_utf8(&raw).is_ok_and(|s| s.trim_start().starts_with('(')));
    let bytes = if is_text {
        wat::parse_bytes(&raw)
            .map_err(|e| {
                let mut e = e;
                e.set_path(path);
                anyhow::anyhow!("{e}")
            })
            .with_context(|| format!("{origin} is not valid WebAssembly text"))?
            .into_owned()
    } else {
        raw
    };
    manifold_resolve::check_header(&bytes, &origin)?;
    Ok(ComponentBytes::new(bytes, origin))
}

/// "app.wasm does not export wasi:cli/run; it exports …; try `manifold serve`": the
/// component lacks the entry point `mode` runs.
pub fn explain_missing_export(
    component: &crate::LoadedComponent,
    mode: manifold_config::Mode,
) -> String {
    let engine = component.pre.engine();
    let exports: Vec<String> = component
        .component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    explain_missing(
        &exports,
        &component.plan.source.display().to_string(),
        entry_point_name(mode),
    )
}

/// The names a component exports at its top level, read from the binary without compiling
/// it (nested modules and components are skipped); `None` if it does not parse (the compiler
/// then says why).
pub fn top_level_exports(bytes: &[u8]) -> Option<Vec<String>> {
    use wasmparser::{Chunk, Parser, Payload};
    let mut parser = Parser::new(0);
    let mut rest = bytes;
    let mut exports = Vec::new();
    loop {
        let Chunk::Parsed { consumed, payload } = parser.parse(rest, true).ok()? else {
            return None;
        };
        // A nested module or component is stepped over whole: its bytes (nearly all of a
        // component's) are never read.
        let mut skip = consumed;
        match payload {
            Payload::ModuleSection {
                unchecked_range, ..
            }
            | Payload::ComponentSection {
                unchecked_range, ..
            } => skip += unchecked_range.len(),
            Payload::ComponentExportSection(section) => {
                for export in section {
                    exports.push(export.ok()?.name.name.to_string());
                }
            }
            Payload::End(_) => return Some(exports),
            _ => {}
        }
        rest = rest.get(skip..)?;
    }
}

/// The entry point `mode` runs, as messages name it.
pub fn entry_point_name(mode: manifold_config::Mode) -> &'static str {
    match mode {
        manifold_config::Mode::Run => "wasi:cli/run (@0.2.x or @0.3.x)",
        manifold_config::Mode::Serve => {
            "wasi:http/incoming-handler@0.2.x or wasi:http/handler@0.3.x"
        }
    }
}

/// Whether `exports` has the entry point `mode` runs.
pub fn has_entry_point(mode: manifold_config::Mode, exports: &[String]) -> bool {
    let has = |prefix: &str| exports.iter().any(|e| e.starts_with(prefix));
    match mode {
        manifold_config::Mode::Run => has("wasi:cli/run@0.2.") || has("wasi:cli/run@0.3."),
        manifold_config::Mode::Serve => {
            has("wasi:http/incoming-handler@0.2.") || has("wasi:http/handler@0.3.")
        }
    }
}

/// The message for a component (from `source`, exporting `exports`) that lacks `wanted`.
pub fn explain_missing(exports: &[String], source: &str, wanted: &str) -> String {
    let listed = if exports.is_empty() {
        "nothing".to_string()
    } else {
        exports.join(", ")
    };
    let mut message = format!("{source} does not export {wanted}; it exports {listed}");
    let has = |iface: &str| exports.iter().any(|e| e.starts_with(iface));
    let is_http = has("wasi:http/incoming-handler@") || has("wasi:http/handler@");
    if wanted.starts_with("wasi:cli/run") && is_http {
        message.push_str(&format!(
            "\nhint: this is an HTTP component; serve it with `manifold serve {source}`"
        ));
    } else if wanted.starts_with("wasi:http/") && has("wasi:cli/run@") {
        message.push_str(&format!(
            "\nhint: this is a command-line component; run it with `manifold run {source}`"
        ));
    }
    // An entry point at a release candidate (`wasi:http/handler@0.3.0-rc-2026-03-15`):
    // pre-releases match only themselves, and this host serves the final releases.
    let entry_points = [
        "wasi:cli/run@",
        "wasi:http/handler@",
        "wasi:http/incoming-handler@",
    ];
    for export in exports {
        if let Some((interface, version)) = export.split_once('@')
            && entry_points.iter().any(|p| export.starts_with(p))
            && version.contains('-')
        {
            let release = version.split('-').next().unwrap_or(version);
            message.push_str(&format!(
                "\nhint: it exports {interface} at the pre-release {version}, which only a host of \
                 that exact pre-release runs; rebuild it against the release {release}"
            ));
        }
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn top_level_exports_skip_nested_modules_and_components() {
        let bytes = wat::parse_str(
            r#"(component
                (component $inner
                    (core module $m (func (export "f")))
                    (core instance $i (instantiate $m))
                    (func $f (canon lift (core func $i "f")))
                    (export "nested" (func $f)))
                (instance $ci (instantiate $inner))
                (export "outer" (func $ci "nested")))"#,
        )
        .unwrap();
        assert_eq!(top_level_exports(&bytes).unwrap(), ["outer"]);
        assert_eq!(top_level_exports(b"\0asm garbage"), None);
    }

    #[test]
    fn explains_what_a_file_is() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_component(&write(&dir, "x.wasm", b"garbage!garbage")).unwrap_err();
        assert!(
            format!("{err:#}").contains("not a WebAssembly file"),
            "{err:#}"
        );
        let core = wat::parse_str("(module)").unwrap();
        let err = read_component(&write(&dir, "core.wasm", &core)).unwrap_err();
        assert!(
            format!("{err:#}").contains("core WebAssembly module, not a component"),
            "{err:#}"
        );
        let err = read_component(&write(&dir, "bad.wat", b"(component (nonsense))")).unwrap_err();
        assert!(format!("{err:#}").contains("bad.wat"), "{err:#}");
        let ok = read_component(&write(&dir, "ok.wat", b"(component)")).unwrap();
        assert!(ok.bytes.starts_with(WASM_MAGIC));
        let err = read_component(&dir.path().join("missing.wasm")).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read"), "{err:#}");
    }
}
