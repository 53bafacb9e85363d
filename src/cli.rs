//! Command-line flags (clap), turned into an [`AppPlan`] and handed to the runtime.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use manifold_config::{
    AppPlan, ByteSize, CliOverrides, ConnectPattern, DirGrant, EnvGrant, HumanDuration,
    LimitsConfig, ListenPattern, Mode, OutboundPattern, ProviderKind, ReuseConfig, SourceSpec,
};
use manifold_runtime::run::{EXIT_GUEST_FAILED, RunOutcome};
use manifold_runtime::{App, CompileCache};

use crate::logging::LogFormat;

/// Exit status when Manifold itself fails before or around the guest (bad manifest,
/// unreadable or invalid component, a port in use), after `docker run`'s convention.
pub const EXIT_HOST_ERROR: u8 = 125;

const ABOUT: &str = "Run and serve WebAssembly components (WASI 0.2) on Wasmtime.";

const AFTER_HELP: &str = "\
Examples:
  manifold run hello.wasm -- --name world       run a wasi:cli component with arguments
  manifold serve app.wasm --listen 127.0.0.1:3000
  manifold serve                                 serve the app described by ./manifold.toml
  manifold providers                             list the interfaces this host provides

Exit status: the guest's own status for `run`; 134 when the guest trapped or hit a limit;
125 when Manifold could not start it (bad manifest or component); 2 for bad flags.
Docs: docs/cli.md, docs/manifest.md.";

#[derive(Debug, Parser)]
#[command(name = "manifold", version, about = ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// More logs (-v debug, -vv trace); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub registry: crate::dist::RegistryArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a wasi:cli component once; its exit status becomes ours.
    #[command(after_help = "\
Examples:
  manifold run app.wasm                      no files, no env, no network: nothing is granted
  manifold run app.wasm --dir ./data::/data:ro --env HOME --env MODE=fast -- in.txt
  manifold run app.wat --timeout 5s --memory 64MiB
  manifold run                                run the component(s) of ./manifold.toml

Exit status: the guest's status (0 when `run` returns ok, 1 when it returns an error);
134 when it trapped or hit a limit; 125 when it could not be started.")]
    Run(RunArgs),
    /// Serve wasi:http components over HTTP/1.1 and HTTP/2, one fresh instance per request.
    #[command(after_help = "\
Examples:
  manifold serve hello.wasm                           http://127.0.0.1:8080
  manifold serve app.wasm --listen 0.0.0.0:3000 --allow-outbound https://api.example.com
  manifold serve --manifest shop/manifold.toml        several components on routes

Each request runs under a deadline (default 30s) and a memory cap (default 256MiB); a request
that exceeds them gets a 504 or 500 and the server keeps serving. SIGINT/SIGTERM stop
accepting connections and let in-flight requests finish for --grace.")]
    Serve(ServeArgs),
    /// Check a component against this host without running it: its imports and exports, and
    /// the provider that would serve each import, or why none can.
    #[command(after_help = "\
Examples:
  manifold inspect app.wasm                    imports, exports and who serves each import
  manifold inspect app.wasm --json             the same for scripts and CI (docs/inspect-json.md)
  manifold inspect                             every component of ./manifold.toml

Exit status: 0 when every component can run on this host, 1 when one cannot (the report
says why, for every import at once), 125 when the input cannot be read.")]
    Inspect(InspectArgs),
    /// List the interfaces this host can provide and which provider serves each.
    Providers(ProvidersArgs),
    /// Publish a component or WIT package to an OCI registry (CNCF Wasm artifact format).
    #[command(after_help = "\
Examples:
  manifold push hello.wasm localhost:5000/acme/hello:1.0.0
  manifold push hello.wasm acme:hello@1.0.0      the registry wkg's config names for `acme`
  manifold push app.wasm ghcr.io/me/app:1.2.0 --source https://github.com/me/app

Credentials come from ~/.docker/config.json (`manifold login`). Docs: docs/distribution.md.")]
    Push(crate::dist::PushArgs),
    /// Download a component into the cache, verifying its digest.
    #[command(after_help = "\
Examples:
  manifold pull localhost:5000/acme/hello:1.0.0 -o hello.wasm
  manifold pull acme:hello@1.0.0                 resolved like wkg does
  manifold pull acme:hello                       the newest release
  manifold pull ghcr.io/me/app@sha256:…          exactly that content")]
    Pull(crate::dist::PullArgs),
    /// Check and store credentials for a registry in ~/.docker/config.json.
    #[command(after_help = "\
Examples:
  manifold login ghcr.io -u me --password-stdin < token.txt")]
    Login(crate::dist::LoginArgs),
    /// The local cache of pulled components.
    #[command(subcommand)]
    Cache(crate::dist::CacheCommand),
    /// Tools for writing plugins (docs/plugins.md).
    #[command(subcommand)]
    Plugin(crate::plugin::PluginCommand),
}

impl Command {
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }

    /// A server gathers log lines and writes them every few milliseconds, off the request
    /// path; a one-shot command writes directly, in order with its guest's output.
    pub fn log_writer(&self) -> crate::logging::Writer {
        match self {
            Command::Serve(_) => crate::logging::Writer::Gathered,
            _ => crate::logging::Writer::Direct,
        }
    }
}

/// Where the app comes from, its grants and its limits.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// App manifest to read when no component file is given [default: ./manifold.toml].
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Grant a host directory: HOST[::GUEST][:ro] (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST][:ro]")]
    pub dirs: Vec<DirGrant>,
    /// Grant an environment variable: NAME=VALUE, or NAME to pass the host's value (repeatable).
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub env: Vec<EnvGrant>,
    /// Allow outbound HTTP to SCHEME://HOST[:PORT], `*` wildcards allowed; without a port, the
    /// scheme's default (80, 443), also for `*://`; `:*` for any port (repeatable).
    #[arg(long = "allow-outbound", value_name = "URL-PATTERN")]
    pub allow_outbound: Vec<OutboundPattern>,
    /// Allow TCP connections (UDP datagrams) to tcp://HOST:PORT (udp://…), `*` wildcards allowed (repeatable).
    #[arg(long = "allow-connect", value_name = "SOCKET-PATTERN")]
    pub allow_connect: Vec<ConnectPattern>,
    /// Allow listening on tcp://IP:PORT (binding udp://IP:PORT), e.g. tcp://127.0.0.1:8080 (repeatable).
    #[arg(long = "allow-listen", value_name = "SOCKET-PATTERN")]
    pub allow_listen: Vec<ListenPattern>,
    /// Grant a key-value bucket (wasi:keyvalue) by name (repeatable).
    #[arg(long = "keyvalue", value_name = "BUCKET")]
    pub keyvalue: Vec<String>,
    /// Grant a blob container (wasi:blobstore) by name (repeatable).
    #[arg(long = "blobstore", value_name = "CONTAINER")]
    pub blobstore: Vec<String>,
    /// Set a wasi:config value for every component, over the manifest and MANIFOLD_CONFIG_* (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config_pair)]
    pub config: Vec<(String, String)>,
    /// Where the app's data (key-value database, blob containers) lives [default: ~/.local/share/manifold/APP, or $MANIFOLD_DATA_DIR/APP].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The app's name, which scopes its data (buckets, containers, data directory) [default: the manifest's `name`, else the file's or repository's name and a hash of its full path or reference, e.g. api-1a2b3c4d].
    #[arg(long, value_name = "NAME", value_parser = parse_app_name)]
    pub name: Option<String>,
    /// Wall-clock deadline per run or request, e.g. 30s, 500ms [serve default: 30s; run: none].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<HumanDuration>,
    /// Memory cap per instance, e.g. 256MiB [default: 256MiB].
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<ByteSize>,
    /// Fuel per run or request (roughly, Wasm instructions) [default: unlimited].
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Largest wasi:blobstore object a guest may write, e.g. 64MiB [default: 1GiB].
    #[arg(long, value_name = "SIZE")]
    pub max_object_size: Option<ByteSize>,
    /// Most bytes of objects the app may keep in the embedded blob store, e.g. 10GiB [default: no quota].
    #[arg(long, value_name = "SIZE")]
    pub blob_quota: Option<ByteSize>,
    /// Directory of the compile cache [default: ~/.cache/manifold/compiled, or $MANIFOLD_CACHE_DIR/compiled].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Compile every time; neither read nor write the compile cache.
    #[arg(long)]
    pub no_cache: bool,
}

fn parse_duration(s: &str) -> Result<HumanDuration, String> {
    manifold_config::parse_duration(s)
        .map(HumanDuration)
        .map_err(|e| e.to_string())
}

/// `KEY=VALUE`, split at the first `=`: the key is not empty, the value may be (and may hold `=`).
fn parse_config_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        Some(_) => Err("the key before `=` is empty; write KEY=VALUE".into()),
        None => Err(format!(
            "no `=`; write KEY=VALUE, e.g. --config {s}=VALUE (an empty value is KEY=)"
        )),
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The component (.wasm/.wat file, OCI reference or package name; docs/distribution.md), or a manifest (.toml) or a directory holding one.
    pub component: Option<PathBuf>,
    #[command(flatten)]
    pub app: AppArgs,
    /// Arguments for the guest, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The component (.wasm/.wat file, OCI reference or package name; docs/distribution.md), or a manifest (.toml) or a directory holding one.
    pub component: Option<PathBuf>,
    #[command(flatten)]
    pub app: AppArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Instances running at once per component; more requests wait [default: 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_instances: Option<u32>,
    /// WASI 0.3 handlers: one fresh instance per request, as for 0.2 handlers [default: reuse instances].
    #[arg(long, conflicts_with_all = ["reuse_max_requests", "reuse_max_concurrent", "reuse_idle_timeout"])]
    pub no_reuse: bool,
    /// WASI 0.3 handlers: requests one instance serves before it is retired [default: 128].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_max_requests: Option<u32>,
    /// WASI 0.3 handlers: requests one instance serves at once [default: 16].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_max_concurrent: Option<u32>,
    /// WASI 0.3 handlers: how long an idle instance is kept for the next request [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub reuse_idle_timeout: Option<HumanDuration>,
    /// On SIGINT/SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub grace: HumanDuration,
    /// Client connections held at once; when full, an idle one is closed to make room, and
    /// with none idle a new client gets 503 [default: 10000, or 3/4 of the open-file limit].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Time a client has to send a whole request header, from its first byte [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub header_read_timeout: Option<HumanDuration>,
    /// Time a kept-alive connection may wait for its next request [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<HumanDuration>,
    /// Time a request body may go without a byte while the component waits [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub body_idle_timeout: Option<HumanDuration>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The component (.wasm/.wat file, OCI reference or package name; docs/distribution.md), or a manifest (.toml) or a directory holding one.
    pub component: Option<PathBuf>,
    /// App manifest to read when no component file is given [default: ./manifold.toml].
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Print JSON (format documented in docs/inspect-json.md).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Also show which provider the manifest chooses for each interface.
    #[arg(long, value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => run(args, &cli.registry),
        Command::Serve(args) => serve(args, &cli.registry),
        Command::Inspect(args) => inspect(args, &cli.registry),
        Command::Providers(args) => providers(args),
        Command::Push(args) => crate::dist::push(args, &cli.registry),
        Command::Pull(args) => crate::dist::pull(args, &cli.registry),
        Command::Login(args) => crate::dist::login(args, &cli.registry),
        Command::Cache(command) => crate::dist::cache(command),
        Command::Plugin(command) => crate::plugin::execute(command),
    }
}

/// Builds the plan: from a component file, or from a manifest.
fn plan(
    component: Option<&Path>,
    app: &AppArgs,
    overrides: &CliOverrides,
    mode: Mode,
) -> anyhow::Result<AppPlan> {
    plan_from(component, app.manifest.as_deref(), overrides, mode)
}

fn plan_from(
    component: Option<&Path>,
    manifest_flag: Option<&Path>,
    overrides: &CliOverrides,
    mode: Mode,
) -> anyhow::Result<AppPlan> {
    if let Some(text) = component.and_then(Path::to_str)
        && let spec @ (SourceSpec::Oci(_) | SourceSpec::Package(_)) = SourceSpec::parse(text)
    {
        if manifest_flag.is_some() {
            bail!("give either a component reference or --manifest, not both");
        }
        let plan = AppPlan::from_remote(&spec, overrides, mode);
        let old = plan.components[0].name.clone();
        legacy_data_hint(&plan, overrides, &old);
        return Ok(plan);
    }
    let manifest = match component {
        Some(path) if path.is_dir() => path.join("manifold.toml"),
        Some(path) if path.extension().is_some_and(|e| e == "toml") => path.to_path_buf(),
        Some(path) => {
            if manifest_flag.is_some() {
                bail!("give either a component file or --manifest, not both");
            }
            let plan = AppPlan::from_file(path, overrides, mode)?;
            let old = plan.components[0].name.clone();
            legacy_data_hint(&plan, overrides, &old);
            return Ok(plan);
        }
        None => manifest_flag.map_or_else(|| PathBuf::from("manifold.toml"), Path::to_path_buf),
    };
    if component.is_none() && manifest_flag.is_none() && !manifest.exists() {
        bail!(
            "no component given and no manifold.toml in the current directory\n\
             usage: manifold {} <COMPONENT.wasm>, or write a manifold.toml (see docs/manifest.md)",
            match mode {
                Mode::Run => "run|inspect",
                Mode::Serve => "serve",
            }
        );
    }
    Ok(AppPlan::from_manifest(&manifest, overrides, mode)?)
}

fn overrides(
    app: &AppArgs,
    args: Vec<String>,
    max_instances: Option<u32>,
    reuse: ReuseConfig,
) -> CliOverrides {
    CliOverrides {
        dirs: app.dirs.clone(),
        env: app.env.clone(),
        allow_outbound: app.allow_outbound.clone(),
        allow_connect: app.allow_connect.clone(),
        allow_listen: app.allow_listen.clone(),
        limits: LimitsConfig {
            timeout: app.timeout,
            memory: app.memory,
            fuel: app.fuel,
            max_instances,
            max_object_size: app.max_object_size,
            blob_quota: app.blob_quota,
            reuse,
        },
        args,
        keyvalue: app.keyvalue.clone(),
        blobstore: app.blobstore.clone(),
        config: app.config.clone(),
        data_dir: app.data_dir.clone(),
        name: app.name.clone(),
        serve: Default::default(),
    }
}

/// Before names were derived from the whole path or reference, an app without a manifest
/// was named after its file stem or repository's last part alone. When data is found under
/// that old name and none under the new one, say where it is and how to keep using it.
fn legacy_data_hint(plan: &AppPlan, overrides: &CliOverrides, old_name: &str) {
    if overrides.name.is_some() || overrides.data_dir.is_some() || plan.data_dir.exists() {
        return;
    }
    let legacy = manifold_config::default_data_dir(old_name);
    if legacy.is_dir() {
        tracing::warn!(
            app = %plan.name,
            "this app's data now lives in {} (its name includes a hash of its path or \
             reference, so unrelated apps with the same file name do not share data); data \
             under the old name is in {}: pass `--name {old_name}` to keep using it, or move it",
            plan.data_dir.display(),
            legacy.display()
        );
    }
}

fn parse_app_name(text: &str) -> Result<String, String> {
    manifold_config::validate_app_name(text)?;
    Ok(text.to_string())
}

fn cache(app: &AppArgs) -> Option<CompileCache> {
    if app.no_cache {
        return None;
    }
    app.cache_dir
        .clone()
        .map(CompileCache::new)
        .or_else(|| CompileCache::default_dir().map(CompileCache::new))
}

fn run(args: RunArgs, registry: &crate::dist::RegistryArgs) -> anyhow::Result<ExitCode> {
    let overrides = overrides(&args.app, args.args.clone(), None, ReuseConfig::default());
    let mut plan = plan(args.component.as_deref(), &args.app, &overrides, Mode::Run)?;
    crate::dist::resolve_plan(&mut plan, registry)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Inside the runtime: RPC plugins start their supervisors while the app loads.
    let _in_runtime = runtime.enter();
    let app = App::load(&plan, Mode::Run, cache(&args.app).as_ref())?;
    let outcome = runtime.block_on(async {
        for component in &app.components {
            match manifold_runtime::run::run_cli(&app.engine, component).await? {
                RunOutcome::Exited(0) => {}
                RunOutcome::Exited(code) => {
                    tracing::debug!(component = component.plan.name, code, "guest exited");
                    return Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)));
                }
                RunOutcome::Failed(failure) => {
                    eprintln!("error: component `{}` {failure}", component.plan.name);
                    return Ok(ExitCode::from(EXIT_GUEST_FAILED));
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    });
    // Stop the plugins, and let what they wrote last reach the log before the host exits.
    drop(app);
    runtime.block_on(manifold_runtime::flush_plugin_logs(
        std::time::Duration::from_secs(2),
    ));
    outcome
}

fn serve(args: ServeArgs, registry: &crate::dist::RegistryArgs) -> anyhow::Result<ExitCode> {
    // A reuse setting on the command line turns reuse on, whatever the manifest said.
    let tuned = args.reuse_max_requests.is_some()
        || args.reuse_max_concurrent.is_some()
        || args.reuse_idle_timeout.is_some();
    let reuse = ReuseConfig {
        enabled: if args.no_reuse {
            Some(false)
        } else {
            tuned.then_some(true)
        },
        max_requests: args.reuse_max_requests,
        max_concurrent: args.reuse_max_concurrent,
        idle_timeout: args.reuse_idle_timeout,
    };
    let mut overrides = overrides(&args.app, Vec::new(), args.max_instances, reuse);
    overrides.serve = manifold_config::ServeConfig {
        max_connections: args.max_connections,
        header_read_timeout: args.header_read_timeout,
        idle_timeout: args.idle_timeout,
        body_idle_timeout: args.body_idle_timeout,
    };
    let mut plan = plan(
        args.component.as_deref(),
        &args.app,
        &overrides,
        Mode::Serve,
    )?;
    crate::dist::resolve_plan(&mut plan, registry)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Inside the runtime: RPC plugins start their supervisors while the app loads.
    let _in_runtime = runtime.enter();
    let app = Arc::new(App::load(&plan, Mode::Serve, cache(&args.app).as_ref())?);
    let server = Arc::new(manifold_serve::Server::new(app.clone(), &plan.serve)?);
    runtime.block_on(async move {
        let listener = manifold_serve::bind(args.listen).await?;
        let local = listener.local_addr()?;
        for component in &app.components {
            tracing::info!(
                component = component.plan.name,
                route = %component.plan.route,
                source = %component.plan.source.display(),
                cache = ?component.cache,
                "mounted"
            );
        }
        tracing::info!("serving http://{local}");
        server
            .run(listener, shutdown_signal(), args.grace.0)
            .await?;
        Ok(ExitCode::SUCCESS)
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("cannot watch SIGTERM: {e}");
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Exit status of `inspect` when a component cannot run on this host.
const EXIT_CANNOT_RUN: u8 = 1;

fn inspect(args: InspectArgs, registry: &crate::dist::RegistryArgs) -> anyhow::Result<ExitCode> {
    let mut plan = plan_from(
        args.component.as_deref(),
        args.manifest.as_deref(),
        &CliOverrides::default(),
        Mode::Run,
    )?;
    crate::dist::resolve_plan(&mut plan, registry)?;
    let single = plan.manifest.is_none();
    let mut all_ok = true;
    let mut reports = Vec::new();
    let plugins =
        manifold_runtime::Plugins::load(&plan.plugins, manifold_runtime::PluginUse::Describe)?;
    for component in &plan.components {
        let origin = component.source.display().to_string();
        let providers = manifold_runtime::providers(&plan, component, Mode::Run, &plugins)?;
        let bindings = manifold_runtime::bind_providers(providers, &plan.providers)?;
        let decoded = manifold_runtime::read_component(&component.source)
            .and_then(|bytes| Ok(manifold_resolve::decode_component(&bytes.bytes, &origin)?));
        let (ok, text, json) = match decoded {
            Ok(world) => {
                let offers = manifold_runtime::offers(&bindings);
                let resolution = manifold_resolve::resolve(&world, &offers);
                let text = resolution.render_inspect(&origin);
                (resolution.is_ok(), text, resolution.to_json(&origin))
            }
            Err(e) => match e.downcast_ref::<manifold_resolve::DecodeError>() {
                Some(decode) => (false, format!("error: {decode}\n"), decode.to_json(&origin)),
                None => return Err(e),
            },
        };
        all_ok &= ok;
        reports.push((component.name.clone(), text, json));
    }
    if args.json {
        let value = if single {
            reports.remove(0).2
        } else {
            let components: Vec<serde_json::Value> = reports
                .iter()
                .map(|(name, _, json)| {
                    let mut json = json.clone();
                    json["name"] = serde_json::Value::from(name.as_str());
                    json
                })
                .collect();
            serde_json::json!({
                "format": manifold_resolve::JSON_FORMAT,
                "app": plan.name,
                "ok": all_ok,
                "components": components,
            })
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for (i, (name, text, _)) in reports.iter().enumerate() {
            if !single {
                if i > 0 {
                    println!();
                }
                println!("== component `{name}`");
            }
            print!("{text}");
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_CANNOT_RUN)
    })
}

fn providers(args: ProvidersArgs) -> anyhow::Result<ExitCode> {
    let catalog = manifold_runtime::builtin_catalog();
    let (choices, plugins) = match &args.manifest {
        Some(path) => {
            let plan = AppPlan::from_manifest(path, &CliOverrides::default(), Mode::Run)?;
            let plugins = manifold_runtime::Plugins::load(
                &plan.plugins,
                manifold_runtime::PluginUse::Describe,
            )?;
            (plan.providers, plugins.providers())
        }
        None => Default::default(),
    };
    // Plugins first: the same priority as when a component is bound.
    let mut offered: Vec<(&str, ProviderKind, &[manifold_config::InterfaceName])> = plugins
        .iter()
        .map(|p| (p.name(), p.kind(), p.interfaces()))
        .collect();
    offered.extend(
        catalog
            .iter()
            .map(|e| (e.name, ProviderKind::Builtin, e.interfaces.as_slice())),
    );
    let selected = manifold_runtime::select(&offered, &choices);
    let mut rows = Vec::new();
    for ((name, kind, interfaces), chosen) in offered.iter().zip(&selected) {
        for interface in *interfaces {
            rows.push((
                interface.to_string(),
                *name,
                *kind,
                chosen.contains(interface),
            ));
        }
    }
    if args.json {
        let json: Vec<_> = rows
            .iter()
            .map(|(i, p, k, s)| serde_json::json!({"interface": i, "provider": p, "kind": k.to_string(), "selected": s}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        for (interface, provider, kind, serves) in rows {
            let mark = if serves { "" } else { "  (not selected)" };
            println!("{interface:width$}  {kind} `{provider}`{mark}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
