//! The wire codec of plugin values (`manifold_plugin_api::wire`, read by type through the
//! SDK's `Shape`s), both directions: any bytes decode by a function's parameter types or are
//! refused; whatever decodes encodes again, and that encoding decodes to the same value and
//! encodes to the same bytes.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use manifold_plugin_api::wire::Reader;
use manifold_plugin_sdk::{Shape, decode, encode, signatures};

/// The conformance WIT: every kind of WIT type, in parameters and results.
const WIT: &str = include_str!("../../crates/test-programs/wit/conformance.wit");

fn shapes() -> &'static Vec<Vec<Shape>> {
    static SHAPES: OnceLock<Vec<Vec<Shape>>> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let mut all: Vec<_> = signatures(WIT)
            .expect("the conformance WIT")
            .into_iter()
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.into_iter()
            .flat_map(|(_, s)| [s.params, s.results])
            .filter(|s| !s.is_empty())
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let shapes = &shapes()[usize::from(which) % shapes().len()];
    let mut reader = Reader::new(bytes);
    let mut values = Vec::new();
    for shape in shapes {
        match decode(shape, &mut reader) {
            Ok(v) => values.push(v),
            Err(_) => return,
        }
    }
    let mut encoded = Vec::new();
    for (value, shape) in values.iter().zip(shapes) {
        encode(value, shape, &mut encoded).expect("a decoded value encodes");
    }
    assert!(
        encoded.len() <= reader.offset(),
        "re-encoding grew the value"
    );
    let mut again = Reader::new(&encoded);
    let mut reencoded = Vec::new();
    for shape in shapes {
        let value = decode(shape, &mut again).expect("an encoding decodes");
        encode(&value, shape, &mut reencoded).expect("a decoded value encodes");
    }
    again.finish().expect("an encoding is read to its end");
    assert_eq!(encoded, reencoded, "encoding is not stable");
});
