//! The `manifold` command: parse arguments, call into the library crates, print errors with
//! their whole chain, and return a documented exit code (see `docs/cli.md`).

mod cli;
mod dist;
mod logging;
mod plugin;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let log = logging::init(
        args.log_format,
        args.command.default_log_level(),
        args.verbose,
        args.command.log_writer(),
    );
    let result = cli::execute(args);
    // Every log line is out before the final error.
    drop(log);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_HOST_ERROR)
        }
    }
}
