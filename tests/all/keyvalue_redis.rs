//! wasi:keyvalue on the Redis backend, end to end, against a `redis-server` the test starts:
//! both drafts' conformance selftests, exact concurrent increments, isolation of two apps on
//! one Redis, and an app that outlives a Redis outage.

use std::path::Path;
use std::sync::Arc;

use crate::keyvalue::{
    both_drafts_with, check_concurrent_increments, check_conformance, check_outage_and_recovery,
    check_two_apps_apart,
};
use crate::redis_server::RedisServer;
use crate::util::Server;

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
    check_two_apps_apart(&app_one, &app_two);
    // Two apps of two components each, in two processes, all four having used the store:
    // one connection per process.
    assert_eq!(redis.clients(), 2);
}

#[test]
fn a_redis_outage_is_an_error_value_and_the_app_recovers() {
    let redis = std::cell::RefCell::new(RedisServer::start());
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_redis(dir.path(), "outage", &redis.borrow().url());
    check_outage_and_recovery(
        &server,
        || redis.borrow_mut().stop(),
        || redis.borrow_mut().restart(), // same port, empty data
        (404, "none"),
    );
}
