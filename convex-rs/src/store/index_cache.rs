//! Which documents sit under a small equality range of an index, in memory,
//! so a lookup like `by_owner = 7` skips SQLite.
//!
//! An entry maps a *prefix* interval (every key starting with some bytes:
//! what equality conditions on leading index fields select) to its members,
//! `(key, document id)`, as of a snapshot `valid_from`, and stays valid for
//! every later snapshot until an index entry inside it changes. The
//! documents themselves are read at the caller's snapshot through the
//! revision cache or persistence, so only membership is cached: writes that
//! change a document but not its key (a balance patch) leave entries alone.
//!
//! MVCC rule, as for the revision cache: the committer calls
//! [`record_change`](IndexCache::record_change) for every index entry a batch
//! writes, after the batch is durable and before its timestamp is published;
//! it removes every entry whose prefix the key starts with. A reader may
//! [`fill`](IndexCache::fill) what it read at snapshot `s` only if no entry of
//! that index changed after `s`, and may use an entry at snapshot `s` only if
//! `s >= valid_from`.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use hashlink::LruCache;

use super::{IndexId, KeyInterval};
use crate::value::{InternalId, prefix_successor};

/// Largest member list kept (bigger ranges are scanned in SQLite).
pub(crate) const MAX_MEMBERS: usize = 16;

/// Members of a cached range, in key order.
pub(crate) type Members = Vec<(Vec<u8>, InternalId)>;

struct Entry {
    valid_from: u64,
    members: Members,
}

struct Inner {
    entries: LruCache<(IndexId, Vec<u8>), Entry>,
    /// Commit timestamp of each index's newest entry change.
    changed_at: HashMap<IndexId, u64>,
    /// Indexes that ever had an entry: only their changes need a search.
    filled: HashSet<IndexId>,
}

/// See the module documentation.
pub(crate) struct IndexCache {
    inner: Mutex<Inner>,
}

/// The prefix of `interval` if it is a prefix interval (`[p, succ(p))`).
fn prefix_of(interval: &KeyInterval) -> Option<&[u8]> {
    let end = interval.end.as_ref()?;
    (prefix_successor(&interval.start).as_ref() == Some(end)).then_some(interval.start.as_slice())
}

impl IndexCache {
    /// A cache of about `capacity` ranges (0 disables it).
    pub(crate) fn new(capacity: usize) -> Self {
        IndexCache {
            inner: Mutex::new(Inner {
                entries: LruCache::new(capacity),
                changed_at: HashMap::new(),
                filled: HashSet::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The members of `interval` of `index` at `snapshot`, if known.
    pub(crate) fn get(
        &self,
        index: IndexId,
        interval: &KeyInterval,
        snapshot: u64,
    ) -> Option<Members> {
        let prefix = prefix_of(interval)?;
        let mut inner = self.lock();
        let entry = inner.entries.get(&(index, prefix.to_vec()))?;
        (entry.valid_from <= snapshot).then(|| entry.members.clone())
    }

    /// Records the complete members of `interval` as read at `snapshot`.
    pub(crate) fn fill(
        &self,
        index: IndexId,
        interval: &KeyInterval,
        snapshot: u64,
        members: Members,
    ) {
        let Some(prefix) = prefix_of(interval) else {
            return;
        };
        if members.len() > MAX_MEMBERS {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.capacity() == 0
            || inner
                .changed_at
                .get(&index)
                .is_some_and(|&ts| ts > snapshot)
        {
            return;
        }
        let key = (index, prefix.to_vec());
        if !inner.entries.contains_key(&key) {
            inner.filled.insert(index);
            inner.entries.insert(
                key,
                Entry {
                    valid_from: snapshot,
                    members,
                },
            );
        }
    }

    /// A commit at `ts` wrote an entry version of `key` in `index` (called by
    /// the committer before `ts` is published).
    pub(crate) fn record_change(&self, index: IndexId, key: &[u8], ts: u64) {
        let mut inner = self.lock();
        let changed = inner.changed_at.entry(index).or_insert(0);
        *changed = (*changed).max(ts);
        if inner.entries.is_empty() || !inner.filled.contains(&index) {
            return;
        }
        let mut prefix = (index, Vec::with_capacity(key.len()));
        for &byte in key {
            inner.entries.remove(&prefix);
            prefix.1.push(byte);
        }
        inner.entries.remove(&prefix);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: IndexId = IndexId(3);

    fn range(prefix: &[u8]) -> KeyInterval {
        KeyInterval::prefix(prefix)
    }

    fn member(key: &[u8], n: u8) -> (Vec<u8>, InternalId) {
        (key.to_vec(), InternalId([n; 16]))
    }

    #[test]
    fn only_prefix_ranges_are_cached() {
        let cache = IndexCache::new(16);
        let bounded = KeyInterval {
            start: b"a".to_vec(),
            end: Some(b"c".to_vec()),
        };
        cache.fill(INDEX, &bounded, 10, vec![member(b"b", 1)]);
        assert!(cache.get(INDEX, &bounded, 10).is_none());
        cache.fill(INDEX, &range(b"a"), 10, vec![member(b"ax", 1)]);
        assert_eq!(cache.get(INDEX, &range(b"a"), 10).map(|m| m.len()), Some(1));
    }

    #[test]
    fn an_entry_serves_snapshots_from_when_it_was_read() {
        let cache = IndexCache::new(16);
        cache.fill(INDEX, &range(b"k"), 100, vec![member(b"k1", 1)]);
        assert!(cache.get(INDEX, &range(b"k"), 99).is_none());
        assert!(cache.get(INDEX, &range(b"k"), 100).is_some());
        assert!(cache.get(INDEX, &range(b"k"), 1_000).is_some());
    }

    #[test]
    fn a_change_inside_removes_the_range_and_one_outside_does_not() {
        let cache = IndexCache::new(16);
        cache.fill(INDEX, &range(b"k"), 100, vec![member(b"k1", 1)]);
        cache.fill(INDEX, &range(b"m"), 100, vec![member(b"m1", 2)]);
        cache.record_change(INDEX, b"k2", 200);
        assert!(cache.get(INDEX, &range(b"k"), 300).is_none());
        assert!(cache.get(INDEX, &range(b"m"), 300).is_some());
        // Another index's change touches nothing here.
        cache.record_change(IndexId(4), b"m1", 300);
        assert!(cache.get(INDEX, &range(b"m"), 400).is_some());
    }

    #[test]
    fn no_fill_from_a_snapshot_before_the_index_last_changed() {
        let cache = IndexCache::new(16);
        cache.record_change(INDEX, b"z", 200);
        // Read at 150: the change at 200 may be inside the range read.
        cache.fill(INDEX, &range(b"k"), 150, vec![]);
        assert!(cache.get(INDEX, &range(b"k"), 300).is_none());
        cache.fill(INDEX, &range(b"k"), 250, vec![]);
        assert_eq!(cache.get(INDEX, &range(b"k"), 300), Some(vec![]));
    }

    #[test]
    fn large_ranges_are_not_kept() {
        let cache = IndexCache::new(16);
        let members: Members = (0..=MAX_MEMBERS as u8)
            .map(|n| member(&[b'k', n], n))
            .collect();
        cache.fill(INDEX, &range(b"k"), 10, members);
        assert!(cache.get(INDEX, &range(b"k"), 10).is_none());
    }
}
