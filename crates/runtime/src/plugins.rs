//! The app's plugins (`[plugins.NAME]`): loaded once per app and offered before the
//! built-ins, so a plugin serves an interface that a built-in also offers unless the manifest
//! chooses otherwise. Dynamic-library and RPC plugins are providers linked function by
//! function (`manifold-plugin-host`); Wasm-component plugins are composed into the components
//! they serve ([`Plugins::compose`]) before those are compiled.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_config::{AppPlan, ComponentPlan, Mode, PluginKind, PluginPlan, ProviderKind};
use manifold_plugin_host::dylib::DylibPlugin;
use manifold_plugin_host::rpc::RpcPlugin;
use manifold_plugin_host::{CallError, CallFuture, PluginProvider, Transport, load_wit};
use manifold_plugin_wasm::{Link, WasmPlugin};
use manifold_provider::{Bindings, Provider};

use crate::bind::{builtin_providers, offers};
use crate::load::ComponentBytes;

/// Whether plugins are started (to run the app) or only described (`inspect`, `providers`):
/// a described RPC plugin's program is not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginUse {
    Run,
    Describe,
}

/// The plugins of one app, loaded.
#[derive(Default)]
pub struct Plugins {
    /// Every plugin as a provider, in the manifest's order (by name).
    all: Vec<Arc<dyn Provider>>,
    /// The Wasm-component plugins among them, for composition.
    wasm: Vec<Arc<WasmPlugin>>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.all.iter()).finish()
    }
}

impl Plugins {
    /// Loads every plugin of `plans`; the first that cannot be loaded is the error. RPC
    /// plugins with a `command` are started (for `PluginUse::Run`), which needs a Tokio
    /// runtime.
    pub fn load(plans: &[PluginPlan], usage: PluginUse) -> anyhow::Result<Plugins> {
        let mut plugins = Plugins::default();
        for plan in plans {
            let provider: Arc<dyn Provider> = match plan.kind {
                PluginKind::Wasm => {
                    let plugin = Arc::new(WasmPlugin::load(plan)?);
                    plugins.wasm.push(plugin.clone());
                    plugin
                }
                PluginKind::Dylib => Arc::new(
                    dylib_provider(plan)
                        .with_context(|| format!("cannot load plugin `{}`", plan.name))?,
                ),
                PluginKind::Rpc => Arc::new(
                    rpc_provider(plan, usage)
                        .with_context(|| format!("cannot load plugin `{}`", plan.name))?,
                ),
            };
            plugins.all.push(provider);
        }
        Ok(plugins)
    }

    /// Every plugin as a provider, in the manifest's order (by name).
    pub fn providers(&self) -> Vec<Arc<dyn Provider>> {
        self.all.clone()
    }

    /// `bytes` with the wasm plugins that `bindings` chose for its imports composed in; the
    /// same bytes when no wasm plugin serves any of them. The result has its own digest, so
    /// the compile cache keys on what is actually compiled.
    pub(crate) fn compose(
        &self,
        bytes: ComponentBytes,
        bindings: &Bindings,
    ) -> anyhow::Result<ComponentBytes> {
        let serving = |plugin: &WasmPlugin| {
            bindings.entries.iter().any(|(provider, names)| {
                provider.kind() == ProviderKind::Wasm
                    && provider.name() == plugin.name()
                    && !names.is_empty()
            })
        };
        if !self.wasm.iter().any(|p| serving(p)) {
            return Ok(bytes);
        }
        // Which import each plugin serves, in the component's own names: resolution binds
        // every import to one offer, by the same version rules as the linker.
        let world = manifold_resolve::decode_component(&bytes.bytes, &bytes.origin)?;
        let offers = offers(bindings);
        let resolution = manifold_resolve::resolve(&world, &offers);
        if !resolution.is_ok() {
            let report = resolution.render_text(&bytes.origin);
            let report = report.strip_prefix("error: ").unwrap_or(&report);
            bail!("{}", report.trim_end());
        }
        let mut uses: Vec<(&WasmPlugin, Vec<Link>)> = Vec::new();
        for (offer, imports) in resolution.bindings() {
            let offer = &offers[offer];
            if offer.kind != ProviderKind::Wasm.to_string() {
                continue;
            }
            let Some(plugin) = self.wasm.iter().find(|p| p.name() == offer.provider) else {
                continue;
            };
            let export = plugin
                .export_name(&offer.interface)
                .with_context(|| {
                    format!(
                        "wasm plugin `{}` was chosen for {}, which it does not export",
                        plugin.name(),
                        offer.interface
                    )
                })?
                .to_owned();
            let links = imports.iter().map(|import| Link {
                import: import.name.clone(),
                export: export.clone(),
            });
            match uses.iter_mut().find(|(p, _)| p.name() == plugin.name()) {
                Some((_, existing)) => existing.extend(links),
                None => uses.push((plugin, links.collect())),
            }
        }
        if uses.is_empty() {
            return Ok(bytes);
        }
        let names: Vec<String> = uses
            .iter()
            .map(|(p, _)| format!("`{}`", p.name()))
            .collect();
        tracing::debug!(
            component = bytes.origin,
            plugins = names.join(", "),
            "composing"
        );
        let composed = manifold_plugin_wasm::compose(&bytes.bytes, &uses).with_context(|| {
            format!(
                "cannot compose {} with wasm plugin {}",
                bytes.origin,
                names.join(", ")
            )
        })?;
        Ok(ComponentBytes::new(composed, bytes.origin))
    }
}

/// Every provider for one component of `app`: the plugins first, then the built-ins.
pub fn providers(
    app: &AppPlan,
    component: &ComponentPlan,
    mode: Mode,
    plugins: &Plugins,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    let mut providers = plugins.providers();
    providers.extend(builtin_providers(app, component, mode)?);
    Ok(providers)
}

fn dylib_provider(plan: &PluginPlan) -> anyhow::Result<PluginProvider> {
    let path = plan.path.as_ref().context("a dylib plugin needs `path`")?;
    let library = DylibPlugin::load(&plan.name, path)?;
    let wit = library.resolve()?;
    PluginProvider::new(
        &plan.name,
        ProviderKind::Dylib,
        wit,
        &plan.interfaces,
        Arc::new(library),
    )
}

fn rpc_provider(plan: &PluginPlan, usage: PluginUse) -> anyhow::Result<PluginProvider> {
    let wit_path = plan.wit.as_ref().context("an rpc plugin needs `wit`")?;
    let wit = load_wit(wit_path)?;
    let transport: Arc<dyn Transport> = match usage {
        PluginUse::Run => Arc::new(RpcPlugin::start(plan)?),
        PluginUse::Describe => Arc::new(NotStarted(plan.name.clone())),
    };
    PluginProvider::new(
        &plan.name,
        ProviderKind::Rpc,
        wit,
        &plan.interfaces,
        transport,
    )
}

/// The transport of a plugin that is only described, never called.
struct NotStarted(String);

impl Transport for NotStarted {
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, _: Bytes) -> CallFuture<'a> {
        Box::pin(std::future::ready(Err(CallError::Unreachable {
            plugin: self.0.clone(),
            func: format!("{instance}#{func}"),
            message: "not started".into(),
        })))
    }
}
