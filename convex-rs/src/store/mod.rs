//! The multi-version document store.
//!
//! Storage shape: a log of document revisions (appended to, and trimmed
//! behind the retention window by garbage collection, `gc.rs`) plus versioned
//! index entries, both in SQLite (see [`sqlite`]). A read at snapshot `ts`
//! sees, per document and per index key, the newest version at or before `ts`.
//!
//! Writes go through a single [`committer`](Store::begin) task that validates
//! each transaction's [`ReadSet`] against the writes committed since its
//! snapshot (optimistic concurrency control), assigns strictly increasing
//! commit timestamps and writes many transactions in one SQLite transaction
//! (group commit). A transaction is acknowledged only once its batch is durable.
//!
//! Architecture Invariant: the store knows nothing of functions, contexts or
//! the wire protocol; its callers hand it documents and key ranges.

mod catalog;
mod catalog_sync;
mod committer;
mod document;
mod error;
mod gc;
mod index_cache;
mod index_key;
mod persistence;
pub mod postgres;
mod read_set;
mod revision_cache;
pub mod sqlite;
pub(crate) mod text;
mod transaction;
pub(crate) mod vector;
mod write_log;

pub use catalog::{Catalog, IndexId, IndexMeta, SearchIndexMeta, TableMeta, VectorIndexMeta};
pub use document::{CREATION_TIME_FIELD, Document, ID_FIELD};
pub use error::{CommitError, StoreError};
pub use gc::{GcReport, Retention};
pub use index_key::{MISSING_FIELD, index_key_prefix};
pub(crate) use persistence::LiveDocuments;
pub use persistence::{
    CommitWrites, DocumentWrite, GarbageCollected, IndexEntry, IndexWrite, Order, Persistence,
    Revision,
};
pub use postgres::PostgresConfig;
pub use read_set::{KeyInterval, ReadSet};
pub use sqlite::{Durability, SqliteConfig};
pub use transaction::{IndexScan, Transaction, TransactionLimits, TransactionUsage};
pub use vector::{VectorRead, VectorWrite};
pub use write_log::CommitInfo;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, mpsc, watch};

use crate::schema::Schema;
pub use committer::CommitStats;
use committer::{CommitCounters, CommitRequest, Committer, CommitterMessage};
use index_cache::IndexCache;
use revision_cache::RevisionCache;

/// What reads may answer from memory instead of SQLite; the committer keeps
/// both up to date before it publishes a commit's timestamp.
pub(crate) struct ReadCaches {
    /// Newest revisions of recently used documents (point reads).
    pub(crate) revisions: RevisionCache,
    /// Members of small equality ranges of indexes (lookups).
    pub(crate) ranges: IndexCache,
}

/// Handle to an open store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    persistence: Arc<dyn Persistence>,
    catalog: Arc<Catalog>,
    durable_ts: watch::Receiver<u64>,
    commits: mpsc::Sender<CommitterMessage>,
    published: broadcast::Sender<Arc<CommitInfo>>,
    limits: TransactionLimits,
    commit_counters: Arc<CommitCounters>,
    caches: Arc<ReadCaches>,
    text: Arc<text::TextIndexes>,
    vectors: Arc<vector::VectorIndexes>,
    /// Snapshots being read, and the oldest one that may be.
    snapshots: Arc<gc::Snapshots>,
    /// Turns true when the store closes; dropped with it. Background tasks
    /// (garbage collection, expiry) end on either.
    stop_background: watch::Sender<bool>,
    /// Bits of the last `_creationTime` handed out (an f64), so creation times strictly increase.
    last_creation_time: AtomicU64,
}

/// A [`Store`] handle that does not keep it alive.
#[derive(Clone)]
pub(crate) struct WeakStore(std::sync::Weak<StoreInner>);

impl WeakStore {
    /// The store, unless every strong handle is gone.
    pub(crate) fn upgrade(&self) -> Option<Store> {
        self.0.upgrade().map(|inner| Store { inner })
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("durable_ts", &*self.inner.durable_ts.borrow())
            .finish()
    }
}

/// Capacity of the queue in front of the committer; callers wait when it is full.
const COMMIT_QUEUE: usize = 4096;
/// Commits kept for subscribers that fall behind.
const PUBLISH_CAPACITY: usize = 4096;
/// Memory for the newest revisions of recently used documents (an estimate
/// of their in-memory size; least recently used go first).
const REVISION_CACHE_BYTES: usize = 128 << 20;
/// Index equality ranges whose members are kept in memory.
const INDEX_CACHE_RANGES: usize = 50_000;

impl Store {
    /// Opens (or creates) a SQLite store and brings its catalog in line with `schema`:
    /// new tables and indexes are created, and new indexes are backfilled.
    pub async fn open_sqlite(config: SqliteConfig, schema: &Schema) -> Result<Store, StoreError> {
        // Search index files live beside the database: `<file>.search/`.
        let search_root = config.path.as_ref().map(|path| {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".search");
            path.with_file_name(name)
        });
        let persistence = sqlite::SqlitePersistence::open(config).await?;
        Store::open_with_search_root(Arc::new(persistence), schema, search_root).await
    }

    /// Opens a store on PostgreSQL (taking the writer's lease, or waiting
    /// for it with `standby`). Search index files and vector graphs are kept
    /// under `local_dir` on this machine (in memory when `None`) and rebuilt
    /// from the database when missing or stale.
    pub async fn open_postgres(
        config: PostgresConfig,
        schema: &Schema,
        local_dir: Option<std::path::PathBuf>,
    ) -> Result<Store, StoreError> {
        let persistence = postgres::PostgresPersistence::open(config).await?;
        let search_root = local_dir.map(|dir| dir.join("convex.postgres.search"));
        Store::open_with_search_root(Arc::new(persistence), schema, search_root).await
    }

    /// Opens a store over any [`Persistence`], keeping search indexes in memory.
    pub async fn open(
        persistence: Arc<dyn Persistence>,
        schema: &Schema,
    ) -> Result<Store, StoreError> {
        Store::open_with_search_root(persistence, schema, None).await
    }

    /// Opens a store over any [`Persistence`], keeping search index files
    /// under `search_root` (in memory when `None`). Every search index is
    /// brought up to date with the stored documents before this returns.
    pub async fn open_with_search_root(
        persistence: Arc<dyn Persistence>,
        schema: &Schema,
        search_root: Option<std::path::PathBuf>,
    ) -> Result<Store, StoreError> {
        schema.check().map_err(StoreError::Schema)?;
        let (catalog, max_ts) = persistence.sync_catalog(schema).await?;
        let collected_through = persistence.collected_through().await?;
        // The first snapshot is "now", not the last commit: every stored
        // revision is at or below it and every new commit above it. Clients
        // that saw timestamps from earlier data (a wiped or fresh database
        // under an open page) can then reconnect.
        let max_ts = max_ts.max(wall_clock_nanos());
        let catalog = Arc::new(catalog);
        let vector_root = search_root
            .as_ref()
            .map(|root| root.with_extension("vectors"));
        let text =
            text::TextIndexes::open(&catalog, persistence.as_ref(), search_root, max_ts).await?;
        let vectors =
            vector::VectorIndexes::open(&catalog, persistence.as_ref(), vector_root, max_ts)
                .await?;
        let (durable_tx, durable_ts) = watch::channel(max_ts);
        let (published, _) = broadcast::channel(PUBLISH_CAPACITY);
        let (commits, requests) = mpsc::channel(COMMIT_QUEUE);
        let commit_counters = Arc::new(CommitCounters::default());
        let caches = Arc::new(ReadCaches {
            revisions: RevisionCache::new(REVISION_CACHE_BYTES),
            ranges: IndexCache::new(INDEX_CACHE_RANGES),
        });
        let committer = Committer::new(
            persistence.clone(),
            catalog.clone(),
            max_ts,
            durable_tx,
            published.clone(),
            commit_counters.clone(),
            committer::Derived {
                caches: caches.clone(),
                text: text.clone(),
                vectors: vectors.clone(),
            },
        );
        tokio::spawn(committer.run(requests));
        Ok(Store {
            inner: Arc::new(StoreInner {
                persistence,
                catalog,
                durable_ts,
                commits,
                published,
                limits: TransactionLimits::default(),
                commit_counters,
                caches,
                text,
                vectors,
                snapshots: gc::Snapshots::new(collected_through),
                stop_background: watch::channel(false).0,
                last_creation_time: AtomicU64::new(0f64.to_bits()),
            }),
        })
    }

    /// The tables and indexes.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.inner.catalog
    }

    /// How many transactions the committer has written, and in how many
    /// group commits, since the store was opened.
    pub fn commit_stats(&self) -> CommitStats {
        self.inner.commit_counters.get()
    }

    /// Why nothing more can be committed here, once that is so (on
    /// PostgreSQL: another server took the writer's lease, or the
    /// committing connection failed). The server should stop.
    pub fn fatal_error(&self) -> Option<String> {
        self.inner.persistence.fatal_error()
    }

    /// The newest timestamp whose commits are durable and visible to readers.
    pub fn latest_ts(&self) -> u64 {
        *self.inner.durable_ts.borrow()
    }

    /// Waits until every commit up to `ts` is durable and visible.
    pub async fn wait_for_ts(&self, ts: u64) -> Result<(), StoreError> {
        let mut rx = self.inner.durable_ts.clone();
        rx.wait_for(|durable| *durable >= ts)
            .await
            .map(|_| ())
            .map_err(|_| StoreError::Closed)
    }

    /// Subscribes to commits as they become durable (used by the subscription hub).
    pub fn subscribe_commits(&self) -> broadcast::Receiver<Arc<CommitInfo>> {
        self.inner.published.subscribe()
    }

    /// Begins a read-only transaction at the latest durable snapshot.
    pub fn begin_read(&self) -> Transaction {
        self.begin_latest(false)
    }

    /// Begins a read-only transaction at an older snapshot `ts`: at most the
    /// latest, and not older than the retention window
    /// ([`StoreError::SnapshotExpired`]).
    pub fn begin_read_at(&self, ts: u64) -> Result<Transaction, StoreError> {
        let latest = self.latest_ts();
        if ts > latest {
            return Err(StoreError::FutureTimestamp {
                requested: ts,
                latest,
            });
        }
        let pin = self.inner.snapshots.pin(ts)?;
        Ok(self.begin_pinned(pin, ts, false))
    }

    /// Begins a read-write transaction at the latest durable snapshot.
    pub fn begin(&self) -> Transaction {
        self.begin_latest(true)
    }

    fn begin_latest(&self, writable: bool) -> Transaction {
        let ts = self.latest_ts();
        let pin = self.inner.snapshots.pin_latest(ts);
        self.begin_pinned(pin, ts, writable)
    }

    fn begin_pinned(&self, pin: gc::SnapshotPin, ts: u64, writable: bool) -> Transaction {
        Transaction::new(
            self.clone(),
            pin,
            ts,
            writable,
            wall_clock_millis(),
            self.inner.limits,
        )
    }

    /// A handle that does not keep the store open (for background tasks
    /// that should end with it).
    pub(crate) fn downgrade(&self) -> WeakStore {
        WeakStore(Arc::downgrade(&self.inner))
    }

    /// Transactions waiting for the committer.
    pub fn commit_queue_len(&self) -> usize {
        self.inner.commits.max_capacity() - self.inner.commits.capacity()
    }

    /// Whether the store was closed (nothing more can be committed).
    pub fn is_closed(&self) -> bool {
        self.inner.commits.is_closed()
    }

    /// The oldest snapshot that can still be read (older revisions may have
    /// been garbage-collected).
    pub fn oldest_readable_ts(&self) -> u64 {
        self.inner.snapshots.floor()
    }

    /// Collects garbage now: raises the oldest readable snapshot to `window`
    /// before the newest commit (not past any snapshot being read) and
    /// deletes the revisions and index entry versions no readable snapshot
    /// can see. [`start_garbage_collection`](Self::start_garbage_collection)
    /// runs this in the background.
    pub async fn collect_garbage(&self, window: Duration) -> Result<GcReport, StoreError> {
        gc::collect(&self.inner, window, Retention::default().chunk).await
    }

    /// Collects garbage every `retention.interval` in a background task,
    /// until the store is closed or dropped.
    pub fn start_garbage_collection(&self, retention: Retention) {
        gc::spawn(Arc::downgrade(&self.inner), retention, self.closing());
    }

    /// Changes to true when the store closes, and errs once it is dropped:
    /// background tasks that hold only a [`WeakStore`] end on either.
    pub(crate) fn closing(&self) -> watch::Receiver<bool> {
        self.inner.stop_background.subscribe()
    }

    /// Commits a transaction: OCC validation, then a durable group commit.
    /// Returns the commit timestamp (the snapshot timestamp for a transaction that wrote nothing).
    pub async fn commit(&self, tx: Transaction) -> Result<u64, CommitError> {
        let writes = match tx.finish() {
            transaction::Finished::NoWrites { snapshot } => return Ok(snapshot),
            transaction::Finished::Writes(writes) => writes,
        };
        let (reply, response) = tokio::sync::oneshot::channel();
        self.inner
            .commits
            .send(CommitterMessage::Commit(CommitRequest { writes, reply }))
            .await
            .map_err(|_| CommitError::Closed)?;
        response.await.map_err(|_| CommitError::Closed)?
    }

    /// Finishes the commits already queued, then closes the database. Later
    /// commits on any handle of this store fail with [`CommitError::Closed`].
    pub async fn close(&self) {
        self.inner.stop_background.send_replace(true);
        let (done, closed) = tokio::sync::oneshot::channel();
        if self
            .inner
            .commits
            .send(CommitterMessage::Close(done))
            .await
            .is_ok()
        {
            let _ = closed.await;
        }
    }

    /// A `_creationTime` at or after `now_ms` and strictly after every earlier one,
    /// so that `by_creation_time` order is insertion order.
    pub(crate) fn next_creation_time(&self, now_ms: f64) -> f64 {
        let cell = &self.inner.last_creation_time;
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let last = f64::from_bits(current);
            let next = if now_ms > last { now_ms } else { next_up(last) };
            match cell.compare_exchange_weak(
                current,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(actual) => current = actual,
            }
        }
    }

    /// Makes later creation times come after `creation_time` (a document
    /// inserted with its own, restoring a snapshot).
    pub(crate) fn observe_creation_time(&self, creation_time: f64) {
        if !creation_time.is_finite() {
            return;
        }
        let cell = &self.inner.last_creation_time;
        let mut current = cell.load(Ordering::Relaxed);
        while creation_time > f64::from_bits(current) {
            match cell.compare_exchange_weak(
                current,
                creation_time.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn persistence(&self) -> &Arc<dyn Persistence> {
        &self.inner.persistence
    }

    pub(crate) fn revisions(&self) -> &RevisionCache {
        &self.inner.caches.revisions
    }

    pub(crate) fn index_ranges(&self) -> &IndexCache {
        &self.inner.caches.ranges
    }

    pub(crate) fn text_indexes(&self) -> &text::TextIndexes {
        &self.inner.text
    }

    pub(crate) fn vector_indexes(&self) -> &vector::VectorIndexes {
        &self.inner.vectors
    }

    /// Applies every committed change to the vector indexes and inserts all
    /// new vectors into their graphs now, instead of in the background.
    /// Searches are exact either way; benchmarks use this to measure the
    /// graph path.
    pub async fn settle_vector_indexes(&self) -> Result<(), StoreError> {
        self.inner.vectors.settle().await
    }

    /// Makes vector searches over at most `points` candidates (after their
    /// filter) scan exactly instead of walking the HNSW graph; the default
    /// is 2,048 (or 2% of the index, if more). For tests and benchmarks of
    /// the graph on small data.
    #[doc(hidden)]
    pub fn set_vector_exact_scan_limit(&self, points: usize) {
        self.inner.vectors.set_exact_below(points);
    }

    /// Writes every search index's recent changes into its tantivy files
    /// now instead of at the next background flush. Searches are exact
    /// either way; benchmarks use this to measure the on-disk path.
    pub async fn flush_search_indexes(&self) -> Result<(), StoreError> {
        self.inner.text.flush().await
    }
}

/// The smallest float64 greater than `x` for positive finite `x`, rounded up to
/// a whole microsecond step where possible so creation times stay readable.
fn next_up(x: f64) -> f64 {
    let step = x + 0.001;
    if step > x {
        step
    } else {
        f64::from_bits(x.to_bits() + 1)
    }
}

/// Milliseconds since the Unix epoch, as a float (Convex's `_creationTime` unit).
pub fn wall_clock_millis() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        * 1000.0
}

/// Nanoseconds since the Unix epoch (the unit of commit timestamps).
pub fn wall_clock_nanos() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    u64::try_from(nanos).unwrap_or(u64::MAX)
}
