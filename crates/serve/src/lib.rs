//! `manifold serve`: an HTTP/1.1 and HTTP/2 server that routes each request by path prefix to
//! a component exporting `wasi:http/incoming-handler@0.2` or `wasi:http/handler@0.3`.
//!
//! A 0.2 handler gets a fresh instance per request: wait for a free instance slot (the
//! component's `max-instances`), build a store, instantiate from the `InstancePre`, call
//! `handle`, stream the response body out as the guest writes it. A guest that traps, loops
//! or exhausts its memory only fails its own request (500, or 504 past the deadline), logged
//! with the reason and the guest's backtrace.
//!
//! A 0.3 handler's instances are reused across requests, several at once (`p3.rs`), unless
//! the component says `reuse = false`.

mod body;
mod conns;
mod p3;
mod router;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use manifold_runtime::{App, Failure, LoadedComponent, describe_failure};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use wasmtime_wasi_http::WasiHttpView as _;
use wasmtime_wasi_http::handler::{
    ExpirationError, InstantiationError, ProxyHandler, TrapOrPanicError,
};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p3::bindings::ServicePre;

pub use router::Router;

/// One routed component, ready to serve.
pub struct Route {
    pub component: Arc<LoadedComponent>,
    handler: Handler,
}

/// How a route's requests reach its component.
enum Handler {
    /// `wasi:http/incoming-handler@0.2`: one instance per request.
    P2 {
        pre: ProxyPre<manifold_provider::InstanceState>,
        slots: Arc<Semaphore>,
    },
    /// `wasi:http/handler@0.3`: instances reused, requests concurrent on one instance.
    P3(ProxyHandler<p3::Pool>),
}

/// Everything a connection needs to serve requests.
pub struct Server {
    app: Arc<App>,
    router: Router<Route>,
    connections: Arc<conns::Connections>,
}

/// The HTTP/1 and HTTP/2 settings every connection shares. Timeouts on HTTP/1 are the
/// connection watchdog's (`conns.rs`); HTTP/2 pings a quiet peer to find dead connections.
fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Bounds the memory a slow client's header can hold (hyper answers 431 beyond it).
    builder.http1().max_buf_size(64 << 10);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(100)
        .max_header_list_size(64 << 10)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    builder
}

impl Server {
    /// Prepares every component of the app; fails if one does not export
    /// `wasi:http/incoming-handler`. Clients are held within `limits`.
    pub fn new(
        app: Arc<App>,
        limits: &manifold_config::ConnectionLimits,
    ) -> anyhow::Result<Server> {
        let mut routes = Vec::new();
        for component in &app.components {
            let slots = Arc::new(Semaphore::new(component.plan.limits.max_instances as usize));
            let handler = match ProxyPre::new(component.pre.clone()) {
                Ok(pre) => Handler::P2 { pre, slots },
                Err(_) => match ServicePre::new(component.pre.clone()) {
                    Ok(pre) => Handler::P3(ProxyHandler::new(p3::Pool::new(
                        component.clone(),
                        app.engine.clone(),
                        pre,
                        slots,
                    ))),
                    Err(_) => anyhow::bail!(
                        "{}",
                        manifold_runtime::explain_missing_export(
                            component,
                            manifold_config::Mode::Serve,
                        )
                    ),
                },
            };
            routes.push((
                component.plan.route.clone(),
                Route {
                    component: component.clone(),
                    handler,
                },
            ));
        }
        Ok(Server {
            app,
            router: Router::new(routes),
            connections: Arc::new(conns::Connections::new(conns::Limits::resolve(limits))),
        })
    }

    /// Accepts connections until `shutdown` resolves, then lets in-flight requests finish
    /// for up to `grace`. Connections are held within the limits given to [`Server::new`]
    /// (`conns.rs`).
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
        grace: Duration,
    ) -> anyhow::Result<()> {
        let connections = self.connections.clone();
        let limits = connections.limits;
        let builder = Arc::new(http_builder());
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut shutdown = std::pin::pin!(shutdown);
        tracing::debug!(
            max_connections = limits.max_connections,
            header_read_timeout = ?limits.header_read_timeout,
            idle_timeout = ?limits.idle_timeout,
            body_idle_timeout = ?limits.body_idle_timeout,
            "connection limits"
        );
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(e) => {
                        connections.accept_failed(e).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            if !connections.admit() {
                connections.refuse(stream);
                continue;
            }
            let _ = stream.set_nodelay(true);
            let conn = connections.open();
            let server = self.clone();
            let in_service = conn.clone();
            let service = hyper::service::service_fn(move |req| {
                // In flight from here until the response body is written out or dropped.
                let guard = in_service.begin();
                let server = server.clone();
                async move {
                    let response = server.handle(req).await;
                    Ok::<_, Infallible>(response.map(|body| guard.hold(body)))
                }
            });
            let builder = builder.clone();
            let connections = connections.clone();
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let io = TokioIo::new(conns::TrackedIo::new(stream, conn.clone()));
                let served = builder.serve_connection(io, service);
                let mut served = std::pin::pin!(served);
                let watchdog = tokio::time::sleep(limits.header_read_timeout);
                let mut watchdog = std::pin::pin!(watchdog);
                let mut draining = *stopped.borrow();
                if draining {
                    served.as_mut().graceful_shutdown();
                }
                loop {
                    tokio::select! {
                        result = served.as_mut() => {
                            if let Err(e) = result {
                                tracing::debug!(%peer, "connection ended with an error: {e}");
                            }
                            break;
                        }
                        () = conn.evicted() => {
                            if conn.is_idle() {
                                tracing::debug!(%peer, "closed an idle connection to make room for a new one");
                                break;
                            }
                        }
                        _ = stopped.changed(), if !draining => {
                            draining = true;
                            served.as_mut().graceful_shutdown();
                        }
                        () = &mut watchdog => match conn.check(&limits) {
                            conns::Verdict::Keep(next) => watchdog.as_mut().reset(next),
                            conns::Verdict::Close(reason) => {
                                tracing::debug!(%peer, "closed a connection: {reason}");
                                break;
                            }
                        },
                    }
                }
                connections.close(&conn);
            });
        }
        drop(listener);
        tracing::info!(grace = ?grace, "shutting down: no new connections; finishing in-flight requests");
        let _ = stop.send(true);
        if tokio::time::timeout(grace, connections.all_closed())
            .await
            .is_err()
        {
            tracing::warn!(
                connections = connections.len(),
                "grace period over; dropping the requests still running"
            );
        }
        Ok(())
    }

    /// Serves one request: route, then run the component.
    pub async fn handle(
        &self,
        req: hyper::Request<Incoming>,
    ) -> hyper::Response<HyperOutgoingBody> {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let idle = self.connections.limits.body_idle_timeout;
        let req = req.map(|body| body::IdleTimeoutBody::new(body, idle));
        let Some(route) = self.router.find(req.uri().path()) else {
            tracing::info!(%method, path, status = 404, duration_ms = ms(started), "no route");
            return text_response(404, "no component is mounted on this path\n");
        };
        let (pre, slots) = match &route.handler {
            Handler::P2 { pre, slots } => (pre, slots),
            Handler::P3(handler) => {
                return p3_request(handler, &route.component, req, method, path, started).await;
            }
        };
        let component = &route.component;
        let limits = &component.plan.limits;
        let deadline = limits.timeout;

        // Wait for a free instance slot, but not past the deadline.
        let wait = deadline.unwrap_or(Duration::from_secs(30));
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => Ok(permit),
            // Only a request that has to wait pays for a timer.
            Err(_) => match tokio::time::timeout(wait, slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Ok(permit),
                _ => Err(()),
            },
        };
        let permit = match permit {
            Ok(permit) => permit,
            Err(()) => {
                tracing::warn!(%method, path, component = component.plan.name, status = 503,
                    duration_ms = ms(started), "all {} instance slots stayed busy", limits.max_instances);
                return text_response(503, "the server is busy; try again\n");
            }
        };

        // One budget: the time spent waiting for the slot comes off the call's deadline.
        let remaining = deadline.map(|limit| limit.saturating_sub(started.elapsed()));
        let status = Arc::new(AtomicU16::new(0));
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let mut store = match component.new_store_with_deadline(&self.app.engine, remaining) {
            Ok(store) => store,
            Err(e) => {
                tracing::error!(%method, path, status = 500, "cannot prepare an instance: {e:#}");
                return text_response(500, "internal error\n");
            }
        };
        let prepared = (|| -> wasmtime::Result<_> {
            let mut http = store.data_mut().http();
            let req = http.new_incoming_request(Scheme::Http, req)?;
            let seen = status.clone();
            let out = http.new_response_outparam_from_callback(move |result| {
                let code = match &result {
                    Ok(resp) => resp.status().as_u16(),
                    Err(_) => 500,
                };
                seen.store(code, Ordering::Relaxed);
                let _ = sender.send(result);
            })?;
            Ok((req, out))
        })();
        let (incoming, outparam) = match prepared {
            Ok(pair) => pair,
            Err(e) => {
                tracing::error!(%method, path, status = 500, "cannot pass the request to the guest: {e:#}");
                return text_response(500, "internal error\n");
            }
        };

        let pre = pre.clone();
        let name = component.plan.name.clone();
        let task_method = method.clone();
        let task_path = path.clone();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let call = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, incoming, outparam)
                    .await
            };
            let failure = match deadline.zip(remaining) {
                // The epoch callback stops a busy guest; this timer one blocked in the host.
                Some((limit, remaining)) => {
                    match tokio::time::timeout(remaining + Duration::from_millis(50), call).await {
                        Ok(result) => result
                            .err()
                            .map(|e| describe_failure(&e, Some(&store.data().limiter))),
                        Err(_) => Some(Failure::Deadline(limit)),
                    }
                }
                None => call
                    .await
                    .err()
                    .map(|e| describe_failure(&e, Some(&store.data().limiter))),
            };
            let memory = store.data().limiter.peak();
            let mut code = status.load(Ordering::Relaxed);
            if code == 0 {
                code = match &failure {
                    Some(f) => status_for(f),
                    None => 500,
                };
            }
            let duration_ms = ms(started);
            match &failure {
                None if status.load(Ordering::Relaxed) == 0 => tracing::warn!(
                    method = %task_method, path = task_path, component = name, status = code, duration_ms,
                    memory_bytes = memory, "the guest returned without setting a response"
                ),
                None => tracing::info!(
                    method = %task_method, path = task_path, component = name, status = code, duration_ms,
                    memory_bytes = memory, "request"
                ),
                Some(f) => tracing::error!(
                    method = %task_method, path = task_path, component = name, status = code, duration_ms,
                    memory_bytes = memory, failure = f.kind(), "request failed: {f}"
                ),
            }
            failure
        });

        match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => text_response(
                500,
                &format!("the component failed the request: {code:?}\n"),
            ),
            // The guest never set a response: it failed (or returned without one).
            Err(_) => match task.await {
                Ok(Some(failure)) => text_response(status_for(&failure), failure_body(&failure)),
                Ok(None) => text_response(500, "the component returned without a response\n"),
                Err(e) => {
                    tracing::error!("request task failed: {e}");
                    text_response(500, "internal error\n")
                }
            },
        }
    }
}

/// Serves one request with a WASI 0.3 handler: queued to a reused instance, answered when
/// the guest returns its response (whose body then streams).
async fn p3_request(
    handler: &ProxyHandler<p3::Pool>,
    component: &LoadedComponent,
    req: hyper::Request<body::IdleTimeoutBody<Incoming>>,
    method: hyper::Method,
    path: String,
    started: Instant,
) -> hyper::Response<HyperOutgoingBody> {
    let name = &component.plan.name;
    let verdict = Arc::new(p3::Verdict::new(started));
    let req = req.map(|body| body.boxed_unsync());
    // All instance slots taken: the request comes back and waits for room on an instance
    // (queued again, so an existing one takes it when it can), up to the deadline.
    let wait = component
        .plan
        .limits
        .timeout
        .unwrap_or(Duration::from_secs(30));
    let mut req = req;
    let mut backoff = Duration::from_millis(1);
    let error = loop {
        let error = match handler.handle(verdict.clone(), req).await {
            Ok(response) => {
                tracing::info!(%method, path, component = name, status = response.status().as_u16(),
                    duration_ms = ms(started), "request");
                return response;
            }
            Err(error) => error,
        };
        let busy = error
            .downcast_ref::<InstantiationError<Arc<p3::Verdict>>>()
            .is_some_and(|e| e.error.is::<p3::SlotsBusy>());
        if !busy || started.elapsed() + backoff >= wait {
            break error;
        }
        match error.downcast::<InstantiationError<Arc<p3::Verdict>>>() {
            Ok(e) => match e.request.into_inner() {
                Ok(back) => req = back,
                Err(_) => return text_response(500, "internal error\n"),
            },
            Err(error) => break error,
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_millis(20));
    };
    let limits = &component.plan.limits;
    let (status, body, failure) = if error.is::<ExpirationError>() || verdict.deadline_passed() {
        let failure = Failure::Deadline(limits.timeout.unwrap_or_default());
        (504, failure_body(&failure), failure.to_string())
    } else if let Some(e) = error.downcast_ref::<InstantiationError<Arc<p3::Verdict>>>() {
        if e.error.is::<p3::SlotsBusy>() {
            (
                503,
                "the server is busy; try again
",
                format!("{:#}", e.error),
            )
        } else {
            (
                500,
                "internal error
",
                format!("cannot start an instance: {:#}", e.error),
            )
        }
    } else if let Some(retired) = verdict.retired() {
        // A trap or limit (this request's or another's) retired the instance it was on.
        (
            retired.status,
            retired.body,
            format!("the instance serving it was retired: {}", retired.reason),
        )
    } else if error.is::<TrapOrPanicError>() {
        (
            500,
            "the component failed
",
            "the instance serving it failed".to_string(),
        )
    } else {
        let failure = describe_failure(&error, None);
        (
            status_for(&failure),
            failure_body(&failure),
            failure.to_string(),
        )
    };
    tracing::error!(%method, path, component = name, status, duration_ms = ms(started),
        "request failed: {failure}");
    text_response(status, body)
}

fn ms(since: Instant) -> u64 {
    since.elapsed().as_millis() as u64
}

pub(crate) fn status_for(failure: &Failure) -> u16 {
    match failure {
        Failure::Deadline(_) => 504,
        _ => 500,
    }
}

/// What the client is told; the details (backtrace) go to the log only.
pub(crate) fn failure_body(failure: &Failure) -> &'static str {
    match failure {
        Failure::Deadline(_) => "the component did not answer within its deadline\n",
        Failure::MemoryCap { .. } => "the component ran out of memory\n",
        Failure::Fuel => "the component ran out of fuel\n",
        Failure::Trap { .. } => "the component failed\n",
    }
}

fn text_response(status: u16, body: &str) -> hyper::Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::copy_from_slice(body.as_bytes()))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Binds the listening socket with a message that says what to do when the port is taken.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!(
            "cannot listen on {addr} (is another server using it? choose another with --listen)"
        )
    })
}
