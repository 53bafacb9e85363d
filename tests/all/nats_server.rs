//! A `nats-server -js` of the test's own on 127.0.0.1 and a free port, storing JetStream data
//! in a temporary directory, killed on drop; it can be stopped and started again on the same
//! port with the same data (as a restarted server would be).
//!
//! Also compiled into `manifold-keyvalue-nats`'s unit tests (by path), so keep it free of
//! anything else from `tests/all`.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    /// The HTTP monitoring port (`/connz`).
    monitor: u16,
    store: tempfile::TempDir,
}

impl NatsServer {
    /// Starts `nats-server -js` on a free port and waits until it answers `PING`.
    pub fn start() -> NatsServer {
        let (port, monitor) = (free_port(), free_port());
        let store = tempfile::tempdir().expect("a JetStream store directory");
        let mut server = NatsServer {
            child: None,
            port,
            monitor,
            store,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, with the JetStream data it had.
    pub fn restart(&mut self) {
        self.stop();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-m", &self.monitor.to_string()])
            .arg("-sd")
            .arg(self.store.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server (scripts/install-deps installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while !self.answers_ping() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "nats-server on port {} did not answer PING",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server greets with `INFO …`; after `CONNECT` and `PING` it answers `PONG`.
    fn answers_ping(&self) -> bool {
        use std::io::{BufRead, BufReader, Write};
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}
