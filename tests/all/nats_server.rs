//! A `nats-server -js` of the test's own on 127.0.0.1 and a free port, storing JetStream data
//! in a temporary directory, killed on drop; it can be stopped and started again on the same
//! port with the same data (as a restarted server would be).
//!
//! Also compiled into the NATS backends' unit tests (by path, with `server_process.rs` as its
//! sibling module), so keep it free of anything else from `tests/all`.

use std::ffi::OsString;
use std::net::TcpStream;
use std::time::Duration;

use super::server_process::{ServerProcess, free_port};

pub struct NatsServer {
    process: ServerProcess,
    pub port: u16,
    /// The HTTP monitoring port (`/connz`).
    monitor: u16,
    _store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server -js` on a free port and waits until it answers `PING`.
    pub fn start() -> NatsServer {
        NatsServer::start_with(&[])
    }

    /// Starts it with `extra` arguments too (e.g. `--user U --pass P`, `--auth TOKEN`,
    /// `--tls …`) and waits until it greets clients (it asks for credentials, or TLS, before
    /// it answers `PING`).
    pub fn start_with(extra: &[&str]) -> NatsServer {
        let (port, monitor) = (free_port(), free_port());
        let store = tempfile::tempdir().expect("a JetStream store directory");
        let mut args: Vec<OsString> = ["-js", "-a", "127.0.0.1", "-p", &port.to_string()]
            .into_iter()
            .chain(["-m", &monitor.to_string(), "-sd"])
            .map(Into::into)
            .collect();
        args.push(store.path().into());
        args.extend(extra.iter().map(Into::into));
        let ready = if extra.is_empty() {
            answers_ping
        } else {
            greets
        };
        NatsServer {
            process: ServerProcess::start("nats-server", args, port, ready),
            port,
            monitor,
            _store: store,
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the server again on the same port, with the JetStream data it had.
    pub fn restart(&mut self) {
        self.process.restart();
    }
}

/// The server greets with `INFO …`; after `CONNECT` and `PING` it answers `PONG`.
fn answers_ping(port: u16) -> bool {
    use std::io::{BufRead, BufReader, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream
        .write_all(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
        .is_err()
    {
        return false;
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        if reader.read_line(&mut line).is_err() {
            return false;
        }
        if line.starts_with("PONG") {
            return true;
        }
    }
    false
}

/// The server greets a new connection with `INFO …`.
fn greets(port: u16) -> bool {
    use std::io::{BufRead, BufReader};
    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).is_ok() && line.starts_with("INFO")
}

impl NatsServer {
    /// How many clients are connected now, from the monitoring endpoint.
    pub fn connections(&self) -> usize {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.monitor)).expect("monitor port");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        stream
            .write_all(b"GET /connz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .expect("send /connz");
        let mut reply = String::new();
        stream.read_to_string(&mut reply).expect("read /connz");
        let field = "\"num_connections\":";
        let at = reply.find(field).expect("num_connections in /connz") + field.len();
        let digits: String = reply[at..]
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().expect("a number of connections")
    }
}
