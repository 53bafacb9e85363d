//! The built-in provider of `wasi:http`, implemented by `wasmtime-wasi-http`: `types` and
//! `outgoing-handler` at 0.2.12, `types` and `client` at 0.3.0. Both majors send through one
//! hook, the outbound allow-list: a request leaves the host only if its destination matches
//! one of the component's `allow-outbound` patterns; otherwise the guest gets
//! `HTTP-request-denied`.
//!
//! The incoming side (`wasi:http/incoming-handler@0.2`, `wasi:http/handler@0.3`) is an export
//! of the guest, driven by the server, not something a provider supplies.

use std::sync::{Arc, LazyLock};

use manifold_config::{ComponentPlan, OutboundPattern, default_port};
use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttp, WasiHttpHooks, WasiHttpView};

/// The version of `wasi:http` 0.2 that `wasmtime-wasi-http` implements.
pub const WASI_HTTP_VERSION: &str = "0.2.12";

/// The version of `wasi:http` 0.3 that `wasmtime-wasi-http` implements.
pub const WASI_HTTP_P3_VERSION: &str = "0.3.0";

/// In the order `add_to_linker` destructures them.
fn names() -> &'static [InterfaceName] {
    static NAMES: LazyLock<Vec<InterfaceName>> = LazyLock::new(|| {
        [
            ("wasi:http/types", WASI_HTTP_VERSION),
            ("wasi:http/outgoing-handler", WASI_HTTP_VERSION),
            ("wasi:http/types", WASI_HTTP_P3_VERSION),
            ("wasi:http/client", WASI_HTTP_P3_VERSION),
        ]
        .iter()
        .map(|(n, version)| {
            let full = format!("{n}@{version}");
            full.parse()
                .unwrap_or_else(|e| panic!("bad built-in name {full}: {e}"))
        })
        .collect()
    });
    &NAMES
}

/// The `http` provider of one component.
pub struct HttpProvider {
    allow: Arc<[OutboundPattern]>,
}

impl HttpProvider {
    pub const NAME: &'static str = "http";

    pub fn new(component: &ComponentPlan) -> HttpProvider {
        HttpProvider {
            allow: component.allow_outbound.clone().into(),
        }
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        names().to_vec()
    }
}

impl Provider for HttpProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn interfaces(&self) -> &[InterfaceName] {
        names()
    }

    fn wit(&self) -> Option<std::sync::Arc<wit_parser::Resolve>> {
        Some(manifold_wit::builtin_shared())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        use wasmtime_wasi_http::p2::bindings::http;
        use wasmtime_wasi_http::p3::bindings::http as http3;
        let [types, outgoing, types3, client3] = names() else {
            unreachable!("four names")
        };
        if chosen.contains(types) {
            let options = http::types::LinkOptions::default();
            http::types::add_to_linker::<_, WasiHttp>(linker, &options, InstanceState::http)?;
        }
        if chosen.contains(outgoing) {
            http::outgoing_handler::add_to_linker::<_, WasiHttp>(linker, InstanceState::http)?;
        }
        if chosen.contains(types3) {
            http3::types::add_to_linker::<_, WasiHttp>(linker, InstanceState::http)?;
        }
        if chosen.contains(client3) {
            http3::client::add_to_linker::<_, WasiHttp>(linker, InstanceState::http)?;
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        if !self.allow.is_empty() {
            state.http_hooks = Box::new(OutboundPolicy {
                allow: self.allow.clone(),
            });
        }
        Ok(())
    }
}

/// Sends a request if an `allow-outbound` pattern admits its destination.
struct OutboundPolicy {
    allow: Arc<[OutboundPattern]>,
}

impl OutboundPolicy {
    fn admits(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("https");
        let Some(host) = uri.host() else {
            return false;
        };
        let Some(port) = uri.port_u16().or_else(|| default_port(scheme)) else {
            return false;
        };
        self.allow.iter().any(|p| p.matches(scheme, host, port))
    }
}

type ErrorFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: ErrorFuture,
    ) -> Box<
        dyn Future<Output = wasmtime_wasi_http::Result<(http::Response<WasiBody>, ErrorFuture)>>
            + Send,
    > {
        if !self.admits(request.uri()) {
            if let Some(also) =
                manifold_provider::log_throttle::throttled("outbound-http-denied", "")
            {
                tracing::info!(uri = %request.uri(), also_denied = also, "outbound HTTP denied: no allow-outbound pattern matches");
            }
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as ErrorFuture,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_uses_default_ports() {
        let policy = OutboundPolicy {
            allow: vec![
                "https://example.com".parse().unwrap(),
                "http://127.0.0.1:*".parse().unwrap(),
            ]
            .into(),
        };
        assert!(policy.admits(&"https://example.com/x".parse().unwrap()));
        assert!(!policy.admits(&"http://example.com/x".parse().unwrap()));
        assert!(!policy.admits(&"https://example.com:8443/".parse().unwrap()));
        assert!(policy.admits(&"http://127.0.0.1:9999/".parse().unwrap()));
        assert!(!policy.admits(&"http://localhost:9999/".parse().unwrap()));
    }

    /// `*://HOST` is each scheme on its default port; a URL's explicit default port counts.
    #[test]
    fn a_scheme_wildcard_admits_only_default_ports() {
        let policy = OutboundPolicy {
            allow: vec!["*://example.com".parse().unwrap()].into(),
        };
        assert!(policy.admits(&"http://example.com/x".parse().unwrap()));
        assert!(policy.admits(&"https://example.com/x".parse().unwrap()));
        assert!(policy.admits(&"http://example.com:80/".parse().unwrap()));
        assert!(!policy.admits(&"http://example.com:8080/".parse().unwrap()));
        assert!(!policy.admits(&"https://example.com:80/".parse().unwrap()));

        let policy = OutboundPolicy {
            allow: vec!["*://example.com:*".parse().unwrap()].into(),
        };
        assert!(policy.admits(&"http://example.com:8080/".parse().unwrap()));
        assert!(policy.admits(&"https://example.com:8443/".parse().unwrap()));
    }
}
