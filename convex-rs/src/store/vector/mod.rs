//! Vector indexes: an HNSW graph for the bulk, exact search for what the
//! graph does not hold yet, so a search at any recent snapshot sees exactly
//! the documents committed at or before it.
//!
//! Every revision of a document that has a vector is a *point* with its own
//! id, alive from its commit timestamp until the commit that changes or
//! deletes the document (hnsw_rs cannot delete, so a point is never taken out
//! of a graph; searches skip points they must not see). The committer only
//! queues each commit's changes (`incoming`); a background worker thread
//! applies them to the index's state, inserts new points into the graph
//! (off the async workers, with rayon for large batches), forgets dead points
//! no snapshot can see any more, and rebuilds the graph when too many of its
//! points are dead.
//!
//! A search at snapshot `s` scores exactly: the queued changes at or before
//! `s`, the transaction's own writes, and the points not yet in the graph;
//! then asks the graph for the rest, visiting only points alive at `s` that
//! pass the filter. A filter that selects few points is answered by an exact
//! scan of those points instead: graph walks do poorly when most nodes are
//! filtered out.

mod files;
mod graph;
mod indexed;
mod predicate;

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use graph::Graph;
pub(crate) use indexed::{IndexedVector, dot, normalized};
pub(crate) use predicate::{FilterClauses, passes};
pub use predicate::{VectorRead, VectorWrite};

use super::persistence::for_each_live_document;
use super::transaction::PendingWrite;
use super::{Catalog, IndexId, Persistence, StoreError, VectorIndexMeta};
use crate::value::{DocumentId, InternalId};

/// The most results one vector search returns.
pub const MAX_VECTOR_RESULTS: usize = 256;
/// Results of a vector search that sets no limit.
pub const DEFAULT_VECTOR_RESULTS: usize = 10;
/// The most equality clauses a vector search's filter may have.
pub const MAX_VECTOR_FILTER_CLAUSES: usize = 64;

/// How long (in store time) a dead point stays visible to older snapshots.
const RETAIN_NS: u64 = 10_000_000_000;
/// Searches over at most this many points (after the filter; or 2% of the
/// live ones, if more) are answered by an exact scan.
const EXACT_BELOW: usize = 2048;
/// Points the worker inserts into the graph per step.
const INSERT_BATCH: usize = 2048;
/// A graph is rebuilt when more than this share of its points are dead...
const REBUILD_DEAD_SHARE: f64 = 0.3;
/// ...and it has at least this many points.
const REBUILD_MIN_POINTS: usize = 2048;
/// How often the worker looks for work when nobody wakes it.
const WORKER_PERIOD: Duration = Duration::from_millis(200);

/// One revision of a document in a vector index.
struct Point {
    doc: InternalId,
    inserted: u64,
    deleted: Option<u64>,
    vector: Arc<[f32]>,
    filters: Vec<Vec<u8>>,
}

impl Point {
    fn alive_at(&self, snapshot: u64) -> bool {
        self.inserted <= snapshot && self.deleted.is_none_or(|d| d > snapshot)
    }
}

/// A committed change, queued until the worker applies it.
#[derive(Clone)]
struct Queued {
    ts: u64,
    doc: InternalId,
    new: Option<Arc<IndexedVector>>,
}

#[derive(Default)]
struct State {
    points: HashMap<usize, Point>,
    /// The live point of each document.
    current: HashMap<InternalId, usize>,
    /// Points not (yet) in the graph; searched exactly.
    pending: BTreeSet<usize>,
    /// `(filter position, value key)` → points with that value.
    by_filter: HashMap<(usize, Vec<u8>), HashSet<usize>>,
    /// Dead points by death timestamp, to forget them when no snapshot can see them.
    dead: VecDeque<(u64, usize)>,
    /// Points in the graph that are dead or forgotten.
    dead_in_graph: usize,
    next_point: usize,
    /// Every change at or before this timestamp is applied.
    applied_ts: u64,
    /// Snapshots before this may miss forgotten points: they are refused.
    forgotten_through: u64,
}

impl State {
    fn live(&self) -> usize {
        self.current.len()
    }

    /// Adds a live point (pending unless it is already in the graph).
    fn add_point(&mut self, id: usize, doc: &IndexedVector, inserted: u64, pending: bool) {
        for (position, value) in doc.filters.iter().enumerate() {
            self.by_filter
                .entry((position, value.clone()))
                .or_default()
                .insert(id);
        }
        self.points.insert(
            id,
            Point {
                doc: doc.id,
                inserted,
                deleted: None,
                vector: doc.vector.clone(),
                filters: doc.filters.clone(),
            },
        );
        self.current.insert(doc.id, id);
        if pending {
            self.pending.insert(id);
        }
        self.next_point = self.next_point.max(id + 1);
    }

    fn apply(&mut self, change: &Queued) {
        if let Some(old) = self.current.remove(&change.doc)
            && let Some(point) = self.points.get_mut(&old)
        {
            point.deleted = Some(change.ts);
            self.dead.push_back((change.ts, old));
            if !self.pending.contains(&old) {
                self.dead_in_graph += 1;
            }
        }
        if let Some(new) = &change.new {
            self.add_point(self.next_point, new, change.ts, true);
        }
        self.applied_ts = self.applied_ts.max(change.ts);
    }

    /// Forgets points that died at or before `horizon`.
    fn forget_through(&mut self, horizon: u64) {
        while self.dead.front().is_some_and(|(ts, _)| *ts <= horizon) {
            let Some((ts, id)) = self.dead.pop_front() else {
                break;
            };
            if let Some(point) = self.points.remove(&id) {
                for (position, value) in point.filters.into_iter().enumerate() {
                    let key = (position, value);
                    if let Some(set) = self.by_filter.get_mut(&key) {
                        set.remove(&id);
                        if set.is_empty() {
                            self.by_filter.remove(&key);
                        }
                    }
                }
            }
            self.pending.remove(&id);
            self.forgotten_through = self.forgotten_through.max(ts);
        }
    }

    /// How many points (dead ones included) pass `filter`, at most.
    fn filtered_count(&self, filter: &FilterClauses) -> usize {
        filter
            .iter()
            .map(|(position, value)| {
                self.by_filter
                    .get(&(*position, value.clone()))
                    .map_or(0, HashSet::len)
            })
            .sum()
    }
}

/// A document this transaction wrote: its new state in one vector index.
pub(crate) struct OwnVector {
    pub(crate) doc: InternalId,
    pub(crate) new: Option<IndexedVector>,
}

/// A parsed vector search.
#[derive(Clone, Debug)]
pub(crate) struct VectorSearch {
    /// The normalized query vector.
    pub(crate) query: Arc<[f32]>,
    pub(crate) limit: usize,
    pub(crate) filter: FilterClauses,
}

/// One result: a document and its cosine similarity to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Scored {
    pub(crate) doc: InternalId,
    pub(crate) score: f32,
}

/// Best first; ties go to the smaller id.
fn rank(results: &mut Vec<Scored>, limit: usize) {
    results.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc)));
    results.truncate(limit);
}

/// One vector index at run time.
pub(crate) struct VectorIndex {
    meta: VectorIndexMeta,
    state: RwLock<State>,
    /// Committed changes not yet applied to `state`. Lock order: `state`
    /// before `incoming`.
    incoming: Mutex<Vec<Queued>>,
    graph: RwLock<Arc<Graph>>,
    /// Held while points go into a graph: the worker and `settle` must not
    /// insert the same points twice.
    graph_work: Mutex<()>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl VectorIndex {
    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn graph(&self) -> Arc<Graph> {
        self.graph
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The index over `documents` (each with its revision timestamp), as of
    /// `ts`, reusing the points of a `saved` graph whose documents have not
    /// changed since; every other document starts out pending, for the
    /// worker to put into the graph.
    fn open(
        meta: &VectorIndexMeta,
        documents: Vec<(u64, IndexedVector)>,
        ts: u64,
        saved: Option<files::Saved>,
    ) -> VectorIndex {
        let mut state = State::default();
        let count = documents.len();
        let graph = match saved {
            Some(saved) => {
                state.next_point = saved.next_id;
                let mut reused = 0;
                for (revision, doc) in &documents {
                    match saved.points.get(&doc.id) {
                        Some(point) if point.revision == *revision => {
                            state.add_point(point.id, doc, *revision, false);
                            reused += 1;
                        }
                        _ => state.add_point(state.next_point, doc, *revision, true),
                    }
                }
                state.dead_in_graph = saved.graph_points.saturating_sub(reused);
                tracing::info!(
                    index = %meta.name, table = %meta.table_name,
                    reused, new = count - reused, dead = state.dead_in_graph,
                    "vector index graph loaded from its files"
                );
                saved.graph
            }
            None => {
                for (revision, doc) in &documents {
                    state.add_point(state.next_point, doc, *revision, true);
                }
                Graph::new(count)
            }
        };
        state.applied_ts = ts;
        VectorIndex {
            meta: meta.clone(),
            state: RwLock::new(state),
            incoming: Mutex::new(Vec::new()),
            graph: RwLock::new(Arc::new(graph)),
            graph_work: Mutex::new(()),
        }
    }

    /// Writes the graph and its live points to `dir` (blocking; the worker
    /// must be stopped).
    fn save(&self, dir: &std::path::Path) -> Result<(), String> {
        self.apply_incoming();
        let _exclusive = lock(&self.graph_work);
        let graph = self.graph();
        let (points, next_id) = {
            let state = self.state();
            let points: Vec<files::SavedPoint> = state
                .points
                .iter()
                .filter(|(id, p)| p.deleted.is_none() && !state.pending.contains(id))
                .map(|(id, p)| files::SavedPoint {
                    id: *id,
                    doc: p.doc,
                    revision: p.inserted,
                })
                .collect();
            (points, state.next_point)
        };
        if graph.len() == 0 {
            // hnsw_rs cannot write an empty graph; nothing to keep.
            if dir.exists() {
                std::fs::remove_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            return Ok(());
        }
        files::save(dir, self.meta.dimensions, &graph, next_id, &points)
    }

    /// Moves the queued changes into the state.
    fn apply_incoming(&self) {
        let mut state = self.state_mut();
        let queued = std::mem::take(&mut *lock(&self.incoming));
        for change in &queued {
            state.apply(change);
        }
        let horizon = state.applied_ts.saturating_sub(RETAIN_NS);
        state.forget_through(horizon);
    }

    /// Inserts up to one batch of pending points into the graph; returns
    /// whether any were inserted.
    fn insert_pending(&self) -> bool {
        let _exclusive = lock(&self.graph_work);
        let graph = self.graph();
        let batch: Vec<(usize, Arc<[f32]>)> = {
            let state = self.state();
            state
                .pending
                .iter()
                .filter_map(|id| {
                    let point = state.points.get(id)?;
                    point.deleted.is_none().then(|| (*id, point.vector.clone()))
                })
                .take(INSERT_BATCH)
                .collect()
        };
        if batch.is_empty() {
            return false;
        }
        let refs: Vec<(usize, &[f32])> = batch.iter().map(|(id, v)| (*id, &**v)).collect();
        graph.insert(&refs);
        let mut state = self.state_mut();
        for (id, _) in &batch {
            state.pending.remove(id);
            // A point that died while it was inserted is a dead graph point.
            if state.points.get(id).is_none_or(|p| p.deleted.is_some()) {
                state.dead_in_graph += 1;
            }
        }
        true
    }

    /// Replaces the graph by one of its still-visible points when too many
    /// of its points are dead (blocking; the work of minutes for large
    /// indexes, during which new points wait, searched exactly).
    fn rebuild_if_worn(&self) {
        let _exclusive = lock(&self.graph_work);
        let graph = self.graph();
        let (dead, total) = (self.state().dead_in_graph, graph.len());
        if total < REBUILD_MIN_POINTS || (dead as f64) < REBUILD_DEAD_SHARE * total as f64 {
            return;
        }
        let points: Vec<(usize, Arc<[f32]>)> = {
            let state = self.state();
            state
                .points
                .iter()
                .filter(|(id, _)| !state.pending.contains(id))
                .map(|(id, p)| (*id, p.vector.clone()))
                .collect()
        };
        tracing::info!(
            index = %self.meta.name, table = %self.meta.table_name,
            points = points.len(), dead,
            "rebuilding a vector index graph without its dead points"
        );
        let fresh = Graph::new(points.len());
        let refs: Vec<(usize, &[f32])> = points.iter().map(|(id, v)| (*id, &**v)).collect();
        for chunk in refs.chunks(INSERT_BATCH) {
            fresh.insert(chunk);
        }
        let mut state = self.state_mut();
        state.dead_in_graph = points
            .iter()
            .filter(|(id, _)| state.points.get(id).is_none_or(|p| p.deleted.is_some()))
            .count();
        *self.graph.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
    }

    /// The best `search.limit` documents at `snapshot`, with `own` writes
    /// applied (blocking: the graph is walked here).
    fn search(
        &self,
        snapshot: u64,
        search: &VectorSearch,
        own: &[OwnVector],
        exact_below: usize,
    ) -> Result<Vec<Scored>, StoreError> {
        let graph = self.graph();
        let state = self.state();
        if snapshot < state.forgotten_through {
            return Err(StoreError::SearchSnapshotTooOld {
                oldest: state.forgotten_through,
            });
        }
        // Documents whose state at the snapshot is not the state's view:
        // queued changes up to the snapshot, then the transaction's writes.
        let mut overrides: HashMap<InternalId, Option<Arc<IndexedVector>>> = HashMap::new();
        for change in lock(&self.incoming).iter().filter(|c| c.ts <= snapshot) {
            overrides.insert(change.doc, change.new.clone());
        }
        for write in own {
            overrides.insert(write.doc, write.new.clone().map(Arc::new));
        }
        let query = &search.query;
        let score = |vector: &[f32]| indexed::dot(query, vector);
        let mut results: Vec<Scored> = overrides
            .iter()
            .filter_map(|(doc, new)| {
                let new = new.as_ref()?;
                passes(&search.filter, &new.filters).then(|| Scored {
                    doc: *doc,
                    score: score(&new.vector),
                })
            })
            .collect();
        let visible = |point: &Point| {
            point.alive_at(snapshot)
                && !overrides.contains_key(&point.doc)
                && passes(&search.filter, &point.filters)
        };
        // The points the graph does not hold.
        for id in &state.pending {
            if let Some(point) = state.points.get(id)
                && visible(point)
            {
                results.push(Scored {
                    doc: point.doc,
                    score: score(&point.vector),
                });
            }
        }
        let exact_results = |results: &mut Vec<Scored>| {
            let mut scan = |id: &usize| {
                if state.pending.contains(id) {
                    return;
                }
                if let Some(point) = state.points.get(id)
                    && visible(point)
                {
                    results.push(Scored {
                        doc: point.doc,
                        score: score(&point.vector),
                    });
                }
            };
            if search.filter.is_empty() {
                state.points.keys().for_each(&mut scan);
            } else {
                let mut seen = HashSet::new();
                for (position, value) in &search.filter {
                    if let Some(ids) = state.by_filter.get(&(*position, value.clone())) {
                        ids.iter()
                            .filter(|id| seen.insert(**id))
                            .for_each(&mut scan);
                    }
                }
            }
        };
        // Small indexes and selective filters are scanned exactly: cheaper
        // than a graph walk, and a walk that filters out most nodes finds
        // too few of the rest.
        let candidates = if search.filter.is_empty() {
            state.points.len()
        } else {
            state.filtered_count(&search.filter)
        };
        if candidates <= exact_below.max(state.live() / 50) {
            exact_results(&mut results);
        } else {
            let keep = |id: usize| {
                !state.pending.contains(&id) && state.points.get(&id).is_some_and(&visible)
            };
            let before = results.len();
            for id in graph.search(query, search.limit, &keep) {
                if let Some(point) = state.points.get(&id) {
                    results.push(Scored {
                        doc: point.doc,
                        score: score(&point.vector),
                    });
                }
            }
            // A walk can come back short when the filter or the dead points
            // cut the graph apart; the exact scan cannot.
            if results.len() - before < search.limit {
                results.truncate(before);
                exact_results(&mut results);
            }
        }
        rank(&mut results, search.limit);
        Ok(results)
    }
}

/// What a transaction's writes do to vector indexes.
#[derive(Default)]
pub(crate) struct VectorPlan {
    /// `(index, document, new state)` for every changed document.
    pub(crate) changes: Vec<(IndexId, InternalId, Option<Arc<IndexedVector>>)>,
    /// The new states, for conflict checks and subscriptions.
    pub(crate) writes: Vec<VectorWrite>,
}

impl VectorPlan {
    /// The plan for `writes` (each document's state at the snapshot and its
    /// new state). Vectors were checked when they were written.
    pub(crate) fn of(catalog: &Catalog, writes: &[(DocumentId, PendingWrite)]) -> VectorPlan {
        let mut plan = VectorPlan::default();
        for (id, write) in writes {
            let Some(table) = catalog.table_by_number(id.table) else {
                continue;
            };
            for index_id in &table.vector_indexes {
                let Some(meta) = catalog.vector_index(*index_id) else {
                    continue;
                };
                let of = |doc: &crate::store::Document| IndexedVector::of(meta, doc).ok().flatten();
                let old = write.old.as_ref().and_then(|(_, doc)| of(doc));
                let new = write.new.as_ref().and_then(of);
                if old == new {
                    continue;
                }
                if let Some(new) = &new {
                    plan.writes.push(VectorWrite {
                        index: meta.id,
                        vector: new.vector.clone(),
                        filters: new.filters.clone(),
                    });
                }
                plan.changes.push((meta.id, id.internal, new.map(Arc::new)));
            }
        }
        plan
    }
}

/// Every vector index of a store, and the worker that maintains them.
pub(crate) struct VectorIndexes {
    indexes: HashMap<IndexId, Arc<VectorIndex>>,
    /// Where the graphs are saved at close (`None`: a temporary store).
    root: Option<std::path::PathBuf>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    closed: AtomicBool,
    worker: Mutex<Option<std::thread::JoinHandle<()>>>,
    exact_below: AtomicUsize,
}

impl VectorIndexes {
    /// Opens every vector index of `catalog` over the store's documents at `ts`.
    pub(crate) async fn open(
        catalog: &Catalog,
        persistence: &dyn Persistence,
        root: Option<std::path::PathBuf>,
        ts: u64,
    ) -> Result<Arc<VectorIndexes>, StoreError> {
        if let Some(root) = &root {
            remove_dropped(root, catalog);
        }
        let mut indexes = HashMap::new();
        for meta in catalog.vector_indexes() {
            let documents = live_vectors(catalog, persistence, meta, ts).await?;
            let dir = root
                .as_ref()
                .map(|r| files::index_dir(r, &meta.table_name, &meta.name));
            let dimensions = meta.dimensions;
            let meta_owned = meta.clone();
            let index = tokio::task::spawn_blocking(move || {
                let saved = match dir.as_deref().map(|d| files::load(d, dimensions)) {
                    Some(Ok(saved)) => saved,
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "vector index files could not be read; rebuilding the graph from the store");
                        None
                    }
                    None => None,
                };
                VectorIndex::open(&meta_owned, documents, ts, saved)
            })
            .await
            .map_err(|e| StoreError::Search(e.to_string()))?;
            indexes.insert(meta.id, Arc::new(index));
        }
        let this = Arc::new(VectorIndexes {
            indexes,
            root,
            wake: Arc::new((Mutex::new(false), Condvar::new())),
            closed: AtomicBool::new(false),
            worker: Mutex::new(None),
            exact_below: AtomicUsize::new(EXACT_BELOW),
        });
        if !this.indexes.is_empty() {
            let weak = Arc::downgrade(&this);
            let wake = this.wake.clone();
            let handle = std::thread::Builder::new()
                .name("convex-vector-index".into())
                .spawn(move || worker(weak, wake))
                .map_err(|e| {
                    StoreError::Search(format!("cannot start the vector index worker: {e}"))
                })?;
            *lock(&this.worker) = Some(handle);
        }
        Ok(this)
    }

    fn wake(&self) {
        let (flag, signal) = &*self.wake;
        *lock(flag) = true;
        signal.notify_one();
    }

    /// Queues a commit's changes (called by the committer before the commit
    /// becomes visible; never waits for a search).
    pub(crate) fn record(
        &self,
        ts: u64,
        changes: Vec<(IndexId, InternalId, Option<Arc<IndexedVector>>)>,
    ) {
        if changes.is_empty() {
            return;
        }
        for (index, doc, new) in changes {
            if let Some(index) = self.indexes.get(&index) {
                lock(&index.incoming).push(Queued { ts, doc, new });
            }
        }
        self.wake();
    }

    /// Searches index `id` at `snapshot` (off the async workers).
    pub(crate) async fn search(
        &self,
        id: IndexId,
        snapshot: u64,
        search: VectorSearch,
        own: Vec<OwnVector>,
    ) -> Result<Vec<Scored>, StoreError> {
        let Some(index) = self.indexes.get(&id).cloned() else {
            return Err(StoreError::Search(format!(
                "vector index #{} is not open",
                id.0
            )));
        };
        let exact_below = self.exact_below.load(Ordering::Relaxed);
        tokio::task::spawn_blocking(move || index.search(snapshot, &search, &own, exact_below))
            .await
            .map_err(|e| StoreError::Search(e.to_string()))?
    }

    /// Applies every queued change and inserts every pending point into the
    /// graphs now (for tests and benchmarks; searches are exact either way).
    pub(crate) async fn settle(&self) -> Result<(), StoreError> {
        for index in self.indexes.values() {
            let index = index.clone();
            tokio::task::spawn_blocking(move || {
                index.apply_incoming();
                while index.insert_pending() {}
            })
            .await
            .map_err(|e| StoreError::Search(e.to_string()))?;
        }
        Ok(())
    }

    /// Sets how many candidate points a search scans exactly instead of
    /// walking the graph (tests use 0 to exercise the graph on small data).
    pub(crate) fn set_exact_below(&self, points: usize) {
        self.exact_below.store(points, Ordering::Relaxed);
    }

    /// Stops the worker and saves every graph (at store close), so the next
    /// start need not rebuild them.
    pub(crate) async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake();
        let handle = lock(&self.worker).take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        let Some(root) = &self.root else { return };
        for index in self.indexes.values() {
            let index = index.clone();
            let dir = files::index_dir(root, &index.meta.table_name, &index.meta.name);
            match tokio::task::spawn_blocking(move || index.save(&dir)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "saving a vector index graph failed; it is rebuilt at the next start")
                }
                Err(e) => tracing::warn!(error = %e, "saving a vector index graph failed"),
            }
        }
    }
}

/// The worker: applies queued changes, grows the graphs, rebuilds worn ones.
fn worker(indexes: Weak<VectorIndexes>, wake: Arc<(Mutex<bool>, Condvar)>) {
    loop {
        {
            let (flag, signal) = &*wake;
            let mut woken = lock(flag);
            if !*woken {
                woken = signal
                    .wait_timeout(woken, WORKER_PERIOD)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            *woken = false;
        }
        let Some(this) = indexes.upgrade() else {
            return;
        };
        if this.closed.load(Ordering::Acquire) {
            return;
        }
        for index in this.indexes.values() {
            index.apply_incoming();
            // One batch per index per turn, so queued changes keep flowing.
            if index.insert_pending() {
                this.wake();
            }
            index.rebuild_if_worn();
        }
    }
}

/// Deletes index directories under `root` that no current vector index uses.
fn remove_dropped(root: &std::path::Path, catalog: &Catalog) {
    let wanted: HashSet<std::path::PathBuf> = catalog
        .vector_indexes()
        .map(|m| files::index_dir(root, &m.table_name, &m.name))
        .collect();
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !wanted.contains(&path) {
            tracing::info!(path = %path.display(), "removing the files of a dropped vector index");
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(path = %path.display(), error = %e, "could not remove a dropped vector index's files");
            }
        }
    }
}

/// Every live document of `meta`'s table at `ts` with a vector, with its
/// revision timestamp. Documents whose vector does not fit the index (written
/// before the index existed) are skipped with a warning.
async fn live_vectors(
    catalog: &Catalog,
    persistence: &dyn Persistence,
    meta: &VectorIndexMeta,
    ts: u64,
) -> Result<Vec<(u64, IndexedVector)>, StoreError> {
    let mut out = Vec::new();
    let mut skipped = 0usize;
    for_each_live_document(
        catalog,
        persistence,
        meta.table,
        &meta.name,
        ts,
        |rev_ts, doc| match IndexedVector::of(meta, doc) {
            Ok(Some(vector)) => out.push((rev_ts, vector)),
            Ok(None) => {}
            Err(_) => skipped += 1,
        },
    )
    .await?;
    if skipped > 0 {
        tracing::warn!(
            index = %meta.name, table = %meta.table_name, skipped,
            "documents whose vector does not fit the index are not indexed"
        );
    }
    Ok(out)
}
