//! What a vector search read, as a predicate over written vectors, so that
//! OCC and the subscription hub can tell whether a commit could change its
//! result without re-running it.
//!
//! A search for the `k` vectors most similar to `q` returned results whose
//! `k`-th similarity is `t` (or fewer than `k` results, `t = -∞`). A write
//! can change that result only if it
//!
//! * puts into the index a document that passes the search's filter with a
//!   similarity of at least `t` (it may enter the result), or
//! * changes or deletes a document in the result: those were loaded by id,
//!   so their `by_id` keys are in the read set already.
//!
//! A document outside the result that is deleted, or changed into one that
//! ranks below `t` or fails the filter, cannot change the result.

use std::sync::Arc;

use super::indexed::dot;
use crate::store::IndexId;

/// The OR of equalities on a vector index's filter fields:
/// `(filter position, value key)`; empty means no filter.
pub(crate) type FilterClauses = Vec<(usize, Vec<u8>)>;

/// Whether a document with `filters` (its filter fields' value keys) passes
/// `clauses`.
pub(crate) fn passes(clauses: &[(usize, Vec<u8>)], filters: &[Vec<u8>]) -> bool {
    clauses.is_empty()
        || clauses
            .iter()
            .any(|(position, value)| filters.get(*position) == Some(value))
}

/// A vector search as recorded in a read set.
#[derive(Clone, Debug)]
pub struct VectorRead {
    pub(crate) index: IndexId,
    /// The normalized query vector.
    pub(crate) query: Arc<[f32]>,
    /// The lowest similarity that could enter the result.
    pub(crate) threshold: f32,
    pub(crate) filter: FilterClauses,
}

impl PartialEq for VectorRead {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index
            && self.threshold.to_bits() == other.threshold.to_bits()
            && self.filter == other.filter
            && self.query.len() == other.query.len()
            && self
                .query
                .iter()
                .zip(other.query.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl Eq for VectorRead {}

impl VectorRead {
    /// The index searched.
    pub fn index(&self) -> IndexId {
        self.index
    }

    /// Whether `write` could change the result of this search.
    pub fn is_hit_by(&self, write: &VectorWrite) -> bool {
        write.index == self.index
            && passes(&self.filter, &write.filters)
            && dot(&self.query, &write.vector) >= self.threshold
    }
}

/// A document state a commit put into a vector index.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorWrite {
    pub(crate) index: IndexId,
    /// The normalized vector.
    pub(crate) vector: Arc<[f32]>,
    /// The filter fields' value keys.
    pub(crate) filters: Vec<Vec<u8>>,
}

impl VectorWrite {
    /// The index written.
    pub fn index(&self) -> IndexId {
        self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_hits_a_search_it_could_enter() {
        let read = VectorRead {
            index: IndexId(3),
            query: Arc::from([1.0f32, 0.0]),
            threshold: 0.5,
            filter: vec![(0, b"a".to_vec()), (0, b"b".to_vec())],
        };
        let write = |x: f32, y: f32, tag: &[u8]| VectorWrite {
            index: IndexId(3),
            vector: Arc::from([x, y]),
            filters: vec![tag.to_vec()],
        };
        assert!(read.is_hit_by(&write(0.8, 0.6, b"a")));
        assert!(read.is_hit_by(&write(0.8, 0.6, b"b")));
        assert!(!read.is_hit_by(&write(0.8, 0.6, b"c")), "filtered out");
        assert!(
            !read.is_hit_by(&write(0.0, 1.0, b"a")),
            "below the threshold"
        );
        let mut other = write(1.0, 0.0, b"a");
        other.index = IndexId(4);
        assert!(!read.is_hit_by(&other), "another index");
        let open = VectorRead {
            threshold: f32::NEG_INFINITY,
            filter: Vec::new(),
            ..read
        };
        assert!(
            open.is_hit_by(&write(-1.0, 0.0, b"z")),
            "a short result takes anything"
        );
    }
}
