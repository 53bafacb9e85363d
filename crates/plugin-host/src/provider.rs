//! [`PluginProvider`]: a provider whose interfaces are known only at run time, from a WIT
//! document. Each function is linked with `func_new_async` over dynamic values; each resource
//! as a host resource of a dynamic type whose handles map to the plugin's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_plugin_api::wire::{Reader, put};
use manifold_plugin_api::{drop_func_name, rpc_func_name};
use manifold_provider::{InterfaceName, Linker, Provider, ProviderKind};
use wasmtime::component::ResourceType;
use wit_parser::{Resolve, TypeDefKind, TypeOwner};

use crate::codec::{Decoder, Encoder, handles};
use crate::handles::{HandleOwner, ResourceInfo};
use crate::transport::Transport;

/// Dynamic resource type ids, unique in the process so no two plugin resources share a type.
static NEXT_RESOURCE_ID: AtomicU32 = AtomicU32::new(1);

/// A plugin as a provider.
pub struct PluginProvider {
    name: Arc<str>,
    kind: ProviderKind,
    interfaces: Vec<InterfaceName>,
    wit: Arc<Resolve>,
    transport: Arc<dyn Transport>,
}

impl PluginProvider {
    /// `interfaces`: what to serve, each of which must be in `wit`; empty means every
    /// interface of the WIT's packages.
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
        Ok(PluginProvider {
            name: name.into(),
            kind,
            interfaces,
            wit: Arc::new(wit),
            transport,
        })
    }
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

            let mut inst = linker
                .instance(&instance_name)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot link {instance_name}"))?;
            for info in &owner.resources {
                let owner = owner.clone();
                let instance_name = instance_name.clone();
                let drop_name: Arc<str> = drop_func_name(&info.name).into();
                inst.resource_async(&info.name, info.ty, move |mut store, rep| {
                    let owner = owner.clone();
                    let instance_name = instance_name.clone();
                    let drop_name = drop_name.clone();
                    Box::new(async move {
                        let Some((handle, generation)) = handles(&mut store).remove_dropped(rep)
                        else {
                            return Ok(());
                        };
                        if generation != owner.transport.generation() {
                            return Ok(()); // the plugin restarted: nothing left to drop
                        }
                        let mut params = Vec::with_capacity(handle.len() + 2);
                        put::bytes(&mut params, &handle);
                        if let Err(e) = owner
                            .transport
                            .call(&instance_name, &drop_name, params.into())
                            .await
                        {
                            tracing::warn!(plugin = %owner.plugin, "dropping a handle: {e}");
                        }
                        Ok(())
                    })
                })?;
            }
            for (fname, _) in &iface.functions {
                let owner = owner.clone();
                let instance_name = instance_name.clone();
                let rpc_name: Arc<str> = rpc_func_name(fname).into();
                inst.func_new_async(fname, move |mut store, ty, params, results| {
                    let owner = owner.clone();
                    let instance_name = instance_name.clone();
                    let rpc_name = rpc_name.clone();
                    Box::new(async move {
                        let result: anyhow::Result<()> = async {
                        let mut encoder = Encoder {
                            store: &mut store,
                            owner: &owner,
                            out: Vec::new(),
                        };
                        for ((_, t), v) in ty.params().zip(params) {
                            encoder.value(v, &t)?;
                        }
                        let params = Bytes::from(encoder.out);
                        let reply = owner
                            .transport
                            .call(&instance_name, &rpc_name, params)
                            .await?;
                        if reply.is_empty() && ty.results().len() > 0 {
                            // wRPC has no error frame: a plugin that fails a call closes
                            // the connection without results.
                            bail!(
                                "plugin `{}` closed the connection without answering {instance_name}#{rpc_name} (its log may say why)",
                                owner.plugin
                            );
                        }
                        let mut decoder = Decoder {
                            store: &mut store,
                            owner: &owner,
                            reader: Reader::new(&reply),
                        };
                        let decoded: anyhow::Result<()> = (|| {
                            for (slot, t) in results.iter_mut().zip(ty.results()) {
                                *slot = decoder.value(&t, 0)?;
                            }
                            decoder.reader.finish()?;
                            Ok(())
                        })();
                        decoded.with_context(|| {
                            format!(
                                "plugin `{}` answered {instance_name}#{rpc_name} with a malformed value",
                                owner.plugin
                            )
                        })
                        }
                        .await;
                        result.map_err(wasmtime::Error::from_anyhow)
                    })
                })?;
            }
        }
        Ok(())
    }
}
