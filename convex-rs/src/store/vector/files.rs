//! A vector index's graph on disk, so a restart does not rebuild it: the
//! hnsw_rs dump (`graph.hnsw.graph`, `graph.hnsw.data`) and our manifest
//! (`points.bin`: which document revision each graph point is), written at
//! close into a fresh directory that replaces the old one by a rename.
//!
//! The store stays the source of truth. At open, every live document is
//! matched with the manifest: a point whose document still has the same
//! revision is reused; anything else is indexed anew and the unmatched
//! points are dead. Files are loaded only if the manifest's checksums of
//! both hnsw_rs files match (hnsw_rs can panic or exit on corrupt input),
//! and only for the same dimensions and format; otherwise the graph is
//! rebuilt from the store, in the background.

use std::collections::HashMap;
use std::hash::Hasher;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::graph::Graph;
use crate::value::InternalId;

/// Bumped when the files' layout changes; other formats are rebuilt.
const FORMAT: u32 = 1;
const BASENAME: &str = "graph";
const MANIFEST: &str = "points.bin";

/// A graph point as the manifest records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SavedPoint {
    pub(crate) id: usize,
    pub(crate) doc: InternalId,
    /// The revision timestamp of the document state it holds.
    pub(crate) revision: u64,
}

/// A graph loaded from disk with the points it holds.
pub(crate) struct Saved {
    pub(crate) graph: Graph,
    pub(crate) points: HashMap<InternalId, SavedPoint>,
    /// How many points the graph holds (matched or not).
    pub(crate) graph_points: usize,
    pub(crate) next_id: usize,
}

fn checksum(path: &Path) -> std::io::Result<(u64, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((length, hasher.finish()));
        }
        hasher.write(&buffer[..n]);
        length += n as u64;
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Writes `graph` and its live `points` as the files in `dir`, replacing
/// what was there (blocking).
pub(crate) fn save(
    dir: &Path,
    dimensions: usize,
    graph: &Graph,
    next_id: usize,
    points: &[SavedPoint],
) -> Result<(), String> {
    let fresh = dir.with_extension("writing");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    }
    std::fs::create_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
    // hnsw_rs may pick another base name (it does after a reload): the
    // files get ours.
    let basename = graph.dump(&fresh, BASENAME)?;
    for suffix in ["hnsw.graph", "hnsw.data"] {
        let written = fresh.join(format!("{basename}.{suffix}"));
        let wanted = fresh.join(format!("{BASENAME}.{suffix}"));
        if written != wanted {
            std::fs::rename(&written, &wanted).map_err(|e| io(&written, e))?;
        }
    }
    let mut manifest = Vec::with_capacity(64 + points.len() * 32);
    manifest.extend_from_slice(&FORMAT.to_le_bytes());
    manifest.extend_from_slice(&(dimensions as u64).to_le_bytes());
    manifest.extend_from_slice(&(graph.len() as u64).to_le_bytes());
    manifest.extend_from_slice(&(next_id as u64).to_le_bytes());
    for suffix in ["hnsw.graph", "hnsw.data"] {
        let path = fresh.join(format!("{BASENAME}.{suffix}"));
        let (length, hash) = checksum(&path).map_err(|e| io(&path, e))?;
        manifest.extend_from_slice(&length.to_le_bytes());
        manifest.extend_from_slice(&hash.to_le_bytes());
    }
    manifest.extend_from_slice(&(points.len() as u64).to_le_bytes());
    for point in points {
        manifest.extend_from_slice(&(point.id as u64).to_le_bytes());
        manifest.extend_from_slice(&point.doc.0);
        manifest.extend_from_slice(&point.revision.to_le_bytes());
    }
    let path = fresh.join(MANIFEST);
    let mut file = std::fs::File::create(&path).map_err(|e| io(&path, e))?;
    file.write_all(&manifest).map_err(|e| io(&path, e))?;
    file.sync_all().map_err(|e| io(&path, e))?;
    // Swap: the old directory goes aside, the new one takes its name.
    let old = dir.with_extension("old");
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(|e| io(dir, e))?;
    }
    std::fs::rename(&fresh, dir).map_err(|e| io(&fresh, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
    }
    Ok(())
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn u64(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*head))
    }

    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_le_bytes(*head))
    }

    fn id(&mut self) -> Option<InternalId> {
        let (head, rest) = self.0.split_first_chunk::<16>()?;
        self.0 = rest;
        Some(InternalId(*head))
    }
}

/// The graph saved in `dir`, if its files are there, complete and made for
/// `dimensions`; `Ok(None)` when there is nothing usable (blocking).
pub(crate) fn load(dir: &Path, dimensions: usize) -> Result<Option<Saved>, String> {
    let path = dir.join(MANIFEST);
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let mut input = Reader(&bytes);
    let (Some(format), Some(dims), Some(graph_points), Some(next_id)) =
        (input.u32(), input.u64(), input.u64(), input.u64())
    else {
        return Ok(None);
    };
    if format != FORMAT || dims != dimensions as u64 {
        return Ok(None);
    }
    for suffix in ["hnsw.graph", "hnsw.data"] {
        let (Some(length), Some(hash)) = (input.u64(), input.u64()) else {
            return Ok(None);
        };
        let file = dir.join(format!("{BASENAME}.{suffix}"));
        match checksum(&file) {
            Ok(found) if found == (length, hash) => {}
            _ => {
                tracing::warn!(path = %file.display(), "vector index files do not match their checksum; rebuilding the graph from the store");
                return Ok(None);
            }
        }
    }
    let Some(count) = input.u64() else {
        return Ok(None);
    };
    let mut points = HashMap::new();
    for _ in 0..count {
        let (Some(id), Some(doc), Some(revision)) = (input.u64(), input.id(), input.u64()) else {
            return Ok(None);
        };
        let id = usize::try_from(id).map_err(|e| io(&path, e))?;
        points.insert(doc, SavedPoint { id, doc, revision });
    }
    let graph_points = usize::try_from(graph_points).map_err(|e| io(&path, e))?;
    let graph = Graph::load(dir, BASENAME, graph_points)?;
    Ok(Some(Saved {
        graph,
        points,
        graph_points,
        next_id: usize::try_from(next_id).map_err(|e| io(&path, e))?,
    }))
}

/// The directory of one vector index under a store's vector root.
pub(crate) fn index_dir(root: &Path, table: &str, index: &str) -> PathBuf {
    root.join(format!("{table}.{index}"))
}
