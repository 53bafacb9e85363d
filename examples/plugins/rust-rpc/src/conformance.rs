//! The conformance interface (manifold:conformance/types) implemented on the handler traits
//! `wit-bindgen-wrpc` generates. Shared, as a `#[path]` module, with `rust-rpc-upstream-nats`,
//! whose older `wit-bindgen-wrpc` (0.11) generates the same traits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use bytes::Bytes;
use wit_bindgen_wrpc::wrpc_transport::{ResourceBorrow, ResourceOwn};

pub mod bindings {
    wit_bindgen_wrpc::generate!({
        world: "provider",
        path: "../../../crates/test-programs/wit/conformance.wit",
    });
}

use bindings::exports::manifold::conformance::types::{
    Color, Counter, Handler, HandlerCounter, Perms, Point, Shape,
};

pub const INSTANCE: &str = "manifold:conformance/types@0.1.0";

#[derive(Clone, Default)]
pub struct Conformance {
    pub counters: Arc<Mutex<HashMap<u64, u64>>>,
    next_id: Arc<AtomicU64>,
}

pub fn id_of(handle: &[u8]) -> anyhow::Result<u64> {
    Ok(u64::from_le_bytes(
        handle.try_into().context("bad counter handle")?,
    ))
}

impl Conformance {
    fn value(&self, handle: &[u8]) -> anyhow::Result<u64> {
        let id = id_of(handle)?;
        let counters = self
            .counters
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        counters.get(&id).copied().context("no such counter")
    }
}

impl<C: Send> Handler<C> for Conformance {
    #[allow(clippy::too_many_arguments)]
    async fn bump(
        &self,
        _: C,
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
    ) -> anyhow::Result<(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64, bool, char)> {
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
            char::from_u32(l as u32 + 1).context("no next char")?,
        ))
    }

    async fn shout(&self, _: C, s: String) -> anyhow::Result<String> {
        Ok(s.to_ascii_uppercase())
    }

    async fn reverse(&self, _: C, b: Bytes) -> anyhow::Result<Bytes> {
        let mut v = b.to_vec();
        v.reverse();
        Ok(v.into())
    }

    async fn sort(&self, _: C, mut words: Vec<String>) -> anyhow::Result<Vec<String>> {
        words.sort();
        Ok(words)
    }

    async fn add_points(&self, _: C, a: Point, b: Point) -> anyhow::Result<Point> {
        Ok(Point {
            x: a.x.wrapping_add(b.x),
            y: a.y.wrapping_add(b.y),
            label: format!("{}+{}", a.label, b.label),
        })
    }

    async fn scale(&self, _: C, s: Shape, k: f64) -> anyhow::Result<Shape> {
        Ok(match s {
            Shape::Circle(r) => Shape::Circle(r * k),
            Shape::Rect(p) => Shape::Rect(Point {
                x: (f64::from(p.x) * k) as i32,
                y: (f64::from(p.y) * k) as i32,
                label: p.label,
            }),
            Shape::Empty => Shape::Empty,
        })
    }

    async fn next_color(&self, _: C, c: Color) -> anyhow::Result<Color> {
        Ok(match c {
            Color::Red => Color::Green,
            Color::Green => Color::Blue,
            Color::Blue => Color::Red,
        })
    }

    async fn toggle(&self, _: C, p: Perms) -> anyhow::Result<Perms> {
        Ok(p.complement())
    }

    async fn swap(&self, _: C, t: (u32, String)) -> anyhow::Result<(String, u32)> {
        Ok((t.1, t.0))
    }

    async fn first_word(&self, _: C, s: String) -> anyhow::Result<Option<String>> {
        Ok(s.split(' ').find(|w| !w.is_empty()).map(str::to_string))
    }

    async fn checked_div(&self, _: C, a: i64, b: i64) -> anyhow::Result<Result<i64, String>> {
        Ok(match a.checked_div(b) {
            Some(q) => Ok(q),
            None if b == 0 => Err("division by zero".into()),
            None => Err("overflow".into()),
        })
    }

    async fn inc(&self, _: C, x: u64) -> anyhow::Result<u64> {
        Ok(x.wrapping_add(1))
    }

    async fn total(
        &self,
        _: C,
        a: ResourceBorrow<Counter>,
        b: ResourceBorrow<Counter>,
    ) -> anyhow::Result<u64> {
        Ok(self
            .value(a.as_ref())?
            .wrapping_add(self.value(b.as_ref())?))
    }

    async fn live_counters(&self, _: C) -> anyhow::Result<u32> {
        Ok(self
            .counters
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .len() as u32)
    }
}

impl<C: Send> HandlerCounter<C> for Conformance {
    async fn new(&self, _: C, start: u64) -> anyhow::Result<ResourceOwn<Counter>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.counters
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert(id, start);
        Ok(ResourceOwn::from(Bytes::copy_from_slice(&id.to_le_bytes())))
    }

    async fn add(&self, _: C, self_: ResourceBorrow<Counter>, n: u64) -> anyhow::Result<u64> {
        let id = id_of(self_.as_ref())?;
        let mut counters = self
            .counters
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        let value = counters.get_mut(&id).context("no such counter")?;
        *value = value.wrapping_add(n);
        Ok(*value)
    }

    async fn value(&self, _: C, self_: ResourceBorrow<Counter>) -> anyhow::Result<u64> {
        Conformance::value(self, self_.as_ref())
    }
}
