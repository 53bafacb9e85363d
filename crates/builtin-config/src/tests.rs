//! Tests of the layers, the environment rule, and the provider through the generated host
//! trait, as a guest's calls reach it.

use std::cell::RefCell;
use std::collections::BTreeMap;

use manifold_provider::{InstanceState, Provider};

use super::*;
use crate::host::Upstream;

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// An environment of `vars` that records every name it is asked for.
struct FakeEnv {
    vars: BTreeMap<String, String>,
    asked: RefCell<Vec<String>>,
}

impl FakeEnv {
    fn new(vars: &[(&str, &str)]) -> FakeEnv {
        FakeEnv {
            vars: map(vars),
            asked: RefCell::default(),
        }
    }

    fn lookup(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |name| {
            self.asked.borrow_mut().push(name.to_owned());
            self.vars.get(name).cloned()
        }
    }
}

fn instance(provider: &ConfigProvider) -> InstanceState {
    let mut state = InstanceState::new(1 << 20);
    provider.prepare_instance(&mut state).expect("prepare");
    state
}

fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(future)
}

fn try_get(state: &mut InstanceState, key: &str) -> Result<Option<String>, Upstream> {
    block_on(host::view(state).lookup(key.into())).expect("no trap")
}

fn try_get_all(state: &mut InstanceState) -> Result<Vec<(String, String)>, Upstream> {
    block_on(host::view(state).lookup_all()).expect("no trap")
}

fn get(state: &mut InstanceState, key: &str) -> Option<String> {
    try_get(state, key).expect("no error value")
}

fn get_all(state: &mut InstanceState) -> Vec<(String, String)> {
    try_get_all(state).expect("no error value")
}

const OFFERED: [&str; 3] = [
    "wasi:config/store@0.2.0-draft",
    "wasi:config/store@0.2.0-rc.1",
    "wasi:config/store@0.2.0-draft-2024-09-27",
];

#[test]
fn offers_the_store_at_three_versions_and_links_them_side_by_side() {
    let offered: Vec<String> = ConfigProvider::offered()
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(offered, OFFERED);
    let p = ConfigProvider::from_layers(&map(&[]), &map(&[]), |_| None);
    let engine = wasmtime::Engine::default();
    let mut linker = manifold_provider::Linker::new(&engine);
    p.add_to_linker(&mut linker, p.interfaces()).expect("links");
    // Each alone, too (what a component importing one version gets).
    for name in p.interfaces() {
        let mut linker = manifold_provider::Linker::new(&engine);
        p.add_to_linker(&mut linker, std::slice::from_ref(name))
            .expect("links");
    }
}

#[test]
fn the_wit_has_the_store_with_get_and_get_all_at_every_version() {
    let p = ConfigProvider::from_layers(&map(&[]), &map(&[]), |_| None);
    let wit = p.wit().expect("WIT");
    for name in OFFERED {
        let name: InterfaceName = name.parse().expect("a name");
        let id = manifold_wit::interface(&wit, &name).unwrap_or_else(|| panic!("{name}"));
        let mut functions: Vec<&str> = wit.interfaces[id]
            .functions
            .keys()
            .map(String::as_str)
            .collect();
        functions.sort_unstable();
        assert_eq!(functions, ["get", "get-all"], "{name}");
    }
}

/// Calls `get` and `get-all` through version `$module`'s generated `Host`, on a provider
/// whose source is down, with key `b` pinned to `cli`.
macro_rules! check_version {
    ($module:ident) => {{
        use crate::host::$module::store;
        let p = ConfigProvider::from_layers(&map(&[("a", "m")]), &map(&[("b", "cli")]), |_| None)
            .with_source(Arc::new(FakeSource(None)));
        let mut state = instance(&p);
        let mut view = host::view(&mut state);
        let pinned = block_on(store::Host::get(&mut view, "b".into())).expect("no trap");
        assert!(matches!(pinned, Ok(Some(v)) if v == "cli"), "{}", stringify!($module));
        let down = block_on(store::Host::get(&mut view, "a".into())).expect("no trap");
        assert!(
            matches!(down, Err(store::Error::Upstream(m)) if m.contains("down")),
            "{}",
            stringify!($module)
        );
        let all = block_on(store::Host::get_all(&mut view)).expect("no trap");
        assert!(matches!(all, Err(store::Error::Upstream(_))), "{}", stringify!($module));
        let mut bare = InstanceState::new(1 << 20);
        assert!(block_on(store::Host::get(&mut host::view(&mut bare), "a".into())).is_err());
    }};
}

#[test]
fn every_version_answers_from_the_same_values() {
    check_version!(draft);
    check_version!(rc1);
    check_version!(draft_2024_09_27);
}

#[test]
fn the_variable_of_a_key_is_upper_case_with_underscores() {
    for (key, variable) in [
        ("greeting", "MANIFOLD_CONFIG_GREETING"),
        ("db.url", "MANIFOLD_CONFIG_DB_URL"),
        ("feature-x", "MANIFOLD_CONFIG_FEATURE_X"),
        ("Mixed.Case-2_x", "MANIFOLD_CONFIG_MIXED_CASE_2_X"),
        ("a b/c:d", "MANIFOLD_CONFIG_A_B_C_D"),
        ("naïve", "MANIFOLD_CONFIG_NA_VE"),
        ("x=y", "MANIFOLD_CONFIG_X_Y"),
    ] {
        assert_eq!(env_var_name(key), variable, "{key:?}");
    }
}

#[test]
fn layers_are_manifest_then_environment_then_command_line() {
    let manifest = map(&[("db.url", "manifest"), ("mode", "manifest"), ("kept", "m")]);
    let overrides = map(&[("mode", "cli"), ("added", "cli")]);
    let env = FakeEnv::new(&[
        ("MANIFOLD_CONFIG_DB_URL", "env"),
        ("MANIFOLD_CONFIG_MODE", "env"),
    ]);
    let p = ConfigProvider::from_layers(&manifest, &overrides, env.lookup());
    assert_eq!(
        p.values(),
        &map(&[
            ("added", "cli"),
            ("db.url", "env"),
            ("kept", "m"),
            ("mode", "cli"),
        ])
    );
}

#[test]
fn the_environment_overrides_only_keys_the_manifest_defines() {
    let env = FakeEnv::new(&[
        ("MANIFOLD_CONFIG_GREETING", "from env"),
        ("MANIFOLD_CONFIG_SECRET", "injected"),
        ("MANIFOLD_CONFIG_ADDED", "injected"),
    ]);
    let p = ConfigProvider::from_layers(
        &map(&[("greeting", "hi")]),
        &map(&[("added", "cli")]),
        env.lookup(),
    );
    assert_eq!(
        p.values(),
        &map(&[("added", "cli"), ("greeting", "from env")])
    );
    // Not even asked about anything else: the command line's keys included.
    assert_eq!(*env.asked.borrow(), ["MANIFOLD_CONFIG_GREETING"]);
}

#[test]
fn keys_that_share_a_variable_are_both_overridden() {
    let env = FakeEnv::new(&[("MANIFOLD_CONFIG_DB_URL", "env")]);
    let p = ConfigProvider::from_layers(
        &map(&[("db.url", "a"), ("db-url", "b")]),
        &map(&[]),
        env.lookup(),
    );
    assert_eq!(p.values(), &map(&[("db-url", "env"), ("db.url", "env")]));
}

#[test]
fn no_config_is_an_empty_store_and_reads_no_environment() {
    let env = FakeEnv::new(&[("MANIFOLD_CONFIG_ANY", "x")]);
    let p = ConfigProvider::from_layers(&map(&[]), &map(&[]), env.lookup());
    assert!(env.asked.borrow().is_empty());
    let mut state = instance(&p);
    assert_eq!(get(&mut state, "any"), None);
    assert_eq!(get_all(&mut state), []);
}

#[test]
fn get_and_get_all_answer_from_the_resolved_values() {
    let p = ConfigProvider::from_layers(
        &map(&[("b", "2"), ("a", "1"), ("empty", "")]),
        &map(&[]),
        |_| None,
    );
    let mut state = instance(&p);
    assert_eq!(get(&mut state, "a").as_deref(), Some("1"));
    assert_eq!(get(&mut state, "empty").as_deref(), Some(""));
    assert_eq!(get(&mut state, "A"), None, "keys are case-sensitive");
    assert_eq!(get(&mut state, "missing"), None);
    assert_eq!(
        get_all(&mut state),
        [
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "2".to_string()),
            ("empty".to_string(), String::new()),
        ]
    );
    // Every instance shares the one resolved map.
    let mut other = instance(&p);
    assert_eq!(get(&mut other, "b").as_deref(), Some("2"));
    assert_eq!(Arc::strong_count(&p.values), 3);
}

#[test]
fn an_unprepared_instance_is_a_trap_not_a_guest_error() {
    let mut bare = InstanceState::new(1 << 20);
    assert!(block_on(host::view(&mut bare).lookup("a".into())).is_err());
    assert!(block_on(host::view(&mut bare).lookup_all()).is_err());
}

/// A source with fixed values, or one that is down.
struct FakeSource(Option<BTreeMap<String, String>>);

impl ConfigSource for FakeSource {
    fn describe(&self) -> String {
        "fake".into()
    }

    fn get<'a>(&'a self, key: &'a str) -> SourceFuture<'a, Option<String>> {
        Box::pin(async move {
            let values = self.0.as_ref().ok_or("the fake source is down")?;
            Ok(values.get(key).cloned())
        })
    }

    fn get_all(&self) -> SourceFuture<'_, Vec<(String, String)>> {
        Box::pin(async move {
            let values = self.0.as_ref().ok_or("the fake source is down")?;
            Ok(values.clone().into_iter().collect())
        })
    }
}

#[test]
fn a_source_overrides_the_manifest_but_not_the_deployment() {
    let manifest = map(&[("a", "manifest"), ("b", "manifest"), ("c", "manifest")]);
    let overrides = map(&[("c", "cli")]);
    let env = FakeEnv::new(&[("MANIFOLD_CONFIG_B", "env")]);
    let source = FakeSource(Some(map(&[
        ("a", "shared"),
        ("b", "shared"),
        ("c", "shared"),
        ("d", "shared"),
    ])));
    let p = ConfigProvider::from_layers(&manifest, &overrides, env.lookup())
        .with_source(Arc::new(source));
    let mut state = instance(&p);
    assert_eq!(get(&mut state, "a").as_deref(), Some("shared"));
    assert_eq!(get(&mut state, "b").as_deref(), Some("env"));
    assert_eq!(get(&mut state, "c").as_deref(), Some("cli"));
    assert_eq!(get(&mut state, "d").as_deref(), Some("shared"));
    assert_eq!(get(&mut state, "e"), None);
    assert_eq!(
        get_all(&mut state),
        [("a", "shared"), ("b", "env"), ("c", "cli"), ("d", "shared")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
    );
}

#[test]
fn a_source_that_is_down_is_an_upstream_error() {
    let p = ConfigProvider::from_layers(&map(&[("a", "m")]), &map(&[("b", "cli")]), |_| None)
        .with_source(Arc::new(FakeSource(None)));
    let mut state = instance(&p);
    assert!(matches!(try_get(&mut state, "a"), Err(Upstream(m)) if m.contains("down")));
    assert!(matches!(try_get_all(&mut state), Err(Upstream(_))));
    // A pinned key does not need the source.
    assert_eq!(get(&mut state, "b").as_deref(), Some("cli"));
}
