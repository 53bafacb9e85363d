//! `manifold serve` against clients that hold connections: slowloris headers, thousands of
//! idle connections, every connection busy (503), a request body that stops arriving, and a
//! kept-alive connection past its idle timeout; a well-behaved client keeps being answered.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use manifold_test_programs as programs;

use crate::util::{Server, agent};

/// Raises this test process's soft open-file limit (thousands of client sockets).
fn raise_open_files() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            rustix::process::Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
}

/// Whether the server has closed `stream`: a read sees EOF or a reset (waiting at most
/// `wait`). Bytes the server sent first are skipped.
fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if start.elapsed() >= wait {
                    return false;
                }
            }
            Err(_) => return true,
        }
    }
}

/// A well-behaved client: one GET on a fresh connection, answered 200 with the body.
fn answered(server: &Server) -> bool {
    match agent().get(&server.url("/")).call() {
        Ok(r) => r.status() == 200 && r.into_string().unwrap() == "Hello from Manifold!\n",
        Err(_) => false,
    }
}

/// The number of file descriptors the server process holds.
fn open_fds(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .unwrap()
        .count()
}

#[test]
fn slowloris_headers_are_cut_at_the_header_timeout_while_others_are_answered() {
    let server = Server::start(&[
        "--header-read-timeout",
        "1s",
        "--idle-timeout",
        "3s",
        programs::HTTP_HELLO,
    ]);
    let addr = server.addr.clone();
    // Twenty clients that send a header a byte every 100 ms and never finish it.
    let slow: Vec<_> = (0..20)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&addr).unwrap();
                stream.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n").unwrap();
                let start = Instant::now();
                for byte in b"x-slow: ".iter().cycle() {
                    if stream.write_all(&[*byte]).is_err() {
                        return start.elapsed();
                    }
                    std::thread::sleep(Duration::from_millis(100));
                    if start.elapsed() > Duration::from_secs(10) {
                        break;
                    }
                }
                panic!("a slowloris connection stayed open for 10 s");
            })
        })
        .collect();
    // A kept-alive connection that finished a request: idle, not slow, so it lasts until
    // the idle timeout (3 s), past the header timeout (1 s).
    let mut kept = TcpStream::connect(&addr).unwrap();
    kept.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    kept.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let idle_from = Instant::now();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        assert!(answered(&server), "a normal client was not answered");
        std::thread::sleep(Duration::from_millis(100));
    }
    for slow in slow {
        let lasted = slow.join().unwrap();
        assert!(
            lasted < Duration::from_secs(4),
            "a slowloris client was cut only after {lasted:?}"
        );
    }
    assert!(
        !closed_by_server(&mut kept, Duration::ZERO),
        "the idle connection was closed at the header timeout"
    );
    assert!(
        closed_by_server(&mut kept, Duration::from_secs(5)),
        "the idle connection outlived its idle timeout"
    );
    assert!(idle_from.elapsed() >= Duration::from_millis(2900));
}

#[test]
fn thousands_of_idle_connections_make_room_for_new_clients_within_the_cap() {
    raise_open_files();
    let server = Server::start(&["--max-connections", "200", programs::HTTP_HELLO]);
    let baseline = open_fds(&server);
    let mut idle: Vec<TcpStream> = (0..2000)
        .map(|_| TcpStream::connect(&server.addr).unwrap())
        .collect();
    for _ in 0..20 {
        assert!(answered(&server), "a normal client was not answered");
    }
    // The server holds about the cap, not one descriptor per client.
    let held = open_fds(&server) - baseline;
    assert!(held <= 200 + 64, "the server holds {held} descriptors");
    let closed = idle
        .iter_mut()
        .map(|s| closed_by_server(s, Duration::from_millis(1)))
        .filter(|&closed| closed)
        .count();
    assert!(
        closed >= 1700,
        "only {closed} of 2000 idle connections were closed"
    );
}

#[test]
fn with_every_connection_busy_a_new_client_gets_503_and_is_served_once_one_frees() {
    let server = Server::start(&["--max-connections", "3", programs::HTTP_ECHO]);
    // Three requests in flight: their bodies are still arriving.
    let mut busy: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream
                .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nhello")
                .unwrap();
            let mut head = [0u8; 12];
            stream.read_exact(&mut head).unwrap();
            assert_eq!(&head, b"HTTP/1.1 200");
            stream
        })
        .collect();
    let mut refused = TcpStream::connect(&server.addr).unwrap();
    refused
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = String::new();
    refused.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
        "{answer}"
    );
    assert!(answer.contains("retry-after: 1\r\n"), "{answer}");
    assert!(answer.contains("too many connections"), "{answer}");
    server.wait_for_log("answered a new client 503");
    // One request finishes: the next client is served.
    let mut first = busy.remove(0);
    first.write_all(&[b'.'; 995]).unwrap();
    drop(first);
    let start = Instant::now();
    loop {
        let response = agent().post(&server.url("/echo")).send_string("ping");
        match response {
            Ok(r) => {
                assert_eq!(r.into_string().unwrap(), "ping");
                break;
            }
            Err(e) => assert!(
                start.elapsed() < Duration::from_secs(5),
                "no client was served after a connection freed: {e}"
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_request_body_that_stops_arriving_ends_at_the_body_idle_timeout() {
    let server = Server::start(&["--body-idle-timeout", "1s", programs::HTTP_ECHO]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\nhello")
        .unwrap();
    let started = Instant::now();
    assert!(
        closed_by_server(&mut stream, Duration::from_secs(8)),
        "the stalled request was not ended"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "ended after {took:?}"
    );
    let logs = server.wait_for_log("body-idle timeout");
    assert!(logs.contains("body-idle timeout"), "{logs}");
    // The server goes on.
    assert_eq!(
        agent()
            .post(&server.url("/echo"))
            .send_string("after")
            .unwrap()
            .into_string()
            .unwrap(),
        "after"
    );
}
