//! A server program of the test's own (redis-server, nats-server): started on 127.0.0.1,
//! waited for until it answers, killed (SIGKILL) on drop, and restartable on the same port.
//!
//! Also compiled into the NATS backends' unit tests (by path, next to `nats_server.rs`), so
//! keep it free of anything else from `tests/all`.

use std::ffi::OsString;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server has to answer after it was started.
const STARTUP: Duration = Duration::from_secs(20);

pub struct ServerProcess {
    program: &'static str,
    args: Vec<OsString>,
    /// Whether the server on this port answers as it should once ready.
    ready: fn(u16) -> bool,
    pub port: u16,
    child: Option<Child>,
}

impl ServerProcess {
    /// Starts `program` with `args` (which make it listen on 127.0.0.1:`port`) and waits until
    /// `ready(port)`.
    pub fn start(
        program: &'static str,
        args: Vec<OsString>,
        port: u16,
        ready: fn(u16) -> bool,
    ) -> ServerProcess {
        let mut server = ServerProcess {
            program,
            args,
            ready,
            port,
            child: None,
        };
        server.restart();
        server
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again, with the same arguments, on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new(self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "spawn {} ({e}; scripts/install-deps installs it)",
                    self.program
                )
            });
        self.child = Some(child);
        let start = Instant::now();
        while !(self.ready)(self.port) {
            assert!(
                start.elapsed() < STARTUP,
                "{} on port {} did not answer within {STARTUP:?}",
                self.program,
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port free on 127.0.0.1 now (for servers that cannot be told to take port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
