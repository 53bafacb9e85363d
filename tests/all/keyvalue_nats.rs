//! wasi:keyvalue on the NATS JetStream backend, end to end, against a `nats-server -js` the
//! test starts: both drafts' conformance selftests, exact concurrent increments, isolation of
//! two apps on one NATS, and an app that outlives a NATS outage.

use std::path::Path;
use std::sync::Arc;

use crate::keyvalue::{
    both_drafts_with, check_concurrent_increments, check_conformance, check_outage_and_recovery,
    check_two_apps_apart,
};
use crate::nats_server::NatsServer;
use crate::util::Server;

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
    check_two_apps_apart(&app_one, &app_two);
    // Two apps of two components each, in two processes, all four having used the store:
    // one connection per process.
    assert_eq!(nats.connections(), 2);
}

#[test]
fn a_nats_outage_is_an_error_value_and_the_app_recovers() {
    let nats = std::cell::RefCell::new(NatsServer::start());
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts_on_nats(dir.path(), "outage", &nats.borrow().url());
    check_outage_and_recovery(
        &server,
        || nats.borrow_mut().stop(),
        || nats.borrow_mut().restart(), // same port, same JetStream data
        (200, "before"),
    );
}
