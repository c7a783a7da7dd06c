//! The vector searches of subscribed queries, so a round can find the
//! subscriptions a commit's vector writes could change without re-running
//! anything: each written vector is compared with every subscribed search of
//! its index, one dot product each. The searches of an index are kept as
//! rows of one matrix, so that comparison streams through memory (see the
//! book's performance page for the cost per commit).

use std::collections::{HashMap, HashSet};

use super::interval_index::SubscriptionId;
use crate::store::vector::{FilterClauses, dot, passes};
use crate::store::{IndexId, VectorRead, VectorWrite};

/// The subscribed searches of one vector index, one row each.
#[derive(Default)]
struct Rows {
    /// Row-major: row `r` is `queries[r * dims..(r + 1) * dims]`.
    queries: Vec<f32>,
    dims: usize,
    thresholds: Vec<f32>,
    filters: Vec<FilterClauses>,
    owners: Vec<SubscriptionId>,
}

impl Rows {
    fn push(&mut self, owner: SubscriptionId, read: &VectorRead) -> usize {
        self.dims = read.query.len();
        self.queries.extend_from_slice(&read.query);
        self.thresholds.push(read.threshold);
        self.filters.push(read.filter.clone());
        self.owners.push(owner);
        self.owners.len() - 1
    }

    /// Removes row `row` by moving the last row into it; returns the owner
    /// of the moved row, if one moved.
    fn swap_remove(&mut self, row: usize) -> Option<SubscriptionId> {
        let last = self.owners.len() - 1;
        if row != last {
            let (head, tail) = self.queries.split_at_mut(last * self.dims);
            head[row * self.dims..(row + 1) * self.dims].copy_from_slice(&tail[..self.dims]);
        }
        self.queries.truncate(last * self.dims);
        self.thresholds.swap_remove(row);
        self.filters.swap_remove(row);
        self.owners.swap_remove(row);
        (row != last).then(|| self.owners[row])
    }
}

/// See the module documentation.
#[derive(Default)]
pub(crate) struct VectorWatch {
    by_index: HashMap<IndexId, Rows>,
    /// Where each subscription's rows are.
    rows_of: HashMap<SubscriptionId, Vec<(IndexId, usize)>>,
}

impl VectorWatch {
    /// Watches `reads` for subscription `id` (remove its old reads first).
    pub(crate) fn insert(&mut self, id: SubscriptionId, reads: &[VectorRead]) {
        for read in reads {
            let row = self
                .by_index
                .entry(read.index())
                .or_default()
                .push(id, read);
            self.rows_of
                .entry(id)
                .or_default()
                .push((read.index(), row));
        }
    }

    /// Stops watching every read of subscription `id`.
    pub(crate) fn remove(&mut self, id: SubscriptionId) {
        let Some(mut places) = self.rows_of.remove(&id) else {
            return;
        };
        // Highest rows first, so a swap never moves one of `id`'s own rows
        // into a place still to be removed.
        places.sort_by_key(|place| std::cmp::Reverse(place.1));
        for (index, row) in places {
            let Some(rows) = self.by_index.get_mut(&index) else {
                continue;
            };
            let last = rows.owners.len() - 1;
            if let Some(moved) = rows.swap_remove(row)
                && let Some(moved_places) = self.rows_of.get_mut(&moved)
                && let Some(place) = moved_places.iter_mut().find(|p| *p == &(index, last))
            {
                place.1 = row;
            }
            if rows.owners.is_empty() {
                self.by_index.remove(&index);
            }
        }
    }

    /// Adds to `out` every subscription whose result `write` could change.
    pub(crate) fn hits(&self, write: &VectorWrite, out: &mut HashSet<SubscriptionId>) {
        let Some(rows) = self.by_index.get(&write.index()) else {
            return;
        };
        if rows.dims != write.vector.len() {
            return;
        }
        for (row, query) in rows.queries.chunks_exact(rows.dims).enumerate() {
            if passes(&rows.filters[row], &write.filters)
                && dot(query, &write.vector) >= rows.thresholds[row]
            {
                out.insert(rows.owners[row]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn read(x: f32, y: f32, threshold: f32) -> VectorRead {
        VectorRead {
            index: IndexId(1),
            query: Arc::from([x, y]),
            threshold,
            filter: Vec::new(),
        }
    }

    fn write(x: f32, y: f32) -> VectorWrite {
        VectorWrite {
            index: IndexId(1),
            vector: Arc::from([x, y]),
            filters: Vec::new(),
        }
    }

    fn hits(watch: &VectorWatch, w: &VectorWrite) -> Vec<SubscriptionId> {
        let mut out = HashSet::new();
        watch.hits(w, &mut out);
        let mut out: Vec<_> = out.into_iter().collect();
        out.sort();
        out
    }

    #[test]
    fn finds_exactly_the_searches_a_write_could_enter_across_removals() {
        let mut watch = VectorWatch::default();
        watch.insert(1, &[read(1.0, 0.0, 0.9)]);
        watch.insert(2, &[read(0.0, 1.0, 0.9), read(1.0, 0.0, 0.99)]);
        watch.insert(3, &[read(0.6, 0.8, 0.5)]);
        assert_eq!(hits(&watch, &write(1.0, 0.0)), [1, 2, 3]);
        assert_eq!(hits(&watch, &write(0.0, 1.0)), [2, 3]);
        watch.remove(1);
        assert_eq!(hits(&watch, &write(1.0, 0.0)), [2, 3]);
        watch.remove(2);
        assert_eq!(hits(&watch, &write(1.0, 0.0)), [3]);
        assert_eq!(hits(&watch, &write(0.0, 1.0)), [3]);
        watch.remove(3);
        assert!(watch.by_index.is_empty() && watch.rows_of.is_empty());
        assert!(hits(&watch, &write(1.0, 0.0)).is_empty());
    }
}
