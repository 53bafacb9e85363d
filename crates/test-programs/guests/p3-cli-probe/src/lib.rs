//! `p3-cli-probe`: a `wasi:cli/command@0.3.0` whose first argument says what
//! to probe: arguments, environment, files, stdio streams, exit codes, clocks,
//! sockets, or misbehaviour. Everything it prints goes through the 0.3
//! stdout and stderr streams, never std's. The contract is in
//! `crates/test-programs/README.md`; keep the two in step.

mod net;
mod output;

use output::Output;
use wasi::cli::{environment, exit, stdin};
use wasi::clocks::monotonic_clock;
use wasi::filesystem::preopens;
use wasi::filesystem::types::{Descriptor, DescriptorFlags, OpenFlags, PathFlags};

wit_bindgen::generate!({
    // One file per package, dependencies first: wit-parser resolves each
    // file against the packages pushed before it.
    path: [
        "../../../../wit/deps/0.3.0/clocks.wit",
        "../../../../wit/deps/0.3.0/random.wit",
        "../../../../wit/deps/0.3.0/filesystem.wit",
        "../../../../wit/deps/0.3.0/sockets.wit",
        "../../../../wit/deps/0.3.0/cli.wit",
    ],
    world: "wasi:cli/command@0.3.0",
    generate_all,
});

/// How many bytes are copied from one stream to another at a time.
const CHUNK: usize = 64 * 1024;

/// How a probe ends, once its output is flushed.
enum Outcome {
    Success,
    /// `run` returns `err`: the host's exit status 1.
    Failure,
    /// `exit-with-code` with this status.
    Exit(u8),
}

struct Probe;

impl exports::wasi::cli::run::Guest for Probe {
    async fn run() -> Result<(), ()> {
        let mut out = Output::stdout();
        let mut err = Output::stderr();
        let args = environment::get_arguments();
        let outcome = probe(&args, &mut out, &mut err).await;
        out.finish().await;
        err.finish().await;
        match outcome {
            Outcome::Success => Ok(()),
            Outcome::Failure => Err(()),
            Outcome::Exit(status) => {
                exit::exit_with_code(status);
                unreachable!("exit-with-code returned")
            }
        }
    }
}

export!(Probe);

async fn probe(args: &[String], out: &mut Output, err: &mut Output) -> Outcome {
    // args[0] is the program's name.
    let command = args.get(1).map(String::as_str);
    let operand = |i: usize| args.get(1 + i).map(String::as_str);
    match (command, operand(1), operand(2)) {
        (None, _, _) => {
            out.line("hello from p3-cli-probe").await;
            Outcome::Success
        }
        (Some("args"), _, _) => {
            for arg in args {
                out.line(arg).await;
            }
            Outcome::Success
        }
        (Some("env"), Some(name), _) => {
            let value = environment::get_environment()
                .into_iter()
                .find_map(|(key, value)| (key == name).then_some(value));
            out.line(value.as_deref().unwrap_or("unset")).await;
            Outcome::Success
        }
        (Some("read"), Some(path), _) => read(path, out).await,
        (Some("write"), Some(path), Some(text)) => write(path, text, out).await,
        (Some("exit"), Some(status), _) => match status.parse() {
            Ok(status) => Outcome::Exit(status),
            Err(_) => usage(err, "exit N (N from 0 to 255)").await,
        },
        (Some("cat"), _, _) => cat(out, err).await,
        (Some("trap"), _, _) => probe_support::deliberate_trap(),
        (Some("loop"), _, _) => probe_support::spin_forever(),
        (Some("sleep"), Some(ms), _) => match ms.parse::<u64>() {
            Ok(ms) => {
                monotonic_clock::wait_for(ms.saturating_mul(1_000_000)).await;
                out.line(&format!("slept {ms}")).await;
                Outcome::Success
            }
            Err(_) => usage(err, "sleep MS").await,
        },
        (Some("connect"), Some(address), _) => net::connect(address, out).await,
        (Some("listen"), Some(port), _) => match port.parse() {
            Ok(port) => net::listen(port, out).await,
            Err(_) => usage(err, "listen PORT").await,
        },
        (
            Some(command @ ("env" | "read" | "write" | "exit" | "sleep" | "connect" | "listen")),
            ..,
        ) => usage(err, &format!("{command} needs more operands")).await,
        (Some(other), _, _) => {
            err.line(&format!("unknown command `{other}`")).await;
            Outcome::Failure
        }
    }
}

async fn usage(err: &mut Output, usage: &str) -> Outcome {
    err.line(&format!("usage: {usage}")).await;
    Outcome::Failure
}

/// Copies the file at `path` to stdout, as is.
async fn read(path: &str, out: &mut Output) -> Outcome {
    let file = match open(path, OpenFlags::empty(), DescriptorFlags::READ).await {
        Ok(file) => file,
        Err(code) => return out.error(&code).await,
    };
    let (data, done) = file.read_via_stream(0);
    out.copy_from(data).await;
    match done.await {
        Ok(()) => Outcome::Success,
        Err(code) => out.error(&output::kebab_name(&code)).await,
    }
}

/// Writes `text` (no newline added) to the file at `path`, created or
/// truncated, and prints `ok`.
async fn write(path: &str, text: &str, out: &mut Output) -> Outcome {
    let flags = OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = match open(path, flags, DescriptorFlags::WRITE).await {
        Ok(file) => file,
        Err(code) => return out.error(&code).await,
    };
    let (mut writer, reader) = wit_stream::new();
    let done = file.write_via_stream(reader, 0);
    let _unwritten = writer.write_all(text.as_bytes().to_vec()).await;
    // The write finishes when the stream does.
    drop(writer);
    match done.await {
        Ok(()) => {
            out.line("ok").await;
            Outcome::Success
        }
        Err(code) => out.error(&output::kebab_name(&code)).await,
    }
}

/// Opens `path` in the preopened directory that holds it. The error is the
/// `wasi:filesystem` error code's name, or `no-preopen` when no preopened
/// directory holds `path`.
async fn open(
    path: &str,
    open_flags: OpenFlags,
    flags: DescriptorFlags,
) -> Result<Descriptor, String> {
    let (dir, relative) = preopen_holding(path).ok_or_else(|| "no-preopen".to_string())?;
    dir.open_at(PathFlags::SYMLINK_FOLLOW, relative, open_flags, flags)
        .await
        .map_err(|code| output::kebab_name(&code))
}

/// The preopened directory whose guest path is the longest prefix of
/// `path`, and `path` relative to it. A relative `path` is looked up in the
/// preopen named `.`.
fn preopen_holding(path: &str) -> Option<(Descriptor, String)> {
    let mut best: Option<(Descriptor, String, usize)> = None;
    for (dir, guest_path) in preopens::get_directories() {
        let relative = if guest_path == "." && !path.starts_with('/') {
            Some(path.to_string())
        } else if guest_path == path {
            Some(".".to_string())
        } else {
            let dir_prefix = guest_path.trim_end_matches('/');
            path.strip_prefix(dir_prefix)
                .and_then(|rest| rest.strip_prefix('/'))
                .filter(|_| guest_path.starts_with('/'))
                .map(str::to_string)
        };
        if let Some(relative) = relative
            && best
                .as_ref()
                .is_none_or(|(_, _, len)| guest_path.len() > *len)
        {
            best = Some((dir, relative, guest_path.len()));
        }
    }
    best.map(|(dir, relative, _)| (dir, relative))
}

/// Copies stdin to stdout through the 0.3 streams, a chunk at a time.
async fn cat(out: &mut Output, err: &mut Output) -> Outcome {
    let (data, done) = stdin::read_via_stream();
    out.copy_from(data).await;
    match done.await {
        Ok(()) => Outcome::Success,
        Err(code) => {
            err.line(&format!("stdin error: {}", output::kebab_name(&code)))
                .await;
            Outcome::Failure
        }
    }
}
