//! Socket grants (`--allow-connect`, `--allow-listen`, the manifest's `allow-connect` and
//! `allow-listen`) with a WASI 0.2 guest (`cli-probe`) and a WASI 0.3 one (`p3-cli-probe`),
//! against a TCP server of the test's own on 127.0.0.1.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use manifold_test_programs as programs;

use crate::util::{run, run_in, stderr, stdout};

/// Every run is bounded: a guest stuck on a socket is stopped after this.
const TIMEOUT: &str = "20s";

/// A TCP server on 127.0.0.1 that answers each connection `pong ` and what it read until
/// the peer's EOF, then closes it. It lives until the test process ends.
fn pong_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut received = Vec::new();
    if stream.read_to_end(&mut received).is_ok() {
        let _ = stream.write_all(b"pong ");
        let _ = stream.write_all(&received);
    }
}

/// A port nobody listens on now (bound, then released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `manifold run --timeout … PROGRAM GRANTS… -- COMMAND…`.
fn probe(program: &str, grants: &[&str], command: &[&str]) -> std::process::Output {
    let mut args = vec![program, "--timeout", TIMEOUT];
    args.extend(grants);
    args.push("--");
    args.extend(command);
    run(&args)
}

/// The WASI 0.2 guest: `connect ok` and the answer on stdout, or `connect error: CODE` on
/// stderr, status 0 either way.
fn p2_connect(grants: &[&str], target: &str) -> Result<String, String> {
    let out = probe(programs::CLI_PROBE, grants, &["connect", target]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (stdout, stderr) = (stdout(&out), stderr(&out));
    match stdout.strip_prefix("connect ok\n") {
        Some(answer) => Ok(answer.to_string()),
        None => Err(stderr),
    }
}

/// The WASI 0.3 guest: the answer on stdout and status 0, or `error: CODE` on stdout and
/// status 1.
fn p3_connect(grants: &[&str], target: &str) -> Result<String, String> {
    let out = probe(programs::P3_CLI_PROBE, grants, &["connect", target]);
    match out.status.code() {
        Some(0) => Ok(stdout(&out)),
        Some(1) => Err(format!("{}{}", stdout(&out), stderr(&out))),
        other => panic!("status {other:?}: {}", stderr(&out)),
    }
}

type Connect = fn(&[&str], &str) -> Result<String, String>;

/// The same checks for both majors; `denied` is how the guest words `access-denied`.
fn connect_only_as_granted(connect: Connect, denied: &str) {
    let port = pong_server();
    let target = format!("127.0.0.1:{port}");
    let exact = format!("tcp://127.0.0.1:{port}");
    let by_name = format!("tcp://localhost:{port}");

    let err = connect(&[], &target).unwrap_err();
    assert!(err.contains(denied), "{err}");
    assert!(
        err.contains(&format!("TCP connect to {target} denied")),
        "the host says why: {err}"
    );

    assert_eq!(
        connect(&["--allow-connect", &exact], &target).unwrap(),
        "pong ping\n"
    );
    assert_eq!(
        connect(&["--allow-connect", "tcp://127.0.0.1:*"], &target).unwrap(),
        "pong ping\n"
    );
    for wrong in [
        "tcp://127.0.0.1:1",
        "udp://127.0.0.1:*",
        "tcp://127.0.0.2:*",
    ] {
        let err = connect(&["--allow-connect", wrong], &target).unwrap_err();
        assert!(err.contains(denied), "{wrong}: {err}");
    }

    // A grant by name admits the addresses the name resolved to, once the guest looked it
    // up; the same address given as a literal is not the name.
    let local = format!("localhost:{port}");
    assert_eq!(
        connect(&["--allow-connect", &by_name], &local).unwrap(),
        "pong ping\n"
    );
    let err = connect(&["--allow-connect", &by_name], &target).unwrap_err();
    assert!(err.contains(denied), "{err}");

    // Only granted names are looked up.
    let err = connect(
        &["--allow-connect", &by_name],
        &format!("db.invalid:{port}"),
    )
    .unwrap_err();
    assert!(err.contains(denied), "{err}");
    assert!(
        err.contains("name lookup of `db.invalid` denied"),
        "the host says why: {err}"
    );
    let err = connect(&["--allow-connect", &exact], &local).unwrap_err();
    assert!(err.contains(denied), "{err}");
}

#[test]
fn p2_connect_only_as_granted() {
    connect_only_as_granted(p2_connect, "connect error: access-denied");
}

#[test]
fn p3_connect_only_as_granted() {
    connect_only_as_granted(p3_connect, "error: access-denied");
}

/// `listening` when the guest could bind 127.0.0.1:PORT and listen, else the guest's error.
fn listen(program: &str, grants: &[&str], port: u16) -> Result<(), String> {
    let out = probe(program, grants, &["listen", &port.to_string()]);
    if stdout(&out) == "listening\n" {
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        Ok(())
    } else {
        Err(format!("{}{}", stdout(&out), stderr(&out)))
    }
}

#[test]
fn listen_only_as_granted() {
    for (program, denied) in [
        (programs::CLI_PROBE, "listen error: access-denied"),
        (programs::P3_CLI_PROBE, "error: access-denied"),
    ] {
        let port = free_port();
        let exact = format!("tcp://127.0.0.1:{port}");
        let err = listen(program, &[], port).unwrap_err();
        assert!(err.contains(denied), "{err}");
        assert!(
            err.contains(&format!(
                "127.0.0.1:{port} denied: no `allow-listen` pattern"
            )),
            "the host says why: {err}"
        );
        listen(program, &["--allow-listen", &exact], port).unwrap();
        listen(program, &["--allow-listen", "tcp://0.0.0.0:*"], port).unwrap();
        for wrong in [
            "tcp://127.0.0.1:1",
            "udp://127.0.0.1:*",
            "tcp://[::1]:*",
            "tcp://127.0.0.2:*",
        ] {
            let err = listen(program, &["--allow-listen", wrong], port).unwrap_err();
            assert!(err.contains(denied), "{wrong}: {err}");
        }
        // Connecting is not listening.
        let connect = format!("tcp://127.0.0.1:{port}");
        let err = listen(program, &["--allow-connect", &connect], port).unwrap_err();
        assert!(err.contains(denied), "{err}");
    }
}

#[test]
fn manifest_grants_sockets() {
    let port = pong_server();
    let listen_port = free_port();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.probe]\nsource = {:?}\nallow-connect = [\"tcp://localhost:{port}\"]\n\
             allow-listen = [\"tcp://127.0.0.1:{listen_port}\"]\n",
            programs::P3_CLI_PROBE
        ),
    )
    .unwrap();
    let connect = format!("localhost:{port}");
    let out = run_in(
        dir.path(),
        &["--timeout", TIMEOUT, "--", "connect", &connect],
    );
    assert_eq!(stdout(&out), "pong ping\n", "{}", stderr(&out));
    let listen = listen_port.to_string();
    let out = run_in(dir.path(), &["--timeout", TIMEOUT, "--", "listen", &listen]);
    assert_eq!(stdout(&out), "listening\n", "{}", stderr(&out));
}

#[test]
fn bad_socket_patterns_are_refused_at_startup() {
    for (flag, pattern, why) in [
        ("--allow-connect", "db:5432", "missing `://`"),
        ("--allow-connect", "tcp://db", "missing port"),
        ("--allow-listen", "tcp://localhost:80", "local IP address"),
    ] {
        let out = run(&[programs::CLI_PROBE, flag, pattern]);
        assert_eq!(out.status.code(), Some(2), "{flag} {pattern}");
        assert!(stderr(&out).contains(why), "{}", stderr(&out));
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.probe]\nsource = {:?}\nallow-connect = [\"ftp://db:21\"]\n",
            programs::CLI_PROBE
        ),
    )
    .unwrap();
    let out = run_in(dir.path(), &[]);
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(
        err.contains("line 3") && err.contains("`tcp` or `udp`"),
        "{err}"
    );
}
