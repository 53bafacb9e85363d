//! wasi:blobstore on the embedded backend, end to end: the conformance selftest, objects
//! streamed in and out, grants and bad identifiers, isolation between apps, and durability
//! across a `kill -9`.

use std::path::Path;
use std::time::Duration;

use manifold_test_programs as programs;

use crate::util::{Server, agent, get, manifold, stdout};

/// An app named `name` whose component `blob` (on `/blob`) is granted containers `a` and `b`,
/// storing in `data`.
fn app(dir: &Path, name: &str, data: &Path) -> Server {
    std::fs::write(
        dir.join("manifold.toml"),
        format!(
            r#"
name = "{name}"
data-dir = "{data}"

[component.blob]
source = "{probe}"
route = "/blob"
blobstore = ["a", "b"]

[component.nothing]
source = "{probe}"
route = "/nothing"
"#,
            data = data.display(),
            probe = programs::BLOB_PROBE,
        ),
    )
    .unwrap();
    Server::start_in(&[], Some(dir))
}

/// PUTs `body` as object `name` of container `a`: the status and the response.
pub(crate) fn put(server: &Server, name: &str, body: &[u8]) -> (u16, String) {
    let url = server.url(&format!("/blob/put?container=a&name={name}"));
    match agent().put(&url).send_bytes(body) {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("PUT {url}: {e}"),
    }
}

/// GETs object `name` of container `a` as bytes.
pub(crate) fn fetch(server: &Server, name: &str) -> (u16, Vec<u8>) {
    let url = server.url(&format!("/blob/get?container=a&name={name}"));
    let response = match agent().get(&url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {url}: {e}"),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    (status, bytes)
}

/// The content of object `i` of the durability test: its own, and long enough (about 512 KiB,
/// dozens of writes) that a kill is likely to land while one is being written.
fn content(i: usize) -> Vec<u8> {
    let line = format!("object {i} ");
    line.bytes().cycle().take(512 * 1024 + i % 1000).collect()
}

#[test]
fn the_conformance_selftest_passes_and_can_run_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = app(dir.path(), "conformance", &dir.path().join("data"));
    for _ in 0..2 {
        let (status, body) = get(&server.url("/blob/selftest?a=a&b=b"));
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with("pass"), "{body}");
        assert!(body.lines().count() > 80, "every check ran: {body}");
    }
}

#[test]
fn large_objects_stream_in_and_out_intact() {
    let dir = tempfile::tempdir().unwrap();
    let server = app(dir.path(), "large", &dir.path().join("data"));
    let big: Vec<u8> = (0..5 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    assert_eq!(
        put(&server, "big.bin", &big),
        (200, format!("ok {}", big.len()))
    );
    let (status, got) = fetch(&server, "big.bin");
    assert_eq!(status, 200);
    assert!(
        got == big,
        "5 MiB came back with {} bytes, not intact",
        got.len()
    );
    assert_eq!(
        get(&server.url("/blob/info?container=a&name=big.bin")),
        (200, format!("big.bin {}", big.len()))
    );
    // Replaced whole: a shorter object leaves nothing of the longer one.
    assert_eq!(put(&server, "big.bin", b"small"), (200, "ok 5".into()));
    assert_eq!(fetch(&server, "big.bin"), (200, b"small".to_vec()));
}

#[test]
fn the_blobstore_flag_grants_a_container() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(&[
        programs::BLOB_PROBE,
        "--blobstore",
        "a",
        "--data-dir",
        data.path().to_str().unwrap(),
    ]);
    assert_eq!(put(&server, "x", b"hello").0, 200);
    assert_eq!(fetch(&server, "x"), (200, b"hello".to_vec()));
    let (status, body) = get(&server.url("/blob/open?container=b"));
    assert_eq!(
        (status, body.as_str()),
        (
            500,
            "error: access denied: container `b` is not granted to this component"
        )
    );
}

#[test]
fn containers_are_denied_unless_granted_and_bad_identifiers_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = app(dir.path(), "grants", &data);
    let cases = [
        (
            "/blob/open?container=secret",
            "error: access denied: container `secret` is not granted to this component",
        ),
        ("/blob/create?container=secret", "error: access denied"),
        ("/nothing/create?container=a", "error: access denied"),
        (
            "/blob/open?container=..%2Fetc",
            "error: invalid container name",
        ),
        ("/blob/open?container=..", "error: invalid container name"),
        (
            "/blob/open?container=a%00b",
            "error: invalid container name",
        ),
    ];
    for (path, want) in cases {
        let (status, body) = get(&server.url(path));
        assert_eq!(status, 500, "{path}: {body}");
        assert!(body.starts_with(want), "{path}: {body}");
    }
    let long = "c".repeat(300);
    let (status, body) = get(&server.url(&format!("/blob/open?container={long}")));
    assert!(status == 500 && body.contains("the limit is 255"), "{body}");
    for name in [
        "..%2F..%2Fescaped",
        "%2Fetc%2Fpasswd",
        "a%2F..%2F..%2Fb",
        "nul%00",
        "a%5C..%5Cb",
    ] {
        let (status, body) = put(&server, name, b"x");
        assert_eq!(status, 500, "{name}: {body}");
        assert!(body.contains("invalid object name"), "{name}: {body}");
    }
    // Names that look like paths but are fine are stored inside the container.
    assert_eq!(put(&server, "dir%2Ffile", b"ok").0, 200);
    assert_eq!(put(&server, ".hidden", b"ok").0, 200);
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, ".hidden\ndir/file\n".into())
    );
    // Nothing escaped: the temp dir holds the manifest and the data directory, and the data
    // directory only the app's tree.
    let mut entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    entries.sort();
    assert_eq!(entries, ["data", "manifold.toml"]);
    let apps: Vec<_> = std::fs::read_dir(data.join("blobstore"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(apps, ["grants"]);
}

#[test]
fn a_component_granted_nothing_creates_no_storage() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "name = \"bare\"\ndata-dir = \"{}\"\n[component.blob]\nsource = \"{}\"\n",
            data.display(),
            programs::BLOB_PROBE
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    let (status, body) = get(&server.url("/exists?container=a"));
    assert!(status == 500 && body.contains("access denied"), "{body}");
    let (status, body) = put_at(&server, "/put?container=a&name=x");
    assert!(status == 500 && body.contains("access denied"), "{body}");
    assert!(
        !data.exists(),
        "no data directory for a component that uses no blobs"
    );
}

fn put_at(server: &Server, path: &str) -> (u16, String) {
    match agent().put(&server.url(path)).send_bytes(b"x") {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("PUT {path}: {e}"),
    }
}

#[test]
fn two_apps_with_the_same_container_name_do_not_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shared-data");
    let one = tempfile::tempdir().unwrap();
    let server = app(one.path(), "app-one", &data);
    assert_eq!(put(&server, "k", b"one").0, 200);
    drop(server);
    let two = tempfile::tempdir().unwrap();
    let server = app(two.path(), "app-two", &data);
    assert_eq!(
        get(&server.url("/blob/exists?container=a")),
        (200, "false".into()),
        "app-two does not see app-one's container"
    );
    assert_eq!(put(&server, "k", b"two").0, 200);
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, "k\n".into())
    );
    drop(server);
    let server = app(one.path(), "app-one", &data);
    assert_eq!(fetch(&server, "k"), (200, b"one".to_vec()));
}

#[test]
fn acknowledged_writes_survive_kill_9_and_no_partial_object_is_visible() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = app(dir.path(), "durable", &data);
    let base = server.url("/blob/put?container=a");
    // Two writers, so a kill is likely to land mid-write of one of them.
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let base = base.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout(Duration::from_secs(5))
                    .build();
                let mut acked = Vec::new();
                for i in (w..100_000).step_by(2) {
                    match agent
                        .put(&format!("{base}&name=k{i}"))
                        .send_bytes(&content(i))
                    {
                        Ok(r) if r.status() == 200 => acked.push(i),
                        _ => break,
                    }
                }
                acked
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2000));
    drop(server); // SIGKILL, mid-write
    let acked: Vec<usize> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(
        acked.len() > 10,
        "the writers got going ({} writes)",
        acked.len()
    );
    eprintln!("{} acknowledged writes before the kill", acked.len());

    let server = app(dir.path(), "durable", &data);
    for &i in &acked {
        let (status, bytes) = fetch(&server, &format!("k{i}"));
        assert_eq!(status, 200, "acknowledged write k{i} was lost");
        assert!(bytes == content(i), "acknowledged write k{i} is not intact");
    }
    // Every object there is whole, acknowledged or not.
    let (status, listing) = get(&server.url("/blob/list?container=a"));
    assert_eq!(status, 200);
    let listed: Vec<&str> = listing.lines().collect();
    assert!(listed.len() >= acked.len(), "{} listed", listed.len());
    for name in listed {
        let i: usize = name.trim_start_matches('k').parse().unwrap();
        let (_, bytes) = fetch(&server, name);
        assert!(
            bytes == content(i),
            "{name} is visible but not whole ({} bytes)",
            bytes.len()
        );
    }
    // What the kill left half-written was removed at start.
    let staging = data.join("blobstore").join("durable").join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

#[test]
fn providers_lists_the_blobstore_interfaces() {
    let out = manifold().args(["providers", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for interface in ["blobstore", "container", "types"] {
        let name = format!("wasi:blobstore/{interface}@0.2.0-draft");
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["interface"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not listed: {rows}"));
        assert_eq!(row["provider"], "blobstore");
        assert_eq!(row["selected"], true);
    }
    let text = stdout(&manifold().arg("providers").output().unwrap());
    assert!(
        text.contains("wasi:blobstore/container@0.2.0-draft"),
        "{text}"
    );
}

#[test]
fn a_storage_failure_is_the_guests_error_and_the_app_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = app(dir.path(), "failing", &data);
    assert_eq!(put(&server, "before", b"1").0, 200);
    // Break the store behind the server's back: its staging directory becomes a file.
    let staging = data.join("blobstore").join("failing").join("staging");
    std::fs::remove_dir(&staging).unwrap();
    std::fs::write(&staging, b"not a directory").unwrap();
    let (status, body) = put(&server, "during", b"2");
    assert_eq!(status, 500, "{body}");
    assert!(
        body.starts_with("error: "),
        "the guest got the error value: {body}"
    );
    let logs = server.wait_for_log("wasi:blobstore storage failure");
    assert!(logs.contains("wasi:blobstore storage failure"), "{logs}");
    // Reads still work, and the server still serves.
    assert_eq!(fetch(&server, "before"), (200, b"1".to_vec()));
    // Repaired, the same server writes again.
    std::fs::remove_file(&staging).unwrap();
    std::fs::create_dir(&staging).unwrap();
    assert_eq!(put(&server, "after", b"3").0, 200);
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, "after\nbefore\n".into())
    );
}
