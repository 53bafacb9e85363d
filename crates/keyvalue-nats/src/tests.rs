//! The backend against a real `nats-server -js` (started per test), where the behaviour is
//! NATS's own: revisions, delete markers, key listing across pages, foreign keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[path = "../../../tests/all/nats_server.rs"]
#[allow(dead_code)]
mod nats_server;
#[path = "../../../tests/all/server_process.rs"]
#[allow(dead_code)]
mod server_process;

use nats_server::NatsServer;

fn scope(app: &str, bucket: &str) -> ScopedBucket {
    ScopedBucket::checked(app, bucket).expect("valid names")
}

#[test]
fn a_bad_url_is_a_config_error() {
    for bad in [
        "redis://127.0.0.1:6379",
        "not a url",
        "nats://ok:4222,http://x",
    ] {
        let err = NatsBackend::new(bad).err().expect("refused");
        assert!(err.to_string().contains(bad), "{err}");
    }
    assert!(NatsBackend::new("nats://a:4222, nats://b:4222").is_ok());
}

#[test]
fn one_backend_per_url_per_process() {
    let a = NatsBackend::shared("nats://127.0.0.1:4999", &NatsAuth::default()).unwrap();
    let b = NatsBackend::shared("nats://127.0.0.1:4999", &NatsAuth::default()).unwrap();
    let c = NatsBackend::shared("nats://127.0.0.1:4998", &NatsAuth::default()).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
}

#[tokio::test]
async fn an_unreachable_nats_is_a_storage_error_not_a_hang() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let backend = NatsBackend::new("nats://127.0.0.1:1").unwrap();
    let bucket = scope("app", "default");
    let start = Instant::now();
    for _ in 0..2 {
        let err = backend.get(&bucket, "k").await.expect_err("no NATS there");
        assert!(matches!(err, BackendError::Storage(_)), "{err}");
    }
    assert!(
        start.elapsed() < CONNECT_TIMEOUT * 4,
        "{:?}",
        start.elapsed()
    );
}

/// Every message that names the server hides its password or token; the host stays.
#[tokio::test]
async fn messages_name_the_server_without_its_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    for (url, shown) in [
        ("nats://kv:s3cret@127.0.0.1:1", "nats://kv:***@127.0.0.1:1"),
        ("nats://s3cret@127.0.0.1:1", "nats://***@127.0.0.1:1"),
    ] {
        let backend = NatsBackend::new(url).unwrap();
        let err = backend
            .get(&scope("app", "default"), "k")
            .await
            .expect_err("no NATS there")
            .to_string();
        assert!(err.contains(shown), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }
    let err = NatsBackend::new("nats://kv:s3cret@127.0.0.1:port")
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("nats://kv:***@127.0.0.1:port"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn semantics_on_a_real_server() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let b = scope("team/app", "my bucket");

    // Keys NATS would refuse as they are round-trip.
    for key in ["", "a.b", "*", "with space", "ünï"] {
        backend.set(&b, key, key.as_bytes()).await.unwrap();
        assert_eq!(
            backend.get(&b, key).await.unwrap().as_deref(),
            Some(key.as_bytes())
        );
    }
    assert!(backend.exists(&b, "a.b").await.unwrap());
    backend.delete(&b, "a.b").await.unwrap();
    assert!(!backend.exists(&b, "a.b").await.unwrap());
    assert_eq!(backend.get(&b, "a.b").await.unwrap(), None);
    backend.delete(&b, "never-there").await.unwrap();

    // A deleted key counts from zero, and compare-and-swap on absence sees it as absent.
    assert_eq!(backend.increment_i64(&b, "a.b", -3).await.unwrap(), -3);
    backend.delete(&b, "a.b").await.unwrap();
    assert_eq!(
        backend
            .compare_and_swap(&b, "a.b", None, b"x")
            .await
            .unwrap(),
        Swap::Done
    );
    assert_eq!(
        backend
            .compare_and_swap(&b, "a.b", None, b"y")
            .await
            .unwrap(),
        Swap::Changed(Some(b"x".to_vec()))
    );
    assert_eq!(
        backend
            .compare_and_swap(&b, "a.b", Some(b"x"), b"y")
            .await
            .unwrap(),
        Swap::Done
    );
    let err = backend.increment_u64(&b, "a.b", 1).await.unwrap_err();
    assert!(matches!(err, BackendError::NotACounter("u64", _)), "{err}");
    backend
        .set(&b, "max", b"18446744073709551615")
        .await
        .unwrap();
    let err = backend.increment_u64(&b, "max", 1).await.unwrap_err();
    assert!(matches!(err, BackendError::Overflow { .. }), "{err}");

    // Too long to encode: refused for writes, absent for reads.
    let long = "é".repeat(MAX_ENCODED_KEY);
    assert!(matches!(
        backend.set(&b, &long, b"v").await,
        Err(BackendError::Unsupported(_))
    ));
    assert_eq!(backend.get(&b, &long).await.unwrap(), None);
    backend.delete(&b, &long).await.unwrap();
    let pairs = vec![
        ("ok".to_owned(), b"1".to_vec()),
        (long.clone(), b"2".to_vec()),
    ];
    assert!(backend.set_many(&b, &pairs).await.is_err());
    assert_eq!(
        backend.get(&b, "ok").await.unwrap(),
        None,
        "nothing written"
    );

    // Another app's bucket of the same name is another JetStream bucket.
    let other = scope("other-app", "my bucket");
    assert_eq!(backend.get(&other, "").await.unwrap(), None);
    backend.set(&other, "", b"other").await.unwrap();
    // The longest readable bucket name and a hashed one are accepted by the server.
    for app in ["x".repeat(195), "é".repeat(100)] {
        let long = scope(&app, "b");
        backend.set(&long, "k", b"v").await.unwrap();
        assert_eq!(
            backend.get(&long, "k").await.unwrap().as_deref(),
            Some(&b"v"[..])
        );
    }
    assert_eq!(
        backend.get(&b, "").await.unwrap().as_deref(),
        Some(&b""[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_pages_through_every_key_once() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let b = scope("app", "many");
    let pairs: Vec<KeyValue> = (0..PAGE_KEYS + 10)
        .map(|i| (format!("key.{i:05}"), vec![1]))
        .collect();
    backend.set_many(&b, &pairs).await.unwrap();
    let got = backend
        .get_many(&b, &["key.00003".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(got, vec![Some(("key.00003".into(), vec![1])), None]);

    let reads = || backend.key_reads.load(std::sync::atomic::Ordering::Relaxed);
    let before = reads();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = backend
            .list_keys_string(&b, cursor.as_deref())
            .await
            .unwrap();
        seen.extend(page.keys);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(seen, expected);
    assert_eq!(
        reads() - before,
        1,
        "one read of the bucket for the whole listing"
    );

    let before = reads();
    let first = backend.list_keys_u64(&b, None).await.unwrap();
    assert_eq!(first.keys.len(), PAGE_KEYS);
    let second = backend.list_keys_u64(&b, first.next).await.unwrap();
    assert_eq!(second.keys.len(), 10);
    assert_eq!(second.next, None);
    assert_eq!(reads() - before, 1, "one read for the offset listing too");
    // A cursor already used (or not kept) still works: the bucket is read again.
    let again = backend.list_keys_u64(&b, first.next).await.unwrap();
    assert_eq!(again.keys, second.keys);
    assert_eq!(reads() - before, 2);

    let keys: Vec<String> = expected[..5].to_vec();
    backend.delete_many(&b, &keys).await.unwrap();
    let page = backend.list_keys_u64(&b, None).await.unwrap();
    assert_eq!(page.keys.first().map(String::as_str), Some("key.00005"));

    // A key written into the bucket by someone else, not in our encoding, is not listed.
    let store = backend.store(&b).await.unwrap();
    store
        .put("foreign.key", Bytes::from_static(b"x"))
        .await
        .unwrap();
    let page = backend
        .list_keys_string(&b, Some("key.01005"))
        .await
        .unwrap();
    assert_eq!(
        page.keys,
        vec!["key.01006", "key.01007", "key.01008", "key.01009"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_increments_are_exact() {
    let server = NatsServer::start();
    let backend = Arc::new(NatsBackend::new(&server.url()).unwrap());
    let b = scope("app", "counters");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (backend, b) = (backend.clone(), b.clone());
            tokio::spawn(async move {
                for _ in 0..25 {
                    backend.increment_u64(&b, "n", 1).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        backend.get(&b, "n").await.unwrap().as_deref(),
        Some(&b"200"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_and_password_in_the_url_authenticate_and_wrong_ones_are_named() {
    let server = NatsServer::start_with(&["--user", "kv", "--pass", "s3cret"]);
    let url = |userinfo: &str| format!("nats://{userinfo}@127.0.0.1:{}", server.port);
    let bucket = scope("app", "default");
    let backend = NatsBackend::new(&url("kv:s3cret")).unwrap();
    backend.set(&bucket, "k", b"v").await.unwrap();
    assert_eq!(
        backend.get(&bucket, "k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );

    let wrong = NatsBackend::new(&url("kv:wrong")).unwrap();
    let err = wrong
        .get(&bucket, "k")
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains(&format!(
            "the NATS server at nats://kv:***@127.0.0.1:{} refused the key-value connection's credentials",
            server.port
        )),
        "{err}"
    );
    assert!(!err.contains("wrong"), "{err}");
}

#[tokio::test]
async fn a_missing_credentials_file_is_named() {
    let auth = NatsAuth {
        credentials: Some("/nonexistent/user.creds".into()),
        tls_ca: None,
    };
    let backend = NatsBackend::with_auth("nats://127.0.0.1:1", auth).unwrap();
    let err = backend
        .get(&scope("app", "default"), "k")
        .await
        .expect_err("no file")
        .to_string();
    assert!(
        err.contains("cannot read the NATS credentials file /nonexistent/user.creds"),
        "{err}"
    );
}
