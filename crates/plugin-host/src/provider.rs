//! [`PluginProvider`]: a provider whose interfaces are known only at run time, from a WIT
//! document. A function whose signature is made of "fast" types is linked with a typed
//! trampoline (`typed.rs`), every other one with dynamic values (`link.rs`); each resource as
//! a host resource of a dynamic type whose handles map to the plugin's own. An in-process
//! plugin is called synchronously by index, resolved here once per function.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, bail};
use manifold_plugin_api::{drop_func_name, rpc_func_name};
use manifold_provider::{InterfaceName, Linker, Provider, ProviderKind};
use wasmtime::component::ResourceType;
use wit_parser::{Resolve, TypeDefKind, TypeOwner};

use crate::concurrent::link_concurrent;
use crate::handles::{HandleOwner, ResourceInfo};
use crate::link::{Route, Target, link_dynamic, link_resource};
use crate::transport::{InProcess, Transport};
use crate::typed::{FastSignature, link_typed};

/// Dynamic resource type ids, unique in the process so no two plugin resources share a type.
static NEXT_RESOURCE_ID: AtomicU32 = AtomicU32::new(1);

/// A plugin as a provider.
pub struct PluginProvider {
    name: Arc<str>,
    kind: ProviderKind,
    interfaces: Vec<InterfaceName>,
    wit: Arc<Resolve>,
    transport: Arc<dyn Transport>,
    /// For an in-process plugin: itself, and the index of each function it serves by
    /// (interface, wRPC name), resolved when the provider is built.
    in_process: Option<(Arc<dyn InProcess>, Indices)>,
}

/// An in-process plugin's function indices by (interface, wRPC name).
type Indices = HashMap<(String, String), u64>;

impl PluginProvider {
    /// `interfaces`: what to serve, each of which must be in `wit`; empty means every
    /// interface of the WIT's packages. An in-process plugin must resolve every function of
    /// them (its `[drop]R` functions are optional).
    pub fn new(
        name: &str,
        kind: ProviderKind,
        wit: Resolve,
        interfaces: &[InterfaceName],
        transport: Arc<dyn Transport>,
    ) -> anyhow::Result<PluginProvider> {
        let available = interfaces_of(&wit);
        let interfaces = if interfaces.is_empty() {
            available
        } else {
            for wanted in interfaces {
                if !available.iter().any(|a| wanted.covers(a)) {
                    let list: Vec<String> = available.iter().map(|a| a.to_string()).collect();
                    bail!(
                        "plugin `{name}` is configured to serve {wanted}, which its WIT does not define; it defines: {}",
                        list.join(", ")
                    );
                }
            }
            available
                .into_iter()
                .filter(|a| interfaces.iter().any(|w| w.covers(a)))
                .collect()
        };
        if interfaces.is_empty() {
            bail!("plugin `{name}`: its WIT defines no interface to serve");
        }
        let dylib = transport.clone().in_process().is_some();
        check_async_values(name, &wit, &interfaces, dylib, transport.streams())?;
        let in_process = match transport.clone().in_process() {
            Some(plugin) => {
                let indices = resolve_indices(name, &wit, &interfaces, &*plugin)?;
                Some((plugin, indices))
            }
            None => None,
        };
        Ok(PluginProvider {
            name: name.into(),
            kind,
            interfaces,
            wit: Arc::new(wit),
            transport,
            in_process,
        })
    }

    /// How calls of `func` (wRPC name) of `instance` travel; `None` for an in-process
    /// plugin that does not have it.
    fn route(&self, instance: &str, func: &str) -> Option<Route> {
        match &self.in_process {
            None => Some(Route::Remote),
            Some((plugin, indices)) => {
                indices
                    .get(&(instance.to_owned(), func.to_owned()))
                    .map(|&index| Route::InProcess {
                        plugin: plugin.clone(),
                        index,
                    })
            }
        }
    }
}

/// Refuses, at load, the async values a plugin cannot carry: `stream<u8>` is supported as a
/// parameter or result of an `async func` itself, over a transport that has streams (a Unix
/// socket or TCP); `future<T>`, streams of other element types and streams inside other
/// values are not (yet).
fn check_async_values(
    plugin_name: &str,
    wit: &Resolve,
    interfaces: &[InterfaceName],
    in_process: bool,
    streams: bool,
) -> anyhow::Result<()> {
    for name in interfaces {
        let Some(id) = find_interface(wit, name) else {
            continue;
        };
        for (fname, func) in &wit.interfaces[id].functions {
            let params = func.params.iter().map(|p| &p.ty);
            for ty in params.chain(func.result.iter()) {
                let problem = match async_value(wit, ty, true) {
                    AsyncValue::None => continue,
                    AsyncValue::ByteStream if !func.kind.is_async() => {
                        "a `stream<u8>` in a function that is not an `async func`".to_owned()
                    }
                    AsyncValue::ByteStream if in_process => {
                        "a `stream<u8>`, which a dynamic-library plugin cannot serve (use an rpc \
                         or wasm plugin)"
                            .to_owned()
                    }
                    AsyncValue::ByteStream if !streams => {
                        "a `stream<u8>`, which this transport cannot carry (NATS has no \
                         streams; use a Unix socket or TCP)"
                            .to_owned()
                    }
                    AsyncValue::ByteStream => continue,
                    AsyncValue::Unsupported(what) => what,
                };
                bail!(
                    "plugin `{plugin_name}` cannot serve {name}#{fname}: it has {problem}; \
                     plugins carry `stream<u8>` as a parameter or result of an `async func`"
                );
            }
        }
    }
    Ok(())
}

enum AsyncValue {
    None,
    /// `stream<u8>` as the parameter or result itself.
    ByteStream,
    Unsupported(String),
}

/// Whether `ty` holds an async value (`top`: it is a parameter or result itself).
fn async_value(wit: &Resolve, ty: &wit_parser::Type, top: bool) -> AsyncValue {
    let wit_parser::Type::Id(id) = ty else {
        return AsyncValue::None;
    };
    let inner = |ty: &wit_parser::Type| async_value(wit, ty, false);
    let worst = |values: Vec<AsyncValue>| {
        values
            .into_iter()
            .find(|v| !matches!(v, AsyncValue::None))
            .unwrap_or(AsyncValue::None)
    };
    match &wit.types[*id].kind {
        TypeDefKind::Type(t) => async_value(wit, t, top),
        TypeDefKind::Stream(Some(wit_parser::Type::U8)) if top => AsyncValue::ByteStream,
        TypeDefKind::Stream(Some(wit_parser::Type::U8)) => {
            AsyncValue::Unsupported("a `stream<u8>` inside another value".into())
        }
        TypeDefKind::Stream(_) => {
            AsyncValue::Unsupported("a stream of elements other than `u8`".into())
        }
        TypeDefKind::Future(_) => AsyncValue::Unsupported("a `future`".into()),
        TypeDefKind::Record(r) => worst(r.fields.iter().map(|f| inner(&f.ty)).collect()),
        TypeDefKind::Tuple(t) => worst(t.types.iter().map(inner).collect()),
        TypeDefKind::Variant(v) => worst(
            v.cases
                .iter()
                .filter_map(|c| c.ty.as_ref())
                .map(inner)
                .collect(),
        ),
        TypeDefKind::Option(t) | TypeDefKind::List(t) => inner(t),
        TypeDefKind::Result(r) => worst(r.ok.iter().chain(r.err.iter()).map(inner).collect()),
        _ => AsyncValue::None,
    }
}

/// Looks up, in an in-process plugin, every function of `interfaces` and every resource's
/// `[drop]R`; a function the WIT declares and the plugin does not resolve is an error.
fn resolve_indices(
    plugin_name: &str,
    wit: &Resolve,
    interfaces: &[InterfaceName],
    plugin: &dyn InProcess,
) -> anyhow::Result<Indices> {
    let mut indices = HashMap::new();
    for name in interfaces {
        let id = find_interface(wit, name)
            .with_context(|| format!("{name} is not in plugin `{plugin_name}`'s WIT"))?;
        let iface = &wit.interfaces[id];
        let instance = name.to_string();
        for fname in iface.functions.keys() {
            let rpc_name = rpc_func_name(fname);
            let index = plugin.lookup(&instance, rpc_name).with_context(|| {
                format!(
                    "plugin `{plugin_name}` does not provide {instance}#{rpc_name}, which its \
                     WIT declares (`{fname}`): its lookup found no such function"
                )
            })?;
            indices.insert((instance.clone(), rpc_name.to_owned()), index);
        }
        for (rname, &tid) in &iface.types {
            if matches!(wit.types[tid].kind, TypeDefKind::Resource) {
                let drop_name = drop_func_name(rname);
                if let Some(index) = plugin.lookup(&instance, &drop_name) {
                    indices.insert((instance.clone(), drop_name), index);
                }
            }
        }
    }
    Ok(indices)
}

/// Every interface with a name in `resolve`'s packages, as `ns:pkg/iface@version`.
pub fn interfaces_of(resolve: &Resolve) -> Vec<InterfaceName> {
    let mut out = Vec::new();
    for (_, package) in resolve.packages.iter() {
        for (iface, _) in &package.interfaces {
            let version = package
                .name
                .version
                .as_ref()
                .map(|v| format!("@{v}"))
                .unwrap_or_default();
            let text = format!(
                "{}:{}/{iface}{version}",
                package.name.namespace, package.name.name
            );
            if let Ok(name) = text.parse() {
                out.push(name);
            }
        }
    }
    out
}

fn find_interface(resolve: &Resolve, name: &InterfaceName) -> Option<wit_parser::InterfaceId> {
    resolve.packages.iter().find_map(|(_, package)| {
        let version = package.name.version.as_ref().map(|v| format!("@{v}"));
        let text = format!(
            "{}:{}/{}{}",
            package.name.namespace,
            package.name.name,
            name.interface,
            version.unwrap_or_default()
        );
        (text == name.to_string())
            .then(|| package.interfaces.get(&name.interface).copied())
            .flatten()
    })
}

impl Provider for PluginProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ProviderKind {
        self.kind
    }

    fn interfaces(&self) -> &[InterfaceName] {
        &self.interfaces
    }

    fn wit(&self) -> Option<Arc<Resolve>> {
        Some(self.wit.clone())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        for name in chosen {
            let id = find_interface(&self.wit, name)
                .with_context(|| format!("{name} is not in plugin `{}`'s WIT", self.name))?;
            let iface = &self.wit.interfaces[id];
            let instance_name: Arc<str> = name.to_string().into();

            let mut resources = Vec::new();
            for (rname, &tid) in &iface.types {
                let def = &self.wit.types[tid];
                if matches!(def.kind, TypeDefKind::Resource)
                    && def.owner == TypeOwner::Interface(id)
                {
                    let dynamic = NEXT_RESOURCE_ID.fetch_add(1, Ordering::Relaxed);
                    resources.push(ResourceInfo {
                        ty: ResourceType::host_dynamic(dynamic),
                        id: dynamic,
                        name: rname.clone(),
                    });
                }
            }
            let owner = Arc::new(HandleOwner {
                plugin: self.name.clone(),
                transport: self.transport.clone(),
                resources,
            });
            let target = |rpc_name: &str, route: Route| {
                Arc::new(Target {
                    owner: owner.clone(),
                    instance: instance_name.clone(),
                    rpc_name: rpc_name.into(),
                    label: format!("{instance_name}#{rpc_name}"),
                    route,
                })
            };

            let mut inst = linker
                .instance(&instance_name)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot link {instance_name}"))?;
            for info in &owner.resources {
                let drop_name = drop_func_name(&info.name);
                let drop = self
                    .route(&instance_name, &drop_name)
                    .map(|route| target(&drop_name, route));
                link_resource(&mut inst, &info.name, info.ty, drop)?;
            }
            for (fname, func) in &iface.functions {
                let rpc_name = rpc_func_name(fname);
                let route = self.route(&instance_name, rpc_name).with_context(|| {
                    format!("plugin `{}` has no {instance_name}#{rpc_name}", self.name)
                })?;
                let in_process = matches!(route, Route::InProcess { .. });
                let target = target(rpc_name, route);
                if func.kind.is_async() {
                    // Wasmtime links an `async func` only with a concurrent host function.
                    link_concurrent(&mut inst, fname, target)?;
                    continue;
                }
                match FastSignature::of(&self.wit, func).filter(|s| s.trampoline(in_process)) {
                    Some(signature) => link_typed(&mut inst, fname, &signature, target)?,
                    None => link_dynamic(&mut inst, fname, target)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::check_async_values;
    use crate::interfaces_of;

    fn check(wit: &str, in_process: bool, streams: bool) -> Result<(), String> {
        let mut resolve = wit_parser::Resolve::default();
        resolve.push_str("plugin.wit", wit).unwrap();
        let interfaces = interfaces_of(&resolve);
        check_async_values("p", &resolve, &interfaces, in_process, streams)
            .map_err(|e| e.to_string())
    }

    const STREAMS: &str =
        "package a:b@1.0.0; interface i { f: async func(s: stream<u8>) -> stream<u8>; }";

    #[test]
    fn byte_streams_of_async_funcs_go_where_a_transport_carries_them() {
        assert_eq!(check(STREAMS, false, true), Ok(()));
        let dylib = check(STREAMS, true, false).unwrap_err();
        assert!(
            dylib.contains("a:b/i@1.0.0#f") && dylib.contains("dynamic-library plugin cannot"),
            "{dylib}"
        );
        let nats = check(STREAMS, false, false).unwrap_err();
        assert!(nats.contains("NATS has no streams"), "{nats}");
        // An async func without streams is fine everywhere.
        let plain = "package a:b@1.0.0; interface i { f: async func(x: u64) -> u64; }";
        assert_eq!(check(plain, true, false), Ok(()));
    }

    #[test]
    fn async_values_plugins_cannot_carry_are_refused_by_name() {
        for (wit, expected) in [
            (
                "package a:b@1.0.0; interface i { f: async func(s: future<u8>); }",
                "a `future`",
            ),
            (
                "package a:b@1.0.0; interface i { f: async func(s: stream<u32>); }",
                "elements other than `u8`",
            ),
            (
                "package a:b@1.0.0; interface i { record r { s: stream<u8> } f: async func(x: r); }",
                "inside another value",
            ),
            (
                "package a:b@1.0.0; interface i { f: func() -> stream<u8>; }",
                "not an `async func`",
            ),
        ] {
            let err = check(wit, false, true).unwrap_err();
            assert!(err.contains(expected), "{wit}: {err}");
        }
    }
}
