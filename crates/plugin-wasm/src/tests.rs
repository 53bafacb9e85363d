use std::path::PathBuf;

use manifold_config::{PluginConfig, PluginPlan};

use super::*;

fn plan(path: &str, interfaces: &[&str]) -> PluginPlan {
    let interfaces: Vec<String> = interfaces.iter().map(|i| format!("{i:?}")).collect();
    let config: PluginConfig = toml::from_str(&format!(
        "kind = \"wasm\"\npath = {path:?}\ninterfaces = [{}]\n",
        interfaces.join(", ")
    ))
    .unwrap();
    PluginPlan::from_config("p", &config, &PathBuf::from("/"), 1 << 28)
}

#[test]
fn the_conformance_plugin_serves_its_export_with_empty_environment_and_preopens() {
    let plugin = WasmPlugin::load(&plan(
        manifold_test_programs::PLUGIN_CONFORMANCE_PROVIDER,
        &[],
    ))
    .unwrap();
    assert_eq!(
        plugin.interfaces(),
        ["manifold:conformance/types@0.1.0".parse().unwrap()]
    );
    let empty: Vec<&str> = plugin
        .imports()
        .iter()
        .filter(|i| i.rule == ImportRule::Empty)
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(
        empty,
        [
            "wasi:cli/environment@0.2.12",
            "wasi:filesystem/preopens@0.2.12"
        ]
    );
}

#[test]
fn the_stand_ins_are_valid_components() {
    for name in [
        "wasi:cli/environment@0.2.12",
        "wasi:filesystem/preopens@0.2.12",
        "wasi:cli/environment@0.2.0",
    ] {
        let bytes = stubs::empty_instance(&name.parse().unwrap()).unwrap();
        wasmparser::Validator::new_with_features(wasmparser::WasmFeatures::all())
            .validate_all(&bytes)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_missing_export_and_a_bad_path_are_explained() {
    let err = WasmPlugin::load(&plan(
        manifold_test_programs::PLUGIN_CONFORMANCE_PROVIDER,
        &["acme:billing/charge"],
    ))
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("does not export acme:billing/charge")
            && text.contains("it exports manifold:conformance/types@0.1.0"),
        "{text}"
    );
    let err = WasmPlugin::load(&plan("/nonexistent/plugin.wasm", &[])).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("cannot load wasm plugin `p`")
            && text.contains("cannot read /nonexistent/plugin.wasm"),
        "{text}"
    );
}

#[test]
fn rules() {
    let rule = |name: &str| ImportRule::of(&name.parse().unwrap());
    assert_eq!(rule("wasi:io/streams@0.2.12"), Some(ImportRule::Shared));
    assert_eq!(rule("wasi:cli/stderr@0.2.0"), Some(ImportRule::Shared));
    assert_eq!(rule("wasi:cli/environment@0.2.12"), Some(ImportRule::Empty));
    assert_eq!(
        rule("wasi:filesystem/preopens@0.2.12"),
        Some(ImportRule::Empty)
    );
    for refused in [
        "wasi:sockets/tcp@0.2.12",
        "wasi:http/outgoing-handler@0.2.12",
        "wasi:keyvalue/store@0.2.0-draft2",
        "wasi:config/store@0.2.0-draft",
        "manifold:conformance/types@0.1.0",
    ] {
        assert_eq!(rule(refused), None, "{refused}");
    }
}

#[test]
fn share_lets_a_plugin_use_the_grants_of_its_component() {
    let name: InterfaceName = "wasi:keyvalue/store@0.2.0-draft2".parse().unwrap();
    assert_eq!(ImportRule::for_plugin(&name, &[]), None);
    let share = ["wasi:keyvalue/store".parse().unwrap()];
    assert_eq!(
        ImportRule::for_plugin(&name, &share),
        Some(ImportRule::Shared)
    );
    let environment: InterfaceName = "wasi:cli/environment@0.2.12".parse().unwrap();
    assert_eq!(
        ImportRule::for_plugin(&environment, &[]),
        Some(ImportRule::Empty)
    );
    let share = ["wasi:cli/environment@0.2.12".parse().unwrap()];
    assert_eq!(
        ImportRule::for_plugin(&environment, &share),
        Some(ImportRule::Shared)
    );
}
