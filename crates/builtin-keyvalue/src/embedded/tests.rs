//! Tests of the storage alone: atomicity under threads, compare-and-swap, batches, paging,
//! counters, sharing and durability of the database file.

use std::sync::Barrier;
use std::thread;

use super::*;

fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), "kv.redb").expect("open");
    (dir, store)
}

fn table(name: &str) -> ScopedBucket {
    ScopedBucket::new("app", name)
}

#[test]
fn set_get_delete_exists() {
    let (_dir, store) = temp_store();
    let t = table("b");
    assert_eq!(
        store.get(&t, "k").unwrap(),
        None,
        "a bucket never written is empty"
    );
    assert!(!store.exists(&t, "k").unwrap());
    store.set(&t, "k", b"v").unwrap();
    assert_eq!(store.get(&t, "k").unwrap().as_deref(), Some(&b"v"[..]));
    assert!(store.exists(&t, "k").unwrap());
    store.set(&t, "empty", b"").unwrap();
    assert_eq!(store.get(&t, "empty").unwrap().as_deref(), Some(&b""[..]));
    store.delete(&t, "k").unwrap();
    store.delete(&t, "never-there").unwrap();
    assert_eq!(store.get(&t, "k").unwrap(), None);
}

#[test]
fn concurrent_increments_are_exact() {
    const THREADS: usize = 16;
    const EACH: usize = 25;
    let (_dir, store) = temp_store();
    let t = table("counters");
    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        for i in 0..THREADS {
            let (store, t, start) = (&store, &t, &start);
            s.spawn(move || {
                start.wait();
                for _ in 0..EACH {
                    store.increment::<u64>(t, "hits", 1).unwrap();
                    // Signed increments on another key, half of them down.
                    let delta = if i % 2 == 0 { 3 } else { -1 };
                    store.increment::<i64>(t, "signed", delta).unwrap();
                }
            });
        }
    });
    let n = (THREADS * EACH) as u64;
    assert_eq!(
        store.get(&t, "hits").unwrap().unwrap(),
        n.to_string().as_bytes()
    );
    let signed = (THREADS / 2 * EACH) as i64 * 3 - (THREADS / 2 * EACH) as i64;
    assert_eq!(
        store.get(&t, "signed").unwrap().unwrap(),
        signed.to_string().as_bytes()
    );
}

#[test]
fn increment_starts_from_delta_and_checks_the_value() {
    let (_dir, store) = temp_store();
    let t = table("b");
    assert_eq!(store.increment::<u64>(&t, "c", 5).unwrap(), 5);
    assert_eq!(store.increment::<u64>(&t, "c", 0).unwrap(), 5);
    assert_eq!(store.increment::<i64>(&t, "c", -7).unwrap(), -2);
    // A negative counter is not a u64.
    let err = store.increment::<u64>(&t, "c", 1).unwrap_err();
    assert!(matches!(err, BackendError::NotACounter("u64", _)), "{err}");
    assert!(err.is_guest_error());

    store.set(&t, "text", b"hello").unwrap();
    let err = store.increment::<i64>(&t, "text", 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the value is not a decimal s64 (it is \"hello\"), so it cannot be incremented"
    );
    assert_eq!(
        store.get(&t, "text").unwrap().unwrap(),
        b"hello",
        "untouched"
    );

    store
        .set(&t, "max", u64::MAX.to_string().as_bytes())
        .unwrap();
    let err = store.increment::<u64>(&t, "max", 1).unwrap_err();
    assert!(
        matches!(err, BackendError::Overflow { kind: "u64", .. }),
        "{err}"
    );
    assert_eq!(
        store.get(&t, "max").unwrap().unwrap(),
        u64::MAX.to_string().as_bytes()
    );
    store
        .set(&t, "min", i64::MIN.to_string().as_bytes())
        .unwrap();
    assert!(store.increment::<i64>(&t, "min", -1).is_err());
}

#[test]
fn compare_and_swap() {
    let (_dir, store) = temp_store();
    let t = table("b");
    // Absent is a value one can expect.
    assert_eq!(
        store.compare_and_swap(&t, "k", None, b"1").unwrap(),
        Swap::Done
    );
    assert_eq!(
        store.compare_and_swap(&t, "k", None, b"2").unwrap(),
        Swap::Changed(Some(b"1".to_vec()))
    );
    assert_eq!(
        store.compare_and_swap(&t, "k", Some(b"1"), b"2").unwrap(),
        Swap::Done
    );
    assert_eq!(store.get(&t, "k").unwrap().unwrap(), b"2");
    store.delete(&t, "k").unwrap();
    assert_eq!(
        store.compare_and_swap(&t, "k", Some(b"2"), b"3").unwrap(),
        Swap::Changed(None)
    );
    assert_eq!(
        store.get(&t, "k").unwrap(),
        None,
        "a failed swap writes nothing"
    );
    // Present-but-empty is not absent.
    store.set(&t, "e", b"").unwrap();
    assert_eq!(
        store.compare_and_swap(&t, "e", None, b"x").unwrap(),
        Swap::Changed(Some(Vec::new()))
    );
}

#[test]
fn concurrent_compare_and_swap_loops_lose_no_update() {
    const THREADS: usize = 8;
    const EACH: usize = 15;
    let (_dir, store) = temp_store();
    let t = table("b");
    let start = Barrier::new(THREADS);
    let conflicts: usize = thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                let (store, t, start) = (&store, &t, &start);
                s.spawn(move || {
                    start.wait();
                    let mut conflicts = 0;
                    for _ in 0..EACH {
                        let mut seen = store.get(t, "n").unwrap();
                        loop {
                            let n: u64 = seen
                                .as_deref()
                                .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                            let next = (n + 1).to_string();
                            match store
                                .compare_and_swap(t, "n", seen.as_deref(), next.as_bytes())
                                .unwrap()
                            {
                                Swap::Done => break,
                                Swap::Changed(now) => {
                                    conflicts += 1;
                                    seen = now;
                                }
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    assert_eq!(
        store.get(&t, "n").unwrap().unwrap(),
        (THREADS * EACH).to_string().as_bytes(),
        "{conflicts} conflicts were retried"
    );
}

#[test]
fn batches_are_all_or_nothing() {
    let (_dir, store) = temp_store();
    let t = table("b");
    let pairs: Vec<(String, Vec<u8>)> =
        (0..3).map(|i| (format!("k{i}"), b"old".to_vec())).collect();
    store.set_many(&t, &pairs).unwrap();

    // A write that fails half-way commits nothing: this is the path every batch takes.
    let err = store
        .write(|txn| {
            let mut table = txn.open_table(definition(&t)).map_err(storage)?;
            table.insert("k0", &b"new"[..]).map_err(storage)?;
            Err::<(), _>(BackendError::storage("fails half-way"))
        })
        .unwrap_err();
    assert!(matches!(err, BackendError::Storage(_)));
    assert_eq!(store.get(&t, "k0").unwrap().unwrap(), b"old");

    // Readers see a batch whole or not at all.
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    thread::scope(|s| {
        let writer = s.spawn(|| {
            for round in 0..40u32 {
                let value = round.to_string().into_bytes();
                let batch: Vec<_> = keys.iter().map(|k| (k.clone(), value.clone())).collect();
                store.set_many(&t, &batch).unwrap();
            }
        });
        while !writer.is_finished() {
            let found = store.get_many(&t, keys.clone()).unwrap();
            let values: Vec<_> = found.iter().map(|kv| kv.as_ref().map(|(_, v)| v)).collect();
            assert!(
                values.iter().all(|v| *v == values[0]),
                "torn batch: {found:?}"
            );
        }
    });

    store
        .delete_many(&t, &["k0".into(), "k1".into(), "absent".into()])
        .unwrap();
    assert_eq!(
        store
            .get_many(&t, vec!["k0".into(), "k2".into(), "absent".into()])
            .unwrap(),
        vec![None, Some(("k2".to_string(), b"39".to_vec())), None]
    );
}

#[test]
fn pages_by_offset_and_by_key() {
    let (_dir, store) = temp_store();
    let t = table("b");
    assert_eq!(
        store.keys_from_offset(&t, 0, PageLimit::DEFAULT).unwrap(),
        Page::empty()
    );
    let pairs: Vec<(String, Vec<u8>)> = ["d", "a", "c", "b", "e"]
        .iter()
        .map(|k| (k.to_string(), Vec::new()))
        .collect();
    store.set_many(&t, &pairs).unwrap();
    let two = PageLimit {
        keys: 2,
        bytes: 1 << 20,
    };
    let page = |keys: &[&str], more| Page {
        keys: keys.iter().map(|k| k.to_string()).collect(),
        more,
    };

    assert_eq!(
        store.keys_from_offset(&t, 0, two).unwrap(),
        page(&["a", "b"], true)
    );
    assert_eq!(
        store.keys_from_offset(&t, 2, two).unwrap(),
        page(&["c", "d"], true)
    );
    assert_eq!(
        store.keys_from_offset(&t, 4, two).unwrap(),
        page(&["e"], false)
    );
    assert_eq!(
        store.keys_from_offset(&t, u64::MAX, two).unwrap(),
        page(&[], false)
    );
    assert_eq!(
        store.keys_from_offset(&t, 0, PageLimit::DEFAULT).unwrap(),
        page(&["a", "b", "c", "d", "e"], false)
    );

    assert_eq!(
        store.keys_after(&t, None, two).unwrap(),
        page(&["a", "b"], true)
    );
    // A key deleted between pages does not make the next page skip or repeat anything.
    store.delete(&t, "b").unwrap();
    assert_eq!(
        store.keys_after(&t, Some("b"), two).unwrap(),
        page(&["c", "d"], true)
    );
    assert_eq!(
        store.keys_after(&t, Some("d"), two).unwrap(),
        page(&["e"], false)
    );
    assert_eq!(
        store.keys_after(&t, Some("zzz"), two).unwrap(),
        page(&[], false)
    );

    // The byte budget ends a page early, but a page holds at least one key.
    let tiny = PageLimit {
        keys: 100,
        bytes: 1,
    };
    assert_eq!(
        store.keys_after(&t, None, tiny).unwrap(),
        page(&["a"], true)
    );
}

#[test]
fn tables_of_two_apps_are_apart_in_one_database() {
    let (_dir, store) = temp_store();
    let (a, b) = (
        ScopedBucket::new("a", "default"),
        ScopedBucket::new("b", "default"),
    );
    store.set(&a, "k", b"from a").unwrap();
    assert_eq!(store.get(&b, "k").unwrap(), None);
    assert_eq!(
        store.keys_after(&b, None, PageLimit::DEFAULT).unwrap(),
        Page::empty()
    );
    store.increment::<u64>(&b, "k", 1).unwrap();
    assert_eq!(store.get(&a, "k").unwrap().unwrap(), b"from a");
}

#[test]
fn one_handle_per_file_and_writes_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("data").join("app");
    let t = table("b");
    {
        let first = Store::open(&nested, "kv.redb").unwrap();
        // A second open in this process shares the handle instead of hitting redb's lock.
        let second = Store::open(&nested, "kv.redb").unwrap();
        assert!(Arc::ptr_eq(&first.db, &second.db));
        first.set(&t, "k", b"kept").unwrap();
    }
    let reopened = Store::open(&nested, "kv.redb").unwrap();
    assert_eq!(reopened.get(&t, "k").unwrap().unwrap(), b"kept");
}

#[test]
fn a_data_directory_that_cannot_be_created_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let err = Store::open(&file.join("sub"), "kv.redb").unwrap_err();
    assert!(matches!(err, OpenError::CreateDir { .. }), "{err}");
    assert!(err.to_string().contains("a-file"), "{err}");
}

#[test]
fn a_data_directory_locked_by_another_process_is_refused_and_held_while_open() {
    use std::io::Write as _;

    use manifold_provider::data_dir::LOCK_FILE;

    let dir = tempfile::tempdir().unwrap();
    // Another process's hold: its own open file of the lock file.
    let mut other = std::fs::File::create(dir.path().join(LOCK_FILE)).unwrap();
    other.try_lock().unwrap();
    writeln!(other, "4242").unwrap();
    let err = Store::open(dir.path(), "kv.redb").unwrap_err();
    assert!(matches!(err, OpenError::Locked(_)), "{err:?}");
    assert!(err.to_string().contains("(pid 4242)"), "{err}");
    assert!(
        !dir.path().join("kv.redb").exists(),
        "refused before the database is touched"
    );
    drop(other);
    let store = Store::open(dir.path(), "kv.redb").unwrap();
    let probe = std::fs::File::open(dir.path().join(LOCK_FILE)).unwrap();
    assert!(probe.try_lock().is_err(), "the open store holds the lock");
    drop(store);
    probe.try_lock().expect("released with the store");
}
