//! RPC plugins end to end, with the Python plugin of `examples/plugins/python` (standard
//! library only) and small misbehaving Python plugins written by the tests:
//!
//! - the conformance guest passes with the plugin started by the host on a Unix socket and
//!   on TCP, and against a plugin the test started itself;
//! - faults under `manifold serve`: `kill -9` under load (in-flight calls fail, the plugin is
//!   restarted, later calls succeed), a plugin writing garbage, one that hangs (the call
//!   deadline), a missing program, and handles from before a restart;
//! - a Unix address that names a regular file is refused at load, and the file is kept;
//! - an answer beyond the plugin's `max-answer` fails that call only;
//! - connections dialed ahead that the plugin closed are never used for a call;
//! - rlimits: read back from `/proc/PID/limits` of the started plugin, and a plugin beyond its
//!   address-space limit dies, is reported and restarted while the host serves on.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use manifold_test_programs as programs;

use crate::plugins::{assert_conformance, conformance_manifest, run_conformance};
use crate::util::{Server, get, manifold, stderr};

fn python_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/python")
}

fn conformance_plugin() -> String {
    python_dir()
        .join("conformance_plugin.py")
        .display()
        .to_string()
}

fn conformance_wit() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/test-programs/wit/conformance.wit")
        .display()
        .to_string()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A manifest in `dir` running `component` with `[plugins.py]` (the body given) serving
/// the conformance interface.
fn write_manifest(dir: &Path, component: &str, plugin: &str) {
    let manifest = format!(
        r#"name = "plugins-rpc"

[component.app]
source = "{component}"
route = "/"

[plugins.py]
kind = "rpc"
wit = "{wit}"
{plugin}

[providers."manifold:conformance/types"]
kind = "rpc"
name = "py"
"#,
        wit = conformance_wit()
    );
    std::fs::write(dir.join("manifold.toml"), manifest).unwrap();
}

/// The conformance manifest (`plugins.rs`) with `[plugins.py]` (the body given) chosen for
/// the conformance interface, so the built-in reference does not serve it.
fn write_conformance_manifest(dir: &Path, plugin: &str) {
    let extra = format!(
        "[plugins.py]\nkind = \"rpc\"\nwit = {wit:?}\n{plugin}\n\n[providers.\"manifold:conformance/types\"]\nkind = \"rpc\"\nname = \"py\"\n",
        wit = conformance_wit()
    );
    std::fs::write(dir.join("manifold.toml"), conformance_manifest(&extra)).unwrap();
}

/// Runs the conformance guest against `[plugins.py]` and checks that every check passed.
fn check_conformance(plugin: &str) {
    let dir = tempfile::tempdir().unwrap();
    write_conformance_manifest(dir.path(), plugin);
    assert_conformance(&run_conformance(dir.path()), plugin);
}

#[test]
fn python_plugin_passes_conformance_over_a_unix_socket() {
    check_conformance(&format!(
        "command = [\"python3\", \"{}\"]",
        conformance_plugin()
    ));
}

#[test]
fn python_plugin_passes_conformance_over_tcp() {
    check_conformance(&format!(
        "command = [\"python3\", \"{}\"]\naddress = \"tcp:127.0.0.1:{}\"",
        conformance_plugin(),
        free_port()
    ));
}

/// A Python plugin the test runs itself, killed on drop.
struct PythonPlugin {
    child: Child,
}

impl PythonPlugin {
    /// Starts `script` listening at `address` and waits until it accepts connections.
    fn start(script: &str, address: &str) -> PythonPlugin {
        let child = Command::new("python3")
            .arg(script)
            .env("MANIFOLD_PLUGIN_ADDRESS", address)
            .stdin(Stdio::null())
            .spawn()
            .expect("python3 (scripts/install-deps installs it)");
        let plugin = PythonPlugin { child };
        let start = Instant::now();
        loop {
            let up = match address.split_once(':') {
                Some(("unix", path)) => std::os::unix::net::UnixStream::connect(path).is_ok(),
                Some(("tcp", addr)) => std::net::TcpStream::connect(addr).is_ok(),
                _ => panic!("bad address {address}"),
            };
            if up {
                return plugin;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "the plugin did not listen on {address}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for PythonPlugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn python_plugin_already_running_passes_conformance_twice() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("conformance.sock");
    let unix = format!("unix:{}", socket.display());
    let on_unix = PythonPlugin::start(&conformance_plugin(), &unix);
    let tcp = format!("tcp:127.0.0.1:{}", free_port());
    let _on_tcp = PythonPlugin::start(&conformance_plugin(), &tcp);
    // Twice each: one process serves both runs, and the first run's counters were all
    // dropped (the guest checks live-counters against what was alive when it began).
    for address in [&unix, &tcp, &unix, &tcp] {
        check_conformance(&format!("address = \"{address}\""));
    }
    // The plugin, not the built-in reference, served those runs: without it, calls fail.
    drop(on_unix);
    let dir = tempfile::tempdir().unwrap();
    write_conformance_manifest(
        dir.path(),
        &format!("address = \"{unix}\"\ntimeout = \"2s\""),
    );
    let out = run_conformance(dir.path());
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("plugin `py` is unreachable"),
        "{}",
        stderr(&out)
    );
}

/// A `manifold serve` of the `plugin-http` guest with `[plugins.py]` as given.
fn serve_with_plugin(dir: &Path, plugin: &str) -> Server {
    write_manifest(dir, programs::PLUGIN_HTTP, plugin);
    Server::start_with_env(&[], Some(dir), &[("RUST_LOG", "info")])
}

/// A Python plugin script in `dir`: the conformance plugin with `overrides` (Python code
/// that may re-register functions on `c.server`).
fn conformance_variant(dir: &Path, name: &str, overrides: &str) -> String {
    let script = dir.join(name);
    std::fs::write(
        &script,
        format!(
            "import sys, time\nsys.path.insert(0, {python_dir:?})\nimport conformance_plugin as c\nfrom manifold_wrpc import U64\n\n{overrides}\n\nc.server.serve_forever()\n",
            python_dir = python_dir().display().to_string()
        ),
    )
    .unwrap();
    script.display().to_string()
}

/// The pids of the plugin processes the host reported ready, in order.
fn ready_pids(server: &Server) -> Vec<u32> {
    server
        .logs()
        .lines()
        .filter(|l| l.contains("plugin ready"))
        .filter_map(|l| {
            let at = l.find("pid=")? + "pid=".len();
            l[at..]
                .split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Waits until the host has reported `n` plugin starts; their pids.
fn wait_for_starts(server: &Server, n: usize) -> Vec<u32> {
    let start = Instant::now();
    loop {
        let pids = ready_pids(server);
        if pids.len() >= n {
            return pids;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "expected {n} plugin starts; logs:\n{}",
            server.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

#[test]
fn a_killed_plugin_fails_calls_in_flight_is_restarted_and_serves_again() {
    let dir = tempfile::tempdir().unwrap();
    // `inc(999)` takes 30 s, so calls are surely in flight when the plugin is killed; the
    // deadline (60 s) is far, so failing them is the host noticing the death.
    let script = conformance_variant(
        dir.path(),
        "slow_inc.py",
        "@c.server.func(c.TYPES, 'inc', [U64], [U64])\ndef inc(x):\n    if x == 999:\n        time.sleep(30)\n    return (x + 1) % 2**64",
    );
    let server = Arc::new(serve_with_plugin(
        dir.path(),
        &format!("command = [\"python3\", \"{script}\"]\ntimeout = \"60s\""),
    ));
    let first = wait_for_starts(&server, 1)[0];
    assert_eq!(get(&server.url("/inc?x=41")), (200, "42".into()));

    // A load of ordinary calls, and four that hang in the plugin.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for t in 0..6u64 {
        let (server, stop) = (server.clone(), stop.clone());
        load.push(std::thread::spawn(move || {
            let mut statuses = Vec::new();
            let mut i = t * 1_000_000;
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = get(&server.url(&format!("/inc?x={i}")));
                if status == 200 {
                    assert_eq!(body, (i + 1).to_string());
                } else {
                    assert!(status >= 500, "{status} {body}");
                }
                statuses.push(status);
                i += 1;
            }
            statuses
        }));
    }
    let mut stuck = Vec::new();
    for _ in 0..4 {
        let server = server.clone();
        stuck.push(std::thread::spawn(move || {
            let start = Instant::now();
            let answer = get(&server.url("/inc?x=999"));
            (answer, start.elapsed())
        }));
    }
    std::thread::sleep(Duration::from_millis(1000));
    kill_9(first);
    let killed_at = Instant::now();

    // The calls that were in flight fail, promptly: not at the deadline.
    for thread in stuck {
        let ((status, body), _) = thread.join().unwrap();
        assert!(status >= 500, "an in-flight call answered {status} {body}");
    }
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "in-flight calls took {:?} to fail",
        killed_at.elapsed()
    );
    let pids = wait_for_starts(&server, 2);
    assert_ne!(pids[1], first, "a new process");
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let mut statuses = Vec::new();
    for thread in load {
        statuses.extend(thread.join().unwrap());
    }
    assert!(
        statuses.iter().filter(|s| **s == 200).count() > 10,
        "{statuses:?}"
    );
    // After the restart, every call succeeds again.
    for i in 0..20u64 {
        assert_eq!(
            get(&server.url(&format!("/inc?x={i}"))),
            (200, (i + 1).to_string())
        );
    }
    let logs = server.wait_for_log("plugin exited (signal: 9 (SIGKILL)); restarting it");
    assert!(
        logs.contains("plugin exited (signal: 9 (SIGKILL)); restarting it"),
        "{logs}"
    );
    // The calls it died in say so, with how it ended, not "closed without answering".
    assert!(
        logs.contains("the plugin exited during the call (signal: 9 (SIGKILL))"),
        "{logs}"
    );
}

#[test]
fn handles_from_before_a_restart_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Arc::new(serve_with_plugin(
        dir.path(),
        &format!(
            "command = [\"python3\", \"{}\"]\ntimeout = \"10s\"",
            conformance_plugin()
        ),
    ));
    let first = wait_for_starts(&server, 1)[0];
    // Without a restart, a held handle works.
    assert_eq!(get(&server.url("/hold?ms=10")), (200, "8".into()));

    let holder = {
        let server = server.clone();
        std::thread::spawn(move || get(&server.url("/hold?ms=3000")))
    };
    std::thread::sleep(Duration::from_millis(1000)); // the guest holds its counter by now
    kill_9(first);
    wait_for_starts(&server, 2);
    let (status, body) = holder.join().unwrap();
    assert!(status >= 500, "{status} {body}");
    let logs = server.wait_for_log("from before plugin `py` restarted");
    assert!(
        logs.contains("this `counter` handle is from before plugin `py` restarted"),
        "{logs}"
    );
    // New handles work.
    assert_eq!(get(&server.url("/hold?ms=10")), (200, "8".into()));
}

#[test]
fn a_plugin_writing_garbage_fails_its_calls_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("garbage.py");
    // Reads the call, `inc(x)`, and answers with garbage number x % 5: bytes that are not
    // framing, a frame on a path nobody asked for (both: the host restarts the plugin), a
    // valid frame holding an over-long integer, a frame announcing more bytes than it sends,
    // and a frame with two values where one is due (bad values: only the call fails).
    std::fs::write(
        &script,
        r#"
import os, socket
address = os.environ["MANIFOLD_PLUGIN_ADDRESS"]
assert address.startswith("unix:")
path = address[len("unix:"):]
listener = socket.socket(socket.AF_UNIX)
listener.bind(path)
listener.listen(16)
garbage = [
    b"\xde\xad\xbe\xef" * 16,
    b"\x01\x05\x02hi",
    b"\x00\x0b" + b"\xff" * 11,
    b"\x00\x80\x80\x04abc",
    b"\x00\x02\x01\x01",
]
while True:
    conn, _ = listener.accept()
    conn.settimeout(2)
    try:
        call = conn.recv(65536)
        if call:
            conn.sendall(garbage[call[-1] % len(garbage)])  # x < 128: its one LEB128 byte
    except OSError:
        pass
    conn.close()
"#,
    )
    .unwrap();
    let server = serve_with_plugin(
        dir.path(),
        &format!(
            "command = [\"python3\", \"{}\"]\ntimeout = \"10s\"",
            script.display()
        ),
    );
    wait_for_starts(&server, 1);
    for round in 0..10 {
        let start = Instant::now();
        let (status, body) = get(&server.url(&format!("/inc?x={round}")));
        assert!(status >= 500, "round {round}: {status} {body}");
        assert!(start.elapsed() < Duration::from_secs(5), "round {round}");
    }
    // The host is up and serving.
    assert_eq!(get(&server.url("/nowhere")).0, 404);
    let logs =
        server.wait_for_log("answered manifold:conformance/types@0.1.0#inc with a malformed value");
    assert!(!logs.contains("panicked"), "{logs}");
    assert!(
        logs.contains("answered manifold:conformance/types@0.1.0#inc with a malformed value"),
        "{logs}"
    );
    // Broken framing restarted the plugin; a bad value alone does not.
    assert!(logs.contains("plugin sent garbage"), "{logs}");
    let starts = wait_for_starts(&server, 3).len();
    assert!(starts <= 5, "{starts} starts for 4 framing errors:\n{logs}");
}

#[test]
fn a_hanging_plugin_hits_the_call_deadline_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let script = conformance_variant(
        dir.path(),
        "hang.py",
        "@c.server.func(c.TYPES, 'inc', [U64], [U64])\ndef inc(x):\n    if x == 13:\n        time.sleep(3600)\n    return (x + 1) % 2**64",
    );
    let server = Arc::new(serve_with_plugin(
        dir.path(),
        &format!("command = [\"python3\", \"{script}\"]\ntimeout = \"1s\""),
    ));
    wait_for_starts(&server, 1);
    let hung: Vec<_> = (0..3)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                (get(&server.url("/inc?x=13")), start.elapsed())
            })
        })
        .collect();
    // Other calls are answered meanwhile.
    assert_eq!(get(&server.url("/inc?x=1")), (200, "2".into()));
    for thread in hung {
        let ((status, body), took) = thread.join().unwrap();
        assert!(status >= 500, "{status} {body}");
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_secs(10),
            "{took:?}"
        );
    }
    assert_eq!(get(&server.url("/inc?x=2")), (200, "3".into()));
    let logs = server.wait_for_log("did not answer manifold:conformance/types@0.1.0#inc within 1s");
    assert!(
        logs.contains("did not answer manifold:conformance/types@0.1.0#inc within 1s"),
        "{logs}"
    );
}

#[test]
fn a_missing_plugin_program_is_an_error_at_load_naming_it() {
    for (command, needle) in [
        (
            "[\"no-such-plugin-program\", \"--flag\"]",
            "program `no-such-plugin-program` is not in PATH",
        ),
        (
            "[\"./bin/missing-plugin\"]",
            "bin/missing-plugin` does not exist",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_manifest(
            dir.path(),
            programs::PLUGIN_CONFORMANCE,
            &format!("command = {command}"),
        );
        let start = Instant::now();
        let out = manifold()
            .arg("run")
            .arg(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("cannot load plugin `py`"), "{err}");
        assert!(err.contains(needle), "{err}");
        assert!(start.elapsed() < Duration::from_secs(20));
    }
}

#[test]
fn an_answer_beyond_max_answer_fails_that_call_only_and_the_plugin_serves_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_plugin(
        dir.path(),
        &format!(
            "command = [\"python3\", \"{}\"]\nmax-answer = \"32KiB\"",
            conformance_plugin()
        ),
    );
    wait_for_starts(&server, 1);
    // `reverse` of 64 KiB answers 64 KiB: beyond the cap.
    let (status, _) = get(&server.url("/bench?call=reverse&n=1"));
    assert_eq!(status, 500);
    let logs = server.wait_for_log("larger than 32768 bytes");
    assert!(
        logs.contains("its answer is larger than 32768 bytes"),
        "{logs}"
    );
    // The plugin was not restarted for it, and answers within the cap as before.
    assert_eq!(get(&server.url("/inc?x=41")), (200, "42".into()));
    assert_eq!(ready_pids(&server).len(), 1, "{}", server.logs());
}

#[test]
fn a_unix_address_naming_a_regular_file_is_refused_and_the_file_kept() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.db"), b"precious rows").unwrap();
    write_manifest(
        dir.path(),
        programs::PLUGIN_CONFORMANCE,
        &format!(
            "command = [\"python3\", \"{}\"]\naddress = \"unix:./data.db\"",
            conformance_plugin()
        ),
    );
    let out = manifold()
        .arg("run")
        .arg(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("cannot load plugin `py`"), "{err}");
    assert!(
        err.contains("data.db is a regular file, not a socket; refusing to delete it"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("data.db")).unwrap(),
        b"precious rows"
    );
}

#[test]
fn connections_the_plugin_closed_while_waiting_are_never_used_for_a_call() {
    let dir = tempfile::tempdir().unwrap();
    // A plugin that hangs up on a connection that carries no call within 100 ms: the
    // host's connections dialed ahead all go stale between calls spaced further apart.
    let script = conformance_variant(
        dir.path(),
        "idle_close.py",
        "import select\n_handle = c.server.handle\ndef handle(sock):\n    if not select.select([sock], [], [], 0.1)[0]:\n        sock.close()\n        return\n    _handle(sock)\nc.server.handle = handle",
    );
    let server = serve_with_plugin(
        dir.path(),
        &format!("command = [\"python3\", \"{script}\"]\ntimeout = \"10s\""),
    );
    wait_for_starts(&server, 1);
    for i in 0..8u64 {
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(
            get(&server.url(&format!("/inc?x={i}"))),
            (200, (i + 1).to_string()),
            "call {i}; logs:\n{}",
            server.logs()
        );
    }
    // Back to back, the waiting connections are fresh and used.
    for i in 0..50u64 {
        assert_eq!(
            get(&server.url(&format!("/inc?x={i}"))),
            (200, (i + 1).to_string())
        );
    }
    assert_eq!(wait_for_starts(&server, 1).len(), 1, "{}", server.logs());
}

/// The limits of process `pid` as `/proc/PID/limits` shows them: name -> (soft, hard).
fn proc_limits(pid: u32) -> std::collections::HashMap<String, (String, String)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            // "Max open files            256                  256                  files"
            let name = line.get(..26)?.trim().to_string();
            let mut values = line.get(26..)?.split_whitespace();
            Some((name, (values.next()?.into(), values.next()?.into())))
        })
        .collect()
}

#[test]
fn a_started_plugin_runs_under_its_rlimits() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve_with_plugin(
        dir.path(),
        &format!(
            "command = [\"python3\", \"{}\"]\nrlimits = {{ nofile = 64, address-space = \"1GiB\", cpu-seconds = 600, file-size = \"8MiB\", core-size = 0 }}",
            conformance_plugin()
        ),
    );
    let pid = wait_for_starts(&server, 1)[0];
    assert_eq!(get(&server.url("/inc?x=1")), (200, "2".into()));
    let limits = proc_limits(pid);
    for (name, value) in [
        ("Max open files", "64"),
        ("Max address space", &(1u64 << 30).to_string()),
        ("Max cpu time", "600"),
        ("Max file size", &(8u64 << 20).to_string()),
        ("Max core file size", "0"),
    ] {
        assert_eq!(
            limits.get(name),
            Some(&(value.to_string(), value.to_string())),
            "{name}: {limits:?}"
        );
    }
    // Unset limits are the host's.
    let host = proc_limits(std::process::id());
    assert_eq!(limits["Max processes"], host["Max processes"]);
}

#[test]
fn a_plugin_beyond_its_memory_limit_is_reported_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    // `inc(7)` allocates 1 GiB under a 512 MiB address space; the allocation fails and the
    // plugin aborts, as a Rust or Go plugin does when an allocation fails.
    let script = conformance_variant(
        dir.path(),
        "greedy.py",
        "import os\n@c.server.func(c.TYPES, 'inc', [U64], [U64])\ndef inc(x):\n    if x == 7:\n        try:\n            bytearray(1 << 30)\n        except MemoryError:\n            print('greedy: out of memory', file=sys.stderr, flush=True)\n            os.abort()\n    return (x + 1) % 2**64",
    );
    let server = serve_with_plugin(
        dir.path(),
        &format!(
            "command = [\"python3\", \"{script}\"]\ntimeout = \"10s\"\nrlimits = {{ address-space = \"512MiB\", core-size = 0 }}"
        ),
    );
    let first = wait_for_starts(&server, 1)[0];
    assert_eq!(get(&server.url("/inc?x=1")), (200, "2".into()));
    let (status, body) = get(&server.url("/inc?x=7"));
    assert!(status >= 500, "{status} {body}");
    let pids = wait_for_starts(&server, 2);
    assert_ne!(pids[1], first);
    server.wait_for_log("greedy: out of memory");
    let logs = server.wait_for_log("it runs under rlimits");
    assert!(logs.contains("greedy: out of memory"), "{logs}");
    assert!(
        logs.contains("plugin exited (signal: 6 (SIGABRT)); it runs under rlimits"),
        "{logs}"
    );
    // The host serves on, and so does the new plugin.
    assert_eq!(get(&server.url("/inc?x=8")), (200, "9".into()));
}
