#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use tokio::io::AsyncReadExt as _;

use super::*;

fn scope(app: &str, container: &str) -> ScopedContainer {
    ScopedContainer::checked(app, container).unwrap()
}

async fn put(store: &Embedded, c: &ScopedContainer, name: &str, bytes: &[u8]) {
    let mut writer = store.start_write(c.app()).await.unwrap();
    for chunk in bytes.chunks(3) {
        writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
    writer.commit(c, name).await.unwrap();
}

async fn read(store: &Embedded, c: &ScopedContainer, name: &str, start: u64, end: u64) -> Vec<u8> {
    let mut data = store.read_object(c, name, start, end).await.unwrap();
    let mut bytes = Vec::new();
    data.reader.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(bytes.len() as u64, data.len);
    bytes
}

async fn list(store: &Embedded, c: &ScopedContainer) -> Vec<String> {
    let mut names = store.list_objects(c).await.unwrap();
    let mut all = Vec::new();
    loop {
        let batch = names.next_batch(2).await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 2);
        all.extend(batch);
    }
    all.sort();
    all
}

#[tokio::test]
async fn objects_round_trip_through_containers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(dir.path(), None).unwrap();
    let c = scope("app", "photos");
    assert!(matches!(
        store.container_info(&c).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    store.create_container(&c).await.unwrap();
    assert!(matches!(
        store.create_container(&c).await,
        Err(BackendError::ContainerExists(_))
    ));
    assert!(store.container_info(&c).await.unwrap().created_at > 0);

    put(&store, &c, "a/b.txt", b"hello world").await;
    put(&store, &c, ".hidden", b"").await;
    assert_eq!(
        read(&store, &c, "a/b.txt", 0, u64::MAX).await,
        b"hello world"
    );
    assert_eq!(read(&store, &c, "a/b.txt", 6, 8).await, b"wor");
    assert_eq!(read(&store, &c, ".hidden", 0, 0).await, b"");
    assert!(matches!(
        store.read_object(&c, "a/b.txt", 11, 20).await,
        Err(BackendError::BadRange(_))
    ));
    assert!(matches!(
        store.read_object(&c, "a/b.txt", 3, 2).await,
        Err(BackendError::BadRange(_))
    ));
    assert!(matches!(
        store.read_object(&c, "missing", 0, 1).await,
        Err(BackendError::NoSuchObject { .. })
    ));
    let info = store.object_info(&c, "a/b.txt").await.unwrap();
    assert_eq!(info.size, 11);
    assert_eq!(list(&store, &c).await, [".hidden", "a/b.txt"]);

    // Replacing keeps a reader's bytes: it holds the old file.
    let mut old = store.read_object(&c, "a/b.txt", 0, u64::MAX).await.unwrap();
    put(&store, &c, "a/b.txt", b"new").await;
    let mut bytes = Vec::new();
    old.reader.read_to_end(&mut bytes).await.unwrap();
    assert_eq!(bytes, b"hello world");
    assert_eq!(read(&store, &c, "a/b.txt", 0, u64::MAX).await, b"new");

    let other = scope("app", "docs");
    store.create_container(&other).await.unwrap();
    store
        .copy_object((&c, "a/b.txt"), (&other, "copy"))
        .await
        .unwrap();
    store
        .move_object((&c, ".hidden"), (&other, "moved"))
        .await
        .unwrap();
    assert_eq!(list(&store, &c).await, ["a/b.txt"]);
    assert_eq!(list(&store, &other).await, ["copy", "moved"]);
    assert!(matches!(
        store.move_object((&c, "gone"), (&other, "x")).await,
        Err(BackendError::NoSuchObject { .. })
    ));
    store
        .delete_objects(&other, &["copy".into(), "absent".into()])
        .await
        .unwrap();
    assert_eq!(list(&store, &other).await, ["moved"]);
    store.clear(&other).await.unwrap();
    assert!(list(&store, &other).await.is_empty());
    store.delete_container(&other).await.unwrap();
    assert!(matches!(
        store.list_objects(&other).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    // Nothing is left behind in staging.
    let staging = dir.path().join(BLOBSTORE_DIR).join("app").join(STAGING);
    assert_eq!(fs::read_dir(staging).unwrap().count(), 0);
}

#[tokio::test]
async fn an_uncommitted_object_is_never_visible_and_is_cleaned_up() {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(dir.path(), None).unwrap();
    let c = scope("app", "c");
    store.create_container(&c).await.unwrap();
    let mut writer = store.start_write("app").await.unwrap();
    writer.write(Bytes::from_static(b"partial")).await.unwrap();
    assert!(list(&store, &c).await.is_empty());
    let staging = dir.path().join(BLOBSTORE_DIR).join("app").join(STAGING);
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 1);
    drop(writer);
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
    // Another handle of this process does not empty staging/: it may hold a writer's file.
    let writer = store.start_write("app").await.unwrap();
    let again = Embedded::open(dir.path(), None).unwrap();
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 1);
    drop((writer, again));
    // What a crash leaves in staging is removed when the store is next opened.
    fs::write(staging.join("object-left-by-a-crash"), b"x").unwrap();
    drop(store);
    Embedded::open(dir.path(), None).unwrap();
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
}

/// Holds `data_dir`'s lock as another process would: its own open file of the lock file.
fn lock_as_another_process(data_dir: &Path) -> File {
    use manifold_provider::data_dir::LOCK_FILE;
    let file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(data_dir.join(LOCK_FILE))
        .unwrap();
    file.try_lock().unwrap();
    (&file).write_all(b"4242\n").unwrap();
    file
}

#[tokio::test]
async fn a_data_directory_locked_by_another_process_is_refused_before_staging_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    // The other process's object in flight.
    let staging = dir.path().join(BLOBSTORE_DIR).join("app").join(STAGING);
    fs::create_dir_all(&staging).unwrap();
    fs::write(staging.join("object-in-flight"), b"theirs").unwrap();
    let other = lock_as_another_process(dir.path());
    let err = Embedded::open(dir.path(), None).unwrap_err();
    assert!(
        matches!(
            err,
            OpenError::DataDir(LockError::InUse {
                pid: Some(4242),
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("(pid 4242)"), "{err}");
    assert!(
        staging.join("object-in-flight").exists(),
        "the other process's staging/ is left alone"
    );
    drop(other);
    let store = Embedded::open(dir.path(), None).unwrap();
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
    // Held while the store is open, released with it.
    let probe = File::open(dir.path().join(manifold_provider::data_dir::LOCK_FILE)).unwrap();
    assert!(probe.try_lock().is_err(), "the open store holds the lock");
    drop(store);
    probe.try_lock().expect("released with the store");
}

/// The bytes app `app` has stored or reserved, as the store counts them.
fn used(store: &Embedded, app: &str) -> u64 {
    store.usage().used(&file_name(app))
}

/// What a fresh count of the files says app `app` stores.
fn counted(store: &Embedded, app: &str) -> u64 {
    Usage::scan(&store.root.path).unwrap().used(&file_name(app))
}

#[tokio::test]
async fn the_quota_counts_existing_objects_and_stays_right_through_every_change() {
    let dir = tempfile::tempdir().unwrap();
    let c = scope("app", "c");
    {
        let store = Embedded::open(dir.path(), None).unwrap();
        store.create_container(&c).await.unwrap();
        put(&store, &c, "a", &[1; 30]).await;
    }
    // Counted at open.
    let store = Embedded::open(dir.path(), Some(100)).unwrap();
    assert_eq!(used(&store, "app"), 30);

    // Two writers at once: the second cannot take what the first reserved.
    let mut first = store.start_write("app").await.unwrap();
    first.write(Bytes::from(vec![2; 50])).await.unwrap();
    let mut second = store.start_write("app").await.unwrap();
    let refused = second.write(Bytes::from(vec![3; 30])).await.unwrap_err();
    assert!(
        matches!(
            refused,
            BackendError::QuotaExceeded {
                quota: 100,
                used: 80,
                wanted: 30
            }
        ),
        "{refused:?}"
    );
    let staging = dir.path().join(BLOBSTORE_DIR).join("app").join(STAGING);
    assert_eq!(
        fs::read_dir(&staging).unwrap().count(),
        1,
        "the refused writer's staging file is gone at once"
    );
    assert!(second.write(Bytes::from_static(b"x")).await.is_err());
    drop(second);
    assert_eq!(used(&store, "app"), 80);

    // An overwrite frees the object it replaces.
    first.commit(&c, "a").await.unwrap();
    assert_eq!(used(&store, "app"), 50);
    put(&store, &c, "b", &[4; 50]).await;
    assert_eq!(used(&store, "app"), 100, "exactly the quota fits");
    let mut over = store.start_write("app").await.unwrap();
    assert!(matches!(
        over.write(Bytes::from_static(b"x")).await,
        Err(BackendError::QuotaExceeded { .. })
    ));
    drop(over);
    assert_eq!(read(&store, &c, "a", 0, u64::MAX).await, [2; 50]);

    // A delete makes room; a copy takes it, and a copy that does not fit is not made.
    store.delete_objects(&c, &["b".into()]).await.unwrap();
    assert_eq!(used(&store, "app"), 50);
    store.copy_object((&c, "a"), (&c, "a2")).await.unwrap();
    assert_eq!(used(&store, "app"), 100);
    assert!(matches!(
        store.copy_object((&c, "a"), (&c, "a3")).await,
        Err(BackendError::QuotaExceeded { .. })
    ));
    assert_eq!(list(&store, &c).await, ["a", "a2"]);
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);

    // A move over an object frees the one replaced.
    store.move_object((&c, "a2"), (&c, "a")).await.unwrap();
    assert_eq!(used(&store, "app"), 50);
    assert_eq!(used(&store, "app"), counted(&store, "app"));

    // Clearing, and deleting a container, free their objects.
    put(&store, &c, "b", &[5; 20]).await;
    store.clear(&c).await.unwrap();
    assert_eq!(used(&store, "app"), 0);
    let d = scope("app", "d");
    store.create_container(&d).await.unwrap();
    put(&store, &d, "x", &[6; 70]).await;
    put(&store, &c, "y", &[7; 10]).await;
    assert_eq!(used(&store, "app"), 80);
    store.delete_container(&d).await.unwrap();
    assert_eq!(used(&store, "app"), 10);
    assert_eq!(used(&store, "app"), counted(&store, "app"));
    // Another app's quota is its own.
    let other = scope("other", "c");
    store.create_container(&other).await.unwrap();
    put(&store, &other, "z", &[8; 100]).await;
    assert_eq!(used(&store, "app"), 10);
}

#[tokio::test]
async fn apps_do_not_share_containers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(dir.path(), None).unwrap();
    let (one, two) = (scope("one", "c"), scope("two", "c"));
    store.create_container(&one).await.unwrap();
    put(&store, &one, "k", b"one").await;
    assert!(matches!(
        store.container_info(&two).await,
        Err(BackendError::NoSuchContainer(_))
    ));
    store.create_container(&two).await.unwrap();
    assert!(list(&store, &two).await.is_empty());
    // A writer of one app cannot publish into another's container.
    let writer = store.start_write("one").await.unwrap();
    assert!(writer.commit(&two, "k").await.is_err());
}
