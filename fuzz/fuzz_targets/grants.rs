//! The grant syntax shared by flags and manifests, and the other one-line syntaxes
//! (interface names, sizes, durations, plugin addresses, sources, OCI references, package
//! names). Each parses or is refused; where a value prints itself, printing and parsing again
//! gives the same value (messages and `inspect` show grants as they print).
#![no_main]

use std::fmt::{Debug, Display};
use std::str::FromStr;

use libfuzzer_sys::fuzz_target;
use manifold_config::{
    ByteSize, ConnectPattern, DirGrant, EnvGrant, InterfaceName, ListenPattern, OutboundPattern,
    PluginAddress, SourceSpec, parse_duration,
};

fn round_trip<T>(text: &str)
where
    T: FromStr + Display + PartialEq + Debug,
{
    let Ok(value) = text.parse::<T>() else {
        return;
    };
    let printed = value.to_string();
    match printed.parse::<T>() {
        Ok(again) => assert_eq!(
            again, value,
            "{text:?} parses to {value:?}, which prints as {printed:?}, which parses to {again:?}"
        ),
        Err(_) => panic!("{text:?} parses to {value:?}, which prints as {printed:?}, refused"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match which % 11 {
        0 => round_trip::<DirGrant>(text),
        1 => {
            let _ = text.parse::<EnvGrant>();
        }
        2 => round_trip::<OutboundPattern>(text),
        3 => round_trip::<ConnectPattern>(text),
        4 => round_trip::<ListenPattern>(text),
        5 => round_trip::<InterfaceName>(text),
        6 => round_trip::<ByteSize>(text),
        7 => {
            let _ = parse_duration(text);
        }
        8 => {
            if let Ok(address) = PluginAddress::parse(text) {
                let printed = address.to_string();
                let again = PluginAddress::parse(&printed)
                    .unwrap_or_else(|e| panic!("{text:?} prints as {printed:?}, refused: {e}"));
                assert_eq!(again.to_string(), printed);
            }
        }
        9 => {
            let _ = SourceSpec::parse(text);
            let _ = manifold_registry::names::parse(text);
        }
        _ => {
            if let Ok(reference) = manifold_registry::parse_reference(text) {
                // A digest in a reference names a cache file: it must never be a path.
                if let Some(digest) = reference.digest()
                    && let Ok(hex) = manifold_registry::cache::digest_hex(digest)
                {
                    assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{hex:?}");
                }
            }
        }
    }
});
