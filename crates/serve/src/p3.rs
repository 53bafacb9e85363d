//! WASI 0.3 handlers (`wasi:http/handler@0.3.x`): an `async func`, so one instance may take
//! several requests at once and, with reuse on, many in its life.
//!
//! The dispatch is Wasmtime's (`wasmtime_wasi_http::handler::ProxyHandler`: a queue of
//! requests, workers that each own a store and pull from it). This module is the policy it
//! asks about, per component:
//!
//! - **instantiate**: a worker takes one of the component's instance slots (`max-instances`)
//!   or fails at once, giving its request back to the server to queue again (an existing
//!   instance may take it), builds a store with the memory cap and providers' state, and
//!   instantiates from the `InstancePre`;
//! - **accept**: an instance takes requests while it has served fewer than `max-requests`
//!   and holds fewer than `max-concurrent` at once (reuse off: one request, then retired);
//! - **deadlines per request**: each request's expiration is its own timer from its own
//!   start, so a slow request never lends its time to another. Because a guest that spins
//!   (or a blocking host call) keeps the store's event loop from polling those timers, a
//!   second check outside the loop retires the instance once the *oldest* outstanding
//!   request is past its deadline (plus a grace), never later;
//! - **retire**: an instance that traps, hits its memory cap or a deadline is dropped; its
//!   other in-flight requests get a 5xx and are logged; the next request gets a fresh one;
//! - **idle**: an instance with nothing to do for `idle-timeout` is dropped.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use manifold_config::Reuse;
use manifold_provider::InstanceState;
use manifold_runtime::{Failure, LoadedComponent, describe_failure};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::component::GuestTaskId;
use wasmtime::{Engine, Store, StoreContextMut};
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::handler::{
    HandlerState, Instance, Proxy, ShouldAccept, WorkerExpiration, WorkerState, WorkerStatus,
};
use wasmtime_wasi_http::p3::bindings::ServicePre;

/// How long past the oldest outstanding request's deadline an instance that did not answer
/// (a guest spinning, a host call blocking the store) is retired. The per-request timer
/// fires first whenever the event loop runs; this is the backstop.
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// What became of one request, as far as the worker knows; read by the server to choose
/// the status of a request that got no response.
#[derive(Debug)]
pub struct Verdict {
    /// When the request arrived: its deadline counts from here, so time spent waiting for
    /// room on an instance is part of the one budget.
    started: Instant,
    deadline_passed: AtomicBool,
    /// Set when the instance was retired while the request was in flight.
    retired: Mutex<Option<Retirement>>,
}

impl Verdict {
    pub fn new(started: Instant) -> Verdict {
        Verdict {
            started,
            deadline_passed: AtomicBool::new(false),
            retired: Mutex::new(None),
        }
    }

    pub fn deadline_passed(&self) -> bool {
        self.deadline_passed.load(Ordering::Relaxed)
    }

    /// Why the instance serving this request was retired, if it was.
    pub fn retired(&self) -> Option<Retirement> {
        self.retired.lock().ok().and_then(|r| r.clone())
    }
}

/// Why an instance was retired, and what a request that was in flight on it is answered.
#[derive(Debug, Clone)]
pub struct Retirement {
    /// For the log: the failure in full.
    pub reason: String,
    /// For the client: as for a request of its own that failed so (a memory cap is "ran out
    /// of memory"), except that another request's deadline is this one's plain failure
    /// (its own deadline, if passed, is a 504 before this is looked at).
    pub status: u16,
    pub body: &'static str,
}

impl Retirement {
    fn of(failure: &Failure) -> Retirement {
        let (status, body) = match failure {
            Failure::Deadline(_) => (500, "the component failed\n"),
            other => (crate::status_for(other), crate::failure_body(other)),
        };
        Retirement {
            reason: failure.to_string(),
            status,
            body,
        }
    }
}

/// The per-component policy behind a `ProxyHandler`.
pub struct Pool {
    pub component: Arc<LoadedComponent>,
    pub engine: Engine,
    pub pre: ServicePre<InstanceState>,
    pub slots: Arc<Semaphore>,
    max_requests: usize,
    max_concurrent: usize,
    idle_timeout: Duration,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    next_instance: AtomicU64,
}

/// Raised by `instantiate` when every instance slot stayed busy (answered 503).
#[derive(Debug, thiserror::Error)]
#[error("all {0} instance slots stayed busy")]
pub struct SlotsBusy(pub u32);

impl Pool {
    pub fn new(
        component: Arc<LoadedComponent>,
        engine: Engine,
        pre: ServicePre<InstanceState>,
        slots: Arc<Semaphore>,
    ) -> Pool {
        let limits = &component.plan.limits;
        let (max_requests, max_concurrent, idle_timeout) = match limits.reuse {
            Reuse::Off => (1, 1, Duration::ZERO),
            Reuse::On {
                max_requests,
                max_concurrent,
                idle_timeout,
            } => (max_requests as usize, max_concurrent as usize, idle_timeout),
        };
        Pool {
            timeout: limits.timeout,
            fuel: limits.fuel,
            component,
            engine,
            pre,
            slots,
            max_requests,
            max_concurrent,
            idle_timeout,
            next_instance: AtomicU64::new(1),
        }
    }

    fn name(&self) -> &str {
        &self.component.plan.name
    }
}

impl HandlerState for Pool {
    type StoreData = InstanceState;
    type WorkerExpiration = Expiry;
    type WorkerState = Worker;

    async fn instantiate(&self) -> wasmtime::Result<Instance<InstanceState, Expiry, Worker>> {
        // Never wait here: a worker waiting for a slot would hold its request while an
        // instance that already exists may have room for it. The server puts the request
        // back and tries again (`p3_request`).
        let permit = self
            .slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| SlotsBusy(self.component.plan.limits.max_instances))?;
        let mut store = self
            .component
            .new_reusable_store(&self.engine)
            .map_err(wasmtime::Error::from_anyhow)?;
        let service = self.pre.instantiate_async(&mut store).await?;
        let id = self.next_instance.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(component = self.name(), instance = id, "instance started");
        let tracker = Arc::new(Mutex::new(Tracker::default()));
        Ok(Instance {
            store,
            proxy: Proxy::P3(service),
            view: InstanceState::http,
            expiration: Expiry {
                tracker: tracker.clone(),
                idle_timeout: self.idle_timeout,
                timeout: self.timeout,
                sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
                armed_for: None,
            },
            state: Worker {
                component: self.name().to_string(),
                instance: id,
                max_requests: self.max_requests,
                max_concurrent: self.max_concurrent,
                timeout: self.timeout,
                fuel: self.fuel,
                tracker,
                _permit: permit,
            },
        })
    }
}

/// The requests in flight on one instance, with their deadlines.
#[derive(Default)]
struct Tracker {
    next: u64,
    outstanding: BTreeMap<u64, (Option<Instant>, Arc<Verdict>)>,
    /// Every request this instance took whose caller still waits or just got its answer:
    /// when the instance fails, the event loop (and with it `outstanding`) is gone before
    /// `WorkerState::drop` runs, but these still reach the callers.
    seen: Vec<Weak<Verdict>>,
    /// The backstop retired the instance for a passed deadline.
    deadline_retired: bool,
}

impl Tracker {
    fn oldest_deadline(&self) -> Option<Instant> {
        self.outstanding.values().filter_map(|(d, _)| *d).min()
    }

    fn remember(&mut self, verdict: &Arc<Verdict>) {
        self.seen.retain(|v| v.strong_count() > 0);
        self.seen.push(Arc::downgrade(verdict));
    }

    /// The backstop fired: every request in flight past its deadline gets a 504.
    fn retire_for_deadline(&mut self, now: Instant) {
        self.deadline_retired = true;
        for (deadline, verdict) in self.outstanding.values() {
            if deadline.is_some_and(|d| d <= now) {
                verdict.deadline_passed.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Removes a request from its instance's tracker when its expiration future is dropped:
/// the request got its response, or expired.
struct Outstanding {
    tracker: Arc<Mutex<Tracker>>,
    id: u64,
}

impl Drop for Outstanding {
    fn drop(&mut self) {
        if let Ok(mut t) = self.tracker.lock() {
            t.outstanding.remove(&self.id);
        }
    }
}

/// One instance's side of the policy.
pub struct Worker {
    component: String,
    instance: u64,
    max_requests: usize,
    max_concurrent: usize,
    timeout: Option<Duration>,
    fuel: Option<u64>,
    tracker: Arc<Mutex<Tracker>>,
    /// The instance slot, given back when the worker is dropped.
    _permit: OwnedSemaphorePermit,
}

impl WorkerState for Worker {
    type StoreData = InstanceState;
    type RequestData = Arc<Verdict>;

    fn should_accept_request(&self, concurrent: usize, total: usize) -> ShouldAccept {
        if total >= self.max_requests {
            ShouldAccept::Never
        } else if concurrent >= self.max_concurrent {
            ShouldAccept::No
        } else {
            ShouldAccept::Yes
        }
    }

    fn on_request_start(
        &self,
        mut store: StoreContextMut<'_, InstanceState>,
        verdict: Arc<Verdict>,
        _task: GuestTaskId,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + Sync>> {
        if let Some(fuel) = self.fuel {
            // Fuel is per store; each request refills the tank to its budget.
            let _ = store.set_fuel(fuel);
        }
        let deadline = self.timeout.map(|t| verdict.started + t);
        let id = match self.tracker.lock() {
            Ok(mut t) => {
                t.next += 1;
                let id = t.next;
                t.outstanding.insert(id, (deadline, verdict.clone()));
                t.remember(&verdict);
                id
            }
            Err(_) => 0,
        };
        let guard = Outstanding {
            tracker: self.tracker.clone(),
            id,
        };
        Box::pin(async move {
            let _guard = guard;
            match deadline {
                Some(deadline) => {
                    tokio::time::sleep_until(deadline.into()).await;
                    verdict.deadline_passed.store(true, Ordering::Relaxed);
                }
                None => std::future::pending().await,
            }
        })
    }

    fn drop(&self, store: Store<InstanceState>, result: wasmtime::Result<()>) {
        let memory = store.data().limiter.peak();
        let Ok(mut tracker) = self.tracker.lock() else {
            return;
        };
        tracker.seen.retain(|v| v.strong_count() > 0);
        let in_flight = tracker.seen.len();
        match result {
            Ok(()) => tracing::debug!(
                component = self.component,
                instance = self.instance,
                memory_bytes = memory,
                "instance retired"
            ),
            Err(e) => {
                let failure = if tracker.deadline_retired {
                    Failure::Deadline(self.timeout.unwrap_or_default())
                } else {
                    describe_failure(&e, Some(&store.data().limiter))
                };
                tracing::error!(
                    component = self.component,
                    instance = self.instance,
                    memory_bytes = memory,
                    in_flight,
                    failure = failure.kind(),
                    "instance retired: {failure}"
                );
                // Only a caller that got no response looks at this.
                let retirement = Retirement::of(&failure);
                for verdict in tracker.seen.iter().filter_map(Weak::upgrade) {
                    if let Ok(mut r) = verdict.retired.lock() {
                        *r = Some(retirement.clone());
                    }
                }
            }
        }
        tracker.outstanding.clear();
        tracker.seen.clear();
    }
}

/// When an instance is dropped, polled outside the store's event loop.
pub struct Expiry {
    tracker: Arc<Mutex<Tracker>>,
    idle_timeout: Duration,
    timeout: Option<Duration>,
    sleep: Pin<Box<tokio::time::Sleep>>,
    armed_for: Option<Instant>,
}

impl WorkerExpiration for Expiry {
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        status: WorkerStatus,
        start: Instant,
    ) -> Poll<()> {
        let target = match status {
            WorkerStatus::Idle => Some(start + self.idle_timeout),
            WorkerStatus::Requests => {
                let oldest = self.tracker.lock().ok().and_then(|t| t.oldest_deadline());
                oldest
                    .or_else(|| self.timeout.map(|t| start + t))
                    .map(|d| d + DEADLINE_GRACE)
            }
            // The guest answered everything but still works (a body, a spawned task): as
            // long as a request may take.
            WorkerStatus::PostReturn => self.timeout.map(|t| start + t + DEADLINE_GRACE),
        };
        let Some(target) = target else {
            return Poll::Pending;
        };
        let now = Instant::now();
        if now >= target {
            if status != WorkerStatus::Idle
                && let Ok(mut t) = self.tracker.lock()
            {
                t.retire_for_deadline(now);
            }
            return Poll::Ready(());
        }
        if self.armed_for != Some(target) {
            self.armed_for = Some(target);
            self.sleep.as_mut().reset(target.into());
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                // Woken at the target: expired (the state may have moved on; the next
                // poll sees it).
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
