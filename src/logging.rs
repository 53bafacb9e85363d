//! Logs through `tracing` to stderr: text for people, JSON lines for machines; `RUST_LOG`
//! overrides the level.
//!
//! A server gathers its log lines in memory and writes them out every [`FLUSH_EVERY`]
//! ([`Writer::Gathered`]); warnings and errors go out at once, with everything gathered
//! before them. A request's access line costs a copy into a buffer under a lock,
//! never a system call or a thread wake-up of its own (measured: a write per line, or a
//! logging thread woken per line, each cost more CPU per request than the rest of our
//! request handling). A line reaches stderr at most [`FLUSH_EVERY`] after it was logged.
//! Nothing is dropped: once [`HIGH_WATER`] bytes wait (a stderr that does not keep up),
//! the thread that logs writes them out itself, as a direct write to a full pipe would
//! block. One-shot commands write directly, in order with their guest's own output.

use std::io::{IsTerminal as _, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How long a gathered log line may wait before it is written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(20);
/// Bytes gathered past which the logging thread writes them itself.
const HIGH_WATER: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// How log lines reach stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// Written by the thread that logs, at once.
    Direct,
    /// Gathered and written every [`FLUSH_EVERY`] (servers).
    Gathered,
}

/// Keeps the flushing thread; dropping it writes every line still waiting. Drop it before
/// printing anything that must come after the log (the final error).
#[must_use = "dropping the guard stops writing gathered log lines"]
pub struct Guard(#[allow(dead_code, reason = "held for its Drop")] Option<Flusher>);

pub fn init(format: LogFormat, default_level: &str, verbose: u8, writer: Writer) -> Guard {
    let level = match verbose {
        0 => default_level,
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        // Our crates at the chosen level; Wasmtime and Cranelift are chatty below `warn`.
        EnvFilter::new(format!("warn,manifold={level},manifold_serve={level},manifold_runtime={level},manifold_builtin_http={level},manifold_builtin_wasi={level}"))
    });
    let ansi = std::io::stderr().is_terminal();
    let (result, flusher) = match writer {
        Writer::Direct => (install(format, filter, ansi, std::io::stderr), None),
        Writer::Gathered => {
            let lines = Gathered::new(std::io::stderr());
            let flusher = Flusher::start(lines.clone(), FLUSH_EVERY);
            (install(format, filter, ansi, lines), flusher)
        }
    };
    if let Err(e) = result {
        eprintln!("warning: cannot set up logging: {e}");
    }
    Guard(flusher)
}

fn install<W>(
    format: LogFormat,
    filter: EnvFilter,
    ansi: bool,
    writer: W,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    }
}

/// Log lines waiting to be written to `out`. `tracing-subscriber` formats an event whole and
/// hands it over in one `write`, so lines never interleave.
struct Gathered<W> {
    inner: Arc<Mutex<Pending<W>>>,
}

struct Pending<W> {
    buf: Vec<u8>,
    out: W,
}

impl<W> Clone for Gathered<W> {
    fn clone(&self) -> Self {
        Gathered {
            inner: self.inner.clone(),
        }
    }
}

impl<W: Write> Gathered<W> {
    fn new(out: W) -> Gathered<W> {
        Gathered {
            inner: Arc::new(Mutex::new(Pending {
                buf: Vec::with_capacity(64 << 10),
                out,
            })),
        }
    }

    /// Writes every gathered line out. A failed write (stderr closed) drops them: there is
    /// nowhere else to put a log line.
    fn flush_out(&self) {
        let mut pending = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        pending.flush_out();
    }
}

impl<W: Write> Pending<W> {
    fn flush_out(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let Pending { buf, out } = self;
        let _ = out.write_all(buf).and_then(|()| out.flush());
        buf.clear();
    }
}

/// One event's writer: gathered, or, for a warning or an error, written out at once (with
/// every line gathered before it, so the order holds).
struct LineWriter<'a, W> {
    gathered: &'a Gathered<W>,
    urgent: bool,
}

impl<W: Write> Write for LineWriter<'_, W> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self
            .gathered
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        pending.buf.extend_from_slice(line);
        if self.urgent || pending.buf.len() >= HIGH_WATER {
            pending.flush_out();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for Gathered<W> {
    type Writer = LineWriter<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            gathered: self,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        LineWriter {
            gathered: self,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

/// The thread that writes gathered lines out every interval, and once more when stopped.
struct Flusher {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    fn start<W: Write + Send + 'static>(lines: Gathered<W>, every: Duration) -> Option<Flusher> {
        let (stop, stopped) = mpsc::channel::<()>();
        let writer = lines.clone();
        let thread = std::thread::Builder::new()
            .name("manifold-log".into())
            .spawn(move || {
                // Until stopped (or the guard is gone): write out each interval.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    writer.flush_out();
                }
                writer.flush_out();
            });
        match thread {
            Ok(thread) => Some(Flusher {
                stop,
                thread: Some(thread),
            }),
            Err(e) => {
                // Without the thread, lines would wait until the high-water mark.
                lines.flush_out();
                eprintln!("warning: cannot start the logging thread ({e}); logging directly");
                None
            }
        }
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records each write it gets, shared with the test.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        fn bytes(&self) -> Vec<u8> {
            self.0.lock().unwrap().concat()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().len()
        }
    }

    #[test]
    fn lines_are_gathered_and_written_together_by_the_flusher() {
        let out = Recorder::default();
        let lines = Gathered::new(out.clone());
        let flusher = Flusher::start(lines.clone(), Duration::from_secs(3600)).unwrap();
        for i in 0..100 {
            lines
                .make_writer()
                .write_all(format!("line {i}\n").as_bytes())
                .unwrap();
        }
        assert_eq!(out.writes(), 0, "nothing is written per line");
        drop(flusher);
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        assert_eq!(String::from_utf8(out.bytes()).unwrap(), expected);
        assert_eq!(out.writes(), 1, "one write for the whole batch");
    }

    #[test]
    fn a_line_reaches_the_output_within_the_interval() {
        let out = Recorder::default();
        let lines = Gathered::new(out.clone());
        let _flusher = Flusher::start(lines.clone(), Duration::from_millis(5)).unwrap();
        lines.make_writer().write_all(b"hello\n").unwrap();
        let waited = std::time::Instant::now();
        while out.bytes().is_empty() {
            assert!(
                waited.elapsed() < Duration::from_secs(10),
                "the flusher never wrote the line"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(out.bytes(), b"hello\n");
    }

    #[test]
    fn a_warning_goes_out_at_once_after_the_lines_gathered_before_it() {
        let out = Recorder::default();
        let lines = Gathered::new(out.clone());
        lines.make_writer().write_all(b"info\n").unwrap();
        LineWriter {
            gathered: &lines,
            urgent: true,
        }
        .write_all(b"warn\n")
        .unwrap();
        assert_eq!(out.bytes(), b"info\nwarn\n");
    }

    #[test]
    fn past_the_high_water_mark_the_logging_thread_writes_and_nothing_is_lost() {
        let out = Recorder::default();
        let lines = Gathered::new(out.clone());
        let line = vec![b'x'; 1000];
        let n = HIGH_WATER / line.len() * 3;
        for _ in 0..n {
            lines.make_writer().write_all(&line).unwrap();
        }
        assert!(out.writes() >= 2, "the writer wrote at the high-water mark");
        lines.flush_out();
        assert_eq!(out.bytes().len(), n * line.len());
    }
}
