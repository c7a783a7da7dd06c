use std::collections::{BTreeMap, btree_map};

use super::IndexId;
use super::vector::{VectorRead, VectorWrite};

/// A half-open interval of index keys, `[start, end)`; `end: None` is unbounded.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyInterval {
    /// Inclusive lower bound.
    pub start: Vec<u8>,
    /// Exclusive upper bound, `None` for "to the end of the index".
    pub end: Option<Vec<u8>>,
}

impl KeyInterval {
    /// Every key.
    pub fn all() -> Self {
        KeyInterval {
            start: Vec::new(),
            end: None,
        }
    }

    /// Exactly one key.
    pub fn point(key: &[u8]) -> Self {
        KeyInterval {
            start: key.to_vec(),
            end: Some(successor(key)),
        }
    }

    /// Every key starting with `prefix`.
    pub fn prefix(prefix: &[u8]) -> Self {
        KeyInterval {
            start: prefix.to_vec(),
            end: crate::value::prefix_successor(prefix),
        }
    }

    /// Whether `key` lies inside.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// Whether the interval holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.end
            .as_deref()
            .is_some_and(|end| end <= self.start.as_slice())
    }
}

/// The immediate successor of `key` in byte order: `key ‖ 0x00`.
pub(crate) fn successor(key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.extend_from_slice(key);
    out.push(0);
    out
}

/// Disjoint, merged intervals of one index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct IntervalSet {
    /// start -> end (exclusive, `None` unbounded); intervals never overlap or touch.
    ranges: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl IntervalSet {
    fn insert(&mut self, interval: KeyInterval) {
        if interval.is_empty() {
            return;
        }
        let mut start = interval.start;
        let mut end = interval.end;
        // Merge with a predecessor that reaches `start`.
        if let Some((s, e)) = self.ranges.range(..=start.clone()).next_back()
            && e.as_deref().is_none_or(|e| e >= start.as_slice())
        {
            start = s.clone();
            end = max_end(end, e.clone());
        }
        // Swallow every following interval that begins inside the new one.
        let following: Vec<Vec<u8>> = self
            .ranges
            .range(start.clone()..)
            .take_while(|(s, _)| end.as_deref().is_none_or(|end| s.as_slice() <= end))
            .map(|(s, _)| s.clone())
            .collect();
        for s in following {
            if let Some(e) = self.ranges.remove(&s) {
                end = max_end(end, e);
            }
        }
        self.ranges.insert(start, end);
    }

    fn contains(&self, key: &[u8]) -> bool {
        self.ranges
            .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(key)))
            .next_back()
            .is_some_and(|(_, end)| end.as_deref().is_none_or(|end| key < end))
    }

    fn iter(&self) -> impl Iterator<Item = KeyInterval> + '_ {
        self.ranges.iter().map(|(s, e)| KeyInterval {
            start: s.clone(),
            end: e.clone(),
        })
    }
}

fn max_end(a: Option<Vec<u8>>, b: Option<Vec<u8>>) -> Option<Vec<u8>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    }
}

/// Everything a transaction or query read, as key intervals per index.
///
/// A `get` is a point interval on the table's `by_id` index; an index range
/// scan records the part of the range it actually examined; a scan without an
/// index records the range of `by_creation_time` it walked. The subscription
/// hub uses the same type to find the queries a commit invalidates.
///
/// Architecture Invariant: every value a function observed from the database
/// is covered by some interval in its read set, so any commit that could change
/// the function's result writes a key inside the read set.
///
/// Text searches record key intervals too (`store::text::read_keys`); vector
/// searches, whose results depend on similarity rather than keys, record a
/// [`VectorRead`] predicate each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadSet {
    indexes: BTreeMap<IndexId, IntervalSet>,
    vectors: Vec<VectorRead>,
}

impl ReadSet {
    /// An empty read set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `interval` of `index` was read.
    pub fn record(&mut self, index: IndexId, interval: KeyInterval) {
        match self.indexes.entry(index) {
            btree_map::Entry::Occupied(mut e) => e.get_mut().insert(interval),
            btree_map::Entry::Vacant(e) => {
                if !interval.is_empty() {
                    e.insert(IntervalSet::default()).insert(interval);
                }
            }
        }
    }

    /// Records a vector search.
    pub(crate) fn record_vector(&mut self, read: VectorRead) {
        if !self.vectors.contains(&read) {
            self.vectors.push(read);
        }
    }

    /// The vector searches recorded.
    pub fn vector_reads(&self) -> &[VectorRead] {
        &self.vectors
    }

    /// Whether a commit that put `write` into a vector index could change
    /// a vector search of this read set.
    pub fn is_hit_by_vector(&self, write: &VectorWrite) -> bool {
        self.vectors.iter().any(|read| read.is_hit_by(write))
    }

    /// Whether a write of `key` in `index` touches this read set.
    pub fn overlaps(&self, index: IndexId, key: &[u8]) -> bool {
        self.indexes
            .get(&index)
            .is_some_and(|set| set.contains(key))
    }

    /// Merges another read set into this one.
    pub fn extend(&mut self, other: &ReadSet) {
        for (index, interval) in other.iter() {
            self.record(index, interval);
        }
        for read in &other.vectors {
            self.record_vector(read.clone());
        }
    }

    /// Every recorded interval, per index.
    pub fn iter(&self) -> impl Iterator<Item = (IndexId, KeyInterval)> + '_ {
        self.indexes
            .iter()
            .flat_map(|(id, set)| set.iter().map(move |i| (*id, i)))
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.indexes.is_empty() && self.vectors.is_empty()
    }

    /// Number of disjoint intervals.
    pub fn interval_count(&self) -> usize {
        self.indexes.values().map(|s| s.ranges.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn iv(start: &[u8], end: Option<&[u8]>) -> KeyInterval {
        KeyInterval {
            start: start.to_vec(),
            end: end.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn merges_overlapping_and_touching() {
        let mut rs = ReadSet::new();
        let i = IndexId(1);
        rs.record(i, iv(b"b", Some(b"d")));
        rs.record(i, iv(b"d", Some(b"f")));
        rs.record(i, iv(b"a", Some(b"c")));
        assert_eq!(rs.interval_count(), 1);
        assert!(rs.overlaps(i, b"a") && rs.overlaps(i, b"e") && !rs.overlaps(i, b"f"));
        rs.record(i, iv(b"x", None));
        assert!(rs.overlaps(i, b"zzzz"));
        assert!(!rs.overlaps(IndexId(2), b"b"));
        rs.record(i, iv(b"", None));
        assert_eq!(rs.interval_count(), 1);
    }

    #[test]
    fn point_reads() {
        let mut rs = ReadSet::new();
        rs.record(IndexId(0), KeyInterval::point(b"k"));
        assert!(rs.overlaps(IndexId(0), b"k"));
        assert!(!rs.overlaps(IndexId(0), b"k\0"));
        assert!(!rs.overlaps(IndexId(0), b"j"));
    }

    proptest! {
        #[test]
        fn matches_naive_membership(
            intervals in proptest::collection::vec((proptest::collection::vec(0u8..4, 0..3), proptest::option::of(proptest::collection::vec(0u8..4, 0..3))), 0..12),
            probes in proptest::collection::vec(proptest::collection::vec(0u8..4, 0..4), 0..40),
        ) {
            let mut rs = ReadSet::new();
            let all: Vec<KeyInterval> = intervals.into_iter().map(|(s, e)| KeyInterval { start: s, end: e }).collect();
            for i in &all {
                rs.record(IndexId(7), i.clone());
            }
            for p in probes {
                let naive = all.iter().any(|i| i.contains(&p));
                prop_assert_eq!(rs.overlaps(IndexId(7), &p), naive);
            }
        }
    }
}
