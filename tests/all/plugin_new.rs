//! `manifold plugin new`: each kind scaffolded from the conformance WIT, built where it needs
//! building, and run under the host with the conformance guest, whose first call must fail
//! with the stub's "not implemented" message; and the errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::plugins::{conformance_manifest, run_conformance};
use crate::util::{manifold, stderr, stdout};

const WIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/test-programs/wit/conformance.wit"
);

/// What the first stub the conformance guest calls answers.
const NOT_IMPLEMENTED: &str = "not implemented: manifold:conformance/types@0.1.0#bump";

/// `manifold plugin new --kind KIND --wit WIT ARGS… DIR`.
fn plugin_new(kind: &str, wit: &str, dir: &Path, args: &[&str]) -> Output {
    manifold()
        .args(["plugin", "new", "--kind", kind, "--wit", wit])
        .args(args)
        .arg(dir)
        .output()
        .expect("spawn manifold plugin new")
}

/// Scaffolds `kind` from the conformance WIT into a fresh directory named `name`.
fn scaffold(kind: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(name);
    let out = plugin_new(kind, WIT, &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("[plugins.{name}]")),
        "{}",
        stdout(&out)
    );
    (root, dir)
}

/// Writes `dir/manifold.toml`: the conformance guest, and the scaffold's own `plugin.toml`
/// block (its paths are relative to `dir`).
fn write_app(dir: &Path) {
    let block = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    std::fs::write(dir.join("manifold.toml"), conformance_manifest(&block)).unwrap();
}

/// The conformance guest against the stubs: its first call fails, the guest traps (134:
/// the host reported a guest failure and exited normally), and `expected` is in the log,
/// which is returned.
fn assert_first_call_not_implemented(dir: &Path, expected: &str) -> String {
    write_app(dir);
    let out = run_conformance(dir);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(134), "{err}");
    assert!(err.contains(expected), "{err}");
    assert!(!stdout(&out).contains("ok bump"), "{}", stdout(&out));
    err
}

/// `cargo build --release --offline` of a scaffolded Cargo project, into the example plugins'
/// target directory (dependencies already compiled there are reused) with their lockfile as
/// the starting point (the same versions, all present offline); then copies the artifact to
/// where the scaffold's `plugin.toml` expects it.
fn cargo_build(dir: &Path, artifact: &str) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins");
    std::fs::copy(examples.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let target = examples.join("target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    // The test's own cargo variables must not leak in.
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && ((name.starts_with("CARGO") && name != "CARGO_HOME")
                || name.starts_with("RUSTC")
                || name == "RUSTFLAGS")
        {
            command.env_remove(name);
        }
    }
    let out = command
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--release", "--offline"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo build failed:\n{}",
        stderr(&out)
    );
    let built = target.join(artifact.trim_start_matches("target/"));
    let wanted = dir.join(artifact);
    std::fs::create_dir_all(wanted.parent().unwrap()).unwrap();
    std::fs::copy(&built, &wanted)
        .unwrap_or_else(|e| panic!("{} was not built: {e}", built.display()));
}

#[test]
fn python_rpc_scaffold_is_valid_python_and_its_stubs_answer_not_implemented() {
    let (_root, dir) = scaffold("python-rpc", "py-stub");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugins/python");
    assert_eq!(
        std::fs::read(dir.join("manifold_wrpc.py")).unwrap(),
        std::fs::read(examples.join("manifold_wrpc.py")).unwrap(),
        "the vendored wRPC server is the example's"
    );
    assert_eq!(
        std::fs::read(dir.join("wit/conformance.wit")).unwrap(),
        std::fs::read(WIT).unwrap()
    );
    let plugin = std::fs::read_to_string(dir.join("plugin.py")).unwrap();
    for func in crate::plugins::CONFORMANCE_CHECKS
        .iter()
        .filter(|f| !f.starts_with("counter."))
    {
        assert!(
            plugin.contains(&format!("#{func}\")")),
            "no stub for {func}:\n{plugin}"
        );
    }
    let compiled = Command::new("python3")
        .args(["-m", "py_compile", "plugin.py", "manifold_wrpc.py"])
        .current_dir(&dir)
        .output()
        .expect("python3 (scripts/install-deps installs it)");
    assert!(compiled.status.success(), "{}", stderr(&compiled));

    // The plugin's stderr (the host's log) names the function; the guest's call fails.
    let log = assert_first_call_not_implemented(&dir, NOT_IMPLEMENTED);
    assert!(
        log.contains(
            "plugin `py-stub` closed the connection without answering \
             manifold:conformance/types@0.1.0#bump"
        ),
        "{log}"
    );
}

#[test]
fn rust_dylib_scaffold_builds_and_its_stubs_answer_not_implemented() {
    let (_root, dir) = scaffold("rust-dylib", "scaffold-test-dylib");
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    assert!(lib.contains("impl types::Counter for Counter {"), "{lib}");
    assert!(lib.contains("fn add(&self, n: u64) -> u64 {"), "{lib}");
    cargo_build(
        &dir,
        &format!(
            "target/release/{}scaffold_test_dylib{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ),
    );
    // The error travels through the ABI into the guest's trap message.
    let _ = assert_first_call_not_implemented(
        &dir,
        &format!(
            "plugin `scaffold-test-dylib` panicked in manifold:conformance/types@0.1.0#bump: \
             {NOT_IMPLEMENTED}"
        ),
    );
}

/// The scaffold's signatures are the ones `generate!` makes, for a WIT with keywords, `use`
/// across interfaces, resources and an interface left out by `--interface`: it compiles.
#[test]
fn rust_dylib_scaffold_of_tricky_wit_compiles() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("scaffold-test-tricky");
    let wit = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/scaffold/tests/tricky.wit"
    );
    let out = plugin_new("rust-dylib", wit, &dir, &["--interface", "api"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    cargo_build(
        &dir,
        &format!(
            "target/release/{}scaffold_test_tricky{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        ),
    );
}

#[test]
fn rust_rpc_scaffold_builds_and_its_stubs_answer_not_implemented() {
    let (_root, dir) = scaffold("rust-rpc", "scaffold-test-rpc");
    let plugin = std::fs::read_to_string(dir.join("src/plugin.rs")).unwrap();
    assert!(
        plugin.contains("impl<C: Send> types::HandlerCounter<C> for Plugin"),
        "{plugin}"
    );
    cargo_build(&dir, "target/release/scaffold-test-rpc");
    let _ = assert_first_call_not_implemented(&dir, NOT_IMPLEMENTED);
}

#[test]
fn one_interface_of_several_is_scaffolded_and_named_in_the_block() {
    let root = tempfile::tempdir().unwrap();
    let wit = root.path().join("acme.wit");
    std::fs::write(
        &wit,
        "package acme:shop@1.2.0;\n\
         interface billing { charge: func(cents: u64) -> result<u64, string>; }\n\
         interface stock { count: func(sku: string) -> u32; }\n",
    )
    .unwrap();
    let dir = root.path().join("billing");
    let out = plugin_new(
        "python-rpc",
        wit.to_str().unwrap(),
        &dir,
        &["--interface", "acme:shop/billing", "--name", "bill"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let block = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    assert!(block.contains("[plugins.bill]"), "{block}");
    assert!(
        block.contains("interfaces = [\"acme:shop/billing@1.2.0\"]"),
        "{block}"
    );
    let plugin = std::fs::read_to_string(dir.join("plugin.py")).unwrap();
    assert!(
        plugin.contains("not implemented: acme:shop/billing@1.2.0#charge"),
        "{plugin}"
    );
    assert!(!plugin.contains("count"), "{plugin}");
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let root = tempfile::tempdir().unwrap();
    let bad_wit = root.path().join("bad.wit");
    std::fs::write(
        &bad_wit,
        "package acme:x;\ninterface i { f: func(x: nope); }\n",
    )
    .unwrap();
    let fresh = root.path().join("fresh");

    let cases: &[(&str, &[&str], &str)] = &[
        (bad_wit.to_str().unwrap(), &[], "cannot parse WIT file"),
        (bad_wit.to_str().unwrap(), &[], "nope"),
        (
            WIT,
            &["--interface", "acme:nope/i"],
            "--interface acme:nope/i: the WIT has no such interface; it has manifold:conformance/types@0.1.0",
        ),
        (
            "/nonexistent/x.wit",
            &[],
            "--wit /nonexistent/x.wit: no such file",
        ),
        (WIT, &["--name", "9lives"], "plugin name \"9lives\""),
    ];
    for (wit, args, expected) in cases {
        let out = plugin_new("python-rpc", wit, &fresh, args);
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!fresh.exists(), "{args:?}: wrote something");
    }

    // A directory that holds anything is left alone.
    let taken = root.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("README.md"), "mine").unwrap();
    let out = plugin_new("rust-rpc", WIT, &taken, &[]);
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(taken.join("README.md")).unwrap(),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&taken).unwrap().count(), 1);

    // An unknown kind is a usage error that lists the kinds.
    let out = plugin_new("go-rpc", WIT, &fresh, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("python-rpc"), "{}", stderr(&out));
}

#[test]
fn help_names_the_kinds_and_the_docs() {
    let out = manifold()
        .args(["plugin", "new", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    for needle in [
        "rust-dylib",
        "rust-rpc",
        "python-rpc",
        "--interface",
        "not implemented",
        "docs/plugins.md",
    ] {
        assert!(help.contains(needle), "{needle}:\n{help}");
    }
}
