//! The app's plugins (`[plugins.NAME]`) as providers.

use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use manifold_config::{AppPlan, PluginKind, PluginPlan};
use manifold_plugin_host::dylib::DylibPlugin;
use manifold_plugin_host::rpc::RpcPlugin;
use manifold_plugin_host::{CallError, CallFuture, PluginProvider, Transport, load_wit};
use manifold_provider::Provider;

/// Whether plugins are started (to run the app) or only described (`inspect`, `providers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginUse {
    Run,
    Describe,
}

/// Every dylib and RPC plugin of `app`, loaded (or only read, for `Describe`), in manifest
/// order. Wasm-component plugins are composed with the component instead.
pub fn plugin_providers(app: &AppPlan, usage: PluginUse) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    let mut out: Vec<Arc<dyn Provider>> = Vec::new();
    for plan in &app.plugins {
        let provider = match plan.kind {
            PluginKind::Dylib => dylib_provider(plan),
            PluginKind::Rpc => rpc_provider(plan, usage),
            PluginKind::Wasm => continue,
        }
        .with_context(|| format!("cannot load plugin `{}`", plan.name))?;
        out.push(Arc::new(provider));
    }
    Ok(out)
}

fn dylib_provider(plan: &PluginPlan) -> anyhow::Result<PluginProvider> {
    let path = plan.path.as_ref().context("a dylib plugin needs `path`")?;
    let library = DylibPlugin::load(&plan.name, path)?;
    let wit = library.resolve()?;
    PluginProvider::new(
        &plan.name,
        manifold_config::ProviderKind::Dylib,
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
        manifold_config::ProviderKind::Rpc,
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
