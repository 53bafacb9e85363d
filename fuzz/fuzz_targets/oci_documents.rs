//! Documents a registry (or a config file) hands us: OCI manifests and indexes, the Wasm
//! config, the wkg config file and the `/.well-known/wasm-pkg/registry.json` document. Each
//! is read or refused with an error; a layer's digest never becomes a path outside the
//! cache, and a well-known document never moves a package to a reference with another host,
//! a tag or a digest smuggled in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use manifold_registry::cache::Store;
use wasm_pkg_common::config::Config;
use wasm_pkg_common::metadata::RegistryMetadata;
use wasm_pkg_common::package::PackageRef;
use wasm_pkg_common::registry::Registry;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(layer) = manifold_registry::wasm_layer(rest, "fuzz") {
                let store = Store::new("/nonexistent/cache");
                if let Ok(path) = store.blob_path(&layer.digest) {
                    assert!(
                        path.starts_with("/nonexistent/cache")
                            && path
                                .components()
                                .all(|c| !matches!(c, std::path::Component::ParentDir)),
                        "digest {:?} maps to {}",
                        layer.digest,
                        path.display()
                    );
                }
            }
        }
        1 => {
            let Ok(metadata) = serde_json::from_slice::<RegistryMetadata>(rest) else {
                return;
            };
            let registry: Registry = "registry.example.com".parse().expect("a registry");
            let package: PackageRef = "acme:app".parse().expect("a package");
            if let Ok(resolved) =
                manifold_registry::names::locate(&registry, &metadata, &package, None, "acme:app")
            {
                let text = format!("{}:1.0.0", resolved.repository);
                let reference = manifold_registry::parse_reference(&text)
                    .unwrap_or_else(|e| panic!("{text:?} is not a reference: {e:#}"));
                assert_eq!(reference.registry(), resolved.registry, "{text:?}");
                assert_eq!(reference.tag(), Some("1.0.0"), "{text:?}");
                assert_eq!(reference.digest(), None, "{text:?}");
            }
        }
        _ => {
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let Ok(config) = Config::from_toml(text) else {
                return;
            };
            let package: PackageRef = "acme:app".parse().expect("a package");
            let _ = config.resolve_registry(&package);
        }
    }
});
