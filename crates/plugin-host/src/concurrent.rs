//! A plugin's `async func`s: linked with `func_new_concurrent`, so a guest that lowers the
//! import async goes on while the call is in flight, and may have several in flight at once.
//!
//! - Over RPC, a call is the same wRPC invocation as a synchronous one (wRPC does not tell
//!   them apart); each is its own connection, so calls run concurrently. A `stream<u8>`
//!   parameter or result travels as a wRPC stream (`rpc_streams.rs`): the guest's stream is
//!   piped into the call as it writes, the plugin's comes to the guest as it arrives.
//! - In-process (a dylib), the call runs synchronously on the guest's thread, as any dylib
//!   call: the guest's other calls wait for it (documented). Streams are refused at load.
//!
//! Streams are supported as parameters and results themselves (`stream<u8>`, not inside a
//! record or list); `PluginProvider` checks that at load.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_plugin_api::wire::Reader;
use manifold_provider::InstanceState;
use manifold_provider::byte_stream::{ByteSink, ByteSource, CHANNEL_CHUNKS};
use tokio::sync::mpsc;
use wasmtime::component::types::ComponentFunc;
use wasmtime::component::{LinkerInstance, StreamReader, Type, Val};
use wasmtime::{AsContextMut as _, StoreContextMut};

use crate::codec::{Decoder, Encoder, skip};
use crate::link::{Route, Target};
use crate::transport::{ParamStreams, StreamingAnswer, StreamingCall};

/// Links the `async func` `name`.
pub(crate) fn link_concurrent(
    inst: &mut LinkerInstance<'_, InstanceState>,
    name: &str,
    target: Arc<Target>,
) -> anyhow::Result<()> {
    match target.route.clone() {
        Route::InProcess { plugin, index } => {
            inst.func_new_concurrent(name, move |accessor, ty, params, results| {
                let target = target.clone();
                let plugin = plugin.clone();
                Box::pin(async move {
                    accessor
                        .with(|mut access| {
                            target.call_dynamic_in_process(
                                &*plugin,
                                index,
                                &mut access.as_context_mut(),
                                &ty,
                                params,
                                results,
                            )
                        })
                        .map_err(wasmtime::Error::from_anyhow)
                })
            })?;
        }
        Route::Remote => {
            inst.func_new_concurrent(name, move |accessor, ty, params, results| {
                let target = target.clone();
                Box::pin(async move {
                    let result: anyhow::Result<()> = async {
                        if !has_streams(&ty) {
                            let encoded = accessor.with(|mut access| {
                                target.encode(&mut access.as_context_mut(), &ty, params, Vec::new())
                            })?;
                            let has_results = ty.results().len() > 0;
                            let reply = target.call_remote(encoded.into(), has_results).await?;
                            return accessor.with(|mut access| {
                                target.decode(&mut access.as_context_mut(), &ty, &reply, results)
                            });
                        }
                        let (encoded, outgoing) = accessor.with(|mut access| {
                            encode_streaming(&target, &mut access.as_context_mut(), &ty, params)
                        })?;
                        let result_types: Vec<Type> = ty.results().collect();
                        let complete = |bytes: &[u8]| {
                            let mut reader = Reader::new(bytes);
                            result_types.iter().all(|t| skip(&mut reader, t, 0).is_ok())
                        };
                        let incoming = (0u32..)
                            .zip(&result_types)
                            .filter(|(_, t)| matches!(t, Type::Stream(_)))
                            .map(|(i, _)| i)
                            .collect();
                        let answer = target
                            .owner
                            .transport
                            .call_streaming(StreamingCall {
                                instance: &target.instance,
                                func: &target.rpc_name,
                                params: encoded.into(),
                                outgoing,
                                incoming,
                                complete: &complete,
                            })
                            .await?;
                        accessor.with(|mut access| {
                            decode_streaming(
                                &target,
                                &mut access.as_context_mut(),
                                &result_types,
                                answer,
                                results,
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

/// Whether a parameter or result is a stream.
fn has_streams(ty: &ComponentFunc) -> bool {
    ty.params()
        .map(|(_, t)| t)
        .chain(ty.results())
        .any(|t| matches!(t, Type::Stream(_)))
}

/// The parameters, each stream as pending and piped into a channel for the call.
fn encode_streaming(
    target: &Target,
    store: &mut StoreContextMut<'_, InstanceState>,
    ty: &ComponentFunc,
    params: &[Val],
) -> anyhow::Result<(Vec<u8>, ParamStreams)> {
    let mut outgoing = Vec::new();
    let mut out = Vec::new();
    for (index, ((_, t), v)) in (0u32..).zip(ty.params().zip(params)) {
        match (t, v) {
            (Type::Stream(_), Val::Stream(any)) => {
                let reader = StreamReader::<u8>::try_from_stream_any(any.clone())
                    .map_err(anyhow::Error::from)
                    .context("a stream parameter that is not a stream<u8>")?;
                let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
                reader
                    .pipe(&mut *store, ByteSink::new(tx))
                    .map_err(anyhow::Error::from)?;
                out.push(0); // pending: its bytes follow on path [index]
                outgoing.push((index, rx));
            }
            (t, v) => {
                let mut encoder = Encoder {
                    store: &mut *store,
                    owner: &target.owner,
                    out,
                };
                encoder.value(v, &t)?;
                out = encoder.out;
            }
        }
    }
    Ok((out, outgoing))
}

/// The results, each stream a guest stream fed from the plugin (or from the bytes inline).
fn decode_streaming(
    target: &Target,
    store: &mut StoreContextMut<'_, InstanceState>,
    result_types: &[Type],
    answer: StreamingAnswer,
    results: &mut [Val],
) -> anyhow::Result<()> {
    target.check_answered(&answer.root, result_types.len())?;
    let mut streams = answer.streams;
    let budget = crate::codec::values_budget(store.data().limiter.cap());
    let mut decoder = Decoder {
        store,
        owner: &target.owner,
        reader: Reader::new(&answer.root),
        budget,
    };
    let decoded: anyhow::Result<()> = (|| {
        for (index, (slot, t)) in (0u32..).zip(results.iter_mut().zip(result_types)) {
            *slot = match t {
                Type::Stream(_) => {
                    let source = match decoder.reader.byte()? {
                        0 => {
                            let at = streams
                                .iter()
                                .position(|(i, _)| *i == index)
                                .context("a second answer for one stream")?;
                            let (_, rx) = streams.swap_remove(at);
                            ByteSource::new(
                                rx,
                                format!(
                                    "plugin `{}` answering {}",
                                    target.owner.plugin, target.label
                                ),
                            )
                        }
                        1 => ByteSource::of(Bytes::copy_from_slice(decoder.reader.bytes()?)),
                        b => bail!("stream tag {b}"),
                    };
                    let reader = StreamReader::new(&mut *decoder.store, source)
                        .map_err(anyhow::Error::from)?;
                    Val::Stream(
                        reader
                            .try_into_stream_any(&mut *decoder.store)
                            .map_err(anyhow::Error::from)?,
                    )
                }
                t => decoder.value(t, 0)?,
            };
        }
        decoder.reader.finish()?;
        Ok(())
    })();
    decoded.with_context(|| target.malformed())
}
