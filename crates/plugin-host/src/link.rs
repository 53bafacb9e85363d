//! Where one plugin function's calls go ([`Target`]), and the dynamic path: a function linked
//! with `func_new` (in-process plugins, synchronous) or `func_new_async` (RPC) over
//! `wasmtime::component::Val`s, for every signature the typed trampolines (`typed.rs`) do not
//! cover. Both paths share the calls and the checks of the answer here, so a function gives
//! the same results and the same errors whichever path it takes.

use std::cell::Cell;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_plugin_api::wire::{Reader, put};
use manifold_provider::InstanceState;
use wasmtime::StoreContextMut;
use wasmtime::component::types::ComponentFunc;
use wasmtime::component::{LinkerInstance, ResourceType, Val};

use crate::codec::{Decoder, Encoder, handles};
use crate::handles::HandleOwner;
use crate::transport::{InProcess, ReplyBuf};

/// How calls reach the plugin.
#[derive(Clone)]
pub(crate) enum Route {
    /// In-process, synchronously, by the index the plugin gave at load.
    InProcess {
        plugin: Arc<dyn InProcess>,
        index: u64,
    },
    /// Through the transport's `call` (a future): RPC peers.
    Remote,
}

/// One function of a plugin, as linked.
pub(crate) struct Target {
    pub owner: Arc<HandleOwner>,
    pub instance: Arc<str>,
    /// The wRPC name (`counter.add`).
    pub rpc_name: Arc<str>,
    /// `instance#rpc_name`, for messages.
    pub label: String,
    pub route: Route,
}

impl Target {
    /// An in-process call into `reply`.
    pub fn call_in_process(
        &self,
        plugin: &dyn InProcess,
        index: u64,
        params: &[u8],
        reply: &mut ReplyBuf,
    ) -> anyhow::Result<()> {
        plugin
            .call_index(index, params, reply)
            .map_err(|failure| failure.into_call_error(&self.owner.plugin, &self.label))?;
        Ok(())
    }

    /// A whole in-process call over dynamic values: encode, call, decode, in this thread's
    /// scratch buffers.
    pub fn call_dynamic_in_process(
        &self,
        plugin: &dyn InProcess,
        index: u64,
        store: &mut StoreContextMut<'_, InstanceState>,
        ty: &ComponentFunc,
        params: &[Val],
        results: &mut [Val],
    ) -> anyhow::Result<()> {
        with_scratch(|scratch| {
            let encoded = std::mem::take(&mut scratch.params);
            scratch.params = self.encode(store, ty, params, encoded)?;
            self.call_in_process(plugin, index, &scratch.params, &mut scratch.reply)?;
            self.decode(store, ty, scratch.reply.as_bytes(), results)
        })
    }

    /// A call through the transport. An empty answer to a function with results is
    /// explained by the transport when it can (the plugin died during the call).
    pub async fn call_remote(&self, params: Bytes, has_results: bool) -> anyhow::Result<Bytes> {
        let transport = &self.owner.transport;
        let generation = transport.generation();
        let reply = transport
            .call(&self.instance, &self.rpc_name, params)
            .await?;
        if reply.is_empty()
            && has_results
            && let Some(why) = transport.why_unanswered(generation).await
        {
            bail!(
                "plugin `{}` did not answer {}: {why}",
                self.owner.plugin,
                self.label
            );
        }
        Ok(reply)
    }

    /// Refuses an empty answer to a function with results.
    pub fn check_answered(&self, reply: &[u8], results: usize) -> anyhow::Result<()> {
        if reply.is_empty() && results > 0 {
            // wRPC has no error frame: a plugin that fails a call closes the connection
            // without results.
            bail!(
                "plugin `{}` closed the connection without answering {} (its log may say why)",
                self.owner.plugin,
                self.label
            );
        }
        Ok(())
    }

    /// The context of an error in decoding the answer.
    pub fn malformed(&self) -> String {
        format!(
            "plugin `{}` answered {} with a malformed value",
            self.owner.plugin, self.label
        )
    }

    /// The dynamic path's parameters, appended to `out`.
    pub fn encode(
        &self,
        store: &mut StoreContextMut<'_, InstanceState>,
        ty: &ComponentFunc,
        params: &[Val],
        out: Vec<u8>,
    ) -> anyhow::Result<Vec<u8>> {
        let mut encoder = Encoder {
            store,
            owner: &self.owner,
            out,
        };
        for ((_, t), v) in ty.params().zip(params) {
            encoder.value(v, &t)?;
        }
        Ok(encoder.out)
    }

    /// The dynamic path's results, from the answer.
    pub fn decode(
        &self,
        store: &mut StoreContextMut<'_, InstanceState>,
        ty: &ComponentFunc,
        reply: &[u8],
        results: &mut [Val],
    ) -> anyhow::Result<()> {
        self.check_answered(reply, ty.results().len())?;
        let budget = crate::codec::values_budget(store.data().limiter.cap());
        let mut decoder = Decoder {
            store,
            owner: &self.owner,
            reader: Reader::new(reply),
            budget,
        };
        let decoded: anyhow::Result<()> = (|| {
            for (slot, t) in results.iter_mut().zip(ty.results()) {
                *slot = decoder.value(&t, 0)?;
            }
            decoder.reader.finish()?;
            Ok(())
        })();
        decoded.with_context(|| self.malformed())
    }
}

/// A thread's buffers for in-process calls: the encoded parameters and the answer, reused
/// call after call so the hot path allocates nothing.
#[derive(Default)]
pub(crate) struct Scratch {
    pub params: Vec<u8>,
    pub reply: ReplyBuf,
}

thread_local! {
    static SCRATCH: Cell<Scratch> = Cell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch buffers (fresh ones if a call is already using them).
pub(crate) fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    let mut scratch = SCRATCH.with(Cell::take);
    scratch.params.clear();
    let out = f(&mut scratch);
    if scratch.params.capacity() > ReplyBuf::MAX_KEPT {
        scratch.params = Vec::new();
    }
    SCRATCH.with(|cell| cell.set(scratch));
    out
}

/// Links `name` over dynamic values.
pub(crate) fn link_dynamic(
    inst: &mut LinkerInstance<'_, InstanceState>,
    name: &str,
    target: Arc<Target>,
) -> anyhow::Result<()> {
    match target.route.clone() {
        Route::InProcess { plugin, index } => {
            inst.func_new(name, move |mut store, ty, params, results| {
                target
                    .call_dynamic_in_process(&*plugin, index, &mut store, &ty, params, results)
                    .map_err(wasmtime::Error::from_anyhow)
            })?;
        }
        Route::Remote => {
            inst.func_new_async(name, move |mut store, ty, params, results| {
                let target = target.clone();
                Box::new(async move {
                    let result: anyhow::Result<()> = async {
                        let encoded = target.encode(&mut store, &ty, params, Vec::new())?;
                        let has_results = ty.results().len() > 0;
                        let reply = target.call_remote(encoded.into(), has_results).await?;
                        target.decode(&mut store, &ty, &reply, results)
                    }
                    .await;
                    result.map_err(wasmtime::Error::from_anyhow)
                })
            })?;
        }
    }
    Ok(())
}

/// Links resource `name`: when the guest drops a handle, the plugin hears `[drop]name`
/// through `drop`, unless it restarted since it issued the handle. Without `drop` (an
/// in-process plugin that has no such function) the handle is only forgotten.
pub(crate) fn link_resource(
    inst: &mut LinkerInstance<'_, InstanceState>,
    name: &str,
    ty: ResourceType,
    drop: Option<Arc<Target>>,
) -> anyhow::Result<()> {
    /// The handle to drop, if the plugin should hear of it.
    fn dropped(
        store: &mut StoreContextMut<'_, InstanceState>,
        owner: &HandleOwner,
        rep: u32,
    ) -> Option<Bytes> {
        let (handle, generation) = handles(store).remove_dropped(rep)?;
        // After a restart, the plugin has nothing left to drop.
        (generation == owner.transport.generation()).then_some(handle)
    }
    let Some(target) = drop else {
        inst.resource(name, ty, |mut store, rep| {
            handles(&mut store).remove_dropped(rep);
            Ok(())
        })?;
        return Ok(());
    };
    match target.route.clone() {
        Route::InProcess { plugin, index } => {
            inst.resource(name, ty, move |mut store, rep| {
                let Some(handle) = dropped(&mut store, &target.owner, rep) else {
                    return Ok(());
                };
                with_scratch(|scratch| {
                    put::bytes(&mut scratch.params, &handle);
                    if let Err(e) =
                        target.call_in_process(&*plugin, index, &scratch.params, &mut scratch.reply)
                    {
                        tracing::warn!(plugin = %target.owner.plugin, "dropping a handle: {e}");
                    }
                });
                Ok(())
            })?;
        }
        Route::Remote => {
            inst.resource_async(name, ty, move |mut store, rep| {
                let target = target.clone();
                Box::new(async move {
                    let Some(handle) = dropped(&mut store, &target.owner, rep) else {
                        return Ok(());
                    };
                    let mut params = Vec::with_capacity(handle.len() + 2);
                    put::bytes(&mut params, &handle);
                    if let Err(e) = target.call_remote(params.into(), false).await {
                        tracing::warn!(plugin = %target.owner.plugin, "dropping a handle: {e}");
                    }
                    Ok(())
                })
            })?;
        }
    }
    Ok(())
}
