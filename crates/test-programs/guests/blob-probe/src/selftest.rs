//! `/selftest?a=A&b=B`: calls every function of `wasi:blobstore@0.2.0-draft` on two granted
//! containers `A` and `B` (deleted first if they exist, and at the end) and checks each result
//! against the draft's WIT and Manifold's documented choices, so one request tells whether a
//! host (and its backend) conforms. `200` and `pass` first when every check passed, else `500`
//! and `fail: N`; then one line per check, `ok NAME` or `FAIL NAME: …`.

use std::fmt::{Debug, Write as _};
use std::io::{Read as _, Write as _};

use crate::wasi::blobstore::blobstore::{self, ObjectId};
use crate::wasi::blobstore::container::Container;
use crate::wasi::blobstore::types::{IncomingValue, OutgoingValue};

struct Report {
    lines: String,
    failed: usize,
}

impl Report {
    fn check(&mut self, name: &str, passed: bool, detail: impl FnOnce() -> String) {
        if passed {
            let _ = writeln!(self.lines, "ok {name}");
        } else {
            self.failed += 1;
            let _ = writeln!(self.lines, "FAIL {name}: {}", detail());
        }
    }

    fn expect<T: PartialEq + Debug>(&mut self, name: &str, got: T, want: T) {
        let passed = got == want;
        self.check(name, passed, || {
            let mut text = format!("got {got:?}, want {want:?}");
            // Objects are large; a mismatch needs no more than a glimpse.
            if text.len() > 400 {
                text.truncate(400);
                text.push_str(" …");
            }
            text
        });
    }

    /// Checks that `got` is an error whose text contains `needle`.
    fn error<T: Debug>(&mut self, name: &str, got: Result<T, String>, needle: &str) {
        let passed = matches!(&got, Err(e) if e.contains(needle));
        self.check(name, passed, || format!("got {got:?}, want an error with {needle:?}"));
    }
}

/// 200 KiB of a pattern that shows any byte out of place.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Writes `bytes` as object `name`: `write-data` after the body is written (`put` in lib.rs
/// does it before), then `finish`.
fn write_after(c: &Container, name: &str, bytes: &[u8]) -> Result<(), String> {
    let value = OutgoingValue::new_outgoing_value();
    {
        let mut out = value
            .outgoing_value_write_body()
            .map_err(|()| "outgoing-value-write-body failed".to_string())?;
        out.write_all(bytes).map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
    }
    c.write_data(name, &value)?;
    OutgoingValue::finish(value)
}

fn read_sync(c: &Container, name: &str, start: u64, end: u64) -> Result<Vec<u8>, String> {
    IncomingValue::incoming_value_consume_sync(c.get_data(name, start, end)?)
}

fn read_async(c: &Container, name: &str, start: u64, end: u64) -> Result<(u64, Vec<u8>), String> {
    let value = c.get_data(name, start, end)?;
    let size = value.size();
    let mut stream = IncomingValue::incoming_value_consume_async(value)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
    Ok((size, bytes))
}

fn id(container: &str, object: &str) -> ObjectId {
    ObjectId {
        container: container.into(),
        object: object.into(),
    }
}

pub(crate) fn run(a: &str, b: &str) -> (u16, String) {
    let mut r = Report {
        lines: String::new(),
        failed: 0,
    };
    for name in [a, b] {
        if blobstore::container_exists(name) == Ok(true) {
            let _ = blobstore::delete_container(name);
        }
    }
    checks(&mut r, a, b);
    for name in [a, b] {
        let _ = blobstore::delete_container(name);
    }
    if r.failed == 0 {
        (200, format!("pass\n{}", r.lines))
    } else {
        (500, format!("fail: {}\n{}", r.failed, r.lines))
    }
}

fn checks(r: &mut Report, a: &str, b: &str) {
    // blobstore.wit: containers.
    r.expect("container-exists before create", blobstore::container_exists(a), Ok(false));
    r.error("get-container before create", blobstore::get_container(a).map(|_| ()), "does not exist");
    let c = match blobstore::create_container(a) {
        Ok(c) => c,
        Err(err) => return r.check("create-container", false, || err),
    };
    r.check("create-container", true, String::new);
    r.error("create-container again", blobstore::create_container(a).map(|_| ()), "already exists");
    r.expect("container-exists after create", blobstore::container_exists(a), Ok(true));
    r.expect("get-container", blobstore::get_container(a).map(|_| ()), Ok(()));
    r.expect("container.name", c.name(), Ok(a.to_string()));
    match c.info() {
        Ok(info) => {
            r.expect("container.info name", info.name.as_str(), a);
            r.check("container.info created-at", info.created_at > 1_600_000_000, || {
                format!("{}", info.created_at)
            });
        }
        Err(err) => r.check("container.info", false, || err),
    }

    // types.wit + container.wit: writing, both orders of write-data.
    let big = pattern(200 * 1024);
    let value = OutgoingValue::new_outgoing_value();
    r.expect("write-data before the body", c.write_data("big", &value), Ok(()));
    r.error(
        "write-data twice",
        c.write_data("other", &value),
        "already called",
    );
    match value.outgoing_value_write_body() {
        Ok(mut out) => {
            let written = out.write_all(&big).and_then(|()| std::io::Write::flush(&mut out));
            r.check("stream the body", written.is_ok(), || format!("{written:?}"));
            r.expect(
                "outgoing-value-write-body twice",
                value.outgoing_value_write_body().map(|_| ()),
                Err(()),
            );
            r.expect("not visible before finish", c.has_object("big"), Ok(false));
            r.error(
                "finish with the stream open",
                OutgoingValue::finish(value),
                "still open",
            );
            drop(out);
            r.expect("a failed finish stores nothing", c.has_object("big"), Ok(false));
        }
        Err(()) => r.check("outgoing-value-write-body", false, || "error".into()),
    }
    r.expect("write-data after the body", write_after(&c, "big", &big), Ok(()));
    r.expect("has-object", c.has_object("big"), Ok(true));
    match c.object_info("big") {
        Ok(info) => {
            r.expect("object-info size", info.size, big.len() as u64);
            r.expect("object-info name", info.name.as_str(), "big");
            r.expect("object-info container", info.container.as_str(), a);
            r.check("object-info created-at", info.created_at > 1_600_000_000, || {
                format!("{}", info.created_at)
            });
        }
        Err(err) => r.check("object-info", false, || err),
    }
    {
        let value = OutgoingValue::new_outgoing_value();
        let _ = c.write_data("dropped", &value);
        if let Ok(mut out) = value.outgoing_value_write_body() {
            let _ = out.write_all(b"never finished");
        }
        drop(value);
        r.expect("a value dropped without finish is not stored", c.has_object("dropped"), Ok(false));
    }
    {
        let value = OutgoingValue::new_outgoing_value();
        let _ = c.write_data("empty", &value);
        r.expect("finish without a body", OutgoingValue::finish(value), Ok(()));
        r.expect("an empty object", read_sync(&c, "empty", 0, 0), Ok(Vec::new()));
    }
    r.expect(
        "finish without write-data",
        OutgoingValue::finish(OutgoingValue::new_outgoing_value()),
        Ok(()),
    );

    // Reading: ranges are inclusive; `end` past the object reads to its end.
    r.expect("get-data whole, sync", read_sync(&c, "big", 0, u64::MAX), Ok(big.clone()));
    r.expect(
        "get-data range, as a stream",
        read_async(&c, "big", 1000, 99_999),
        Ok((99_000, big[1000..100_000].to_vec())),
    );
    r.expect("get-data one byte", read_sync(&c, "big", 7, 7), Ok(vec![7]));
    r.error("get-data start after end", read_sync(&c, "big", 9, 8), "after end");
    r.error("get-data past the end", read_sync(&c, "big", 1 << 30, 1 << 31), "past the end");
    r.error("get-data of a missing object", read_sync(&c, "missing", 0, 1), "does not exist");
    r.error("object-info of a missing object", c.object_info("missing").map(|_| ()), "does not exist");
    r.expect("has-object of a missing object", c.has_object("missing"), Ok(false));
    // The bytes are held even if the object is deleted meanwhile (types.wit, get-data).
    match c.get_data("big", 0, 9) {
        Ok(held) => {
            let _ = write_after(&c, "big", b"replaced");
            r.expect(
                "a value keeps its bytes when the object is replaced",
                IncomingValue::incoming_value_consume_sync(held),
                Ok(big[..10].to_vec()),
            );
        }
        Err(err) => r.check("get-data", false, || err),
    }

    // Listing.
    for name in ["dir/x", "dir/y", "z"] {
        let _ = write_after(&c, name, name.as_bytes());
    }
    let mut names = crate::all_names(&c).unwrap_or_default();
    names.sort();
    r.expect("list-objects", names, ["big", "dir/x", "dir/y", "empty", "z"].map(String::from).to_vec());
    match c.list_objects() {
        Ok(stream) => {
            r.expect("skip-stream-object-names", stream.skip_stream_object_names(2), Ok((2, false)));
            r.expect(
                "read after skip",
                stream.read_stream_object_names(10).map(|(n, end)| (n.len(), end)),
                Ok((3, true)),
            );
            r.expect("skip at the end", stream.skip_stream_object_names(5), Ok((0, true)));
        }
        Err(err) => r.check("list-objects", false, || err),
    }

    // Copy and move, within and across containers.
    r.error(
        "copy-object to a container that does not exist",
        blobstore::copy_object(&id(a, "z"), &id(b, "z")),
        "does not exist",
    );
    let d = match blobstore::create_container(b) {
        Ok(d) => d,
        Err(err) => return r.check("create-container b", false, || err),
    };
    r.expect("copy-object", blobstore::copy_object(&id(a, "z"), &id(b, "copied")), Ok(()));
    r.expect("the copy", read_sync(&d, "copied", 0, u64::MAX), Ok(b"z".to_vec()));
    r.expect("the source stays", c.has_object("z"), Ok(true));
    r.expect("copy-object overwrites", blobstore::copy_object(&id(a, "dir/x"), &id(b, "copied")), Ok(()));
    r.expect("the overwritten copy", read_sync(&d, "copied", 0, u64::MAX), Ok(b"dir/x".to_vec()));
    r.expect("move-object", blobstore::move_object(&id(a, "z"), &id(b, "moved")), Ok(()));
    r.expect("the source is gone", c.has_object("z"), Ok(false));
    r.expect("the moved object", read_sync(&d, "moved", 0, u64::MAX), Ok(b"z".to_vec()));
    r.expect("move-object within a container", blobstore::move_object(&id(b, "moved"), &id(b, "renamed")), Ok(()));
    r.expect("renamed", read_sync(&d, "renamed", 0, u64::MAX), Ok(b"z".to_vec()));
    r.error("move-object of a missing object", blobstore::move_object(&id(a, "z"), &id(b, "x")), "does not exist");

    // Deleting.
    r.expect("delete-object", c.delete_object("dir/x"), Ok(()));
    r.expect("deleted", c.has_object("dir/x"), Ok(false));
    r.expect("delete-object of a missing object", c.delete_object("dir/x"), Ok(()));
    r.expect("delete-objects", c.delete_objects(&["dir/y".into(), "empty".into(), "absent".into()]), Ok(()));
    let mut names = crate::all_names(&c).unwrap_or_default();
    names.sort();
    r.expect("after delete-objects", names, vec!["big".to_string()]);
    r.expect("clear", d.clear(), Ok(()));
    r.expect("after clear", crate::all_names(&d), Ok(Vec::new()));
    r.expect("the container stays after clear", blobstore::container_exists(b), Ok(true));

    // Bad identifiers are the interface's error, and reach no storage.
    for bad in ["../x", "/etc/passwd", "a//b", "a/../../b", "nul\0", "", &"n".repeat(300)] {
        r.error(
            &format!("object name {:?}", bad.escape_debug().to_string()),
            c.has_object(bad),
            "invalid object name",
        );
    }
    r.error("write-data with a bad name", c.write_data("../x", &OutgoingValue::new_outgoing_value()), "invalid object name");
    r.error("delete-objects with one bad name", c.delete_objects(&["big".into(), "..".into()]), "invalid object name");
    r.expect("a refused delete-objects deletes nothing", c.has_object("big"), Ok(true));
    for bad in ["../etc", "a/b", "..", "", "nul\0"] {
        r.error(
            &format!("container name {:?}", bad.escape_debug().to_string()),
            blobstore::get_container(bad).map(|_| ()),
            "invalid container name",
        );
    }
    r.error("copy-object to a bad name", blobstore::copy_object(&id(a, "big"), &id(a, "../big")), "invalid object name");
    // Deny by default.
    r.error("get-container not granted", blobstore::get_container("not-granted").map(|_| ()), "access denied");
    r.error("create-container not granted", blobstore::create_container("not-granted").map(|_| ()), "access denied");
    r.error("container-exists not granted", blobstore::container_exists("not-granted"), "access denied");
    r.error("copy-object to a container not granted", blobstore::copy_object(&id(a, "big"), &id("not-granted", "x")), "access denied");

    // Deleting containers.
    drop(c);
    r.expect("delete-container", blobstore::delete_container(a), Ok(()));
    r.expect("container-exists after delete", blobstore::container_exists(a), Ok(false));
    r.error("delete-container again", blobstore::delete_container(a), "does not exist");
    r.error("a handle to a deleted container", d.info().and(blobstore::delete_container(b)).and(d.info()).map(|_| ()), "does not exist");
}
