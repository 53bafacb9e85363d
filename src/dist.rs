//! `manifold push|pull|login|cache`, and pulling the remote components of a plan before
//! `run`, `serve` and `inspect` (see docs/distribution.md).

use std::io::{IsTerminal as _, Read as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use manifold_config::{AppPlan, SourceSpec};
use manifold_registry::{Client, Options, PushOptions, Store};

/// Registry flags shared by every command that may talk to one.
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Allow plain HTTP (and no TLS) to registries that are not on this machine.
    #[arg(long, global = true)]
    pub insecure: bool,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The component or WIT package (.wasm).
    pub file: PathBuf,
    /// Where to publish: REGISTRY/REPOSITORY:TAG, or a package name ns:name@version.
    pub reference: String,
    /// `org.opencontainers.image.authors` and the config's `author`.
    #[arg(long)]
    pub author: Option<String>,
    /// `org.opencontainers.image.description`.
    #[arg(long)]
    pub description: Option<String>,
    /// `org.opencontainers.image.source` (a URL of the source code).
    #[arg(long)]
    pub source: Option<String>,
    /// Extra manifest annotation KEY=VALUE (repeatable).
    #[arg(long = "annotation", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub annotations: Vec<(String, String)>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// REGISTRY/REPOSITORY:TAG, …@sha256:DIGEST, or a package name ns:name[@version].
    pub reference: String,
    /// Also copy the component to this file.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry, HOST[:PORT].
    pub registry: String,
    /// User name [default: asked on the terminal].
    #[arg(short, long)]
    pub username: Option<String>,
    /// Read the password from standard input (else it is asked on the terminal).
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// List cached references with their digests and sizes.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Delete blobs no cached reference names (everything with --all).
    Prune {
        #[arg(long)]
        all: bool,
    },
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("write KEY=VALUE".into()),
    }
}

fn store() -> anyhow::Result<Store> {
    Store::default_root()
        .map(Store::new)
        .context("no cache directory; set MANIFOLD_CACHE_DIR")
}

fn client(registry: &RegistryArgs, progress: bool) -> anyhow::Result<Client> {
    let mut opts = Options::new(store()?);
    opts.insecure = registry.insecure;
    opts.progress = progress;
    if let Some(ttl) = std::env::var_os("MANIFOLD_TAG_TTL") {
        let text = ttl.to_string_lossy();
        opts.tag_ttl = manifold_config::parse_duration(&text)
            .with_context(|| format!("MANIFOLD_TAG_TTL={text:?}"))?;
    }
    Client::new(opts)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Pulls (or finds in the cache) every remote component of the plan and points its
/// `source` at the cached file.
pub fn resolve_plan(plan: &mut AppPlan, registry: &RegistryArgs) -> anyhow::Result<()> {
    if plan.components.iter().all(|c| c.remote.is_none()) {
        return Ok(());
    }
    let client = client(registry, true)?;
    runtime()?.block_on(async {
        for component in &mut plan.components {
            if let Some(spec) = &component.remote {
                let pulled = client
                    .pull(spec, false)
                    .await
                    .with_context(|| format!("component `{}`", component.name))?;
                tracing::debug!(
                    component = component.name,
                    reference = pulled.reference,
                    digest = pulled.digest,
                    downloaded = pulled.downloaded,
                    "pulled"
                );
                component.source = pulled.path;
                component.expected_digest = Some(pulled.digest);
            }
        }
        Ok(())
    })
}

pub fn push(args: PushArgs, registry: &RegistryArgs) -> anyhow::Result<ExitCode> {
    let client = client(registry, !args.json)?;
    let opts = PushOptions {
        author: args.author,
        description: args.description,
        source: args.source,
        version: None,
        annotations: args.annotations,
    };
    let pushed = runtime()?.block_on(client.push(&args.file, &args.reference, &opts))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&pushed)?);
    } else {
        println!(
            "pushed {} ({}, {} bytes{})\n  manifest {}\n  layer    {}",
            pushed.reference,
            pushed.kind,
            pushed.size,
            if pushed.uploaded == 0 {
                ", already in the registry"
            } else {
                ""
            },
            pushed.manifest_digest,
            pushed.digest
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pull(args: PullArgs, registry: &RegistryArgs) -> anyhow::Result<ExitCode> {
    let spec = match SourceSpec::parse(&args.reference) {
        SourceSpec::Path(_) => SourceSpec::Oci(args.reference.clone()),
        other => other,
    };
    let client = client(registry, !args.json)?;
    let pulled = runtime()?.block_on(client.pull(&spec, true))?;
    if let Some(out) = &args.output {
        let tmp = out.with_extension("part");
        std::fs::copy(&pulled.path, &tmp)
            .and_then(|_| std::fs::rename(&tmp, out))
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if args.json {
        let mut json = serde_json::to_value(&pulled)?;
        if let Some(out) = &args.output {
            json["output"] = out.display().to_string().into();
        }
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "pulled {} ({} bytes, {})\n  digest {}\n  file   {}",
            pulled.reference,
            pulled.size,
            if pulled.downloaded == 0 {
                "cached"
            } else {
                "downloaded"
            },
            pulled.digest,
            args.output.as_ref().unwrap_or(&pulled.path).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn login(args: LoginArgs, registry: &RegistryArgs) -> anyhow::Result<ExitCode> {
    let interactive = std::io::stdin().is_terminal();
    let read_line = |prompt: &str| -> anyhow::Result<String> {
        if !interactive {
            bail!("{prompt} is needed; give --username and --password-stdin");
        }
        eprint!("{prompt}: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    let username = match args.username {
        Some(u) => u,
        None => read_line("username")?,
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        text.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        // The terminal echoes; scripts should use --password-stdin.
        read_line("password (echoed; prefer --password-stdin)")?
    };
    if password.is_empty() {
        bail!("empty password");
    }
    let client = client(registry, false)?;
    let path = runtime()?.block_on(client.login(&args.registry, &username, &password))?;
    println!(
        "logged in to {}; credentials stored in {}",
        args.registry,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn cache(command: CacheCommand) -> anyhow::Result<ExitCode> {
    let store = store()?;
    match command {
        CacheCommand::Ls { json } => {
            let tags = store.tags();
            if json {
                println!("{}", serde_json::to_string_pretty(&tags)?);
            } else if tags.is_empty() {
                println!("(empty: {})", store.root().display());
            } else {
                for t in tags {
                    // Listing hashes nothing (the cache may hold gigabytes); a run verifies.
                    let present = store.has_blob(&t.layer, t.size);
                    println!(
                        "{}  {}  {} bytes{}",
                        t.reference,
                        t.layer,
                        t.size,
                        if present { "" } else { "  (blob missing)" }
                    );
                }
            }
        }
        CacheCommand::Prune { all } => {
            let (files, bytes) = store.prune(all)?;
            println!(
                "removed {files} file(s), {bytes} bytes from {}",
                store.root().display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
