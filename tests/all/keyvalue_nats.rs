//! wasi:keyvalue on the NATS JetStream backend, end to end, against a `nats-server -js` the
//! test starts: both drafts' conformance selftests, exact concurrent increments, isolation of
//! two apps on one NATS, and an app that outlives a NATS outage.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::keyvalue::{both_drafts_with, check_concurrent_increments, check_conformance};
use crate::nats_server::NatsServer;
use crate::util::{Server, get};

/// An app with both conformance guests, granted bucket `default`, on the NATS at `url`.
fn both_drafts_on_nats(dir: &Path, name: &str, url: &str) -> Server {
    let storage = format!("data-dir = \"data\"\n\n[keyvalue]\ntype = \"nats\"\nurl = \"{url}\"");
    both_drafts_with(dir, name, &storage)
}

#[test]
fn both_drafts_pass_their_conformance_selftest_on_nats() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    check_conformance(&both_drafts_on_nats(dir.path(), "conformance", &nats.url()));
    // Nothing was stored on disk: the data directory is never created.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn concurrent_increments_on_nats_are_exact() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_nats(dir.path(), "counter", &nats.url());
    check_concurrent_increments(Arc::new(server));
}

#[test]
fn two_apps_on_one_nats_do_not_share_keys() {
    let nats = NatsServer::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let app_one = both_drafts_on_nats(one.path(), "app-one", &nats.url());
    let app_two = both_drafts_on_nats(two.path(), "app-two", &nats.url());
    assert_eq!(
        get(&app_one.url("/draft/set?bucket=default&key=k&value=one")).0,
        200
    );
    assert_eq!(
        get(&app_two.url("/draft2/get?bucket=default&key=k")),
        (404, "none".into())
    );
    assert_eq!(
        get(&app_two.url("/draft2/set?bucket=default&key=k&value=two")).0,
        200
    );
    assert_eq!(
        get(&app_one.url("/draft/get?bucket=default&key=k")),
        (200, "one".into())
    );
    // Two apps of two components each, in two processes, all four components having used
    // the store: one connection per process.
    assert_eq!(
        get(&app_one.url("/draft2/get?bucket=default&key=k")),
        (200, "one".into())
    );
    assert_eq!(
        get(&app_two.url("/draft/get?bucket=default&key=k")),
        (200, "two".into())
    );
    assert_eq!(nats.connections(), 2);
    assert_eq!(
        get(&app_one.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );
}

#[test]
fn a_nats_outage_is_an_error_value_and_the_app_recovers() {
    let mut nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_nats(dir.path(), "outage", &nats.url());
    assert_eq!(
        get(&server.url("/draft2/set?bucket=default&key=k&value=before")).0,
        200
    );

    nats.stop();
    for draft in ["draft", "draft2"] {
        let started = Instant::now();
        let (status, body) = get(&server.url(&format!("/{draft}/get?bucket=default&key=k")));
        assert_eq!(status, 500, "{draft}: {body}");
        assert!(body.starts_with("error: other: "), "{draft}: {body}");
        // Fails fast (the client knows it is disconnected), well within a request deadline.
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
    let logs = server.wait_for_log("wasi:keyvalue storage failure");
    assert!(logs.contains("wasi:keyvalue storage failure"), "{logs}");
    assert_eq!(
        get(&server.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );

    nats.restart(); // same port, same JetStream data
    let start = Instant::now();
    loop {
        let (status, body) = get(&server.url("/draft/get?bucket=default&key=k"));
        if status == 200 {
            assert_eq!(body, "before", "the data written before the outage");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery after NATS came back: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        get(&server.url("/draft2/set?bucket=default&key=k&value=after")).0,
        200
    );
    assert_eq!(
        get(&server.url("/draft/get?bucket=default&key=k")),
        (200, "after".into())
    );
}
