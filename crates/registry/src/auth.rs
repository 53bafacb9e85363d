//! Credentials: read from Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`, credential helpers included), written there by `manifold login`.

use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use docker_credential::DockerCredential;
use oci_client::secrets::RegistryAuth;

/// Docker's config file.
pub fn docker_config_path() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".docker")))
        .map(|d| d.join("config.json"))
}

/// The credentials for a registry (`host[:port]`), anonymous when there are none.
pub fn credentials(registry: &str) -> RegistryAuth {
    match docker_credential::get_credential(registry) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            RegistryAuth::Basic(user, password)
        }
        Ok(DockerCredential::IdentityToken(token)) => RegistryAuth::Bearer(token),
        Err(e) => {
            tracing::debug!(registry, error = %e, "no stored credentials; anonymous");
            RegistryAuth::Anonymous
        }
    }
}

/// Stores `user:password` for a registry in Docker's config file, keeping everything else in
/// it. Returns the file written.
pub fn store(registry: &str, user: &str, password: &str) -> anyhow::Result<PathBuf> {
    let path = docker_config_path().context("no home directory; set DOCKER_CONFIG")?;
    let mut config: serde_json::Value = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid JSON", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let object = config
        .as_object_mut()
        .with_context(|| format!("{} is not a JSON object", path.display()))?;
    let auths = object
        .entry("auths")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .with_context(|| format!("`auths` in {} is not an object", path.display()))?;
    auths.insert(registry.to_owned(), serde_json::json!({ "auth": auth }));
    let dir = path.parent().context("config path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let _ = tmp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    std::io::Write::write_all(&mut tmp, &serde_json::to_vec_pretty(&config)?)?;
    tmp.persist(&path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
