//! A call of scalars through `generate!` bindings allocates nothing: parameters are decoded
//! from the wire straight into Rust values and the result is appended to the caller's
//! buffer. A counting global allocator checks it (its own test binary, one test, so no
//! other thread allocates meanwhile).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use manifold_plugin_sdk::Dispatch;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// `System`'s guarantees are ours; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as is (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

mod billing {
    manifold_plugin_sdk::generate!("tests/wit/billing.wit");
}

#[derive(Default)]
struct Billing;

impl billing::charge::Interface for Billing {
    type Invoice = Invoice;
    fn charge(&self, cents: u64) -> u64 {
        cents * 100
    }
    fn total(&self, a: &Invoice, b: &Invoice) -> u64 {
        a.0 + b.0
    }
}

struct Invoice(u64);

impl billing::charge::Invoice for Invoice {
    fn new(start: u64) -> Self {
        Invoice(start)
    }
    fn add(&self, n: u64) -> u64 {
        self.0 + n
    }
}

#[test]
fn a_call_of_scalars_allocates_nothing() {
    let plugin = billing::Exports::<Billing>::default();
    let charge = plugin
        .lookup("acme:billing/charge@0.1.0", "charge")
        .unwrap();
    let mut out = Vec::with_capacity(16);
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for cents in 0..1000u64 {
        out.clear();
        let mut params = [0u8; 10];
        let n = leb(cents, &mut params);
        plugin.call(charge, &params[..n], &mut out).unwrap();
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    assert_eq!(out, [0xbc, 0x8c, 0x06]); // 99_900
    // The counter does count.
    drop(std::hint::black_box(Vec::<u8>::with_capacity(1)));
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 1);
}

fn leb(mut v: u64, out: &mut [u8]) -> usize {
    let mut i = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        out[i] = if v == 0 { byte } else { byte | 0x80 };
        i += 1;
        if v == 0 {
            return i;
        }
    }
}
