//! Full-text search indexes: tantivy for the bulk, memory for what changed
//! since tantivy's last commit, so a search at any recent snapshot sees
//! exactly the documents committed at or before it.
//!
//! A search index has *generations*: tantivy commits, each holding the live
//! documents as of a store timestamp. Every commit the store makes is also
//! recorded in the index's [`Overlay`] (before the commit becomes visible),
//! with its exact effect on the corpus statistics. A search at snapshot `s`
//! takes the newest generation `g <= s`, lets tantivy rank its documents
//! with the statistics *at `s`*, skips every document that changed in
//! `(g, s]` and ranks those documents' states at `s` from memory, with the
//! same BM25 formula. A background task writes the overlay into tantivy
//! (off the async workers) and retires old generations.
//!
//! Ranking: BM25 over the search field, ties broken by newer
//! `_creationTime` (unique per table), so results have a total order.

mod analyzer;
mod cursor;
mod disk;
mod overlay;
mod read_keys;
mod stats;

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock, RwLockReadGuard, Weak};
use std::time::Duration;

use tantivy::Searcher;

pub use analyzer::MAX_TERM_BYTES;
pub(crate) use analyzer::terms;
pub(crate) use analyzer::{IndexedDoc, filter_value_key};
pub(crate) use cursor::{Ranked, Ranking, SearchCursor, Searched};
pub(crate) use disk::Window;
use disk::{DiskIndex, build_query, index_dir, top_hits};
use overlay::{Change, Overlay};
pub(crate) use read_keys::document_keys;
use stats::{QueryStats, TermStats, score};

use super::persistence::for_each_live_document;
use super::transaction::PendingWrite;
use super::{Catalog, IndexId, KeyInterval, Persistence, SearchIndexMeta, StoreError};
use crate::value::{DocumentId, InternalId};

/// The most terms a search string may have.
pub const MAX_SEARCH_TERMS: usize = 16;
/// The most filter clauses a search may have.
pub const MAX_SEARCH_FILTERS: usize = 8;
/// The most results one search returns (page through more).
pub const MAX_SEARCH_RESULTS: usize = 1024;
/// The most dictionary terms the last (prefix) term expands to; the most
/// frequent are kept.
pub const MAX_PREFIX_EXPANSIONS: usize = 32;

/// How often the overlay is written into tantivy, at most.
const FLUSH_INTERVAL: Duration = Duration::from_millis(1000);
/// Changes that make a flush start before the interval is over.
const FLUSH_CHANGES: usize = 20_000;
/// How long (in store time) an older generation stays searchable after a newer one exists.
const RETAIN_NS: u64 = 10_000_000_000;

/// A failure inside the search index machinery.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TextError {
    /// Tantivy failed.
    #[error("tantivy: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The store is closing or closed; nothing more is written.
    #[error("the search index is closed")]
    Closed,
    /// A file operation failed.
    #[error("search index files at {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

impl TextError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        TextError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A parsed search: terms, the prefix (last) term, and filters.
#[derive(Clone, Debug, Default)]
pub(crate) struct TextQuery {
    /// Every term but the last, distinct.
    pub(crate) terms: Vec<String>,
    /// The last term, matched as a prefix too.
    pub(crate) prefix: Option<String>,
    /// `(filter position, value key)`.
    pub(crate) filters: Vec<(usize, Vec<u8>)>,
}

impl TextQuery {
    /// The read-set intervals of this search in its index's key space.
    pub(crate) fn read_intervals(&self, meta: &SearchIndexMeta) -> Vec<KeyInterval> {
        read_keys::query_intervals(self, meta)
    }

    fn matches_filters(&self, doc: &IndexedDoc) -> bool {
        self.filters
            .iter()
            .all(|(p, v)| doc.filters.get(*p).is_some_and(|f| f == v))
    }
}

/// A document this transaction wrote: its state at the snapshot and its new state.
pub(crate) struct OwnWrite {
    pub(crate) id: InternalId,
    pub(crate) old: Option<IndexedDoc>,
    pub(crate) new: Option<IndexedDoc>,
}

/// A tantivy commit and the changes that came after it.
struct Generation {
    /// The store timestamp the commit holds the documents of.
    ts: u64,
    /// `None` while tantivy is still writing the commit (or if that failed:
    /// the next flush writes its changes too).
    searcher: Option<Searcher>,
    /// Every change after `ts` up to the next generation's `ts`; empty for
    /// the newest generation, whose later changes are the state's `tail`.
    changes: Arc<Overlay>,
}

struct State {
    /// Oldest first; never empty; the oldest has a searcher.
    generations: VecDeque<Generation>,
    /// Every change after the newest generation's `ts`.
    tail: Overlay,
    /// Exact statistics at `latest_ts`.
    latest: TermStats,
    latest_ts: u64,
}

impl State {
    /// The generation a search at `snapshot` starts from: the newest with a
    /// searcher at or before it.
    fn base(&self, snapshot: u64) -> Option<usize> {
        self.generations
            .iter()
            .rposition(|g| g.ts <= snapshot && g.searcher.is_some())
    }

    /// The changes after generation `from`'s commit, oldest first.
    fn overlays_from(&self, from: usize) -> impl DoubleEndedIterator<Item = &Overlay> {
        self.generations
            .iter()
            .skip(from)
            .map(|g| &*g.changes)
            .chain(std::iter::once(&self.tail))
    }
}

/// One search index at run time.
pub(crate) struct TextIndex {
    disk: DiskIndex,
    state: RwLock<State>,
    /// Held for a whole flush: flushes must apply their changes in order.
    flushing: std::sync::Mutex<()>,
}

impl TextIndex {
    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn state_mut(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Builds the runtime index from the store's live documents at `ts`,
    /// correcting (or rebuilding) the tantivy files to match them.
    fn open(
        meta: &SearchIndexMeta,
        dir: Option<&Path>,
        documents: Vec<(u64, IndexedDoc)>,
        ts: u64,
    ) -> Result<TextIndex, TextError> {
        let disk = DiskIndex::open(meta, dir)?;
        let indexed = disk.revisions()?;
        let mut latest = TermStats::default();
        let mut live = HashSet::with_capacity(documents.len());
        let mut upserts = Vec::new();
        for (rev, doc) in &documents {
            latest.add(doc);
            live.insert(doc.id);
            if indexed.get(&doc.id) != Some(rev) {
                upserts.push((*rev, doc));
            }
        }
        let deletes: Vec<InternalId> = indexed
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        if !upserts.is_empty() || !deletes.is_empty() {
            tracing::info!(
                index = %meta.name, table = %meta.table_name,
                written = upserts.len(), deleted = deletes.len(),
                "bringing search index files up to date with the store"
            );
        }
        let searcher = disk.apply(&upserts, &deletes, ts)?;
        Ok(TextIndex {
            disk,
            flushing: std::sync::Mutex::new(()),
            state: RwLock::new(State {
                generations: VecDeque::from([Generation {
                    ts,
                    searcher: Some(searcher),
                    changes: Arc::default(),
                }]),
                tail: Overlay::default(),
                latest,
                latest_ts: ts,
            }),
        })
    }

    /// Records one commit's changes (called by the committer before the
    /// commit becomes visible). Returns how many changes wait for a flush.
    fn record(
        &self,
        ts: u64,
        changes: Vec<(InternalId, Option<IndexedDoc>, Option<IndexedDoc>)>,
    ) -> usize {
        let mut state = self.state_mut();
        for (id, old, new) in changes {
            state.latest.apply(old.as_ref(), new.as_ref());
            state.tail.push(Change {
                ts,
                id,
                old: old.map(Arc::new),
                new: new.map(Arc::new),
            });
        }
        state.latest_ts = state.latest_ts.max(ts);
        state.tail.len()
    }

    /// Writes the changes since the newest tantivy commit into a new commit
    /// and makes it searchable (blocking). The commit path holds the state's
    /// lock only to seal the tail and to install the result, never while
    /// tantivy works.
    fn flush(&self) -> Result<(), TextError> {
        let _one_at_a_time = self
            .flushing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Seal: the tail becomes the newest generation's changes, and a new
        // (not yet searchable) generation starts at `through`.
        let (through, pending) = {
            let mut state = self.state_mut();
            if state.tail.len() == 0 {
                return Ok(());
            }
            let through = state.latest_ts;
            let sealed = Arc::new(std::mem::take(&mut state.tail));
            if let Some(newest) = state.generations.back_mut() {
                newest.changes = sealed;
            }
            state.generations.push_back(Generation {
                ts: through,
                searcher: None,
                changes: Arc::default(),
            });
            // Everything since the newest searchable commit (more than the
            // sealed tail if an earlier flush failed).
            let base = state.base(u64::MAX).unwrap_or(0);
            let pending: Vec<Arc<Overlay>> = state
                .generations
                .iter()
                .skip(base)
                .map(|g| g.changes.clone())
                .collect();
            (through, pending)
        };
        let mut last: HashMap<InternalId, (u64, Option<Arc<IndexedDoc>>)> = HashMap::new();
        for overlay in &pending {
            for change in overlay.between(0, through) {
                last.insert(change.id, (change.ts, change.new.clone()));
            }
        }
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for (id, (ts, new)) in last {
            match new {
                Some(doc) => upserts.push((ts, doc)),
                None => deletes.push(id),
            }
        }
        let refs: Vec<(u64, &IndexedDoc)> = upserts.iter().map(|(ts, d)| (*ts, &**d)).collect();
        let searcher = self.disk.apply(&refs, &deletes, through)?;
        drop(pending);
        let mut state = self.state_mut();
        if let Some(generation) = state.generations.iter_mut().rev().find(|g| g.ts == through) {
            generation.searcher = Some(searcher);
        }
        // Retire generations that a searchable newer one has replaced for
        // long enough: snapshots that old are refused.
        let horizon = state.latest_ts.saturating_sub(RETAIN_NS);
        if let Some(keep_from) = state.base(horizon) {
            state.generations.drain(..keep_from);
        }
        Ok(())
    }

    /// Writes what is pending and stops the tantivy writer (blocking).
    fn close(&self) -> Result<(), TextError> {
        self.flush()?;
        let _no_flush_meanwhile = self
            .flushing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.disk.close()
    }

    /// The best results of `query` at `snapshot`, with the transaction's own
    /// writes applied, in `window` (blocking: tantivy runs here).
    fn search(
        &self,
        snapshot: u64,
        query: &TextQuery,
        own: &[OwnWrite],
        window: Window,
    ) -> Result<Searched, StoreError> {
        let state = self.state();
        let Some(base) = state.base(snapshot) else {
            let oldest = state.generations.front().map_or(0, |g| g.ts);
            return Err(StoreError::SearchSnapshotTooOld { oldest });
        };
        let generation = &state.generations[base];
        // A later page ranks as its pagination's first page did.
        let (terms, stats) = match &window.ranking {
            Some(ranking) => ranking.terms_and_stats(),
            None => terms_and_stats(&state, base, snapshot, query, own),
        };
        let ranking = Ranking::new(&terms, &stats);
        if terms.is_empty() || stats.doc_count() == 0 || window.limit == 0 {
            return Ok(Searched {
                ranked: Vec::new(),
                ranking,
            });
        }
        let weights = stats.weights(&terms);
        let mut window = window;
        window.rescore(&terms, &weights);
        let limit = window.limit;

        // Documents whose state at the snapshot differs from the base's.
        // Only those with a searched term (its words and the prefix's
        // expansions) before or after a change can be affected by it.
        let mut current: HashMap<InternalId, Option<Arc<IndexedDoc>>> = HashMap::new();
        let mut recent = HashSet::new();
        for overlay in state.overlays_from(base) {
            recent.extend(overlay.concerning(&terms, generation.ts, snapshot));
        }
        for id in recent {
            let newest = state
                .overlays_from(base)
                .rev()
                .find_map(|o| o.state_between(&id, generation.ts, snapshot));
            if let Some(doc) = newest {
                current.insert(id, doc);
            }
        }
        for write in own {
            current.insert(write.id, write.new.clone().map(Arc::new));
        }
        let excluded: HashSet<InternalId> = current.keys().copied().collect();
        let mut ranked: Vec<Ranked> = current
            .values()
            .flatten()
            .filter(|doc| query.matches_filters(doc))
            .filter_map(|doc| {
                score(doc, &terms, &weights).map(|score| Ranked {
                    score,
                    creation_time: doc.creation_time,
                    id: doc.id,
                })
            })
            .filter(|r| window.admits(r))
            .collect();
        let Some(searcher) = generation.searcher.clone() else {
            return Err(StoreError::Search("search base without a searcher".into()));
        };
        drop(state);

        let tantivy_query = build_query(self.disk.fields(), &terms, &query.filters);
        let hits = top_hits(
            &searcher,
            tantivy_query.as_ref(),
            &stats,
            &excluded,
            &window,
        )
        .map_err(|e| StoreError::Search(e.to_string()))?;
        ranked.extend(hits);
        ranked.sort_by(|a, b| b.cmp(a));
        ranked.truncate(limit);
        Ok(Searched { ranked, ranking })
    }
}

/// The terms a search ranks by (its terms plus the prefix's expansions) and
/// the exact statistics at `snapshot` with `own` writes applied.
fn terms_and_stats(
    state: &State,
    generation: usize,
    snapshot: u64,
    query: &TextQuery,
    own: &[OwnWrite],
) -> (Vec<String>, QueryStats) {
    let mut stats = QueryStats {
        docs: i64::try_from(state.latest.docs).unwrap_or(i64::MAX),
        tokens: i64::try_from(state.latest.tokens).unwrap_or(i64::MAX),
        df: HashMap::new(),
    };
    // Every change after the snapshot.
    let later: Vec<&Change> = state
        .overlays_from(generation)
        .flat_map(|o| o.newer_than(snapshot))
        .collect();
    let mut wanted: Vec<String> = query.terms.clone();
    if let Some(prefix) = &query.prefix {
        wanted.extend(
            state
                .latest
                .df
                .range::<str, _>((
                    std::ops::Bound::Included(prefix.as_str()),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(t, _)| t.starts_with(prefix.as_str()))
                .map(|(t, _)| t.clone()),
        );
        let recent = later
            .iter()
            .flat_map(|c| c.old.iter().chain(c.new.iter()).map(|d| &**d))
            .chain(own.iter().flat_map(|w| w.old.iter().chain(w.new.iter())));
        for doc in recent {
            wanted.extend(
                doc.terms
                    .iter()
                    .filter(|(t, _)| t.starts_with(prefix.as_str()))
                    .map(|(t, _)| t.clone()),
            );
        }
    }
    for term in wanted {
        let n = state.latest.df.get(&term).copied().unwrap_or(0);
        stats.df.insert(term, i64::try_from(n).unwrap_or(i64::MAX));
    }
    // Back from the latest commit to the snapshot, then forward through the
    // transaction's own writes.
    for change in later {
        if let Some(new) = &change.new {
            stats.shift(new, -1);
        }
        if let Some(old) = &change.old {
            stats.shift(old, 1);
        }
    }
    for write in own {
        if let Some(old) = &write.old {
            stats.shift(old, -1);
        }
        if let Some(new) = &write.new {
            stats.shift(new, 1);
        }
    }
    let mut terms: Vec<String> = query.terms.clone();
    if let Some(prefix) = &query.prefix {
        let mut expansions: Vec<(&String, i64)> = stats
            .df
            .iter()
            .filter(|(t, n)| t.starts_with(prefix.as_str()) && **n > 0)
            .map(|(t, n)| (t, *n))
            .collect();
        // The typed word itself first (when some document has it), then the
        // most frequent completions.
        expansions.sort_by(|a, b| {
            (a.0 != prefix)
                .cmp(&(b.0 != prefix))
                .then(b.1.cmp(&a.1))
                .then_with(|| a.0.cmp(b.0))
        });
        terms.extend(
            expansions
                .into_iter()
                .take(MAX_PREFIX_EXPANSIONS)
                .map(|(t, _)| t.clone()),
        );
    }
    terms.sort();
    terms.dedup();
    (terms, stats)
}

/// Every search index of a store.
pub(crate) struct TextIndexes {
    indexes: HashMap<IndexId, Arc<TextIndex>>,
    flush_now: tokio::sync::Notify,
    closed: std::sync::atomic::AtomicBool,
}

impl TextIndexes {
    /// Opens every search index of `catalog`, bringing its files (under
    /// `root`, or in memory) in line with the store's documents at `ts`.
    pub(crate) async fn open(
        catalog: &Catalog,
        persistence: &dyn Persistence,
        root: Option<PathBuf>,
        ts: u64,
    ) -> Result<Arc<TextIndexes>, StoreError> {
        if let Some(root) = &root {
            remove_dropped(root, catalog)?;
        }
        let mut indexes = HashMap::new();
        for meta in catalog.search_indexes() {
            let documents = live_documents(catalog, persistence, meta, ts).await?;
            let dir = root.as_ref().map(|r| index_dir(r, meta));
            let meta_owned = meta.clone();
            let index = tokio::task::spawn_blocking(move || {
                TextIndex::open(&meta_owned, dir.as_deref(), documents, ts)
            })
            .await
            .map_err(|e| StoreError::Search(e.to_string()))?
            .map_err(|e| StoreError::Search(e.to_string()))?;
            indexes.insert(meta.id, Arc::new(index));
        }
        let text = Arc::new(TextIndexes {
            indexes,
            flush_now: tokio::sync::Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        if !text.indexes.is_empty() {
            tokio::spawn(flush_loop(Arc::downgrade(&text)));
        }
        Ok(text)
    }

    /// Records a commit's changes to search indexes.
    pub(crate) fn record(&self, ts: u64, changes: Vec<TextChange>) {
        let mut by_index: HashMap<IndexId, Vec<_>> = HashMap::new();
        for change in changes {
            by_index
                .entry(change.index)
                .or_default()
                .push((change.id, change.old, change.new));
        }
        for (id, changes) in by_index {
            if let Some(index) = self.indexes.get(&id)
                && index.record(ts, changes) >= FLUSH_CHANGES
            {
                self.flush_now.notify_one();
            }
        }
    }

    /// Searches index `id` at `snapshot` (off the async workers).
    pub(crate) async fn search(
        &self,
        id: IndexId,
        snapshot: u64,
        query: TextQuery,
        own: Vec<OwnWrite>,
        window: Window,
    ) -> Result<Searched, StoreError> {
        let Some(index) = self.indexes.get(&id).cloned() else {
            return Err(StoreError::Search(format!(
                "search index #{} is not open",
                id.0
            )));
        };
        tokio::task::spawn_blocking(move || index.search(snapshot, &query, &own, window))
            .await
            .map_err(|e| StoreError::Search(e.to_string()))?
    }

    /// Writes every index's pending changes into tantivy now (blocking the
    /// caller until done). Used by tests and benchmarks.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        for index in self.indexes.values() {
            let index = index.clone();
            tokio::task::spawn_blocking(move || index.flush())
                .await
                .map_err(|e| StoreError::Search(e.to_string()))?
                .map_err(|e| StoreError::Search(e.to_string()))?;
        }
        Ok(())
    }
}

impl TextIndexes {
    /// Writes every index's pending changes and releases its files, so the
    /// store can be opened again in this process. Called once the committer
    /// has stopped; searches keep working afterwards, writes do not.
    pub(crate) async fn close(&self) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.flush_now.notify_one();
        for index in self.indexes.values() {
            let index = index.clone();
            match tokio::task::spawn_blocking(move || index.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "closing a search index failed; it is brought up to date at the next start")
                }
                Err(e) => tracing::warn!(error = %e, "closing a search index failed"),
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Acquire)
    }
}

/// What a transaction's writes do to search indexes: the changed documents
/// and the keys they touch (for conflict checks and subscriptions).
#[derive(Default)]
pub(crate) struct TextPlan {
    pub(crate) changes: Vec<TextChange>,
    pub(crate) keys: Vec<(IndexId, Vec<u8>)>,
}

impl TextPlan {
    /// The plan for `writes` (each document's state at the snapshot and its
    /// new state).
    pub(crate) fn of(catalog: &Catalog, writes: &[(DocumentId, PendingWrite)]) -> TextPlan {
        let mut plan = TextPlan::default();
        for (id, write) in writes {
            let Some(table) = catalog.table_by_number(id.table) else {
                continue;
            };
            for search_id in &table.search_indexes {
                let Some(meta) = catalog.search_index(*search_id) else {
                    continue;
                };
                let old = write
                    .old
                    .as_ref()
                    .and_then(|(_, doc)| IndexedDoc::of(meta, doc));
                let new = write.new.as_ref().and_then(|doc| IndexedDoc::of(meta, doc));
                if old == new {
                    continue;
                }
                for doc in old.iter().chain(new.iter()) {
                    plan.keys
                        .extend(document_keys(doc).map(|key| (meta.id, key)));
                }
                plan.changes.push(TextChange {
                    index: meta.id,
                    id: id.internal,
                    old,
                    new,
                });
            }
        }
        plan
    }
}

/// A change of one document in one search index.
pub(crate) struct TextChange {
    pub(crate) index: IndexId,
    pub(crate) id: InternalId,
    pub(crate) old: Option<IndexedDoc>,
    pub(crate) new: Option<IndexedDoc>,
}

async fn flush_loop(text: Weak<TextIndexes>) {
    loop {
        let Some(strong) = text.upgrade() else { return };
        let notified = async { strong.flush_now.notified().await };
        let _ = tokio::time::timeout(FLUSH_INTERVAL, notified).await;
        drop(strong);
        let Some(strong) = text.upgrade() else { return };
        if strong.is_closed() {
            return;
        }
        for index in strong.indexes.values() {
            let index = index.clone();
            let result = tokio::task::spawn_blocking(move || index.flush()).await;
            match result {
                Ok(Ok(())) => {}
                Ok(Err(TextError::Closed)) => return,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "writing a search index failed; will retry")
                }
                Err(e) => tracing::warn!(error = %e, "search index writer stopped"),
            }
        }
    }
}

/// Every live document of `meta`'s table at `ts`, as the index sees it, with its revision timestamp.
async fn live_documents(
    catalog: &Catalog,
    persistence: &dyn Persistence,
    meta: &SearchIndexMeta,
    ts: u64,
) -> Result<Vec<(u64, IndexedDoc)>, StoreError> {
    let mut out = Vec::new();
    for_each_live_document(
        catalog,
        persistence,
        meta.table,
        &meta.name,
        ts,
        |rev_ts, doc| {
            out.extend(IndexedDoc::of(meta, doc).map(|d| (rev_ts, d)));
        },
    )
    .await?;
    Ok(out)
}

/// Deletes index directories under `root` that no current search index uses.
fn remove_dropped(root: &Path, catalog: &Catalog) -> Result<(), StoreError> {
    let wanted: HashSet<PathBuf> = catalog
        .search_indexes()
        .map(|m| index_dir(root, m))
        .collect();
    let Ok(entries) = std::fs::read_dir(root) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && !wanted.contains(&path) {
            tracing::info!(path = %path.display(), "removing the files of a dropped search index");
            std::fs::remove_dir_all(&path)
                .map_err(|e| StoreError::Search(TextError::io(&path, e).to_string()))?;
        }
    }
    Ok(())
}
