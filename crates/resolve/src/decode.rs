//! Reading a component's world (its imports and exports, with the functions and types they
//! use) from its binary, with `wit_component::decode`, and explaining a file that is not a
//! component: not Wasm at all, a core module, or malformed (with the byte offset).
//!
//! Nothing here panics on any input: the whole binary is validated by `wasmparser` before
//! the decoder sees it, and the decoder runs under `catch_unwind` all the same.

use std::panic::{AssertUnwindSafe, catch_unwind};

use manifold_config::InterfaceName;
use wasmparser::{Validator, WasmFeatures};
use wit_component::DecodedWasm;
use wit_parser::{InterfaceId, Resolve, TypeDefKind, WorldItem, WorldKey};

use crate::signature;

const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// Why a file is not a component this crate can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "{origin} is not a WebAssembly file: it does not start with the `\\0asm` magic bytes \
         ({found})"
    )]
    NotWasm { origin: String, found: String },

    #[error(
        "{origin} is a core WebAssembly module, not a component.\n\
         Manifold runs components (the component model, WASI 0.2). Turn the module into one \
         with the WASI adapter, e.g.:\n  \
         wasm-tools component new {origin} --adapt wasi_snapshot_preview1.command.wasm -o app.component.wasm\n\
         (use the `reactor` adapter for libraries and the `proxy` adapter for HTTP handlers; \
         the adapters ship with Wasmtime's releases), or build with a toolchain that targets \
         wasm32-wasip2 directly."
    )]
    CoreModule { origin: String },

    #[error(
        "{origin} has an unknown WebAssembly version/layer {layer}; this host reads components \
         of the component model (layer 1)"
    )]
    UnknownLayer { origin: String, layer: String },

    #[error("{origin} is not a valid component: {message} (at offset {offset:#x}){advice}",
        advice = malformed_advice(message, *len))]
    Malformed {
        origin: String,
        message: String,
        offset: usize,
        len: usize,
    },

    #[error(
        "{origin} is a WIT package encoded as WebAssembly (interface definitions), not a \
         component with code; build a component that implements it"
    )]
    WitPackage { origin: String },

    #[error("{origin} is a valid component, but its imports and exports cannot be read: {message}")]
    Undecodable { origin: String, message: String },
}

fn malformed_advice(message: &str, len: usize) -> String {
    if message.contains("unexpected end") {
        format!(
            "\nthe file ends too early ({len} bytes): it looks truncated; build or copy it again"
        )
    } else {
        "\nthe file is damaged or was not produced by a component toolchain; build it again".into()
    }
}

impl DecodeError {
    /// A stable, kebab-case name for the kind of error (used in JSON).
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::NotWasm { .. } => "not-wasm",
            DecodeError::CoreModule { .. } => "core-module",
            DecodeError::UnknownLayer { .. } => "unknown-layer",
            DecodeError::Malformed { .. } => "malformed",
            DecodeError::WitPackage { .. } => "wit-package",
            DecodeError::Undecodable { .. } => "undecodable",
        }
    }

    /// The byte offset of a malformed file's first error.
    pub fn offset(&self) -> Option<usize> {
        match self {
            DecodeError::Malformed { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// What kind of item an import or export is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// An instance of an interface (`wasi:cli/environment@0.2.0`, or an unnamed one).
    Interface,
    /// A bare function, outside any interface.
    Function,
    /// A bare type (e.g. a resource imported at world level).
    Type,
}

/// A function of an import or export, as the component declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorldFunction {
    /// The name in the binary: `get-environment`, `[method]descriptor.read`, …
    pub name: String,
    /// Its WIT signature, `func(…) -> …` or `async func(…) -> …`.
    pub signature: String,
    /// Whether its component type is `async` (WIT's `async func`, WASI 0.3): a caller may
    /// go on while it runs.
    pub is_async: bool,
}

/// One import of a component.
#[derive(Debug, Clone)]
pub struct Import {
    /// As written in the binary: `wasi:cli/environment@0.2.0`, or a plain name.
    pub name: String,
    /// The interface, when the import is a named interface.
    pub interface: Option<InterfaceName>,
    pub kind: ItemKind,
    /// The functions the component imports (all of them, for an interface).
    pub functions: Vec<WorldFunction>,
    /// The resources the component imports from the interface (or, for a bare type, the
    /// type itself if it is a resource).
    pub resources: Vec<String>,
    /// The interface in the component's [`Resolve`].
    pub(crate) id: Option<InterfaceId>,
}

/// One export of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// As written in the binary: `wasi:cli/run@0.2.0`, or a plain name.
    pub name: String,
    pub interface: Option<InterfaceName>,
    pub kind: ItemKind,
    /// The functions the component exports (of the interface, or the bare function).
    pub functions: Vec<WorldFunction>,
}

/// A component's side of resolution: its world, decoded from its binary.
#[derive(Debug)]
pub struct ComponentWorld {
    pub imports: Vec<Import>,
    pub exports: Vec<Export>,
    /// The component's types, which [`Import`]s refer into.
    pub(crate) resolve: Resolve,
}

impl ComponentWorld {
    /// The component's decoded WIT.
    pub fn resolve(&self) -> &Resolve {
        &self.resolve
    }
}

/// Reads a component's world from its binary. `origin` (a file name) is used in messages.
pub fn decode_component(bytes: &[u8], origin: &str) -> Result<ComponentWorld, DecodeError> {
    check_header(bytes, origin)?;
    let origin = origin.to_string();
    // Validating first means the decoder only ever sees a well-formed binary, whose section
    // sizes are true (it buffers by the sizes it reads).
    if let Err(e) = Validator::new_with_features(WasmFeatures::all()).validate_all(bytes) {
        return Err(DecodeError::Malformed {
            message: e.message().to_string(),
            offset: e.offset(),
            len: bytes.len(),
            origin,
        });
    }
    let decoded = catch_unwind(AssertUnwindSafe(|| wit_component::decode(bytes)));
    match decoded {
        Ok(Ok(DecodedWasm::Component(resolve, world))) => Ok(world_of(resolve, world)),
        Ok(Ok(DecodedWasm::WitPackage(..))) => Err(DecodeError::WitPackage { origin }),
        Ok(Err(e)) => Err(DecodeError::Undecodable {
            message: format!("{e:#}"),
            origin,
        }),
        Err(_) => Err(DecodeError::Undecodable {
            message: "the WIT decoder failed (a bug in it; please report the file)".into(),
            origin,
        }),
    }
}

/// The cheap first look (magic and layer) that tells a component from a core module, another
/// format or garbage, without validating the whole file; `decode_component` starts with it.
pub fn check_header(bytes: &[u8], origin: &str) -> Result<(), DecodeError> {
    let origin = origin.to_string();
    if !bytes.starts_with(WASM_MAGIC) {
        return Err(DecodeError::NotWasm {
            found: describe_start(bytes),
            origin,
        });
    }
    // Bytes 4..8 are the version and layer: 1,0,0,0 for a core module and 0x0d,0,1,0 for a
    // component (binary format "layer" 1). A shorter file is left to the validator, which
    // reports where it ends.
    match bytes.get(4..8) {
        Some([1, 0, 0, 0]) => return Err(DecodeError::CoreModule { origin }),
        Some([_, _, 1, 0]) | None => {}
        Some(other) => {
            return Err(DecodeError::UnknownLayer {
                layer: format!("{other:02x?}"),
                origin,
            });
        }
    }
    Ok(())
}

/// "it starts with 47 61 72 62; 15 bytes", or "it is empty".
fn describe_start(bytes: &[u8]) -> String {
    if bytes.is_empty() {
        return "it is empty".into();
    }
    let head: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "it starts with {}; {} byte{}",
        head.join(" "),
        bytes.len(),
        if bytes.len() == 1 { "" } else { "s" }
    )
}

fn world_of(resolve: Resolve, world: wit_parser::WorldId) -> ComponentWorld {
    let w = &resolve.worlds[world];
    let imports = w
        .imports
        .iter()
        .map(|(key, item)| import_of(&resolve, key, item))
        .collect();
    let exports = w
        .exports
        .iter()
        .map(|(key, item)| {
            let (name, interface, kind) = describe_item(&resolve, key, item);
            Export {
                name,
                interface,
                kind,
                functions: functions_of(&resolve, item),
            }
        })
        .collect();
    ComponentWorld {
        imports,
        exports,
        resolve,
    }
}

fn describe_item(
    resolve: &Resolve,
    key: &WorldKey,
    item: &WorldItem,
) -> (String, Option<InterfaceName>, ItemKind) {
    let interface = match (key, item) {
        (WorldKey::Interface(id), _) => manifold_wit::interface_name(resolve, *id),
        _ => None,
    };
    let kind = match item {
        WorldItem::Interface { .. } => ItemKind::Interface,
        WorldItem::Function(_) => ItemKind::Function,
        WorldItem::Type { .. } => ItemKind::Type,
    };
    let name = match &interface {
        Some(name) => name.to_string(),
        None => resolve.name_world_key(key),
    };
    (name, interface, kind)
}

/// The functions of an interface item (all of them) or a bare function item.
fn functions_of(resolve: &Resolve, item: &WorldItem) -> Vec<WorldFunction> {
    let describe = |f: &wit_parser::Function| WorldFunction {
        name: f.name.clone(),
        signature: signature::function(resolve, f),
        is_async: f.kind.is_async(),
    };
    match item {
        WorldItem::Interface { id, .. } => resolve.interfaces[*id]
            .functions
            .values()
            .map(describe)
            .collect(),
        WorldItem::Function(f) => vec![describe(f)],
        WorldItem::Type { .. } => Vec::new(),
    }
}

fn import_of(resolve: &Resolve, key: &WorldKey, item: &WorldItem) -> Import {
    let (name, interface, kind) = describe_item(resolve, key, item);
    let functions = functions_of(resolve, item);
    let (resources, id) = match item {
        WorldItem::Interface { id, .. } => {
            let iface = &resolve.interfaces[*id];
            let resources = iface
                .types
                .iter()
                .filter(|(_, ty)| matches!(resolve.types[**ty].kind, TypeDefKind::Resource))
                .map(|(name, _)| name.clone())
                .collect();
            (resources, Some(*id))
        }
        WorldItem::Function(_) => (Vec::new(), None),
        WorldItem::Type { id, .. } => {
            let resources = match (&resolve.types[*id].kind, key) {
                (TypeDefKind::Resource, WorldKey::Name(name)) => vec![name.clone()],
                _ => Vec::new(),
            };
            (resources, None)
        }
    };
    Import {
        name,
        interface,
        kind,
        functions,
        resources,
        id,
    }
}
