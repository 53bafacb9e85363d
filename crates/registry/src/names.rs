//! Package names (`acme:hello@1.0.0`) to OCI references, the way `wkg` does it: the same config
//! file (`$XDG_CONFIG_HOME/wasm-pkg/config.toml`, read by `wasm-pkg-common`), then the
//! registry's `/.well-known/wasm-pkg/registry.json` for its OCI registry and namespace prefix.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use wasm_pkg_common::config::{Config, RegistryMapping};
use wasm_pkg_common::metadata::{REGISTRY_METADATA_PATH, RegistryMetadata};
use wasm_pkg_common::package::PackageRef;
use wasm_pkg_common::registry::Registry;

/// A package name resolved to an OCI repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `registry/prefix+ns/name`, no tag.
    pub repository: String,
    pub registry: String,
    /// The version asked for; `None` means the newest release.
    pub version: Option<semver::Version>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciMetadata {
    registry: Option<String>,
    namespace_prefix: Option<String>,
}

/// Splits `ns:name[@version]`.
pub fn parse(spec: &str) -> anyhow::Result<(PackageRef, Option<semver::Version>)> {
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let package: PackageRef = name
        .parse()
        .with_context(|| format!("{name:?} is not a package name (namespace:name)"))?;
    let version = version
        .map(|v| {
            semver::Version::parse(v)
                .with_context(|| format!("{v:?} in {spec:?} is not a semver version (1.2.3)"))
        })
        .transpose()?;
    Ok((package, version))
}

/// The wasm-pkg config `wkg` uses, or the defaults when there is none.
pub async fn load_config() -> anyhow::Result<Config> {
    Config::global_defaults()
        .await
        .with_context(|| format!("cannot read the wasm-pkg config {}", config_path_text()))
}

pub fn config_path_text() -> String {
    Config::global_config_path().map_or_else(
        || "~/.config/wasm-pkg/config.toml".into(),
        |p| p.display().to_string(),
    )
}

/// Loopback hosts are asked over plain HTTP, as wkg does for `localhost` and `127.0.0.1`.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Resolves a package name through the config and the registry's well-known document.
pub async fn resolve(
    config: &Config,
    http: &reqwest::Client,
    spec: &str,
) -> anyhow::Result<Resolved> {
    let (package, version) = parse(spec)?;
    let Some(registry) = config.resolve_registry(&package) else {
        bail!(
            "no registry is configured for the namespace `{ns}` of {spec}\n\
             hint: set one in {path} (the file wkg uses), e.g.\n  \
             default_registry = \"registry.example.com\"\nor\n  \
             [namespace_registries]\n  {ns} = \"registry.example.com\"",
            ns = package.namespace(),
            path = config_path_text(),
        );
    };
    let inline = config
        .package_registry_override(&package)
        .or_else(|| config.namespace_registry(package.namespace()))
        .and_then(|m| match m {
            RegistryMapping::Custom(c) => Some(c.metadata.clone()),
            RegistryMapping::Registry(_) => None,
        });
    let metadata = match inline {
        Some(m) => m,
        None => fetch_metadata(http, registry).await?,
    };
    if let Some(p) = metadata.preferred_protocol()
        && p != "oci"
    {
        bail!(
            "registry {registry} (for {spec}) prefers the `{p}` protocol; manifold speaks only OCI"
        );
    }
    locate(registry, &metadata, &package, version, spec)
}

/// Where `package` lives, given its registry and that registry's metadata (the well-known
/// document or the config's inline copy, both untrusted text): the OCI registry and the
/// namespace prefix, checked to be a host and repository path segments, so that a document
/// cannot smuggle a tag, a digest or another host into the reference.
pub fn locate(
    registry: &Registry,
    metadata: &RegistryMetadata,
    package: &PackageRef,
    version: Option<semver::Version>,
    spec: &str,
) -> anyhow::Result<Resolved> {
    let oci: OciMetadata = metadata
        .protocol_config("oci")
        .with_context(|| format!("registry {registry}: invalid OCI metadata"))?
        .unwrap_or_default();
    let oci_registry = oci.registry.unwrap_or_else(|| registry.to_string());
    // A host without `.` or `:` (other than `localhost`) would be read as a Docker Hub
    // namespace by every OCI reference parser, moving the package to docker.io.
    let host_ok = (oci_registry.contains(['.', ':']) || oci_registry == "localhost")
        && oci_registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !host_ok {
        bail!(
            "registry {registry} (for {spec}) names the OCI registry {oci_registry:?}, \
             which is not a host[:port]"
        );
    }
    let prefix = oci.namespace_prefix.unwrap_or_default();
    let prefix_ok = prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/".contains(&b))
        && !prefix.starts_with('/')
        && !prefix.contains("//");
    if !prefix_ok {
        bail!(
            "registry {registry} (for {spec}) has the namespace prefix {prefix:?}, which is not \
             a repository path (lowercase letters, digits, `._-/`)"
        );
    }
    let repository = format!(
        "{oci_registry}/{prefix}{}/{}",
        package.namespace(),
        package.name()
    );
    Ok(Resolved {
        repository,
        registry: oci_registry,
        version,
    })
}

/// `/.well-known/wasm-pkg/registry.json`; a 404 means "no metadata" (the registry is itself
/// the OCI registry), as in wkg.
async fn fetch_metadata(
    http: &reqwest::Client,
    registry: &Registry,
) -> anyhow::Result<RegistryMetadata> {
    let scheme = if is_loopback_host(registry.host()) {
        "http"
    } else {
        "https"
    };
    let url = format!("{scheme}://{registry}{REGISTRY_METADATA_PATH}");
    tracing::debug!(%url, "fetching registry metadata");
    let response = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("cannot fetch the registry metadata {url}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(RegistryMetadata::default());
    }
    let response = response
        .error_for_status()
        .with_context(|| format!("cannot fetch the registry metadata {url}"))?;
    response
        .json()
        .await
        .with_context(|| format!("{url} is not a valid wasm-pkg registry document"))
}

/// The newest release among tags: the highest semver without a pre-release part.
pub fn newest_release(tags: &[String]) -> Option<String> {
    tags.iter()
        .filter_map(|t| semver::Version::parse(t).ok().map(|v| (v, t)))
        .filter(|(v, _)| v.pre.is_empty())
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_release_skips_prereleases_and_non_semver() {
        let tags: Vec<String> = ["1.0.0", "latest", "1.10.0", "1.9.9", "2.0.0-rc.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(newest_release(&tags).as_deref(), Some("1.10.0"));
        assert_eq!(newest_release(&[]), None);
    }

    #[tokio::test]
    async fn inline_metadata_and_unknown_namespaces() {
        let config = Config::from_toml(
            r#"
            [namespace_registries]
            acme = { registry = "acme.test", metadata = { preferredProtocol = "oci", oci = { registry = "127.0.0.1:5000", namespacePrefix = "team/" } } }
            "#,
        )
        .unwrap();
        crate::install_crypto();
        let http = reqwest::Client::new();
        let r = resolve(&config, &http, "acme:hello@1.2.3").await.unwrap();
        assert_eq!(r.repository, "127.0.0.1:5000/team/acme/hello");
        assert_eq!(r.version, Some(semver::Version::new(1, 2, 3)));
        let err = resolve(&config, &http, "other:hello").await.unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("namespace_registries"), "{text}");
        assert!(resolve(&config, &http, "acme:hello@one").await.is_err());
    }

    /// A well-known document is the registry's word, not the user's: it cannot put another
    /// host, a tag or a digest into the reference through its fields.
    #[test]
    fn metadata_cannot_smuggle_references() {
        let registry: Registry = "acme.test".parse().unwrap();
        let package: PackageRef = "acme:app".parse().unwrap();
        let locate_with = |json: &str| {
            let metadata: RegistryMetadata = serde_json::from_str(json).unwrap();
            locate(&registry, &metadata, &package, None, "acme:app")
        };
        let ok =
            locate_with(r#"{"oci":{"registry":"ghcr.io:443","namespacePrefix":"team/"}}"#).unwrap();
        assert_eq!(ok.repository, "ghcr.io:443/team/acme/app");
        for bad in [
            r#"{"oci":{"registry":"evil.test/x"}}"#,
            r#"{"oci":{"registry":"a@b"}}"#,
            r#"{"oci":{"registry":""}}"#,
            // Found by the `oci_documents` fuzz target: read as a docker.io namespace.
            r#"{"oci":{"registry":"internal"}}"#,
            r#"{"oci":{"namespacePrefix":"x@sha256:"}}"#,
            r#"{"oci":{"namespacePrefix":"x:latest/"}}"#,
            r#"{"oci":{"namespacePrefix":"/abs/"}}"#,
            r#"{"oci":{"namespacePrefix":"Upper/"}}"#,
        ] {
            let err = locate_with(bad).unwrap_err().to_string();
            assert!(err.contains("acme.test"), "{bad}: {err}");
        }
    }
}
