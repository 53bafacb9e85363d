//! wasi:config values from the key-value backend (`[config-source] type = "keyvalue"`), end to
//! end on a `redis-server` the test starts: values written to the app's `config` bucket by
//! anyone (here, straight into Redis) reach the guest on its next call, over the manifest's,
//! while the deployment's `MANIFOLD_CONFIG_*` and `--config` still win; a backend outage is
//! `error::upstream`. On the embedded backend, a component granted the bucket writes config
//! that a component without the grant reads.

use manifold_test_programs as programs;

use crate::redis_server::RedisServer;
use crate::util::{Server, get};

fn app_on_redis(dir: &std::path::Path, url: &str) -> Server {
    std::fs::write(
        dir.join("manifold.toml"),
        format!(
            r#"
name = "shared-config"

[keyvalue]
type = "redis"
url = "{url}"

[config-source]
type = "keyvalue"

[config]
greeting = "from the manifest"
mode = "from the manifest"
only-manifest = "m"

[component.probe]
source = "{probe}"
"#,
            probe = programs::CONFIG_PROBE
        ),
    )
    .unwrap();
    Server::start_with_env(
        &["--config", "pinned=cli"],
        Some(dir),
        &[("MANIFOLD_CONFIG_MODE", "from the environment")],
    )
}

#[test]
fn config_values_come_from_the_keyvalue_backend_live() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = app_on_redis(dir.path(), &redis.url());
    // The bucket `config` of app `shared-config`, as the Redis backend names its keys.
    let key = |k: &str| format!("manifold:shared-config:config:{k}");
    for (k, v) in [
        ("greeting", "from redis"),
        ("mode", "from redis"),
        ("pinned", "from redis"),
        ("only-redis", "r"),
    ] {
        assert_eq!(redis.command(&["SET", &key(k), v]), "+OK");
    }
    assert_eq!(
        get(&server.url("/get?key=greeting")),
        (200, "from redis".into())
    );
    assert_eq!(
        get(&server.url("/get?key=mode")),
        (200, "from the environment".into())
    );
    assert_eq!(get(&server.url("/get?key=pinned")), (200, "cli".into()));
    assert_eq!(
        get(&server.url("/get?key=only-manifest")),
        (200, "m".into())
    );
    assert_eq!(get(&server.url("/get?key=missing")), (404, "none".into()));
    assert_eq!(
        get(&server.url("/all")),
        (
            200,
            "greeting=from redis\nmode=from the environment\nonly-manifest=m\n\
             only-redis=r\npinned=cli\n"
                .into()
        )
    );

    // A change in the shared store is seen by the next call, without a restart.
    assert_eq!(redis.command(&["SET", &key("greeting"), "changed"]), "+OK");
    assert_eq!(
        get(&server.url("/get?key=greeting")),
        (200, "changed".into())
    );
    assert_eq!(redis.command(&["DEL", &key("greeting")]), ":1");
    assert_eq!(
        get(&server.url("/get?key=greeting")),
        (200, "from the manifest".into())
    );
}

#[test]
fn a_keyvalue_outage_is_an_upstream_error_for_config() {
    let mut redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let server = app_on_redis(dir.path(), &redis.url());
    assert_eq!(
        get(&server.url("/get?key=greeting")),
        (200, "from the manifest".into())
    );
    redis.stop();
    let (status, body) = get(&server.url("/get?key=greeting"));
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("error: upstream: "), "{body}");
    let (status, body) = get(&server.url("/all"));
    assert!(
        status == 500 && body.starts_with("error: upstream: "),
        "{body}"
    );
    server.wait_for_log("wasi:config source failure");
    // Pinned keys do not need the store.
    assert_eq!(get(&server.url("/get?key=pinned")), (200, "cli".into()));

    redis.restart();
    let start = std::time::Instant::now();
    while get(&server.url("/get?key=greeting")).0 != 200 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "no recovery"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn on_the_embedded_backend_a_component_granted_the_bucket_writes_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("manifold.toml"),
        format!(
            r#"
name = "embedded-config"
data-dir = "data"

[config-source]
type = "keyvalue"
bucket = "settings"

[config]
greeting = "from the manifest"

[component.admin]
source = "{kv}"
route = "/admin"
keyvalue = ["settings"]

[component.probe]
source = "{probe}"
route = "/probe"
"#,
            kv = programs::KV_DRAFT2,
            probe = programs::CONFIG_PROBE
        ),
    )
    .unwrap();
    let server = Server::start_in(&[], Some(dir.path()));
    assert_eq!(
        get(&server.url("/probe/get?key=greeting")),
        (200, "from the manifest".into())
    );
    assert_eq!(
        get(&server.url("/admin/set?bucket=settings&key=greeting&value=set%20by%20admin")).0,
        200
    );
    assert_eq!(
        get(&server.url("/probe/get?key=greeting")),
        (200, "set by admin".into())
    );
}
