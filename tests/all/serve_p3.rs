//! `manifold serve` of WASI 0.3 handlers (`wasi:http/handler@0.3.0`): streaming both ways with
//! trailers, instance reuse (counted by the guest), concurrency on one instance, retirement
//! on a trap, per-request deadlines under reuse, outbound grants, and 0.2 and 0.3 components
//! on one server.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use manifold_test_programs as programs;

use crate::serve::upstream;
use crate::util::{Server, get};

/// `instance=ID count=N` from the probe's `/count`.
fn count(server: &Server, path: &str) -> (String, u64) {
    let (status, body) = get(&server.url(path));
    assert_eq!(status, 200, "{body}");
    let mut id = None;
    let mut n = None;
    for part in body.split_whitespace() {
        if let Some(v) = part.strip_prefix("instance=") {
            id = Some(v.to_string());
        } else if let Some(v) = part.strip_prefix("count=") {
            n = v.parse().ok();
        }
    }
    (id.expect(&body), n.expect(&body))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn hello_and_0_2_next_to_0_3_on_one_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            r#"
name = "majors"
[component.old]
source = "{p2}"
route = "/v2"
[component.new]
source = "{p3}"
route = "/v3"
[component.mixed]
source = "{mixed}"
route = "/mixed"
"#,
            p2 = programs::HTTP_HELLO,
            p3 = programs::P3_HTTP_HELLO,
            mixed = programs::P3_MIXED,
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    assert_eq!(
        get(&server.url("/v2")),
        (200, "Hello from Manifold!\n".to_string())
    );
    assert_eq!(
        get(&server.url("/v3")),
        (200, "Hello from a WASI 0.3 component!\n".to_string())
    );
    // One component, both majors: 0.2.12 random through wasip2, 0.3.0 random.
    let (status, body) = get(&server.url("/mixed"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("p2 random=") && body.contains("p3 random="),
        "{body}"
    );
    let logs = server.wait_for_log("path=\"/mixed\"");
    assert!(logs.contains("component=\"new\" status=200"), "{logs}");
}

#[test]
fn instances_are_reused_up_to_max_requests() {
    // Defaults: one instance serves these sequential requests.
    let server = Server::start(&[programs::P3_HTTP_PROBE]);
    let mut ids = BTreeSet::new();
    for expected in 1..=20 {
        let (id, n) = count(&server, "/count");
        assert_eq!(n, expected);
        ids.insert(id);
    }
    assert_eq!(ids.len(), 1, "one instance served all: {ids:?}");
    drop(server);

    let server = Server::start(&[programs::P3_HTTP_PROBE, "--reuse-max-requests", "5"]);
    let mut per_instance = std::collections::BTreeMap::<String, u64>::new();
    for _ in 0..20 {
        let (id, n) = count(&server, "/count");
        assert!(n <= 5, "an instance served more than 5: {n}");
        per_instance.insert(id, n);
    }
    assert_eq!(per_instance.len(), 4, "{per_instance:?}");
    assert!(per_instance.values().all(|n| *n == 5), "{per_instance:?}");
    drop(server);

    let server = Server::start(&[programs::P3_HTTP_PROBE, "--no-reuse"]);
    let mut ids = BTreeSet::new();
    for _ in 0..5 {
        let (id, n) = count(&server, "/count");
        assert_eq!(n, 1, "a fresh instance per request");
        ids.insert(id);
    }
    assert_eq!(ids.len(), 5);
}

#[test]
fn reuse_in_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.probe]\nsource = \"{}\"\nreuse = {{ max-requests = 2 }}\n",
            programs::P3_HTTP_PROBE
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    let counts: Vec<u64> = (0..4).map(|_| count(&server, "/count").1).collect();
    assert_eq!(counts, [1, 2, 1, 2]);
    drop(server);

    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.probe]\nsource = \"{}\"\nreuse = false\n",
            programs::P3_HTTP_PROBE
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    let counts: Vec<u64> = (0..3).map(|_| count(&server, "/count").1).collect();
    assert_eq!(counts, [1, 1, 1]);
}

#[test]
fn one_instance_serves_requests_concurrently() {
    // One instance slot: with 0.2-style one-request-per-instance, eight 600 ms requests would
    // take 4.8 s; on one concurrent 0.3 instance they overlap.
    let server = Server::start(&[programs::P3_HTTP_PROBE, "--max-instances", "1"]);
    let url = server.url("/sleep?ms=600");
    let started = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || get(&url))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), (200, "slept 600".to_string()));
    }
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(3000),
        "8 requests on one instance took {took:?}: not concurrent"
    );
    let (_, n) = count(&server, "/count");
    assert_eq!(n, 9, "the eight sleeps and this one, on the one instance");
}

#[test]
fn a_trap_retires_the_instance_and_the_next_request_gets_a_fresh_one() {
    let server = Server::start(&[programs::P3_HTTP_PROBE]);
    let (before, _) = count(&server, "/count");
    let (status, body) = get(&server.url("/trap"));
    assert_eq!(status, 500, "{body}");
    let (after, n) = count(&server, "/count");
    assert_ne!(before, after);
    assert_eq!(n, 1);
    let logs = server.wait_for_log("instance retired");
    assert!(logs.contains("deliberate_trap"), "{logs}");
}

/// A reused instance that hits its memory cap is retired like one that traps, and its
/// client is told what happened (not a bare "failed"); the next request gets a fresh
/// instance.
#[test]
fn an_instance_at_its_memory_cap_is_retired_and_its_client_told_so() {
    let server = Server::start(&[programs::P3_HTTP_PROBE, "--memory", "32MiB"]);
    let (before, _) = count(&server, "/count");
    let (status, body) = get(&server.url("/oom"));
    assert_eq!(status, 500, "{body}");
    assert_eq!(body, "the component ran out of memory\n");
    let (after, n) = count(&server, "/count");
    assert_ne!(before, after, "a fresh instance after the memory cap");
    assert_eq!(n, 1);
    let logs = server.wait_for_log("instance retired");
    assert!(logs.contains("memory cap of 32MiB"), "{logs}");
}

#[test]
fn deadlines_are_per_request_under_reuse() {
    let server = Server::start(&[programs::P3_HTTP_PROBE, "--timeout", "1s"]);
    // A slow request times out on its own; a later one on the same instance keeps its own
    // deadline and succeeds.
    let slow = {
        let url = server.url("/sleep?ms=20000");
        std::thread::spawn(move || {
            let started = Instant::now();
            (get(&url), started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(600));
    let started = Instant::now();
    assert_eq!(
        get(&server.url("/sleep?ms=700")),
        (200, "slept 700".to_string()),
        "a request must not inherit another's deadline"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let ((status, _), took) = slow.join().unwrap();
    assert_eq!(status, 504);
    assert!(took < Duration::from_secs(5), "{took:?}");

    // A guest that spins is stopped at its deadline, and the next request is served.
    let started = Instant::now();
    let (status, body) = get(&server.url("/loop"));
    assert_eq!(status, 504, "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let (_, n) = count(&server, "/count");
    assert_eq!(n, 1, "a fresh instance after the spinning one was retired");
}

#[test]
fn outbound_requests_only_as_granted() {
    let (addr, hits) = upstream();
    let target = format!("/outbound?url=http://{addr}/x");
    let server = Server::start(&[programs::P3_HTTP_PROBE]);
    let (status, body) = get(&server.url(&target));
    assert_eq!((status, body.trim()), (502, "HTTP-request-denied"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "a denied request left the host"
    );
    drop(server);

    let server = Server::start(&[
        programs::P3_HTTP_PROBE,
        "--allow-outbound",
        "http://127.0.0.1:*",
    ]);
    let (status, body) = get(&server.url(&target));
    assert_eq!((status, body.as_str()), (200, "status 200\nupstream"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn echo_streams_both_ways_with_trailers() {
    let server = Server::start(&[programs::P3_HTTP_PROBE]);
    let rt = runtime();
    rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let (mut body_tx, body) =
            http_body_util::channel::Channel::<Bytes, std::convert::Infallible>::new(2);
        let request = hyper::Request::post("/echo")
            .header("host", "test")
            .header("te", "trailers")
            .header("trailer", "x-checksum")
            .body(body)
            .unwrap();
        let response = tokio::spawn(async move { sender.send_request(request).await });
        // The first chunk comes back before the rest is sent.
        body_tx
            .send_data(Bytes::from_static(b"first;"))
            .await
            .unwrap();
        let mut response = tokio::time::timeout(Duration::from_secs(20), response)
            .await
            .expect("response head before the body ended")
            .unwrap()
            .unwrap();
        assert_eq!(response.status(), 200);
        let frame = tokio::time::timeout(Duration::from_secs(20), response.body_mut().frame())
            .await
            .expect("the first chunk echoed while the request was still open")
            .unwrap()
            .unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from_static(b"first;"));

        let big: Vec<u8> = (0..8 * 1024 * 1024u32).map(|i| (i % 249) as u8).collect();
        let sent = big.clone();
        let writer = tokio::spawn(async move {
            for chunk in sent.chunks(128 * 1024) {
                body_tx
                    .send_data(Bytes::copy_from_slice(chunk))
                    .await
                    .unwrap();
            }
            let mut trailers = hyper::HeaderMap::new();
            trailers.insert("x-checksum", "abc123".parse().unwrap());
            body_tx.send_trailers(trailers).await.unwrap();
        });
        let mut echoed = Vec::new();
        let mut trailers = None;
        while let Some(frame) =
            tokio::time::timeout(Duration::from_secs(60), response.body_mut().frame())
                .await
                .expect("echo progresses")
        {
            let frame = frame.unwrap();
            match frame.into_data() {
                Ok(data) => echoed.extend_from_slice(&data),
                Err(frame) => trailers = frame.into_trailers().ok(),
            }
        }
        writer.await.unwrap();
        assert_eq!(echoed.len(), big.len());
        assert!(echoed == big, "echoed body differs");
        let trailers = trailers.expect("response trailers");
        assert_eq!(trailers["x-checksum"], "abc123");
    });
}
