//! Deliberate misbehaviour shared by the probe guests, so that `cli-probe` and
//! `http-probe` fail in exactly the same way and host tests can assert on it; and, in
//! [`http`], the small wasi:http helpers every HTTP guest uses.

pub mod http;

use std::hint::black_box;

/// Spins forever. The counter goes through `black_box`, so the optimiser
/// cannot prove the loop free of effects and delete it; only the host's
/// interruption (epochs or fuel) ends it.
pub fn spin_forever() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates 1 MiB blocks of nonzero bytes and keeps them, until the
/// allocator fails and the guest aborts (a trap). Nonzero bytes make every
/// page really written, so the host's memory limit is what stops it.
pub fn exhaust_memory() -> ! {
    const BLOCK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(vec![0xA5; BLOCK]);
        black_box(&hoard);
    }
}

/// Traps with `unreachable`. Never inlined, so the host's backtrace names
/// this function.
#[inline(never)]
pub fn deliberate_trap() -> ! {
    core::arch::wasm32::unreachable()
}
