//! Joining a component with the plugins that serve its imports, with `wasm-compose`.

use anyhow::Context as _;
use wasm_compose::graph::{Component, CompositionGraph, EncodeOptions, InstanceId};
use wasmparser::{Validator, WasmFeatures};

use crate::{ImportRule, WasmPlugin, stubs};

/// One import of the app component served by one export of a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The app component's import, as named in its binary.
    pub import: String,
    /// The plugin's export, as named in its binary.
    pub export: String,
}

/// The app component `app` with each plugin instantiated inside it and wired to the app's
/// imports it serves (`links`). The result exports what the app exports and imports what the
/// app and the plugins import but do not give each other, merged by name, except the
/// plugins' `wasi:cli/environment` and `wasi:filesystem/preopens`, which empty stand-ins
/// serve. It is validated before it is returned.
pub fn compose(app: &[u8], plugins: &[(&WasmPlugin, Vec<Link>)]) -> anyhow::Result<Vec<u8>> {
    let mut validator = Validator::new_with_features(WasmFeatures::all());
    let mut graph = CompositionGraph::new();
    let app_id = graph.add_component(
        Component::from_bytes(&mut validator, "app", app).context("reading the app component")?,
    )?;
    let app_instance = graph.instantiate(app_id)?;

    for (index, (plugin, links)) in plugins.iter().enumerate() {
        let context = || format!("composing wasm plugin `{}`", plugin.name);
        let component = Component::from_bytes(
            &mut validator,
            format!("plugin{index}"),
            plugin.bytes.as_slice(),
        )
        .with_context(context)?;
        let plugin_id = graph.add_component(component).with_context(context)?;
        let plugin_instance = graph.instantiate(plugin_id).with_context(context)?;
        for link in links {
            connect(
                &mut graph,
                (plugin_instance, &link.export),
                (app_instance, &link.import),
            )
            .with_context(|| {
                format!(
                    "wasm plugin `{}`: its export {} cannot serve the import {}",
                    plugin.name, link.export, link.import
                )
            })?;
        }
        for (stub_index, import) in plugin
            .imports
            .iter()
            .filter(|i| i.rule == ImportRule::Empty)
            .enumerate()
        {
            let bytes = stubs::empty_instance(&import.interface)
                .with_context(|| format!("making the empty stand-in of {}", import.name))?;
            let stub =
                Component::from_bytes(&mut validator, format!("empty{index}-{stub_index}"), bytes)?;
            let stub_id = graph.add_component(stub)?;
            let stub_instance = graph.instantiate(stub_id)?;
            let export = stubs::export_name(&import.interface);
            connect(
                &mut graph,
                (stub_instance, &export),
                (plugin_instance, &import.name),
            )
            .with_context(|| {
                format!(
                    "wasm plugin `{}`: the empty stand-in does not fit its import {}",
                    plugin.name, import.name
                )
            })?;
        }
    }

    graph
        .encode(EncodeOptions {
            define_components: true,
            export: Some(app_instance),
            validate: true,
        })
        .context("encoding the composed component")
}

/// Connects `source`'s export to `target`'s import, both by name.
fn connect(
    graph: &mut CompositionGraph<'_>,
    (source, export): (InstanceId, &str),
    (target, import): (InstanceId, &str),
) -> anyhow::Result<()> {
    let export_index = component_of(graph, source)?
        .export_by_name(export)
        .with_context(|| format!("no export named {export}"))?
        .0;
    let import_index = component_of(graph, target)?
        .import_by_name(import)
        .with_context(|| format!("no import named {import}"))?
        .0;
    graph.connect(source, Some(export_index), target, import_index)
}

fn component_of<'g>(
    graph: &'g CompositionGraph<'_>,
    instance: InstanceId,
) -> anyhow::Result<&'g Component<'g>> {
    graph
        .get_component_of_instance(instance)
        .map(|(_, component)| component)
        .context("an instance of the composition graph has no component")
}
