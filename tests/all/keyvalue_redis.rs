//! wasi:keyvalue on the Redis backend, end to end, against a `redis-server` the test starts:
//! both drafts' conformance selftests, exact concurrent increments, isolation of two apps on
//! one Redis, and an app that outlives a Redis outage.

use std::path::Path;
use std::sync::Arc;

use crate::keyvalue::{both_drafts_with, check_concurrent_increments, check_conformance};
use crate::redis_server::RedisServer;
use crate::util::{Server, get};

/// An app with both conformance guests, granted bucket `default`, on the Redis at `url`.
fn both_drafts_on_redis(dir: &Path, name: &str, url: &str) -> Server {
    let storage = format!("data-dir = \"data\"\n\n[keyvalue]\ntype = \"redis\"\nurl = \"{url}\"");
    both_drafts_with(dir, name, &storage)
}

#[test]
fn both_drafts_pass_their_conformance_selftest_on_redis() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    check_conformance(&both_drafts_on_redis(
        dir.path(),
        "conformance",
        &redis.url(),
    ));
    // Nothing was stored on disk: the data directory is never created.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn concurrent_increments_on_redis_are_exact() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_redis(dir.path(), "counter", &redis.url());
    check_concurrent_increments(Arc::new(server));
}

#[test]
fn two_apps_on_one_redis_do_not_share_keys() {
    let redis = RedisServer::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let app_one = both_drafts_on_redis(one.path(), "app-one", &redis.url());
    let app_two = both_drafts_on_redis(two.path(), "app-two", &redis.url());
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
    assert_eq!(redis.clients(), 2);
    // Grants still apply: a bucket the manifest does not list is denied.
    assert_eq!(
        get(&app_one.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );
}

#[test]
fn a_redis_outage_is_an_error_value_and_the_app_recovers() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_redis(dir.path(), "outage", &redis.url());
    assert_eq!(
        get(&server.url("/draft2/set?bucket=default&key=k&value=before")).0,
        200
    );

    redis.stop();
    for draft in ["draft", "draft2"] {
        let (status, body) = get(&server.url(&format!("/{draft}/get?bucket=default&key=k")));
        assert_eq!(status, 500, "{draft}: {body}");
        assert!(body.starts_with("error: other: "), "{draft}: {body}");
    }
    let logs = server.wait_for_log("wasi:keyvalue storage failure");
    assert!(logs.contains("wasi:keyvalue storage failure"), "{logs}");
    // The server itself is fine: a route without storage still answers.
    assert_eq!(
        get(&server.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );

    redis.restart(); // same port, empty data
    let start = std::time::Instant::now();
    loop {
        let (status, body) = get(&server.url("/draft2/set?bucket=default&key=k&value=after"));
        if status == 200 {
            break;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no recovery after Redis came back: {status} {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    for draft in ["draft", "draft2"] {
        assert_eq!(
            get(&server.url(&format!("/{draft}/get?bucket=default&key=k"))),
            (200, "after".into()),
            "{draft}"
        );
    }
}
