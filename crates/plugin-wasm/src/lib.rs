//! Wasm-component plugins (`[plugins.NAME] kind = "wasm"`): a component that exports host
//! interfaces serves the components that import them.
//!
//! Nothing is linked at run time: when a component is loaded, [`compose`] joins it with the
//! plugins chosen for its imports (`wasm-compose`), so each import of the app is satisfied by
//! a plugin's export inside one composed component, which is then compiled (and cached, by
//! its own digest), linked and run like any guest, under the app component's limits.
//!
//! Capabilities: the plugin's own imports become imports of the composed component, served
//! in the app component's store, so whatever they reach is the app component's. A plugin
//! therefore may import only what carries no authority of its own ([`ImportRule`]): I/O
//! streams, clocks, random, the standard streams, `exit`, `wasi:filesystem/types` (useless
//! without a directory). `wasi:cli/environment` and `wasi:filesystem/preopens`, which every
//! preview1-adapted component imports, are served to the plugin by empty stand-ins composed
//! in ([`stubs`]): no variables, no arguments, no directories. Anything else (sockets, HTTP,
//! key-value, config, other plugins' interfaces) is refused when the plugin is loaded, unless
//! the manifest lists it in `[plugins.NAME] share`: then it is served like the component's
//! own import, with the component's grants (an adapter over the component's buckets).

mod compose;
mod stubs;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use manifold_config::PluginPlan;
use manifold_provider::{InterfaceName, Linker, Provider, ProviderKind};
use manifold_resolve::ItemKind;

pub use compose::{Link, compose};

/// What becomes of one of a plugin's own imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportRule {
    /// Served like the app component's import of the same interface: it gives no authority
    /// beyond the instance's own streams, time and randomness.
    Shared,
    /// Served by an empty stand-in composed into the plugin (no variables, no arguments,
    /// no directories), whatever the app component is granted.
    Empty,
}

impl ImportRule {
    /// The rule for `interface` in a plugin whose `[plugins.NAME] share` is `share`: shared
    /// if `share` covers it, else by [`ImportRule::of`].
    pub fn for_plugin(interface: &InterfaceName, share: &[InterfaceName]) -> Option<ImportRule> {
        if share.iter().any(|pattern| pattern.covers(interface)) {
            return Some(ImportRule::Shared);
        }
        ImportRule::of(interface)
    }

    /// The rule for `interface` by default; `None`: a plugin may not import it.
    pub fn of(interface: &InterfaceName) -> Option<ImportRule> {
        if interface.namespace != "wasi" {
            return None;
        }
        match (interface.package.as_str(), interface.interface.as_str()) {
            ("io" | "clocks" | "random", _) => Some(ImportRule::Shared),
            (
                "cli",
                "stdin" | "stdout" | "stderr" | "exit" | "terminal-input" | "terminal-output"
                | "terminal-stdin" | "terminal-stdout" | "terminal-stderr",
            ) => Some(ImportRule::Shared),
            ("filesystem", "types") => Some(ImportRule::Shared),
            ("cli", "environment") | ("filesystem", "preopens") => Some(ImportRule::Empty),
            _ => None,
        }
    }
}

/// One import of a plugin, with its rule.
#[derive(Debug, Clone)]
pub struct PluginImport {
    /// As written in the plugin's binary, e.g. `wasi:cli/environment@0.2.12`.
    pub name: String,
    pub interface: InterfaceName,
    pub rule: ImportRule,
}

/// A Wasm-component plugin, read and checked: what it exports and what it imports.
pub struct WasmPlugin {
    name: String,
    path: PathBuf,
    bytes: Vec<u8>,
    /// The interfaces it serves, each as exported (name in the binary, interface).
    served: Vec<(String, InterfaceName)>,
    interfaces: Vec<InterfaceName>,
    imports: Vec<PluginImport>,
    wit: Arc<wit_parser::Resolve>,
}

impl fmt::Debug for WasmPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WasmPlugin")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("interfaces", &self.interfaces)
            .finish()
    }
}

impl WasmPlugin {
    /// Reads the plugin's component (`.wasm`, or `.wat` text), checks that it exports what
    /// `[plugins.NAME] interfaces` asks for (default: it serves every interface it exports),
    /// and that it imports nothing a plugin may not.
    pub fn load(plan: &PluginPlan) -> anyhow::Result<WasmPlugin> {
        let name = &plan.name;
        let path = plan
            .path
            .as_deref()
            .with_context(|| format!("wasm plugin `{name}` has no `path`"))?;
        let bytes = read(path).with_context(|| format!("cannot load wasm plugin `{name}`"))?;
        Self::from_bytes(plan, path, bytes)
    }

    fn from_bytes(plan: &PluginPlan, path: &Path, bytes: Vec<u8>) -> anyhow::Result<WasmPlugin> {
        let name = &plan.name;
        let origin = path.display().to_string();
        let world = manifold_resolve::decode_component(&bytes, &origin)
            .with_context(|| format!("cannot load wasm plugin `{name}`"))?;

        let exported: Vec<(String, InterfaceName)> = world
            .exports
            .iter()
            .filter(|e| e.kind == ItemKind::Interface)
            .filter_map(|e| Some((e.name.clone(), e.interface.clone()?)))
            .collect();
        let list = |names: &mut dyn Iterator<Item = &String>| {
            let names: Vec<&str> = names.map(String::as_str).collect();
            if names.is_empty() {
                "nothing".to_owned()
            } else {
                names.join(", ")
            }
        };
        let served: Vec<(String, InterfaceName)> = if plan.interfaces.is_empty() {
            if exported.is_empty() {
                bail!(
                    "wasm plugin `{name}` ({origin}) exports no interface, so it cannot serve \
                     anything; it exports {}",
                    list(&mut world.exports.iter().map(|e| &e.name))
                );
            }
            exported
        } else {
            let mut served = Vec::new();
            for wanted in &plan.interfaces {
                let Some(found) = exported.iter().find(|(_, i)| wanted.covers(i)) else {
                    bail!(
                        "wasm plugin `{name}` ({origin}) does not export {wanted}, which \
                         [plugins.{name}] interfaces says it serves; it exports {}",
                        list(&mut exported.iter().map(|(n, _)| n))
                    );
                };
                served.push(found.clone());
            }
            served
        };

        let mut imports = Vec::new();
        let mut refused = Vec::new();
        for import in &world.imports {
            match import.interface.as_ref().and_then(|i| {
                let rule = ImportRule::for_plugin(i, &plan.share)?;
                Some((i, rule))
            }) {
                Some((interface, rule)) => imports.push(PluginImport {
                    name: import.name.clone(),
                    interface: interface.clone(),
                    rule,
                }),
                None => refused.push(import.name.clone()),
            }
        }
        if !refused.is_empty() {
            bail!(
                "wasm plugin `{name}` ({origin}) imports {}, which a plugin may not: its \
                 imports would be served with the grants of the component it is composed \
                 with. A plugin may import wasi:io, wasi:clocks, wasi:random, the standard \
                 streams, wasi:cli/exit and wasi:filesystem/types; wasi:cli/environment and \
                 wasi:filesystem/preopens are given to it empty. To let it use the \
                 component's grants of an interface, list it in [plugins.{name}] share \
                 (see docs/plugins.md)",
                refused.join(", ")
            );
        }

        let interfaces = served.iter().map(|(_, i)| i.clone()).collect();
        Ok(WasmPlugin {
            name: name.clone(),
            path: path.to_path_buf(),
            bytes,
            served,
            interfaces,
            imports,
            wit: Arc::new(world.resolve().clone()),
        })
    }

    /// The plugin's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugin's own imports, each with its rule.
    pub fn imports(&self) -> &[PluginImport] {
        &self.imports
    }

    /// The name of the plugin's export that serves `interface` (one of
    /// [`Provider::interfaces`]).
    pub fn export_name(&self, interface: &InterfaceName) -> Option<&str> {
        self.served
            .iter()
            .find(|(_, i)| i == interface)
            .map(|(name, _)| name.as_str())
    }
}

impl Provider for WasmPlugin {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Wasm
    }

    fn interfaces(&self) -> &[InterfaceName] {
        &self.interfaces
    }

    fn wit(&self) -> Option<Arc<wit_parser::Resolve>> {
        Some(self.wit.clone())
    }

    /// Nothing to link: [`compose`] satisfies the imports inside the component.
    fn add_to_linker(&self, _: &mut Linker, _: &[InterfaceName]) -> anyhow::Result<()> {
        Ok(())
    }
}

/// A component file: binary, or text (`.wat`, or anything starting with `(`).
fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if raw.starts_with(b"\0asm") {
        return Ok(raw);
    }
    let is_text = path.extension().is_some_and(|e| e == "wat")
        || std::str::from_utf8(&raw).is_ok_and(|s| s.trim_start().starts_with('('));
    if !is_text {
        return Ok(raw);
    }
    Ok(wat::parse_bytes(&raw)
        .map_err(|mut e| {
            e.set_path(path);
            anyhow::anyhow!("{e}")
        })?
        .into_owned())
}

#[cfg(test)]
mod tests;
