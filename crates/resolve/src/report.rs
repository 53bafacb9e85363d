//! The reports: one text report with every problem (what was expected, what was found, what
//! to do), the `manifold inspect` listing, and the stable JSON form documented in
//! `docs/inspect-json.md`.

use std::fmt::Write as _;

use manifold_config::InterfaceName;
use serde_json::{Value, json};

use crate::decode::{DecodeError, Export, Import, ItemKind, WorldFunction};
use crate::offer::Provided;
use crate::resolution::{ItemIssue, Outcome, Problem, ProblemKind, Resolution};

/// The version of the JSON layout; raised only when a field changes meaning or goes away.
pub const JSON_FORMAT: u32 = 1;

impl Resolution {
    /// The report for a user: every unsatisfied import with what was expected, what was
    /// found and what to do, then notes on imports that are served; or, when all are, one
    /// line that says so (and the notes).
    pub fn render_text(&self, origin: &str) -> String {
        let mut out = String::new();
        let problems: Vec<(&Import, &Problem)> = self.problems().collect();
        if problems.is_empty() {
            let n = self.imports.len();
            let _ = writeln!(
                out,
                "{origin} can run on this host: {}",
                match n {
                    0 => "it imports nothing".to_string(),
                    1 => "its one import is satisfied".to_string(),
                    n => format!("all {n} imports are satisfied"),
                }
            );
        } else {
            let n = problems.len();
            let _ = writeln!(
                out,
                "error: {origin} cannot run on this host: {n} import{} {} not satisfied",
                plural(n),
                if n == 1 { "is" } else { "are" }
            );
            for (import, problem) in problems {
                out.push('\n');
                render_problem(&mut out, import, problem);
            }
        }
        let notes: Vec<_> = self.notes().collect();
        if !notes.is_empty() {
            out.push('\n');
            for (import, note) in notes {
                let _ = writeln!(out, "note: {}: {note}", import.name);
            }
        }
        out
    }

    /// What `manifold inspect` prints: the exports, every import with the provider that
    /// serves it, then the report of [`Resolution::render_text`].
    pub fn render_inspect(&self, origin: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{origin}: a component with {} import{} and {} export{}",
            self.imports.len(),
            plural(self.imports.len()),
            self.exports.len(),
            plural(self.exports.len())
        );
        out.push_str("\nexports:\n");
        if self.exports.is_empty() {
            out.push_str("  (none)\n");
        }
        for export in &self.exports {
            let _ = writeln!(out, "  {}{}", export.name, kind_suffix(export.kind));
        }
        out.push_str("\nimports:\n");
        if self.imports.is_empty() {
            out.push_str("  (none)\n");
        }
        let width = self
            .imports
            .iter()
            .map(|r| r.import.name.len() + kind_suffix(r.import.kind).len())
            .max()
            .unwrap_or(0);
        for r in &self.imports {
            let name = format!("{}{}", r.import.name, kind_suffix(r.import.kind));
            let served = match &r.outcome {
                Outcome::Bound { provided, .. } => format!(
                    "{} `{}` ({})",
                    provided.kind, provided.provider, provided.interface
                ),
                Outcome::NothingNeeded => "nothing to provide (a type)".into(),
                Outcome::Problem(p) => format!("NOT SATISFIED ({})", p.kind.as_str()),
            };
            let _ = writeln!(out, "  {name:width$}  {served}");
        }
        out.push('\n');
        out.push_str(&self.render_text(origin));
        out
    }

    /// The stable JSON form (see `docs/inspect-json.md`).
    pub fn to_json(&self, origin: &str) -> Value {
        let imports: Vec<Value> = self
            .imports
            .iter()
            .map(|r| {
                let mut entry =
                    item_json(&r.import.name, r.import.interface.as_ref(), r.import.kind);
                entry["functions"] = functions_json(&r.import.functions);
                entry["resources"] = json!(r.import.resources);
                match &r.outcome {
                    Outcome::Bound { provided, note, .. } => {
                        entry["status"] = json!("ok");
                        entry["provider"] = provided_json(provided);
                        entry["note"] = json!(note);
                    }
                    Outcome::NothingNeeded => {
                        entry["status"] = json!("ok");
                        entry["provider"] = Value::Null;
                        entry["note"] = json!("a type: nothing to provide");
                    }
                    Outcome::Problem(p) => {
                        entry["status"] = json!("error");
                        entry["problem"] = problem_json(p);
                    }
                }
                entry
            })
            .collect();
        let exports: Vec<Value> = self.exports.iter().map(export_json).collect();
        json!({
            "format": JSON_FORMAT,
            "component": origin,
            "ok": self.is_ok(),
            "imports": imports,
            "exports": exports,
        })
    }
}

impl DecodeError {
    /// The JSON form of a file that could not be read as a component: the same top-level
    /// layout as [`Resolution::to_json`], with `error` instead of imports and exports.
    pub fn to_json(&self, origin: &str) -> Value {
        json!({
            "format": JSON_FORMAT,
            "component": origin,
            "ok": false,
            "error": {
                "kind": self.kind(),
                "message": self.to_string(),
                "offset": self.offset(),
            },
        })
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn kind_suffix(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Interface => "",
        ItemKind::Function => " (a bare function)",
        ItemKind::Type => " (a bare type)",
    }
}

fn render_problem(out: &mut String, import: &Import, problem: &Problem) {
    let name = format!("{}{}", import.name, kind_suffix(import.kind));
    match problem.kind {
        ProblemKind::Missing => {
            let _ = writeln!(out, "  {name}");
            let _ = writeln!(out, "    {}", problem.message);
        }
        ProblemKind::VersionMismatch | ProblemKind::PrereleaseMismatch => {
            let _ = writeln!(out, "  {name}");
            for offer in &problem.found {
                let _ = writeln!(out, "    this host provides {offer}");
            }
            let _ = writeln!(out, "    {}", problem.message);
        }
        ProblemKind::MissingFunctions => {
            let _ = writeln!(out, "  {name}");
            if let Some(offer) = &problem.compared_with {
                let _ = writeln!(
                    out,
                    "    this host provides {offer}, which lacks what the component uses:"
                );
            }
            for item in problem.items.iter().filter(|i| i.found.is_none()) {
                if item.resource {
                    let _ = writeln!(out, "      {}", item.label);
                } else {
                    let _ = writeln!(out, "      {}: {}", item.label, item.expected);
                }
            }
            let differing: Vec<&ItemIssue> =
                problem.items.iter().filter(|i| i.found.is_some()).collect();
            if !differing.is_empty() {
                out.push_str("    and has other types for:\n");
                for item in differing {
                    render_difference(out, "      ", &item.label, item, problem);
                }
            }
            let _ = writeln!(out, "    {}", problem.message);
        }
        ProblemKind::TypeMismatch => {
            // One block per function, headed by the import and the function, as a user
            // would search for it.
            for (i, item) in problem.items.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                let header = format!("{name}, {}", item.label);
                render_difference(out, "  ", &header, item, problem);
            }
        }
    }
    let _ = writeln!(out, "    hint: {}", problem.hint);
}

/// A header line, then what the component expects and what the provider has.
fn render_difference(
    out: &mut String,
    indent: &str,
    header: &str,
    item: &ItemIssue,
    problem: &Problem,
) {
    let provider = problem
        .compared_with
        .as_ref()
        .map_or("the provider".to_string(), |p| {
            format!("provider `{}`", p.provider)
        });
    let _ = writeln!(out, "{indent}{header}");
    let _ = writeln!(out, "{indent}  component expects: {}", item.expected);
    let _ = writeln!(
        out,
        "{indent}  {provider} has: {}",
        item.found.as_deref().unwrap_or("nothing")
    );
    if let Some(detail) = &item.detail {
        let _ = writeln!(out, "{indent}  {detail}");
    }
}

fn item_json(name: &str, interface: Option<&InterfaceName>, kind: ItemKind) -> Value {
    json!({
        "name": name,
        "kind": match kind {
            ItemKind::Interface => "interface",
            ItemKind::Function => "function",
            ItemKind::Type => "type",
        },
        "interface": interface.map(InterfaceName::unversioned),
        "version": interface.and_then(|i| i.version.as_ref()).map(ToString::to_string),
    })
}

fn export_json(export: &Export) -> Value {
    let mut entry = item_json(&export.name, export.interface.as_ref(), export.kind);
    entry["functions"] = functions_json(&export.functions);
    entry
}

fn functions_json(functions: &[WorldFunction]) -> Value {
    functions
        .iter()
        .map(|f| json!({ "name": f.name, "signature": f.signature, "async": f.is_async }))
        .collect()
}

fn provided_json(provided: &Provided) -> Value {
    json!({
        "name": provided.provider,
        "kind": provided.kind,
        "interface": provided.interface.unversioned(),
        "version": provided.interface.version.as_ref().map(ToString::to_string),
    })
}

fn problem_json(problem: &Problem) -> Value {
    json!({
        "kind": problem.kind.as_str(),
        "expected": problem.expected,
        "found": problem.found.iter().map(provided_json).collect::<Vec<_>>(),
        "compared-with": problem.compared_with.as_ref().map(provided_json),
        "items": problem.items.iter().map(|item| json!({
            "item": item.label,
            "kind": if item.resource { "resource" } else { "function" },
            "name": item.name,
            "expected": item.expected,
            "found": item.found,
            "detail": item.detail,
        })).collect::<Vec<_>>(),
        "message": problem.message,
        "hint": problem.hint,
    })
}
