//! The resolution rules the golden cases do not show: another WIT under the same version,
//! offers without WIT, a provider passed over for a better one, unversioned imports, bare
//! types and resources, major versions, and which offers to link.

use std::sync::Arc;

use manifold_resolve::{ComponentWorld, Offer, Outcome, ProblemKind, decode_component, resolve};
use wit_parser::Resolve;

use crate::host::host_offers;

fn world(wat: &str) -> ComponentWorld {
    decode_component(&wat::parse_str(wat).unwrap(), "app.wasm").unwrap()
}

const ENV_0_2_12: &str = r#"(component
  (import "wasi:cli/environment@0.2.12" (instance
    (export "get-environment" (func (result (list (tuple string string))))))))"#;

const ENV_0_2_99: &str = r#"(component
  (import "wasi:cli/environment@0.2.99" (instance
    (export "get-environment" (func (result (list (tuple string string))))))))"#;

/// A provider of wasi:cli/environment@0.2.12 whose WIT has no `get-environment`.
fn env_without_get_environment(provider: &str) -> Offer {
    let mut resolve = Resolve::new();
    resolve
        .push_source(
            "env.wit",
            "package wasi:cli@0.2.12; interface environment { initial-cwd: func() -> option<string>; }",
        )
        .unwrap();
    Offer::new(
        "wasi:cli/environment@0.2.12".parse().unwrap(),
        provider,
        "builtin",
    )
    .with_wit_from(&Arc::new(resolve))
}

fn outcome(world: &ComponentWorld, offers: &[Offer]) -> Outcome {
    let resolution = resolve(world, offers);
    assert_eq!(resolution.imports.len(), 1);
    resolution.imports[0].outcome.clone()
}

#[test]
fn another_wit_under_the_same_version_is_a_problem() {
    let offers = [env_without_get_environment("odd-env")];
    let Outcome::Problem(p) = outcome(&world(ENV_0_2_12), &offers) else {
        panic!("bound")
    };
    assert_eq!(p.kind, ProblemKind::MissingFunctions);
    assert_eq!(p.items[0].name, "get-environment");
    assert!(p.hint.contains("another WIT"), "{}", p.hint);
}

#[test]
fn offers_without_wit_match_by_name_and_version() {
    let offers = [Offer::new(
        "wasi:cli/environment@0.2.12".parse().unwrap(),
        "plain",
        "builtin",
    )];
    let Outcome::Bound { note, .. } = outcome(&world(ENV_0_2_12), &offers) else {
        panic!("not bound")
    };
    assert_eq!(note, None);
    let Outcome::Bound { note, .. } = outcome(&world(ENV_0_2_99), &offers) else {
        panic!("not bound")
    };
    assert!(note.unwrap().contains("has no WIT"));
}

#[test]
fn a_provider_that_lacks_functions_is_passed_over() {
    let mut offers = vec![env_without_get_environment("odd-env")];
    offers.extend(host_offers());
    let resolution = resolve(&world(ENV_0_2_12), &offers);
    let Outcome::Bound { provided, note, .. } = &resolution.imports[0].outcome else {
        panic!("not bound")
    };
    assert_eq!(provided.provider, "wasi");
    assert!(note.as_deref().unwrap().contains("`odd-env`"), "{note:?}");
    assert_eq!(resolution.notes().count(), 1);
}

#[test]
fn an_unversioned_import_needs_an_unversioned_offer() {
    let app = world(
        r#"(component (import "wasi:cli/environment" (instance
            (export "get-arguments" (func (result (list string)))))))"#,
    );
    let Outcome::Problem(p) = outcome(&app, &host_offers()) else {
        panic!("bound")
    };
    assert_eq!(p.kind, ProblemKind::VersionMismatch);
    assert!(p.message.contains("without a version"), "{}", p.message);
    let plain = [Offer::new(
        "wasi:cli/environment".parse().unwrap(),
        "p",
        "builtin",
    )];
    assert!(matches!(outcome(&app, &plain), Outcome::Bound { .. }));
}

#[test]
fn bare_types_need_nothing_but_bare_resources_cannot_be_served() {
    let app = world(
        r#"(component
             (type $point (record (field "x" u32)))
             (import "point" (type (eq $point)))
             (import "handle" (type (sub resource))))"#,
    );
    let resolution = resolve(&app, &host_offers());
    let kinds: Vec<_> = resolution
        .imports
        .iter()
        .map(|r| match &r.outcome {
            Outcome::NothingNeeded => "nothing",
            Outcome::Problem(p) => p.kind.as_str(),
            Outcome::Bound { .. } => "bound",
        })
        .collect();
    assert_eq!(kinds, ["nothing", "missing"]);
    assert!(
        resolution
            .render_text("app.wasm")
            .contains("handle (a bare type)")
    );
}

#[test]
fn major_versions_and_minor_releases() {
    let cache = |version: &str, functions: &str| {
        world(&format!(
            r#"(component (import "acme:kv/cache@{version}" (instance {functions})))"#
        ))
    };
    let get = r#"(export "get" (func (param "key" string) (result (option string))))"#;
    let offers = host_offers();
    // 1.4 is newer than any offer (1.1, 1.3), but 1.3 has `get`.
    let Outcome::Bound { provided, note, .. } = outcome(&cache("1.4.0", get), &offers) else {
        panic!("not bound")
    };
    assert_eq!(provided.provider, "cache-new");
    assert!(
        note.unwrap()
            .contains("component targets 1.4.0; host provides 1.3.0")
    );
    let Outcome::Problem(p) = outcome(&cache("2.0.0", get), &offers) else {
        panic!("bound")
    };
    assert_eq!(p.kind, ProblemKind::VersionMismatch);
    assert_eq!(p.found.len(), 2);
    assert!(p.message.contains("the 2 series"), "{}", p.message);
}

#[test]
fn bindings_group_imports_by_offer() {
    let app = world(
        r#"(component
             (import "wasi:cli/environment@0.2.0" (instance
               (export "get-arguments" (func (result (list string))))))
             (import "wasi:cli/exit@0.2.3" (instance
               (export "exit" (func (param "status" (result)))))))"#,
    );
    let offers = host_offers();
    let resolution = resolve(&app, &offers);
    let bindings = resolution.bindings();
    assert_eq!(bindings.len(), 2);
    for (offer, imports) in bindings {
        assert_eq!(offers[offer].provider, "wasi");
        assert_eq!(imports.len(), 1);
        assert_eq!(
            offers[offer].interface.unversioned(),
            imports[0].interface.as_ref().unwrap().unversioned()
        );
    }
}

const ENV_0_3_RC: &str = r#"(component
  (import "wasi:cli/environment@0.3.0-rc-2026-03-15" (instance
    (export "get-environment" (func (result (list (tuple string string))))))))"#;

const ENV_0_3_0: &str = r#"(component
  (import "wasi:cli/environment@0.3.0" (instance
    (export "get-environment" (func (result (list (tuple string string))))))))"#;

fn plain_offer(name: &str) -> Offer {
    Offer::new(name.parse().unwrap(), "rc-host", "builtin")
}

#[test]
fn a_release_candidate_binds_to_exactly_itself() {
    let offers = [
        plain_offer("wasi:cli/environment@0.3.0"),
        plain_offer("wasi:cli/environment@0.3.0-rc-2026-03-15"),
    ];
    let Outcome::Bound { provided, note, .. } = outcome(&world(ENV_0_3_RC), &offers) else {
        panic!("not bound")
    };
    assert_eq!(
        provided.interface.to_string(),
        "wasi:cli/environment@0.3.0-rc-2026-03-15"
    );
    assert_eq!(note, None);
    let Outcome::Bound { provided, .. } = outcome(&world(ENV_0_3_0), &offers) else {
        panic!("not bound")
    };
    assert_eq!(provided.interface.to_string(), "wasi:cli/environment@0.3.0");
}

#[test]
fn a_release_on_a_host_with_only_its_release_candidate() {
    let offers = [plain_offer("wasi:cli/environment@0.3.0-rc-2026-03-15")];
    let Outcome::Problem(p) = outcome(&world(ENV_0_3_0), &offers) else {
        panic!("bound")
    };
    assert_eq!(p.kind, ProblemKind::PrereleaseMismatch);
    assert_eq!(
        p.message,
        "this host provides only the release candidate wasi:cli@0.3.0-rc-2026-03-15; your \
         component targets the release 0.3.0, which a pre-release cannot serve"
    );
    assert!(
        p.hint
            .starts_with("configure a provider of wasi:cli/environment@0.3.0 in manifold.toml"),
        "{}",
        p.hint
    );
}

#[test]
fn a_release_candidate_of_a_release_older_than_the_host_s() {
    // 0.2.0-rc-… leads to 0.2.0, which 0.2.12 serves: rebuild against 0.2.12.
    let app = world(
        r#"(component (import "wasi:cli/environment@0.2.0-rc-2023-12-05" (instance
             (export "get-arguments" (func (result (list string)))))))"#,
    );
    let Outcome::Problem(p) = outcome(&app, &host_offers()) else {
        panic!("bound")
    };
    assert_eq!(p.kind, ProblemKind::PrereleaseMismatch);
    assert!(
        p.message.starts_with(
            "this host provides wasi:cli@0.2.12; your component targets the release \
             candidate 0.2.0-rc-2023-12-05: rebuild it against 0.2.12"
        ),
        "{}",
        p.message
    );
    // A candidate of a release newer than any the host has gets the plain rule.
    let app = world(
        r#"(component (import "wasi:cli/environment@0.3.1-rc-2026-09-01" (instance
             (export "get-arguments" (func (result (list string)))))))"#,
    );
    let Outcome::Problem(p) = outcome(&app, &host_offers()) else {
        panic!("bound")
    };
    assert!(p.message.contains("must match exactly"), "{}", p.message);
}
