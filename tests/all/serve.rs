//! `manifold serve`: responses, streaming, grants, limits under load, routes, shutdown, logs.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use manifold_test_programs as programs;

use crate::util::{Server, agent, get, scratch_with};

#[test]
fn hello_answers() {
    let server = Server::start(&[programs::HTTP_HELLO]);
    let (status, body) = get(&server.url("/"));
    assert_eq!(status, 200);
    assert_eq!(body, "Hello from Manifold!\n");
    let logs = server.wait_for_log("status=200");
    assert!(
        logs.contains("method=GET")
            && logs.contains("duration_ms=")
            && logs.contains("memory_bytes="),
        "{logs}"
    );
}

/// Posts `chunks` to the echo guest over one HTTP/1.1 connection, sending and receiving at
/// the same time (the guest answers while the body is still arriving).
async fn echo_roundtrip(addr: &str, chunks: Vec<Bytes>, lockstep: bool) -> Vec<u8> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let (mut body_tx, body) =
        http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(2);
    let request = hyper::Request::post("/echo")
        .header("host", "test")
        .body(body)
        .unwrap();
    let response = tokio::spawn(async move { sender.send_request(request).await });
    let mut chunks = chunks.into_iter();
    let first = chunks.next().unwrap();
    body_tx.send_data(first.clone()).await.unwrap();
    let mut response = response.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let mut echoed = Vec::new();
    if lockstep {
        // The first chunk comes back before the rest is sent: nothing buffers the whole body.
        while echoed.len() < first.len() {
            let frame = response.body_mut().frame().await.unwrap().unwrap();
            echoed.extend_from_slice(&frame.into_data().unwrap());
        }
    }
    let writer = tokio::spawn(async move {
        for chunk in chunks {
            body_tx.send_data(chunk).await.unwrap();
        }
    });
    while let Some(frame) = response.body_mut().frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            echoed.extend_from_slice(&data);
        }
    }
    writer.await.unwrap();
    echoed
}

#[test]
fn echo_streams_a_large_body_intact() {
    let server = Server::start(&[programs::HTTP_ECHO]);
    let body: Vec<u8> = (0..16 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Bytes> = body
        .chunks(256 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let echoed = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(60),
            echo_roundtrip(&server.addr, chunks, false),
        )
        .await
        .expect("echo of 16 MiB finished")
    });
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "echoed body differs");

    let chunks = vec![
        Bytes::from_static(b"first chunk;"),
        Bytes::from_static(b"second chunk"),
    ];
    let echoed = rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(20),
            echo_roundtrip(&server.addr, chunks, true),
        )
        .await
        .expect("the first chunk was echoed before the second was sent")
    });
    assert_eq!(echoed, b"first chunk;second chunk");
}

#[test]
fn served_components_get_only_what_is_granted() {
    let dir = scratch_with("page.txt", "granted file");
    let server = Server::start(&[programs::HTTP_PROBE]);
    let (status, body) = get(&server.url("/env"));
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "", "no env unless granted");
    let (status, body) = get(&server.url("/file?path=/data/page.txt"));
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("file error"), "{body}");
    drop(server);

    let grant = format!("{}::/data:ro", dir.path().display());
    let server = Server::start(&[programs::HTTP_PROBE, "--env", "COLOR=blue", "--dir", &grant]);
    assert_eq!(get(&server.url("/env")).1.trim(), "COLOR=blue");
    assert_eq!(
        get(&server.url("/file?path=/data/page.txt")),
        (200, "granted file".to_string())
    );
}

/// A one-shot HTTP server on 127.0.0.1 that answers every request with 200 "upstream".
pub(crate) fn upstream() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
            );
        }
    });
    (addr, hits)
}

#[test]
fn outbound_http_is_refused_unless_granted() {
    let (addr, hits) = upstream();
    let target = format!("/fetch?url=http://{addr}/x");

    let server = Server::start(&[programs::HTTP_PROBE]);
    let (status, body) = get(&server.url(&target));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a denied request must not leave the host"
    );
    drop(server);

    let server = Server::start(&[
        programs::HTTP_PROBE,
        "--allow-outbound",
        "http://127.0.0.1:*",
    ]);
    let (status, body) = get(&server.url(&target));
    assert_eq!((status, body.as_str()), (200, "status 200"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Another destination is still refused.
    let (status, body) = get(&server.url("/fetch?url=http://localhost:1/"));
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("HttpRequestDenied"), "{body}");
}

#[test]
fn deadline_memory_cap_and_traps_fail_only_their_request() {
    let server = Server::start(&[programs::HTTP_PROBE, "--timeout", "1s", "--memory", "32MiB"]);
    let started = Instant::now();
    let (status, _) = get(&server.url("/loop"));
    assert_eq!(status, 504);
    assert!(started.elapsed() < Duration::from_secs(10));
    let (status, _) = get(&server.url("/oom"));
    assert_eq!(status, 500);
    let (status, _) = get(&server.url("/trap"));
    assert_eq!(status, 500);
    let (status, _) = get(&server.url("/sleep?ms=3000"));
    assert_eq!(status, 504, "a guest blocked in the host is stopped too");
    assert_eq!(get(&server.url("/hello")), (200, "hello".to_string()));

    let logs = server.wait_for_log("deliberate_trap");
    assert!(
        logs.contains("failure=\"deadline\"") || logs.contains("failure=deadline"),
        "{logs}"
    );
    assert!(logs.contains("memory cap of 32MiB"), "{logs}");
    assert!(
        logs.contains("deliberate_trap"),
        "the guest's backtrace: {logs}"
    );
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn misbehaving_requests_do_not_fail_others_under_load() {
    let server = Arc::new(Server::start(&[
        programs::HTTP_PROBE,
        "--timeout",
        "2s",
        "--memory",
        "32MiB",
    ]));
    let failures = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for _ in 0..4 {
        let (server, failures, served) = (server.clone(), failures.clone(), served.clone());
        threads.push(std::thread::spawn(move || {
            let agent = agent();
            for _ in 0..60 {
                let ok = match agent.get(&server.url("/hello")).call() {
                    Ok(r) => r.status() == 200 && r.into_string().unwrap_or_default() == "hello",
                    Err(_) => false,
                };
                let counter = if ok { &served } else { &failures };
                counter.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let mut bad = Vec::new();
    for path in ["/loop", "/oom", "/trap", "/loop", "/oom", "/trap"] {
        let server = server.clone();
        bad.push(std::thread::spawn(move || get(&server.url(path)).0));
    }
    for t in threads {
        t.join().unwrap();
    }
    let bad: Vec<u16> = bad.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        failures.load(Ordering::SeqCst),
        0,
        "well-behaved requests failed"
    );
    assert_eq!(served.load(Ordering::SeqCst), 240);
    assert_eq!(bad, [504, 500, 500, 504, 500, 500]);
}

#[test]
fn manifest_mounts_components_on_routes_with_their_own_grants() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            r#"
name = "routes"
[component.a]
source = "{probe}"
route = "/a"
env = {{ WHO = "a" }}

[component.b]
source = "{probe}"
route = "/b"
env = {{ WHO = "b" }}

[component.hello]
source = "{hello}"
"#,
            probe = programs::HTTP_PROBE,
            hello = programs::HTTP_HELLO
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    assert_eq!(get(&server.url("/a/env")).1.trim(), "WHO=a");
    assert_eq!(get(&server.url("/b/env")).1.trim(), "WHO=b");
    assert_eq!(
        get(&server.url("/a/path?x=1")).1,
        "/a/path?x=1",
        "the full path reaches the guest"
    );
    assert_eq!(get(&server.url("/anything")).1, "Hello from Manifold!\n");
}

#[test]
fn serving_a_cli_component_suggests_run() {
    let out = crate::util::manifold()
        .args(["serve", programs::CLI_PROBE, "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = crate::util::stderr(&out);
    assert!(
        err.contains("does not export wasi:http/incoming-handler"),
        "{err}"
    );
    assert!(err.contains("manifold run"), "{err}");
}

#[test]
fn sigterm_lets_in_flight_requests_finish() {
    let server = Server::start(&[programs::HTTP_PROBE]);
    let url = server.url("/sleep?ms=1500");
    let in_flight = std::thread::spawn(move || get(&url));
    std::thread::sleep(Duration::from_millis(400));
    let addr = server.addr.clone();
    let status = server.terminate();
    assert_eq!(in_flight.join().unwrap(), (200, "slept".to_string()));
    assert!(status.success(), "{status:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "no longer accepting"
    );
}

#[test]
fn garbage_on_the_socket_does_not_hurt_the_server() {
    let server = Server::start(&[programs::HTTP_HELLO]);
    for junk in [
        &b"\x00\x01\x02garbage\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\ncontent-length: nope\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(&server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(junk).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    assert_eq!(get(&server.url("/")).0, 200);
}

#[test]
fn json_logs_have_one_line_per_request() {
    let server = Server::start(&["--log-format", "json", programs::HTTP_HELLO]);
    assert_eq!(get(&server.url("/x?y=1")).0, 200);
    let logs = server.wait_for_log("\"status\":200");
    let line = logs
        .lines()
        .find(|l| l.contains("\"status\":200"))
        .expect("request line");
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["method"], "GET");
    assert_eq!(v["path"], "/x?y=1");
    assert!(
        v["duration_ms"].is_u64() && v["memory_bytes"].as_u64().unwrap() > 0,
        "{v}"
    );
}

#[test]
fn http2_prior_knowledge_works() {
    let server = Server::start(&[programs::HTTP_HELLO]);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-o",
            "-",
            "-w",
            "%{http_version}",
            &server.url("/"),
        ])
        .output()
        .expect("curl is installed by scripts/install-deps");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello from Manifold!\n2"
    );
}

#[test]
fn the_readme_example_serves() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello");
    let server = Server::start(&[example]);
    assert_eq!(
        get(&server.url("/")),
        (200, "Hello from Manifold!\n".to_string())
    );
}

#[test]
fn max_instances_makes_requests_wait_for_a_slot() {
    let server = Arc::new(Server::start(&[
        programs::HTTP_PROBE,
        "--max-instances",
        "1",
    ]));
    let busy = {
        let server = server.clone();
        std::thread::spawn(move || get(&server.url("/sleep?ms=1500")))
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(get(&server.url("/hello")), (200, "hello".to_string()));
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "the second request waited for the only slot ({:?})",
        started.elapsed()
    );
    assert_eq!(busy.join().unwrap(), (200, "slept".to_string()));
}

#[test]
fn waiting_for_a_slot_and_running_share_one_deadline() {
    let server = Arc::new(Server::start(&[
        programs::HTTP_PROBE,
        "--max-instances",
        "1",
        "--timeout",
        "2s",
    ]));
    let busy = {
        let server = server.clone();
        std::thread::spawn(move || get(&server.url("/sleep?ms=1500")))
    };
    std::thread::sleep(Duration::from_millis(300));
    // Waits about 1.2 s for the slot, so 0.8 s are left for a call that needs 1 s.
    let started = Instant::now();
    let (status, _) = get(&server.url("/sleep?ms=1000"));
    let took = started.elapsed();
    assert_eq!(status, 504, "after {took:?}");
    assert!(
        took < Duration::from_millis(2600),
        "the wait and the call took {took:?}, more than one 2 s budget"
    );
    assert_eq!(busy.join().unwrap(), (200, "slept".to_string()));
}
