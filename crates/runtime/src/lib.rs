//! The runtime: one Wasmtime engine, components compiled once (and cached on disk), linked
//! through the provider model, and instantiated fresh for every run or request under the
//! component's limits.
//!
//! Data flows: [`AppPlan`](manifold_config::AppPlan) → [`App::load`] (read, validate,
//! compile or load from cache, choose a provider per interface, link, `instantiate_pre`) →
//! [`LoadedComponent::new_store`] per instance → [`run::run_cli`] or the server.

mod bind;
mod cache;
mod config_source;
mod engine;
mod failure;
mod load;
mod plugins;
pub mod run;

use std::sync::Arc;

use anyhow::Context as _;
use manifold_config::{AppPlan, ComponentPlan, Mode};
use manifold_provider::{Bindings, InstanceState};
use wasmtime::component::{Component, InstancePre};
use wasmtime::{Engine, Store};

pub use bind::{
    BuiltinCatalogEntry, bind_providers, builtin_catalog, builtin_providers, offers, select,
};
pub use cache::{CacheOutcome, CompileCache};
pub use engine::{EPOCH_TICK, EngineOptions, EpochTicker, new_engine};
pub use failure::{Failure, describe_failure};
pub use load::{ComponentBytes, explain_missing_export, read_component};
pub use manifold_plugin_host::rpc::flush_plugin_logs;
pub use plugins::{PluginUse, Plugins, providers};

/// An app whose components are compiled, linked and ready to instantiate.
pub struct App {
    pub name: String,
    pub engine: Engine,
    pub components: Vec<Arc<LoadedComponent>>,
    /// Keeps the engine's epoch moving while the app lives (deadlines depend on it).
    _ticker: EpochTicker,
}

/// One component, pre-instantiated: everything that can be done once is done.
pub struct LoadedComponent {
    pub plan: ComponentPlan,
    pub component: Component,
    pub bindings: Bindings,
    pub pre: InstancePre<InstanceState>,
    /// sha256 of the component binary.
    pub digest: String,
    pub cache: CacheOutcome,
}

impl App {
    /// Loads every component of `plan`: compile (or reuse the cache), bind, link.
    pub fn load(plan: &AppPlan, mode: Mode, cache: Option<&CompileCache>) -> anyhow::Result<App> {
        let options = EngineOptions::for_plan(plan, mode);
        let engine = new_engine(&options)?;
        let ticker = EpochTicker::start(&engine);
        let plugins = Plugins::load(&plan.plugins, PluginUse::Run)?;
        let mut components = Vec::with_capacity(plan.components.len());
        for component in &plan.components {
            let loaded = LoadedComponent::load(&engine, component, plan, mode, cache, &plugins)
                .with_context(|| format!("cannot load component `{}`", component.name))?;
            tracing::debug!(
                component = component.name,
                sha256 = loaded.digest,
                cache = ?loaded.cache,
                "component ready"
            );
            components.push(Arc::new(loaded));
        }
        Ok(App {
            name: plan.name.clone(),
            engine,
            components,
            _ticker: ticker,
        })
    }
}

/// The report of every import `bindings` leaves unmet, if any.
fn unmet_imports(bytes: &ComponentBytes, bindings: &Bindings) -> anyhow::Result<Option<String>> {
    let resolution = check_imports(bytes, bindings)?;
    if resolution.is_ok() {
        return Ok(None);
    }
    let report = resolution.render_text(&bytes.origin);
    let report = report.strip_prefix("error: ").unwrap_or(&report);
    Ok(Some(report.trim_end().to_string()))
}

/// Resolves every import of the component against what `bindings` offers.
pub fn check_imports(
    bytes: &ComponentBytes,
    bindings: &Bindings,
) -> anyhow::Result<manifold_resolve::Resolution> {
    let world = manifold_resolve::decode_component(&bytes.bytes, &bytes.origin)?;
    Ok(manifold_resolve::resolve(&world, &offers(bindings)))
}

impl LoadedComponent {
    fn load(
        engine: &Engine,
        plan: &ComponentPlan,
        app: &AppPlan,
        mode: Mode,
        cache: Option<&CompileCache>,
        plugins: &Plugins,
    ) -> anyhow::Result<LoadedComponent> {
        let bytes = read_component(&plan.source)?;
        if let Some(expected) = &plan.expected_digest {
            let actual = format!("sha256:{}", bytes.sha256_hex());
            anyhow::ensure!(
                *expected == actual,
                "{} is not the component that was pulled: its bytes hash to {actual}, the \
                 registry's layer is {expected} (the cached file changed after it was \
                 checked); run `manifold pull` again",
                plan.source.display()
            );
        }
        let bindings = bind_providers(providers(app, plan, mode, plugins)?, &app.providers)?;
        // The entry point before compiling, from the binary: compiling a large component
        // takes seconds, and one that `run` cannot run (an HTTP handler) should hear so at
        // once. Unmet imports, if any, are the report (every problem at once), as below.
        if let Some(exports) = load::top_level_exports(&bytes.bytes)
            && !load::has_entry_point(mode, &exports)
        {
            if let Some(report) = unmet_imports(&bytes, &bindings)? {
                anyhow::bail!("{report}");
            }
            let wanted = load::entry_point_name(mode);
            anyhow::bail!("{}", load::explain_missing(&exports, &bytes.origin, wanted));
        }
        // Wasm plugins become part of the component, before it is compiled.
        let bytes = plugins.compose(bytes, &bindings)?;
        let (component, outcome) = match cache {
            Some(cache) => cache.load_or_compile(engine, &bytes)?,
            None => (bytes.compile(engine)?, CacheOutcome::Disabled),
        };
        let mut linker = manifold_provider::Linker::new(engine);
        bindings.add_to_linker(&mut linker)?;
        let pre = match linker.instantiate_pre(&component) {
            Ok(pre) => {
                if tracing::enabled!(tracing::Level::DEBUG) {
                    for note in check_imports(&bytes, &bindings)?.notes() {
                        tracing::debug!(component = plan.name, "{}: {}", note.0.name, note.1);
                    }
                }
                pre
            }
            Err(link_error) => {
                // Say what is wrong with every import at once, in the component author's
                // words; the linker's own message is the fallback.
                if let Some(report) = unmet_imports(&bytes, &bindings)? {
                    anyhow::bail!("{report}");
                }
                return Err(anyhow::Error::from(link_error).context(format!(
                    "{} cannot be linked on this host",
                    plan.source.display()
                )));
            }
        };
        Ok(LoadedComponent {
            plan: plan.clone(),
            component,
            bindings,
            pre,
            digest: bytes.sha256_hex(),
            cache: outcome,
        })
    }

    /// A fresh store for one run or request: providers' state, memory cap, fuel, deadline.
    pub fn new_store(&self, engine: &Engine) -> anyhow::Result<Store<InstanceState>> {
        self.new_store_with_deadline(engine, self.plan.limits.timeout)
    }

    /// A fresh store whose instance serves several requests (WASI 0.3 reuse): like
    /// [`LoadedComponent::new_store`], but the epoch callback only yields, because deadlines
    /// are per request there, not per instance; the server enforces them.
    pub fn new_reusable_store(&self, engine: &Engine) -> anyhow::Result<Store<InstanceState>> {
        self.new_store_with_deadline(engine, None)
    }

    /// A fresh store whose run or request must finish within `deadline` (what is left of
    /// the component's `timeout` after waiting for an instance slot, say).
    pub fn new_store_with_deadline(
        &self,
        engine: &Engine,
        deadline: Option<std::time::Duration>,
    ) -> anyhow::Result<Store<InstanceState>> {
        let limits = &self.plan.limits;
        let memory_cap = usize::try_from(limits.memory.0).unwrap_or(usize::MAX);
        let mut state = InstanceState::new(memory_cap);
        self.bindings.prepare_instance(&mut state)?;
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limiter);
        match limits.fuel {
            Some(fuel) => store.set_fuel(fuel)?,
            // The engine counts fuel when any component of the app has a budget; a component
            // without one must not start with an empty tank. (Fails, harmlessly, when the
            // engine does not count fuel at all.)
            None => {
                let _ = store.set_fuel(u64::MAX);
            }
        }
        engine::set_deadline(&mut store, deadline);
        Ok(store)
    }
}
