//! `peek-app`: a command that prints what it sees (`app env NAME=VALUE`, `app dir PATH`),
//! then what its `manifold:peek` plugin sees (`plugin env …`, `plugin dir …`), one a line.

wit_bindgen::generate!({
    path: "../../wit/peek.wit",
    world: "app",
});

use manifold::peek::peek;

fn main() {
    for (name, value) in std::env::vars() {
        println!("app env {name}={value}");
    }
    for (_, path) in wasip2::filesystem::preopens::get_directories() {
        println!("app dir {path}");
    }
    for variable in peek::environment() {
        println!("plugin env {variable}");
    }
    for path in peek::directories() {
        println!("plugin dir {path}");
    }
    println!("done");
}
