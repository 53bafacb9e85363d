//! Tests of the provider through the generated host traits of both drafts, as a guest's
//! calls reach them: grants, identifiers, the drafts' differences, errors as values.

use std::path::Path;

use manifold_provider::{InstanceState, Provider};
use wasmtime::component::Resource;

use super::*;
use crate::draft::{atomics as a1, batch as b1, store as s1};
use crate::draft2::{atomics as a2, batch as b2, store as s2};
use crate::host::OpenBucket;

fn provider(dir: &Path, app: &str, buckets: &[&str]) -> KeyValueProvider {
    let buckets: Vec<String> = buckets.iter().map(|b| b.to_string()).collect();
    KeyValueProvider::new(dir, app, &buckets).expect("provider")
}

fn instance(provider: &KeyValueProvider) -> InstanceState {
    let mut state = InstanceState::new(1 << 20);
    provider.prepare_instance(&mut state).expect("prepare");
    state
}

async fn open1(state: &mut InstanceState, name: &str) -> Result<Resource<OpenBucket>, s1::Error> {
    s1::Host::open(&mut host::view(state), name.into())
        .await
        .expect("no trap")
}

async fn open2(state: &mut InstanceState, name: &str) -> Result<Resource<OpenBucket>, s2::Error> {
    s2::Host::open(&mut host::view(state), name.into())
        .await
        .expect("no trap")
}

/// An instance of an app granted `bucket`, with `bucket` open through each draft.
async fn open_in_both(
    bucket: &str,
) -> (
    tempfile::TempDir,
    InstanceState,
    Resource<OpenBucket>,
    Resource<OpenBucket>,
) {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path(), "app", &[bucket]);
    let mut state = instance(&p);
    let b1 = open1(&mut state, bucket).await.unwrap();
    let b2 = open2(&mut state, bucket).await.unwrap();
    (dir, state, b1, b2)
}

fn borrow(bucket: &Resource<OpenBucket>) -> Resource<OpenBucket> {
    Resource::new_borrow(bucket.rep())
}

#[test]
fn offers_three_interfaces_at_each_draft_and_links_them_all() {
    let offered: Vec<String> = KeyValueProvider::offered()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(
        offered,
        [
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:keyvalue/batch@0.2.0-draft",
            "wasi:keyvalue/store@0.2.0-draft2",
            "wasi:keyvalue/atomics@0.2.0-draft2",
            "wasi:keyvalue/batch@0.2.0-draft2",
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path(), "app", &[]);
    let engine = wasmtime::Engine::default();
    let mut linker = manifold_provider::Linker::new(&engine);
    p.add_to_linker(&mut linker, p.interfaces())
        .expect("both drafts link side by side");
}

#[test]
fn the_wit_has_every_offered_interface_and_function() {
    let dir = tempfile::tempdir().unwrap();
    let wit = provider(dir.path(), "app", &[]).wit().expect("WIT");
    let find = |name: &InterfaceName| {
        wit.interfaces
            .iter()
            .find(|(_, i)| {
                let package = i.package.map(|p| &wit.packages[p].name);
                i.name.as_deref() == Some(name.interface.as_str())
                    && package.is_some_and(|p| {
                        p.namespace == name.namespace
                            && p.name == name.package
                            && p.version == name.version
                    })
            })
            .map(|(_, i)| i)
            .unwrap_or_else(|| panic!("{name} is not in the WIT"))
    };
    for name in KeyValueProvider::offered() {
        assert!(!find(&name).functions.is_empty(), "{name}");
    }
    let atomics = |version: &str| {
        let name = format!("wasi:keyvalue/atomics@{version}").parse().unwrap();
        let mut functions: Vec<String> = find(&name).functions.keys().cloned().collect();
        functions.sort();
        functions
    };
    assert_eq!(atomics(DRAFT), ["increment"]);
    assert_eq!(
        atomics(DRAFT2),
        [
            "[method]cas.current",
            "[static]cas.new",
            "increment",
            "swap"
        ]
    );
}

#[test]
fn grants_are_checked_and_nothing_is_created_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = provider(&data, "app", &[]);
    assert!(p.buckets().is_empty());
    assert!(!data.exists(), "no grants, no database");

    for bad in ["", "../x", "a/b", "nul\0", ".."] {
        let err = KeyValueProvider::new(&data, "app", &[bad.to_string()])
            .err()
            .expect("refused");
        assert!(matches!(err, KeyValueError::BucketName { .. }), "{err}");
    }
    let err = KeyValueProvider::new(&data, "", &["default".into()])
        .err()
        .expect("refused");
    assert!(matches!(err, KeyValueError::AppName { .. }), "{err}");

    let p = provider(&data, "app", &["cache", "default"]);
    assert_eq!(p.buckets(), ["cache", "default"]);
    assert!(data.join(DATABASE_FILE).is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn open_refuses_what_is_not_granted_or_not_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path(), "app", &["default"]);
    let mut state = instance(&p);

    assert!(open1(&mut state, "default").await.is_ok());
    assert!(open2(&mut state, "default").await.is_ok());
    assert!(matches!(
        open1(&mut state, "cache").await,
        Err(s1::Error::AccessDenied)
    ));
    assert!(matches!(
        open2(&mut state, "cache").await,
        Err(s2::Error::AccessDenied)
    ));
    let long = "b".repeat(256);
    for bad in [
        "",
        "../default",
        "default/..",
        "a\0b",
        ".",
        "..",
        "x\\y",
        long.as_str(),
    ] {
        assert!(
            matches!(open1(&mut state, bad).await, Err(s1::Error::NoSuchStore)),
            "{bad:?}"
        );
        assert!(
            matches!(open2(&mut state, bad).await, Err(s2::Error::NoSuchStore)),
            "{bad:?}"
        );
    }

    // An instance the provider did not prepare is a host bug: a trap, not a guest error.
    let mut bare = InstanceState::new(1 << 20);
    assert!(
        s1::Host::open(&mut host::view(&mut bare), "default".into())
            .await
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn both_drafts_share_the_data_and_read_missing_keys_as_none() {
    let (_dir, mut state, b1, b2) = open_in_both("default").await;
    let mut v = host::view(&mut state);

    let missing = s1::HostBucket::get(&mut v, borrow(&b1), "k".into())
        .await
        .unwrap();
    assert!(matches!(missing, Ok(None)));
    let missing = s2::HostBucket::get(&mut v, borrow(&b2), "k".into())
        .await
        .unwrap();
    assert!(matches!(missing, Ok(None)));

    s1::HostBucket::set(&mut v, borrow(&b1), "k".into(), b"v".to_vec())
        .await
        .unwrap()
        .unwrap();
    let got = s2::HostBucket::get(&mut v, borrow(&b2), "k".into())
        .await
        .unwrap();
    assert!(matches!(got, Ok(Some(ref v)) if v == b"v"));
    assert!(matches!(
        s2::HostBucket::exists(&mut v, borrow(&b2), "k".into())
            .await
            .unwrap(),
        Ok(true)
    ));
    s2::HostBucket::delete(&mut v, borrow(&b2), "k".into())
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        s1::HostBucket::exists(&mut v, borrow(&b1), "k".into())
            .await
            .unwrap(),
        Ok(false)
    ));

    s1::HostBucket::drop(&mut v, b1).await.unwrap();
    s2::HostBucket::drop(&mut v, b2).await.unwrap();
    assert!(v.table.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn list_keys_cursors_are_an_offset_in_draft_and_a_key_in_draft2() {
    let (_dir, mut state, b1, b2) = open_in_both("b").await;
    let mut v = host::view(&mut state);

    let empty = s1::HostBucket::list_keys(&mut v, borrow(&b1), None)
        .await
        .unwrap()
        .unwrap();
    assert!(empty.keys.is_empty() && empty.cursor.is_none());

    // One more key than a page holds.
    let n = PAGE_KEYS + 1;
    let pairs: Vec<(String, Vec<u8>)> = (0..n).map(|i| (format!("k{i:05}"), Vec::new())).collect();
    b1::Host::set_many(&mut v, borrow(&b1), pairs)
        .await
        .unwrap()
        .unwrap();

    let first = s1::HostBucket::list_keys(&mut v, borrow(&b1), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.keys.len(), PAGE_KEYS);
    assert_eq!(first.cursor, Some(PAGE_KEYS as u64));
    let last = s1::HostBucket::list_keys(&mut v, borrow(&b1), first.cursor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.keys, [format!("k{:05}", n - 1)]);
    assert_eq!(last.cursor, None);

    let first = s2::HostBucket::list_keys(&mut v, borrow(&b2), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.keys.len(), PAGE_KEYS);
    assert_eq!(
        first.cursor.as_deref(),
        Some(format!("k{:05}", PAGE_KEYS - 1).as_str())
    );
    let last = s2::HostBucket::list_keys(&mut v, borrow(&b2), first.cursor)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.keys, [format!("k{:05}", n - 1)]);
    assert_eq!(last.cursor, None);
}

const PAGE_KEYS: usize = embedded::PageLimit::DEFAULT.keys;

#[tokio::test(flavor = "multi_thread")]
async fn increment_is_unsigned_in_draft_and_signed_in_draft2() {
    let (_dir, mut state, b1, b2) = open_in_both("b").await;
    let mut v = host::view(&mut state);

    let n = a1::Host::increment(&mut v, borrow(&b1), "c".into(), 5)
        .await
        .unwrap();
    assert!(matches!(n, Ok(5)));
    let n = a2::Host::increment(&mut v, borrow(&b2), "c".into(), -8)
        .await
        .unwrap();
    assert!(matches!(n, Ok(-3)));
    // -3 is no u64: an error value, with the reason, not a trap.
    match a1::Host::increment(&mut v, borrow(&b1), "c".into(), 1)
        .await
        .unwrap()
    {
        Err(s1::Error::Other(message)) => {
            assert!(message.contains("not a decimal u64"), "{message}")
        }
        other => panic!("expected error::other, got {other:?}"),
    }
    let stored = s1::HostBucket::get(&mut v, borrow(&b1), "c".into())
        .await
        .unwrap();
    assert!(
        matches!(stored, Ok(Some(ref v)) if v == b"-3"),
        "counters are decimal text"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn compare_and_swap_through_cas_handles() {
    let dir = tempfile::tempdir().unwrap();
    let p = provider(dir.path(), "app", &["b"]);
    let mut state = instance(&p);
    let bucket = open2(&mut state, "b").await.unwrap();
    let mut v = host::view(&mut state);

    // A CAS on a missing key sees `none` and may create it.
    let cas = a2::HostCas::new(&mut v, borrow(&bucket), "k".into())
        .await
        .unwrap()
        .unwrap();
    let current = a2::HostCas::current(&mut v, Resource::new_borrow(cas.rep()))
        .await
        .unwrap();
    assert!(matches!(current, Ok(None)));
    a2::Host::swap(&mut v, cas, b"1".to_vec())
        .await
        .unwrap()
        .unwrap();

    // Someone writes between `new` and `swap`: the swap fails and hands back a fresh handle.
    let stale = a2::HostCas::new(&mut v, borrow(&bucket), "k".into())
        .await
        .unwrap()
        .unwrap();
    s2::HostBucket::set(&mut v, borrow(&bucket), "k".into(), b"other".to_vec())
        .await
        .unwrap()
        .unwrap();
    let retry = match a2::Host::swap(&mut v, stale, b"2".to_vec()).await.unwrap() {
        Err(a2::CasError::CasFailed(retry)) => retry,
        other => panic!("expected cas-failed, got {other:?}"),
    };
    let current = a2::HostCas::current(&mut v, Resource::new_borrow(retry.rep()))
        .await
        .unwrap();
    assert!(matches!(current, Ok(Some(ref v)) if v == b"other"));
    a2::Host::swap(&mut v, retry, b"2".to_vec())
        .await
        .unwrap()
        .unwrap();
    let got = s2::HostBucket::get(&mut v, borrow(&bucket), "k".into())
        .await
        .unwrap();
    assert!(matches!(got, Ok(Some(ref v)) if v == b"2"));

    // Every handle was consumed by its swap; only the bucket is left.
    s2::HostBucket::drop(&mut v, bucket).await.unwrap();
    assert!(v.table.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_calls_in_both_drafts() {
    let (_dir, mut state, b1, b2) = open_in_both("b").await;
    let mut v = host::view(&mut state);

    let pairs = vec![
        ("a".to_string(), b"1".to_vec()),
        ("b".to_string(), b"2".to_vec()),
    ];
    b2::Host::set_many(&mut v, borrow(&b2), pairs)
        .await
        .unwrap()
        .unwrap();
    let got = b1::Host::get_many(
        &mut v,
        borrow(&b1),
        vec!["a".into(), "x".into(), "b".into()],
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        got,
        [
            Some(("a".to_string(), b"1".to_vec())),
            None,
            Some(("b".to_string(), b"2".to_vec()))
        ]
    );
    b1::Host::delete_many(&mut v, borrow(&b1), vec!["a".into(), "x".into()])
        .await
        .unwrap()
        .unwrap();
    let got = b2::Host::get_many(&mut v, borrow(&b2), vec!["a".into(), "b".into()])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, [None, Some(("b".to_string(), b"2".to_vec()))]);
}

#[tokio::test(flavor = "multi_thread")]
async fn apps_sharing_a_data_directory_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let a = provider(dir.path(), "app-a", &["default"]);
    let b = provider(dir.path(), "app-b", &["default"]);
    // A second component of app a, with its own provider, shares app a's buckets.
    let a_too = provider(dir.path(), "app-a", &["default"]);

    let mut sa = instance(&a);
    let ba = open1(&mut sa, "default").await.unwrap();
    s1::HostBucket::set(
        &mut host::view(&mut sa),
        borrow(&ba),
        "k".into(),
        b"a".to_vec(),
    )
    .await
    .unwrap()
    .unwrap();

    let mut sb = instance(&b);
    let bb = open2(&mut sb, "default").await.unwrap();
    let mut vb = host::view(&mut sb);
    assert!(matches!(
        s2::HostBucket::get(&mut vb, borrow(&bb), "k".into())
            .await
            .unwrap(),
        Ok(None)
    ));
    let keys = s2::HostBucket::list_keys(&mut vb, borrow(&bb), None)
        .await
        .unwrap()
        .unwrap();
    assert!(keys.keys.is_empty());

    let mut sa2 = instance(&a_too);
    let ba2 = open2(&mut sa2, "default").await.unwrap();
    let got = s2::HostBucket::get(&mut host::view(&mut sa2), borrow(&ba2), "k".into())
        .await
        .unwrap();
    assert!(matches!(got, Ok(Some(ref v)) if v == b"a"));
}
