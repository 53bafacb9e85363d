//! `manifold run`: argv, stdio, exit codes, grants, limits and errors.

use manifold_test_programs as programs;

use crate::util::{run, run_with_stdin, scratch_with, stderr, stdout};

#[test]
fn args_reach_the_guest_and_exit_code_comes_back() {
    let out = run(&[programs::CLI_PROBE, "--", "args", "exit", "7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        text,
        "arg[0]=cli-probe.wasm\narg[1]=args\narg[2]=exit\narg[3]=7\n"
    );
    let out = run(&[programs::CLI_PROBE, "--", "exit", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&[programs::CLI_PROBE, "--", "exit", "255"]);
    assert_eq!(out.status.code(), Some(255), "{}", stderr(&out));
}

#[test]
fn no_args_prints_hello_and_exits_zero() {
    let out = run(&[programs::CLI_PROBE]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("hello from cli-probe"));
}

#[test]
fn stdin_is_wired_through() {
    let out = run_with_stdin(
        &[programs::CLI_PROBE, "--", "stdin"],
        b"line one\nline two\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "line one\nline two\n");
}

#[test]
fn environment_is_refused_unless_granted() {
    let out = crate::util::manifold()
        .env("SECRET_TOKEN", "hunter2")
        .args(["run", programs::CLI_PROBE, "--", "env"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stdout(&out).contains("SECRET_TOKEN"),
        "env leaked: {}",
        stdout(&out)
    );

    let out = crate::util::manifold()
        .env("SECRET_TOKEN", "hunter2")
        .args([
            "run",
            programs::CLI_PROBE,
            "--env",
            "SECRET_TOKEN",
            "--env",
            "MODE=fast",
            "--",
            "env",
        ])
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(text.contains("env SECRET_TOKEN=hunter2"), "{text}");
    assert!(text.contains("env MODE=fast"), "{text}");
    assert_eq!(text.lines().count(), 2, "only granted variables: {text}");
}

#[test]
fn files_are_refused_unless_granted() {
    let dir = scratch_with("note.txt", "granted contents");
    let host = dir.path().to_str().unwrap();

    let out = run(&[programs::CLI_PROBE, "--", "read", "/data/note.txt"]);
    assert!(!stdout(&out).contains("granted contents"));
    assert!(stderr(&out).contains("read error"), "{}", stderr(&out));

    let grant = format!("{host}::/data");
    let out = run(&[
        programs::CLI_PROBE,
        "--dir",
        &grant,
        "--",
        "read",
        "/data/note.txt",
        "write",
        "/data/new.txt",
        "written",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("granted contents"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "written"
    );

    let ro = format!("{host}::/data:ro");
    let out = run(&[
        programs::CLI_PROBE,
        "--dir",
        &ro,
        "--",
        "read",
        "/data/note.txt",
        "write",
        "/data/ro.txt",
        "nope",
    ]);
    assert!(stdout(&out).contains("granted contents"));
    assert!(stderr(&out).contains("write error"), "{}", stderr(&out));
    assert!(!dir.path().join("ro.txt").exists());
}

#[test]
fn missing_granted_directory_is_a_clear_error() {
    let out = run(&[programs::CLI_PROBE, "--dir", "/definitely/not/here::/x"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("directory grant") && err.contains("/definitely/not/here"),
        "{err}"
    );
}

#[test]
fn network_is_refused() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let out = run(&[programs::CLI_PROBE, "--", "connect", &addr]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("connect error"), "{}", stderr(&out));
    assert!(!stdout(&out).contains("connect ok"));
}

#[test]
fn a_looping_guest_is_stopped_at_the_deadline() {
    let started = std::time::Instant::now();
    let out = run(&[programs::CLI_PROBE, "--timeout", "500ms", "--", "loop"]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("deadline of 500ms"),
        "{}",
        stderr(&out)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    let out = run(&[programs::RUN_LOOP, "--timeout", "200ms"]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
}

#[test]
fn a_memory_hungry_guest_is_stopped_at_the_cap() {
    let out = run(&[programs::CLI_PROBE, "--memory", "32MiB", "--", "oom"]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("memory cap of 32MiB"), "{err}");
}

#[test]
fn fuel_limits_work() {
    let out = run(&[programs::CLI_PROBE, "--fuel", "100000", "--", "loop"]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    assert!(stderr(&out).contains("out of fuel"), "{}", stderr(&out));
}

#[test]
fn a_trap_shows_the_guest_backtrace_not_a_panic() {
    let out = run(&[programs::CLI_PROBE, "--", "trap"]);
    assert_eq!(out.status.code(), Some(134), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unreachable"), "{err}");
    assert!(err.contains("deliberate_trap"), "{err}");
    assert!(!err.contains("panicked at"), "{err}");

    let out = run(&[programs::RUN_TRAP]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("deliberate_trap"), "{}", stderr(&out));
}

#[test]
fn run_returning_err_exits_one() {
    let out = run(&[programs::RUN_ERR]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out = run(&[programs::RUN_OK]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn wat_text_is_accepted() {
    let dir = scratch_with(
        "ok.wat",
        r#"(component
             (core module $m (func (export "run") (result i32) i32.const 0))
             (core instance $i (instantiate $m))
             (func $run (result (result)) (canon lift (core func $i "run")))
             (instance $inst (export "run" (func $run)))
             (export "wasi:cli/run@0.2.0" (instance $inst)))"#,
    );
    let out = run(&[dir.path().join("ok.wat").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn bad_files_get_clear_errors() {
    let out = run(&[programs::CORE_MODULE]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("core WebAssembly module, not a component"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("wasm-tools component new"),
        "{}",
        stderr(&out)
    );

    let dir = scratch_with("junk.wasm", "this is not wasm at all");
    let out = run(&[dir.path().join("junk.wasm").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("not a WebAssembly file"),
        "{}",
        stderr(&out)
    );

    let bytes = std::fs::read(programs::CLI_PROBE).unwrap();
    std::fs::write(dir.path().join("truncated.wasm"), &bytes[..bytes.len() / 2]).unwrap();
    let out = run(&[dir.path().join("truncated.wasm").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(stderr(&out).contains("truncated.wasm"), "{}", stderr(&out));
}

#[test]
fn running_an_http_component_suggests_serve() {
    let out = run(&[programs::HTTP_HELLO]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("does not export wasi:cli/run"), "{err}");
    assert!(err.contains("manifold serve"), "{err}");
}

/// The missing entry point is found from the binary, before compiling: nothing lands in
/// the compile cache (compiling a large component takes seconds).
#[test]
fn a_component_without_the_entry_point_is_refused_before_it_is_compiled() {
    let cache = tempfile::tempdir().unwrap();
    let out = run(&[
        "--cache-dir",
        cache.path().to_str().unwrap(),
        programs::HTTP_HELLO,
    ]);
    assert_eq!(out.status.code(), Some(125));
    assert!(stderr(&out).contains("manifold serve"), "{}", stderr(&out));
    let cached: Vec<_> = walk(cache.path());
    assert!(cached.is_empty(), "compiled anyway: {cached:?}");
    // The same cache does get an entry from a component that runs.
    let out = run(&[
        "--cache-dir",
        cache.path().to_str().unwrap(),
        programs::CLI_PROBE,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!walk(cache.path()).is_empty(), "the cache is written to");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn manifest_runs_with_its_grants() {
    let dir = scratch_with("data.txt", "from the manifest dir");
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.probe]\nsource = \"{}\"\nargs = [\"env\", \"read\", \"/d/data.txt\"]\nenv = {{ GREETING = \"hi\" }}\ndirs = [\".::/d:ro\"]\n",
            programs::CLI_PROBE
        ),
    )
    .unwrap();
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("env GREETING=hi"), "{text}");
    assert!(text.contains("from the manifest dir"), "{text}");
}

#[test]
fn bad_manifest_points_at_the_line() {
    let dir = scratch_with(
        "manifold.toml",
        "[component.a]\nsource = \"a.wasm\"\nroute = 5\n",
    );
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("manifold.toml") && err.contains("line 3"),
        "{err}"
    );
}

#[test]
fn help_has_examples() {
    for cmd in [
        &["--help"][..],
        &["run", "--help"],
        &["serve", "--help"],
        &["providers", "--help"],
    ] {
        let out = crate::util::manifold().args(cmd).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = stdout(&out);
        if cmd.len() == 1 || cmd[0] != "providers" {
            assert!(text.contains("Examples:"), "{cmd:?}: {text}");
        }
    }
    let out = crate::util::manifold()
        .args(["run", "--bogus"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_fuel_budget_on_one_component_does_not_starve_another() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            "[component.budgeted]\nsource = \"{p}\"\nlimits = {{ fuel = 500000000 }}\n\
             [component.unlimited]\nsource = \"{p}\"\nroute = \"/u\"\n",
            p = programs::CLI_PROBE
        ),
    )
    .unwrap();
    let out = crate::util::run_in(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from cli-probe\nhello from cli-probe\n");
}
