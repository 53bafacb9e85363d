//! wasi:config on the embedded backend, end to end: the manifest's `[config]` and a
//! component's `config` over it, the host's `MANIFOLD_CONFIG_*` variables over the keys the
//! manifest defines (and no others), and `--config` over everything.

use manifold_test_programs as programs;

use crate::util::{Server, get, manifold, stderr, stdout};

/// Components `one` (with its own `config`) and `two` (the app's only), both `config-probe`.
fn two_components(dir: &std::path::Path) {
    std::fs::write(
        dir.join("manifold.toml"),
        format!(
            r#"
name = "config-e2e"

[config]
greeting = "hello from the app"
"db.url" = "postgres://app"
mode = "app"

[component.one]
source = "{probe}"
route = "/one"
config = {{ mode = "one", "feature-x" = "on" }}

[component.two]
source = "{probe}"
route = "/two"
"#,
            probe = programs::CONFIG_PROBE
        ),
    )
    .unwrap();
}

#[test]
fn the_manifest_gives_values_with_a_component_over_the_app() {
    let dir = tempfile::tempdir().unwrap();
    two_components(dir.path());
    let server = Server::start_in(&[], Some(dir.path()));
    let at = |path: &str| get(&server.url(path));

    assert_eq!(at("/one/get?key=mode"), (200, "one".into()));
    assert_eq!(at("/two/get?key=mode"), (200, "app".into()));
    assert_eq!(
        at("/two/get?key=greeting"),
        (200, "hello from the app".into())
    );
    assert_eq!(at("/one/get?key=db.url"), (200, "postgres://app".into()));
    assert_eq!(at("/one/get?key=feature-x"), (200, "on".into()));
    assert_eq!(at("/two/get?key=feature-x"), (404, "none".into()));
    assert_eq!(at("/one/get?key=MODE"), (404, "none".into()));
    assert_eq!(
        at("/one/all"),
        (
            200,
            "db.url=postgres://app\nfeature-x=on\ngreeting=hello from the app\nmode=one\n".into()
        )
    );
    assert_eq!(
        at("/two/all"),
        (
            200,
            "db.url=postgres://app\ngreeting=hello from the app\nmode=app\n".into()
        )
    );
    assert_eq!(
        at("/one/get"),
        (400, "missing query parameter `key`\n".into())
    );
}

#[test]
fn the_environment_overrides_only_manifest_keys_and_the_command_line_wins() {
    let dir = tempfile::tempdir().unwrap();
    two_components(dir.path());
    let server = Server::start_with_env(
        &["--config", "mode=cli", "--config", "added=a=b"],
        Some(dir.path()),
        &[
            ("MANIFOLD_CONFIG_DB_URL", "postgres://env"),
            ("MANIFOLD_CONFIG_FEATURE_X", "off"),
            ("MANIFOLD_CONFIG_MODE", "env"),
            ("MANIFOLD_CONFIG_SECRET", "injected"),
            ("MANIFOLD_CONFIG_ADDED", "injected"),
        ],
    );
    let at = |path: &str| get(&server.url(path));

    for component in ["one", "two"] {
        for (key, expected) in [
            ("db.url", (200, "postgres://env")),
            ("mode", (200, "cli")),
            ("added", (200, "a=b")),
            // Not in the manifest: the host's variable does not make it a key.
            ("secret", (404, "none")),
        ] {
            let (status, body) = at(&format!("/{component}/get?key={key}"));
            assert_eq!((status, body.as_str()), expected, "{component} {key}");
        }
        let (status, all) = at(&format!("/{component}/all"));
        assert_eq!(status, 200);
        assert!(
            !all.contains("secret") && !all.contains("injected"),
            "{all}"
        );
    }
    // `feature-x` is a key of `one` only, so only `one` takes the variable.
    assert_eq!(at("/one/get?key=feature-x"), (200, "off".into()));
    assert_eq!(at("/two/get?key=feature-x"), (404, "none".into()));
    assert_eq!(
        at("/two/all"),
        (
            200,
            "added=a=b\ndb.url=postgres://env\ngreeting=hello from the app\nmode=cli\n".into()
        )
    );
    let logs = server.wait_for_log("MANIFOLD_CONFIG_DB_URL");
    assert!(
        logs.contains("MANIFOLD_CONFIG_DB_URL") && !logs.contains("postgres://env"),
        "the variable is logged, its value never: {logs}"
    );
}

#[test]
fn without_config_a_component_gets_an_empty_store() {
    let env = [("MANIFOLD_CONFIG_ANY", "injected")];
    let server = Server::start_with_env(&[programs::CONFIG_PROBE], None, &env);
    assert_eq!(get(&server.url("/all")), (200, String::new()));
    assert_eq!(get(&server.url("/get?key=any")), (404, "none".into()));
    drop(server);

    // A component file with --config: the flag's keys only, still none from the host.
    let server = Server::start_with_env(
        &[
            programs::CONFIG_PROBE,
            "--config",
            "any=flag",
            "--config",
            "empty=",
        ],
        None,
        &env,
    );
    assert_eq!(get(&server.url("/all")), (200, "any=flag\nempty=\n".into()));
    assert_eq!(get(&server.url("/get?key=empty")), (200, String::new()));
}

#[test]
fn a_config_flag_without_a_key_is_a_usage_error() {
    for bad in ["novalue", "=value"] {
        let out = manifold()
            .args(["run", "--config", bad, programs::CLI_PROBE])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("KEY=VALUE"),
            "{bad}: {}",
            stderr(&out)
        );
    }
}

/// What `config-reader.wat` imports, which the test rewrites.
const READER_IMPORT: &str = "\"wasi:config/store@0.2.0-draft\"";

#[test]
fn every_version_of_the_store_reads_the_same_values() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config-reader.wat");
    let template = std::fs::read_to_string(&fixture).unwrap();
    assert!(template.contains(READER_IMPORT));
    let dir = tempfile::tempdir().unwrap();
    for version in ["0.2.0-draft", "0.2.0-rc.1", "0.2.0-draft-2024-09-27"] {
        let reader = dir.path().join(format!("reader-{version}.wat"));
        let import = format!("\"wasi:config/store@{version}\"");
        std::fs::write(&reader, template.replace(READER_IMPORT, &import)).unwrap();
        let run = |greeting: &str| {
            manifold()
                .args(["run", "--config", &format!("greeting={greeting}")])
                .arg(&reader)
                .output()
                .unwrap()
        };
        let out = run("hello");
        assert_eq!(out.status.code(), Some(0), "{version}: {}", stderr(&out));
        let out = run("bye");
        assert_eq!(out.status.code(), Some(1), "{version}: {}", stderr(&out));
    }
}

#[test]
fn providers_lists_the_config_store() {
    let out = manifold().args(["providers", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for interface in [
        "wasi:config/store@0.2.0-draft",
        "wasi:config/store@0.2.0-rc.1",
        "wasi:config/store@0.2.0-draft-2024-09-27",
    ] {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["interface"] == interface)
            .unwrap_or_else(|| panic!("{interface}: {}", stdout(&out)));
        assert_eq!(row["provider"], "config");
        assert_eq!(row["kind"], "builtin");
    }
}
