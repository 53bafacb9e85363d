//! Where a component comes from: a local file, an OCI reference, or a package name.
//!
//! The rule is syntactic only (it never looks at the filesystem), so the same text means the
//! same thing on every machine. In order, first match wins:
//!
//! 1. `oci://REF` is an OCI reference.
//! 2. Text starting with `/`, `./`, `../` or `~`, or ending in `.wasm`, `.wat` or `.toml`, is a
//!    local path.
//! 3. `NAMESPACE:NAME` or `NAMESPACE:NAME@VERSION` (lowercase letters, digits and `-`) is a
//!    package name, resolved to a registry like `wkg` does.
//! 4. Text whose first `/`-separated part has a `.` or a `:`, or is `localhost`, is an OCI
//!    reference (`ghcr.io/acme/hello:1.0`, `localhost:5000/hello@sha256:…`), as in Docker.
//! 5. Anything else is a local path.
//!
//! To force a path that looks like a reference, start it with `./`; to force a reference,
//! start it with `oci://`.

use std::path::PathBuf;

/// A component source, classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Path(PathBuf),
    /// An OCI reference as written, without any `oci://` prefix.
    Oci(String),
    /// A package name, `ns:name` or `ns:name@version`.
    Package(String),
}

impl SourceSpec {
    pub fn parse(text: &str) -> SourceSpec {
        if let Some(rest) = text.strip_prefix("oci://") {
            return SourceSpec::Oci(rest.to_owned());
        }
        let pathish = ["/", "./", "../", "~"].iter().any(|p| text.starts_with(p))
            || [".wasm", ".wat", ".toml"].iter().any(|e| text.ends_with(e))
            || text == "."
            || text == "..";
        if pathish {
            return SourceSpec::Path(PathBuf::from(text));
        }
        if is_package_name(text) {
            return SourceSpec::Package(text.to_owned());
        }
        if let Some((first, _)) = text.split_once('/')
            && (first.contains('.') || first.contains(':') || first == "localhost")
        {
            return SourceSpec::Oci(text.to_owned());
        }
        SourceSpec::Path(PathBuf::from(text))
    }

    /// The reference or package name, when the source is remote.
    pub fn remote(&self) -> Option<&str> {
        match self {
            SourceSpec::Path(_) => None,
            SourceSpec::Oci(s) | SourceSpec::Package(s) => Some(s),
        }
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_package_name(text: &str) -> bool {
    let (name, version) = match text.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (text, None),
    };
    if version.is_some_and(|v| v.is_empty() || v.contains('/')) {
        return false;
    }
    match name.split_once(':') {
        Some((ns, pkg)) => is_label(ns) && is_label(pkg),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let path = |s: &str| SourceSpec::Path(PathBuf::from(s));
        let oci = |s: &str| SourceSpec::Oci(s.to_owned());
        let pkg = |s: &str| SourceSpec::Package(s.to_owned());
        for (text, want) in [
            ("hello.wasm", path("hello.wasm")),
            ("app.wat", path("app.wat")),
            ("out/hello", path("out/hello")),
            ("hello", path("hello")),
            ("./my.dir/hello", path("./my.dir/hello")),
            ("/abs/localhost:5000/x", path("/abs/localhost:5000/x")),
            (
                "target/wasm32-wasip2/release/a.wasm",
                path("target/wasm32-wasip2/release/a.wasm"),
            ),
            (
                "localhost:5000/acme/hello:1.0.0",
                oci("localhost:5000/acme/hello:1.0.0"),
            ),
            ("localhost/acme/hello", oci("localhost/acme/hello")),
            (
                "ghcr.io/acme/hello@sha256:abc",
                oci("ghcr.io/acme/hello@sha256:abc"),
            ),
            ("oci://registry/hello:1", oci("registry/hello:1")),
            ("acme:hello@1.0.0", pkg("acme:hello@1.0.0")),
            ("acme:hello", pkg("acme:hello")),
            ("wasi:http@0.2.0-rc.1", pkg("wasi:http@0.2.0-rc.1")),
            ("Acme:hello", path("Acme:hello")),
            ("acme:hello@", path("acme:hello@")),
        ] {
            assert_eq!(SourceSpec::parse(text), want, "{text}");
        }
    }
}
