//! Names of WIT interfaces: `namespace:package/interface@version`.

use std::fmt;
use std::str::FromStr;

use crate::ConfigError;

/// A WIT interface name such as `wasi:keyvalue/store@0.2.0-draft`. The version is optional
/// where a name means "any version" (a manifest key) and present where it means one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct InterfaceName {
    pub namespace: String,
    pub package: String,
    pub interface: String,
    pub version: Option<semver::Version>,
}

impl InterfaceName {
    /// `namespace:package/interface`, without the version.
    pub fn unversioned(&self) -> String {
        format!("{}:{}/{}", self.namespace, self.package, self.interface)
    }

    /// `namespace:package`, the package part.
    pub fn package_name(&self) -> String {
        format!("{}:{}", self.namespace, self.package)
    }

    /// Whether `self` (a pattern, possibly without version) names `other`.
    pub fn covers(&self, other: &InterfaceName) -> bool {
        self.namespace == other.namespace
            && self.package == other.package
            && self.interface == other.interface
            && (self.version.is_none() || self.version == other.version)
    }
}

fn is_wit_ident(s: &str) -> bool {
    // WIT identifiers: kebab-case words of lowercase letters and digits, each word starting
    // with a letter (uppercase words are allowed too, but not mixed).
    !s.is_empty()
        && s.split('-').all(|word| {
            let mut chars = word.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
                && word.chars().all(|c| c.is_ascii_alphanumeric())
        })
}

impl FromStr for InterfaceName {
    type Err = ConfigError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let err = |message: String| ConfigError::Value {
            what: "interface name (namespace:package/interface[@version])",
            value: spec.to_string(),
            message,
        };
        let (name, version) = match spec.split_once('@') {
            Some((name, v)) => (
                name,
                Some(
                    semver::Version::parse(v)
                        .map_err(|e| err(format!("the version `{v}` is not semver: {e}")))?,
                ),
            ),
            None => (spec, None),
        };
        let (package, interface) = name
            .split_once('/')
            .ok_or_else(|| err("missing `/interface`, e.g. `wasi:keyvalue/store`".into()))?;
        let (namespace, package) = package
            .split_once(':')
            .ok_or_else(|| err("missing `namespace:`, e.g. `wasi:keyvalue/store`".into()))?;
        for (what, part) in [
            ("namespace", namespace),
            ("package", package),
            ("interface", interface),
        ] {
            if !is_wit_ident(part) {
                return Err(err(format!(
                    "the {what} `{part}` is not a kebab-case WIT identifier"
                )));
            }
        }
        Ok(InterfaceName {
            namespace: namespace.into(),
            package: package.into(),
            interface: interface.into(),
            version,
        })
    }
}

impl TryFrom<String> for InterfaceName {
    type Error = ConfigError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.namespace, self.package, self.interface)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let n: InterfaceName = "wasi:keyvalue/store@0.2.0-draft".parse().unwrap();
        assert_eq!(n.namespace, "wasi");
        assert_eq!(n.interface, "store");
        assert_eq!(n.version.as_ref().unwrap().pre.as_str(), "draft");
        assert_eq!(n.to_string(), "wasi:keyvalue/store@0.2.0-draft");
        let any: InterfaceName = "wasi:keyvalue/store".parse().unwrap();
        assert!(any.covers(&n));
        assert!(!n.covers(&"wasi:keyvalue/store@0.2.0".parse().unwrap()));
        for bad in [
            "wasi",
            "wasi:kv",
            "kv/store",
            "wasi:kv/store@x",
            "Wasi_x:kv/store",
            "wasi:/store",
        ] {
            assert!(bad.parse::<InterfaceName>().is_err(), "{bad}");
        }
    }
}
