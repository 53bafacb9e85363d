//! Logs through `tracing` to stderr: text for people, JSON lines for machines; `RUST_LOG`
//! overrides the level.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat, default_level: &str, verbose: u8) {
    let level = match verbose {
        0 => default_level,
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Our crates at the chosen level; Wasmtime and Cranelift are chatty below `warn`.
        EnvFilter::new(format!("warn,manifold={level},manifold_serve={level},manifold_runtime={level},manifold_builtin_http={level},manifold_builtin_wasi={level}"))
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let result = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("warning: cannot set up logging: {e}");
    }
}
