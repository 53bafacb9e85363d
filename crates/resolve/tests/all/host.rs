//! The host the tests resolve against: the built-in providers (`wasi`, `http`) with the real
//! WIT of `manifold-wit`, plus synthetic providers, parsed from small inline WIT packages,
//! for what the built-ins cannot show (pre-releases, side-by-side versions, another WIT under
//! the same name).

use std::path::Path;
use std::sync::Arc;

use manifold_config::InterfaceName;
use manifold_resolve::Offer;
use wit_parser::Resolve;

/// Interfaces of the built-in WIT that are exports of a guest or not linked by the host.
const NOT_OFFERED: &[&str] = &[
    "wasi:cli/run",
    "wasi:http/incoming-handler",
    "wasi:http/handler",
    "wasi:clocks/timezone",
];

/// The built-in providers: `http` serves wasi:http, `wasi` everything else, @0.2.12 and @0.3.0.
pub fn builtin_offers() -> Vec<Offer> {
    manifold_wit::interfaces(manifold_wit::builtin())
        .into_iter()
        .filter(|name| !NOT_OFFERED.contains(&name.unversioned().as_str()))
        .map(|name| {
            let provider = if name.package == "http" {
                "http"
            } else {
                "wasi"
            };
            Offer::builtin(name, provider)
        })
        .collect()
}

const KEYVALUE: &str = "
    interface store {
      variant error { no-such-store, access-denied, other(string) }
      resource bucket {
        get: func(key: string) -> result<option<list<u8>>, error>;
        set: func(key: string, value: list<u8>) -> result<_, error>;
      }
      open: func(identifier: string) -> result<bucket, error>;
    }";

const BLOBSTORE: &str = "
    interface blobstore {
      type container-name = string;
      type error = string;
      enum mode { read, write }
      container-exists: func(name: container-name) -> result<bool, error>;
      open-mode: func(name: container-name) -> mode;
    }";

const CACHE_1_1: &str = "
    interface cache {
      get: func(key: string) -> option<string>;
    }";

const CACHE_1_3: &str = "
    interface cache {
      get: func(key: string) -> option<string>;
      set: func(key: string, value: string);
      clear: func();
    }";

/// One synthetic offer: `interface` of the package `package` (`ns:pkg@version`) in `body`.
fn synthetic(package: &str, body: &str, interface: &str, provider: &str) -> Offer {
    let mut resolve = Resolve::new();
    resolve
        .push_source(
            &format!("{provider}.wit"),
            &format!("package {package};\n{body}"),
        )
        .unwrap();
    let (ns_pkg, version) = package.split_once('@').unwrap();
    let name: InterfaceName = format!("{ns_pkg}/{interface}@{version}").parse().unwrap();
    let offer = Offer::new(name, provider, "builtin").with_wit_from(&Arc::new(resolve));
    assert!(offer.wit.is_some(), "{package}: no interface {interface}");
    offer
}

/// The test host: the built-ins plus synthetic providers of wasi:keyvalue/store@0.2.0-draft
/// (`keyvalue`), wasi:blobstore/blobstore@0.2.0-draft (`fs-blobstore`), and acme:kv/cache
/// at 1.1.0 (`cache-old`) and 1.3.0 (`cache-new`).
pub fn host_offers() -> Vec<Offer> {
    let mut offers = builtin_offers();
    offers.extend([
        synthetic("wasi:keyvalue@0.2.0-draft", KEYVALUE, "store", "keyvalue"),
        synthetic(
            "wasi:blobstore@0.2.0-draft",
            BLOBSTORE,
            "blobstore",
            "fs-blobstore",
        ),
        synthetic("acme:kv@1.1.0", CACHE_1_1, "cache", "cache-old"),
        synthetic("acme:kv@1.3.0", CACHE_1_3, "cache", "cache-new"),
    ]);
    offers
}

/// The test host with a second key-value provider beside the first:
/// wasi:keyvalue/store@0.2.0-draft2 (`keyvalue-next`).
pub fn side_by_side_offers() -> Vec<Offer> {
    let mut offers = host_offers();
    offers.push(synthetic(
        "wasi:keyvalue@0.2.0-draft2",
        KEYVALUE,
        "store",
        "keyvalue-next",
    ));
    offers
}

/// The binary of `tests/fixtures/{name}.wat`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.wat"));
    wat::parse_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
