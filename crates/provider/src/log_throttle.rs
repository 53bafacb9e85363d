//! Log lines a guest (or a client) can cause at will — a refused open, a denied socket, a
//! refused connection — written at most once a second per kind and component, each saying
//! how many were left out since the last one. A guest looping on a denied call must not fill
//! the host's disk or drown the lines that matter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

/// Never written yet.
const NEVER: u64 = u64::MAX;

/// One kind of line: whether it may be written now.
pub struct Throttle {
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle::new()
    }
}

impl Throttle {
    pub const fn new() -> Throttle {
        Throttle {
            last: AtomicU64::new(NEVER),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(lines left out since the last one)` when a line may be written at `now_ms`
    /// (milliseconds on any clock that only goes forward); `None` when it is to be left out.
    pub fn ready(&self, now_ms: u64) -> Option<u64> {
        let last = self.last.load(Ordering::Relaxed);
        if last != NEVER && now_ms < last.saturating_add(1000) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if self
            .last
            .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// Whether a line of `kind` about `component` may be written now: `Some(left out since the
/// last one)`. One throttle per (kind, component), process-wide.
pub fn throttled(kind: &'static str, component: &str) -> Option<u64> {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    static THROTTLES: OnceLock<Mutex<HashMap<&'static str, HashMap<String, Throttle>>>> =
        OnceLock::new();
    let now = EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64;
    let mut throttles = THROTTLES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    // Bounded by kinds × components, both fixed when the app loads; a flood of lines that
    // are left out allocates nothing.
    let by_component = throttles.entry(kind).or_default();
    if let Some(throttle) = by_component.get(component) {
        return throttle.ready(now);
    }
    by_component
        .entry(component.to_string())
        .or_default()
        .ready(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_and_the_count_of_the_rest() {
        let throttle = Throttle::new();
        assert_eq!(throttle.ready(5), Some(0));
        assert_eq!(throttle.ready(6), None);
        assert_eq!(throttle.ready(900), None);
        assert_eq!(throttle.ready(1005), Some(2));
        assert_eq!(throttle.ready(1006), None);
    }

    #[test]
    fn kinds_and_components_are_throttled_apart() {
        assert_eq!(throttled("test-a", "one"), Some(0));
        assert_eq!(throttled("test-a", "one"), None);
        assert_eq!(throttled("test-a", "two"), Some(0));
        assert_eq!(throttled("test-b", "one"), Some(0));
    }
}
