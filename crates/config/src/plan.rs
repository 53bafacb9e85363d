//! The resolved plan: what the runtime executes, with every path made absolute, every
//! environment variable looked up and every limit defaulted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{
    BlobstoreBackend, ConfigError, ConfigSource, ConnectPattern, DirGrant, EnvGrant, InterfaceName,
    KeyValueBackend, Limits, LimitsConfig, ListenPattern, Manifest, OutboundPattern, PluginPlan,
    ProviderConfig, Route, SourceSpec, StorageLimits,
};

/// Whether the app is run once (`manifold run`) or served (`manifold serve`); only the
/// defaults differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    Serve,
}

/// Grants and limits given on the command line. They apply to every component of the app.
#[derive(Debug, Clone, Default)]
pub struct CliOverrides {
    pub dirs: Vec<DirGrant>,
    pub env: Vec<EnvGrant>,
    pub allow_outbound: Vec<OutboundPattern>,
    pub allow_connect: Vec<ConnectPattern>,
    pub allow_listen: Vec<ListenPattern>,
    pub limits: LimitsConfig,
    /// `run`: arguments after the program name, appended to the manifest's `args`.
    pub args: Vec<String>,
    /// Key-value buckets granted to every component.
    pub keyvalue: Vec<String>,
    /// Blob containers granted to every component.
    pub blobstore: Vec<String>,
    /// `--config KEY=VALUE`: `wasi:config` values for every component, over everything else;
    /// a later pair with the same key wins.
    pub config: Vec<(String, String)>,
    /// Where the app's data lives (over the manifest's `data-dir`).
    pub data_dir: Option<PathBuf>,
    /// `--name`: the app's name (over the manifest's `name` and the default), checked with
    /// [`crate::validate_app_name`].
    pub name: Option<String>,
    /// `serve`: connection limits, over the manifest's `[serve]`.
    pub serve: crate::ServeConfig,
}

/// The app, ready to load.
#[derive(Debug, Clone)]
pub struct AppPlan {
    pub name: String,
    /// The app's own data directory (key-value database, …).
    pub data_dir: PathBuf,
    /// The manifest, when the app came from one.
    pub manifest: Option<PathBuf>,
    pub components: Vec<ComponentPlan>,
    pub providers: BTreeMap<InterfaceName, ProviderConfig>,
    /// Where the app's key-value buckets are stored.
    pub keyvalue: KeyValueBackend,
    /// The app's plugins (`[plugins.NAME]`), by name.
    pub plugins: Vec<PluginPlan>,
    /// Where the app's blob containers are stored.
    pub blobstore: BlobstoreBackend,
    /// The largest blob object, and the embedded blob store's quota.
    pub storage: StorageLimits,
    /// Where `wasi:config` values come from besides the manifest.
    pub config_source: ConfigSource,
    /// `serve`: how many client connections are held and how long clients may take.
    pub serve: crate::ConnectionLimits,
}

/// One component with its grants.
#[derive(Debug, Clone)]
pub struct ComponentPlan {
    pub name: String,
    /// The component file. For a remote component (`remote` is set) this is where the caller
    /// put it after pulling; until then it is the reference text.
    pub source: PathBuf,
    /// The OCI reference or package name when the component comes from a registry; the
    /// binary pulls it (or finds it in the cache) and sets `source` before loading.
    pub remote: Option<SourceSpec>,
    /// The sha256 (`sha256:HEX`) `source` must have: set for a pulled layer, so a cached file
    /// that was damaged or replaced after it was checked is refused, never run.
    pub expected_digest: Option<String>,
    pub route: Route,
    /// The full argv, program name first.
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub dirs: Vec<DirGrant>,
    pub allow_outbound: Vec<OutboundPattern>,
    /// Remote TCP/UDP endpoints the component may connect (send) to.
    pub allow_connect: Vec<ConnectPattern>,
    /// Local addresses the component may listen on (TCP) or bind (UDP).
    pub allow_listen: Vec<ListenPattern>,
    /// Key-value buckets the component may open.
    pub keyvalue: Vec<String>,
    /// Blob containers the component may use.
    pub blobstore: Vec<String>,
    /// `wasi:config` values from the manifest: the app's `[config]` with the component's
    /// `config` over it. The `config` provider lays the host's `MANIFOLD_CONFIG_*` variables
    /// over these keys (and only these) when it loads.
    pub config: BTreeMap<String, String>,
    /// `wasi:config` values from `--config`, over everything, the host's variables included.
    pub config_overrides: BTreeMap<String, String>,
    pub limits: Limits,
}

impl AppPlan {
    /// An app of one component given by its file, with the command line's grants.
    pub fn from_file(
        source: &Path,
        cli: &CliOverrides,
        mode: Mode,
    ) -> Result<AppPlan, ConfigError> {
        let name = match &cli.name {
            Some(name) => name.clone(),
            None => crate::app_name::file_app_name(source),
        };
        let program = source
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "app".into());
        let mut args = vec![program];
        args.extend(cli.args.iter().cloned());
        let component = ComponentPlan {
            name: source
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "app".into()),
            source: source.to_path_buf(),
            remote: None,
            expected_digest: None,
            route: Route::root(),
            args,
            env: resolve_env(&cli.env, |k| std::env::var(k)),
            dirs: cli.dirs.clone(),
            allow_outbound: cli.allow_outbound.clone(),
            allow_connect: cli.allow_connect.clone(),
            allow_listen: cli.allow_listen.clone(),
            keyvalue: cli.keyvalue.clone(),
            blobstore: cli.blobstore.clone(),
            config: BTreeMap::new(),
            config_overrides: cli.config.iter().cloned().collect(),
            limits: cli.limits.resolve(mode),
        };
        Ok(AppPlan {
            data_dir: cli
                .data_dir
                .clone()
                .unwrap_or_else(|| default_data_dir(&name)),
            name,
            manifest: None,
            components: vec![component],
            providers: BTreeMap::new(),
            keyvalue: KeyValueBackend::Embedded {},
            plugins: Vec::new(),
            blobstore: BlobstoreBackend::Embedded {},
            storage: cli.limits.storage(),
            config_source: ConfigSource::Manifest {},
            serve: cli.serve.resolve(),
        })
    }

    /// An app of one component that lives in a registry (an OCI reference or a package name);
    /// the caller pulls it and sets the component's `source` before loading.
    pub fn from_remote(spec: &SourceSpec, cli: &CliOverrides, mode: Mode) -> AppPlan {
        let text = spec.remote().unwrap_or_default();
        let name = match &cli.name {
            Some(name) => name.clone(),
            None => crate::app_name::remote_app_name(text),
        };
        let mut plan = AppPlan::from_file(Path::new(text), cli, mode)
            .expect("building a plan from a file name does not fail");
        plan.name = name.clone();
        if cli.data_dir.is_none() {
            plan.data_dir = default_data_dir(&name);
        }
        let component = &mut plan.components[0];
        component.name = remote_component_name(text);
        component.args[0] = component.name.clone();
        component.remote = Some(spec.clone());
        plan
    }

    /// An app from a manifest file, with the command line's grants added to every component.
    pub fn from_manifest(
        path: &Path,
        cli: &CliOverrides,
        mode: Mode,
    ) -> Result<AppPlan, ConfigError> {
        let manifest = Manifest::load(path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        let base = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        let name = cli
            .name
            .clone()
            .or_else(|| manifest.name.clone())
            .unwrap_or_else(|| crate::app_name::dir_app_name(base));
        let mut components = Vec::new();
        for (cname, c) in &manifest.component {
            let spec = SourceSpec::parse(&c.source);
            let mut args = vec![cname.clone()];
            args.extend(c.args.iter().cloned());
            args.extend(cli.args.iter().cloned());
            let mut env: Vec<EnvGrant> = c
                .env
                .iter()
                .map(|(k, v)| EnvGrant {
                    name: k.clone(),
                    value: Some(v.clone()),
                })
                .collect();
            env.extend(c.inherit_env.iter().map(|k| EnvGrant {
                name: k.clone(),
                value: None,
            }));
            env.extend(cli.env.iter().cloned());
            let mut dirs: Vec<DirGrant> = c
                .dirs
                .iter()
                .map(|d| DirGrant {
                    host: base.join(&d.host),
                    ..d.clone()
                })
                .collect();
            dirs.extend(cli.dirs.iter().cloned());
            let mut allow_outbound = c.allow_outbound.clone();
            allow_outbound.extend(cli.allow_outbound.iter().cloned());
            let mut allow_connect = c.allow_connect.clone();
            allow_connect.extend(cli.allow_connect.iter().cloned());
            let mut allow_listen = c.allow_listen.clone();
            allow_listen.extend(cli.allow_listen.iter().cloned());
            let mut keyvalue = c.keyvalue.clone();
            keyvalue.extend(cli.keyvalue.iter().cloned());
            let mut blobstore = c.blobstore.clone();
            blobstore.extend(cli.blobstore.iter().cloned());
            let mut config = manifest.config.clone();
            config.extend(c.config.clone());
            components.push(ComponentPlan {
                name: cname.clone(),
                source: match &spec {
                    SourceSpec::Path(p) => base.join(p),
                    _ => PathBuf::from(&c.source),
                },
                remote: spec.remote().map(|_| spec.clone()),
                expected_digest: None,
                route: c.route.clone().unwrap_or_else(Route::root),
                args,
                env: resolve_env(&env, |k| std::env::var(k)),
                dirs,
                allow_outbound,
                allow_connect,
                allow_listen,
                keyvalue,
                blobstore,
                config,
                config_overrides: cli.config.iter().cloned().collect(),
                limits: cli
                    .limits
                    .or(&LimitsConfig {
                        reuse: c.reuse,
                        ..c.limits.clone()
                    })
                    .or(&manifest.limits)
                    .resolve(mode),
            });
        }
        let data_dir = cli
            .data_dir
            .clone()
            .or_else(|| manifest.data_dir.as_ref().map(|d| base.join(d)))
            .unwrap_or_else(|| default_data_dir(&name));
        let storage = cli.limits.or(&manifest.limits).storage();
        if storage.blob_quota.is_some()
            && let BlobstoreBackend::Nats { .. } = manifest.blobstore
        {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: "`blob-quota` counts the embedded blob store's files, but `[blobstore]` \
                          is a NATS server: limit the app's object store there (JetStream \
                          `max_bytes`) and drop `blob-quota`"
                    .into(),
            });
        }
        // An answer larger than every instance's memory could not be lowered anyway.
        let default_max_answer = components
            .iter()
            .map(|c| c.limits.memory.0)
            .max()
            .unwrap_or(Limits::DEFAULT_MEMORY.0);
        Ok(AppPlan {
            data_dir,
            name,
            manifest: Some(path.to_path_buf()),
            components,
            providers: manifest.providers,
            keyvalue: manifest.keyvalue.resolve(base),
            plugins: manifest
                .plugins
                .iter()
                .map(|(name, p)| PluginPlan::from_config(name, p, base, default_max_answer))
                .collect(),
            blobstore: manifest.blobstore.resolve(base),
            storage,
            config_source: manifest.config_source,
            serve: cli.serve.or(&manifest.serve).resolve(),
        })
    }
}

/// `$MANIFOLD_DATA_DIR/APP`, else the platform's data directory
/// (`~/.local/share/manifold/APP`), else `.manifold/APP`.
pub fn default_data_dir(app: &str) -> PathBuf {
    std::env::var_os("MANIFOLD_DATA_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_dir().map(|d| d.join("manifold")))
        .unwrap_or_else(|| PathBuf::from(".manifold"))
        .join(app)
}

/// The component's name for a remote component (what logs and argv[0] show): the last part
/// of the repository (`hello` for `localhost:5000/acme/hello:1.0`) or the package's name
/// (`hello` for `acme:hello@1.0`).
fn remote_component_name(text: &str) -> String {
    let no_digest = text.split('@').next().unwrap_or(text);
    let last = no_digest
        .rsplit(['/', ':'])
        .find(|s| !s.is_empty())
        .unwrap_or("app");
    // `repo:tag`: the tag follows the last `:` after the last `/`.
    let repo = match no_digest.rsplit_once('/') {
        Some((_, tail)) => tail.split(':').next().unwrap_or(last),
        None => last,
    };
    let name: String = repo
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    if name.is_empty() { "app".into() } else { name }
}

/// Later grants of the same name win; a pass-through grant of a variable the host lacks sets
/// nothing.
fn resolve_env<E>(
    grants: &[EnvGrant],
    lookup: impl Fn(&str) -> Result<String, E>,
) -> Vec<(String, String)> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for g in grants {
        match &g.value {
            Some(v) => {
                out.insert(g.name.clone(), v.clone());
            }
            None => {
                if let Ok(v) = lookup(&g.name) {
                    out.insert(g.name.clone(), v);
                }
            }
        }
    }
    out.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_resolution() {
        let grants: Vec<EnvGrant> = ["A=1", "B", "C", "A=2"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        let env = resolve_env(&grants, |k| {
            if k == "B" {
                Ok("host".to_string())
            } else {
                Err(())
            }
        });
        assert_eq!(
            env,
            vec![("A".into(), "2".into()), ("B".into(), "host".into())]
        );
    }

    #[test]
    fn manifest_plan_resolves_paths_and_layers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifold.toml");
        std::fs::write(
            &path,
            "name = \"t\"\n[limits]\nmemory = \"1MiB\"\n[component.a]\nsource = \"a.wasm\"\nargs = [\"x\"]\ndirs = [\"data::/d\"]\nenv = { K = \"v\" }\n",
        )
        .unwrap();
        let cli = CliOverrides {
            args: vec!["y".into()],
            env: vec!["K=cli".parse().unwrap()],
            ..Default::default()
        };
        let plan = AppPlan::from_manifest(&path, &cli, Mode::Serve).unwrap();
        let a = &plan.components[0];
        assert_eq!(a.source, dir.path().join("a.wasm"));
        assert_eq!(a.dirs[0].host, dir.path().join("data"));
        assert_eq!(a.args, ["a", "x", "y"]);
        assert_eq!(a.env, vec![("K".into(), "cli".into())]);
        assert_eq!(a.limits.memory.0, 1 << 20);
        assert_eq!(a.limits.timeout, Some(Limits::DEFAULT_SERVE_TIMEOUT));
    }

    #[test]
    fn storage_limits_come_from_the_command_line_over_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifold.toml");
        std::fs::write(
            &path,
            "[limits]\nmax-object-size = \"1MiB\"\nblob-quota = \"8MiB\"\n[component.a]\nsource = \"a.wasm\"\n",
        )
        .unwrap();
        let cli = CliOverrides {
            limits: LimitsConfig {
                blob_quota: Some(crate::ByteSize(4 << 20)),
                ..Default::default()
            },
            ..Default::default()
        };
        let plan = AppPlan::from_manifest(&path, &cli, Mode::Serve).unwrap();
        assert_eq!(plan.storage.max_object_size.0, 1 << 20);
        assert_eq!(plan.storage.blob_quota, Some(crate::ByteSize(4 << 20)));
        let single = AppPlan::from_file(Path::new("x.wasm"), &cli, Mode::Run).unwrap();
        assert_eq!(
            single.storage.max_object_size,
            StorageLimits::DEFAULT_MAX_OBJECT_SIZE
        );

        // A quota the NATS backend would not enforce is refused, not ignored.
        std::fs::write(
            &path,
            "[blobstore]\ntype = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n[component.a]\nsource = \"a.wasm\"\n",
        )
        .unwrap();
        let err = AppPlan::from_manifest(&path, &cli, Mode::Serve)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`blob-quota`") && err.contains("NATS"),
            "{err}"
        );
        assert!(AppPlan::from_manifest(&path, &CliOverrides::default(), Mode::Serve).is_ok());
    }

    #[test]
    fn config_layers_the_component_over_the_app_and_keeps_the_command_line_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifold.toml");
        std::fs::write(
            &path,
            "[config]\nshared = \"app\"\nmode = \"app\"\n\
             [component.a]\nsource = \"a.wasm\"\nconfig = { mode = \"a\", only-a = \"1\" }\n\
             [component.b]\nsource = \"b.wasm\"\nroute = \"/b\"\n",
        )
        .unwrap();
        let cli = CliOverrides {
            config: vec![
                ("mode".into(), "first".into()),
                ("new".into(), "cli".into()),
                ("mode".into(), "cli".into()),
            ],
            ..Default::default()
        };
        let plan = AppPlan::from_manifest(&path, &cli, Mode::Serve).unwrap();
        let pairs = |m: &BTreeMap<String, String>| -> Vec<(String, String)> {
            m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        let (a, b) = (&plan.components[0], &plan.components[1]);
        assert_eq!(
            pairs(&a.config),
            [
                ("mode".into(), "a".into()),
                ("only-a".into(), "1".into()),
                ("shared".into(), "app".into())
            ]
        );
        assert_eq!(
            pairs(&b.config),
            [
                ("mode".into(), "app".into()),
                ("shared".into(), "app".into())
            ]
        );
        for c in [a, b] {
            assert_eq!(
                pairs(&c.config_overrides),
                [("mode".into(), "cli".into()), ("new".into(), "cli".into())]
            );
        }

        let single = AppPlan::from_file(Path::new("x.wasm"), &cli, Mode::Run).unwrap();
        assert!(single.components[0].config.is_empty());
        assert_eq!(single.components[0].config_overrides.len(), 2);
    }

    #[test]
    fn socket_grants_from_the_manifest_and_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifold.toml");
        std::fs::write(
            &path,
            "[component.a]\nsource = \"a.wasm\"\nallow-connect = [\"tcp://db:5432\"]\n\
             allow-listen = [\"udp://0.0.0.0:53\"]\n[component.b]\nsource = \"b.wasm\"\nroute = \"/b\"\n",
        )
        .unwrap();
        let cli = CliOverrides {
            allow_connect: vec!["tcp://127.0.0.1:*".parse().unwrap()],
            allow_listen: vec!["tcp://127.0.0.1:8080".parse().unwrap()],
            ..Default::default()
        };
        let plan = AppPlan::from_manifest(&path, &cli, Mode::Run).unwrap();
        let shown = |c: &ComponentPlan| {
            let connect: Vec<String> = c.allow_connect.iter().map(|p| p.to_string()).collect();
            let listen: Vec<String> = c.allow_listen.iter().map(|p| p.to_string()).collect();
            (connect, listen)
        };
        let (a, b) = (shown(&plan.components[0]), shown(&plan.components[1]));
        assert_eq!(a.0, ["tcp://db:5432", "tcp://127.0.0.1:*"]);
        assert_eq!(a.1, ["udp://0.0.0.0:53", "tcp://127.0.0.1:8080"]);
        assert_eq!(b.0, ["tcp://127.0.0.1:*"]);
        assert_eq!(b.1, ["tcp://127.0.0.1:8080"]);
        let single = AppPlan::from_file(Path::new("x.wasm"), &cli, Mode::Run).unwrap();
        assert_eq!(shown(&single.components[0]), b);
    }

    #[test]
    fn missing_manifest_is_a_read_error() {
        let err = AppPlan::from_manifest(
            Path::new("/nonexistent/manifold.toml"),
            &CliOverrides::default(),
            Mode::Run,
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/manifold.toml"));
    }
}
