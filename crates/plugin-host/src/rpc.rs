//! RPC plugins: a program spoken to over wRPC (framing from `wrpc-transport`; one connection
//! per call, as wRPC's Unix and TCP transports specify, dialed ahead of the call by
//! `pool.rs`) on a Unix socket or TCP, or over NATS on a subject prefix (`nats.rs`).
//!
//! With a `command`, the host starts the program itself: environment cleared (only the
//! manifest's `env`, `MANIFOLD_PLUGIN_ADDRESS` and, over NATS, `MANIFOLD_PLUGIN_SUBJECT`),
//! working directory set, output forwarded
//! to the host's log. It is watched and restarted with exponential backoff when it dies; each
//! start is a new *generation*, which invalidates the handles the previous one issued. Calls
//! made while it restarts wait for it, up to the call deadline; calls in flight when it died
//! fail with an error.
//! A reply that is not wRPC framing also restarts a started plugin: it has lost the protocol.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use manifold_config::{PluginAddress, PluginPlan};
use manifold_nats_client::{NatsAuth, NatsServers};
use manifold_plugin_api::wire::put;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{Semaphore, watch};

use crate::nats::{NatsClient, NatsError};
use crate::pool::{Connection, Dialer, Pool};
use crate::rlimits::ChildLimits;
use crate::rpc_streams::invoke_streaming;
use crate::transport::{
    CallError, CallFuture, StreamingAnswer, StreamingCall, StreamingFuture, Transport,
};

/// Where calls go. (`Debug` is its `Display`: the NATS URL as written may hold a password.)
#[derive(Clone)]
enum Endpoint {
    Unix(PathBuf),
    Tcp(String),
    /// NATS servers (the URL as written, for the plugin, and parsed) and the subject prefix.
    Nats {
        url: String,
        servers: NatsServers,
        prefix: String,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
            Endpoint::Nats {
                servers, prefix, ..
            } => write!(f, "{} subject {prefix}", servers.shown()),
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

/// The plugin process's state as calls see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) generation: u64,
    pub(crate) ready: bool,
    /// The last process that ended: its generation and how it ended (kept across restarts
    /// until the next one ends, so a call can learn why it went unanswered).
    pub(crate) exited: Option<(u64, Exit)>,
}

/// How a plugin process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    Status(std::process::ExitStatus),
    /// The supervisor killed it: it sent garbage.
    Killed,
}

/// What happened to the plugin process of `generation`, if it is gone.
fn ended_during(now: &Status, generation: u64) -> Option<String> {
    match now.exited {
        Some((ended, Exit::Status(status))) if ended == generation => Some(format!(
            "the plugin exited during the call ({status}); it is being restarted"
        )),
        Some((ended, Exit::Killed)) if ended == generation => Some(
            "the plugin was restarted during the call, after a call found it sending garbage"
                .to_string(),
        ),
        _ if now.generation != generation => Some("the plugin restarted during the call".into()),
        _ => None,
    }
}

/// How long a call that got no answer waits for the supervisor to see the plugin's exit
/// (the connection closes a moment before the process is reaped).
const EXIT_NOTICE: Duration = Duration::from_millis(100);

/// A plugin reached over wRPC.
pub struct RpcPlugin {
    name: String,
    endpoint: Endpoint,
    timeout: Duration,
    /// The largest answer accepted from one call, in bytes of results.
    max_answer: u64,
    in_flight: Semaphore,
    status: watch::Receiver<Status>,
    /// A started plugin: asks its supervisor to restart the generation sent, and marks the
    /// plugin not ready meanwhile.
    restart: Option<(watch::Sender<u64>, Arc<watch::Sender<Status>>)>,
    /// The NATS connection, for an endpoint on NATS.
    nats: Option<NatsClient>,
    /// Connections dialed ahead, for an endpoint on a Unix socket or TCP.
    pool: Option<Arc<Pool>>,
    /// Keeps `pool` topped up; stopped when the plugin is dropped.
    _dialer: Option<SupervisorGuard>,
    /// Whether the host started the plugin (and so waits for it to subscribe over NATS).
    supervised: bool,
    /// Stops the supervisor (and so the process) when the plugin is dropped.
    _supervisor: Option<SupervisorGuard>,
    /// Keeps the private socket directory of a started plugin.
    _socket_dir: Option<tempfile::TempDir>,
}

struct SupervisorGuard(tokio::task::JoinHandle<()>);

impl Drop for SupervisorGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// First wait before restarting a plugin that died, doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// A plugin that ran this long before dying restarts without waiting long.
const HEALTHY_UPTIME: Duration = Duration::from_secs(30);
/// How often a call retries a plugin the host started that has not subscribed on NATS yet.
const NATS_RETRY: Duration = Duration::from_millis(25);
/// How long a started plugin has to start listening.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

impl RpcPlugin {
    /// Connects to a running plugin, or starts and supervises its command. Needs a Tokio
    /// runtime.
    pub fn start(plan: &PluginPlan) -> anyhow::Result<RpcPlugin> {
        let (endpoint, socket_dir) = match &plan.address {
            Some(PluginAddress::Unix(path)) => (Endpoint::Unix(path.clone()), None),
            Some(PluginAddress::Tcp(addr)) => (Endpoint::Tcp(addr.clone()), None),
            Some(PluginAddress::Nats { url }) => {
                // Without `subject`, the plugin's name is the prefix.
                let prefix = plan.subject.clone().unwrap_or_else(|| plan.name.clone());
                if let Err(e) = crate::nats::check_prefix(&prefix) {
                    bail!("plugin `{}`: {e}", plan.name);
                }
                let auth = NatsAuth {
                    credentials: plan.credentials.clone(),
                    tls_ca: plan.tls_ca.clone(),
                };
                let servers = NatsServers::parse(&format!("plugin `{}`'s", plan.name), url, auth)?;
                (
                    Endpoint::Nats {
                        url: url.clone(),
                        servers,
                        prefix,
                    },
                    None,
                )
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("manifold-plugin-")
                    .tempdir()
                    .context("cannot create a directory for the plugin's socket")?;
                (Endpoint::Unix(dir.path().join("plugin.sock")), Some(dir))
            }
        };
        let (tx, status) = watch::channel(Status {
            generation: 0,
            ready: plan.command.is_empty(),
            exited: None,
        });
        let tx = Arc::new(tx);
        let (restart, restart_requests) = watch::channel(0);
        let supervisor = if plan.command.is_empty() {
            None
        } else {
            // A program that cannot be found is a configuration error: say so at load,
            // naming it, instead of retrying it forever in the background.
            resolve_program(&plan.command, &plan.cwd)
                .with_context(|| format!("plugin `{}` cannot be started", plan.name))?;
            let limits = ChildLimits::new(&plan.rlimits)
                .with_context(|| format!("plugin `{}` cannot be started", plan.name))?;
            // So is an address that names something other than a socket (each start checks
            // again, for a file that appears later).
            if let Endpoint::Unix(path) = &endpoint {
                crate::unix_socket::remove_stale_socket(path)
                    .with_context(|| format!("plugin `{}` cannot be started", plan.name))?;
            }
            let handle = tokio::runtime::Handle::try_current()
                .context("RPC plugins need a Tokio runtime")?;
            let supervisor = Supervisor {
                name: plan.name.clone(),
                command: plan.command.clone(),
                env: plan.env.clone().into_iter().collect(),
                cwd: plan.cwd.clone(),
                limits,
                nats_auth: NatsAuth {
                    credentials: plan.credentials.clone(),
                    tls_ca: plan.tls_ca.clone(),
                },
                endpoint: endpoint.clone(),
                status: tx.clone(),
                restart_requests,
            };
            Some(SupervisorGuard(handle.spawn(supervisor.run())))
        };
        let nats = match &endpoint {
            Endpoint::Nats {
                servers, prefix, ..
            } => Some(NatsClient::new(servers.clone(), prefix)),
            _ => None,
        };
        let pool = match &endpoint {
            Endpoint::Unix(path) => Some(Pool::new(Dialer::Unix(path.clone()))),
            Endpoint::Tcp(addr) => Some(Pool::new(Dialer::Tcp(addr.clone()))),
            Endpoint::Nats { .. } => None,
        };
        let dialer = match &pool {
            Some(pool) => {
                tokio::runtime::Handle::try_current()
                    .context("RPC plugins need a Tokio runtime")?;
                Some(SupervisorGuard(pool.clone().spawn_dialer(status.clone())))
            }
            None => None,
        };
        Ok(RpcPlugin {
            name: plan.name.clone(),
            nats,
            pool,
            _dialer: dialer,
            supervised: !plan.command.is_empty(),
            endpoint,
            timeout: plan.timeout,
            max_answer: plan.max_answer,
            in_flight: Semaphore::new(plan.max_in_flight),
            status,
            restart: supervisor.is_some().then_some((restart, tx)),
            _supervisor: supervisor,
            _socket_dir: socket_dir,
        })
    }

    /// Calls `func` on the plugin of `generation` (which a waiting connection must belong to).
    async fn invoke(
        &self,
        generation: u64,
        instance: &str,
        func: &str,
        params: Bytes,
    ) -> anyhow::Result<Bytes> {
        let Some(pool) = &self.pool else {
            return self.invoke_nats(instance, func, params).await;
        };
        match pool.connection(generation).await? {
            Connection::Unix(stream) => {
                invoke_framed(stream, instance, func, &params, self.max_answer).await
            }
            Connection::Tcp(stream) => {
                invoke_framed(stream, instance, func, &params, self.max_answer).await
            }
        }
    }

    /// A call over NATS. A plugin the host started may not have subscribed yet: "no
    /// responders" is then retried until shortly before the deadline.
    async fn invoke_nats(
        &self,
        instance: &str,
        func: &str,
        params: Bytes,
    ) -> anyhow::Result<Bytes> {
        let nats = self.nats.as_ref().context("no NATS client")?;
        let started = Instant::now();
        loop {
            match nats
                .invoke(instance, func, params.clone(), self.max_answer)
                .await
            {
                Ok(results) => return Ok(results),
                Err(NatsError::NoResponders { .. })
                    if self.supervised && started.elapsed() + NATS_RETRY * 2 < self.timeout =>
                {
                    tokio::time::sleep(NATS_RETRY).await;
                }
                Err(NatsError::AnswerTooLarge(e)) => return Err(e.into()),
                Err(e) => bail!("{e}"),
            }
        }
    }

    async fn call_inner(
        &self,
        instance: &str,
        func: &str,
        params: Bytes,
    ) -> Result<Bytes, CallError> {
        self.guarded(instance, func, Bytes::is_empty, |generation| {
            self.invoke(generation, instance, func, params)
        })
        .await
    }

    /// A call with streams: as [`Self::call_inner`], on a connection of its own from the pool
    /// (streams need a socket: NATS plugins are refused them at load). The in-flight slot is
    /// held until the results arrive; the streams go on after that, for as long as the guest
    /// and the plugin keep them open.
    async fn call_streaming_inner(
        &self,
        call: StreamingCall<'_>,
    ) -> Result<StreamingAnswer, CallError> {
        let (instance, func) = (call.instance, call.func);
        self.guarded(
            instance,
            func,
            |answer: &StreamingAnswer| answer.root.is_empty(),
            |generation| async move {
                let pool = self.pool.as_ref().context("streams need a socket")?;
                let max = self.max_answer;
                match pool.connection(generation).await? {
                    Connection::Unix(stream) => invoke_streaming(stream, call, max).await,
                    Connection::Tcp(stream) => invoke_streaming(stream, call, max).await,
                }
            },
        )
        .await
    }

    /// `call`, failed with a timeout error if it does not finish within the plugin's
    /// deadline (which covers waiting for a slot and for the plugin to be ready).
    async fn within_deadline<R>(
        &self,
        instance: &str,
        func: &str,
        call: impl std::future::Future<Output = Result<R, CallError>>,
    ) -> Result<R, CallError> {
        tokio::time::timeout(self.timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Timeout {
                    plugin: self.name.clone(),
                    func: format!("{instance}#{func}"),
                    timeout: self.timeout,
                })
            })
    }

    /// Runs `invoke` with the plugin ready and an in-flight slot held, and classifies its
    /// failure: an empty answer across a restart, or garbage (which restarts the plugin).
    async fn guarded<R, F>(
        &self,
        instance: &str,
        func: &str,
        is_empty: impl Fn(&R) -> bool,
        invoke: impl FnOnce(u64) -> F,
    ) -> Result<R, CallError>
    where
        F: std::future::Future<Output = anyhow::Result<R>>,
    {
        let what = || format!("{instance}#{func}");
        let _permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| CallError::Unreachable {
                plugin: self.name.clone(),
                func: what(),
                message: "the plugin is shutting down".into(),
            })?;
        let mut status = self.status.clone();
        let ready = *status
            .wait_for(|s| s.ready)
            .await
            .map_err(|_| CallError::Unreachable {
                plugin: self.name.clone(),
                func: what(),
                message: "its supervisor stopped".into(),
            })?;
        let result = invoke(ready.generation).await;
        let now = *self.status.borrow();
        match result {
            Ok(answer) if is_empty(&answer) && now.generation != ready.generation => {
                Err(CallError::Unreachable {
                    plugin: self.name.clone(),
                    func: what(),
                    message: ended_during(&now, ready.generation)
                        .unwrap_or_else(|| "the plugin restarted during the call".into()),
                })
            }
            Ok(answer) => Ok(answer),
            Err(e) if e.is::<AnswerTooLarge>() => Err(CallError::Plugin {
                plugin: self.name.clone(),
                func: what(),
                message: e.to_string(),
            }),
            Err(e) => {
                if is_garbage(&e)
                    && let Some((restart, status)) = &self.restart
                {
                    // Not wRPC framing: whatever the process is doing, it is not speaking
                    // the protocol any more. Start afresh; new calls wait for that.
                    tracing::warn!(
                        plugin = self.name,
                        "plugin sent garbage ({e:#}); restarting it"
                    );
                    status.send_if_modified(|s| {
                        let stop = s.generation == ready.generation && s.ready;
                        s.ready &= !stop;
                        stop
                    });
                    restart.send_replace(ready.generation);
                }
                Err(CallError::Unreachable {
                    plugin: self.name.clone(),
                    func: what(),
                    message: format!("{e:#} (at {})", self.endpoint),
                })
            }
        }
    }
}

/// The tasks copying what started plugins write to stdout and stderr into the host's log.
static LOG_FORWARDERS: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>> =
    std::sync::Mutex::new(Vec::new());

/// Waits, up to `grace`, until everything the plugins the host started wrote is in the
/// host's log. For the end of a run, after the plugins were dropped (which stops their
/// processes, so their output ends): the last words of a plugin that failed a call, often
/// the only explanation of the failure, are then not lost when the host exits first.
pub async fn flush_plugin_logs(grace: Duration) {
    let forwarders = std::mem::take(
        &mut *LOG_FORWARDERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let deadline = tokio::time::Instant::now() + grace;
    for forwarder in forwarders {
        let _ = tokio::time::timeout_at(deadline, forwarder).await;
    }
}

/// One wRPC invocation of a synchronous function on its own connection (wRPC's framing,
/// version 0; `docs/plugins.md`, "The protocol, byte by byte"): the header and the
/// parameters as one frame on path `[]` in one write, the writing side shut, then every frame
/// of the answer read to the end. Parameters and results of a synchronous function travel on
/// path `[]` only, so this needs none of the per-call tasks and channels of
/// `wrpc_transport::frame::invoke`, whose demultiplexing serves async values; the bytes on
/// the wire are the same.
async fn invoke_framed<S>(
    mut stream: S,
    instance: &str,
    func: &str,
    params: &[u8],
    max_answer: u64,
) -> anyhow::Result<Bytes>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    send_invocation(&mut stream, instance, func, params).await?;
    stream.shutdown().await.context("closing the parameters")?;
    let mut answer = bytes::BytesMut::with_capacity(4096);
    // The framing around the results costs a few bytes per frame; more than this is not an
    // answer within the cap, however it is cut into frames.
    let raw_limit = max_answer
        .saturating_add(max_answer / 8)
        .saturating_add(1024);
    while stream.read_buf(&mut answer).await.map_err(ReadFailure)? > 0 {
        if answer.len() as u64 > raw_limit {
            return Err(AnswerTooLarge { max: max_answer }.into());
        }
    }
    root_stream(answer, max_answer)
}

/// An answer beyond the plugin's `max-answer`: that call fails; the plugin is not restarted
/// (it speaks the protocol, it just says too much).
#[derive(Debug, thiserror::Error)]
#[error(
    "its answer is larger than {max} bytes (the plugin's `max-answer`, by default the \
     largest instance memory cap of the app); the rest was not read"
)]
pub struct AnswerTooLarge {
    /// The plugin's `max-answer`, in bytes.
    pub max: u64,
}

/// Writes the invocation's header and its parameters as one frame on path `[]`.
pub(crate) async fn send_invocation<S>(
    stream: &mut S,
    instance: &str,
    func: &str,
    params: &[u8],
) -> anyhow::Result<()>
where
    S: tokio::io::AsyncWrite + Unpin,
{
    use bytes::Buf as _;
    let params_len = u32::try_from(params.len())
        .map_err(|_| anyhow::anyhow!("{} bytes of parameters exceed wRPC's frame", params.len()))?;
    let mut head = Vec::with_capacity(16 + instance.len() + func.len());
    head.push(0); // the framing version
    put::bytes(&mut head, instance.as_bytes());
    put::bytes(&mut head, func.as_bytes());
    head.push(0); // path []
    put::uleb(&mut head, u64::from(params_len));
    let mut invocation = bytes::Buf::chain(head.as_slice(), params);
    while invocation.has_remaining() {
        stream
            .write_buf(&mut invocation)
            .await
            .context("sending the invocation")?;
    }
    Ok(())
}

/// The data of every frame of `answer`, decoded with wRPC's frame codec; a synchronous
/// function answers on path `[]` only. A frame on another path, or bytes that are not framing,
/// are `InvalidInput`/`InvalidData` (the plugin no longer speaks the protocol); a frame cut
/// short is `UnexpectedEof` (the plugin died mid-answer).
fn root_stream(mut rest: bytes::BytesMut, max_answer: u64) -> anyhow::Result<Bytes> {
    use tokio_util::codec::Decoder as _;
    // The bytes read are already bounded (`invoke_framed`); a frame that declares more than
    // that never completes.
    let mut decoder = wrpc_transport::frame::Decoder::new(0, u64::from(u32::MAX));
    let mut frames = Vec::new();
    let mut total = 0u64;
    while let Some(frame) = decoder.decode(&mut rest).map_err(ReadFailure)? {
        total += frame.data.len() as u64;
        if total > max_answer {
            return Err(AnswerTooLarge { max: max_answer }.into());
        }
        frames.push(frame.data);
    }
    if !rest.is_empty() {
        return Err(ReadFailure(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            format!(
                "the answer ends inside a frame ({} bytes left over)",
                rest.len()
            ),
        ))
        .into());
    }
    Ok(match frames.len() {
        0 => Bytes::new(),
        1 => frames.pop().unwrap_or_default(),
        _ => frames.concat().into(),
    })
}

/// Reading a plugin's results failed.
#[derive(Debug, thiserror::Error)]
#[error("reading the results: {0}")]
pub(crate) struct ReadFailure(pub(crate) std::io::Error);

/// Whether a failed call read bytes that are not wRPC framing (as opposed to a connection
/// that broke, which is what a dying plugin looks like).
fn is_garbage(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind;
    e.downcast_ref::<ReadFailure>().is_some_and(|r| {
        matches!(
            r.0.kind(),
            ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::NotFound
        )
    })
}

impl Transport for RpcPlugin {
    fn call<'a>(&'a self, instance: &'a str, func: &'a str, params: Bytes) -> CallFuture<'a> {
        Box::pin(self.within_deadline(instance, func, self.call_inner(instance, func, params)))
    }

    fn generation(&self) -> u64 {
        self.status.borrow().generation
    }

    fn streams(&self) -> bool {
        self.pool.is_some()
    }

    fn why_unanswered(
        &self,
        generation: u64,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<String>> + Send + '_>> {
        Box::pin(async move {
            // Only a plugin the host started has a process to watch.
            self.restart.as_ref()?;
            // The call ran on `generation` or, if the plugin was starting then, on the next
            // ready one; an exit of a generation before it is an old story.
            let ran = |s: &Status| s.exited.filter(|(ended, _)| *ended >= generation);
            let mut status = self.status.clone();
            let _ = tokio::time::timeout(EXIT_NOTICE, status.wait_for(|s| ran(s).is_some())).await;
            let (ended, _) = ran(&status.borrow())?;
            ended_during(&status.borrow(), ended)
        })
    }

    fn call_streaming<'a>(&'a self, call: StreamingCall<'a>) -> StreamingFuture<'a> {
        let (instance, func) = (call.instance, call.func);
        Box::pin(self.within_deadline(instance, func, self.call_streaming_inner(call)))
    }
}

/// Starts the plugin, waits for it to listen, restarts it when it dies.
struct Supervisor {
    name: String,
    command: Vec<String>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
    limits: ChildLimits,
    /// Passed on to a plugin over NATS, which needs the same credentials.
    nats_auth: NatsAuth,
    endpoint: Endpoint,
    status: Arc<watch::Sender<Status>>,
    /// The generation a call found speaking garbage: restart it.
    restart_requests: watch::Receiver<u64>,
}

impl Supervisor {
    async fn run(self) {
        let mut backoff = FIRST_BACKOFF;
        let mut generation = 0;
        loop {
            generation += 1;
            let started = Instant::now();
            match self.start().await {
                Ok(mut child) => {
                    if self.wait_listening(&mut child).await {
                        tracing::info!(
                            plugin = self.name,
                            pid = child.id(),
                            generation,
                            "plugin ready"
                        );
                        self.status.send_modify(|s| {
                            s.generation = generation;
                            s.ready = true;
                        });
                        let mut requests = self.restart_requests.clone();
                        let this = generation;
                        let requested = async move {
                            if requests.wait_for(|g| *g == this).await.is_err() {
                                std::future::pending::<()>().await; // no one can ask any more
                            }
                        };
                        let (exit, ended) = tokio::select! {
                            exit = child.wait() => {
                                let ended = exit.as_ref().ok().map(|s| Exit::Status(*s));
                                (exit, ended)
                            }
                            () = requested => {
                                let _ = child.kill().await;
                                (child.wait().await, Some(Exit::Killed))
                            }
                        };
                        if let Some(ended) = ended {
                            self.status
                                .send_modify(|s| s.exited = Some((generation, ended)));
                        }
                        self.report_exit(exit);
                        // Its handles died with it: a new generation at once, so they are
                        // refused from now on rather than sent to the next process.
                        generation += 1;
                    } else {
                        let _ = child.kill().await;
                    }
                }
                Err(e) => tracing::error!(plugin = self.name, "cannot start plugin: {e:#}"),
            }
            self.status.send_modify(|s| {
                s.generation = generation;
                s.ready = false;
            });
            if started.elapsed() >= HEALTHY_UPTIME {
                backoff = FIRST_BACKOFF;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    async fn start(&self) -> anyhow::Result<tokio::process::Child> {
        if let Endpoint::Unix(path) = &self.endpoint {
            crate::unix_socket::remove_stale_socket(path)?;
        }
        let resolved = resolve_program(&self.command, &self.cwd)?;
        let args = &self.command[1..];
        let mut command = tokio::process::Command::new(resolved);
        command
            .args(args)
            .env_clear()
            .envs(self.env.iter().cloned());
        match &self.endpoint {
            Endpoint::Nats { url, prefix, .. } => {
                command
                    .env("MANIFOLD_PLUGIN_ADDRESS", url)
                    .env("MANIFOLD_PLUGIN_SUBJECT", prefix);
                if let Some(path) = &self.nats_auth.credentials {
                    command.env("MANIFOLD_PLUGIN_NATS_CREDENTIALS", path);
                }
                if let Some(path) = &self.nats_auth.tls_ca {
                    command.env("MANIFOLD_PLUGIN_NATS_TLS_CA", path);
                }
            }
            other => {
                command.env("MANIFOLD_PLUGIN_ADDRESS", other.to_string());
            }
        }
        self.limits.apply(&mut command);
        command
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().with_context(|| {
            format!(
                "cannot start `{}` in {}",
                self.command.join(" "),
                self.cwd.display()
            )
        })?;
        for (stream, is_err) in [
            (
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                false,
            ),
            (
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
                true,
            ),
        ] {
            if let Some(stream) = stream {
                let name = self.name.clone();
                let forwarder = tokio::spawn(crate::plugin_log::forward(stream, name, is_err));
                let mut forwarders = LOG_FORWARDERS
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                forwarders.retain(|f| !f.is_finished());
                forwarders.push(forwarder);
            }
        }
        Ok(child)
    }

    /// Says how the plugin ended; a signal that a limit sends, or that a runtime raises when
    /// an allocation fails, is pointed at the plugin's `rlimits`.
    fn report_exit(&self, exit: std::io::Result<std::process::ExitStatus>) {
        use std::os::unix::process::ExitStatusExt as _;
        let status = match exit {
            Ok(status) => status,
            Err(e) => {
                tracing::warn!(plugin = self.name, "plugin exited ({e}); restarting it");
                return;
            }
        };
        // SIGKILL, SIGABRT, SIGSEGV, SIGXCPU, SIGXFSZ.
        let limit_signal = matches!(status.signal(), Some(9 | 6 | 11 | 24 | 25));
        if limit_signal && !self.limits.is_empty() {
            tracing::warn!(
                plugin = self.name,
                "plugin exited ({status}); it runs under rlimits, which it may have hit \
                 (an allocation beyond `address-space`, CPU time beyond `cpu-seconds`, a file \
                 beyond `file-size`); restarting it"
            );
        } else {
            tracing::warn!(
                plugin = self.name,
                "plugin exited ({status}); restarting it"
            );
        }
    }

    /// Polls until the plugin accepts connections; false if it exits or takes too long.
    async fn wait_listening(&self, child: &mut tokio::process::Child) -> bool {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                tracing::error!(plugin = self.name, %status, "plugin exited before it listened on {}", self.endpoint);
                return false;
            }
            let up = match &self.endpoint {
                Endpoint::Unix(path) => tokio::net::UnixStream::connect(path).await.is_ok(),
                Endpoint::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
                // Nothing to probe: whether it subscribed shows in each call (see
                // `invoke_nats`).
                Endpoint::Nats { .. } => true,
            };
            if up {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tracing::error!(
            plugin = self.name,
            "plugin did not listen on {} within {STARTUP_TIMEOUT:?}",
            self.endpoint
        );
        false
    }
}

/// The program of `command`: a path (relative to `cwd`) if it has a `/`, else looked up in
/// the host's PATH (PATH itself is not passed on to the plugin).
fn resolve_program(command: &[String], cwd: &std::path::Path) -> anyhow::Result<PathBuf> {
    let program = command.first().context("empty command")?;
    if program.contains('/') {
        let path = cwd.join(program);
        if !path.is_file() {
            bail!("program `{}` does not exist", path.display());
        }
        return Ok(path);
    }
    std::env::var("PATH")
        .ok()
        .and_then(|path| find_in_path(program, &path))
        .with_context(|| format!("program `{program}` is not in PATH"))
}

fn find_in_path(program: &str, path: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;

    use manifold_config::{PluginAddress, PluginKind, PluginPlan};

    use super::{Endpoint, NatsAuth, NatsServers, RpcPlugin, root_stream};

    fn nats_plan(url: &str) -> PluginPlan {
        PluginPlan {
            name: "billing".into(),
            kind: PluginKind::Rpc,
            path: None,
            wit: None,
            interfaces: Vec::new(),
            command: Vec::new(),
            address: Some(PluginAddress::Nats { url: url.into() }),
            subject: None,
            credentials: None,
            tls_ca: None,
            env: Default::default(),
            cwd: ".".into(),
            timeout: PluginPlan::DEFAULT_TIMEOUT,
            max_in_flight: PluginPlan::DEFAULT_MAX_IN_FLIGHT,
            max_answer: 1 << 20,
            rlimits: Default::default(),
            share: Vec::new(),
        }
    }

    #[test]
    fn a_bad_nats_address_is_named_without_its_password() {
        let err = RpcPlugin::start(&nats_plan("nats://billing:s3cret@bus.internal:http"))
            .err()
            .expect("the port is not a number");
        let err = format!("{err:#}");
        assert!(err.contains("plugin `billing`'s"), "{err}");
        assert!(
            err.contains("nats://billing:***@bus.internal:http"),
            "{err}"
        );
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn an_endpoint_prints_without_its_password() {
        let url = "nats://billing:s3cret@bus.internal:4222";
        let endpoint = Endpoint::Nats {
            url: url.into(),
            servers: NatsServers::parse("x", url, NatsAuth::default()).unwrap(),
            prefix: "billing".into(),
        };
        for shown in [endpoint.to_string(), format!("{endpoint:?}")] {
            assert!(shown.contains("bus.internal:4222"), "{shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    #[test]
    fn answers_are_the_data_of_root_frames() {
        assert_eq!(
            &root_stream([0, 1, 42][..].into(), 1 << 20).unwrap()[..],
            [42]
        );
        assert_eq!(
            &root_stream([0, 1, 1, 0, 2, 2, 3][..].into(), 1 << 20).unwrap()[..],
            [1, 2, 3]
        );
        assert!(
            root_stream(bytes::BytesMut::new(), 1 << 20)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn broken_framing_is_told_apart_from_a_cut_answer() {
        let kind = |bytes: &[u8]| {
            root_stream(bytes.into(), 1 << 20)
                .unwrap_err()
                .downcast::<super::ReadFailure>()
                .unwrap()
                .0
                .kind()
        };
        let garbage = |k| matches!(k, ErrorKind::InvalidInput | ErrorKind::InvalidData);
        // A frame on path [5]: not an answer of a synchronous function.
        assert!(garbage(kind(&[1, 5, 2, b'h', b'i'])));
        // Not LEB128 at all.
        assert!(garbage(kind(&[0xde, 0xad, 0xbe, 0xef, 0xde, 0xad])));
        // 65,536 bytes announced, three sent.
        assert_eq!(
            kind(&[0, 0x80, 0x80, 0x04, 1, 2, 3]),
            ErrorKind::UnexpectedEof
        );
    }

    #[test]
    fn an_answer_beyond_the_cap_is_refused_however_it_is_framed() {
        // One frame of 4 bytes, or four frames of one, against a cap of 3.
        for answer in [
            &[0, 4, 1, 2, 3, 4][..],
            &[0, 1, 1, 0, 1, 2, 0, 1, 3, 0, 1, 4],
        ] {
            let err = root_stream(answer.into(), 3).unwrap_err();
            assert!(err.is::<super::AnswerTooLarge>(), "{err:#}");
            assert!(err.to_string().contains("larger than 3 bytes"), "{err:#}");
        }
        assert_eq!(
            &root_stream([0, 3, 1, 2, 3][..].into(), 3).unwrap()[..],
            [1, 2, 3]
        );
    }

    #[tokio::test]
    async fn reading_stops_at_the_cap_while_the_plugin_keeps_writing() {
        let (host, mut plugin) = tokio::io::duplex(1 << 16);
        // The plugin announces a 4 GiB frame and writes without end.
        let writer = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut invocation = [0u8; 64];
            let _ = plugin.read(&mut invocation).await;
            plugin
                .write_all(&[0, 0xff, 0xff, 0xff, 0xff, 0x0f])
                .await
                .unwrap();
            let chunk = vec![7u8; 1 << 16];
            while plugin.write_all(&chunk).await.is_ok() {}
        });
        let err = super::invoke_framed(host, "i", "f", b"", 1 << 20)
            .await
            .unwrap_err();
        assert!(err.is::<super::AnswerTooLarge>(), "{err:#}");
        writer.abort();
    }
}
