//! wasi:blobstore on the NATS JetStream backend, end to end, against a `nats-server -js` the
//! test starts: the conformance selftest, large objects streamed both ways, isolation of two
//! apps on one NATS, and an app that outlives a NATS outage.

use std::path::Path;
use std::time::{Duration, Instant};

use manifold_test_programs as programs;

use crate::blobstore::{fetch, put};
use crate::nats_server::NatsServer;
use crate::util::{Server, get};

/// An app named `name` whose component `blob` (on `/blob`) is granted containers `a` and `b`
/// on the NATS at `url`.
fn app_on_nats(dir: &Path, name: &str, url: &str) -> Server {
    std::fs::write(
        dir.join("manifold.toml"),
        format!(
            r#"
name = "{name}"
data-dir = "data"

[blobstore]
type = "nats"
url = "{url}"

[component.blob]
source = "{probe}"
route = "/blob"
blobstore = ["a", "b"]
"#,
            probe = programs::BLOB_PROBE,
        ),
    )
    .unwrap();
    Server::start_in(&[], Some(dir))
}

#[test]
fn the_conformance_selftest_passes_on_nats_and_can_run_again() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = app_on_nats(dir.path(), "conformance", &nats.url());
    for _ in 0..2 {
        let (status, body) = get(&server.url("/blob/selftest?a=a&b=b"));
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("pass"), "{body}");
        assert!(body.lines().count() > 80, "every check ran: {body}");
    }
    // Nothing was stored on disk: the data directory is never created.
    assert!(!dir.path().join("data").exists());
}

#[test]
fn large_objects_stream_through_nats_intact() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = app_on_nats(dir.path(), "large", &nats.url());
    // Forty-odd chunks of 128 KiB, the last one partial.
    let big: Vec<u8> = (0..5 * 1024 * 1024 + 77u32)
        .map(|i| (i % 253) as u8)
        .collect();
    assert_eq!(
        put(&server, "big.bin", &big),
        (200, format!("ok {}", big.len()))
    );
    let (status, got) = fetch(&server, "big.bin");
    assert_eq!(status, 200);
    assert!(got == big, "{} bytes came back, not intact", got.len());
    assert_eq!(
        get(&server.url("/blob/info?container=a&name=big.bin")),
        (200, format!("big.bin {}", big.len()))
    );
    assert_eq!(put(&server, "big.bin", b"small"), (200, "ok 5".into()));
    assert_eq!(fetch(&server, "big.bin"), (200, b"small".to_vec()));
}

#[test]
fn two_apps_on_one_nats_do_not_see_each_other() {
    let nats = NatsServer::start();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let app_one = app_on_nats(one.path(), "app-one", &nats.url());
    let app_two = app_on_nats(two.path(), "app-two", &nats.url());
    assert_eq!(put(&app_one, "k", b"one").0, 200);
    assert_eq!(
        get(&app_two.url("/blob/exists?container=a")),
        (200, "false".into()),
        "app-two does not see app-one's container"
    );
    assert_eq!(put(&app_two, "k", b"two").0, 200);
    assert_eq!(put(&app_two, "only-two", b"2").0, 200);
    assert_eq!(fetch(&app_one, "k"), (200, b"one".to_vec()));
    assert_eq!(fetch(&app_two, "k"), (200, b"two".to_vec()));
    assert_eq!(
        get(&app_one.url("/blob/list?container=a")),
        (200, "k\n".into())
    );
    assert_eq!(
        get(&app_two.url("/blob/list?container=a")),
        (200, "k\nonly-two\n".into())
    );
    // One blobstore connection per process.
    assert_eq!(nats.connections(), 2);
}

#[test]
fn a_nats_outage_is_the_guests_error_and_the_app_recovers() {
    let mut nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = app_on_nats(dir.path(), "outage", &nats.url());
    assert_eq!(put(&server, "before", b"1").0, 200);
    nats.stop();
    // The client notices the lost connection within moments; from then on, errors.
    let start = Instant::now();
    let (status, body) = loop {
        let (status, body) = put(&server, "during", b"2");
        if status != 200 || start.elapsed() > Duration::from_secs(10) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, 500, "{body}");
    assert!(
        body.starts_with("error: "),
        "the guest got the error value: {body}"
    );
    let (status, body) = get(&server.url("/blob/get?container=a&name=before"));
    assert!(status == 500 && body.starts_with("error: "), "{body}");
    let logs = server.wait_for_log("wasi:blobstore storage failure");
    assert!(logs.contains("wasi:blobstore storage failure"), "{logs}");
    assert!(logs.contains("NATS"), "the log says what failed: {logs}");

    nats.restart(); // same port, same JetStream data
    let start = Instant::now();
    while put(&server, "after", b"3").0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the app did not recover"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(fetch(&server, "before"), (200, b"1".to_vec()));
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, "after\nbefore\n".into())
    );
}
