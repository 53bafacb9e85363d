use std::path::PathBuf;

use super::expand;

fn wit(name: &str, text: &str) -> (tempfile_dir::Dir, PathBuf) {
    let dir = tempfile_dir::Dir::new(name);
    let path = dir.0.join("plugin.wit");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// A scratch directory removed on drop (no dev-dependency for one test helper).
mod tempfile_dir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new(name: &str) -> Dir {
            let path = std::env::temp_dir()
                .join(format!("manifold-sdk-gen-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[test]
fn the_conformance_wit_expands() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-programs/wit/conformance.wit");
    let code = expand(&path).unwrap().to_string();
    for needle in [
        "pub mod types",
        "pub trait Interface",
        "pub trait Counter",
        "type Counter : Counter",
        "pub struct Point",
        "pub enum Shape",
        "pub struct Perms",
        "(\"manifold:conformance/types@0.1.0\" , \"counter.add\")",
        "\"[drop]counter\"",
    ] {
        assert!(code.contains(needle), "no `{needle}` in\n{code}");
    }
}

#[test]
fn an_async_func_is_a_plain_method_served_synchronously() {
    let (_dir, path) = wit(
        "async-ok",
        "package a:b@0.1.0; interface i { later: async func(x: u64) -> u64; resource r { constructor(); poke: async func() -> u32; } }",
    );
    let code = expand(&path).unwrap().to_string();
    for needle in [
        "fn later (& self , x : u64) -> u64",
        "fn poke (& self ,) -> u32",
        "\"later\"",
    ] {
        assert!(code.contains(needle), "no `{needle}` in\n{code}");
    }
}

#[test]
fn unsupported_wit_is_a_clear_error() {
    let cases = [
        (
            "named",
            "package a:b; interface i { resource r; record holder { r: r } f: func(h: holder); }",
            "type `holder` holds a resource handle",
        ),
        (
            "nested-borrow",
            "package a:b; interface i { resource r; f: func(h: list<borrow<r>>); }",
            "borrow<r> is supported as a parameter only",
        ),
        (
            "resource-in-resource",
            "package a:b; interface i { resource r; resource s { f: func(x: borrow<r>); } }",
            "resource `r` is used in a method of another resource",
        ),
        (
            "stream",
            "package a:b; interface i { f: async func(s: stream<u8>); }",
            "stream cannot cross to a plugin",
        ),
        (
            "syntax",
            "package a:b; interface i { f: func(; }",
            "does not parse",
        ),
    ];
    for (name, text, expected) in cases {
        let (_dir, path) = wit(name, text);
        let err = expand(&path).unwrap_err();
        assert!(err.contains(expected), "{name}: {err}");
    }
    let err = expand("/nonexistent/plugin.wit".as_ref()).unwrap_err();
    assert!(
        err.contains("cannot read the WIT file /nonexistent/plugin.wit"),
        "{err}"
    );
}
