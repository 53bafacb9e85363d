//! The real guests (Rust programs adapted from preview1, every import @0.2.12) resolve
//! against the built-in providers alone, with no notes; `import-unknown` is made not to.

use manifold_resolve::{Outcome, ProblemKind, decode_component, resolve};

use crate::host::builtin_offers;

#[test]
fn every_guest_resolves_against_the_builtins() {
    let offers = builtin_offers();
    for (name, path) in manifold_test_programs::ALL {
        let bytes = std::fs::read(path).unwrap();
        let world = match decode_component(&bytes, name) {
            Ok(world) => world,
            Err(e) if e.kind() == "core-module" => continue,
            Err(e) => panic!("{name}: {e}"),
        };
        let resolution = resolve(&world, &offers);
        if [
            "kv-draft",
            "kv-draft2",
            "config-probe",
            "http-counter",
            "blob-probe",
            "plugin-conformance",
            "plugin-conformance-async",
            "plugin-http",
            "peek-app",
            "kv-draft2-on-draft",
        ]
        .contains(name)
        {
            // wasi:keyvalue, wasi:config, wasi:blobstore and plugin conformance guests: their
            // providers sit above this crate; they are checked against the real host end to
            // end (tests/all/inspect.rs, tests/all/plugins.rs).
            continue;
        }
        if *name == "import-unknown" {
            // Made to import what no host provides.
            let problems: Vec<_> = resolution
                .problems()
                .map(|(i, p)| (i.name.as_str(), p.kind))
                .collect();
            assert_eq!(
                problems,
                [("manifold:test/missing@1.0.0", ProblemKind::Missing)]
            );
            continue;
        }
        assert!(resolution.is_ok(), "{}", resolution.render_text(name));
        assert_eq!(
            resolution.notes().count(),
            0,
            "{}",
            resolution.render_text(name)
        );
        for r in &resolution.imports {
            if let Outcome::Bound { provided, .. } = &r.outcome {
                let expected = if provided.interface.package == "http" {
                    "http"
                } else {
                    "wasi"
                };
                assert_eq!(provided.provider, expected, "{name}: {}", r.import.name);
            }
        }
    }
}
