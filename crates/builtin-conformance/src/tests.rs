use manifold_provider::InstanceState;
use wasmtime::component::Resource;

use crate::host::{self, Counter, types};
use crate::{ConformanceProvider, Provider as _};
use types::{Host as _, HostCounter as _};

fn instance() -> InstanceState {
    let mut state = InstanceState::new(1 << 20);
    ConformanceProvider::new()
        .prepare_instance(&mut state)
        .unwrap();
    state
}

/// What the guest passes for a `borrow<counter>` of an owned handle.
fn borrow(counter: &Resource<Counter>) -> Resource<Counter> {
    Resource::new_borrow(counter.rep())
}

#[test]
fn counters_are_counted_until_dropped() {
    let mut state = instance();
    let mut view = host::view(&mut state);
    let a = view.new(5).unwrap();
    let b = view.new(7).unwrap();
    assert_eq!(view.live_counters().unwrap(), 2);
    assert_eq!(view.add(borrow(&a), 10).unwrap(), 15);
    assert_eq!(view.total(borrow(&a), borrow(&b)).unwrap(), 22);
    view.drop(a).unwrap();
    assert_eq!(view.live_counters().unwrap(), 1);
    view.drop(b).unwrap();
    assert_eq!(view.live_counters().unwrap(), 0);
    // A fresh instance starts with none.
    let mut other = instance();
    assert_eq!(host::view(&mut other).live_counters().unwrap(), 0);
}

#[test]
fn undefined_edges_trap_instead_of_panicking() {
    let mut state = instance();
    let mut view = host::view(&mut state);
    for edge in ['\u{D7FF}', '\u{10FFFF}'] {
        let err = view
            .bump(0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, false, edge)
            .unwrap_err();
        assert!(err.to_string().contains("no character follows"), "{err}");
    }
    assert_eq!(view.checked_div(i64::MIN, -1).unwrap(), Ok(i64::MIN));
    assert_eq!(
        view.checked_div(1, 0).unwrap(),
        Err("division by zero".to_owned())
    );
}

#[test]
fn an_unprepared_instance_still_counts() {
    let mut bare = InstanceState::new(1 << 20);
    let mut view = host::view(&mut bare);
    let counter = view.new(1).unwrap();
    assert_eq!(view.live_counters().unwrap(), 1);
    view.drop(counter).unwrap();
}
