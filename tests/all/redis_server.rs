//! A `redis-server` of the test's own on 127.0.0.1 and a free port, without persistence,
//! killed on drop; it can be stopped and started again on the same port.

use std::net::TcpStream;
use std::time::Duration;

use crate::server_process::{ServerProcess, free_port};

pub struct RedisServer {
    process: ServerProcess,
    pub port: u16,
}

impl RedisServer {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub fn start() -> RedisServer {
        // redis-server has no `--port 0`: take a free port from the kernel and hand it over.
        let port = free_port();
        let args = ["--port", &port.to_string(), "--bind", "127.0.0.1"]
            .into_iter()
            .chain(["--save", "", "--appendonly", "no"])
            .map(Into::into)
            .collect();
        let process = ServerProcess::start("redis-server", args, port, answers_ping);
        RedisServer { process, port }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Starts the server again on the same port, with empty data.
    pub fn restart(&mut self) {
        self.process.restart();
    }

    /// Runs one command (e.g. `["SET", "k", "v"]`) and returns the first line of the reply.
    pub fn command(&self, args: &[&str]) -> String {
        use std::io::{BufRead, BufReader, Write};
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
        }
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis port");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        stream
            .write_all(request.as_bytes())
            .expect("send a command");
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .expect("read the reply");
        line.trim_end().to_owned()
    }

    /// How many clients are connected now, not counting the one asking.
    pub fn clients(&self) -> usize {
        use std::io::{BufRead, BufReader, Read, Write};
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("redis port");
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        stream
            .write_all(b"CLIENT LIST\r\n")
            .expect("send CLIENT LIST");
        let mut reader = BufReader::new(stream);
        let mut header = String::new();
        reader.read_line(&mut header).expect("read CLIENT LIST");
        let len: usize = header
            .trim()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a bulk string from CLIENT LIST, got {header:?}"));
        let mut list = vec![0; len];
        reader.read_exact(&mut list).expect("read CLIENT LIST");
        String::from_utf8_lossy(&list).lines().count() - 1
    }
}

fn answers_ping(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && &reply == b"+PONG\r\n"
}
