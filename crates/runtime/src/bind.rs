//! Choosing a provider for every interface: the manifest's `[providers]` choices first, then
//! the built-in default.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::bail;
use manifold_blobstore_nats::NatsBackend as BlobNatsBackend;
use manifold_builtin_blobstore::{BlobLimits, BlobstoreError, BlobstoreProvider};
use manifold_builtin_config::ConfigProvider;
#[cfg(feature = "conformance")]
use manifold_builtin_conformance::ConformanceProvider;
use manifold_builtin_http::HttpProvider;
use manifold_builtin_keyvalue::backend::Backend;
use manifold_builtin_keyvalue::{KeyValueError, KeyValueProvider, ScopedBucket, open_embedded};
use manifold_builtin_wasi::WasiProvider;
use manifold_config::{
    AppPlan, BlobstoreBackend, ComponentPlan, ConfigSource as ConfigSourceChoice, InterfaceName,
    KeyValueBackend, Mode, ProviderConfig, ProviderKind,
};
use manifold_keyvalue_nats::{NatsAuth, NatsBackend};
use manifold_keyvalue_redis::RedisBackend;
use manifold_provider::{Bindings, Provider};

use crate::config_source::KeyValueConfig;

/// A built-in provider as listed by `manifold providers`.
#[derive(Debug, Clone)]
pub struct BuiltinCatalogEntry {
    pub name: &'static str,
    pub description: &'static str,
    pub interfaces: Vec<InterfaceName>,
}

/// Every built-in provider, in default-priority order.
pub fn builtin_catalog() -> Vec<BuiltinCatalogEntry> {
    vec![
        BuiltinCatalogEntry {
            name: WasiProvider::NAME,
            description: "WASI 0.2 cli, io, clocks, random, filesystem, sockets (wasmtime-wasi)",
            interfaces: WasiProvider::offered(),
        },
        BuiltinCatalogEntry {
            name: HttpProvider::NAME,
            description: "wasi:http types and outgoing-handler (wasmtime-wasi-http)",
            interfaces: HttpProvider::offered(),
        },
        BuiltinCatalogEntry {
            name: KeyValueProvider::NAME,
            description: "wasi:keyvalue store, atomics, batch at 0.2.0-draft and 0.2.0-draft2 (embedded redb, Redis, or NATS JetStream)",
            interfaces: KeyValueProvider::offered(),
        },
        BuiltinCatalogEntry {
            name: BlobstoreProvider::NAME,
            description: "wasi:blobstore blobstore, container, types at 0.2.0-draft (embedded directory tree or NATS JetStream object store)",
            interfaces: BlobstoreProvider::offered(),
        },
        BuiltinCatalogEntry {
            name: ConfigProvider::NAME,
            description: "wasi:config store at 0.2.0-draft (the manifest's values, a key-value bucket, MANIFOLD_CONFIG_* and --config over them)",
            interfaces: ConfigProvider::offered(),
        },
        #[cfg(feature = "conformance")]
        BuiltinCatalogEntry {
            name: ConformanceProvider::NAME,
            description: "manifold:conformance/types, the plugin conformance reference (every plugin kind must match it)",
            interfaces: ConformanceProvider::offered(),
        },
    ]
}

/// The built-in providers configured for one component of `app`.
pub fn builtin_providers(
    app: &AppPlan,
    component: &ComponentPlan,
    mode: Mode,
) -> anyhow::Result<Vec<Arc<dyn Provider>>> {
    let keyvalue = keyvalue_provider(app, component)
        .map_err(|e| anyhow::anyhow!("key-value store of component `{}`: {e}", component.name))?;
    let blobstore = blobstore_provider(app, component)
        .map_err(|e| anyhow::anyhow!("blob store of component `{}`: {e}", component.name))?;
    Ok(vec![
        Arc::new(WasiProvider::new(component, mode)?),
        Arc::new(HttpProvider::new(component)),
        Arc::new(keyvalue),
        Arc::new(blobstore),
        Arc::new(config_provider(app, component)?),
        #[cfg(feature = "conformance")]
        Arc::new(ConformanceProvider::new()),
    ])
}

/// The `blobstore` provider of one component, on the app's backend (`[blobstore]`).
fn blobstore_provider(
    app: &AppPlan,
    component: &ComponentPlan,
) -> Result<BlobstoreProvider, BlobstoreError> {
    let limits = BlobLimits {
        max_object_size: Some(app.storage.max_object_size.0),
        quota: app.storage.blob_quota.map(|quota| quota.0),
    };
    match &app.blobstore {
        BlobstoreBackend::Embedded {} => {
            BlobstoreProvider::new(&app.data_dir, &app.name, &component.blobstore, limits)
        }
        BlobstoreBackend::Nats {
            url,
            credentials,
            tls_ca,
        } => BlobstoreProvider::with_backend(
            &app.name,
            &component.blobstore,
            limits.max_object_size,
            || {
                let auth = NatsAuth {
                    credentials: credentials.clone(),
                    tls_ca: tls_ca.clone(),
                };
                let backend = BlobNatsBackend::shared(url, &auth)
                    .map_err(|e| BlobstoreError::Backend(Box::new(e)))?;
                Ok(backend)
            },
        ),
    }
}

/// The `keyvalue` provider of one component, on the app's backend (`[keyvalue]`).
fn keyvalue_provider(
    app: &AppPlan,
    component: &ComponentPlan,
) -> Result<KeyValueProvider, KeyValueError> {
    KeyValueProvider::with_backend(&app.name, &component.keyvalue, |scopes| {
        keyvalue_backend(app, scopes)
    })
}

/// The app's key-value backend (`[keyvalue]`), for the buckets `scopes` (which the embedded
/// backend creates). One backend, so one connection, per URL in this process, whatever the
/// number of components and apps using it.
fn keyvalue_backend(
    app: &AppPlan,
    scopes: &[ScopedBucket],
) -> Result<Arc<dyn Backend>, KeyValueError> {
    let backend_error = |e: Box<dyn std::error::Error + Send + Sync>| KeyValueError::Backend(e);
    Ok(match &app.keyvalue {
        KeyValueBackend::Embedded {} => open_embedded(&app.data_dir, scopes)?,
        KeyValueBackend::Redis { url } => {
            RedisBackend::shared(url).map_err(|e| backend_error(Box::new(e)))?
        }
        KeyValueBackend::Nats {
            url,
            credentials,
            tls_ca,
        } => {
            let auth = NatsAuth {
                credentials: credentials.clone(),
                tls_ca: tls_ca.clone(),
            };
            NatsBackend::shared(url, &auth).map_err(|e| backend_error(Box::new(e)))?
        }
    })
}

/// The `config` provider of one component, with the app's shared source (`[config-source]`).
fn config_provider(app: &AppPlan, component: &ComponentPlan) -> anyhow::Result<ConfigProvider> {
    let provider = ConfigProvider::new(component);
    match &app.config_source {
        ConfigSourceChoice::Manifest {} => Ok(provider),
        ConfigSourceChoice::Keyvalue { bucket } => {
            let scope = ScopedBucket::checked(&app.name, bucket).map_err(|reason| {
                anyhow::anyhow!(
                    "[config-source]: {bucket:?} cannot be a key-value bucket: {reason}"
                )
            })?;
            let backend = keyvalue_backend(app, std::slice::from_ref(&scope))
                .map_err(|e| anyhow::anyhow!("[config-source]: the key-value backend: {e}"))?;
            Ok(provider.with_source(Arc::new(KeyValueConfig { backend, scope })))
        }
    }
}

/// What the bound providers offer, for checking a component's imports
/// ([`manifold_resolve::resolve`]): one offer per interface a provider was chosen for.
pub fn offers(bindings: &Bindings) -> Vec<manifold_resolve::Offer> {
    let mut offers = Vec::new();
    for (provider, names) in &bindings.entries {
        let wit = provider.wit();
        for name in names {
            let offer = manifold_resolve::Offer::new(
                name.clone(),
                provider.name(),
                provider.kind().to_string(),
            );
            offers.push(match &wit {
                Some(resolve) => offer.with_wit_from(resolve),
                None => offer,
            });
        }
    }
    offers
}

/// Assigns each offered interface to exactly one provider: the one the manifest names for it,
/// else the first provider (in `providers` order) that offers it.
pub fn bind_providers(
    providers: Vec<Arc<dyn Provider>>,
    choices: &BTreeMap<InterfaceName, ProviderConfig>,
) -> anyhow::Result<Bindings> {
    // Every choice must name a provider that exists and offers the interface.
    for (pattern, choice) in choices {
        let Some(provider) = providers
            .iter()
            .find(|p| p.name() == choice.name && p.kind() == choice.kind)
        else {
            let known: Vec<String> = providers
                .iter()
                .map(|p| format!("`{}`", p.name()))
                .collect();
            bail!(
                "[providers.\"{pattern}\"] names {} provider `{}`, which does not exist; known providers: {}",
                choice.kind,
                choice.name,
                known.join(", ")
            );
        };
        if !provider.interfaces().iter().any(|i| pattern.covers(i)) {
            let offered: Vec<String> = provider
                .interfaces()
                .iter()
                .map(|i| i.to_string())
                .collect();
            bail!(
                "[providers.\"{pattern}\"]: provider `{}` does not offer {pattern}; it offers: {}",
                provider.name(),
                offered.join(", ")
            );
        }
    }
    let offered: Vec<(&str, ProviderKind, &[InterfaceName])> = providers
        .iter()
        .map(|p| (p.name(), p.kind(), p.interfaces()))
        .collect();
    let selected = select(&offered, choices);
    let entries = providers.iter().cloned().zip(selected).collect();
    Ok(Bindings { entries })
}

/// For providers given as (name, kind, offered interfaces), in priority order: the interfaces
/// each one serves. The manifest's choice for an interface wins (a choice with a version over
/// one without); otherwise an interface belongs to the first provider offering it, which
/// serves every version it offers (two drafts side by side), and later providers none.
pub fn select(
    providers: &[(&str, ProviderKind, &[InterfaceName])],
    choices: &BTreeMap<InterfaceName, ProviderConfig>,
) -> Vec<Vec<InterfaceName>> {
    let chosen_for = |interface: &InterfaceName| -> Option<&ProviderConfig> {
        choices
            .iter()
            .filter(|(pattern, _)| pattern.covers(interface))
            .max_by_key(|(pattern, _)| pattern.version.is_some())
            .map(|(_, c)| c)
    };
    let mut taken: Vec<(String, &str)> = Vec::new();
    let mut selected = Vec::with_capacity(providers.len());
    for &(name, kind, interfaces) in providers {
        let mut mine = Vec::new();
        for interface in interfaces {
            let unversioned = interface.unversioned();
            let is_mine = match chosen_for(interface) {
                Some(choice) => choice.name == name && choice.kind == kind,
                None => !taken
                    .iter()
                    .any(|(other, owner)| *other == unversioned && *owner != name),
            };
            if is_mine {
                taken.push((unversioned, name));
                mine.push(interface.clone());
            }
        }
        selected.push(mine);
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifold_provider::{InstanceState, Linker};

    struct Fake(&'static str, Vec<InterfaceName>);
    impl Provider for Fake {
        fn name(&self) -> &str {
            self.0
        }
        fn kind(&self) -> ProviderKind {
            ProviderKind::Builtin
        }
        fn interfaces(&self) -> &[InterfaceName] {
            &self.1
        }
        fn add_to_linker(&self, _: &mut Linker, _: &[InterfaceName]) -> anyhow::Result<()> {
            Ok(())
        }
        fn prepare_instance(&self, _: &mut InstanceState) -> anyhow::Result<()> {
            Ok(())
        }
    }

    fn names(list: &[&str]) -> Vec<InterfaceName> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn providers() -> Vec<Arc<dyn Provider>> {
        vec![
            Arc::new(Fake("a", names(&["x:y/one@1.0.0", "x:y/two@1.0.0"]))),
            Arc::new(Fake("b", names(&["x:y/two@1.1.0"]))),
        ]
    }

    fn choice(name: &str) -> ProviderConfig {
        ProviderConfig {
            kind: ProviderKind::Builtin,
            name: name.into(),
        }
    }

    /// A backend URL with a password reaches the user's error message redacted, host kept.
    #[test]
    fn backend_errors_name_the_server_without_its_password() {
        let cli = manifold_config::CliOverrides::default();
        let base = AppPlan::from_file(std::path::Path::new("x.wasm"), &cli, Mode::Run).unwrap();
        let failure = |plan: &AppPlan| {
            let Err(err) = builtin_providers(plan, &plan.components[0], Mode::Run) else {
                panic!("the URL is refused");
            };
            format!("{err:#}")
        };

        let mut plan = base.clone();
        plan.components[0].keyvalue = vec!["default".into()];
        plan.keyvalue = KeyValueBackend::Redis {
            url: "redis://app:s3cret@db.internal:port".into(),
        };
        let err = failure(&plan);
        assert!(err.contains("redis://app:***@db.internal:port"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");

        plan.keyvalue = KeyValueBackend::Nats {
            url: "nats://app:s3cret@db.internal:port".into(),
            credentials: None,
            tls_ca: None,
        };
        let err = failure(&plan);
        assert!(err.contains("nats://app:***@db.internal:port"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");

        let mut plan = base;
        plan.components[0].blobstore = vec!["photos".into()];
        plan.blobstore = BlobstoreBackend::Nats {
            url: "tls://s3cret@db.internal:port".into(),
            credentials: None,
            tls_ca: None,
        };
        let err = failure(&plan);
        assert!(err.contains("tls://***@db.internal:port"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn a_provider_serves_every_version_it_offers() {
        let providers: Vec<Arc<dyn Provider>> = vec![
            Arc::new(Fake(
                "kv",
                names(&["x:kv/store@0.2.0-draft", "x:kv/store@0.2.0-draft2"]),
            )),
            Arc::new(Fake("other", names(&["x:kv/store@0.2.0-draft2"]))),
        ];
        let b = bind_providers(providers, &BTreeMap::new()).unwrap();
        assert_eq!(b.entries[0].1.len(), 2);
        assert!(b.entries[1].1.is_empty());
    }

    #[test]
    fn first_provider_wins_by_default() {
        let b = bind_providers(providers(), &BTreeMap::new()).unwrap();
        assert_eq!(b.entries[0].1, names(&["x:y/one@1.0.0", "x:y/two@1.0.0"]));
        assert!(b.entries[1].1.is_empty());
    }

    #[test]
    fn manifest_choice_moves_an_interface() {
        let choices = BTreeMap::from([("x:y/two".parse().unwrap(), choice("b"))]);
        let b = bind_providers(providers(), &choices).unwrap();
        assert_eq!(b.entries[0].1, names(&["x:y/one@1.0.0"]));
        assert_eq!(b.entries[1].1, names(&["x:y/two@1.1.0"]));
        assert_eq!(
            b.provider_of(&"x:y/two".parse().unwrap()).unwrap().name(),
            "b"
        );
    }

    #[test]
    fn bad_choices_are_explained() {
        let choices = BTreeMap::from([("x:y/two".parse().unwrap(), choice("nope"))]);
        let err = bind_providers(providers(), &choices)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not exist") && err.contains("`a`, `b`"),
            "{err}"
        );
        let choices = BTreeMap::from([("x:y/one".parse().unwrap(), choice("b"))]);
        let err = bind_providers(providers(), &choices)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("does not offer x:y/one") && err.contains("x:y/two@1.1.0"),
            "{err}"
        );
    }
}
