//! Builds the Rust guests in `guests/` and the WAT fixtures in `wat/` into
//! `OUT_DIR`, validates every result, and writes `programs.rs`: one constant
//! per program holding the absolute path of its `.wasm` file.
//!
//! The guests are built by Debian's rustc with `-Zbuild-std`, because the
//! rustup toolchain that builds the host has no wasm32 target on our
//! machines; `scripts/install-deps` installs what this needs. The guests get
//! their own workspace and target directory (`guests/target`), so rebuilds
//! are incremental and never touch the host's build.

use std::env;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, bail, ensure};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
    WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};
use wit_component::ComponentEncoder;

const GUEST_CARGO: &str = "/usr/bin/cargo";
const GUEST_RUSTC: &str = "/usr/bin/rustc";
const GUEST_LINKER: &str = "wasm-ld-19";
const GUEST_TARGET: &str = "wasm32-wasip1";
/// Installed by rust-web-src; `-Zbuild-std` compiles std from it.
const RUST_LIBRARY_SOURCE: &str = "/usr/lib/rustlib/src/rust/library";
/// wasi-libc's start files, linked into where Debian's rustc looks for them.
const WASI_SELF_CONTAINED: &str =
    "/usr/lib/rustlib/wasm32-wasip1/lib/self-contained/crt1-command.o";

/// Which WASI preview1 adapter turns a guest's core module into a component.
#[derive(Clone, Copy)]
enum Adapter {
    /// A `fn main` program: exports wasi:cli/run.
    Command,
    /// A library with the whole WASI 0.2 command world to import.
    Reactor,
    /// A library restricted to the wasi:http/proxy world (no filesystem).
    Proxy,
}

impl Adapter {
    fn name(self) -> &'static str {
        match self {
            Adapter::Command => "command",
            Adapter::Reactor => "reactor",
            Adapter::Proxy => "proxy",
        }
    }

    fn bytes(self) -> &'static [u8] {
        match self {
            Adapter::Command => WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            Adapter::Reactor => WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            Adapter::Proxy => WASI_SNAPSHOT_PREVIEW1_PROXY_ADAPTER,
        }
    }
}

struct Guest {
    /// The package in `guests/`, and the program's name.
    name: &'static str,
    /// What cargo names its core module (cdylibs get underscores).
    core_module: &'static str,
    adapter: Adapter,
}

const GUESTS: &[Guest] = &[
    Guest {
        name: "blob-probe",
        core_module: "blob_probe.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "cli-probe",
        core_module: "cli-probe.wasm",
        adapter: Adapter::Command,
    },
    Guest {
        name: "config-probe",
        core_module: "config_probe.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "http-counter",
        core_module: "http_counter.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "http-echo",
        core_module: "http_echo.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "http-hello",
        core_module: "http_hello.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "http-probe",
        core_module: "http_probe.wasm",
        // Not the proxy adapter: `/file` needs a filesystem.
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "kv-draft",
        core_module: "kv_draft.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "kv-draft2",
        core_module: "kv_draft2.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "kv-draft2-on-draft",
        core_module: "kv_draft2_on_draft.wasm",
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "p3-cli-probe",
        core_module: "p3_cli_probe.wasm",
        // A library exporting wasi:cli/run@0.3.0 itself: std's preview1
        // imports need the adapter that has no `run` of its own.
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "p3-http-hello",
        core_module: "p3_http_hello.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "p3-http-probe",
        core_module: "p3_http_probe.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "p3-mixed",
        core_module: "p3_mixed.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "peek-app",
        core_module: "peek-app.wasm",
        adapter: Adapter::Command,
    },
    Guest {
        name: "plugin-conformance",
        core_module: "plugin-conformance.wasm",
        adapter: Adapter::Command,
    },
    Guest {
        name: "plugin-conformance-async",
        core_module: "plugin_conformance_async.wasm",
        // A library exporting wasi:cli/run@0.3.0 itself (as `p3-cli-probe`).
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "plugin-conformance-async-provider",
        core_module: "plugin_conformance_async_provider.wasm",
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "plugin-http",
        core_module: "plugin_http.wasm",
        adapter: Adapter::Proxy,
    },
    Guest {
        name: "plugin-conformance-provider",
        core_module: "plugin_conformance_provider.wasm",
        adapter: Adapter::Reactor,
    },
    Guest {
        name: "plugin-peek",
        core_module: "plugin_peek.wasm",
        adapter: Adapter::Reactor,
    },
];

/// A program written to `OUT_DIR`, for `programs.rs`.
struct Program {
    name: String,
    path: PathBuf,
    doc: String,
}

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env_var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env_var("OUT_DIR")?);
    println!("cargo:rerun-if-changed=build.rs");

    let mut programs = Vec::new();

    let guests_dir = manifest_dir.join("guests");
    watch_guest_sources(&guests_dir)?;
    let core_dir = build_guests(&guests_dir)?;
    for guest in GUESTS {
        let core_path = core_dir.join(guest.core_module);
        let core = fs::read(&core_path)
            .with_context(|| format!("reading the core module {}", core_path.display()))?;
        let component = componentize(&core, guest.adapter)
            .with_context(|| format!("componentizing guest `{}`", guest.name))?;
        let doc = format!(
            "`guests/{}`, componentized with the {} adapter.",
            guest.name,
            guest.adapter.name()
        );
        programs.push(write_program(&out_dir, guest.name, &component, doc)?);
    }

    let wat_dir = manifest_dir.join("wat");
    println!("cargo:rerun-if-changed={}", wat_dir.display());
    for wat_path in wat_files(&wat_dir)? {
        let name = file_stem(&wat_path)?;
        let wasm = wat::parse_file(&wat_path)
            .with_context(|| format!("parsing {}", wat_path.display()))?;
        let doc = format!("`wat/{name}.wat`, parsed to binary.");
        programs.push(write_program(&out_dir, &name, &wasm, doc)?);
    }

    write_programs_rs(&out_dir.join("programs.rs"), &programs)
}

fn env_var(name: &str) -> Result<String> {
    env::var(name).with_context(|| format!("cargo did not set ${name} for the build script"))
}

/// Asks cargo to rerun this script when guest sources change. Watches each
/// entry of `guests/` but `target/`, whose files change on every guest build.
fn watch_guest_sources(guests_dir: &Path) -> Result<()> {
    let entries = fs::read_dir(guests_dir)
        .with_context(|| format!("listing guest sources in {}", guests_dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.file_name() != Some(OsStr::new("target")) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Ok(())
}

/// Builds every guest; returns the directory that holds their core modules.
fn build_guests(guests_dir: &Path) -> Result<PathBuf> {
    check_guest_toolchain()?;
    let target_dir = guests_dir.join("target");
    let mut cargo = Command::new(GUEST_CARGO);
    // The outer cargo's variables describe the host build (its rustc, its
    // flags, its target dir, its jobserver); any of them would leak into
    // the guest build and break it. CARGO_HOME stays: it only says where the
    // registry cache is.
    for (name, _) in env::vars_os() {
        if let Some(name) = name.to_str()
            && is_outer_build_variable(name)
        {
            cargo.env_remove(name);
        }
    }
    cargo
        .current_dir(guests_dir)
        .env("RUSTC", GUEST_RUSTC)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_WASM32_WASIP1_LINKER", GUEST_LINKER)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args([
            "build",
            "--release",
            "--locked",
            "-Zbuild-std=std,panic_abort",
        ])
        .args(["--target", GUEST_TARGET])
        // Cargo reads this script's stdout for `cargo:` lines; keep the
        // child's output off it.
        .stdout(io::stderr());
    let status = cargo
        .status()
        .with_context(|| format!("running {GUEST_CARGO} to build the guests"))?;
    ensure!(
        status.success(),
        "building the guests in {} failed ({status}); the compiler's messages are above",
        guests_dir.display()
    );
    Ok(target_dir.join(GUEST_TARGET).join("release"))
}

fn is_outer_build_variable(name: &str) -> bool {
    (name.starts_with("CARGO") && name != "CARGO_HOME")
        || name.starts_with("RUSTC")
        || name.starts_with("RUSTDOC")
        || name == "RUSTFLAGS"
        // Set by rustup's proxies; it would pick rustup's toolchain for any
        // `rustc` or `cargo` run by name inside the guest build.
        || name == "RUSTUP_TOOLCHAIN"
}

fn check_guest_toolchain() -> Result<()> {
    let mut missing = Vec::new();
    for (what, path) in [
        ("Debian's rustc (package rustc-web)", GUEST_RUSTC),
        ("Debian's cargo (package cargo-web)", GUEST_CARGO),
        (
            "the Rust library source (package rust-web-src)",
            RUST_LIBRARY_SOURCE,
        ),
        (
            "wasi-libc linked for wasm32-wasip1 (package wasi-libc)",
            WASI_SELF_CONTAINED,
        ),
    ] {
        if !Path::new(path).exists() {
            missing.push(format!("{what}: {path}"));
        }
    }
    if !on_path(GUEST_LINKER) {
        missing.push(format!(
            "the wasm linker (package lld-19): {GUEST_LINKER} on $PATH"
        ));
    }
    if !missing.is_empty() {
        bail!(
            "cannot build the guest programs: the guest toolchain is incomplete.\n  missing: {}\n\
             Run `scripts/install-deps` (as root) to install it.",
            missing.join("\n  missing: ")
        );
    }
    Ok(())
}

fn on_path(program: &str) -> bool {
    env::var_os("PATH")
        .is_some_and(|path| env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

fn componentize(core: &[u8], adapter: Adapter) -> Result<Vec<u8>> {
    ComponentEncoder::default()
        .validate(true)
        .module(core)?
        .adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, adapter.bytes())?
        .encode()
}

/// The `.wat` files in `dir`, sorted so `programs.rs` is stable.
fn wat_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.extension() == Some(OsStr::new("wat")) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn file_stem(path: &Path) -> Result<String> {
    path.file_stem()
        .and_then(OsStr::to_str)
        .map(str::to_owned)
        .with_context(|| format!("{} has no UTF-8 file name", path.display()))
}

/// Validates `wasm` and writes it to `OUT_DIR/<name>.wasm`. Fixtures named
/// `core-*` must be core modules; every other program must be a component.
fn write_program(out_dir: &Path, name: &str, wasm: &[u8], doc: String) -> Result<Program> {
    let want_component = !name.starts_with("core-");
    let is_component = wasmparser::Parser::is_component(wasm);
    ensure!(
        is_component == want_component,
        "`{name}` is a {}, but expected a {}",
        kind(is_component),
        kind(want_component)
    );
    // Spelled out rather than left to the default: the WASI 0.3 guests use the
    // component model's async ABI (`task.return`, streams, futures,
    // waitable sets), and must keep validating if the default changes.
    wasmparser::Validator::new_with_features(
        wasmparser::WasmFeatures::default() | wasmparser::WasmFeatures::CM_ASYNC,
    )
    .validate_all(wasm)
    .with_context(|| format!("`{name}` is not a valid {}", kind(is_component)))?;

    let path = out_dir.join(format!("{name}.wasm"));
    fs::write(&path, wasm).with_context(|| format!("writing {}", path.display()))?;
    Ok(Program {
        name: name.to_owned(),
        path,
        doc,
    })
}

fn kind(is_component: bool) -> &'static str {
    if is_component {
        "component"
    } else {
        "core module"
    }
}

fn write_programs_rs(path: &Path, programs: &[Program]) -> Result<()> {
    let mut code = String::from("// Generated by build.rs: one path per test program.\n");
    let mut all = String::new();
    let mut constants = Vec::new();
    for program in programs {
        let constant = program.name.to_uppercase().replace('-', "_");
        ensure!(
            !constants.contains(&constant),
            "two test programs would both be named `{constant}`; rename one (in guests/ or wat/)"
        );
        constants.push(constant.clone());
        let wasm_path = program
            .path
            .to_str()
            .with_context(|| format!("{} is not UTF-8", program.path.display()))?;
        writeln!(code, "\n/// {}", program.doc)?;
        writeln!(code, "pub const {constant}: &str = {wasm_path:?};")?;
        writeln!(all, "    ({:?}, {constant}),", program.name)?;
    }
    writeln!(
        code,
        "\n/// Every program above as `(name, path)`, for tests that cover them all.\n\
         pub const ALL: &[(&str, &str)] = &[\n{all}];"
    )?;
    fs::write(path, code).with_context(|| format!("writing {}", path.display()))
}
