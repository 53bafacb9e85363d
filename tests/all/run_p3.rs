//! `manifold run` of a WASI 0.3 component (`wasi:cli/run@0.3.0`, an `async func`): the same
//! grants, limits and exit codes as for 0.2.

use manifold_test_programs as programs;

use crate::util::{run, run_with_stdin, scratch_with, stderr, stdout};

#[test]
fn args_and_exit_codes() {
    let out = run(&[programs::P3_CLI_PROBE, "--", "args", "a b", "c"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "p3-cli-probe.wasm\nargs\na b\nc\n");
    let out = run(&[programs::P3_CLI_PROBE, "--", "exit", "7"]);
    assert_eq!(out.status.code(), Some(7), "{}", stderr(&out));
    let out = run(&[programs::P3_CLI_PROBE, "--", "exit", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // `run` returning `err`.
    let out = run(&[programs::P3_CLI_PROBE, "--", "no-such-command"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown command"), "{}", stderr(&out));
}

#[test]
fn environment_only_as_granted() {
    let out = run(&[programs::P3_CLI_PROBE, "--", "env", "HOME"]);
    assert_eq!(stdout(&out), "unset\n", "{}", stderr(&out));
    let out = run(&[
        programs::P3_CLI_PROBE,
        "--env",
        "COLOR=teal",
        "--",
        "env",
        "COLOR",
    ]);
    assert_eq!(stdout(&out), "teal\n", "{}", stderr(&out));
}

#[test]
fn files_only_as_granted() {
    let dir = scratch_with("note.txt", "a granted note");
    let out = run(&[programs::P3_CLI_PROBE, "--", "read", "/data/note.txt"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "error: no-preopen\n");

    let ro = format!("{}::/data:ro", dir.path().display());
    let out = run(&[
        programs::P3_CLI_PROBE,
        "--dir",
        &ro,
        "--",
        "read",
        "/data/note.txt",
    ]);
    assert_eq!(stdout(&out), "a granted note", "{}", stderr(&out));
    let out = run(&[
        programs::P3_CLI_PROBE,
        "--dir",
        &ro,
        "--",
        "write",
        "/data/new.txt",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("error: "), "{}", stdout(&out));
    assert!(!dir.path().join("new.txt").exists());

    let rw = format!("{}::/data", dir.path().display());
    let out = run(&[
        programs::P3_CLI_PROBE,
        "--dir",
        &rw,
        "--",
        "write",
        "/data/new.txt",
        "written by 0.3",
    ]);
    assert_eq!(stdout(&out), "ok\n", "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("new.txt")).unwrap(),
        "written by 0.3"
    );
}

#[test]
fn stdin_streams_to_stdout() {
    let input: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 253) as u8).collect();
    let out = run_with_stdin(&[programs::P3_CLI_PROBE, "--", "cat"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout.len(), input.len());
    assert!(out.stdout == input, "stdout differs from stdin");
}

#[test]
fn traps_and_limits_end_the_run_with_134() {
    let out = run(&[programs::P3_CLI_PROBE, "--", "trap"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("deliberate_trap"), "{}", stderr(&out));

    let out = run(&[programs::P3_CLI_PROBE, "--timeout", "500ms", "--", "loop"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));

    // Blocked in the host (awaiting a clock), not spinning: still stopped.
    let out = run(&[
        programs::P3_CLI_PROBE,
        "--timeout",
        "300ms",
        "--",
        "sleep",
        "60000",
    ]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("deadline"), "{}", stderr(&out));

    let out = run(&[programs::P3_CLI_PROBE, "--fuel", "100000", "--", "loop"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(stderr(&out).contains("fuel"), "{}", stderr(&out));
}

#[test]
fn an_http_component_is_pointed_to_serve() {
    let out = run(&[programs::P3_HTTP_HELLO]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("does not export wasi:cli/run"), "{err}");
    assert!(err.contains("wasi:http/handler@0.3.0"), "{err}");
    assert!(err.contains("manifold serve"), "{err}");
}
