//! The embedded stores' guards, end to end: one process per data directory (a second is
//! refused and touches nothing), `max-object-size` and the app's `blob-quota`, each refusal the
//! interface's error with what was stored before left whole.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use manifold_test_programs as programs;

use crate::blobstore::{fetch, put};
use crate::util::{Server, get, manifold};

/// The app `name` of `blobstore.rs` (component `blob` on `/blob`, granted container `a`), with
/// `limits` as its `[limits]` table and `args` on the command line.
fn app_with(dir: &Path, name: &str, data: &Path, limits: &str, args: &[&str]) -> Server {
    std::fs::write(dir.join("manifold.toml"), manifest(name, data, limits)).unwrap();
    Server::start_in(args, Some(dir))
}

fn manifest(name: &str, data: &Path, limits: &str) -> String {
    format!(
        "name = \"{name}\"\ndata-dir = \"{data}\"\n\n[limits]\n{limits}\n\n\
         [component.blob]\nsource = \"{probe}\"\nroute = \"/blob\"\nblobstore = [\"a\"]\n",
        data = data.display(),
        probe = programs::BLOB_PROBE,
    )
}

/// Runs `manifold serve` in `dir` to its exit (at most 60 s): its status and stderr.
fn serve_to_exit(dir: &Path) -> (Option<i32>, String) {
    let mut child = manifold()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second `manifold serve` on the same data directory kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_second_process_on_the_data_directory_is_refused_and_the_first_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = app_with(dir.path(), "owner", &data, "", &[]);
    assert_eq!(put(&first, "kept", b"mine"), (200, "ok 4".into()));
    // As if the first process were writing an object right now.
    let in_flight = data
        .join("blobstore")
        .join("owner")
        .join("staging")
        .join("object-in-flight");
    std::fs::write(&in_flight, b"half").unwrap();

    let (code, stderr) = serve_to_exit(dir.path());
    assert_ne!(code, Some(0), "{stderr}");
    let want = format!(
        "the data directory {} is in use by another process (pid {})",
        data.canonicalize().unwrap().display(),
        first.pid()
    );
    assert!(stderr.contains(&want), "want {want:?} in:\n{stderr}");
    assert!(
        in_flight.exists(),
        "the second process emptied the first's staging/"
    );
    assert_eq!(fetch(&first, "kept"), (200, b"mine".to_vec()));
    assert_eq!(put(&first, "more", b"still mine").0, 200);

    // `kill -9` releases the lock with the process: the next one starts.
    drop(first);
    let next = app_with(dir.path(), "owner", &data, "", &[]);
    assert_eq!(fetch(&next, "kept"), (200, b"mine".to_vec()));
    assert!(
        !in_flight.exists(),
        "a crash's leftovers are removed at start"
    );
}

#[test]
fn an_object_over_max_object_size_is_refused_and_earlier_objects_survive() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = app_with(
        dir.path(),
        "capped",
        &data,
        "max-object-size = \"1KiB\"",
        &[],
    );
    let fits = vec![b'a'; 1024];
    assert_eq!(put(&server, "x", &fits), (200, "ok 1024".into()));
    // One byte over, replacing `x`; and far over, new: both refused while streaming.
    for (name, len) in [("x", 1025), ("big", 256 * 1024)] {
        let (status, body) = put(&server, name, &vec![b'b'; len]);
        assert_eq!(status, 500, "{name}: {body}");
        assert!(
            body.starts_with(
                "error: the object is larger than the app's max-object-size of 1024 bytes; \
                 nothing was stored"
            ),
            "the interface's error from finish: {body}"
        );
    }
    assert_eq!(fetch(&server, "x"), (200, fits));
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, "x\n".into())
    );
    let staging = data.join("blobstore").join("capped").join("staging");
    assert_eq!(std::fs::read_dir(staging).unwrap().count(), 0);
}

#[test]
fn a_full_quota_refuses_writes_until_a_delete_makes_room() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let start = || app_with(dir.path(), "quota", &data, "", &["--blob-quota", "4KiB"]);
    let server = start();
    assert_eq!(put(&server, "a", &[1; 3000]).0, 200);
    // An overwrite frees what it replaces: 1000 + 3000 fit.
    assert_eq!(put(&server, "a", &[2; 1000]).0, 200);
    assert_eq!(put(&server, "b", &[3; 3000]).0, 200);
    let full = |server: &Server| {
        let (status, body) = put(server, "c", &[4; 200]);
        assert_eq!(status, 500, "{body}");
        assert!(
            body.starts_with("error: the app's blob storage quota of 4096 bytes is used up"),
            "the interface's error from finish: {body}"
        );
    };
    full(&server);
    // Counted again at start, from the files.
    drop(server);
    let server = start();
    full(&server);
    assert_eq!(fetch(&server, "a"), (200, vec![2; 1000]));
    assert_eq!(
        get(&server.url("/blob/delete?container=a&name=b")),
        (200, "ok".into())
    );
    assert_eq!(put(&server, "c", &[4; 200]), (200, "ok 200".into()));
    assert_eq!(
        get(&server.url("/blob/list?container=a")),
        (200, "a\nc\n".into())
    );
    let logs = server.wait_for_log("blob-quota is used up");
    assert!(logs.contains("blob-quota is used up"), "{logs}");
}
