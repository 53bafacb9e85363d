//! The backend against a real `nats-server -js` (started per test): containers, streamed
//! objects across chunk boundaries, ranges, atomic replacement, isolation, and outages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use super::*;

#[path = "../../../tests/all/nats_server.rs"]
#[allow(dead_code)]
mod nats_server;
#[path = "../../../tests/all/server_process.rs"]
#[allow(dead_code)]
mod server_process;

use nats_server::NatsServer;

fn scope(app: &str, container: &str) -> ScopedContainer {
    ScopedContainer::checked(app, container).expect("valid names")
}

/// Bytes that differ from chunk to chunk, so a misplaced chunk shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed ^ (i / CHUNK_SIZE) as u8)
        .collect()
}

async fn write(backend: &NatsBackend, c: &ScopedContainer, name: &str, data: &[u8]) {
    let mut writer = backend.start_write(c.app()).await.unwrap();
    // Odd-sized pieces, so chunk boundaries fall inside them.
    for piece in data.chunks(50_000) {
        writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    writer.commit(c, name).await.unwrap();
}

async fn read(
    backend: &NatsBackend,
    c: &ScopedContainer,
    name: &str,
    start: u64,
    end: u64,
) -> Vec<u8> {
    let mut data = backend.read_object(c, name, start, end).await.unwrap();
    let mut out = Vec::new();
    data.reader.read_to_end(&mut out).await.unwrap();
    assert_eq!(out.len() as u64, data.len);
    out
}

async fn list(backend: &NatsBackend, c: &ScopedContainer) -> Vec<String> {
    let mut names = backend.list_objects(c).await.unwrap();
    let mut all = Vec::new();
    loop {
        let batch = names.next_batch(2).await.unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
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
    let a = NatsBackend::shared("nats://127.0.0.1:4997", &NatsAuth::default()).unwrap();
    let b = NatsBackend::shared("nats://127.0.0.1:4997", &NatsAuth::default()).unwrap();
    assert!(Arc::ptr_eq(&a, &b), "one backend per URL");
}

#[tokio::test]
async fn an_unreachable_nats_is_a_storage_error_not_a_hang() {
    let backend = NatsBackend::new("nats://127.0.0.1:1").unwrap();
    let c = scope("app", "c");
    let start = Instant::now();
    for _ in 0..2 {
        let err = backend.container_info(&c).await.expect_err("no NATS there");
        assert!(matches!(err, BackendError::Storage(_)), "{err}");
        assert!(backend.start_write("app").await.is_err());
    }
    assert!(
        start.elapsed() < CONNECT_TIMEOUT * 4,
        "{:?}",
        start.elapsed()
    );
}

/// Every message that names the server hides its password; the host stays.
#[tokio::test]
async fn messages_name_the_server_without_its_password() {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let backend = NatsBackend::new("nats://blobs:s3cret@127.0.0.1:1").unwrap();
    let err = backend
        .container_info(&scope("app", "c"))
        .await
        .expect_err("no NATS there")
        .to_string();
    assert!(err.contains("nats://blobs:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");

    let err = NatsBackend::new("nats://blobs:s3cret@127.0.0.1:1,http://other:1")
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("nats://blobs:***@127.0.0.1:1"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_and_objects_on_a_real_server() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let (a, b) = (scope("shop", "a"), scope("shop", "b"));
    assert!(matches!(
        backend.container_info(&a).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    backend.create_container(&a).await.unwrap();
    backend.create_container(&b).await.unwrap();
    assert!(matches!(
        backend.create_container(&a).await,
        Err(BackendError::ContainerExists(_))
    ));
    assert!(backend.container_info(&a).await.unwrap().created_at > 1_700_000_000);

    // Several chunks, the last one partial; read whole and in ranges across chunk borders.
    let big = pattern(3 * CHUNK_SIZE + 1234, 7);
    write(&backend, &a, "dir/big.bin", &big).await;
    assert_eq!(read(&backend, &a, "dir/big.bin", 0, u64::MAX).await, big);
    let (s, e) = (CHUNK_SIZE as u64 - 10, 2 * CHUNK_SIZE as u64 + 10);
    assert_eq!(
        read(&backend, &a, "dir/big.bin", s, e).await,
        big[s as usize..=e as usize]
    );
    assert_eq!(read(&backend, &a, "dir/big.bin", 5, 5).await, big[5..6]);
    assert!(matches!(
        backend.read_object(&a, "dir/big.bin", 10, 5).await.err(),
        Some(BackendError::BadRange(_))
    ));
    assert!(matches!(
        backend
            .read_object(&a, "dir/big.bin", big.len() as u64, u64::MAX)
            .await
            .err(),
        Some(BackendError::BadRange(_))
    ));
    let info = backend.object_info(&a, "dir/big.bin").await.unwrap();
    assert_eq!(info.size, big.len() as u64);

    // Empty objects exist and read as nothing.
    write(&backend, &a, "empty", b"").await;
    assert_eq!(read(&backend, &a, "empty", 0, u64::MAX).await, b"");
    assert_eq!(backend.object_info(&a, "empty").await.unwrap().size, 0);

    // Replaced whole; the old chunks are gone from the stream.
    write(&backend, &a, "dir/big.bin", b"small").await;
    assert_eq!(
        read(&backend, &a, "dir/big.bin", 0, u64::MAX).await,
        b"small"
    );
    assert_eq!(list(&backend, &a).await, ["dir/big.bin", "empty"]);
    assert!(list(&backend, &b).await.is_empty(), "containers are apart");

    // Missing things say which is missing.
    assert!(matches!(
        backend.object_info(&a, "nope").await,
        Err(BackendError::NoSuchObject { .. })
    ));
    assert!(matches!(
        backend.object_info(&scope("shop", "zz"), "x").await,
        Err(BackendError::NoSuchContainer(_))
    ));
    let writer = backend.start_write("shop").await.unwrap();
    assert!(matches!(
        writer.commit(&scope("shop", "zz"), "x").await,
        Err(BackendError::NoSuchContainer(_))
    ));

    // Copy and move, within a container and across containers.
    backend
        .copy_object((&a, "dir/big.bin"), (&b, "copy"))
        .await
        .unwrap();
    assert_eq!(read(&backend, &b, "copy", 0, u64::MAX).await, b"small");
    write(&backend, &a, "m", &big).await;
    backend.move_object((&a, "m"), (&b, "copy")).await.unwrap();
    assert_eq!(read(&backend, &b, "copy", 0, u64::MAX).await, big);
    assert!(matches!(
        backend.object_info(&a, "m").await,
        Err(BackendError::NoSuchObject { .. })
    ));
    backend
        .move_object((&b, "copy"), (&b, "copy"))
        .await
        .unwrap();
    assert_eq!(read(&backend, &b, "copy", 0, u64::MAX).await, big);
    assert!(matches!(
        backend.move_object((&a, "m"), (&b, "x")).await,
        Err(BackendError::NoSuchObject { .. })
    ));

    // Delete, clear, delete the container.
    backend
        .delete_objects(&a, &["empty".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(list(&backend, &a).await, ["dir/big.bin"]);
    backend.clear(&a).await.unwrap();
    assert!(list(&backend, &a).await.is_empty());
    assert_eq!(list(&backend, &b).await, ["copy"]);
    backend.delete_container(&b).await.unwrap();
    assert!(matches!(
        backend.container_info(&b).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    backend.create_container(&b).await.unwrap();
    assert!(
        list(&backend, &b).await.is_empty(),
        "a new container starts empty"
    );

    // Nothing but the markers and live metas is left: every chunk was purged.
    let store = backend.inner.store("shop").await.unwrap();
    let stream = store.stream.clone();
    let chunk_messages = stream
        .info_with_subjects(format!("$O.{}.C.>", store.bucket))
        .await
        .unwrap()
        .map(|s| s.unwrap().1)
        .collect::<Vec<usize>>()
        .await;
    assert!(chunk_messages.is_empty(), "chunks left: {chunk_messages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_write_is_invisible_and_its_chunks_purged() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let a = scope("app", "a");
    backend.create_container(&a).await.unwrap();
    write(&backend, &a, "k", b"old").await;
    let mut writer = backend.start_write("app").await.unwrap();
    writer
        .write(Bytes::from(pattern(2 * CHUNK_SIZE + 1, 1)))
        .await
        .unwrap();
    // Chunks are in the stream, but no name refers to them.
    assert_eq!(read(&backend, &a, "k", 0, u64::MAX).await, b"old");
    assert_eq!(list(&backend, &a).await, ["k"]);
    drop(writer);
    let store = backend.inner.store("app").await.unwrap();
    let start = Instant::now();
    loop {
        let stream = store.stream.clone();
        let chunks: Vec<usize> = stream
            .info_with_subjects(format!("$O.{}.C.>", store.bucket))
            .await
            .unwrap()
            .map(|s| s.unwrap().1)
            .collect()
            .await;
        if chunks == [1] {
            break; // only "old"'s chunk is left
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{chunks:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_apart_and_long_names_work() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let one = scope("team/one", "c");
    let two = scope("team-one", "c");
    backend.create_container(&one).await.unwrap();
    assert!(matches!(
        backend.container_info(&two).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    backend.create_container(&two).await.unwrap();
    write(&backend, &one, "k", b"1").await;
    assert!(list(&backend, &two).await.is_empty());
    let long_app = "é".repeat(120);
    let long = scope(&long_app, &"c".repeat(255));
    backend.create_container(&long).await.unwrap();
    let name = format!("{}/{}", "ü".repeat(60), "x.y ".repeat(30));
    write(&backend, &long, &name, b"deep").await;
    assert_eq!(list(&backend, &long).await, std::slice::from_ref(&name));
    assert_eq!(read(&backend, &long, &name, 0, u64::MAX).await, b"deep");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_fails_calls_and_they_recover() {
    let mut server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let a = scope("app", "a");
    backend.create_container(&a).await.unwrap();
    write(&backend, &a, "k", b"before").await;
    server.stop();
    let start = Instant::now();
    let err = loop {
        match backend.object_info(&a, "k").await {
            Err(err) => break err,
            Ok(_) => {
                assert!(start.elapsed() < Duration::from_secs(10), "still answering");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(matches!(err, BackendError::Storage(_)), "{err}");
    assert!(backend.start_write("app").await.is_err());
    server.restart();
    let start = Instant::now();
    loop {
        if let Ok(info) = backend.object_info(&a, "k").await {
            assert_eq!(info.size, 6);
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    write(&backend, &a, "after", b"x").await;
    assert_eq!(read(&backend, &a, "k", 0, u64::MAX).await, b"before");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_overtaken_by_a_replace_gives_the_old_bytes_or_an_error_never_a_mix() {
    let server = NatsServer::start();
    let backend = NatsBackend::new(&server.url()).unwrap();
    let a = scope("app", "a");
    backend.create_container(&a).await.unwrap();
    let old = pattern(40 * CHUNK_SIZE, 3);
    write(&backend, &a, "k", &old).await;
    let mut data = backend.read_object(&a, "k", 0, u64::MAX).await.unwrap();
    let mut got = vec![0; 1000];
    data.reader.read_exact(&mut got).await.unwrap();
    write(&backend, &a, "k", &pattern(40 * CHUNK_SIZE, 9)).await;
    let start = Instant::now();
    let rest = tokio::time::timeout(READ_IDLE * 2, async {
        let mut rest = Vec::new();
        data.reader.read_to_end(&mut rest).await.map(|_| rest)
    })
    .await
    .expect("the read ended instead of hanging");
    match rest {
        Ok(rest) => {
            got.extend(rest);
            assert!(got == old, "a finished read returned the old object whole");
        }
        Err(e) => eprintln!("the read failed after {:?}: {e}", start.elapsed()),
    }
    assert_eq!(
        read(&backend, &a, "k", 0, u64::MAX).await,
        pattern(40 * CHUNK_SIZE, 9)
    );
}
