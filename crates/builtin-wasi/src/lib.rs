//! The built-in provider of WASI 0.2 and 0.3: `wasi:cli`, `wasi:io` (0.2 only; 0.3 streams and
//! futures are built into the component model), `wasi:clocks`, `wasi:random`,
//! `wasi:filesystem` and `wasi:sockets`, implemented by `wasmtime-wasi` (`p2` and `p3`).
//!
//! Both majors are offered side by side: a component may import some interfaces at 0.2.x
//! and others at 0.3.0 (Rust std on wasip2 next to 0.3 bindings), and both are served from
//! the same per-instance context, so a grant means the same thing whichever major uses it.
//!
//! Deny at use, not at link: every interface is linked whatever was granted, so components
//! from toolchains that import the whole WASI set still run; what a guest may touch is
//! decided per instance by the [`WasiCtx`](wasmtime_wasi::WasiCtx) built here — no files but
//! the granted directories, no environment but the granted variables, no socket addresses
//! or host names but the granted ones (`sockets.rs`).

mod sockets;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use anyhow::Context as _;
use manifold_config::{ComponentPlan, Mode};
use manifold_provider::{InstanceState, InterfaceName, Linker, Provider, ProviderKind};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::sockets as granted;

/// The version of the WASI 0.2 interfaces `wasmtime-wasi` implements.
pub const WASI_VERSION: &str = "0.2.12";

/// The version of the WASI 0.3 interfaces `wasmtime-wasi` implements.
pub const WASI_P3_VERSION: &str = "0.3.0";

type LinkFn = fn(&mut Linker) -> anyhow::Result<()>;

/// Each interface with the function that links it.
fn catalog() -> &'static [(InterfaceName, LinkFn)] {
    static CATALOG: LazyLock<Vec<(InterfaceName, LinkFn)>> = LazyLock::new(|| {
        let p2 = link_table().into_iter().map(|entry| (entry, WASI_VERSION));
        let p3 = p3_link_table()
            .into_iter()
            .map(|entry| (entry, WASI_P3_VERSION));
        p2.chain(p3)
            .map(|((name, link), version)| {
                let full = format!("{name}@{version}");
                let name = full
                    .parse()
                    .unwrap_or_else(|e| panic!("bad built-in name {full}: {e}"));
                (name, link)
            })
            .collect()
    });
    &CATALOG
}

fn link_table() -> Vec<(&'static str, LinkFn)> {
    use granted::{GrantedLookup, lookup_view};
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};
    use wasmtime_wasi_io::bindings::wasi::io;

    struct HasIo;
    impl wasmtime::component::HasData for HasIo {
        type Data<'a> = &'a mut wasmtime::component::ResourceTable;
    }
    fn table(t: &mut InstanceState) -> &mut wasmtime::component::ResourceTable {
        &mut t.table
    }
    fn rng(t: &mut InstanceState) -> &mut wasmtime_wasi::random::WasiRandomCtx {
        t.wasi.random()
    }
    type S = InstanceState;
    vec![
        ("wasi:io/error", |l| {
            Ok(io::error::add_to_linker::<S, HasIo>(l, table)?)
        }),
        ("wasi:io/poll", |l| {
            Ok(io::poll::add_to_linker::<S, HasIo>(l, table)?)
        }),
        ("wasi:io/streams", |l| {
            Ok(io::streams::add_to_linker::<S, HasIo>(l, table)?)
        }),
        ("wasi:clocks/wall-clock", |l| {
            Ok(clocks::wall_clock::add_to_linker::<S, WasiClocks>(
                l,
                S::clocks,
            )?)
        }),
        ("wasi:clocks/monotonic-clock", |l| {
            Ok(clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(
                l,
                S::clocks,
            )?)
        }),
        ("wasi:random/random", |l| {
            Ok(random::random::add_to_linker::<S, WasiRandom>(l, rng)?)
        }),
        ("wasi:random/insecure", |l| {
            Ok(random::insecure::add_to_linker::<S, WasiRandom>(l, rng)?)
        }),
        ("wasi:random/insecure-seed", |l| {
            Ok(random::insecure_seed::add_to_linker::<S, WasiRandom>(
                l, rng,
            )?)
        }),
        ("wasi:cli/exit", |l| {
            Ok(cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/environment", |l| {
            Ok(cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stdin", |l| {
            Ok(cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stdout", |l| {
            Ok(cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stderr", |l| {
            Ok(cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-input", |l| {
            Ok(cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-output", |l| {
            Ok(cli::terminal_output::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:cli/terminal-stdin", |l| {
            Ok(cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-stdout", |l| {
            Ok(cli::terminal_stdout::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:cli/terminal-stderr", |l| {
            Ok(cli::terminal_stderr::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:filesystem/types", |l| {
            Ok(filesystem::types::add_to_linker::<S, WasiFilesystem>(
                l,
                S::filesystem,
            )?)
        }),
        ("wasi:filesystem/preopens", |l| {
            Ok(filesystem::preopens::add_to_linker::<S, WasiFilesystem>(
                l,
                S::filesystem,
            )?)
        }),
        ("wasi:sockets/network", |l| {
            let options = Default::default();
            Ok(sockets::network::add_to_linker::<S, WasiSockets>(
                l,
                &options,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/instance-network", |l| {
            Ok(sockets::instance_network::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/tcp", |l| {
            Ok(sockets::tcp::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/tcp-create-socket", |l| {
            Ok(sockets::tcp_create_socket::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/udp", |l| {
            Ok(sockets::udp::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/udp-create-socket", |l| {
            Ok(sockets::udp_create_socket::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/ip-name-lookup", |l| {
            Ok(sockets::ip_name_lookup::add_to_linker::<S, GrantedLookup>(
                l,
                lookup_view,
            )?)
        }),
    ]
}

/// WASI 0.3.0. `wasi:cli/types` and `wasi:clocks/types` hold only types; an empty
/// instance stands for them, so the linker finds something under their names.
fn p3_link_table() -> Vec<(&'static str, LinkFn)> {
    use granted::{GrantedLookup, lookup_view};
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
    use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
    use wasmtime_wasi::p3::bindings::{cli, clocks, filesystem, random, sockets};
    use wasmtime_wasi::random::WasiRandom;
    use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView};

    fn rng(t: &mut InstanceState) -> &mut wasmtime_wasi::random::WasiRandomCtx {
        t.wasi.random()
    }
    type S = InstanceState;
    vec![
        ("wasi:cli/types", |l| {
            l.instance(&format!("wasi:cli/types@{WASI_P3_VERSION}"))?;
            Ok(())
        }),
        ("wasi:cli/exit", |l| {
            Ok(cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/environment", |l| {
            Ok(cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stdin", |l| {
            Ok(cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stdout", |l| {
            Ok(cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/stderr", |l| {
            Ok(cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-input", |l| {
            Ok(cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-output", |l| {
            Ok(cli::terminal_output::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:cli/terminal-stdin", |l| {
            Ok(cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)?)
        }),
        ("wasi:cli/terminal-stdout", |l| {
            Ok(cli::terminal_stdout::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:cli/terminal-stderr", |l| {
            Ok(cli::terminal_stderr::add_to_linker::<S, WasiCli>(
                l,
                S::cli,
            )?)
        }),
        ("wasi:clocks/types", |l| {
            Ok(clocks::types::add_to_linker::<S, WasiClocks>(l, S::clocks)?)
        }),
        ("wasi:clocks/monotonic-clock", |l| {
            Ok(clocks::monotonic_clock::add_to_linker::<S, WasiClocks>(
                l,
                S::clocks,
            )?)
        }),
        ("wasi:clocks/system-clock", |l| {
            Ok(clocks::system_clock::add_to_linker::<S, WasiClocks>(
                l,
                S::clocks,
            )?)
        }),
        ("wasi:random/random", |l| {
            Ok(random::random::add_to_linker::<S, WasiRandom>(l, rng)?)
        }),
        ("wasi:random/insecure", |l| {
            Ok(random::insecure::add_to_linker::<S, WasiRandom>(l, rng)?)
        }),
        ("wasi:random/insecure-seed", |l| {
            Ok(random::insecure_seed::add_to_linker::<S, WasiRandom>(
                l, rng,
            )?)
        }),
        ("wasi:filesystem/types", |l| {
            Ok(filesystem::types::add_to_linker::<S, WasiFilesystem>(
                l,
                S::filesystem,
            )?)
        }),
        ("wasi:filesystem/preopens", |l| {
            Ok(filesystem::preopens::add_to_linker::<S, WasiFilesystem>(
                l,
                S::filesystem,
            )?)
        }),
        ("wasi:sockets/types", |l| {
            Ok(sockets::types::add_to_linker::<S, WasiSockets>(
                l,
                S::sockets,
            )?)
        }),
        ("wasi:sockets/ip-name-lookup", |l| {
            Ok(sockets::ip_name_lookup::add_to_linker::<S, GrantedLookup>(
                l,
                lookup_view,
            )?)
        }),
    ]
}

/// The `wasi` provider of one component: its grants, applied to every instance.
pub struct WasiProvider {
    interfaces: Vec<InterfaceName>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dirs: Vec<(PathBuf, String, bool)>,
    inherit_stdin: bool,
    sockets: Arc<granted::SocketGrants>,
}

impl WasiProvider {
    /// The provider's name in manifests and listings.
    pub const NAME: &'static str = "wasi";

    /// Checks the component's grants (directories must exist) and remembers them.
    pub fn new(component: &ComponentPlan, mode: Mode) -> anyhow::Result<WasiProvider> {
        let mut dirs = Vec::new();
        for grant in &component.dirs {
            let meta = std::fs::metadata(&grant.host).with_context(|| {
                format!(
                    "directory grant `{grant}` of component `{}`: cannot use host directory {}",
                    component.name,
                    grant.host.display()
                )
            })?;
            anyhow::ensure!(
                meta.is_dir(),
                "directory grant `{grant}` of component `{}`: {} is not a directory",
                component.name,
                grant.host.display()
            );
            dirs.push((grant.host.clone(), grant.guest.clone(), grant.read_only));
        }
        Ok(WasiProvider {
            interfaces: catalog().iter().map(|(n, _)| n.clone()).collect(),
            args: component.args.clone(),
            env: component.env.clone(),
            dirs,
            inherit_stdin: mode == Mode::Run,
            sockets: Arc::new(granted::SocketGrants {
                component: component.name.clone(),
                connect: component.allow_connect.clone(),
                listen: component.allow_listen.clone(),
            }),
        })
    }

    /// The interfaces offered, without any component (for listings).
    pub fn offered() -> Vec<InterfaceName> {
        catalog().iter().map(|(n, _)| n.clone()).collect()
    }
}

impl Provider for WasiProvider {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn kind(&self) -> ProviderKind {
        ProviderKind::Builtin
    }

    fn interfaces(&self) -> &[InterfaceName] {
        &self.interfaces
    }

    fn wit(&self) -> Option<std::sync::Arc<wit_parser::Resolve>> {
        Some(manifold_wit::builtin_shared())
    }

    fn add_to_linker(&self, linker: &mut Linker, chosen: &[InterfaceName]) -> anyhow::Result<()> {
        for (name, link) in catalog() {
            if chosen.contains(name) {
                link(linker).with_context(|| format!("linking {name}"))?;
            }
        }
        Ok(())
    }

    fn prepare_instance(&self, state: &mut InstanceState) -> anyhow::Result<()> {
        let mut builder = WasiCtxBuilder::new();
        builder.args(&self.args).envs(&self.env);
        builder.inherit_stdout().inherit_stderr();
        if self.inherit_stdin {
            builder.inherit_stdin();
        }
        for (host, guest, read_only) in &self.dirs {
            let perms = if *read_only {
                FsPerms::ReadOnly
            } else {
                FsPerms::ReadWrite
            };
            builder
                .preopened_dir(host, guest, perms)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("opening granted directory {}", host.display()))?;
        }
        let sockets = granted::SocketPolicy::install(&self.sockets, &mut builder);
        state.wasi = builder.build();
        state.extensions.insert(sockets);
        Ok(())
    }
}
