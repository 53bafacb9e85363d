//! wasi:keyvalue on the embedded backend, end to end: both drafts side by side, atomic
//! increments under concurrent requests, grants, isolation between apps, and durability
//! across a `kill -9`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use manifold_test_programs as programs;

use crate::util::{Server, agent, get};

/// An app with both conformance guests, granted bucket `default`, storing in `data`.
fn both_drafts(dir: &Path, name: &str, data: &Path) -> Server {
    both_drafts_with(dir, name, &format!("data-dir = \"{}\"", data.display()))
}

/// An app named `name` with both conformance guests, granted bucket `default`; `storage` is
/// the manifest's top-level text that says where the buckets live.
pub fn both_drafts_with(dir: &Path, name: &str, storage: &str) -> Server {
    std::fs::write(
        dir.join("manifold.toml"),
        format!(
            r#"
name = "{name}"
{storage}

[component.draft]
source = "{draft}"
route = "/draft"
keyvalue = ["default"]

[component.draft2]
source = "{draft2}"
route = "/draft2"
keyvalue = ["default"]
"#,
            draft = programs::KV_DRAFT,
            draft2 = programs::KV_DRAFT2
        ),
    )
    .unwrap();
    Server::start_in(&[], Some(dir))
}

/// Both drafts' selftests pass, see each other's data, and draft2's CAS retry behaves.
pub fn check_conformance(server: &Server) {
    for draft in ["draft", "draft2"] {
        let (status, body) = get(&server.url(&format!("/{draft}/selftest?bucket=default")));
        assert_eq!(status, 200, "{draft}: {body}");
        assert!(body.starts_with("pass"), "{draft}: {body}");
    }
    // Both drafts see the same bucket.
    assert_eq!(
        get(&server.url("/draft/set?bucket=default&key=shared&value=v1")).0,
        200
    );
    assert_eq!(
        get(&server.url("/draft2/get?bucket=default&key=shared")),
        (200, "v1".into())
    );
    // draft2's compare-and-swap retry sequence behaves as its WIT says.
    let (status, body) = get(&server.url("/draft2/cas-conflict?bucket=default&key=c"));
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("swap=cas-failed") && body.contains("get=3"),
        "{body}"
    );
}

/// 100 increments from concurrent requests of both drafts give exactly 100.
pub fn check_concurrent_increments(server: Arc<Server>) {
    let mut threads = Vec::new();
    for t in 0..4 {
        let server = server.clone();
        threads.push(std::thread::spawn(move || {
            let draft = if t % 2 == 0 { "draft" } else { "draft2" };
            let agent = agent();
            for _ in 0..25 {
                let r = agent
                    .get(&server.url(&format!("/{draft}/increment?bucket=default&key=n")))
                    .call();
                assert_eq!(r.map(|r| r.status()).unwrap_or(0), 200);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        get(&server.url("/draft/get?bucket=default&key=n")),
        (200, "100".into())
    );
}

/// Two apps on one shared store (Redis, NATS): neither sees the other's keys, and grants still
/// apply. When it returns, every component of both apps has used the store.
pub fn check_two_apps_apart(app_one: &Server, app_two: &Server) {
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
    for (app, draft, value) in [
        (app_one, "draft", "one"),
        (app_one, "draft2", "one"),
        (app_two, "draft", "two"),
    ] {
        assert_eq!(
            get(&app.url(&format!("/{draft}/get?bucket=default&key=k"))),
            (200, value.into()),
            "{draft}"
        );
    }
    assert_eq!(
        get(&app_one.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );
}

/// The store behind `server` goes down (`stop`): calls of both drafts are `error::other`,
/// quickly, with a log line, and the server still answers; after `restart` the app recovers
/// and key `k` (set to `before` ahead of the outage) reads as `after_restart`, then can be
/// written again.
pub fn check_outage_and_recovery(
    server: &Server,
    stop: impl FnOnce(),
    restart: impl FnOnce(),
    after_restart: (u16, &str),
) {
    assert_eq!(
        get(&server.url("/draft2/set?bucket=default&key=k&value=before")).0,
        200
    );
    stop();
    for draft in ["draft", "draft2"] {
        let started = std::time::Instant::now();
        let (status, body) = get(&server.url(&format!("/{draft}/get?bucket=default&key=k")));
        assert_eq!(status, 500, "{draft}: {body}");
        assert!(body.starts_with("error: other: "), "{draft}: {body}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{draft}: the failure took {:?}",
            started.elapsed()
        );
    }
    let logs = server.wait_for_log("wasi:keyvalue storage failure");
    assert!(logs.contains("wasi:keyvalue storage failure"), "{logs}");
    // The server itself is fine: a route without storage still answers.
    assert_eq!(
        get(&server.url("/draft/open?bucket=secret")),
        (500, "error: access-denied".into())
    );

    restart();
    let start = std::time::Instant::now();
    let found = loop {
        let (status, body) = get(&server.url("/draft/get?bucket=default&key=k"));
        if status != 500 {
            break (status, body);
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no recovery after the store came back: {status} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(found, (after_restart.0, after_restart.1.to_owned()));
    assert_eq!(
        get(&server.url("/draft2/set?bucket=default&key=k&value=after")).0,
        200
    );
    for draft in ["draft", "draft2"] {
        assert_eq!(
            get(&server.url(&format!("/{draft}/get?bucket=default&key=k"))),
            (200, "after".into()),
            "{draft}"
        );
    }
}

#[test]
fn both_drafts_pass_their_conformance_selftest_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    check_conformance(&both_drafts(
        dir.path(),
        "conformance",
        &dir.path().join("data"),
    ));
}

#[test]
fn concurrent_increments_from_both_drafts_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts(dir.path(), "counter", &dir.path().join("data"));
    check_concurrent_increments(Arc::new(server));
}

#[test]
fn buckets_are_denied_unless_granted_and_bad_names_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts(dir.path(), "grants", &dir.path().join("data"));
    for draft in ["draft", "draft2"] {
        let (status, body) = get(&server.url(&format!("/{draft}/open?bucket=secret")));
        assert_eq!(
            (status, body.as_str()),
            (500, "error: access-denied"),
            "{draft}"
        );
        let (status, body) = get(&server.url(&format!("/{draft}/open?bucket=..%2Fetc")));
        assert_eq!(
            (status, body.as_str()),
            (500, "error: no-such-store"),
            "{draft}"
        );
    }
    let long = "b".repeat(300);
    let (status, _) = get(&server.url(&format!("/draft/open?bucket={long}")));
    assert_eq!(status, 500);
    // Nothing escaped the data directory.
    let entries: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries.len(),
        2,
        "only manifold.toml and data/: {entries:?}"
    );
}

#[test]
fn two_apps_with_the_same_bucket_name_do_not_share_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shared-data");
    let one = tempfile::tempdir().unwrap();
    let server = both_drafts(one.path(), "app-one", &data);
    assert_eq!(
        get(&server.url("/draft/set?bucket=default&key=k&value=one")).0,
        200
    );
    drop(server);
    let two = tempfile::tempdir().unwrap();
    let server = both_drafts(two.path(), "app-two", &data);
    assert_eq!(
        get(&server.url("/draft/get?bucket=default&key=k")),
        (404, "none".into())
    );
    assert_eq!(
        get(&server.url("/draft/set?bucket=default&key=k&value=two")).0,
        200
    );
    drop(server);
    let server = both_drafts(one.path(), "app-one", &data);
    assert_eq!(
        get(&server.url("/draft/get?bucket=default&key=k")),
        (200, "one".into())
    );
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = both_drafts(dir.path(), "durable", &data);
    let base = server.url("/draft2/set?bucket=default");
    let writer = std::thread::spawn(move || {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(5))
            .build();
        let mut acked = Vec::new();
        for i in 0..100_000 {
            match agent.get(&format!("{base}&key=k{i}&value=v{i}")).call() {
                Ok(r) if r.status() == 200 => acked.push(i),
                _ => break,
            }
        }
        acked
    });
    std::thread::sleep(Duration::from_millis(1500));
    drop(server); // SIGKILL, mid-write
    let acked = writer.join().unwrap();
    assert!(
        acked.len() > 10,
        "the writer got going ({} writes)",
        acked.len()
    );

    let server = both_drafts(dir.path(), "durable", &data);
    let agent = agent();
    for i in acked {
        let r = agent
            .get(&server.url(&format!("/draft2/get?bucket=default&key=k{i}")))
            .call();
        let body = r
            .map(|r| r.into_string().unwrap())
            .unwrap_or_else(|e| format!("{e}"));
        assert_eq!(body, format!("v{i}"), "acknowledged write k{i} was lost");
    }
}

#[test]
fn the_counter_example_counts_visits_with_no_setup() {
    let data = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/counter");
    let server = Server::start(&[example, "--data-dir", data.path().to_str().unwrap()]);
    assert_eq!(
        get(&server.url("/hello")),
        (200, "/hello has been visited 1 time\n".into())
    );
    assert_eq!(
        get(&server.url("/hello?x=1")),
        (200, "/hello has been visited 2 times\n".into())
    );
    assert_eq!(
        get(&server.url("/other")),
        (200, "/other has been visited 1 time\n".into())
    );
}

#[test]
fn the_bench_route_times_gets_and_sets_in_the_guest() {
    let dir = tempfile::tempdir().unwrap();
    let server = both_drafts(dir.path(), "bench", &dir.path().join("data"));
    for draft in ["draft", "draft2"] {
        for op in ["set", "get"] {
            let (status, body) = get(&server.url(&format!(
                "/{draft}/bench?bucket=default&key=b&op={op}&n=50&size=8"
            )));
            assert_eq!(status, 200, "{draft} {op}: {body}");
            let nanos: u64 = body.parse().unwrap_or_else(|_| panic!("{body:?}"));
            assert!(nanos > 0, "{draft} {op}");
        }
    }
    assert_eq!(
        get(&server.url("/draft/get?bucket=default&key=b")),
        (200, "xxxxxxxx".into())
    );
    let (status, body) = get(&server.url("/draft/bench?bucket=default&key=b&op=scan&n=1"));
    assert_eq!(status, 400, "{body}");
}

/// Without a manifest an app is named after its file and a hash of its full path, so two
/// files of the same name in different directories are different apps (issue 13, item 6);
/// `--name` makes them one on purpose.
#[test]
fn same_file_name_in_two_directories_is_two_apps() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data = data.to_str().unwrap();
    let mut paths = Vec::new();
    for dir in ["x", "prod"] {
        let dir = root.path().join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("api.wasm");
        std::fs::copy(programs::KV_DRAFT2, &path).unwrap();
        paths.push(path);
    }
    let serve = |path: &Path, extra: &[&str]| {
        let mut args = vec![path.to_str().unwrap(), "--keyvalue", "default"];
        args.extend_from_slice(extra);
        Server::start_with_env(&args, None, &[("MANIFOLD_DATA_DIR", data)])
    };
    let one = serve(&paths[0], &[]);
    assert_eq!(
        get(&one.url("/set?bucket=default&key=secret&value=one")).0,
        200
    );
    let two = serve(&paths[1], &[]);
    assert_eq!(
        get(&two.url("/get?bucket=default&key=secret")),
        (404, "none".into()),
        "an unrelated app of the same file name sees the first one's data"
    );
    drop(one);
    drop(two);
    // The same data is shared when both are given one name.
    let a = serve(&paths[0], &["--name", "shared-api"]);
    assert_eq!(get(&a.url("/set?bucket=default&key=k&value=v")).0, 200);
    drop(a);
    let b = serve(&paths[1], &["--name", "shared-api"]);
    assert_eq!(get(&b.url("/get?bucket=default&key=k")), (200, "v".into()));
    drop(b);
    // A name that is not one safe path segment is refused before anything starts.
    let out = crate::util::run(&["--name", "../../x", paths[0].to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        crate::util::stderr(&out).contains("app name"),
        "{}",
        crate::util::stderr(&out)
    );
}
