//! `plugin-conformance-provider`: `manifold:conformance/types@0.1.0` written as a Wasm
//! component (world `provider`), to be composed with a guest that imports it (a `kind =
//! "wasm"` plugin). It gives the same results as the host's built-in `conformance` provider,
//! so the `plugin-conformance` guest passes against it. It uses no WASI at all: a plugin
//! gets only what the manifest grants it.

use std::cell::Cell;

wit_bindgen::generate!({
    path: "../../wit/conformance.wit",
    world: "provider",
});

use exports::manifold::conformance::types::{
    Color, CounterBorrow, Guest, GuestCounter, Perms, Point, Shape,
};

thread_local! {
    /// Counters alive in this instance: created and not yet dropped.
    static LIVE: Cell<u32> = const { Cell::new(0) };
}

struct Provider;

/// A counter, owned by the guest that created it; dropped when its handle is.
struct Counter {
    value: Cell<u64>,
}

impl GuestCounter for Counter {
    fn new(start: u64) -> Counter {
        LIVE.with(|live| live.set(live.get().saturating_add(1)));
        Counter {
            value: Cell::new(start),
        }
    }

    fn add(&self, n: u64) -> u64 {
        self.value.set(self.value.get().wrapping_add(n));
        self.value.get()
    }

    fn value(&self) -> u64 {
        self.value.get()
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        LIVE.with(|live| live.set(live.get().saturating_sub(1)));
    }
}

type Scalars = (u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, char);

impl Guest for Provider {
    type Counter = Counter;

    fn bump(
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
    ) -> Scalars {
        // The WIT leaves the characters without a successor undefined; a trap says so.
        let next = char::from_u32(u32::from(l) + 1)
            .unwrap_or_else(|| panic!("bump: no character follows U+{:04X}", u32::from(l)));
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
            next,
        )
    }

    fn shout(s: String) -> String {
        s.to_ascii_uppercase()
    }

    fn reverse(mut b: Vec<u8>) -> Vec<u8> {
        b.reverse();
        b
    }

    fn sort(mut words: Vec<String>) -> Vec<String> {
        words.sort();
        words
    }

    fn add_points(a: Point, b: Point) -> Point {
        Point {
            x: a.x.wrapping_add(b.x),
            y: a.y.wrapping_add(b.y),
            label: format!("{}+{}", a.label, b.label),
        }
    }

    fn scale(s: Shape, k: f64) -> Shape {
        // `as` truncates toward zero.
        let scale = |v: i32| (f64::from(v) * k) as i32;
        match s {
            Shape::Circle(r) => Shape::Circle(r * k),
            Shape::Rect(p) => Shape::Rect(Point {
                x: scale(p.x),
                y: scale(p.y),
                label: p.label,
            }),
            Shape::Empty => Shape::Empty,
        }
    }

    fn next_color(c: Color) -> Color {
        match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        }
    }

    fn toggle(p: Perms) -> Perms {
        Perms::all() & !p
    }

    fn swap(t: (u32, String)) -> (String, u32) {
        (t.1, t.0)
    }

    fn first_word(s: String) -> Option<String> {
        s.split(' ').find(|w| !w.is_empty()).map(str::to_owned)
    }

    fn checked_div(a: i64, b: i64) -> Result<i64, String> {
        if b == 0 {
            Err("division by zero".to_owned())
        } else {
            Ok(a.wrapping_div(b))
        }
    }

    fn inc(x: u64) -> u64 {
        x.wrapping_add(1)
    }

    fn total(a: CounterBorrow<'_>, b: CounterBorrow<'_>) -> u64 {
        let a = a.get::<Counter>().value();
        let b = b.get::<Counter>().value();
        a.wrapping_add(b)
    }

    fn live_counters() -> u32 {
        LIVE.with(Cell::get)
    }
}

export!(Provider);
