//! The generated `manifold:conformance/types` bindings and their implementation.

use manifold_provider::InstanceState;
use wasmtime::component::{HasData, Resource, ResourceTable};

mod bindings {
    wasmtime::component::bindgen!({
        path: "../test-programs/wit/conformance.wit",
        world: "manifold:conformance/guest",
        imports: { default: trappable },
        with: {
            "manifold:conformance/types.counter": super::Counter,
        },
    });
}

pub(crate) use bindings::manifold::conformance::types;
use types::{Color, Perms, Point, Shape};

/// A counter, owned by the instance's resource table.
#[derive(Debug)]
pub struct Counter {
    value: u64,
}

/// This provider's slot in `InstanceState::extensions`: how many counters are alive.
#[derive(Debug, Default)]
pub(crate) struct LiveCounters(u32);

/// What a host function works with.
pub(crate) struct ConformanceView<'a> {
    table: &'a mut ResourceTable,
    live: &'a mut LiveCounters,
}

/// Plumbs [`ConformanceView`] into the generated `add_to_linker`.
pub(crate) struct ConformanceData;

impl HasData for ConformanceData {
    type Data<'a> = ConformanceView<'a>;
}

/// The getter the generated `add_to_linker` is given.
pub(crate) fn view(state: &mut InstanceState) -> ConformanceView<'_> {
    if state.extensions.get_mut::<LiveCounters>().is_none() {
        state.extensions.insert(LiveCounters::default());
    }
    let InstanceState {
        table, extensions, ..
    } = state;
    ConformanceView {
        table,
        live: extensions
            .get_mut::<LiveCounters>()
            .unwrap_or_else(|| unreachable!("inserted just above")),
    }
}

type Scalars = (u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, char);

impl types::Host for ConformanceView<'_> {
    fn bump(
        &mut self,
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
    ) -> wasmtime::Result<Scalars> {
        let Some(next) = char::from_u32(u32::from(l) + 1) else {
            wasmtime::bail!(
                "bump: no character follows U+{:04X} (the WIT leaves this edge undefined)",
                u32::from(l)
            );
        };
        Ok((
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
        ))
    }

    fn shout(&mut self, s: String) -> wasmtime::Result<String> {
        Ok(s.to_ascii_uppercase())
    }

    fn reverse(&mut self, mut b: Vec<u8>) -> wasmtime::Result<Vec<u8>> {
        b.reverse();
        Ok(b)
    }

    fn sort(&mut self, mut words: Vec<String>) -> wasmtime::Result<Vec<String>> {
        words.sort();
        Ok(words)
    }

    fn add_points(&mut self, a: Point, b: Point) -> wasmtime::Result<Point> {
        Ok(Point {
            x: a.x.wrapping_add(b.x),
            y: a.y.wrapping_add(b.y),
            label: format!("{}+{}", a.label, b.label),
        })
    }

    fn scale(&mut self, s: Shape, k: f64) -> wasmtime::Result<Shape> {
        // `as` truncates toward zero (and saturates, where the WIT says nothing).
        let scale = |v: i32| (f64::from(v) * k) as i32;
        Ok(match s {
            Shape::Circle(r) => Shape::Circle(r * k),
            Shape::Rect(p) => Shape::Rect(Point {
                x: scale(p.x),
                y: scale(p.y),
                label: p.label,
            }),
            Shape::Empty => Shape::Empty,
        })
    }

    fn next_color(&mut self, c: Color) -> wasmtime::Result<Color> {
        Ok(match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        })
    }

    fn toggle(&mut self, p: Perms) -> wasmtime::Result<Perms> {
        // Not `Perms::all() ^ p`: Wasmtime's `all()` sets the unused high bits too, and they
        // would reach the guest.
        Ok((Perms::READ | Perms::WRITE | Perms::EXEC) & !p)
    }

    fn swap(&mut self, t: (u32, String)) -> wasmtime::Result<(String, u32)> {
        Ok((t.1, t.0))
    }

    fn first_word(&mut self, s: String) -> wasmtime::Result<Option<String>> {
        Ok(s.split(' ').find(|w| !w.is_empty()).map(str::to_owned))
    }

    fn checked_div(&mut self, a: i64, b: i64) -> wasmtime::Result<Result<i64, String>> {
        Ok(if b == 0 {
            Err("division by zero".to_owned())
        } else {
            // Truncates toward zero; `MIN / -1`, undefined by the WIT, wraps to `MIN`.
            Ok(a.wrapping_div(b))
        })
    }

    fn inc(&mut self, x: u64) -> wasmtime::Result<u64> {
        Ok(x.wrapping_add(1))
    }

    fn total(&mut self, a: Resource<Counter>, b: Resource<Counter>) -> wasmtime::Result<u64> {
        let a = self.table.get(&a)?.value;
        let b = self.table.get(&b)?.value;
        Ok(a.wrapping_add(b))
    }

    fn live_counters(&mut self) -> wasmtime::Result<u32> {
        Ok(self.live.0)
    }
}

impl types::HostCounter for ConformanceView<'_> {
    fn new(&mut self, start: u64) -> wasmtime::Result<Resource<Counter>> {
        let counter = self.table.push(Counter { value: start })?;
        self.live.0 = self.live.0.saturating_add(1);
        Ok(counter)
    }

    fn add(&mut self, counter: Resource<Counter>, n: u64) -> wasmtime::Result<u64> {
        let counter = self.table.get_mut(&counter)?;
        counter.value = counter.value.wrapping_add(n);
        Ok(counter.value)
    }

    fn value(&mut self, counter: Resource<Counter>) -> wasmtime::Result<u64> {
        Ok(self.table.get(&counter)?.value)
    }

    fn drop(&mut self, counter: Resource<Counter>) -> wasmtime::Result<()> {
        self.table.delete(counter)?;
        self.live.0 = self.live.0.saturating_sub(1);
        Ok(())
    }
}
