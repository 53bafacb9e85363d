//! What a scaffold is made of: the interfaces picked from a WIT file and, for each, its
//! functions and resources, with the names every kind of plugin is called by.

use anyhow::{Context as _, bail};
use wit_parser::{Function, FunctionKind, InterfaceId, PackageId, Resolve, Type, TypeDefKind};

/// One parsed WIT file and the interfaces a plugin will serve.
#[derive(Debug)]
pub struct Model {
    pub resolve: Resolve,
    pub interfaces: Vec<Interface>,
}

#[derive(Debug)]
pub struct Interface {
    pub id: InterfaceId,
    /// `ns:pkg/iface@version`, as the host and wRPC name it.
    pub qualified: String,
    /// The interface's own name (`types`).
    pub name: String,
    pub functions: Vec<Func>,
    /// Names of the resources defined in the interface, in order.
    pub resources: Vec<String>,
}

#[derive(Debug)]
pub struct Func {
    pub wit: Function,
    /// The name the host calls it by (wRPC's: `f`, `r.m`, `r` for a constructor).
    pub rpc_name: String,
    /// The resource it belongs to, for methods, static functions and constructors.
    pub resource: Option<String>,
}

impl Func {
    pub fn is_constructor(&self) -> bool {
        matches!(self.wit.kind, FunctionKind::Constructor(_))
    }

    /// Its name in the resource (or the interface): `add` for `[method]counter.add`.
    pub fn item_name(&self) -> &str {
        self.wit.item_name()
    }
}

impl Model {
    /// Parses `wit` (one `.wit` file) and picks `wanted` of its main package's interfaces,
    /// each as `ns:pkg/iface[@version]` or the bare interface name; all of them when `wanted`
    /// is empty.
    pub fn load(wit_path: &std::path::Path, wanted: &[String]) -> anyhow::Result<Model> {
        let mut resolve = Resolve::default();
        let package = resolve
            .push_file(wit_path)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| format!("cannot parse WIT file {}", wit_path.display()))?;
        let ids = select(&resolve, package, wanted)?;
        let interfaces = ids
            .into_iter()
            .map(|id| interface(&resolve, id))
            .collect::<anyhow::Result<Vec<_>>>()?;
        if interfaces.iter().all(|i| i.functions.is_empty()) {
            bail!(
                "{} has no functions in {}: nothing for a plugin to serve",
                wit_path.display(),
                names(&interfaces)
            );
        }
        Ok(Model {
            resolve,
            interfaces,
        })
    }
}

impl Model {
    /// The picked interfaces, for prose: `a:b/c@1.0.0, a:b/d@1.0.0`.
    pub fn interface_list(&self) -> String {
        names(&self.interfaces)
    }
}

fn names(interfaces: &[Interface]) -> String {
    interfaces
        .iter()
        .map(|i| i.qualified.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn select(
    resolve: &Resolve,
    package: PackageId,
    wanted: &[String],
) -> anyhow::Result<Vec<InterfaceId>> {
    let all: Vec<(String, InterfaceId)> = resolve.packages[package]
        .interfaces
        .values()
        .filter_map(|&id| Some((resolve.id_of(id)?, id)))
        .collect();
    if all.is_empty() {
        bail!(
            "package {} defines no interface; a plugin serves interfaces",
            resolve.packages[package].name
        );
    }
    if wanted.is_empty() {
        return Ok(all.into_iter().map(|(_, id)| id).collect());
    }
    let mut picked = Vec::new();
    for want in wanted {
        let found = all.iter().find(|(qualified, id)| {
            qualified == want
                || qualified.split('@').next() == Some(want.as_str())
                || resolve.interfaces[*id].name.as_deref() == Some(want.as_str())
        });
        match found {
            Some((_, id)) if !picked.contains(id) => picked.push(*id),
            Some(_) => {}
            None => bail!(
                "--interface {want}: the WIT has no such interface; it has {}",
                all.iter()
                    .map(|(q, _)| q.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    Ok(picked)
}

fn interface(resolve: &Resolve, id: InterfaceId) -> anyhow::Result<Interface> {
    let iface = &resolve.interfaces[id];
    let qualified = resolve.id_of(id).unwrap_or_default();
    let mut functions = Vec::new();
    for function in iface.functions.values() {
        // An `async func` is scaffolded like any function: RPC plugins answer each call as
        // it comes (several may be in flight), a dylib serves it synchronously.
        let rpc_name = manifold_plugin_api::rpc_func_name(&function.name).to_owned();
        for ty in function
            .params
            .iter()
            .map(|p| &p.ty)
            .chain(function.result.as_ref())
        {
            check_supported(resolve, ty).with_context(|| format!("{qualified}#{rpc_name}"))?;
        }
        let resource = function
            .kind
            .resource()
            .and_then(|r| resolve.types[r].name.clone());
        functions.push(Func {
            wit: function.clone(),
            rpc_name,
            resource,
        });
    }
    let resources = iface
        .types
        .iter()
        .filter(|(_, t)| matches!(resolve.types[**t].kind, TypeDefKind::Resource))
        .map(|(name, _)| name.clone())
        .collect();
    Ok(Interface {
        id,
        qualified,
        name: iface.name.clone().unwrap_or_default(),
        functions,
        resources,
    })
}

/// Refuses the types plugins cannot carry (streams, futures, maps, error contexts).
fn check_supported(resolve: &Resolve, ty: &Type) -> anyhow::Result<()> {
    let Type::Id(id) = ty else {
        if matches!(ty, Type::ErrorContext) {
            bail!("error-context values are not supported by Manifold plugins");
        }
        return Ok(());
    };
    let each = |types: &mut dyn Iterator<Item = &Type>| -> anyhow::Result<()> {
        for t in types {
            check_supported(resolve, t)?;
        }
        Ok(())
    };
    match &resolve.types[*id].kind {
        TypeDefKind::Record(r) => each(&mut r.fields.iter().map(|f| &f.ty)),
        TypeDefKind::Tuple(t) => each(&mut t.types.iter()),
        TypeDefKind::Variant(v) => each(&mut v.cases.iter().filter_map(|c| c.ty.as_ref())),
        TypeDefKind::Option(t) | TypeDefKind::List(t) | TypeDefKind::Type(t) => {
            check_supported(resolve, t)
        }
        TypeDefKind::Result(r) => each(&mut r.ok.iter().chain(r.err.iter())),
        TypeDefKind::Resource
        | TypeDefKind::Handle(_)
        | TypeDefKind::Flags(_)
        | TypeDefKind::Enum(_) => Ok(()),
        TypeDefKind::Stream(_) => bail!(
            "stream types are not supported by `manifold plugin new` yet (an rpc plugin \
             written with wit-bindgen-wrpc serves `stream<u8>` in an `async func`: see \
             docs/plugins.md)"
        ),
        other => bail!(
            "{} types are not supported by Manifold plugins",
            other.as_str()
        ),
    }
}

/// The WIT text of a type, for comments: `list<string>`, `point`, `borrow<counter>`.
pub fn wit_text(resolve: &Resolve, ty: &Type) -> String {
    let Type::Id(id) = ty else {
        return match ty {
            Type::Bool => "bool",
            Type::U8 => "u8",
            Type::U16 => "u16",
            Type::U32 => "u32",
            Type::U64 => "u64",
            Type::S8 => "s8",
            Type::S16 => "s16",
            Type::S32 => "s32",
            Type::S64 => "s64",
            Type::F32 => "f32",
            Type::F64 => "f64",
            Type::Char => "char",
            Type::String => "string",
            Type::ErrorContext => "error-context",
            Type::Id(_) => unreachable!("handled above"),
        }
        .to_owned();
    };
    let def = &resolve.types[*id];
    if let Some(name) = &def.name {
        return name.clone();
    }
    let text = |t: &Type| wit_text(resolve, t);
    let opt = |t: &Option<Type>| t.as_ref().map_or("_".to_owned(), text);
    match &def.kind {
        TypeDefKind::List(t) => format!("list<{}>", text(t)),
        TypeDefKind::Option(t) => format!("option<{}>", text(t)),
        TypeDefKind::Result(r) => match (&r.ok, &r.err) {
            (None, None) => "result".to_owned(),
            (Some(ok), None) => format!("result<{}>", text(ok)),
            _ => format!("result<{}, {}>", opt(&r.ok), opt(&r.err)),
        },
        TypeDefKind::Tuple(t) => format!(
            "tuple<{}>",
            t.types.iter().map(text).collect::<Vec<_>>().join(", ")
        ),
        TypeDefKind::Handle(wit_parser::Handle::Own(r)) => {
            resolve.types[*r].name.clone().unwrap_or_default()
        }
        TypeDefKind::Handle(wit_parser::Handle::Borrow(r)) => format!(
            "borrow<{}>",
            resolve.types[*r].name.clone().unwrap_or_default()
        ),
        TypeDefKind::Type(t) => text(t),
        other => other.as_str().to_owned(),
    }
}

/// The WIT signature of a function, for comments: `counter.add: func(n: u64) -> u64`.
pub fn signature(resolve: &Resolve, func: &Func) -> String {
    let params = func
        .wit
        .params
        .iter()
        .filter(|p| {
            !(p.name == "self"
                && matches!(
                    func.wit.kind,
                    FunctionKind::Method(_) | FunctionKind::AsyncMethod(_)
                ))
        })
        .map(|p| format!("{}: {}", p.name, wit_text(resolve, &p.ty)))
        .collect::<Vec<_>>()
        .join(", ");
    let name = &func.rpc_name;
    if func.is_constructor() {
        return format!("{name}: constructor({params})");
    }
    let prefix = match func.wit.kind {
        FunctionKind::Static(_) => "static func",
        FunctionKind::AsyncStatic(_) => "static async func",
        FunctionKind::AsyncFreestanding | FunctionKind::AsyncMethod(_) => "async func",
        _ => "func",
    };
    match &func.wit.result {
        Some(result) => format!(
            "{name}: {prefix}({params}) -> {}",
            wit_text(resolve, result)
        ),
        None => format!("{name}: {prefix}({params})"),
    }
}
