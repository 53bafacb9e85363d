//! manifold:conformance/types as a dynamic-library plugin, written against the bindings
//! `manifold_plugin_sdk::generate!` makes from the interface's WIT: ordinary Rust types and
//! one trait per interface and per resource.
//!
//! Test hook: `shout("panic")` panics, to show that the host catches a plugin's panic,
//! fails only that call, and goes on.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use manifold_plugin_sdk::export_plugin;

manifold_plugin_sdk::generate!("../../../crates/test-programs/wit/conformance.wit");

use types::{Color, Perms, Point, Shape};

#[derive(Default)]
struct Conformance;

/// Counters alive in the plugin: created by the guest and not yet dropped.
static LIVE: AtomicU32 = AtomicU32::new(0);

struct Counter(AtomicU64);

impl types::Counter for Counter {
    fn new(start: u64) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Counter(AtomicU64::new(start))
    }

    fn add(&self, n: u64) -> u64 {
        self.0.fetch_add(n, Ordering::Relaxed).wrapping_add(n)
    }

    fn value(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl types::Interface for Conformance {
    type Counter = Counter;

    #[allow(clippy::too_many_arguments)]
    fn bump(
        &self,
        a: u8,
        b: i8,
        c: u16,
        d: i16,
        e: u32,
        f: i32,
        g: u64,
        h: i64,
        i: f32,
        j: f64,
        k: bool,
        l: char,
    ) -> (u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, char) {
        (
            a.wrapping_add(1),
            b.wrapping_add(1),
            c.wrapping_add(1),
            d.wrapping_add(1),
            e.wrapping_add(1),
            f.wrapping_add(1),
            g.wrapping_add(1),
            h.wrapping_add(1),
            i * 2.0,
            j * 2.0,
            !k,
            // Not in the WIT's results: a failure of the plugin, which fails the call.
            char::from_u32(l as u32 + 1).expect("the guest avoids the last code point"),
        )
    }

    fn shout(&self, s: String) -> String {
        if s == "panic" {
            panic!("asked to panic");
        }
        s.to_ascii_uppercase()
    }

    fn reverse(&self, mut b: Vec<u8>) -> Vec<u8> {
        b.reverse();
        b
    }

    fn sort(&self, mut words: Vec<String>) -> Vec<String> {
        words.sort();
        words
    }

    fn add_points(&self, a: Point, b: Point) -> Point {
        Point {
            x: a.x.wrapping_add(b.x),
            y: a.y.wrapping_add(b.y),
            label: format!("{}+{}", a.label, b.label),
        }
    }

    fn scale(&self, s: Shape, k: f64) -> Shape {
        match s {
            Shape::Circle(r) => Shape::Circle(r * k),
            Shape::Rect(p) => Shape::Rect(Point {
                x: (f64::from(p.x) * k) as i32,
                y: (f64::from(p.y) * k) as i32,
                label: p.label,
            }),
            Shape::Empty => Shape::Empty,
        }
    }

    fn next_color(&self, c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        }
    }

    fn toggle(&self, p: Perms) -> Perms {
        !p
    }

    fn swap(&self, (n, s): (u32, String)) -> (String, u32) {
        (s, n)
    }

    fn first_word(&self, s: String) -> Option<String> {
        s.split(' ').find(|w| !w.is_empty()).map(str::to_string)
    }

    fn checked_div(&self, a: i64, b: i64) -> Result<i64, String> {
        match a.checked_div(b) {
            Some(q) => Ok(q),
            None if b == 0 => Err("division by zero".into()),
            None => Err("overflow".into()),
        }
    }

    fn inc(&self, x: u64) -> u64 {
        x.wrapping_add(1)
    }

    fn total(&self, a: &Counter, b: &Counter) -> u64 {
        use types::Counter as _;
        a.value().wrapping_add(b.value())
    }

    fn live_counters(&self) -> u32 {
        LIVE.load(Ordering::Relaxed)
    }
}

export_plugin!(Exports<Conformance>);
