//! Guest components for tests, built from source: WAT fixtures and Rust guests.
//!
//! Each constant is the absolute path of a `.wasm` file that `build.rs` built,
//! validated and wrote to `OUT_DIR`: a component, except `CORE_MODULE`. What
//! each program does, and so what tests may rely on, is in this crate's
//! `README.md`.

include!(concat!(env!("OUT_DIR"), "/programs.rs"));
