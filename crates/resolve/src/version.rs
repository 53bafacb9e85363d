//! The version rules: which provider versions of an interface can serve an import of it.
//!
//! WASI 0.2.x releases only add, and semver says the same of minor releases from 1.0 on, so:
//! - `0.x.y` imports are served by any `0.x.z` (same `0.x`; `0.0.z` only by itself, as in
//!   Cargo and Wasmtime's linker);
//! - `>= 1` imports by any version with the same major;
//! - pre-releases (`0.2.0-draft`, `0.2.0-rc-2023-12-05`) only by exactly themselves;
//! - within a series, a host older than the component's version ("component newer") may still
//!   serve it, if it has every function the component uses: that is for the caller to check.
//!
//! These are the same series Wasmtime's linker matches by, so what binds here also links.

use semver::Version;
use std::cmp::Ordering;

/// How a provider's version relates to the version a component imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum VersionMatch {
    /// The same version (build metadata aside), or both unversioned.
    Exact,
    /// Same series, the host's is newer: it has everything the component's had.
    HostNewer,
    /// Same series, the component's is newer: fine if the functions it uses exist.
    ComponentNewer,
    /// Different series, a pre-release on either side, or one side unversioned.
    Incompatible,
}

/// Compares the version a component imports with one a provider offers.
pub(crate) fn compare(component: Option<&Version>, host: Option<&Version>) -> VersionMatch {
    let (c, h) = match (component, host) {
        (None, None) => return VersionMatch::Exact,
        (Some(c), Some(h)) => (c, h),
        _ => return VersionMatch::Incompatible,
    };
    if c.cmp_precedence(h) == Ordering::Equal {
        return VersionMatch::Exact;
    }
    if !c.pre.is_empty() || !h.pre.is_empty() || series(c) != series(h) {
        return VersionMatch::Incompatible;
    }
    match h.cmp_precedence(c) {
        Ordering::Greater => VersionMatch::HostNewer,
        _ => VersionMatch::ComponentNewer,
    }
}

/// The series a release belongs to: `0.2`, `1`; `0.0.3` is a series of its own.
fn series(v: &Version) -> (u64, u64, u64) {
    match (v.major, v.minor) {
        (0, 0) => (0, 0, v.patch),
        (0, minor) => (0, minor, 0),
        (major, _) => (major, 0, 0),
    }
}

/// Whether two versions belong to the same series (pre-releases by their release's).
pub(crate) fn same_series(a: &Version, b: &Version) -> bool {
    series(a) == series(b)
}

/// "0.2", "1" or "0.0.3": how a series is named in messages.
pub(crate) fn series_name(v: &Version) -> String {
    match series(v) {
        (0, 0, patch) => format!("0.0.{patch}"),
        (0, minor, _) => format!("0.{minor}"),
        (major, _, _) => major.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::VersionMatch::*;
    use super::*;

    fn check(component: &str, host: &str) -> VersionMatch {
        let parse = |s: &str| (!s.is_empty()).then(|| Version::parse(s).unwrap());
        compare(parse(component).as_ref(), parse(host).as_ref())
    }

    #[test]
    fn zero_x_series() {
        assert_eq!(check("0.2.0", "0.2.12"), HostNewer);
        assert_eq!(check("0.2.12", "0.2.12"), Exact);
        assert_eq!(check("0.2.99", "0.2.12"), ComponentNewer);
        assert_eq!(check("0.3.0", "0.2.12"), Incompatible);
        assert_eq!(check("0.2.12", "0.3.0"), Incompatible);
        assert_eq!(check("0.0.1", "0.0.2"), Incompatible);
        assert_eq!(check("0.0.2", "0.0.2"), Exact);
    }

    #[test]
    fn major_series() {
        assert_eq!(check("1.0.0", "1.3.0"), HostNewer);
        assert_eq!(check("1.2.5", "1.2.3"), ComponentNewer);
        assert_eq!(check("1.4.0", "1.3.9"), ComponentNewer);
        assert_eq!(check("2.0.0", "1.9.0"), Incompatible);
        assert_eq!(check("1.0.0", "2.0.0"), Incompatible);
    }

    #[test]
    fn prereleases_match_only_exactly() {
        assert_eq!(check("0.2.0-draft", "0.2.0-draft"), Exact);
        assert_eq!(check("0.2.0-draft2", "0.2.0-draft"), Incompatible);
        assert_eq!(check("0.2.0-draft", "0.2.0"), Incompatible);
        assert_eq!(check("0.2.0", "0.2.1-rc-2023-12-05"), Incompatible);
        assert_eq!(check("0.2.0-rc-2023-12-05", "0.2.0-rc-2023-12-05"), Exact);
    }

    #[test]
    fn build_metadata_and_missing_versions() {
        assert_eq!(check("1.0.0+abc", "1.0.0"), Exact);
        assert_eq!(check("", ""), Exact);
        assert_eq!(check("", "0.2.0"), Incompatible);
        assert_eq!(check("0.2.0", ""), Incompatible);
    }

    #[test]
    fn series_names() {
        let name = |s: &str| series_name(&Version::parse(s).unwrap());
        assert_eq!(name("0.2.12"), "0.2");
        assert_eq!(name("1.4.0"), "1");
        assert_eq!(name("0.0.3"), "0.0.3");
    }
}
