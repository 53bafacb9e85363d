//! Listings in progress. NATS has no "keys after K" query: listing a bucket's keys reads every
//! key from the server. So the first page of a listing reads them all once, sorted, and the
//! rest of that list waits here under the cursor the guest was given; the guest's next page
//! is served from it instead of reading the bucket again (which made paging through n keys
//! cost n²/page reads). A listing is a snapshot: keys written after its first page are not
//! in its later pages (both drafts allow that). A cursor that is not here (expired, evicted,
//! or from before a restart) still works: the bucket is read again and the page found by
//! the cursor, as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use manifold_builtin_keyvalue::backend::ScopedBucket;

/// How long the rest of a listing waits for its next page.
pub(crate) const KEEP_FOR: Duration = Duration::from_secs(30);
/// Listings kept at once, and keys held by all of them together: a listing too large to keep
/// is not kept (its pages read the bucket again), and the oldest give way to new ones.
const MAX_LISTINGS: usize = 64;
const MAX_KEYS_HELD: usize = 1_000_000;

/// Where the next page starts, as the guest's cursor says it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Cursor {
    /// 0.2.0-draft: how many keys were returned before.
    Offset(u64),
    /// 0.2.0-draft2: the last key returned.
    After(String),
}

impl From<u64> for Cursor {
    fn from(offset: u64) -> Cursor {
        Cursor::Offset(offset)
    }
}

impl From<String> for Cursor {
    fn from(after: String) -> Cursor {
        Cursor::After(after)
    }
}

/// A bucket's sorted keys from one read, and where the next page starts in them.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub keys: Arc<[String]>,
    pub start: usize,
}

struct Kept {
    snapshot: Snapshot,
    taken: Instant,
}

#[derive(Default)]
pub(crate) struct Listings {
    kept: Mutex<HashMap<(ScopedBucket, Cursor), Kept>>,
}

impl Listings {
    /// The rest of the listing this cursor continues, if it is still kept (it is then
    /// no longer: a cursor is used once).
    /// With the snapshot comes when it was read: a listing lasts [`KEEP_FOR`] from its first
    /// page, however it is paged, so a long one is read afresh at that interval.
    pub fn resume(&self, bucket: &ScopedBucket, cursor: &Cursor) -> Option<(Snapshot, Instant)> {
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = kept.remove(&(bucket.clone(), cursor.clone()))?;
        (entry.taken.elapsed() < KEEP_FOR).then_some((entry.snapshot, entry.taken))
    }

    /// Keeps `snapshot` for the page that `cursor` asks for next.
    pub fn keep(&self, bucket: &ScopedBucket, cursor: Cursor, snapshot: Snapshot, taken: Instant) {
        if snapshot.keys.len() > MAX_KEYS_HELD {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.retain(|_, k| k.taken.elapsed() < KEEP_FOR);
        let held = |kept: &HashMap<_, Kept>| -> usize {
            kept.values().map(|k| k.snapshot.keys.len()).sum()
        };
        while !kept.is_empty()
            && (kept.len() >= MAX_LISTINGS || held(&kept) + snapshot.keys.len() > MAX_KEYS_HELD)
        {
            let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, k)| k.taken)
                .map(|(key, _)| key.clone())
            else {
                break;
            };
            kept.remove(&oldest);
        }
        kept.insert((bucket.clone(), cursor), Kept { snapshot, taken });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(n: usize) -> Snapshot {
        Snapshot {
            keys: (0..n).map(|i| format!("k{i}")).collect(),
            start: 0,
        }
    }

    fn bucket() -> ScopedBucket {
        ScopedBucket::checked("app", "b").unwrap()
    }

    #[test]
    fn a_kept_listing_is_resumed_once_by_its_cursor_and_bucket() {
        let listings = Listings::default();
        listings.keep(&bucket(), Cursor::Offset(2), snapshot(5), Instant::now());
        assert!(
            listings
                .resume(
                    &ScopedBucket::checked("app", "other").unwrap(),
                    &Cursor::Offset(2)
                )
                .is_none()
        );
        assert!(listings.resume(&bucket(), &Cursor::Offset(3)).is_none());
        assert_eq!(
            listings
                .resume(&bucket(), &Cursor::Offset(2))
                .unwrap()
                .0
                .keys
                .len(),
            5
        );
        assert!(listings.resume(&bucket(), &Cursor::Offset(2)).is_none());
    }

    #[test]
    fn an_expired_listing_is_not_resumed() {
        let listings = Listings::default();
        let long_ago = Instant::now() - KEEP_FOR - Duration::from_secs(1);
        listings.keep(&bucket(), Cursor::After("k1".into()), snapshot(5), long_ago);
        assert!(
            listings
                .resume(&bucket(), &Cursor::After("k1".into()))
                .is_none()
        );
    }

    #[test]
    fn listings_held_stay_within_their_count_and_key_bounds() {
        let listings = Listings::default();
        for i in 0..(MAX_LISTINGS as u64 + 10) {
            listings.keep(&bucket(), Cursor::Offset(i), snapshot(1), Instant::now());
        }
        assert_eq!(listings.kept.lock().unwrap().len(), MAX_LISTINGS);
        listings.keep(
            &bucket(),
            Cursor::Offset(999),
            snapshot(MAX_KEYS_HELD),
            Instant::now(),
        );
        let kept = listings.kept.lock().unwrap();
        let held: usize = kept.values().map(|k| k.snapshot.keys.len()).sum();
        assert!(held <= MAX_KEYS_HELD, "{held}");
        drop(kept);
        listings.keep(
            &bucket(),
            Cursor::Offset(1000),
            snapshot(MAX_KEYS_HELD + 1),
            Instant::now(),
        );
        assert!(listings.resume(&bucket(), &Cursor::Offset(1000)).is_none());
    }
}
