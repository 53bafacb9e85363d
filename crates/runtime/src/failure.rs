//! Turning a failed run or request into words: which limit stopped the guest, or what trap
//! it hit and where (the guest's own backtrace, with function names).

use std::fmt;
use std::time::Duration;

use manifold_config::ByteSize;
use manifold_provider::MemoryLimiter;
use wasmtime::{Trap, WasmBacktrace};

use crate::engine::DeadlineExceeded;

/// Why a guest stopped without finishing.
#[derive(Debug)]
pub enum Failure {
    /// The wall-clock deadline passed.
    Deadline(Duration),
    /// A memory growth was refused at the cap and the guest then failed.
    MemoryCap {
        cap: ByteSize,
        peak: ByteSize,
        detail: String,
    },
    /// Fuel ran out.
    Fuel,
    /// The guest trapped (or a host call failed).
    Trap {
        message: String,
        backtrace: Option<String>,
    },
}

impl Failure {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Deadline(_) => "deadline",
            Failure::MemoryCap { .. } => "memory-cap",
            Failure::Fuel => "fuel",
            Failure::Trap { .. } => "trap",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Deadline(limit) => write!(
                f,
                "stopped: the deadline of {} passed (raise it with --timeout or `timeout` in [limits])",
                humantime::format_duration(*limit)
            ),
            Failure::MemoryCap { cap, peak, detail } => write!(
                f,
                "stopped: the memory cap of {cap} was reached (peak {peak}; raise it with --memory \
                 or `memory` in [limits]); then: {detail}"
            ),
            Failure::Fuel => write!(
                f,
                "stopped: out of fuel (raise it with --fuel or `fuel` in [limits])"
            ),
            Failure::Trap { message, backtrace } => {
                write!(f, "guest trapped: {message}")?;
                if let Some(bt) = backtrace {
                    write!(f, "\n{bt}")?;
                }
                Ok(())
            }
        }
    }
}

/// Classifies `err`, using the instance's memory limiter when still at hand.
pub fn describe_failure(err: &wasmtime::Error, limiter: Option<&MemoryLimiter>) -> Failure {
    if let Some(deadline) = find::<DeadlineExceeded>(err) {
        return Failure::Deadline(deadline.limit);
    }
    let trap = find::<Trap>(err).copied();
    if trap == Some(Trap::OutOfFuel) {
        return Failure::Fuel;
    }
    let backtrace = find::<WasmBacktrace>(err)
        .map(format_backtrace)
        .filter(|s| !s.is_empty());
    let message = match trap {
        Some(trap) => trap.to_string(),
        None => root_message(err),
    };
    if let Some(limiter) = limiter
        && limiter.hit_cap()
    {
        return Failure::MemoryCap {
            cap: ByteSize(limiter.cap() as u64),
            peak: ByteSize(limiter.peak() as u64),
            detail: message,
        };
    }
    Failure::Trap { message, backtrace }
}

fn find<E: fmt::Display + fmt::Debug + Send + Sync + 'static>(err: &wasmtime::Error) -> Option<&E> {
    err.downcast_ref::<E>()
}

fn root_message(err: &wasmtime::Error) -> String {
    // Wasmtime puts the backtrace in the chain as a context; leave it to `format_backtrace`.
    err.chain()
        .map(|e| e.to_string())
        .filter(|m| !m.starts_with("error while executing at wasm backtrace"))
        .collect::<Vec<_>>()
        .join(": ")
}

/// The guest's frames, innermost first: `  0: deliberate_trap (in module cli_probe)`.
fn format_backtrace(bt: &WasmBacktrace) -> String {
    let mut out = String::from("guest backtrace:");
    for (i, frame) in bt.frames().iter().enumerate() {
        let func = frame
            .func_name()
            .map(|n| rustc_demangle::demangle(n).to_string())
            .unwrap_or_else(|| format!("<function {}>", frame.func_index()));
        out.push_str(&format!("\n  {i:>2}: {func}"));
        if let Some(module) = frame.module().name() {
            out.push_str(&format!(" (in {module})"));
        }
        for symbol in frame.symbols() {
            if let (Some(file), Some(line)) = (symbol.file(), symbol.line()) {
                out.push_str(&format!("\n        at {file}:{line}"));
            }
        }
    }
    if bt.frames().is_empty() {
        String::new()
    } else {
        out
    }
}
