//! RPC plugins over NATS: the Rust example wRPC server (`examples/plugins/rust-rpc`) meets the
//! host on a subject prefix of a real `nats-server`. The conformance guest passes with the
//! plugin started by the host and already running; a NATS restart fails the calls made
//! during the outage and later calls succeed; nobody subscribed is a clear error within the
//! deadline. Upstream `wrpc-transport-nats` serving passes the conformance suite too; a user
//! and password or a token in the URL authenticate (wrong ones are a clear error), and
//! `tls://` works with a private CA.

use std::time::{Duration, Instant};

use bytes::Bytes;
use manifold_config::{PluginAddress, PluginKind, PluginPlan};
use manifold_plugin_host::Transport as _;
use manifold_plugin_host::rpc::RpcPlugin;
use manifold_test_plugins as plugins;

use crate::nats_server::NatsServer;
use crate::plugins::{assert_conformance, conformance_manifest, run_conformance};
use crate::util::{scratch_with, stderr};

const WIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/test-programs/wit/conformance.wit"
);
const INSTANCE: &str = "manifold:conformance/types@0.1.0";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// An RPC plugin over NATS at `url` on `subject`, started from `command` if not empty.
fn plan(url: &str, subject: &str, command: Vec<String>, timeout: Duration) -> PluginPlan {
    PluginPlan {
        name: "rust".into(),
        kind: PluginKind::Rpc,
        path: None,
        wit: Some(WIT.into()),
        interfaces: Vec::new(),
        command,
        address: Some(PluginAddress::Nats { url: url.into() }),
        subject: Some(subject.into()),
        credentials: None,
        tls_ca: None,
        env: Default::default(),
        cwd: std::env::temp_dir(),
        timeout,
        max_in_flight: 8,
        max_answer: 1 << 20,
        rlimits: Default::default(),
        share: Vec::new(),
    }
}

/// `inc(x)` over the transport: wRPC encodes a u64 as unsigned LEB128, one byte below 128.
async fn inc(plugin: &RpcPlugin, x: u8) -> Result<Bytes, manifold_plugin_host::CallError> {
    assert!(x < 127);
    plugin.call(INSTANCE, "inc", Bytes::from(vec![x])).await
}

/// Waits until the plugin answers `inc` (it has connected and subscribed).
async fn wait_answering(plugin: &RpcPlugin, within: Duration) {
    let start = Instant::now();
    loop {
        match inc(plugin, 1).await {
            Ok(reply) => {
                assert_eq!(&reply[..], &[2]);
                return;
            }
            Err(e) => assert!(
                start.elapsed() < within,
                "the plugin did not answer within {within:?}: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn rust_wrpc_server_passes_conformance_over_nats() {
    let nats = NatsServer::start();
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\naddress = {:?}\nsubject = \"test.started\"\n",
            plugins::RUST_RPC,
            nats.url()
        )),
    );
    assert_conformance(
        &run_conformance(dir.path()),
        "Rust wRPC plugin (NATS, started by the host)",
    );
}

/// Upstream wRPC's own NATS transport (`wrpc-transport-nats`) serving, Manifold's calling:
/// the two speak the same wire.
#[test]
fn upstream_wrpc_transport_nats_server_passes_conformance() {
    let nats = NatsServer::start();
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\ncommand = [{:?}]\naddress = {:?}\nsubject = \"test.upstream\"\n",
            plugins::RUST_RPC_UPSTREAM_NATS,
            nats.url()
        )),
    );
    assert_conformance(
        &run_conformance(dir.path()),
        "Rust wRPC plugin on upstream wrpc-transport-nats (NATS, started by the host)",
    );
}

#[test]
fn rust_wrpc_server_already_running_passes_conformance_over_nats() {
    let nats = NatsServer::start();
    let mut server = std::process::Command::new(plugins::RUST_RPC)
        .env("MANIFOLD_PLUGIN_ADDRESS", nats.url())
        .env("MANIFOLD_PLUGIN_SUBJECT", "test.running")
        .spawn()
        .unwrap();
    // Wait until it has subscribed, asking as the host would.
    let rt = runtime();
    rt.block_on(async {
        let probe = RpcPlugin::start(&plan(
            &nats.url(),
            "test.running",
            Vec::new(),
            Duration::from_secs(5),
        ))
        .unwrap();
        wait_answering(&probe, Duration::from_secs(20)).await;
    });
    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\naddress = {:?}\nsubject = \"test.running\"\n",
            nats.url()
        )),
    );
    let out = run_conformance(dir.path());
    let _ = server.kill();
    let _ = server.wait();
    assert_conformance(&out, "Rust wRPC plugin (NATS, already running)");
}

/// The NATS server restarts while the host and a plugin it started use it: calls during the
/// outage fail at once with an error (no hang, no panic), and once both have reconnected,
/// calls succeed again.
#[test]
fn a_nats_restart_fails_calls_during_the_outage_and_later_calls_succeed() {
    let mut nats = NatsServer::start();
    let rt = runtime();
    let plugin = rt.block_on(async {
        let plugin = RpcPlugin::start(&plan(
            &nats.url(),
            "test.restart",
            vec![plugins::RUST_RPC.to_string()],
            Duration::from_secs(5),
        ))
        .unwrap();
        wait_answering(&plugin, Duration::from_secs(20)).await;
        for x in 0..20 {
            assert_eq!(&inc(&plugin, x).await.unwrap()[..], &[x + 1]);
        }
        plugin
    });

    nats.stop();
    rt.block_on(async {
        // Give the host's client a moment to notice the lost connection.
        tokio::time::sleep(Duration::from_millis(300)).await;
        for x in 0..5 {
            let start = Instant::now();
            let err = inc(&plugin, x)
                .await
                .expect_err("a call while NATS is down must fail");
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "failed only after {:?}",
                start.elapsed()
            );
            let text = err.to_string();
            assert!(
                matches!(err, manifold_plugin_host::CallError::Unreachable { .. }),
                "{text}"
            );
            assert!(text.contains("not connected to the NATS server"), "{text}");
        }
    });

    nats.restart();
    rt.block_on(async {
        wait_answering(&plugin, Duration::from_secs(20)).await;
        for x in 0..20 {
            assert_eq!(&inc(&plugin, x).await.unwrap()[..], &[x + 1]);
        }
    });
    drop(plugin);
}

/// Nobody subscribed on the prefix: NATS's "no responders" becomes a clear error at once,
/// well within the call deadline, through the library and through `manifold run`.
#[test]
fn a_plugin_not_subscribed_is_a_clear_error_within_the_deadline() {
    let nats = NatsServer::start();
    let rt = runtime();
    rt.block_on(async {
        let plugin = RpcPlugin::start(&plan(
            &nats.url(),
            "test.nobody",
            Vec::new(),
            Duration::from_secs(10),
        ))
        .unwrap();
        let start = Instant::now();
        let err = inc(&plugin, 1).await.expect_err("nobody answers");
        assert!(start.elapsed() < Duration::from_secs(5), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("no plugin is subscribed to test.nobody.wrpc.0.0.1."),
            "{text}"
        );
    });

    let dir = scratch_with(
        "manifold.toml",
        &conformance_manifest(&format!(
            "[plugins.rust]\nkind = \"rpc\"\nwit = {WIT:?}\naddress = {:?}\nsubject = \"test.nobody\"\ntimeout = \"10s\"\n",
            nats.url()
        )),
    );
    let start = Instant::now();
    let out = run_conformance(dir.path());
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_ne!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("plugin `rust` is unreachable"), "{err}");
    assert!(
        err.contains("no plugin is subscribed to test.nobody"),
        "{err}"
    );
}

/// A subscriber that takes invocations and never answers (a hung plugin): the call fails
/// with the deadline error at its deadline, and the host goes on.
#[test]
fn a_plugin_that_never_answers_fails_the_call_at_its_deadline() {
    use std::io::{BufRead, BufReader, Write};
    let nats = NatsServer::start();
    // A bare NATS client, subscribed on the prefix and silent.
    let stream = std::net::TcpStream::connect(("127.0.0.1", nats.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    writer
        .write_all(b"CONNECT {\"verbose\":false}\r\nSUB test.hung.wrpc.0.0.1.> 1\r\nPING\r\n")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !line.starts_with("PONG") {
        line.clear();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "nats-server hung up"
        );
    }

    let rt = runtime();
    rt.block_on(async {
        let deadline = Duration::from_millis(800);
        let plugin =
            RpcPlugin::start(&plan(&nats.url(), "test.hung", Vec::new(), deadline)).unwrap();
        for _ in 0..2 {
            let start = Instant::now();
            let err = inc(&plugin, 1).await.expect_err("nobody answers");
            let took = start.elapsed();
            assert!(
                matches!(err, manifold_plugin_host::CallError::Timeout { .. }),
                "{err}"
            );
            assert!(took >= deadline && took < deadline * 3, "took {took:?}");
            assert!(err.to_string().contains("did not answer"), "{err}");
        }
    });
    // The silent subscriber did receive the invocations.
    let mut seen = 0;
    while seen < 2 {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0);
        if line.starts_with("MSG test.hung.wrpc.0.0.1.manifold:conformance/types@0.1.0.inc ") {
            seen += 1;
        }
    }
}

#[test]
fn a_subject_prefix_that_is_not_a_nats_subject_is_refused() {
    let rt = runtime();
    let _guard = rt.enter();
    for bad in ["a..b", "acme billing", "acme.*", "acme.>", ""] {
        let err = match RpcPlugin::start(&plan(
            "nats://127.0.0.1:4222",
            bad,
            Vec::new(),
            Duration::from_secs(1),
        )) {
            Ok(_) => panic!("{bad:?} accepted"),
            Err(e) => format!("{e:#}"),
        };
        assert!(err.contains("plugin `rust`"), "{err}");
        assert!(err.contains("is not a NATS subject"), "{err}");
    }
}

/// A plugin whose NATS URL is `url`, not started by the host: its first call's error.
fn first_call_error(url: &str) -> String {
    runtime().block_on(async {
        let plugin =
            RpcPlugin::start(&plan(url, "test.auth", Vec::new(), Duration::from_secs(5))).unwrap();
        inc(&plugin, 1).await.expect_err("refused").to_string()
    })
}

/// nats-server with a user and password (`--user`/`--pass`) or a token (`--auth`): the
/// right ones in the URL let the host and the plugin it starts (which gets the same URL)
/// meet; wrong ones are a clear error naming the server, without the secret.
#[test]
fn nats_credentials_in_the_url_authenticate_the_host_and_the_plugin() {
    for (server_args, user, wrong) in [
        (
            &["--user", "manifold", "--pass", "s3cret"][..],
            "manifold:s3cret",
            "manifold:wrong",
        ),
        (&["--auth", "t0ken"][..], "t0ken", "not-the-t0ken"),
    ] {
        let nats = NatsServer::start_with(server_args);
        let url = |userinfo: &str| format!("nats://{userinfo}@127.0.0.1:{}", nats.port);
        runtime().block_on(async {
            let plugin = RpcPlugin::start(&plan(
                &url(user),
                "test.auth",
                vec![plugins::RUST_RPC.to_string()],
                Duration::from_secs(10),
            ))
            .unwrap();
            wait_answering(&plugin, Duration::from_secs(20)).await;
        });
        let err = first_call_error(&url(wrong));
        let server = format!("@127.0.0.1:{}", nats.port);
        assert!(
            err.contains("refused the plugin connection's credentials"),
            "{err}"
        );
        assert!(err.contains(&server), "{err}");
        assert!(!err.contains("wrong") && !err.contains("not-the"), "{err}");
        // No credentials at all: refused too.
        let err = first_call_error(&nats.url());
        assert!(err.contains("refused"), "{err}");
    }
}

/// TLS with a private CA (made here with the openssl CLI): `tls://` with `tls-ca` connects;
/// without the CA the server's certificate is not trusted.
#[test]
fn nats_over_tls_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("openssl (scripts/install-deps installs it)");
        assert!(out.status.success(), "openssl {args:?}: {}", stderr(&out));
    };
    std::fs::write(
        dir.path().join("leaf.ext"),
        "subjectAltName = IP:127.0.0.1\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "server.pem",
    ]);
    let path = |name: &str| dir.path().join(name).display().to_string();
    let nats = NatsServer::start_with(&[
        "--tls",
        "--tlscert",
        &path("server.pem"),
        "--tlskey",
        &path("server.key"),
    ]);
    let url = format!("tls://127.0.0.1:{}", nats.port);
    runtime().block_on(async {
        let mut with_ca = plan(&url, "test.tls", Vec::new(), Duration::from_secs(5));
        with_ca.tls_ca = Some(dir.path().join("ca.pem"));
        let plugin = RpcPlugin::start(&with_ca).unwrap();
        // Connected (TLS and all): nobody serves the prefix, which NATS itself says.
        let err = inc(&plugin, 1)
            .await
            .expect_err("nobody subscribed")
            .to_string();
        assert!(err.contains("no plugin is subscribed to test.tls"), "{err}");

        let without =
            RpcPlugin::start(&plan(&url, "test.tls", Vec::new(), Duration::from_secs(5))).unwrap();
        let err = inc(&without, 1).await.expect_err("untrusted").to_string();
        assert!(
            err.contains(&format!("tls://127.0.0.1:{}", nats.port)),
            "{err}"
        );
        assert!(!err.contains("no plugin is subscribed"), "{err}");
    });
}
