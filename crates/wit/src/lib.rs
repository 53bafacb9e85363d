//! The WIT of the standard interfaces Manifold's built-in providers implement (WASI 0.2.12:
//! `wasi:cli`, `io`, `clocks`, `random`, `filesystem`, `sockets`, `http`; and WASI 0.3.0, the
//! next major, without `io`), embedded from the repository's `wit/deps/` (verbatim copies of
//! `wasmtime-wasi-http` 48.0.8's) and parsed once.
//!
//! `manifold-resolve` compares a component's imports against these interfaces, function by
//! function, so that a component built against another 0.2.x release is judged by what it
//! actually uses.

use std::sync::{Arc, LazyLock};

use manifold_config::InterfaceName;
use wit_parser::{InterfaceId, PackageId, Resolve};

/// The embedded packages, each after the packages it depends on (`Resolve::push_source`
/// resolves a package's `use`s against the packages already pushed).
const PACKAGES: &[(&str, &str)] = &[
    ("io.wit", include_str!("../../../wit/deps/io.wit")),
    ("clocks.wit", include_str!("../../../wit/deps/clocks.wit")),
    ("random.wit", include_str!("../../../wit/deps/random.wit")),
    (
        "filesystem.wit",
        include_str!("../../../wit/deps/filesystem.wit"),
    ),
    ("sockets.wit", include_str!("../../../wit/deps/sockets.wit")),
    ("cli.wit", include_str!("../../../wit/deps/cli.wit")),
    ("http.wit", include_str!("../../../wit/deps/http.wit")),
    // WASI 0.3.0, a new major next to 0.2 (`wit/deps/0.3.0/`).
    (
        "0.3.0/clocks.wit",
        include_str!("../../../wit/deps/0.3.0/clocks.wit"),
    ),
    (
        "0.3.0/random.wit",
        include_str!("../../../wit/deps/0.3.0/random.wit"),
    ),
    (
        "0.3.0/filesystem.wit",
        include_str!("../../../wit/deps/0.3.0/filesystem.wit"),
    ),
    (
        "0.3.0/sockets.wit",
        include_str!("../../../wit/deps/0.3.0/sockets.wit"),
    ),
    (
        "0.3.0/cli.wit",
        include_str!("../../../wit/deps/0.3.0/cli.wit"),
    ),
    (
        "0.3.0/http.wit",
        include_str!("../../../wit/deps/0.3.0/http.wit"),
    ),
];

static BUILTIN: LazyLock<Arc<Resolve>> = LazyLock::new(|| {
    let mut resolve = Resolve::new();
    for (file, text) in PACKAGES {
        // The text is compiled into this binary and parsed by a test, so failure here is a
        // bug in this crate, not something a user can cause.
        if let Err(e) = resolve.push_source(&format!("wit/deps/{file}"), text) {
            panic!("embedded wit/deps/{file} does not parse: {e:#}");
        }
    }
    Arc::new(resolve)
});

/// Parses WIT packages embedded in a binary, each given as its directory under `wit/deps/`
/// and its files (name, text), into one [`Resolve`]. A package may span several files, so
/// each is parsed as one group. The text is compiled in and each caller parses it in a test,
/// so a failure is a bug in the caller, not something a user can cause: it panics.
pub fn parse_embedded(packages: &[(&str, &[(&str, &str)])]) -> Resolve {
    let mut resolve = Resolve::new();
    for (dir, files) in packages {
        let mut map = wit_parser::SourceMap::new();
        for (file, text) in *files {
            map.push_str(&format!("wit/deps/{dir}/{file}"), *text);
        }
        let group = match map.parse() {
            Ok(group) => group,
            Err((_, e)) => panic!("embedded wit/deps/{dir} does not parse: {e}"),
        };
        if let Err(e) = resolve.push_group(group) {
            panic!("embedded wit/deps/{dir} does not resolve: {e}");
        }
    }
    resolve
}

/// The WIT of every built-in interface, parsed on first use.
pub fn builtin() -> &'static Resolve {
    &BUILTIN
}

/// The same [`Resolve`] as [`builtin`], shared, for holders that want an `Arc`.
pub fn builtin_shared() -> Arc<Resolve> {
    Arc::clone(&BUILTIN)
}

/// The name of interface `id` of `resolve`: `None` for an interface without a name (one
/// written inline in a world) or outside any package.
pub fn interface_name(resolve: &Resolve, id: InterfaceId) -> Option<InterfaceName> {
    let interface = resolve.interfaces.get(id)?;
    let package = &resolve.packages.get(interface.package?)?.name;
    Some(InterfaceName {
        namespace: package.namespace.clone(),
        package: package.name.clone(),
        interface: interface.name.clone()?,
        version: package.version.clone(),
    })
}

/// Finds interface `name` in `resolve`. A name without a version finds the interface in the
/// package of that name with the highest version.
pub fn interface(resolve: &Resolve, name: &InterfaceName) -> Option<InterfaceId> {
    let package = packages_named(resolve, name)
        .filter(|(_, version)| name.version.is_none() || *version == name.version.as_ref())
        .max_by(|(_, a), (_, b)| a.cmp(b))?
        .0;
    resolve.packages[package]
        .interfaces
        .get(&name.interface)
        .copied()
}

/// Every named interface of `resolve`, with its version, sorted.
pub fn interfaces(resolve: &Resolve) -> Vec<InterfaceName> {
    let mut names: Vec<InterfaceName> = resolve
        .interfaces
        .iter()
        .filter_map(|(id, _)| interface_name(resolve, id))
        .collect();
    names.sort();
    names
}

fn packages_named<'r>(
    resolve: &'r Resolve,
    name: &'r InterfaceName,
) -> impl Iterator<Item = (PackageId, Option<&'r semver::Version>)> + 'r {
    resolve.packages.iter().filter_map(move |(id, package)| {
        (package.name.namespace == name.namespace && package.name.name == name.package)
            .then_some((id, package.name.version.as_ref()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> InterfaceName {
        s.parse().unwrap()
    }

    #[test]
    fn every_builtin_interface_is_found_at_0_2_12() {
        let resolve = builtin();
        let all = interfaces(resolve);
        for expected in [
            "wasi:io/error@0.2.12",
            "wasi:io/streams@0.2.12",
            "wasi:clocks/monotonic-clock@0.2.12",
            "wasi:random/insecure-seed@0.2.12",
            "wasi:filesystem/preopens@0.2.12",
            "wasi:sockets/tcp@0.2.12",
            "wasi:cli/environment@0.2.12",
            "wasi:cli/terminal-stderr@0.2.12",
            "wasi:http/types@0.2.12",
            "wasi:http/outgoing-handler@0.2.12",
            "wasi:cli/run@0.3.0",
            "wasi:cli/stdout@0.3.0",
            "wasi:clocks/system-clock@0.3.0",
            "wasi:filesystem/types@0.3.0",
            "wasi:sockets/types@0.3.0",
            "wasi:http/types@0.3.0",
            "wasi:http/client@0.3.0",
            "wasi:http/handler@0.3.0",
        ] {
            let n = name(expected);
            assert!(all.contains(&n), "{expected} missing from {all:?}");
            let id = interface(resolve, &n).unwrap();
            assert_eq!(interface_name(resolve, id), Some(n));
        }
        // Unstable features are not enabled: their items are left out.
        assert!(!all.contains(&name("wasi:clocks/timezone@0.2.12")));
        assert!(!all.contains(&name("wasi:clocks/timezone@0.3.0")));
    }

    #[test]
    fn lookup_by_name_and_version() {
        let resolve = builtin();
        let env = interface(resolve, &name("wasi:cli/environment")).unwrap();
        assert!(
            resolve.interfaces[env]
                .functions
                .contains_key("get-environment")
        );
        // Without a version: the newest major.
        assert_eq!(
            interface(resolve, &name("wasi:cli/environment")),
            interface(resolve, &name("wasi:cli/environment@0.3.0"))
        );
        assert_ne!(
            interface(resolve, &name("wasi:cli/environment@0.2.12")),
            interface(resolve, &name("wasi:cli/environment@0.3.0"))
        );
        assert_eq!(
            interface(resolve, &name("wasi:cli/environment@0.2.0")),
            None
        );
        assert_eq!(interface(resolve, &name("wasi:cli/nothing@0.2.12")), None);
        assert_eq!(interface(resolve, &name("acme:cli/environment")), None);
    }

    #[test]
    fn shared_is_the_same_resolve() {
        assert!(std::ptr::eq(builtin(), &*builtin_shared()));
    }
}
