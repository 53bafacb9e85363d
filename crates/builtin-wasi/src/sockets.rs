//! Socket grants at use: wasmtime-wasi asks [`SocketPolicy::admits`] about every address a
//! guest binds, listens on, connects or sends to (0.2 and 0.3 alike), and `ip-name-lookup`
//! (both majors) is ours, wrapped around wasmtime-wasi's: a name is resolved only if an
//! `allow-connect` pattern names it, so DNS is no oracle for arbitrary names, and the
//! addresses it resolved to are remembered for the instance, which is how a grant by name
//! (`tcp://db:5432`) admits a connection, made to an IP address.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use manifold_config::{ConnectPattern, ListenPattern, SocketProtocol};
use manifold_provider::InstanceState;
use wasmtime::component::{Accessor, HasData, Resource};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::sockets::{SocketAddrUse, WasiSockets, WasiSocketsCtxView, WasiSocketsView};

/// A component's socket grants.
#[derive(Debug, Default)]
pub(crate) struct SocketGrants {
    pub(crate) component: String,
    pub(crate) connect: Vec<ConnectPattern>,
    pub(crate) listen: Vec<ListenPattern>,
}

/// One instance's view of its grants: the grants, and the names its lookups resolved.
#[derive(Debug, Default)]
pub(crate) struct SocketPolicy {
    grants: Arc<SocketGrants>,
    /// Each address a granted name resolved to, with the names.
    resolved: Mutex<HashMap<IpAddr, BTreeSet<String>>>,
    /// 0.2 lookups not yet dropped: the stream's handle → the name looked up.
    lookups: Mutex<HashMap<u32, String>>,
}

/// Stands in when the `wasi` provider prepared no policy: nothing is granted.
static NOTHING_GRANTED: LazyLock<Arc<SocketPolicy>> = LazyLock::new(Arc::default);

impl SocketPolicy {
    /// Installs the grants into `builder` and returns the instance's policy, which the
    /// caller keeps in the instance's extensions for the name lookups.
    pub(crate) fn install(
        grants: &Arc<SocketGrants>,
        builder: &mut WasiCtxBuilder,
    ) -> Arc<SocketPolicy> {
        let policy = Arc::new(SocketPolicy {
            grants: grants.clone(),
            ..SocketPolicy::default()
        });
        // TCP and UDP sockets may be created whatever is granted: the address check is the
        // gate, so each refusal is logged with its address (not as a bare `access-denied`).
        builder
            .allow_tcp(true)
            .allow_udp(true)
            .allow_ip_name_lookup(!grants.connect.is_empty());
        let check = policy.clone();
        builder.socket_addr_check(move |address, used_for| {
            let admitted = check.admits(address, used_for);
            Box::pin(async move { admitted })
        });
        policy
    }

    /// Whether `address` may be used so, logging a refusal.
    fn admits(&self, address: SocketAddr, used_for: SocketAddrUse) -> bool {
        use SocketProtocol::{Tcp, Udp};
        let (admitted, what, grant) = match used_for {
            SocketAddrUse::TcpBind => (self.binds(Tcp, address), "TCP bind of", "allow-listen"),
            SocketAddrUse::TcpListen => {
                (self.listens(Tcp, address), "TCP listen on", "allow-listen")
            }
            // Reached only on a listener that was admitted.
            SocketAddrUse::TcpAccept => return true,
            SocketAddrUse::TcpConnect => (
                self.connects(Tcp, address),
                "TCP connect to",
                "allow-connect",
            ),
            SocketAddrUse::UdpBind => (self.binds(Udp, address), "UDP bind of", "allow-listen"),
            SocketAddrUse::UdpSend => (self.connects(Udp, address), "UDP send to", "allow-connect"),
            // A datagram from a granted peer, or to a socket that may serve anyone; others
            // are dropped silently, as wasmtime-wasi does.
            SocketAddrUse::UdpReceive => {
                return self.connects(Udp, address)
                    || self.grants.listen.iter().any(|p| p.protocol() == Udp);
            }
        };
        if !admitted
            && let Some(also) =
                manifold_provider::log_throttle::throttled("socket-denied", &self.grants.component)
        {
            tracing::warn!(
                component = %self.grants.component,
                %address,
                also_denied = also,
                "{what} {address} denied: no `{grant}` pattern admits it"
            );
        }
        admitted
    }

    /// A bind to port 0 (ephemeral: what a client does, explicitly or implicitly, before it
    /// connects) is always admitted: it opens nothing by itself, since `listen` is checked
    /// again with the real port, and every UDP datagram sent or received is checked too.
    fn binds(&self, protocol: SocketProtocol, address: SocketAddr) -> bool {
        address.port() == 0 || self.listens(protocol, address)
    }

    fn listens(&self, protocol: SocketProtocol, address: SocketAddr) -> bool {
        self.grants
            .listen
            .iter()
            .any(|p| p.admits(protocol, address))
    }

    fn connects(&self, protocol: SocketProtocol, address: SocketAddr) -> bool {
        let resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        let names = resolved.get(&address.ip().to_canonical());
        self.grants.connect.iter().any(|p| {
            p.admits(
                protocol,
                address,
                names.into_iter().flatten().map(String::as_str),
            )
        })
    }

    /// Whether the guest may look `name` up: an IP address literal always (no query is
    /// made), a name when an `allow-connect` pattern names it.
    fn may_resolve(&self, name: &str) -> bool {
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        let admitted = literal.parse::<IpAddr>().is_ok()
            || self.grants.connect.iter().any(|p| p.admits_name(name));
        if !admitted
            && let Some(also) =
                manifold_provider::log_throttle::throttled("lookup-denied", &self.grants.component)
        {
            tracing::warn!(
                component = %self.grants.component,
                name = %name.escape_debug(),
                also_denied = also,
                "name lookup of `{}` denied: no `allow-connect` pattern names it",
                name.escape_debug()
            );
        }
        admitted
    }

    fn remember(&self, name: &str, addresses: impl IntoIterator<Item = IpAddr>) {
        let mut resolved = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        for address in addresses {
            resolved
                .entry(address.to_canonical())
                .or_default()
                .insert(name.to_ascii_lowercase());
        }
    }

    fn lookups(&self) -> std::sync::MutexGuard<'_, HashMap<u32, String>> {
        self.lookups.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `ip-name-lookup` under the grants, for [`add_to_linker`]s of both majors.
pub(crate) struct GrantedLookup;

impl HasData for GrantedLookup {
    type Data<'a> = LookupView<'a>;
}

pub(crate) struct LookupView<'a> {
    sockets: WasiSocketsCtxView<'a>,
    policy: &'a Arc<SocketPolicy>,
}

pub(crate) fn lookup_view(state: &mut InstanceState) -> LookupView<'_> {
    let InstanceState {
        wasi,
        table,
        extensions,
        ..
    } = state;
    let policy: &Arc<SocketPolicy> = match extensions.get_mut::<Arc<SocketPolicy>>() {
        Some(policy) => &*policy,
        None => &NOTHING_GRANTED,
    };
    LookupView {
        sockets: WasiSocketsCtxView {
            ctx: wasi.sockets(),
            table,
        },
        policy,
    }
}

mod p2 {
    use super::*;
    use wasmtime_wasi::p2::SocketError;
    use wasmtime_wasi::p2::SocketResult;
    use wasmtime_wasi::p2::bindings::sockets::ip_name_lookup::{
        Host, HostResolveAddressStream, ResolveAddressStream,
    };
    use wasmtime_wasi::p2::bindings::sockets::network::{
        self, ErrorCode, HostNetwork, IpAddress, Network,
    };
    use wasmtime_wasi_io::poll::DynPollable;
    use wasmtime_wasi_io::streams::Error;

    /// What the bindings need to turn a socket error into the guest's `error-code`:
    /// wasmtime-wasi's own conversion.
    impl network::Host for LookupView<'_> {
        fn convert_error_code(&mut self, error: SocketError) -> wasmtime::Result<ErrorCode> {
            self.sockets.convert_error_code(error)
        }

        fn network_error_code(
            &mut self,
            error: Resource<Error>,
        ) -> wasmtime::Result<Option<ErrorCode>> {
            self.sockets.network_error_code(error)
        }
    }

    impl HostNetwork for LookupView<'_> {
        fn drop(&mut self, network: Resource<Network>) -> wasmtime::Result<()> {
            HostNetwork::drop(&mut self.sockets, network)
        }
    }

    impl Host for LookupView<'_> {
        fn resolve_addresses(
            &mut self,
            network: Resource<Network>,
            name: String,
        ) -> SocketResult<Resource<ResolveAddressStream>> {
            if !self.policy.may_resolve(&name) {
                return Err(ErrorCode::AccessDenied.into());
            }
            let stream = self.sockets.resolve_addresses(network, name.clone())?;
            self.policy.lookups().insert(stream.rep(), name);
            Ok(stream)
        }
    }

    impl HostResolveAddressStream for LookupView<'_> {
        fn resolve_next_address(
            &mut self,
            stream: Resource<ResolveAddressStream>,
        ) -> SocketResult<Option<IpAddress>> {
            let rep = stream.rep();
            let next = self.sockets.resolve_next_address(stream)?;
            if let Some(address) = &next
                && let Some(name) = self.policy.lookups().get(&rep)
            {
                self.policy.remember(name, [ip(address)]);
            }
            Ok(next)
        }

        fn subscribe(
            &mut self,
            stream: Resource<ResolveAddressStream>,
        ) -> wasmtime::Result<Resource<DynPollable>> {
            HostResolveAddressStream::subscribe(&mut self.sockets, stream)
        }

        fn drop(&mut self, stream: Resource<ResolveAddressStream>) -> wasmtime::Result<()> {
            self.policy.lookups().remove(&stream.rep());
            HostResolveAddressStream::drop(&mut self.sockets, stream)
        }
    }

    fn ip(address: &IpAddress) -> IpAddr {
        match *address {
            IpAddress::Ipv4((a, b, c, d)) => IpAddr::from([a, b, c, d]),
            IpAddress::Ipv6((a, b, c, d, e, f, g, h)) => IpAddr::from([a, b, c, d, e, f, g, h]),
        }
    }
}

mod p3 {
    use super::*;
    use wasmtime_wasi::p3::bindings::sockets::ip_name_lookup::{ErrorCode, Host, HostWithStore};
    use wasmtime_wasi::p3::bindings::sockets::types::IpAddress;

    impl Host for LookupView<'_> {}

    impl HostWithStore<InstanceState> for GrantedLookup {
        async fn resolve_addresses(
            store: &Accessor<InstanceState, Self>,
            name: String,
        ) -> wasmtime::Result<Result<Vec<IpAddress>, ErrorCode>> {
            let policy = store.with(|mut access| access.get().policy.clone());
            if !policy.may_resolve(&name) {
                return Ok(Err(ErrorCode::AccessDenied));
            }
            let wasi = store.with_getter::<WasiSockets>(InstanceState::sockets);
            let addresses = <WasiSockets as HostWithStore<InstanceState>>::resolve_addresses(
                &wasi,
                name.clone(),
            )
            .await?;
            if let Ok(addresses) = &addresses {
                policy.remember(&name, addresses.iter().map(|a| IpAddr::from(*a)));
            }
            Ok(addresses)
        }
    }
}
