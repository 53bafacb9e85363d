//! `manifold run`: instantiate a `wasi:cli/run` component once and map its outcome to an
//! exit code. A component exports `run` at 0.2 (a plain function) or at 0.3 (an `async func`,
//! driven inside the store's concurrent event loop); the grants, limits and exit codes are the
//! same for both.

use anyhow::{Context as _, bail};
use wasmtime::Engine;
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::p3::bindings::CommandPre as CommandPreP3;

use crate::LoadedComponent;
use crate::failure::{Failure, describe_failure};

/// How a run ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// The guest returned or called `exit`: its status.
    Exited(i32),
    /// The guest was stopped or trapped.
    Failed(Failure),
}

/// Exit status when the guest trapped or hit a limit (like a signal-killed process would).
pub const EXIT_GUEST_FAILED: u8 = 134;

/// Runs the component's `wasi:cli/run` export to completion.
pub async fn run_cli(engine: &Engine, component: &LoadedComponent) -> anyhow::Result<RunOutcome> {
    enum Pre {
        P2(CommandPre<manifold_provider::InstanceState>),
        P3(CommandPreP3<manifold_provider::InstanceState>),
    }
    let pre = match CommandPre::new(component.pre.clone()) {
        Ok(pre) => Pre::P2(pre),
        Err(_) => match CommandPreP3::new(component.pre.clone()) {
            Ok(pre) => Pre::P3(pre),
            Err(_) => bail!(
                "{}",
                crate::load::explain_missing_export(component, manifold_config::Mode::Run)
            ),
        },
    };
    let mut store = component.new_store(engine)?;
    let result = async {
        match &pre {
            Pre::P2(pre) => {
                let command = pre.instantiate_async(&mut store).await?;
                command.wasi_cli_run().call_run(&mut store).await
            }
            Pre::P3(pre) => {
                let command = pre.instantiate_async(&mut store).await?;
                store
                    .run_concurrent(async |accessor| {
                        command.wasi_cli_run().call_run(accessor).await
                    })
                    .await?
            }
        }
    };
    let result = match component.plan.limits.timeout {
        // Past the deadline the epoch callback stops a busy guest; this timer stops one that
        // is blocked in the host (sleeping, waiting on a stream).
        Some(limit) => {
            match tokio::time::timeout(limit + crate::engine::EPOCH_TICK * 5, result).await {
                Ok(r) => r,
                Err(_) => return Ok(RunOutcome::Failed(Failure::Deadline(limit))),
            }
        }
        None => result.await,
    };
    match result {
        Ok(Ok(())) => Ok::<_, anyhow::Error>(RunOutcome::Exited(0)),
        Ok(Err(())) => Ok(RunOutcome::Exited(1)),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                return Ok(RunOutcome::Exited(exit.0));
            }
            Ok(RunOutcome::Failed(describe_failure(
                &e,
                Some(&store.data().limiter),
            )))
        }
    }
    .context("running the component")
}
