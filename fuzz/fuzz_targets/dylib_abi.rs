//! The dynamic-library ABI (v2) as the Rust SDK exports it, driven like a host that does not
//! behave: any function index, any parameter bytes, any output-buffer capacity (including
//! none, and too small for the answer). Every call returns a status and a well-formed buffer:
//! the answer in the host's buffer when it fits, else one of the plugin's, which `free_buf`
//! takes back. Built with AddressSanitizer, this checks the `unsafe` of the SDK's glue.
#![no_main]

use std::collections::HashMap;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use manifold_plugin_api::abi::{ABI_VERSION, Buf, PluginV2, STATUS_ERROR, STATUS_OK, STATUS_PANIC};
use manifold_plugin_sdk::{Call, Plugin, Shape, Signature, Value, ValuePlugin, signatures};

const WIT: &str = include_str!("../../crates/test-programs/wit/conformance.wit");

fn table() -> &'static HashMap<(String, String), Signature> {
    static TABLE: OnceLock<HashMap<(String, String), Signature>> = OnceLock::new();
    TABLE.get_or_init(|| signatures(WIT).expect("the conformance WIT"))
}

/// A value of every shape, so each function can answer.
fn some_value(shape: &Shape) -> Value {
    match shape {
        Shape::Bool => Value::Bool(true),
        Shape::U8 => Value::U8(200),
        Shape::S8 => Value::S8(-100),
        Shape::U16 => Value::U16(60_000),
        Shape::S16 => Value::S16(-30_000),
        Shape::U32 => Value::U32(u32::MAX),
        Shape::S32 => Value::S32(i32::MIN),
        Shape::U64 => Value::U64(u64::MAX),
        Shape::S64 => Value::S64(i64::MIN),
        Shape::F32 => Value::F32(f32::NAN),
        Shape::F64 => Value::F64(-0.0),
        Shape::Char => Value::Char('\u{10FFFF}'),
        Shape::String => Value::String("é".repeat(40)),
        Shape::Bytes => Value::Bytes(vec![7; 300]),
        Shape::List(item) => Value::List(vec![some_value(item), some_value(item)]),
        Shape::Record(fields) => Value::Record(fields.iter().map(some_value).collect()),
        Shape::Tuple(fields) => Value::Tuple(fields.iter().map(some_value).collect()),
        Shape::Variant(cases) => {
            let last = cases.len() - 1;
            Value::Variant(
                last as u32,
                cases[last].as_ref().map(|s| Box::new(some_value(s))),
            )
        }
        Shape::Enum(n) => Value::Enum(*n as u32 - 1),
        Shape::Option(item) => Value::Option(Some(Box::new(some_value(item)))),
        Shape::Result(ok, _) => Value::Result(Ok(ok.as_ref().map(|s| Box::new(some_value(s))))),
        Shape::Flags(n) => Value::Flags((0..*n as u32).step_by(2).collect()),
        Shape::Handle => Value::Handle(vec![1, 2, 3, 4, 5, 6, 7, 8]),
    }
}

#[derive(Default)]
struct Answering;

impl Plugin for Answering {
    const WIT: &'static str = WIT;

    fn call(&self, call: Call<'_>) -> Result<Vec<Value>, String> {
        let signature = table()
            .get(&(call.interface.to_string(), call.func.to_string()))
            .ok_or("no such function")?;
        if call.func.starts_with("[drop]") {
            return Err("dropped".into());
        }
        Ok(signature.results.iter().map(some_value).collect())
    }
}

struct Loaded {
    table: &'static PluginV2,
    indices: Vec<u64>,
}

// SAFETY: the table is immutable after `entry` built it, and the ABI lets `lookup` and
// `call` be called from several threads at once; its raw pointers (the WIT text, the leaked
// dispatch) live for the whole process.
unsafe impl Sync for Loaded {}
// SAFETY: as above; nothing in the table is tied to the thread that built it.
unsafe impl Send for Loaded {}

fn plugin() -> &'static Loaded {
    static PLUGIN: OnceLock<Loaded> = OnceLock::new();
    PLUGIN.get_or_init(|| {
        let entry = manifold_plugin_sdk::entry::<ValuePlugin<Answering>>(ABI_VERSION);
        // SAFETY: `entry` returns null or a table leaked for the life of the process.
        let plugin = unsafe { entry.as_ref() }.expect("the SDK's table");
        let lookup = plugin.lookup.expect("lookup");
        let mut keys: Vec<_> = table().keys().cloned().collect();
        keys.sort();
        let indices = keys
            .iter()
            .map(|(interface, func)| {
                // SAFETY: `ctx` is the table's own; the strings are valid for the call.
                let index = unsafe {
                    lookup(
                        plugin.ctx,
                        interface.as_ptr(),
                        interface.len(),
                        func.as_ptr(),
                        func.len(),
                    )
                };
                u64::try_from(index).expect("every WIT function is found")
            })
            .collect();
        Loaded {
            table: plugin,
            indices,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let [which, cap, params @ ..] = data else {
        return;
    };
    let loaded = plugin();
    // Mostly real functions, sometimes an index the plugin never gave out.
    let index = match loaded.indices.get(usize::from(*which)) {
        Some(i) => *i,
        None => u64::from(*which) << 24,
    };
    let mut scratch = vec![0u8; usize::from(*cap) * 4];
    let mut out = Buf {
        ptr: if *cap == 0 {
            std::ptr::null_mut()
        } else {
            scratch.as_mut_ptr()
        },
        len: 0,
        cap: scratch.len(),
    };
    let call = loaded.table.call.expect("call");
    // SAFETY: the ABI: `ctx` is the table's, `params` valid for its length, `out` a valid
    // buffer of `cap` writable bytes (or null) that nothing else touches during the call.
    let status = unsafe {
        call(
            loaded.table.ctx,
            index,
            params.as_ptr(),
            params.len(),
            &mut out,
        )
    };
    assert!(
        [STATUS_OK, STATUS_ERROR, STATUS_PANIC].contains(&status),
        "status {status}"
    );
    assert_ne!(status, STATUS_PANIC, "the SDK panicked");
    let own = out.ptr != scratch.as_mut_ptr() && !out.ptr.is_null();
    if !own {
        assert!(
            out.len <= scratch.len(),
            "answer longer than the host's buffer"
        );
    }
    if out.len > 0 {
        assert!(!out.ptr.is_null());
        // SAFETY: the plugin set `ptr`/`len` to its answer (ABI); read every byte so that
        // AddressSanitizer checks the range.
        let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) };
        std::hint::black_box(bytes.iter().fold(0u8, |a, b| a ^ b));
        if status != STATUS_OK {
            assert!(
                std::str::from_utf8(bytes).is_ok(),
                "error message not UTF-8"
            );
        }
    }
    if own {
        let free = loaded.table.free_buf.expect("free_buf");
        // SAFETY: a buffer the plugin allocated in `call`, handed back once.
        unsafe { free(loaded.table.ctx, out) };
    }
});
