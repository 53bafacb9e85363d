//! `plugin-peek`: a Wasm-component plugin exporting `manifold:peek/peek`, which reports the
//! environment variables and preopened directories the plugin itself sees.

wit_bindgen::generate!({
    path: "../../wit/peek.wit",
    world: "plugin",
});

use exports::manifold::peek::peek::Guest;

struct Peek;

impl Guest for Peek {
    fn environment() -> Vec<String> {
        std::env::vars()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    fn directories() -> Vec<String> {
        wasip2::filesystem::preopens::get_directories()
            .into_iter()
            .map(|(_, path)| path)
            .collect()
    }
}

export!(Peek);
