//! Components as OCI artifacts.
//!
//! - [`Client::push`] publishes a component (or a WIT package) in the CNCF Wasm OCI format
//!   ([`artifact`]).
//! - [`Client::pull`] resolves an OCI reference or a package name ([`names`], like `wkg`),
//!   downloads the Wasm layer into the content-addressed [`cache::Store`], verifying its
//!   digest, resuming and retrying on a broken or failing connection.
//! - Credentials come from Docker's `config.json` ([`auth`]); plain HTTP is used only for
//!   loopback registries or when asked (`insecure`).
//!
//! The layer's sha256 is also what the runtime's compile cache is keyed by: a pulled
//! component is compiled once per digest, whatever tag it was pulled by.

pub mod artifact;
pub mod auth;
pub mod cache;
pub mod names;
mod progress;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use futures_util::StreamExt as _;
use manifold_config::SourceSpec;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Reference, RegistryOperation};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

pub use cache::Store;

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct Options {
    pub store: Store,
    /// Allow plain HTTP to registries that are not on loopback.
    pub insecure: bool,
    /// Show progress bars on a terminal.
    pub progress: bool,
    /// How long a tag → digest answer is trusted without asking the registry again (`run` and
    /// `serve`; `pull` always asks).
    pub tag_ttl: Duration,
    /// Attempts per request before giving up.
    pub attempts: u32,
}

impl Options {
    pub fn new(store: Store) -> Options {
        Options {
            store,
            insecure: false,
            progress: true,
            tag_ttl: Duration::from_secs(600),
            attempts: 4,
        }
    }
}

/// What a pull produced.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    /// The OCI reference the name resolved to (`registry/repo:tag` or `…@sha256:…`).
    pub reference: String,
    pub manifest_digest: String,
    /// Digest of the Wasm layer, which is the file's sha256.
    pub digest: String,
    pub size: u64,
    /// The file in the cache.
    pub path: PathBuf,
    /// Blob bytes moved over the network by this pull (0 when the cache had it).
    pub downloaded: u64,
}

/// What a push produced.
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    pub reference: String,
    pub manifest_digest: String,
    pub digest: String,
    pub size: u64,
    /// Blob bytes sent (0 when the registry already had the layer).
    pub uploaded: u64,
    pub kind: &'static str,
}

/// Annotations and author of a push.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub author: Option<String>,
    pub description: Option<String>,
    pub source: Option<String>,
    pub version: Option<String>,
    pub annotations: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct Client {
    opts: Options,
    /// For well-known documents and `login`; built on first use (loading the system's root
    /// certificates costs milliseconds a cached pull need not pay).
    http: std::sync::OnceLock<reqwest::Client>,
}

pub(crate) fn install_crypto() {
    // Idempotent; fails only when another provider was installed first, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl Client {
    pub fn new(opts: Options) -> anyhow::Result<Client> {
        install_crypto();
        Ok(Client {
            opts,
            http: std::sync::OnceLock::new(),
        })
    }

    fn http(&self) -> anyhow::Result<&reqwest::Client> {
        if let Some(client) = self.http.get() {
            return Ok(client);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .context("cannot create the HTTP client")?;
        Ok(self.http.get_or_init(|| client))
    }

    pub fn store(&self) -> &Store {
        &self.opts.store
    }

    fn oci(&self, registry: &str) -> oci_client::Client {
        let host = registry.rsplit_once(':').map_or(registry, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                registry
            }
        });
        let plain = self.opts.insecure || names::is_loopback_host(host);
        oci_client::Client::new(ClientConfig {
            protocol: if plain {
                ClientProtocol::HttpsExcept(vec![registry.to_owned()])
            } else {
                ClientProtocol::Https
            },
            connect_timeout: Some(Duration::from_secs(10)),
            read_timeout: Some(Duration::from_secs(30)),
            ..Default::default()
        })
    }

    /// Turns a source into an OCI reference; for a package name without a version, asks the
    /// registry for its tags and takes the newest release.
    pub async fn resolve(&self, spec: &SourceSpec) -> anyhow::Result<Reference> {
        match spec {
            SourceSpec::Path(p) => bail!("{} is a local path, not a reference", p.display()),
            SourceSpec::Oci(text) => parse_reference(text),
            SourceSpec::Package(name) => {
                let config = names::load_config().await?;
                let resolved = names::resolve(&config, self.http()?, name).await?;
                let tag = match &resolved.version {
                    Some(v) => v.to_string(),
                    None => self.newest_tag(&resolved.repository, name).await?,
                };
                parse_reference(&format!("{}:{tag}", resolved.repository))
                    .with_context(|| format!("package {name} resolved to a bad reference"))
            }
        }
    }

    async fn newest_tag(&self, repository: &str, name: &str) -> anyhow::Result<String> {
        let reference = parse_reference(&format!("{repository}:latest"))?;
        let registry = reference.resolve_registry().to_owned();
        let auth = auth::credentials(&registry);
        let client = self.oci(&registry);
        let tags = self
            .retry(|| client.list_tags(&reference, &auth, None, None))
            .await
            .map_err(|e| explain(e, &reference, &auth))
            .with_context(|| format!("cannot list the versions of {name} ({repository})"))?;
        names::newest_release(&tags.tags).with_context(|| {
            format!(
                "{name} ({repository}) has no release version (tags: {}); ask for one with {name}@VERSION",
                if tags.tags.is_empty() { "none".into() } else { tags.tags.join(", ") }
            )
        })
    }

    /// Pulls a component into the cache. `refresh` asks the registry even when a tag was
    /// resolved recently.
    pub async fn pull(&self, spec: &SourceSpec, refresh: bool) -> anyhow::Result<Pulled> {
        let text = spec.remote().unwrap_or_default().to_owned();
        let reference = self.resolve(spec).await?;
        let whole = reference.whole();
        let store = &self.opts.store;
        // Offline paths first: a digest we hold, or a tag resolved recently.
        let known_manifest = match reference.digest() {
            Some(d) => store.manifest(d)?.map(|m| (d.to_owned(), m)),
            None if !refresh => store.tag(&whole, self.opts.tag_ttl).and_then(|t| {
                store
                    .manifest(&t.manifest)
                    .ok()
                    .flatten()
                    .map(|m| (t.manifest, m))
            }),
            None => None,
        };
        let registry = reference.resolve_registry().to_owned();
        let auth = auth::credentials(&registry);
        let client = self.oci(&registry);
        let (manifest_digest, manifest_bytes) = match known_manifest {
            Some(found) => found,
            None => {
                let fetched = self
                    .retry(|| {
                        client.pull_manifest_raw(&reference, &auth, artifact::MANIFEST_MEDIA_TYPES)
                    })
                    .await;
                // `run`/`serve` with the registry unreachable: a tag pulled before still runs,
                // with a warning, rather than nothing running at all.
                let stale = match &fetched {
                    Err(e) if !refresh && is_unreachable(e) => {
                        store.tag(&whole, Duration::MAX).and_then(|t| {
                            let m = store.manifest(&t.manifest).ok().flatten()?;
                            store.blob(&t.layer, t.size).ok().flatten()?;
                            Some((t, m))
                        })
                    }
                    _ => None,
                };
                if let (Some((tag, manifest)), Err(e)) = (stale, &fetched) {
                    tracing::warn!(
                        "{registry} is unreachable ({e}); using {whole} as pulled before ({})",
                        tag.manifest
                    );
                    eprintln!(
                        "warning: {registry} is unreachable; running {whole} as cached ({})",
                        tag.layer
                    );
                    let layer = wasm_layer(&manifest, &text)?;
                    let path = store.blob_path(&layer.digest)?;
                    return Ok(Pulled {
                        reference: whole,
                        manifest_digest: tag.manifest,
                        digest: layer.digest,
                        size: tag.size,
                        path,
                        downloaded: 0,
                    });
                }
                let (bytes, _) = fetched
                    .map_err(|e| explain(e, &reference, &auth))
                    .with_context(|| format!("cannot pull {text}"))?;
                let actual = cache::sha256_digest(&bytes);
                if let Some(expected) = reference.digest()
                    && expected != actual
                {
                    bail!(
                        "the manifest of {whole} does not match its digest\n  expected {expected}\n  received {actual}\nthe registry or something between us changed it; nothing was stored"
                    );
                }
                (actual, bytes.to_vec())
            }
        };
        let layer = wasm_layer(&manifest_bytes, &text)?;
        let size = u64::try_from(layer.size).unwrap_or(0);
        let (path, downloaded) = match store.blob(&layer.digest, size)? {
            Some(path) => (path, 0),
            None => {
                let path = self
                    .download(&client, &reference, &auth, &layer, size)
                    .await
                    .with_context(|| format!("cannot pull {text}"))?;
                (path, size)
            }
        };
        store.put_manifest(&manifest_digest, &manifest_bytes)?;
        if reference.digest().is_none() {
            store.put_tag(&whole, &manifest_digest, &layer.digest, size)?;
        }
        Ok(Pulled {
            reference: whole,
            manifest_digest,
            digest: layer.digest.clone(),
            size,
            path,
            downloaded,
        })
    }

    /// Downloads one blob into the store: hashed as it arrives, resumed from where it broke
    /// (HTTP range) on a failed or cut connection, renamed into place only once the digest
    /// and size match.
    async fn download(
        &self,
        client: &oci_client::Client,
        reference: &Reference,
        auth: &RegistryAuth,
        layer: &OciDescriptor,
        size: u64,
    ) -> anyhow::Result<PathBuf> {
        let store = &self.opts.store;
        let dest = store.blob_path(&layer.digest)?;
        let tmp = store.temp_file()?;
        let mut file = tokio::fs::File::from_std(tmp.reopen().context("cannot open a cache file")?);
        let mut hasher = Sha256::new();
        let mut received: u64 = 0;
        let bar = progress::bar(self.opts.progress, size, "pulling");
        // Authenticate once (a bearer token for pulls, or basic), as blob requests reuse it.
        client
            .auth(reference, auth, RegistryOperation::Pull)
            .await
            .map_err(|e| explain(e, reference, auth))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result: anyhow::Result<()> = async {
                let response = client
                    .pull_blob_stream_partial(reference, layer, received, None)
                    .await?;
                let mut stream = match response {
                    oci_client::client::BlobResponse::Partial(s) => s.stream,
                    oci_client::client::BlobResponse::Full(s) => {
                        if received > 0 {
                            // The server ignored the range: start over.
                            file.set_len(0).await?;
                            file = tokio::fs::File::from_std(tmp.reopen()?);
                            hasher = Sha256::new();
                            received = 0;
                            bar.set_position(0);
                        }
                        s.stream
                    }
                };
                while let Some(chunk) = stream.next().await {
                    let chunk = match chunk {
                        Ok(c) => c,
                        // oci-client's own digest check fails at the end of a full response;
                        // ours below reports both digests.
                        Err(_) if received == size => break,
                        Err(e) => return Err(e.into()),
                    };
                    received += chunk.len() as u64;
                    if received > size {
                        bail!("the registry sent more than the {size} bytes the manifest declares");
                    }
                    hasher.update(&chunk);
                    file.write_all(&chunk).await?;
                    bar.set_position(received);
                }
                if received < size {
                    bail!("the connection ended after {received} of {size} bytes");
                }
                Ok(())
            }
            .await;
            match result {
                Ok(()) => break,
                Err(e) if attempt < self.opts.attempts && is_retryable(&e) => {
                    let wait = Duration::from_millis(200 * (1 << (attempt - 1)));
                    tracing::warn!(error = %format!("{e:#}"), attempt, ?wait, "download failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    bar.abandon();
                    return Err(e.context(format!(
                        "download of {} failed after {attempt} attempt(s)",
                        layer.digest
                    )));
                }
            }
        }
        bar.finish_and_clear();
        file.flush().await?;
        drop(file);
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != layer.digest {
            // `tmp` is deleted when dropped: nothing half-written stays in the cache.
            bail!(
                "the downloaded component does not match its digest\n  expected {}\n  received {actual}\nthe registry's copy is damaged or was tampered with; nothing was stored",
                layer.digest
            );
        }
        store.commit(tmp, &dest)?;
        Ok(dest)
    }

    async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T, OciDistributionError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if attempt < self.opts.attempts && is_retryable_oci(&e) => {
                    let wait = Duration::from_millis(200 * (1 << (attempt - 1)));
                    tracing::warn!(error = %e, attempt, ?wait, "registry request failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Publishes a component or WIT package.
    pub async fn push(
        &self,
        file: &Path,
        target: &str,
        opts: &PushOptions,
    ) -> anyhow::Result<Pushed> {
        let bytes = tokio::fs::read(file)
            .await
            .with_context(|| format!("cannot read {}", file.display()))?;
        let origin = file.display().to_string();
        let (kind, info) = artifact::describe(&bytes, &origin)?;
        let reference = match SourceSpec::parse(target) {
            SourceSpec::Oci(r) => parse_reference(&r)?,
            SourceSpec::Package(name) if !name.contains('@') => bail!(
                "give the version to publish: {name}@1.0.0 (without one, a name means the newest release)"
            ),
            SourceSpec::Package(_) => self.resolve(&SourceSpec::parse(target)).await?,
            SourceSpec::Path(_) => parse_reference(target)?,
        };
        let digest = cache::sha256_digest(&bytes);
        let config = artifact::config(info, &digest, opts.author.clone(), None);
        let config_bytes = serde_json::to_vec(&config)?;
        let config_digest = cache::sha256_digest(&config_bytes);
        let size = bytes.len() as u64;

        let mut annotations = BTreeMap::new();
        annotations.insert(
            "org.opencontainers.image.created".into(),
            config.created.clone(),
        );
        if let Some(name) = file.file_name() {
            annotations.insert(
                "org.opencontainers.image.title".into(),
                name.to_string_lossy().into_owned(),
            );
        }
        let version = opts.version.clone().or_else(|| {
            reference
                .tag()
                .filter(|t| semver::Version::parse(t).is_ok())
                .map(str::to_owned)
        });
        for (key, value) in [
            ("org.opencontainers.image.version", version),
            (
                "org.opencontainers.image.description",
                opts.description.clone(),
            ),
            ("org.opencontainers.image.source", opts.source.clone()),
            ("org.opencontainers.image.authors", opts.author.clone()),
        ] {
            if let Some(v) = value {
                annotations.insert(key.into(), v);
            }
        }
        annotations.extend(opts.annotations.iter().cloned());

        let manifest = OciImageManifest {
            schema_version: 2,
            media_type: Some("application/vnd.oci.image.manifest.v1+json".into()),
            config: OciDescriptor {
                media_type: artifact::CONFIG_MEDIA_TYPE.into(),
                digest: config_digest.clone(),
                size: config_bytes.len() as i64,
                ..Default::default()
            },
            layers: vec![OciDescriptor {
                media_type: artifact::LAYER_MEDIA_TYPE.into(),
                digest: digest.clone(),
                size: bytes.len() as i64,
                ..Default::default()
            }],
            annotations: Some(annotations),
            ..Default::default()
        };
        let manifest_bytes = serde_json::to_vec(&manifest)?;
        let manifest_digest = cache::sha256_digest(&manifest_bytes);

        let registry = reference.resolve_registry().to_owned();
        let auth = auth::credentials(&registry);
        let client = self.oci(&registry);
        client
            .auth(&reference, &auth, RegistryOperation::Push)
            .await
            .map_err(|e| explain(e, &reference, &auth))
            .with_context(|| format!("cannot push to {target}"))?;
        let exists = self
            .retry(|| client.blob_exists(&reference, &digest))
            .await
            .map_err(|e| explain(e, &reference, &auth))
            .with_context(|| format!("cannot push to {target}"))?;
        let mut uploaded = 0;
        if !exists {
            let bar = progress::bar(self.opts.progress, size, "pushing");
            let data = bytes::Bytes::from(bytes);
            let chunks: Vec<bytes::Bytes> = (0..data.len())
                .step_by(CHUNK)
                .map(|at| data.slice(at..(at + CHUNK).min(data.len())))
                .collect();
            let bar_ref = &bar;
            let stream = futures_util::stream::iter(chunks).map(move |c| {
                bar_ref.inc(c.len() as u64);
                Ok(c)
            });
            let pushed = client.push_blob_stream(&reference, stream, &digest).await;
            bar.finish_and_clear();
            pushed
                .map_err(|e| explain(e, &reference, &auth))
                .with_context(|| format!("cannot upload {} to {target}", file.display()))?;
            uploaded = size;
        }
        self.retry(|| client.push_blob(&reference, config_bytes.clone(), &config_digest))
            .await
            .map_err(|e| explain(e, &reference, &auth))
            .with_context(|| format!("cannot upload the config to {target}"))?;
        let content_type =
            reqwest::header::HeaderValue::from_static("application/vnd.oci.image.manifest.v1+json");
        self.retry(|| {
            client.push_manifest_raw(&reference, manifest_bytes.clone(), content_type.clone())
        })
        .await
        .map_err(|e| explain(e, &reference, &auth))
        .with_context(|| format!("cannot push the manifest to {target}"))?;
        Ok(Pushed {
            reference: reference.whole(),
            manifest_digest,
            digest,
            size,
            uploaded,
            kind: match kind {
                artifact::Kind::Component => "component",
                artifact::Kind::WitPackage => "wit-package",
            },
        })
    }

    /// Checks credentials against a registry (`GET /v2/`) and stores them in Docker's config.
    pub async fn login(
        &self,
        registry: &str,
        user: &str,
        password: &str,
    ) -> anyhow::Result<PathBuf> {
        let host = registry.rsplit_once(':').map_or(registry, |(h, _)| h);
        let scheme = if self.opts.insecure || names::is_loopback_host(host) {
            "http"
        } else {
            "https"
        };
        let url = format!("{scheme}://{registry}/v2/");
        let anonymous = self
            .http()?
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        if anonymous.status() == reqwest::StatusCode::UNAUTHORIZED {
            let challenge = anonymous
                .headers()
                .get(reqwest::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let ok = if challenge.to_ascii_lowercase().starts_with("bearer") {
                // Token registries: ask for a token with the credentials.
                let reference = parse_reference(&format!("{registry}/library/probe:latest"))?;
                self.oci(registry)
                    .auth(
                        &reference,
                        &RegistryAuth::Basic(user.into(), password.into()),
                        RegistryOperation::Pull,
                    )
                    .await
                    .is_ok()
            } else {
                let response = self
                    .http()?
                    .get(&url)
                    .basic_auth(user, Some(password))
                    .send()
                    .await
                    .with_context(|| format!("cannot reach {url}"))?;
                response.status().is_success()
            };
            if !ok {
                bail!(
                    "{registry} refused the user name or password for {user:?}; nothing was stored"
                );
            }
        }
        auth::store(registry, user, password)
    }
}

const CHUNK: usize = 1 << 20;

/// `REGISTRY/REPOSITORY[:TAG][@DIGEST]`. The common shapes are split by hand: oci-spec's
/// parser compiles a large regex on first use, which costs more than a cached pull.
pub fn parse_reference(text: &str) -> anyhow::Result<Reference> {
    if let Some(reference) = split_reference(text) {
        return Ok(reference);
    }
    let reference: Reference = text
        .parse()
        .map_err(|e| anyhow!("{text:?} is not an OCI reference (REGISTRY/REPOSITORY:TAG): {e}"))?;
    Ok(reference)
}

fn split_reference(text: &str) -> Option<Reference> {
    let (registry, rest) = text.split_once('/')?;
    if !(registry.contains('.') || registry.contains(':') || registry == "localhost") {
        return None;
    }
    let (rest, digest) = match rest.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (rest, None),
    };
    let (repository, tag) = match rest.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t)),
        _ => (rest, None),
    };
    let repo_ok = !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
    let tag_ok = tag.is_none_or(|t| {
        !t.is_empty()
            && t.len() <= 128
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    });
    let digest_ok = digest.is_none_or(|d| cache::digest_hex(d).is_ok());
    if !(repo_ok && tag_ok && digest_ok) {
        return None;
    }
    Some(match (tag, digest) {
        (Some(t), Some(d)) => Reference::with_tag_and_digest(
            registry.to_owned(),
            repository.to_owned(),
            t.to_owned(),
            d.to_owned(),
        ),
        (None, Some(d)) => {
            Reference::with_digest(registry.to_owned(), repository.to_owned(), d.to_owned())
        }
        (Some(t), None) => {
            Reference::with_tag(registry.to_owned(), repository.to_owned(), t.to_owned())
        }
        (None, None) => {
            Reference::with_tag(registry.to_owned(), repository.to_owned(), "latest".into())
        }
    })
}

/// Finds the one Wasm layer of a manifest (untrusted bytes), or says what the manifest is
/// instead.
pub fn wasm_layer(manifest: &[u8], text: &str) -> anyhow::Result<OciDescriptor> {
    let value: serde_json::Value = serde_json::from_slice(manifest)
        .with_context(|| format!("the manifest of {text} is not JSON"))?;
    if value.get("manifests").is_some() {
        bail!(
            "{text} is an image index (a multi-platform container image), not a Wasm component; \
             push a component with `manifold push` or `wkg oci push`"
        );
    }
    let manifest: OciImageManifest = serde_json::from_value(value)
        .with_context(|| format!("the manifest of {text} is not an OCI image manifest"))?;
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == artifact::LAYER_MEDIA_TYPE)
        .collect();
    match wasm.as_slice() {
        [one] => {
            if manifest.config.media_type != artifact::CONFIG_MEDIA_TYPE {
                tracing::warn!(
                    config = manifest.config.media_type,
                    "{text}: config is not {}; using its Wasm layer anyway",
                    artifact::CONFIG_MEDIA_TYPE
                );
            }
            Ok((*one).clone())
        }
        [] => {
            let layers: Vec<&str> = manifest
                .layers
                .iter()
                .map(|l| l.media_type.as_str())
                .collect();
            let what = if manifest.config.media_type.contains("image.config")
                || manifest.config.media_type.contains("container.image")
            {
                "a container image"
            } else {
                "not a Wasm artifact"
            };
            bail!(
                "{text} is {what}, not a Wasm component: its config is `{}` and its layers are [{}], \
                 none `{}`\nhint: manifold runs artifacts pushed with `manifold push` or `wkg oci push`",
                manifest.config.media_type,
                layers.join(", "),
                artifact::LAYER_MEDIA_TYPE
            )
        }
        _ => bail!(
            "{text} has {} Wasm layers; a component artifact has exactly one",
            wasm.len()
        ),
    }
}

fn status_of(e: &OciDistributionError) -> Option<u16> {
    match e {
        OciDistributionError::ServerError { code, .. } => Some(*code),
        OciDistributionError::UnauthorizedError { .. } => Some(401),
        OciDistributionError::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// The registry could not be reached at all (as opposed to answering with an error).
fn is_unreachable(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => r.is_connect() || r.is_timeout(),
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

fn is_retryable_oci(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(r) => match r.status() {
            Some(s) => s.is_server_error() || s.as_u16() == 429,
            None => !r.is_builder() && !r.is_decode(),
        },
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::IoError(_) => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        _ => false,
    }
}

fn is_retryable(e: &anyhow::Error) -> bool {
    for cause in e.chain() {
        if let Some(oci) = cause.downcast_ref::<OciDistributionError>() {
            return is_retryable_oci(oci);
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        if let Some(r) = cause.downcast_ref::<reqwest::Error>() {
            return r.status().is_none_or(|s| s.is_server_error());
        }
    }
    // Our own "connection ended early".
    e.to_string().starts_with("the connection ended")
}

/// Registry errors in words that say what to do.
fn explain(e: OciDistributionError, reference: &Reference, auth: &RegistryAuth) -> anyhow::Error {
    let registry = reference.resolve_registry();
    let repo = reference.repository();
    let codes: Vec<&OciErrorCode> = match &e {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().map(|e| &e.code).collect()
        }
        _ => Vec::new(),
    };
    let status = status_of(&e);
    let denied = matches!(e, OciDistributionError::AuthenticationFailure(_))
        || matches!(status, Some(401 | 403))
        || codes
            .iter()
            .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied));
    let missing = matches!(e, OciDistributionError::ImageManifestNotFoundError(_))
        || status == Some(404)
        || codes.iter().any(|c| {
            matches!(
                c,
                OciErrorCode::NameUnknown | OciErrorCode::ManifestUnknown | OciErrorCode::NotFound
            )
        });
    let config = auth::docker_config_path().map_or_else(
        || "~/.docker/config.json".into(),
        |p| p.display().to_string(),
    );
    if denied {
        let hint = match auth {
            RegistryAuth::Anonymous => format!(
                "hint: log in with `manifold login {registry}` (credentials are read from {config})"
            ),
            _ => format!(
                "hint: the credentials for {registry} in {config} were refused or lack access to {repo}; run `manifold login {registry}` again"
            ),
        };
        return anyhow!(e).context(format!("{registry} refused access to {repo}\n{hint}"));
    }
    if missing {
        let what = match (reference.tag(), reference.digest()) {
            (_, Some(d)) => format!("digest {d}"),
            (Some(t), None) => format!("tag `{t}`"),
            _ => "that version".into(),
        };
        return anyhow!(e).context(format!(
            "not found: {registry} has no {repo} with {what} (check the name and version)"
        ));
    }
    anyhow!(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_by_hand_match_oci_spec() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for text in [
            "localhost:5000/acme/hello:1.0.0".to_owned(),
            "127.0.0.1:5000/a/b/c".to_owned(),
            "ghcr.io/acme/hello-world_x.y:v1-rc".to_owned(),
            format!("ghcr.io/acme/hello@{digest}"),
            format!("ghcr.io/acme/hello:1.0@{digest}"),
        ] {
            let ours = split_reference(&text).unwrap();
            let theirs: Reference = text.parse().unwrap();
            assert_eq!(ours.whole(), theirs.whole(), "{text}");
            assert_eq!(ours.digest(), theirs.digest(), "{text}");
        }
        for text in [
            "hello:1",
            "ghcr.io/Acme/x:1",
            "ghcr.io/a:b/c",
            "ghcr.io/a@md5:00",
        ] {
            assert!(split_reference(text).is_none(), "{text}");
        }
    }

    #[test]
    fn non_wasm_manifests_say_what_they_are() {
        let image = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:00", "size": 1},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:01", "size": 1}]
        });
        let err = wasm_layer(image.to_string().as_bytes(), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a container image"), "{err}");
        assert!(err.contains("tar+gzip"), "{err}");
        let index = serde_json::json!({"schemaVersion": 2, "manifests": []});
        let err = wasm_layer(index.to_string().as_bytes(), "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("image index"), "{err}");
    }
}
