//! Empty stand-ins for the imports a plugin is given nothing through
//! ([`ImportRule::Empty`](crate::ImportRule::Empty)): small components, written here in the
//! component text format, that export the interface at the version the plugin imports.
//!
//! Each function returns an empty list (or `none`) from a zeroed memory: a list is a
//! (pointer, length) pair in memory, and zero bytes are a valid empty one; an option's
//! discriminant 0 is `none`.

use anyhow::bail;
use manifold_provider::InterfaceName;

/// `wasi:cli/environment`: no variables, no arguments, no working directory.
const ENVIRONMENT: &str = r#"
(component
  (core module $m
    (memory (export "memory") 1)
    (func (export "empty") (result i32) i32.const 16))
  (core instance $i (instantiate $m))
  (type $vars (list (tuple string string)))
  (type $args (list string))
  (type $cwd (option string))
  (func $get-environment (result $vars)
    (canon lift (core func $i "empty") (memory (core memory $i "memory"))))
  (func $get-arguments (result $args)
    (canon lift (core func $i "empty") (memory (core memory $i "memory"))))
  (func $initial-cwd (result $cwd)
    (canon lift (core func $i "empty") (memory (core memory $i "memory"))))
  (instance $environment
    (export "get-environment" (func $get-environment))
    (export "get-arguments" (func $get-arguments))
    (export "initial-cwd" (func $initial-cwd)))
  (export "EXPORT" (instance $environment)))
"#;

/// `wasi:filesystem/preopens`: no directories. The descriptor type is the plugin's own
/// import of `wasi:filesystem/types`, which composition merges with this one.
const PREOPENS: &str = r#"
(component
  (import "TYPES" (instance $types (export "descriptor" (type (sub resource)))))
  (alias export $types "descriptor" (type $descriptor))
  (core module $m
    (memory (export "memory") 1)
    (func (export "empty") (result i32) i32.const 16))
  (core instance $i (instantiate $m))
  (type $dirs (list (tuple (own $descriptor) string)))
  (func $get-directories (result $dirs)
    (canon lift (core func $i "empty") (memory (core memory $i "memory"))))
  (instance $preopens
    (export "descriptor" (type $descriptor))
    (export "get-directories" (func $get-directories)))
  (export "EXPORT" (instance $preopens)))
"#;

/// The stand-in's export: the interface at the plugin's version.
pub(crate) fn export_name(interface: &InterfaceName) -> String {
    interface.to_string()
}

/// The stand-in component for `interface`, as a binary.
pub(crate) fn empty_instance(interface: &InterfaceName) -> anyhow::Result<Vec<u8>> {
    let text = match (interface.package.as_str(), interface.interface.as_str()) {
        ("cli", "environment") => ENVIRONMENT.to_owned(),
        ("filesystem", "preopens") => {
            let mut types = interface.clone();
            types.interface = "types".into();
            PREOPENS.replace("TYPES", &types.to_string())
        }
        _ => bail!("no empty stand-in exists for {interface}"),
    };
    let text = text.replace("EXPORT", &export_name(interface));
    Ok(wat::parse_str(&text)?)
}
