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
    let store = Embedded::open(dir.path()).unwrap();
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
    let store = Embedded::open(dir.path()).unwrap();
    let c = scope("app", "c");
    store.create_container(&c).await.unwrap();
    let mut writer = store.start_write("app").await.unwrap();
    writer.write(Bytes::from_static(b"partial")).await.unwrap();
    assert!(list(&store, &c).await.is_empty());
    let staging = dir.path().join(BLOBSTORE_DIR).join("app").join(STAGING);
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 1);
    drop(writer);
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
    // What a crash leaves in staging is removed when the next process opens the store.
    fs::write(staging.join("object-left-by-a-crash"), b"x").unwrap();
    CLEANED.lock().unwrap().clear();
    Embedded::open(dir.path()).unwrap();
    assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
}

#[tokio::test]
async fn apps_do_not_share_containers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(dir.path()).unwrap();
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
