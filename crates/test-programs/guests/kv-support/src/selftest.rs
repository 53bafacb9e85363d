//! `/selftest`: calls every function of a draft on one bucket and checks each result against
//! what the draft's WIT documents, so one request tells whether a host (and its backend)
//! conforms. Only documented behaviour is checked: not key order, page sizes or how a
//! counter is stored. Keys start with `selftest-` and are deleted at the end.

use std::fmt::{Debug, Write as _};

use crate::{Draft, KeyValue, Response, list_all};

/// The outcome of the checks: one line each, `ok NAME` or `FAIL NAME: got …, want …`.
pub struct Report {
    lines: String,
    failed: usize,
}

impl Report {
    fn new() -> Report {
        Report {
            lines: String::new(),
            failed: 0,
        }
    }

    pub fn check(&mut self, name: &str, passed: bool, detail: impl FnOnce() -> String) {
        if passed {
            let _ = writeln!(self.lines, "ok {name}");
        } else {
            self.failed += 1;
            let _ = writeln!(self.lines, "FAIL {name}: {}", detail());
        }
    }

    pub fn expect<T: PartialEq + Debug>(&mut self, name: &str, got: T, want: T) {
        let passed = got == want;
        self.check(name, passed, || format!("got {got:?}, want {want:?}"));
    }

    /// `200` and `pass` first if every check passed; else `500` and `fail: N`.
    fn into_response(self) -> Response {
        if self.failed == 0 {
            Response::ok(format!("pass\n{}", self.lines))
        } else {
            Response::new(500, format!("fail: {}\n{}", self.failed, self.lines))
        }
    }
}

/// The number of keys written to exercise `list-keys` cursors: more than one page of any
/// host that pages by a round number up to 1000.
const PAGED_KEYS: usize = 1001;

pub(crate) fn run<D: Draft>(b: &D::Bucket) -> Response {
    let mut r = Report::new();
    let key = |name: &str| format!("selftest-{name}");
    let pair = |name: &str, value: &str| (key(name), value.as_bytes().to_vec());
    let fixed = ["missing", "k", "empty", "counter", "a", "b", "c"].map(key);
    let _ = D::delete_many(b, &fixed);

    // store.wit, bucket.get / exists / set / delete.
    r.expect(
        "get of a missing key is ok(none)",
        D::get(b, &key("missing")),
        Ok(None),
    );
    r.expect(
        "exists of a missing key is ok(false)",
        D::exists(b, &key("missing")),
        Ok(false),
    );
    r.expect("set", D::set(b, &key("k"), b"v1"), Ok(()));
    r.expect(
        "get after set",
        D::get(b, &key("k")),
        Ok(Some(b"v1".to_vec())),
    );
    r.expect("exists after set", D::exists(b, &key("k")), Ok(true));
    r.expect("set overwrites", D::set(b, &key("k"), b"v2"), Ok(()));
    r.expect(
        "get after overwrite",
        D::get(b, &key("k")),
        Ok(Some(b"v2".to_vec())),
    );
    r.expect(
        "set of an empty value",
        D::set(b, &key("empty"), b""),
        Ok(()),
    );
    r.expect(
        "an empty value is some, not none",
        D::get(b, &key("empty")),
        Ok(Some(Vec::new())),
    );
    r.expect("delete", D::delete(b, &key("k")), Ok(()));
    r.expect("get after delete is none", D::get(b, &key("k")), Ok(None));
    r.expect(
        "delete of a missing key does nothing",
        D::delete(b, &key("k")),
        Ok(()),
    );

    // atomics.wit, increment: a missing key starts at `delta`.
    let n = D::Counter::from;
    r.expect(
        "increment of a missing key stores delta",
        D::increment(b, &key("counter"), n(5)),
        Ok(n(5)),
    );
    r.expect(
        "increment adds",
        D::increment(b, &key("counter"), n(3)),
        Ok(n(8)),
    );
    r.expect(
        "increment by zero",
        D::increment(b, &key("counter"), n(0)),
        Ok(n(8)),
    );

    // batch.wit.
    let pairs: Vec<KeyValue> = vec![pair("a", "1"), pair("b", "2"), pair("c", "3")];
    r.expect("set-many", D::set_many(b, &pairs), Ok(()));
    r.expect(
        "get-many keeps the order and gives none for a missing key",
        D::get_many(b, &[key("a"), key("missing"), key("c")]),
        Ok(vec![Some(pair("a", "1")), None, Some(pair("c", "3"))]),
    );
    r.expect(
        "delete-many skips missing keys",
        D::delete_many(b, &[key("a"), key("missing")]),
        Ok(()),
    );
    r.expect(
        "get-many after delete-many",
        D::get_many(b, &[key("a"), key("b")]),
        Ok(vec![None, Some(pair("b", "2"))]),
    );

    // store.wit, list-keys: pages joined by cursors hold every key once; the last has none.
    let paged: Vec<KeyValue> = (0..PAGED_KEYS)
        .map(|i| (key(&format!("page-{i:05}")), Vec::new()))
        .collect();
    let paged_keys: Vec<String> = paged.iter().map(|(k, _)| k.clone()).collect();
    r.expect("set-many of many keys", D::set_many(b, &paged), Ok(()));
    match list_all::<D>(b) {
        Ok((pages, keys)) => {
            let mut ours: Vec<&String> = keys.iter().filter(|k| paged_keys.contains(k)).collect();
            let listed = ours.len();
            ours.sort();
            ours.dedup();
            r.check(
                "list-keys pages hold every key exactly once",
                listed == PAGED_KEYS && ours.len() == PAGED_KEYS,
                || {
                    format!(
                        "{listed} listed, {} distinct, of {PAGED_KEYS} ({pages} pages)",
                        ours.len()
                    )
                },
            );
            r.check(
                "list-keys includes keys set one by one",
                keys.contains(&key("b")),
                || format!("`{}` is missing", key("b")),
            );
        }
        Err(err) => r.check("list-keys", false, || format!("{err}")),
    }
    r.expect(
        "delete-many of many keys",
        D::delete_many(b, &paged_keys),
        Ok(()),
    );

    D::extra_checks(b, &mut r);

    let _ = D::delete_many(b, &fixed);
    r.into_response()
}
