//! Distribution: `manifold push|pull|login|cache`, `run REF`, package names, against real
//! peers started here on 127.0.0.1: Debian's `docker-registry` (with and without htpasswd
//! auth), `skopeo`, `wkg`, and small HTTP stubs for the well-known document and for a
//! registry that fails mid-download.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::util::{stderr, stdout};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `docker-registry serve` with a temporary config and storage, killed on drop.
pub struct Registry {
    pub child: Child,
    pub port: u16,
    pub storage: tempfile::TempDir,
    _config: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Self::start_with_auth(None)
    }

    /// With `Some((user, password))`, every request needs HTTP basic auth (htpasswd, bcrypt).
    pub fn start_with_auth(auth: Option<(&str, &str)>) -> Registry {
        let port = free_port();
        let storage = tempfile::tempdir().unwrap();
        let config = tempfile::tempdir().unwrap();
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.path().display()
        );
        if let Some((user, password)) = auth {
            let htpasswd = config.path().join("htpasswd");
            let out = Command::new("htpasswd")
                .args(["-Bbc", htpasswd.to_str().unwrap(), user, password])
                .output()
                .expect("htpasswd (apache2-utils; scripts/install-deps installs it)");
            assert!(out.status.success(), "{}", stderr(&out));
            yaml.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                htpasswd.display()
            ));
        }
        let path = config.path().join("config.yml");
        std::fs::write(&path, yaml).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry (scripts/install-deps installs it)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "docker-registry did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Registry {
            child,
            port,
            storage,
            _config: config,
        }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The file holding a blob in the registry's filesystem storage.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.storage
            .path()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    pub fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let response = crate::util::agent()
            .get(&format!("http://{}{path}", self.host()))
            .set(
                "Accept",
                "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
            )
            .call();
        let response = match response {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("GET {path}: {e}"),
        };
        let status = response.status();
        let mut body = Vec::new();
        response.into_reader().read_to_end(&mut body).unwrap();
        (status, body)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `manifold` command with its own caches, Docker config and wasm-pkg config home, so a
/// test sees nothing of the user's or of other tests'.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_manifold"));
        cmd.env("MANIFOLD_CACHE_DIR", self.cache())
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("HOME", self.dir.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().unwrap()
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "manifold {args:?} failed: {}\n{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "manifold {args:?} should fail: {}",
            stdout(&out)
        );
        stderr(&out)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    pub fn wkg_config(&self, toml: &str) {
        let dir = self.dir.path().join("config/wasm-pkg");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), toml).unwrap();
    }
}

fn probe() -> &'static str {
    manifold_test_programs::CLI_PROBE
}

/// A fresh registry and environment with the probe pushed as `acme/probe:1.0.0`: the
/// registry, the environment, the reference and what `push --json` said.
fn probe_pushed() -> (Registry, Env, String, serde_json::Value) {
    let registry = Registry::start();
    let env = Env::new();
    let reference = format!("{}/acme/probe:1.0.0", registry.host());
    let pushed = env.json(&["push", probe(), &reference, "--json"]);
    (registry, env, reference, pushed)
}

/// CLI_PROBE with a custom section appended, so the component is about `size` bytes and
/// still runs.
fn big_component(dir: &Path, size: usize) -> PathBuf {
    let mut bytes = std::fs::read(probe()).unwrap();
    let name = b"padding";
    let payload_len = size.saturating_sub(bytes.len());
    let mut payload = Vec::with_capacity(payload_len);
    let mut x: u32 = 2463534242;
    for _ in 0..payload_len {
        // xorshift: incompressible, so nothing along the way can shrink it.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        payload.push(x as u8);
    }
    let mut section = Vec::new();
    leb(&mut section, name.len() as u64);
    section.extend_from_slice(name);
    section.extend_from_slice(&payload);
    bytes.push(0);
    leb(&mut bytes, section.len() as u64);
    bytes.extend_from_slice(&section);
    let path = dir.join("big.wasm");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn sha256_file(path: &Path) -> String {
    use sha2::Digest as _;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
    )
}

fn blobs_in(cache: &Path) -> Vec<String> {
    std::fs::read_dir(cache.join("registry/blobs/sha256"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn push_writes_the_cncf_wasm_format_and_pull_run_and_cache_use_it() {
    let registry = Registry::start();
    let env = Env::new();
    let reference = format!("{}/acme/probe:1.0.0", registry.host());
    let pushed = env.json(&[
        "push",
        probe(),
        &reference,
        "--json",
        "--description",
        "a probe",
        "--source",
        "https://example.com/probe",
    ]);
    assert_eq!(pushed["kind"], "component");
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    assert_eq!(digest, sha256_file(Path::new(probe())));

    // What the registry holds, read over plain HTTP.
    let (status, manifest) = registry.get("/v2/acme/probe/manifests/1.0.0");
    assert_eq!(status, 200);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 1);
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], digest.as_str());
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(
        annotations["org.opencontainers.image.description"],
        "a probe"
    );
    assert_eq!(
        annotations["org.opencontainers.image.source"],
        "https://example.com/probe"
    );
    assert!(
        annotations["org.opencontainers.image.title"]
            .as_str()
            .unwrap()
            .ends_with(".wasm")
    );
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let (_, config) = registry.get(&format!("/v2/acme/probe/blobs/{config_digest}"));
    let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["architecture"], "wasm");
    assert_eq!(config["os"], "wasip2");
    assert_eq!(config["layerDigests"][0], digest.as_str());
    assert!(config["created"].as_str().unwrap().starts_with("20"));
    let exports: Vec<&str> = config["component"]["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        exports.iter().any(|e| e.starts_with("wasi:cli/run@0.2")),
        "{exports:?}"
    );
    let imports = config["component"]["imports"].as_array().unwrap();
    assert!(
        imports
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("wasi:cli/stdout@"))
    );

    // Pull: the same bytes; a second pull moves no blob bytes.
    let out = env.dir.path().join("pulled.wasm");
    let first = env.json(&["pull", &reference, "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(first["digest"], digest.as_str());
    assert_eq!(first["downloaded"], first["size"]);
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(probe()).unwrap()
    );
    let again = env.json(&["pull", &reference, "--json"]);
    assert_eq!(again["downloaded"], 0);
    // A second tag of the same component shares the blob.
    env.ok(&[
        "push",
        probe(),
        &format!("{}/acme/probe:stable", registry.host()),
    ]);
    let other = env.json(&[
        "pull",
        &format!("{}/acme/probe:stable", registry.host()),
        "--json",
    ]);
    assert_eq!(other["downloaded"], 0);
    assert_eq!(blobs_in(&env.cache()).len(), 1);
    // By digest.
    let by_digest = format!(
        "{}/acme/probe@{}",
        registry.host(),
        first["manifest_digest"].as_str().unwrap()
    );
    assert_eq!(env.json(&["pull", &by_digest, "--json"])["downloaded"], 0);

    // Run from the reference; the compile cache entry is keyed by the same digest.
    let run = env.ok(&["run", &reference]);
    assert_eq!(run, "hello from cli-probe\n");
    let hex = digest.strip_prefix("sha256:").unwrap();
    let compiled: Vec<String> = std::fs::read_dir(env.cache().join("compiled"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(compiled.iter().any(|n| n.starts_with(hex)), "{compiled:?}");

    // A manifest naming the reference.
    let app = env.dir.path().join("app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(
        app.join("manifold.toml"),
        format!("[component.probe]\nsource = \"{reference}\"\nargs = [\"args\"]\n"),
    )
    .unwrap();
    let run = env.ok(&["run", app.to_str().unwrap()]);
    assert!(run.contains("arg[0]=probe"), "{run}");

    // cache ls / prune.
    let ls = env.ok(&["cache", "ls"]);
    assert!(ls.contains(&reference) && ls.contains(&digest), "{ls}");
    env.ok(&["cache", "prune"]);
    assert_eq!(
        blobs_in(&env.cache()).len(),
        1,
        "prune keeps what tags name"
    );
    env.ok(&["cache", "prune", "--all"]);
    assert!(blobs_in(&env.cache()).is_empty());
    assert!(env.ok(&["cache", "ls"]).contains("empty"));
}

#[test]
fn a_damaged_cached_blob_is_fetched_again_and_never_run() {
    let (_registry, env, reference, pushed) = probe_pushed();
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    env.ok(&["pull", &reference]);
    let blob = env
        .cache()
        .join("registry/blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap());
    // Same size, other bytes: a flipped bit on disk, or a file swapped by someone else.
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let pulled = env.json(&["pull", &reference, "--json"]);
    assert_eq!(
        pulled["downloaded"], pulled["size"],
        "fetched again: {pulled}"
    );
    assert_eq!(sha256_file(&blob), digest);
    // Damaged again, then run: fetched again before it runs.
    std::fs::write(&blob, &bytes).unwrap();
    assert_eq!(env.ok(&["run", &reference]), "hello from cli-probe\n");
    assert_eq!(sha256_file(&blob), digest);
}

#[test]
fn wit_packages_push_and_non_components_are_refused() {
    let registry = Registry::start();
    let env = Env::new();
    let wit = env.dir.path().join("pkg.wasm");
    std::fs::write(&wit, manifold_test_programs_wit_package()).unwrap();
    let pushed = env.json(&[
        "push",
        wit.to_str().unwrap(),
        &format!("{}/acme/api:0.1.0", registry.host()),
        "--json",
    ]);
    assert_eq!(pushed["kind"], "wit-package");
    let err = env.fails(&[
        "push",
        manifold_test_programs::CORE_MODULE,
        &format!("{}/acme/core:1", registry.host()),
    ]);
    assert!(err.contains("core Wasm module, not a component"), "{err}");
}

/// A WIT package encoded as a component, from the WIT text.
fn manifold_test_programs_wit_package() -> Vec<u8> {
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve
        .push_str(
            "api.wit",
            "package acme:api@0.1.0;\ninterface greet { hello: func() -> string; }\nworld greeter { export greet; }\n",
        )
        .unwrap();
    wit_component::encode(&resolve, pkg).unwrap()
}

#[test]
fn bad_inputs_are_errors_that_say_what_happened() {
    let (registry, env, reference, pushed) = probe_pushed();
    let digest = pushed["digest"].as_str().unwrap();

    // Unknown tag and repository: "not found", not an auth problem.
    let err = env.fails(&["pull", &format!("{}/acme/probe:9.9.9", registry.host())]);
    assert!(err.contains("not found") && err.contains("9.9.9"), "{err}");
    let err = env.fails(&["run", &format!("{}/acme/nothing:1.0.0", registry.host())]);
    assert!(err.contains("not found"), "{err}");
    assert!(!err.contains("login"), "{err}");

    // A tampered blob: both digests shown, nothing left in the cache.
    let file = registry.blob_file(digest);
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&file, bytes).unwrap();
    let err = env.fails(&["pull", &reference]);
    assert!(err.contains("does not match its digest"), "{err}");
    assert!(err.contains(digest), "{err}");
    assert!(blobs_in(&env.cache()).is_empty());
    let tmp: Vec<_> = std::fs::read_dir(env.cache().join("registry/tmp"))
        .unwrap()
        .collect();
    assert!(tmp.is_empty(), "half-written files left: {tmp:?}");

    // A container image, not a Wasm artifact.
    let layer = b"not a tarball".to_vec();
    let image_config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer_digest = upload_blob(&registry, "acme/image", &layer);
    let config_digest = upload_blob(&registry, "acme/image", &image_config);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": image_config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
    });
    crate::util::agent()
        .put(&format!(
            "http://{}/v2/acme/image/manifests/1",
            registry.host()
        ))
        .set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .send_bytes(manifest.to_string().as_bytes())
        .unwrap();
    let err = env.fails(&["pull", &format!("{}/acme/image:1", registry.host())]);
    assert!(
        err.contains("is a container image, not a Wasm component"),
        "{err}"
    );
}

fn upload_blob(registry: &Registry, repo: &str, bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    let agent = crate::util::agent();
    let start = agent
        .post(&format!(
            "http://{}/v2/{repo}/blobs/uploads/",
            registry.host()
        ))
        .call()
        .unwrap();
    let location = start.header("Location").unwrap().to_owned();
    let sep = if location.contains('?') { '&' } else { '?' };
    let url = if location.starts_with("http") {
        format!("{location}{sep}digest={digest}")
    } else {
        format!("http://{}{location}{sep}digest={digest}", registry.host())
    };
    agent
        .put(&url)
        .set("Content-Type", "application/octet-stream")
        .send_bytes(bytes)
        .unwrap();
    digest
}

#[test]
fn a_20_mb_component_round_trips_intact_and_concurrent_pulls_share_one_blob() {
    let registry = Registry::start();
    let env = Env::new();
    let big = big_component(env.dir.path(), 20 * 1024 * 1024);
    let reference = format!("{}/acme/big:1.0.0", registry.host());
    env.ok(&["push", big.to_str().unwrap(), &reference]);
    let children: Vec<Child> = (0..4)
        .map(|_| {
            env.cmd()
                .args(["pull", &reference, "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let blobs = blobs_in(&env.cache());
    assert_eq!(blobs.len(), 1);
    let cached = env.cache().join("registry/blobs/sha256").join(&blobs[0]);
    assert_eq!(sha256_file(&cached), sha256_file(&big));
    assert_eq!(env.ok(&["run", &reference]), "hello from cli-probe\n");
}

#[test]
fn htpasswd_registry_needs_login_and_login_is_checked() {
    let registry = Registry::start_with_auth(Some(("alice", "s3cret")));
    let env = Env::new();
    let reference = format!("{}/acme/probe:1.0.0", registry.host());
    let err = env.fails(&["push", probe(), &reference]);
    assert!(
        err.contains(&format!("manifold login {}", registry.host())),
        "{err}"
    );
    let login = |password: &str| {
        let mut child = env
            .cmd()
            .args(["login", &registry.host(), "-u", "alice", "--password-stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(password.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let bad = login("wrong\n");
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("refused"), "{}", stderr(&bad));
    assert!(!env.dir.path().join("docker/config.json").exists());
    let good = login("s3cret\n");
    assert!(good.status.success(), "{}", stderr(&good));
    let config = std::fs::read_to_string(env.dir.path().join("docker/config.json")).unwrap();
    assert!(config.contains(&registry.host()), "{config}");
    env.ok(&["push", probe(), &reference]);
    assert_eq!(env.ok(&["run", &reference]), "hello from cli-probe\n");
    // Someone else's credentials: refused, with the hint to log in again.
    let other = Env::new();
    std::fs::create_dir_all(other.dir.path().join("docker")).unwrap();
    std::fs::write(
        other.dir.path().join("docker/config.json"),
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6bm8="}}}}}}"#,
            registry.host()
        ),
    )
    .unwrap();
    let err = other.fails(&["pull", &reference]);
    assert!(err.contains("were refused"), "{err}");
}

/// A tiny HTTP/1.1 server on a free port: `handler(n, request_head)` answers the n-th
/// request (from 0) by writing raw bytes to the stream.
struct Stub {
    pub port: u16,
    pub hits: Arc<AtomicUsize>,
}

impl Stub {
    fn start(handler: impl Fn(usize, &str, &mut TcpStream) + Send + Sync + 'static) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let counter = counter.clone();
                let handler = handler.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    loop {
                        let mut head = String::new();
                        loop {
                            let mut line = String::new();
                            match reader.read_line(&mut line) {
                                Ok(0) | Err(_) => return,
                                Ok(_) => {}
                            }
                            if line == "\r\n" {
                                break;
                            }
                            head.push_str(&line);
                        }
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        handler(n, &head, &mut stream);
                        if head.to_ascii_lowercase().contains("connection: close") {
                            return;
                        }
                    }
                });
            }
        });
        Stub { port, hits }
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut text = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str("\r\n");
    let _ = stream.write_all(text.as_bytes());
    let _ = stream.write_all(body);
}

#[test]
fn package_names_resolve_through_the_wkg_config_and_the_well_known_document() {
    let registry = Registry::start();
    let env = Env::new();
    // The well-known document of a "registry" that sends OCI traffic elsewhere.
    let oci = registry.host();
    let document = Arc::new(Mutex::new(format!(
        r#"{{"preferredProtocol":"oci","oci":{{"registry":"{oci}","namespacePrefix":"wasm/"}}}}"#
    )));
    let doc = document.clone();
    let well_known = Stub::start(move |_, head, stream| {
        if head.starts_with("GET /.well-known/wasm-pkg/registry.json ") {
            let body = doc.lock().unwrap().clone();
            respond(
                stream,
                "200 OK",
                &[("Content-Type", "application/json".into())],
                body.as_bytes(),
            );
        } else {
            respond(stream, "404 Not Found", &[], b"");
        }
    });
    env.wkg_config(&format!(
        "[namespace_registries]\nacme = \"localhost:{}\"\n",
        well_known.port
    ));
    for version in ["1.0.0", "1.2.0", "2.0.0-rc.1"] {
        env.ok(&["push", probe(), &format!("acme:probe@{version}")]);
    }
    let err = env.fails(&["push", probe(), "acme:probe"]);
    assert!(err.contains("acme:probe@1.0.0"), "{err}");
    let (status, _) = registry.get("/v2/wasm/acme/probe/manifests/1.2.0");
    assert_eq!(status, 200, "pushed under the namespace prefix");
    assert!(well_known.hits.load(Ordering::SeqCst) >= 1);
    let exact = env.json(&["pull", "acme:probe@1.0.0", "--json"]);
    assert_eq!(exact["reference"], format!("{oci}/wasm/acme/probe:1.0.0"));
    let newest = env.json(&["pull", "acme:probe", "--json"]);
    assert_eq!(newest["reference"], format!("{oci}/wasm/acme/probe:1.2.0"));
    assert_eq!(
        env.ok(&["run", "acme:probe@1.2.0"]),
        "hello from cli-probe\n"
    );

    // Inline metadata in the config, no well-known document needed.
    let inline = Env::new();
    inline.wkg_config(&format!(
        "default_registry = \"unused.invalid\"\n[namespace_registries]\nacme = {{ registry = \"acme.invalid\", metadata = {{ preferredProtocol = \"oci\", oci = {{ registry = \"{oci}\", namespacePrefix = \"wasm/\" }} }} }}\n"
    ));
    assert_eq!(
        inline.ok(&["run", "acme:probe@1.0.0"]),
        "hello from cli-probe\n"
    );

    // An unknown namespace: which key to set.
    let err = Env::new().fails(&["pull", "nobody:probe@1.0.0"]);
    assert!(
        err.contains("namespace_registries") && err.contains("nobody"),
        "{err}"
    );
    // A missing package is missing.
    let err = env.fails(&["pull", "acme:absent@1.0.0"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn a_registry_failing_mid_download_is_retried_and_resumed_then_reported() {
    let bytes = std::fs::read(probe()).unwrap();
    let (manifest, digest) = wasm_manifest(&bytes);
    let half = bytes.len() / 2;
    // 1st blob request: 500; 2nd: half the body, then the connection closes;
    // 3rd: a range request for the rest.
    let blob_requests = Arc::new(AtomicUsize::new(0));
    let count = blob_requests.clone();
    let body = bytes.clone();
    let man = manifest.clone();
    let stub = Stub::start(move |_, head, stream| {
        let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
        if path == "/v2/" {
            respond(stream, "200 OK", &[], b"{}");
        } else if path.contains("/manifests/") {
            respond(
                stream,
                "200 OK",
                &[(
                    "Content-Type",
                    "application/vnd.oci.image.manifest.v1+json".into(),
                )],
                &man,
            );
        } else if path.contains("/blobs/") {
            match count.fetch_add(1, Ordering::SeqCst) {
                0 => respond(stream, "500 Internal Server Error", &[], b"boom"),
                1 => {
                    let text = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(text.as_bytes());
                    let _ = stream.write_all(&body[..half]);
                    let _ = stream.shutdown(std::net::Shutdown::Both);
                }
                _ => {
                    let lower = head.to_ascii_lowercase();
                    let from: usize = lower
                        .split("range: bytes=")
                        .nth(1)
                        .and_then(|r| r.split('-').next())
                        .and_then(|n| n.trim().parse().ok())
                        .unwrap_or(0);
                    let rest = &body[from..];
                    respond(
                        stream,
                        if from > 0 {
                            "206 Partial Content"
                        } else {
                            "200 OK"
                        },
                        &[(
                            "Content-Range",
                            format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
                        )],
                        rest,
                    );
                }
            }
        } else {
            respond(stream, "404 Not Found", &[], b"");
        }
    });
    let env = Env::new();
    let reference = format!("127.0.0.1:{}/acme/flaky:1", stub.port);
    let out = env.dir.path().join("out.wasm");
    let pulled = env.json(&["pull", &reference, "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(pulled["digest"], digest.as_str());
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(blob_requests.load(Ordering::SeqCst), 3);

    // A registry that always fails: a clear error after a bounded number of attempts.
    let always = Stub::start(move |_, head, stream| {
        if head.contains("/manifests/") {
            respond(
                stream,
                "200 OK",
                &[(
                    "Content-Type",
                    "application/vnd.oci.image.manifest.v1+json".into(),
                )],
                &manifest,
            );
        } else if head.starts_with("GET /v2/ ") {
            respond(stream, "200 OK", &[], b"{}");
        } else {
            respond(stream, "500 Internal Server Error", &[], b"down");
        }
    });
    let fresh = Env::new();
    let start = Instant::now();
    let err = fresh.fails(&["pull", &format!("127.0.0.1:{}/acme/flaky:1", always.port)]);
    assert!(
        err.contains("failed after 4 attempt(s)") && err.contains("500"),
        "{err}"
    );
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(blobs_in(&fresh.cache()).is_empty());
}

/// A CNCF Wasm manifest for `bytes` (the config blob is never fetched by a pull).
fn wasm_manifest(bytes: &[u8]) -> (Vec<u8>, String) {
    use sha2::Digest as _;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.wasm.config.v0+json", "digest": format!("sha256:{}", "0".repeat(64)), "size": 2},
        "layers": [{"mediaType": "application/wasm", "digest": digest, "size": bytes.len()}],
    });
    (manifest.to_string().into_bytes(), digest)
}

/// `wkg`. A missing wkg fails the test, unless `MANIFOLD_SKIP_WKG=1` says to skip it (never
/// under CI): a test that passes without running must be asked for.
fn wkg() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("wkg"))
            .find(|p| p.is_file())
    });
    let home = dirs_home()
        .map(|h| h.join(".cargo/bin/wkg"))
        .filter(|p| p.is_file());
    match found.or(home) {
        Some(p) => Some(p),
        None if std::env::var_os("MANIFOLD_SKIP_WKG").is_some_and(|v| v == "1")
            && std::env::var_os("CI").is_none() =>
        {
            eprintln!("\n*** SKIPPED: wkg is not installed and MANIFOLD_SKIP_WKG=1 ***\n");
            None
        }
        None => panic!(
            "wkg is missing; scripts/install-deps installs it (cargo install wkg@0.16.1 \
             --locked), or set MANIFOLD_SKIP_WKG=1 to skip this test outside CI"
        ),
    }
}

fn dirs_home() -> Option<PathBuf> {
    std::env::var_os("HOME").map(PathBuf::from)
}

fn skopeo(args: &[&str]) -> Output {
    Command::new("skopeo")
        .args(args)
        .output()
        .expect("skopeo (scripts/install-deps installs it)")
}

#[test]
fn skopeo_reads_what_manifold_pushes() {
    let (_registry, env, reference, pushed) = probe_pushed();
    let out = skopeo(&[
        "inspect",
        "--raw",
        "--tls-verify=false",
        &format!("docker://{reference}"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let manifest: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], pushed["digest"]);
    let layout = env.dir.path().join("layout");
    let out = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{reference}"),
        &format!("oci:{}:probe", layout.display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let hex = pushed["digest"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    let copied = std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(copied, std::fs::read(probe()).unwrap());
}

#[test]
fn wkg_reads_what_manifold_pushes_and_manifold_runs_what_wkg_pushes() {
    let Some(wkg) = wkg() else { return };
    let (registry, env, reference, _) = probe_pushed();
    let out_file = env.dir.path().join("by-wkg.wasm");
    let out = Command::new(&wkg)
        .args([
            "oci",
            "pull",
            "--insecure",
            &registry.host(),
            &reference,
            "-o",
        ])
        .arg(&out_file)
        .env("XDG_CONFIG_HOME", env.dir.path().join("config"))
        .env("XDG_CACHE_HOME", env.dir.path().join("wkg-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wkg oci pull: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(&out_file).unwrap(),
        std::fs::read(probe()).unwrap()
    );

    let theirs = format!("{}/acme/theirs:2.0.0", registry.host());
    let out = Command::new(&wkg)
        .args([
            "oci",
            "push",
            "--insecure",
            &registry.host(),
            &theirs,
            probe(),
        ])
        .env("XDG_CONFIG_HOME", env.dir.path().join("config"))
        .env("XDG_CACHE_HOME", env.dir.path().join("wkg-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wkg oci push: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let pulled = env.json(&["pull", &theirs, "--json"]);
    assert_eq!(pulled["digest"], sha256_file(Path::new(probe())).as_str());
    assert_eq!(env.ok(&["run", &theirs]), "hello from cli-probe\n");

    // `wkg publish` by package name (it reads the name and version inside the binary, so a
    // WIT package), then `manifold pull` by the same name and the same config.
    env.wkg_config(&format!(
        "[namespace_registries]\nacme = {{ registry = \"acme.invalid\", metadata = {{ preferredProtocol = \"oci\", oci = {{ registry = \"{}\", namespacePrefix = \"wasm/\" }} }} }}\n\n[registry.\"acme.invalid\"]\ntype = \"oci\"\n[registry.\"acme.invalid\".oci]\nprotocol = \"http\"\n",
        registry.host()
    ));
    let wit = env.dir.path().join("api.wasm");
    std::fs::write(&wit, manifold_test_programs_wit_package()).unwrap();
    let out = Command::new(&wkg)
        .arg("publish")
        .arg(&wit)
        .env("XDG_CONFIG_HOME", env.dir.path().join("config"))
        .env("XDG_CACHE_HOME", env.dir.path().join("wkg-cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wkg publish: {}{}",
        stdout(&out),
        stderr(&out)
    );
    let (status, _) = registry.get("/v2/wasm/acme/api/manifests/0.1.0");
    assert_eq!(status, 200);
    for name in ["acme:api@0.1.0", "acme:api"] {
        let pulled = env.json(&["pull", name, "--json"]);
        assert_eq!(pulled["digest"], sha256_file(&wit).as_str(), "{name}");
    }
}

#[test]
fn serve_from_a_reference_and_run_within_the_tag_ttl_or_offline() {
    let mut registry = Registry::start();
    let env = Env::new();
    let hello = format!("{}/acme/hello:1.0.0", registry.host());
    env.ok(&["push", manifold_test_programs::HTTP_HELLO, &hello]);
    let server = crate::util::Server::start_with_env(
        &[&hello],
        None,
        &[("MANIFOLD_CACHE_DIR", env.cache().to_str().unwrap())],
    );
    let (status, body) = crate::util::get(&server.url("/"));
    assert_eq!((status, body.as_str()), (200, "Hello from Manifold!\n"));
    drop(server);

    let probe_ref = format!("{}/acme/probe:1.0.0", registry.host());
    env.ok(&["push", probe(), &probe_ref]);
    env.ok(&["pull", &probe_ref]);
    // The registry goes away.
    let _ = registry.child.kill();
    let _ = registry.child.wait();
    // Within the tag's TTL: no registry needed, no warning.
    let out = env.run(&["run", &probe_ref]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    // Past it: the cached copy runs, with a warning; `pull` (which must ask) fails.
    let out = env
        .cmd()
        .env("MANIFOLD_TAG_TTL", "0s")
        .args(["run", &probe_ref])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from cli-probe\n");
    assert!(
        stderr(&out).contains("unreachable; running"),
        "{}",
        stderr(&out)
    );
    env.fails(&["pull", &probe_ref]);
    // Never pulled: an error, not a guess.
    let never = format!("{}/acme/never:1.0.0", registry.host());
    env.fails(&["run", &never]);
}
