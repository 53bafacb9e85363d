//! Builds the Rust example plugins in `examples/plugins` (their own workspace and target
//! directory, as a plugin author would) and writes `plugins.rs`: one constant per plugin
//! holding the absolute path of its library or program.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, Result, ensure};

fn main() -> Result<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .and_then(Path::parent)
        .context("crate is not in crates/")?;
    let plugins = root.join("examples/plugins");
    for entry in [
        "Cargo.toml",
        "Cargo.lock",
        "rust-dylib",
        "rust-dylib-async",
        "rust-dylib-typed",
        "rust-rpc",
        "rust-rpc-upstream-nats",
    ] {
        println!("cargo:rerun-if-changed={}", plugins.join(entry).display());
    }
    for entry in [
        "plugin-sdk",
        "plugin-sdk-macros",
        "plugin-sdk-gen",
        "plugin-api",
    ] {
        println!(
            "cargo:rerun-if-changed={}",
            root.join("crates").join(entry).display()
        );
    }
    println!(
        "cargo:rerun-if-changed={}",
        root.join("crates/test-programs/wit").display()
    );

    let target_dir = plugins.join("target");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    // The outer build's variables (target dir, flags, jobserver) must not leak in.
    for (name, _) in env::vars_os() {
        if let Some(name) = name.to_str()
            && ((name.starts_with("CARGO") && name != "CARGO_HOME")
                || name.starts_with("RUSTC")
                || name == "RUSTFLAGS")
        {
            command.env_remove(name);
        }
    }
    let status = command
        .current_dir(&plugins)
        .env("CARGO_TARGET_DIR", &target_dir)
        .args(["build", "--release", "--locked", "--workspace"])
        .stdout(std::io::stderr())
        .status()
        .with_context(|| format!("running {cargo} to build the example plugins"))?;
    ensure!(
        status.success(),
        "building the example plugins in {} failed ({status})",
        plugins.display()
    );
    let release = target_dir.join("release");
    let dylib = release.join(format!(
        "{}conformance_dylib{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    ));
    let typed = release.join(format!(
        "{}conformance_dylib_typed{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    ));
    let dylib_async = release.join(format!(
        "{}conformance_dylib_async{}",
        env::consts::DLL_PREFIX,
        env::consts::DLL_SUFFIX
    ));
    let rpc = release.join("conformance-rpc");
    let upstream_nats = release.join("conformance-rpc-upstream-nats");
    for path in [&dylib, &typed, &dylib_async, &rpc, &upstream_nats] {
        ensure!(path.exists(), "{} was not built", path.display());
    }
    let out = PathBuf::from(env::var("OUT_DIR")?).join("plugins.rs");
    std::fs::write(
        out,
        format!(
            "/// The conformance interface as a Rust dynamic-library plugin.\n\
             pub const RUST_DYLIB: &str = {dylib:?};\n\
             /// The same, written against bindings generated from the WIT (`generate!`).\n\
             pub const RUST_DYLIB_TYPED: &str = {typed:?};\n\
             /// manifold:conformance-async/calls (async functions) on generated bindings.\n\
             pub const RUST_DYLIB_ASYNC: &str = {dylib_async:?};\n\
             /// The conformance interface as a Rust wRPC server (wit-bindgen-wrpc).\n\
             pub const RUST_RPC: &str = {rpc:?};\n\
             /// The same served over NATS by upstream wRPC's `wrpc-transport-nats`.\n\
             pub const RUST_RPC_UPSTREAM_NATS: &str = {upstream_nats:?};\n"
        ),
    )?;
    Ok(())
}
