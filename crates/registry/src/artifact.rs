//! The CNCF Wasm OCI artifact format: the config blob (`application/vnd.wasm.config.v0+json`)
//! with the component's WIT imports, exports and target world, one `application/wasm` layer.
//! <https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/>

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use wit_component::DecodedWasm;
use wit_parser::{Resolve, WorldId};

pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// Media types of manifests we accept.
pub const MANIFEST_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// The config blob.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    /// RFC 3339.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    pub layer_digests: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<ComponentInfo>,
}

/// What the component imports and exports (`ns:pkg/iface@version` names, or plain names for
/// unversioned functions), and the world it targets when known.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ComponentInfo {
    pub exports: Vec<String>,
    pub imports: Vec<String>,
    pub target: Option<String>,
}

/// What a blob to push is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Component,
    /// A WIT package encoded as a component (what `wasm-tools component wit --wasm` and
    /// `wkg wit build` write).
    WitPackage,
}

/// Reads a component or WIT package and describes it. A core module or anything else is
/// refused with what it is.
pub fn describe(bytes: &[u8], origin: &str) -> anyhow::Result<(Kind, ComponentInfo)> {
    if !bytes.starts_with(b"\0asm") {
        bail!("{origin} is not WebAssembly (no `\\0asm` header); push a component (.wasm)");
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        bail!(
            "{origin} is a core Wasm module, not a component; turn it into one with \
             `wasm-tools component new` (or build for wasm32-wasip2)"
        );
    }
    let decoded = wit_component::decode(bytes)
        .with_context(|| format!("{origin}: cannot decode the component's WIT"))?;
    Ok(match decoded {
        DecodedWasm::Component(resolve, world) => {
            (Kind::Component, world_info(&resolve, world, None))
        }
        DecodedWasm::WitPackage(resolve, pkg) => {
            let package = &resolve.packages[pkg];
            let mut exports: Vec<String> = package
                .interfaces
                .values()
                .filter_map(|id| resolve.id_of(*id))
                .collect();
            for world in package.worlds.values() {
                let w = &resolve.worlds[*world];
                exports.push(match &package.name.version {
                    Some(v) => format!(
                        "{}:{}/{}@{v}",
                        package.name.namespace, package.name.name, w.name
                    ),
                    None => format!(
                        "{}:{}/{}",
                        package.name.namespace, package.name.name, w.name
                    ),
                });
            }
            exports.sort();
            exports.dedup();
            (
                Kind::WitPackage,
                ComponentInfo {
                    exports,
                    imports: Vec::new(),
                    target: None,
                },
            )
        }
    })
}

fn world_info(resolve: &Resolve, world: WorldId, target: Option<String>) -> ComponentInfo {
    let w = &resolve.worlds[world];
    ComponentInfo {
        exports: w
            .exports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect(),
        imports: w
            .imports
            .keys()
            .map(|k| resolve.name_world_key(k))
            .collect(),
        target,
    }
}

/// The config for one layer.
pub fn config(
    info: ComponentInfo,
    layer_digest: &str,
    author: Option<String>,
    target: Option<String>,
) -> WasmConfig {
    WasmConfig {
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        author,
        architecture: "wasm".into(),
        os: "wasip2".into(),
        layer_digests: vec![layer_digest.to_owned()],
        component: Some(ComponentInfo {
            target: target.or(info.target.clone()),
            ..info
        }),
    }
}
