use std::collections::VecDeque;
use std::sync::Arc;

use super::vector::VectorWrite;
use super::{IndexId, ReadSet};

/// What one commit wrote, as seen by conflict detection and subscriptions:
/// every index key it touched (old keys of changed or deleted documents and
/// new keys of inserted or changed ones, in every index of the table including
/// `by_id`).
#[derive(Clone, Debug, PartialEq)]
pub struct CommitInfo {
    /// The commit timestamp.
    pub ts: u64,
    /// Touched `(index, key)` pairs.
    pub writes: Vec<(IndexId, Vec<u8>)>,
    /// Document states put into vector indexes.
    pub vectors: Vec<VectorWrite>,
}

/// A conflict found by validation.
#[derive(Debug, PartialEq)]
pub(crate) enum Invalid {
    /// A commit after the snapshot wrote inside the read set.
    Conflict { index: IndexId, ts: u64 },
    /// The snapshot predates the remembered window.
    TooOld { oldest: u64 },
}

/// The recent commits, newest last, used to validate transactions.
///
/// Invariant: `entries` is sorted by `ts`, and every commit with
/// `ts > forgotten_through` is in `entries`.
pub(crate) struct WriteLog {
    entries: VecDeque<Arc<CommitInfo>>,
    forgotten_through: u64,
    max_entries: usize,
}

impl WriteLog {
    pub(crate) fn new(start_ts: u64, max_entries: usize) -> Self {
        WriteLog {
            entries: VecDeque::new(),
            forgotten_through: start_ts,
            max_entries,
        }
    }

    /// Checks that no commit after `snapshot` wrote a key that `reads` covers.
    pub(crate) fn validate(&self, snapshot: u64, reads: &ReadSet) -> Result<(), Invalid> {
        if snapshot < self.forgotten_through {
            return Err(Invalid::TooOld {
                oldest: self.forgotten_through,
            });
        }
        if reads.is_empty() {
            return Ok(());
        }
        let first_newer = self.entries.partition_point(|e| e.ts <= snapshot);
        for entry in self.entries.range(first_newer..) {
            if let Some((index, _)) = entry
                .writes
                .iter()
                .find(|(index, key)| reads.overlaps(*index, key))
            {
                return Err(Invalid::Conflict {
                    index: *index,
                    ts: entry.ts,
                });
            }
            if let Some(write) = entry.vectors.iter().find(|w| reads.is_hit_by_vector(w)) {
                return Err(Invalid::Conflict {
                    index: write.index(),
                    ts: entry.ts,
                });
            }
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, entry: Arc<CommitInfo>) {
        self.entries.push_back(entry);
        while self.entries.len() > self.max_entries {
            if let Some(old) = self.entries.pop_front() {
                self.forgotten_through = old.ts;
            }
        }
    }

    /// Forgets commits with `ts <= through` (they are older than any snapshot still in use).
    pub(crate) fn forget_through(&mut self, through: u64) {
        while self.entries.front().is_some_and(|e| e.ts <= through) {
            if let Some(old) = self.entries.pop_front() {
                self.forgotten_through = old.ts;
            }
        }
    }

    /// Removes the entries of a batch that failed to become durable.
    pub(crate) fn remove_from(&mut self, ts: u64) {
        while self.entries.back().is_some_and(|e| e.ts >= ts) {
            self.entries.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::KeyInterval;

    fn info(ts: u64, key: &[u8]) -> Arc<CommitInfo> {
        Arc::new(CommitInfo {
            ts,
            writes: vec![(IndexId(1), key.to_vec())],
            vectors: Vec::new(),
        })
    }

    #[test]
    fn detects_only_later_overlapping_writes() {
        let mut log = WriteLog::new(0, 100);
        log.push(info(10, b"a"));
        log.push(info(20, b"b"));
        let mut reads = ReadSet::new();
        reads.record(IndexId(1), KeyInterval::point(b"a"));
        assert_eq!(
            log.validate(5, &reads),
            Err(Invalid::Conflict {
                index: IndexId(1),
                ts: 10
            })
        );
        assert_eq!(log.validate(10, &reads), Ok(()));
        reads.record(IndexId(1), KeyInterval::point(b"b"));
        assert_eq!(
            log.validate(10, &reads),
            Err(Invalid::Conflict {
                index: IndexId(1),
                ts: 20
            })
        );
        log.remove_from(20);
        assert_eq!(log.validate(10, &reads), Ok(()));
    }

    #[test]
    fn old_snapshots_are_refused_after_trimming() {
        let mut log = WriteLog::new(0, 2);
        for ts in 1..=3 {
            log.push(info(ts, b"x"));
        }
        assert_eq!(
            log.validate(0, &ReadSet::new()),
            Err(Invalid::TooOld { oldest: 1 })
        );
        assert_eq!(log.validate(1, &ReadSet::new()), Ok(()));
        log.forget_through(2);
        assert!(log.validate(1, &ReadSet::new()).is_err());
    }
}
