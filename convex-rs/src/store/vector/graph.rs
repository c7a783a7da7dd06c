//! The approximate part of a vector index: an HNSW graph (hnsw_rs) over
//! normalized vectors, searched by dot product.
//!
//! hnsw_rs has no deletes: a point is never removed from a graph. The index
//! around it gives every revision of a document its own point id, hides
//! points the searcher must not see through the search filter, and builds a
//! fresh graph when too many points are dead.

use std::path::Path;

use hnsw_rs::hnswio::HnswIo;
use hnsw_rs::prelude::{AnnT, Distance, Hnsw, Neighbour};

use super::indexed::raw_dot;

/// Links per node (layer 0 keeps twice as many).
const CONNECTIONS: usize = 16;
/// Candidates examined while inserting.
const EF_CONSTRUCTION: usize = 200;
/// Layers (hnsw_rs's maximum).
const LAYERS: usize = 16;
/// Candidates examined while searching, at least: recall@10 measured above
/// 0.95 at 100k vectors (see the book's performance page).
pub(crate) const EF_SEARCH: usize = 128;
/// Extra neighbours asked of an unfiltered walk, for those the caller
/// must not see.
const SLACK: usize = 8;

/// `1 - a·b` for normalized vectors, never negative: hnsw_rs asserts
/// distances are `>= 0`, and rounding can make a vector's dot product with
/// itself exceed 1 (hnsw_rs's own `DistDot` then panics).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct DotDistance;

impl Distance<f32> for DotDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - raw_dot(a, b)).max(0.0)
    }
}

/// An HNSW graph of points `(id, vector)`.
pub(crate) struct Graph {
    hnsw: Hnsw<'static, f32, DotDistance>,
    /// How many points were ever inserted (dead ones included).
    inserted: std::sync::atomic::AtomicUsize,
}

impl Graph {
    /// An empty graph sized for about `capacity` points.
    pub(crate) fn new(capacity: usize) -> Graph {
        Graph {
            hnsw: Hnsw::new(
                CONNECTIONS,
                capacity.max(1024),
                LAYERS,
                EF_CONSTRUCTION,
                DotDistance,
            ),
            inserted: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Inserts points (blocking; uses rayon's pool for large batches). Safe
    /// to run while other threads search.
    pub(crate) fn insert(&self, points: &[(usize, &[f32])]) {
        if points.len() >= 64 {
            let batch: Vec<(&[f32], usize)> = points.iter().map(|(id, v)| (*v, *id)).collect();
            self.hnsw.parallel_insert_slice(&batch);
        } else {
            for (id, vector) in points {
                self.hnsw.insert_slice((vector, *id));
            }
        }
        self.inserted
            .fetch_add(points.len(), std::sync::atomic::Ordering::Relaxed);
    }

    /// How many points were ever inserted.
    pub(crate) fn len(&self) -> usize {
        self.inserted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes the graph as hnsw_rs files `<basename>.hnsw.{graph,data}` in
    /// `dir` (blocking; no insertion may run meanwhile); returns the base
    /// name hnsw_rs actually used.
    pub(crate) fn dump(&self, dir: &Path, basename: &str) -> Result<String, String> {
        self.hnsw
            .file_dump(dir, basename)
            .map_err(|e| format!("writing the vector index graph in {}: {e}", dir.display()))
    }

    /// The graph in `dir` written by [`dump`](Graph::dump), holding `points`
    /// points (blocking). Only for files whose checksums were verified:
    /// hnsw_rs does not survive corrupt input.
    pub(crate) fn load(dir: &Path, basename: &str, points: usize) -> Result<Graph, String> {
        // hnsw_rs's loaded graph borrows its loader for its whole life:
        // one small loader per graph loaded is leaked (once per start).
        let loader: &'static HnswIo = Box::leak(Box::new(HnswIo::new(dir, basename)));
        let hnsw = loader
            .load_hnsw_with_dist::<f32, DotDistance>(DotDistance)
            .map_err(|e| format!("reading the vector index graph in {}: {e}", dir.display()))?;
        Ok(Graph {
            hnsw,
            inserted: std::sync::atomic::AtomicUsize::new(points),
        })
    }

    /// Up to `k` point ids near `query` that `keep` admits, nearest first
    /// (blocking). `keep` is consulted while the graph is walked.
    pub(crate) fn search(
        &self,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Vec<usize> {
        if self.len() == 0 || k == 0 {
            return Vec::new();
        }
        // Usually (nothing filtered, few dead points) the plain walk with a
        // little slack has `k` admissible points, and it is much cheaper
        // than a walk that consults the filter at every node.
        let ef = EF_SEARCH.max(k + SLACK);
        let plain: Vec<usize> = self
            .hnsw
            .search(query, k + SLACK, ef)
            .into_iter()
            .map(|n| n.d_id)
            .filter(|id| keep(*id))
            .collect();
        if plain.len() >= k {
            return plain.into_iter().take(k).collect();
        }
        let filter = |id: &usize| keep(*id);
        let found: Vec<Neighbour> = self.hnsw.search_filter(query, k, ef, Some(&filter));
        found.into_iter().map(|n| n.d_id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::vector::indexed::normalized;

    #[test]
    fn finds_near_points_and_respects_the_filter() {
        let graph = Graph::new(16);
        let points: Vec<(usize, Vec<f32>)> = (0..200)
            .map(|i| {
                let angle = i as f32 / 200.0 * std::f32::consts::PI;
                (i, normalized(&[angle.cos(), angle.sin(), 0.1]))
            })
            .collect();
        let refs: Vec<(usize, &[f32])> = points.iter().map(|(id, v)| (*id, v.as_slice())).collect();
        graph.insert(&refs);
        assert_eq!(graph.len(), 200);
        let near = graph.search(&points[50].1, 3, &|_| true);
        assert_eq!(near.first(), Some(&50));
        let even = graph.search(&points[51].1, 3, &|id| id % 2 == 0);
        assert!(even.iter().all(|id| id % 2 == 0));
        assert!(even.contains(&50) || even.contains(&52));
        // A vector's distance to itself is never negative.
        assert_eq!(DotDistance.eval(&points[7].1, &points[7].1), 0.0);
    }
}
