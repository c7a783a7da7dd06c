//! The newest revision of recently written or read documents, in memory, so
//! point reads at a recent snapshot skip SQLite.
//!
//! MVCC rule: an entry holds the newest revision of its document over *all*
//! commits published so far. A read at snapshot `s` may use an entry whose
//! revision timestamp is `<= s` (nothing newer exists at or below `s`);
//! otherwise it asks persistence. Three things keep the rule true:
//!
//! * the committer [`record_commit`](RevisionCache::record_commit)s every
//!   written document after its batch is durable and *before* publishing the
//!   new timestamp, so no reader can hold a snapshot that includes a write
//!   the cache does not show;
//! * a reader that went to persistence may [`fill`](RevisionCache::fill) an
//!   absent entry only with what it read, and only if no revision newer than
//!   its snapshot could have been evicted from the shard: each shard remembers
//!   the newest revision timestamp it ever evicted, and refuses fills from
//!   snapshots below it (the evicted revision might be the newer one);
//! * a fill never replaces a present entry (the committer's is newer or equal).

use std::sync::{Mutex, MutexGuard, PoisonError};

use hashlink::LruCache;

use super::Document;
use crate::value::{DocumentId, InternalId};

/// Independent shards, so readers and the committer rarely wait on each other.
const SHARDS: usize = 16;

/// A cached revision: the document as of `ts`, `None` if deleted at `ts`.
#[derive(Clone, Debug)]
pub(crate) struct CachedRevision {
    pub(crate) ts: u64,
    pub(crate) document: Option<Document>,
}

/// What an entry is counted as besides its document: the key, the
/// revision, the LRU links and the document's allocations, roughly.
const ENTRY_OVERHEAD: usize = 160;

impl CachedRevision {
    /// The bytes this entry is counted as against the cache's budget.
    fn weight(&self) -> usize {
        ENTRY_OVERHEAD + self.document.as_ref().map_or(0, Document::size)
    }
}

struct Shard {
    entries: LruCache<InternalId, (DocumentId, CachedRevision)>,
    /// The summed weight of `entries`.
    bytes: usize,
    /// The most `bytes` may reach (0: the cache is off).
    budget: usize,
    /// The newest revision timestamp ever evicted from this shard.
    evicted_through: u64,
}

impl Shard {
    fn put(&mut self, id: DocumentId, revision: CachedRevision) {
        self.bytes += revision.weight();
        if let Some((_, replaced)) = self.entries.insert(id.internal, (id, revision)) {
            self.bytes -= replaced.weight();
        }
        // The newest entry stays even if it alone is over budget.
        while self.bytes > self.budget && self.entries.len() > 1 {
            let Some((_, (_, old))) = self.entries.remove_lru() else {
                break;
            };
            self.bytes -= old.weight();
            self.evicted_through = self.evicted_through.max(old.ts);
        }
    }
}

/// See the module documentation.
pub(crate) struct RevisionCache {
    shards: Vec<Mutex<Shard>>,
}

impl RevisionCache {
    /// A cache of documents weighing about `budget` bytes in all (0 disables it).
    pub(crate) fn new(budget: usize) -> Self {
        let per_shard = budget.div_ceil(SHARDS);
        RevisionCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        entries: LruCache::new_unbounded(),
                        bytes: 0,
                        budget: per_shard,
                        evicted_through: 0,
                    })
                })
                .collect(),
        }
    }

    fn shard(&self, id: &InternalId) -> MutexGuard<'_, Shard> {
        // The low bytes of an id are random (the high ones are a timestamp).
        let index = usize::from(id.0[15]) % SHARDS;
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest revision of `id` at or before `snapshot`, if the cache
    /// knows it. `Some(None-document)` means deleted as of the snapshot.
    pub(crate) fn get(&self, id: DocumentId, snapshot: u64) -> Option<CachedRevision> {
        let mut shard = self.shard(&id.internal);
        if shard.budget == 0 {
            return None;
        }
        let (cached_id, revision) = shard.entries.get(&id.internal)?;
        // Same internal id under another table: that table has no such document.
        if *cached_id != id {
            return (revision.ts <= snapshot).then_some(CachedRevision {
                ts: revision.ts,
                document: None,
            });
        }
        (revision.ts <= snapshot).then(|| revision.clone())
    }

    /// Records what a reader found in persistence at `snapshot`: the newest
    /// revision of `id` at or before it.
    pub(crate) fn fill(&self, id: DocumentId, snapshot: u64, revision: &CachedRevision) {
        let mut shard = self.shard(&id.internal);
        if shard.budget == 0
            || snapshot < shard.evicted_through
            || shard.entries.contains_key(&id.internal)
        {
            return;
        }
        shard.put(id, revision.clone());
    }

    /// Records a committed write (called by the committer, in commit order,
    /// before the commit's timestamp is published).
    pub(crate) fn record_commit(&self, id: DocumentId, ts: u64, document: Option<&Document>) {
        let mut shard = self.shard(&id.internal);
        if shard.budget == 0 {
            return;
        }
        shard.put(
            id,
            CachedRevision {
                ts,
                document: document.cloned(),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::value::TableNumber;

    fn doc(n: u8) -> (DocumentId, Document) {
        let id = DocumentId {
            table: TableNumber(10_001),
            internal: InternalId([n; 16]),
        };
        let document = Document {
            id,
            creation_time: 1.0,
            fields: BTreeMap::new(),
        };
        (id, document)
    }

    #[test]
    fn an_entry_answers_only_snapshots_at_or_after_its_revision() {
        let cache = RevisionCache::new(64 * 1024);
        let (id, d) = doc(1);
        cache.record_commit(id, 100, Some(&d));
        assert!(cache.get(id, 99).is_none(), "older snapshots go to storage");
        assert_eq!(cache.get(id, 100).map(|r| r.ts), Some(100));
        assert_eq!(cache.get(id, 500).map(|r| r.ts), Some(100));
        cache.record_commit(id, 200, None);
        let deleted = cache.get(id, 200).expect("cached");
        assert!(deleted.document.is_none());
        assert!(cache.get(id, 150).is_none());
    }

    #[test]
    fn a_fill_never_replaces_a_committed_revision() {
        let cache = RevisionCache::new(64 * 1024);
        let (id, d) = doc(2);
        cache.record_commit(id, 200, Some(&d));
        // A reader at snapshot 150 read the revision of ts 100 from storage.
        cache.fill(
            id,
            150,
            &CachedRevision {
                ts: 100,
                document: Some(d.clone()),
            },
        );
        assert_eq!(cache.get(id, 300).map(|r| r.ts), Some(200));
    }

    #[test]
    fn no_fill_from_a_snapshot_older_than_an_evicted_revision() {
        // One entry per shard: every new id in a shard evicts the last.
        let cache = RevisionCache::new(SHARDS * (ENTRY_OVERHEAD + 40));
        let (a, da) = doc(3);
        let mut b_bytes = [3u8; 16];
        b_bytes[0] = 9; // same shard (last byte), different id
        let b = DocumentId {
            table: a.table,
            internal: InternalId(b_bytes),
        };
        cache.record_commit(a, 200, Some(&da));
        cache.record_commit(b, 300, None); // evicts a's revision of ts 200
        // A reader at snapshot 150 saw a's revision of ts 100; it must not
        // become "the newest", since 200 exists.
        cache.fill(
            a,
            150,
            &CachedRevision {
                ts: 100,
                document: Some(da.clone()),
            },
        );
        assert!(cache.get(a, 250).is_none());
        // A reader at a snapshot past every eviction may fill.
        cache.fill(
            a,
            300,
            &CachedRevision {
                ts: 200,
                document: Some(da),
            },
        );
        assert_eq!(cache.get(a, 300).map(|r| r.ts), Some(200));
    }

    #[test]
    fn the_budget_bounds_the_bytes_held() {
        let (id, d) = doc(5);
        let weight = CachedRevision {
            ts: 1,
            document: Some(d.clone()),
        }
        .weight();
        // Room for three entries per shard.
        let cache = RevisionCache::new(SHARDS * 3 * weight);
        let same_shard = |n: u8| DocumentId {
            table: id.table,
            internal: InternalId([n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]),
        };
        for n in 0..5 {
            cache.record_commit(same_shard(n), 100 + u64::from(n), Some(&d));
        }
        assert!(cache.get(same_shard(0), 200).is_none());
        assert!(cache.get(same_shard(1), 200).is_none());
        for n in 2..5 {
            assert!(cache.get(same_shard(n), 200).is_some(), "entry {n}");
        }
        let shard = cache.shard(&same_shard(0).internal);
        assert_eq!(shard.bytes, 3 * weight);
        assert_eq!(shard.evicted_through, 101);
    }

    #[test]
    fn another_tables_id_reads_as_missing() {
        let cache = RevisionCache::new(64 * 1024);
        let (id, d) = doc(4);
        cache.record_commit(id, 100, Some(&d));
        let other = DocumentId {
            table: TableNumber(10_002),
            internal: id.internal,
        };
        let found = cache.get(other, 100).expect("answered from the cache");
        assert!(found.document.is_none());
    }
}
