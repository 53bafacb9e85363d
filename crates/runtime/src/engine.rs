//! The Wasmtime engine and the epoch ticker that drives deadlines.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use manifold_config::{AppPlan, Mode};
use manifold_provider::InstanceState;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline,
};

/// How often the epoch advances. A running guest notices a deadline within one tick, and
/// yields to other requests at least this often.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What the engine must support.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Use the pooling allocator with room for this many instances at once (`serve`).
    pub pool_instances: Option<u32>,
    /// The largest memory cap of any component (sizes the pool's memory slots).
    pub max_memory: u64,
    pub fuel: bool,
}

impl EngineOptions {
    pub fn for_plan(plan: &AppPlan, mode: Mode) -> EngineOptions {
        let limits = plan.components.iter().map(|c| &c.limits);
        EngineOptions {
            pool_instances: (mode == Mode::Serve).then(|| {
                plan.components
                    .iter()
                    .map(|c| c.limits.max_instances)
                    .fold(0u32, u32::saturating_add)
                    .max(1)
            }),
            max_memory: limits.clone().map(|l| l.memory.0).max().unwrap_or(0),
            fuel: limits.clone().any(|l| l.fuel.is_some()),
        }
    }
}

/// Builds the engine: component model (with its async ABI, for WASI 0.3), async, epoch interruption, copy-on-write memory
/// images, and the pooling allocator when serving.
pub fn new_engine(options: &EngineOptions) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // WASI 0.3: `async func`, `stream<T>`, `future<T>` (on by default with the crate feature;
    // said here so that it stays on).
    config.wasm_component_model_async(true);
    config.epoch_interruption(true);
    config.consume_fuel(options.fuel);
    config.memory_init_cow(true);
    config.wasm_backtrace_max_frames(std::num::NonZeroUsize::new(32));
    if let Some(instances) = options.pool_instances {
        let mut pool = PoolingAllocationConfig::default();
        // A component holds several core instances (the program, the WASI adapter, shims)
        // and usually one or two memories; size the pool for the busiest case we cap.
        pool.total_component_instances(instances);
        pool.total_core_instances(instances.saturating_mul(8));
        pool.total_memories(instances.saturating_mul(4));
        pool.total_tables(instances.saturating_mul(8));
        pool.total_stacks(instances);
        pool.max_memory_size(usize::try_from(options.max_memory).unwrap_or(usize::MAX));
        // Keep a little of each freed memory resident so the next instance in the slot
        // does not page-fault it back in.
        pool.linear_memory_keep_resident(64 << 10);
        pool.table_keep_resident(16 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Ok(Engine::new(&config)?)
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("manifold-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| {
                tracing::warn!("cannot start the epoch thread, deadlines are off: {e}")
            });
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The error a guest gets stopped with when its deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("deadline of {limit:?} exceeded")]
pub struct DeadlineExceeded {
    pub limit: Duration,
}

/// Arms the store's epoch deadline: every tick the guest yields to the executor (so one busy
/// guest cannot starve the others on its thread); past the deadline it is stopped.
pub fn set_deadline(store: &mut Store<InstanceState>, timeout: Option<Duration>) {
    store.set_epoch_deadline(1);
    match timeout {
        None => store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1))),
        Some(limit) => {
            let deadline = Instant::now() + limit;
            store.epoch_deadline_callback(move |_| {
                if Instant::now() >= deadline {
                    Err(DeadlineExceeded { limit }.into())
                } else {
                    Ok(UpdateDeadline::Yield(1))
                }
            });
        }
    }
}
