//! Binding every import of a component to an offer of the host, or saying precisely why none
//! fits: no provider of the interface, no compatible version, or functions and resources the
//! provider's version lacks or types differently.
//!
//! Each import binds to the best offer: the same version first, then the highest newer one
//! in its series, then (if the component targets a newer version than any the host has) the
//! highest older one whose WIT has every function and resource the component uses, with the
//! same types. Offers without WIT are matched by name and version only.

use std::cmp::Reverse;

use manifold_config::InterfaceName;
use semver::Version;
use wit_parser::Type;

use crate::compare::{Compare, Difference};
use crate::decode::{ComponentWorld, Export, Import, ItemKind};
use crate::offer::{Offer, Provided};
use crate::signature;
use crate::version::{self, VersionMatch};

/// The outcome for every import of a component.
#[derive(Debug, Clone)]
pub struct Resolution {
    pub imports: Vec<ResolvedImport>,
    pub exports: Vec<Export>,
}

/// One import and what became of it.
#[derive(Debug, Clone)]
pub struct ResolvedImport {
    pub import: Import,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// Served by `offers[offer]`.
    Bound {
        offer: usize,
        provided: Provided,
        /// Said under `--verbose`: e.g. that the component targets a newer version.
        note: Option<String>,
    },
    /// A bare type that is not a resource: nothing for a host to provide.
    NothingNeeded,
    Problem(Problem),
}

/// Why an import cannot be served.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemKind,
    /// What the component imports (`wasi:keyvalue/store@0.2.0-draft2`).
    pub expected: String,
    /// Every offer of the same interface, at any version.
    pub found: Vec<Provided>,
    /// For missing functions and type mismatches: the offer the functions were checked against.
    pub compared_with: Option<Provided>,
    /// The functions and resources that are missing or differ.
    pub items: Vec<ItemIssue>,
    /// One sentence: what is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// No provider offers the interface at any version (or the import is not an interface).
    Missing,
    /// Providers offer the interface, but in other series.
    VersionMismatch,
    /// A pre-release on one side and no exact match.
    PrereleaseMismatch,
    /// The best provider lacks functions or resources the component uses.
    MissingFunctions,
    /// The best provider has every function, but some with other types.
    TypeMismatch,
}

impl ProblemKind {
    /// The stable, kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::Missing => "missing",
            ProblemKind::VersionMismatch => "version-mismatch",
            ProblemKind::PrereleaseMismatch => "prerelease-mismatch",
            ProblemKind::MissingFunctions => "missing-functions",
            ProblemKind::TypeMismatch => "type-mismatch",
        }
    }
}

/// A function or resource that a provider lacks or types differently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemIssue {
    /// How messages name it: "function `get-magic`", "method `descriptor.read`", "resource
    /// `descriptor`".
    pub label: String,
    /// The name in the binary (`[method]descriptor.read`) or the resource's name.
    pub name: String,
    /// The component's signature (or `resource`).
    pub expected: String,
    /// The provider's; `None` when the provider lacks it.
    pub found: Option<String>,
    /// Where the types differ when the signatures alone do not show it.
    pub detail: Option<String>,
    /// A resource rather than a function.
    pub resource: bool,
}

impl Resolution {
    /// Whether every import is served.
    pub fn is_ok(&self) -> bool {
        self.problems().next().is_none()
    }

    /// The imports that cannot be served, with why.
    pub fn problems(&self) -> impl Iterator<Item = (&Import, &Problem)> {
        self.imports.iter().filter_map(|r| match &r.outcome {
            Outcome::Problem(p) => Some((&r.import, p)),
            _ => None,
        })
    }

    /// Notes on imports that are served (for `--verbose`).
    pub fn notes(&self) -> impl Iterator<Item = (&Import, &str)> {
        self.imports.iter().filter_map(|r| match &r.outcome {
            Outcome::Bound {
                note: Some(note), ..
            } => Some((&r.import, note.as_str())),
            _ => None,
        })
    }

    /// For each offer that serves at least one import, its index in the offers given to
    /// [`resolve`] and the interfaces it serves: what to link.
    pub fn bindings(&self) -> Vec<(usize, Vec<&Import>)> {
        let mut bindings: Vec<(usize, Vec<&Import>)> = Vec::new();
        for r in &self.imports {
            if let Outcome::Bound { offer, .. } = r.outcome {
                match bindings.iter_mut().find(|(o, _)| *o == offer) {
                    Some((_, imports)) => imports.push(&r.import),
                    None => bindings.push((offer, vec![&r.import])),
                }
            }
        }
        bindings
    }
}

/// Binds every import of `world` to one of `offers`, or explains why it cannot be.
pub fn resolve(world: &ComponentWorld, offers: &[Offer]) -> Resolution {
    let imports = world
        .imports
        .iter()
        .map(|import| ResolvedImport {
            import: import.clone(),
            outcome: resolve_import(world, import, offers),
        })
        .collect();
    Resolution {
        imports,
        exports: world.exports.clone(),
    }
}

fn resolve_import(world: &ComponentWorld, import: &Import, offers: &[Offer]) -> Outcome {
    let Some(name) = &import.interface else {
        return not_an_interface(import);
    };
    let same_interface: Vec<(usize, &Offer)> = offers
        .iter()
        .enumerate()
        .filter(|(_, offer)| {
            let o = &offer.interface;
            (&o.namespace, &o.package, &o.interface)
                == (&name.namespace, &name.package, &name.interface)
        })
        .collect();
    let found: Vec<Provided> = same_interface.iter().map(|(_, o)| o.provided()).collect();
    if found.is_empty() {
        return Outcome::Problem(Problem {
            kind: ProblemKind::Missing,
            expected: name.to_string(),
            found,
            compared_with: None,
            items: Vec::new(),
            message: format!("no provider offers {} at any version", name.unversioned()),
            hint: format!(
                "add a plugin that provides it: [providers.\"{}\"] in manifold.toml \
                 (`manifold providers` lists what this host offers)",
                name.unversioned()
            ),
        });
    }
    let mut candidates: Vec<(VersionMatch, usize, &Offer)> = same_interface
        .into_iter()
        .map(|(i, o)| {
            let m = version::compare(name.version.as_ref(), o.interface.version.as_ref());
            (m, i, o)
        })
        .filter(|(m, _, _)| *m != VersionMatch::Incompatible)
        .collect();
    candidates.sort_by_key(|(m, i, o)| (*m, Reverse(o.interface.version.clone()), *i));
    if candidates.is_empty() {
        return Outcome::Problem(version_problem(name, found, offers));
    }
    let mut first_failure: Option<(VersionMatch, &Offer, Vec<ItemIssue>)> = None;
    for (m, index, offer) in candidates {
        let issues = check_items(world, import, offer);
        if issues.is_empty() {
            return Outcome::Bound {
                offer: index,
                provided: offer.provided(),
                note: bound_note(name, m, offer, first_failure.as_ref().map(|f| f.1)),
            };
        }
        first_failure.get_or_insert((m, offer, issues));
    }
    let Some((m, offer, items)) = first_failure else {
        // Unreachable: there was at least one candidate and none bound.
        return Outcome::Problem(version_problem(name, found, offers));
    };
    Outcome::Problem(function_problem(name, m, offer, items, found))
}

fn bound_note(
    name: &InterfaceName,
    m: VersionMatch,
    offer: &Offer,
    passed_over: Option<&Offer>,
) -> Option<String> {
    let component = name
        .version
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let host = offer
        .interface
        .version
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut note = match (m, &offer.wit) {
        (VersionMatch::ComponentNewer, Some(_)) => Some(format!(
            "component targets {component}; host provides {host}; every function it uses is present"
        )),
        (VersionMatch::ComponentNewer, None) => Some(format!(
            "component targets {component}; host provides {host}; provider `{}` has no WIT to \
             check its functions against",
            offer.provider
        )),
        _ => None,
    };
    if let Some(other) = passed_over {
        let passed = format!(
            "{} was passed over: it lacks or differs in functions the component uses",
            other.provided()
        );
        note = Some(match note {
            Some(n) => format!("{n}; {passed}"),
            None => passed,
        });
    }
    note
}

fn version_problem(name: &InterfaceName, found: Vec<Provided>, offers: &[Offer]) -> Problem {
    let versions: Vec<&Version> = found
        .iter()
        .filter_map(|p| p.interface.version.as_ref())
        .collect();
    let alternatives = if versions.is_empty() {
        format!("an unversioned {}", name.unversioned())
    } else {
        let names: Vec<String> = found.iter().map(|p| p.interface.to_string()).collect();
        dedup(names).join(" or ")
    };
    let every_offer_a_prerelease = found.iter().all(|p| {
        p.interface
            .version
            .as_ref()
            .is_some_and(|v| !v.pre.is_empty())
    });
    let configure = format!("configure a provider of {name} in manifold.toml");
    let rebuild = format!("rebuild against {alternatives}, or {configure}");
    let (kind, message, hint) = match &name.version {
        None => (
            ProblemKind::VersionMismatch,
            "you're importing it without a version; the host's providers offer only the \
             versions above"
                .to_string(),
            rebuild,
        ),
        Some(v) if !v.pre.is_empty() => match final_release_for(v, &versions) {
            Some(release) => (
                ProblemKind::PrereleaseMismatch,
                format!(
                    "this host provides {}; your component targets the {} {v}: rebuild it \
                     against {release}",
                    package_at(name, release),
                    prerelease_kind(v)
                ),
                format!(
                    "update the component's WIT dependencies (or its toolchain) to {} and \
                     rebuild (pre-releases match only exactly), or {configure}",
                    interface_at(name, release)
                ),
            ),
            None => (
                ProblemKind::PrereleaseMismatch,
                format!("you're targeting {v}; pre-release versions must match exactly."),
                rebuild,
            ),
        },
        Some(v) => match prerelease_in_series(v, &versions) {
            Some(pre) => (
                ProblemKind::PrereleaseMismatch,
                format!(
                    "this host provides only the {} {}; your component targets the release \
                     {v}, which a pre-release cannot serve",
                    prerelease_kind(pre),
                    package_at(name, pre)
                ),
                format!(
                    "{configure}, or rebuild against {} (a pre-release serves only components \
                     built against exactly it)",
                    interface_at(name, pre)
                ),
            ),
            None if every_offer_a_prerelease => (
                ProblemKind::PrereleaseMismatch,
                format!("you're targeting {v}; pre-release versions must match exactly."),
                rebuild,
            ),
            None => {
                let host_series =
                    dedup(versions.iter().map(|h| version::series_name(h)).collect()).join(" and ");
                match package_without_interface(name, v, offers) {
                    Some((release, interfaces)) => (
                        ProblemKind::VersionMismatch,
                        format!(
                            "this host provides {} without {iface} (it has {}), and {iface} only \
                             in the {host_series} series; your component targets {v}",
                            package_at(name, &release),
                            listed(&interfaces),
                            iface = name.interface,
                        ),
                        format!(
                            "rebuild against {alternatives}, or without {} (with what {} has), \
                             or {configure}",
                            name.interface,
                            package_at(name, &release)
                        ),
                    ),
                    None => (
                        ProblemKind::VersionMismatch,
                        format!(
                            "you're targeting {v}, of the {} series; the host has the \
                             {host_series} series (versions are compatible within a 0.x series, \
                             and from 1.0 on within a major version)",
                            version::series_name(v),
                        ),
                        rebuild,
                    ),
                }
            }
        },
    };
    Problem {
        kind,
        expected: name.to_string(),
        found,
        compared_with: None,
        items: Vec::new(),
        message,
        hint,
    }
}

/// The highest release the host offers in the series of pre-release `pre`, at or after the
/// release `pre` leads to (`0.3.0` for `0.3.0-rc-2026-03-15`): what to rebuild against.
fn final_release_for<'a>(pre: &Version, offered: &[&'a Version]) -> Option<&'a Version> {
    let release = (pre.major, pre.minor, pre.patch);
    offered
        .iter()
        .copied()
        .filter(|h| h.pre.is_empty() && version::same_series(h, pre))
        .filter(|h| (h.major, h.minor, h.patch) >= release)
        .max()
}

/// The highest pre-release the host offers in the series of release `v`.
fn prerelease_in_series<'a>(v: &Version, offered: &[&'a Version]) -> Option<&'a Version> {
    offered
        .iter()
        .copied()
        .filter(|h| !h.pre.is_empty() && version::same_series(h, v))
        .max()
}

/// "release candidate" (`-rc…`), "draft" (`-draft…`) or "pre-release".
fn prerelease_kind(v: &Version) -> &'static str {
    let pre = v.pre.as_str();
    if pre.starts_with("rc") {
        "release candidate"
    } else if pre.starts_with("draft") {
        "draft"
    } else {
        "pre-release"
    }
}

/// When the host has the package of `name` in the series of `v`, but not this interface:
/// the highest such version and the interfaces it has there (`wasi:clocks@0.3.0` without
/// `wall-clock`, which WASI 0.3 replaced).
fn package_without_interface(
    name: &InterfaceName,
    v: &Version,
    offers: &[Offer],
) -> Option<(Version, Vec<String>)> {
    let in_series: Vec<&InterfaceName> = offers
        .iter()
        .map(|o| &o.interface)
        .filter(|o| (&o.namespace, &o.package) == (&name.namespace, &name.package))
        .filter(|o| version::compare(Some(v), o.version.as_ref()) != VersionMatch::Incompatible)
        .collect();
    let release = in_series.iter().filter_map(|o| o.version.as_ref()).max()?;
    let interfaces = in_series
        .iter()
        .filter(|o| o.version.as_ref() == Some(release))
        .map(|o| o.interface.clone())
        .collect();
    Some((release.clone(), dedup(interfaces)))
}

/// `wasi:http@0.3.0`: the package of `name` at `version`.
fn package_at(name: &InterfaceName, version: &Version) -> String {
    format!("{}:{}@{version}", name.namespace, name.package)
}

/// `wasi:http/types@0.3.0`: `name` at `version`.
fn interface_at(name: &InterfaceName, version: &Version) -> String {
    format!("{}@{version}", name.unversioned())
}

/// "a", "a and b", "a, b and c".
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn dedup(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items.dedup();
    items
}

fn function_problem(
    name: &InterfaceName,
    m: VersionMatch,
    offer: &Offer,
    items: Vec<ItemIssue>,
    found: Vec<Provided>,
) -> Problem {
    let missing: Vec<&ItemIssue> = items.iter().filter(|i| i.found.is_none()).collect();
    let differ: Vec<&ItemIssue> = items.iter().filter(|i| i.found.is_some()).collect();
    let host = &offer.interface;
    let host_version = host.version.as_ref().map(ToString::to_string);
    let kind = if !missing.is_empty() {
        ProblemKind::MissingFunctions
    } else {
        ProblemKind::TypeMismatch
    };
    let message = match (m, name.version.as_ref(), host_version.as_deref()) {
        (VersionMatch::ComponentNewer, Some(v), Some(h)) => format!(
            "you're targeting {v}, newer than the host's {h}; {}",
            counted(&missing, &differ)
        ),
        _ => format!(
            "provider `{}` implements a different {} than the component was built against; {}",
            offer.provider,
            name.unversioned(),
            counted(&missing, &differ)
        ),
    };
    let hint = match m {
        VersionMatch::ComponentNewer => format!(
            "rebuild against {host} (so the toolchain uses only what the host has), or \
             configure a provider of {name} in manifold.toml"
        ),
        _ => format!(
            "the component was built against another WIT for {name} than provider `{}` \
             implements; rebuild it against the provider's WIT, or choose a provider in \
             manifold.toml that implements the component's",
            offer.provider
        ),
    };
    Problem {
        kind,
        expected: name.to_string(),
        found,
        compared_with: Some(offer.provided()),
        items,
        message,
        hint,
    }
}

/// "1 function it uses is missing and 2 have other types".
fn counted(missing: &[&ItemIssue], differ: &[&ItemIssue]) -> String {
    let n = |items: &[&ItemIssue]| {
        let resources = items.iter().filter(|i| i.resource).count();
        let noun = match (resources, items.len()) {
            (0, 1) => "function",
            (0, _) => "functions",
            (1, 1) => "resource",
            (r, all) if r == all => "resources",
            (_, _) => "functions and resources",
        };
        format!("{} {noun}", items.len())
    };
    match (missing.len(), differ.len()) {
        (m, 0) => format!("{} it uses {} missing", n(missing), is_are(m)),
        (0, d) => format!("{} it uses {} other types there", n(differ), has_have(d)),
        (m, d) => format!(
            "{} it uses {} missing and {} {} other types",
            n(missing),
            is_are(m),
            n(differ),
            has_have(d)
        ),
    }
}

fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

fn has_have(n: usize) -> &'static str {
    if n == 1 { "has" } else { "have" }
}

/// Checks every function and resource the component imports from an interface against the
/// offer's WIT: nothing to report when the offer has no WIT.
fn check_items(world: &ComponentWorld, import: &Import, offer: &Offer) -> Vec<ItemIssue> {
    let (Some(ours_id), Some((theirs, theirs_id))) = (import.id, &offer.wit) else {
        return Vec::new();
    };
    let ours = &world.resolve.interfaces[ours_id];
    let Some(host) = theirs.interfaces.get(*theirs_id) else {
        return Vec::new();
    };
    let compare = Compare {
        ours: &world.resolve,
        theirs,
    };
    let mut issues = Vec::new();
    for (name, func) in &ours.functions {
        let expected = signature::function(&world.resolve, func);
        let label = signature::function_label(func);
        match host.functions.get(name) {
            None => issues.push(ItemIssue {
                label,
                name: name.clone(),
                expected,
                found: None,
                detail: None,
                resource: false,
            }),
            Some(theirs_func) => {
                if let Err(d) = compare.function(func, theirs_func) {
                    issues.push(ItemIssue {
                        label,
                        name: name.clone(),
                        expected,
                        found: Some(signature::function(theirs, theirs_func)),
                        detail: detail(&d),
                        resource: false,
                    });
                }
            }
        }
    }
    for resource in &import.resources {
        let ours_ty = Type::Id(ours.types[resource]);
        let theirs_ty = host.types.get(resource).map(|id| Type::Id(*id));
        if theirs_ty.is_some_and(|t| compare.same_resource(ours_ty, t)) {
            continue;
        }
        issues.push(ItemIssue {
            label: format!("resource `{resource}`"),
            name: resource.clone(),
            expected: "resource".into(),
            found: theirs_ty.map(|t| signature::definition(theirs, &t)),
            detail: None,
            resource: true,
        });
    }
    issues
}

/// "in `entry`: component has record { … }; provider has record { … }", when the signatures
/// print the same names but the named types behind them differ.
fn detail(d: &Difference) -> Option<String> {
    if d.path.is_empty() {
        return None;
    }
    let path: Vec<String> = d.path.iter().map(|p| format!("`{p}`")).collect();
    Some(format!(
        "in {}: component has {}; provider has {}",
        path.join(" → "),
        d.expected,
        d.found
    ))
}

/// Bare functions, bare resources and unnamed instances: no provider serves those.
fn not_an_interface(import: &Import) -> Outcome {
    let (message, hint) = match import.kind {
        ItemKind::Function => (
            format!(
                "the component imports a bare function `{}`; providers serve interfaces \
                 (namespace:package/interface), not bare functions",
                import.name
            ),
            "import it through a named interface".to_string(),
        ),
        ItemKind::Type => {
            if import.resources.is_empty() {
                return Outcome::NothingNeeded;
            }
            (
                format!(
                    "the component imports a bare resource `{}`; providers serve interfaces, \
                     not bare resources",
                    import.name
                ),
                "import it through a named interface".to_string(),
            )
        }
        ItemKind::Interface => (
            format!(
                "the component imports an interface under the plain name `{}`; providers \
                 serve named interfaces (namespace:package/interface@version)",
                import.name
            ),
            "give the import an interface name, e.g. by defining it in a WIT package".to_string(),
        ),
    };
    Outcome::Problem(Problem {
        kind: ProblemKind::Missing,
        expected: import.name.clone(),
        found: Vec::new(),
        compared_with: None,
        items: Vec::new(),
        message,
        hint,
    })
}
