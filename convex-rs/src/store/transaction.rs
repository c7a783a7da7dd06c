//! A transaction: a snapshot, the reads it made, and its buffered writes.
//!
//! Reads see the snapshot plus the transaction's own earlier writes. Every
//! read records the key interval it covered into the [`ReadSet`], which the
//! committer validates and the subscription hub uses for invalidation.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::index_cache::MAX_MEMBERS;
use super::index_key::index_key;
use super::persistence::{IndexEntry, Revision};
use super::read_set::successor;
use super::revision_cache::CachedRevision;
use super::text::{IndexedDoc, OwnWrite, Searched, TextPlan, TextQuery, Window};
use super::vector::{IndexedVector, OwnVector, Scored, VectorPlan, VectorRead, VectorSearch};
use super::{
    Document, IndexId, IndexMeta, KeyInterval, Order, ReadSet, SearchIndexMeta, Store, StoreError,
    VectorIndexMeta,
};
use crate::value::{DocumentId, InternalId, TableNumber, Value, check_document};

/// Per-transaction limits (the same as Convex's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransactionLimits {
    /// Most documents a transaction may read (scanned, including ones a filter drops).
    pub max_documents_read: usize,
    /// Most bytes a transaction may read.
    pub max_bytes_read: usize,
    /// Most documents a transaction may write.
    pub max_documents_written: usize,
    /// Most bytes a transaction may write.
    pub max_bytes_written: usize,
}

impl Default for TransactionLimits {
    fn default() -> Self {
        TransactionLimits {
            max_documents_read: 32_000,
            max_bytes_read: 16 << 20,
            max_documents_written: 16_000,
            max_bytes_written: 16 << 20,
        }
    }
}

/// What a transaction has used so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransactionUsage {
    /// Documents read.
    pub documents_read: usize,
    /// Bytes read.
    pub bytes_read: usize,
    /// Documents written.
    pub documents_written: usize,
    /// Bytes written.
    pub bytes_written: usize,
}

/// A buffered write to one document.
#[derive(Clone, Debug)]
pub(crate) struct PendingWrite {
    /// The document as of the snapshot, with its revision timestamp.
    pub(crate) old: Option<(u64, Document)>,
    /// The new content, `None` for a deletion.
    pub(crate) new: Option<Document>,
}

/// What the committer receives.
pub(crate) struct PendingCommit {
    pub(crate) snapshot: u64,
    pub(crate) reads: ReadSet,
    pub(crate) writes: Vec<(DocumentId, PendingWrite)>,
    /// The writes' effect on search indexes, worked out by the caller (so
    /// tokenizing runs on the callers' threads, not in the single committer).
    pub(crate) text: TextPlan,
    /// The writes' effect on vector indexes.
    pub(crate) vectors: VectorPlan,
}

pub(crate) enum Finished {
    NoWrites { snapshot: u64 },
    Writes(PendingCommit),
}

struct TxState {
    reads: ReadSet,
    writes: BTreeMap<DocumentId, PendingWrite>,
    usage: TransactionUsage,
    journal: Journal,
}

/// Decisions a query execution made that a re-execution must repeat: for
/// pagination, where the page ended (see `Query::paginate`).
#[derive(Clone, Debug, Default)]
struct Journal {
    /// The journal this execution was started with.
    input: Option<String>,
    /// The journal this execution produced.
    output: Option<String>,
}

/// A snapshot transaction over the store.
pub struct Transaction {
    store: Store,
    /// Keeps the snapshot from being garbage-collected while it is read.
    _pin: super::gc::SnapshotPin,
    snapshot: u64,
    writable: bool,
    now_ms: f64,
    limits: TransactionLimits,
    state: Mutex<TxState>,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("snapshot", &self.snapshot)
            .field("writable", &self.writable)
            .finish_non_exhaustive()
    }
}

impl Transaction {
    pub(crate) fn new(
        store: Store,
        pin: super::gc::SnapshotPin,
        snapshot: u64,
        writable: bool,
        now_ms: f64,
        limits: TransactionLimits,
    ) -> Self {
        Transaction {
            store,
            _pin: pin,
            snapshot,
            writable,
            now_ms,
            limits,
            state: Mutex::new(TxState {
                reads: ReadSet::new(),
                writes: BTreeMap::new(),
                usage: TransactionUsage::default(),
                journal: Journal::default(),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, TxState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The snapshot timestamp all reads observe.
    pub fn snapshot_ts(&self) -> u64 {
        self.snapshot
    }

    /// Wall-clock milliseconds at the start of the transaction (fixed for its whole life).
    pub fn now_ms(&self) -> f64 {
        self.now_ms
    }

    /// Whether the transaction may write.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The store the transaction runs on.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A copy of everything read so far.
    pub fn read_set(&self) -> ReadSet {
        self.state().reads.clone()
    }

    /// Resources used so far.
    pub fn usage(&self) -> TransactionUsage {
        self.state().usage
    }

    /// Starts this execution from a journal produced by an earlier one.
    pub fn set_journal(&self, journal: Option<String>) {
        self.state().journal.input = journal;
    }

    /// The journal this execution was started with.
    pub fn journal_input(&self) -> Option<String> {
        self.state().journal.input.clone()
    }

    /// Records the journal for re-executions; only the first record counts.
    pub fn record_journal(&self, journal: String) {
        let mut state = self.state();
        if state.journal.output.is_none() {
            state.journal.output = Some(journal);
        }
    }

    /// The journal this execution produced, if any.
    pub fn journal(&self) -> Option<String> {
        self.state().journal.output.clone()
    }

    /// Records a read interval (used by scans and by callers with their own reads).
    pub fn record_read(&self, index: IndexId, interval: KeyInterval) {
        self.state().reads.record(index, interval);
    }

    fn count_read(&self, bytes: usize) -> Result<(), StoreError> {
        let mut state = self.state();
        state.usage.documents_read += 1;
        state.usage.bytes_read += bytes;
        if state.usage.documents_read > self.limits.max_documents_read {
            return Err(StoreError::LimitExceeded(format!(
                "read more than {} documents in one transaction; use an index range or pagination to read less",
                self.limits.max_documents_read
            )));
        }
        if state.usage.bytes_read > self.limits.max_bytes_read {
            return Err(StoreError::LimitExceeded(format!(
                "read more than {} bytes in one transaction; use an index range or pagination to read less",
                self.limits.max_bytes_read
            )));
        }
        Ok(())
    }

    /// Reads a document by id (seeing this transaction's own writes).
    pub async fn get(&self, id: DocumentId) -> Result<Option<Document>, StoreError> {
        Ok(self.get_revision(id).await?.and_then(|(_, doc)| doc))
    }

    /// The documents `ids` (all of one table) at this snapshot, in order, as
    /// [`get`](Transaction::get) would return them one by one, but with the
    /// ones not in memory read in a single round trip.
    pub async fn get_many(
        &self,
        table: TableNumber,
        ids: &[InternalId],
    ) -> Result<Vec<Option<Document>>, StoreError> {
        let Some(meta) = self.store.catalog().table_by_number(table) else {
            return Ok(vec![None; ids.len()]);
        };
        let mut out: Vec<Option<Option<Document>>> = Vec::with_capacity(ids.len());
        {
            let mut state = self.state();
            for internal in ids {
                state
                    .reads
                    .record(meta.by_id, KeyInterval::point(&internal.0));
                let id = DocumentId {
                    table,
                    internal: *internal,
                };
                out.push(state.writes.get(&id).map(|w| w.new.clone()));
            }
        }
        let mut missing = Vec::new();
        for (slot, internal) in out.iter_mut().zip(ids) {
            if slot.is_some() {
                continue;
            }
            let id = DocumentId {
                table,
                internal: *internal,
            };
            match self.store.revisions().get(id, self.snapshot) {
                Some(cached) => {
                    if let Some(doc) = &cached.document {
                        self.count_read(doc.size())?;
                    }
                    *slot = Some(cached.document);
                }
                None => missing.push(*internal),
            }
        }
        if !missing.is_empty() {
            let stored = self
                .store
                .persistence()
                .get_many(table, &missing, self.snapshot)
                .await?;
            let mut found: HashMap<InternalId, Option<Document>> = HashMap::new();
            for (internal, revision) in missing.iter().zip(stored) {
                let id = DocumentId {
                    table,
                    internal: *internal,
                };
                if let Some(rev) = &revision {
                    self.store.revisions().fill(
                        id,
                        self.snapshot,
                        &CachedRevision {
                            ts: rev.ts,
                            document: rev.document.clone(),
                        },
                    );
                }
                let document = revision.and_then(|r| r.document);
                if let Some(doc) = &document {
                    self.count_read(doc.size())?;
                }
                found.insert(*internal, document);
            }
            for (slot, internal) in out.iter_mut().zip(ids) {
                if slot.is_none() {
                    *slot = Some(found.get(internal).cloned().flatten());
                }
            }
        }
        Ok(out.into_iter().map(Option::flatten).collect())
    }

    /// The revision timestamp (None if written by this transaction) and content of `id`.
    async fn get_revision(
        &self,
        id: DocumentId,
    ) -> Result<Option<(Option<u64>, Option<Document>)>, StoreError> {
        let Some(table) = self.store.catalog().table_by_number(id.table) else {
            return Ok(None);
        };
        {
            let mut state = self.state();
            state
                .reads
                .record(table.by_id, KeyInterval::point(&id.internal.0));
            if let Some(write) = state.writes.get(&id) {
                return Ok(Some((None, write.new.clone())));
            }
        }
        let revision = self.stored_revision(id).await?;
        match revision {
            Some(rev) => {
                if let Some(doc) = &rev.document {
                    self.count_read(doc.size())?;
                }
                Ok(Some((Some(rev.ts), rev.document)))
            }
            None => Ok(None),
        }
    }

    /// The newest committed revision of `id` at the snapshot: from the
    /// revision cache when it knows, else from persistence (filling the cache).
    async fn stored_revision(&self, id: DocumentId) -> Result<Option<Revision>, StoreError> {
        if let Some(cached) = self.store.revisions().get(id, self.snapshot) {
            return Ok(Some(Revision {
                ts: cached.ts,
                document: cached.document,
            }));
        }
        let stored = self
            .store
            .persistence()
            .get(id.table, id.internal, self.snapshot)
            .await?;
        if let Some(rev) = &stored {
            self.store.revisions().fill(
                id,
                self.snapshot,
                &CachedRevision {
                    ts: rev.ts,
                    document: rev.document.clone(),
                },
            );
        }
        Ok(stored)
    }

    /// Starts a scan of `interval` of `index`. The part of the interval the scan
    /// examines is recorded in the read set when the scan is dropped.
    /// `page_hint` is the number of results the caller expects to need.
    pub fn scan(
        &self,
        index: &IndexMeta,
        interval: KeyInterval,
        order: Order,
        page_hint: usize,
    ) -> IndexScan<'_> {
        IndexScan {
            tx: self,
            index: index.clone(),
            original: interval.clone(),
            remaining: interval,
            order,
            buffer: VecDeque::new(),
            exhausted: false,
            page: page_hint.clamp(1, MAX_PAGE).next_power_of_two(),
            last_key: None,
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        if self.writable {
            Ok(())
        } else {
            Err(StoreError::ReadOnly)
        }
    }

    fn count_write(
        &self,
        state: &mut TxState,
        new_doc: bool,
        bytes: usize,
    ) -> Result<(), StoreError> {
        if new_doc {
            state.usage.documents_written += 1;
        }
        state.usage.bytes_written += bytes;
        if state.usage.documents_written > self.limits.max_documents_written {
            return Err(StoreError::LimitExceeded(format!(
                "wrote more than {} documents in one transaction; split the work across several mutations",
                self.limits.max_documents_written
            )));
        }
        if state.usage.bytes_written > self.limits.max_bytes_written {
            return Err(StoreError::LimitExceeded(format!(
                "wrote more than {} bytes in one transaction; split the work across several mutations",
                self.limits.max_bytes_written
            )));
        }
        Ok(())
    }

    /// Inserts a new document into `table` and returns its id.
    pub fn insert(
        &self,
        table: TableNumber,
        fields: BTreeMap<String, Value>,
    ) -> Result<DocumentId, StoreError> {
        self.check_writable()?;
        if self.store.catalog().table_by_number(table).is_none() {
            return Err(StoreError::UnknownTable(format!("#{}", table.0)));
        }
        check_document(&fields)?;
        let millis = self.now_ms.max(0.0) as u64;
        let id = DocumentId {
            table,
            internal: InternalId::new_time_ordered(millis, &mut rand::rng()),
        };
        let doc = Document {
            id,
            creation_time: self.store.next_creation_time(self.now_ms),
            fields,
        };
        self.check_vectors(&doc)?;
        let size = doc.size();
        let mut state = self.state();
        self.count_write(&mut state, true, size)?;
        state.writes.insert(
            id,
            PendingWrite {
                old: None,
                new: Some(doc),
            },
        );
        Ok(id)
    }

    /// Inserts `doc` with its own id and creation time (restoring a
    /// snapshot). Fails if a document with that id exists at this snapshot
    /// (a read of the id, so a concurrent insert of it conflicts).
    pub(crate) async fn insert_with_id(&self, doc: Document) -> Result<(), StoreError> {
        self.check_writable()?;
        if self.store.catalog().table_by_number(doc.id.table).is_none() {
            return Err(StoreError::UnknownTable(format!("#{}", doc.id.table.0)));
        }
        check_document(&doc.fields)?;
        if self.get(doc.id).await?.is_some() {
            return Err(StoreError::AlreadyExists(doc.id.encode()));
        }
        self.check_vectors(&doc)?;
        self.store.observe_creation_time(doc.creation_time);
        let size = doc.size();
        let mut state = self.state();
        self.count_write(&mut state, true, size)?;
        state.writes.insert(
            doc.id,
            PendingWrite {
                old: None,
                new: Some(doc),
            },
        );
        Ok(())
    }

    /// Replaces the fields of an existing document (keeping `_id` and `_creationTime`).
    pub async fn replace(
        &self,
        id: DocumentId,
        fields: BTreeMap<String, Value>,
    ) -> Result<(), StoreError> {
        self.update(id, |_| Ok::<_, StoreError>(fields)).await
    }

    /// Replaces the fields of an existing document with `f(current)`, reading
    /// the document once (a patch is a read-modify-write of one revision).
    pub async fn update<E: From<StoreError>>(
        &self,
        id: DocumentId,
        f: impl FnOnce(&Document) -> Result<BTreeMap<String, Value>, E>,
    ) -> Result<(), E> {
        self.check_writable()?;
        let (rev_ts, current) = self.existing(id).await?;
        let fields = f(&current)?;
        check_document(&fields).map_err(StoreError::from)?;
        let doc = Document {
            id,
            creation_time: current.creation_time,
            fields,
        };
        self.check_vectors(&doc)?;
        let size = doc.size();
        let mut state = self.state();
        Ok(self.write(&mut state, id, rev_ts, current, Some(doc), size)?)
    }

    /// Refuses a document whose vector field does not fit one of its table's
    /// vector indexes.
    fn check_vectors(&self, doc: &Document) -> Result<(), StoreError> {
        let catalog = self.store.catalog();
        let Some(table) = catalog.table_by_number(doc.id.table) else {
            return Ok(());
        };
        for id in &table.vector_indexes {
            if let Some(meta) = catalog.vector_index(*id) {
                IndexedVector::of(meta, doc)?;
            }
        }
        Ok(())
    }

    /// Deletes an existing document.
    pub async fn delete(&self, id: DocumentId) -> Result<(), StoreError> {
        self.check_writable()?;
        let (rev_ts, current) = self.existing(id).await?;
        let mut state = self.state();
        self.write(&mut state, id, rev_ts, current, None, 0)
    }

    async fn existing(&self, id: DocumentId) -> Result<(Option<u64>, Document), StoreError> {
        match self.get_revision(id).await? {
            Some((rev_ts, Some(doc))) => Ok((rev_ts, doc)),
            _ => Err(StoreError::NotFound(id.encode())),
        }
    }

    fn write(
        &self,
        state: &mut TxState,
        id: DocumentId,
        rev_ts: Option<u64>,
        current: Document,
        new: Option<Document>,
        size: usize,
    ) -> Result<(), StoreError> {
        let first_write = !state.writes.contains_key(&id);
        self.count_write(state, first_write, size)?;
        match state.writes.get_mut(&id) {
            Some(pending) => pending.new = new,
            None => {
                let old = rev_ts.map(|ts| (ts, current));
                state.writes.insert(id, PendingWrite { old, new });
            }
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Finished {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let writes: Vec<_> = state
            .writes
            .into_iter()
            .filter(|(_, w)| w.old.is_some() || w.new.is_some())
            .collect();
        if writes.is_empty() {
            return Finished::NoWrites {
                snapshot: self.snapshot,
            };
        }
        let text = TextPlan::of(self.store.catalog(), &writes);
        let vectors = VectorPlan::of(self.store.catalog(), &writes);
        Finished::Writes(PendingCommit {
            snapshot: self.snapshot,
            reads: state.reads,
            writes,
            text,
            vectors,
        })
    }

    /// This transaction's writes that belong in `interval` of `index`, with their keys.
    fn pending_in(&self, index: &IndexMeta, interval: &KeyInterval) -> Vec<(Vec<u8>, Document)> {
        let state = self.state();
        state
            .writes
            .iter()
            .filter(|(id, _)| id.table == index.table)
            .filter_map(|(_, w)| w.new.as_ref())
            .map(|doc| (index_key(index, doc), doc.clone()))
            .filter(|(key, _)| interval.contains(key))
            .collect()
    }

    fn is_overwritten(&self, id: &DocumentId) -> bool {
        self.state().writes.contains_key(id)
    }

    /// Runs a text search of `index` at this transaction's snapshot, seeing
    /// its own writes, and records what it read: each term (narrowed by the
    /// filters that fix leading filter fields) and the prefix.
    pub(crate) async fn search(
        &self,
        index: &SearchIndexMeta,
        query: TextQuery,
        window: Window,
    ) -> Result<Searched, StoreError> {
        let own = {
            let mut state = self.state();
            for interval in query.read_intervals(index) {
                state.reads.record(index.id, interval);
            }
            state
                .writes
                .iter()
                .filter(|(id, _)| id.table == index.table)
                .map(|(id, w)| OwnWrite {
                    id: id.internal,
                    old: w.old.as_ref().and_then(|(_, d)| IndexedDoc::of(index, d)),
                    new: w.new.as_ref().and_then(|d| IndexedDoc::of(index, d)),
                })
                .filter(|w| w.old != w.new)
                .collect()
        };
        self.store
            .text_indexes()
            .search(index.id, self.snapshot, query, own, window)
            .await
    }
}

impl Transaction {
    /// Runs a vector search of `index` at this transaction's snapshot,
    /// seeing its own writes, and records it in the read set as a predicate
    /// (see [`VectorRead`](super::vector::VectorRead)).
    pub(crate) async fn vector_search(
        &self,
        index: &VectorIndexMeta,
        search: VectorSearch,
    ) -> Result<Vec<Scored>, StoreError> {
        let own = {
            let state = self.state();
            state
                .writes
                .iter()
                .filter(|(id, _)| id.table == index.table)
                .map(|(id, w)| OwnVector {
                    doc: id.internal,
                    new: w
                        .new
                        .as_ref()
                        .and_then(|d| IndexedVector::of(index, d).ok().flatten()),
                })
                .collect()
        };
        let found = self
            .store
            .vector_indexes()
            .search(index.id, self.snapshot, search.clone(), own)
            .await?;
        let threshold = if found.len() >= search.limit {
            found.last().map_or(f32::NEG_INFINITY, |r| r.score)
        } else {
            f32::NEG_INFINITY
        };
        self.state().reads.record_vector(VectorRead {
            index: index.id,
            query: search.query,
            threshold,
            filter: search.filter,
        });
        Ok(found)
    }
}

const MAX_PAGE: usize = 1024;

/// An in-progress scan of an index interval, yielding documents in key order.
///
/// On drop it records into the transaction's read set exactly the part of the
/// interval it examined: everything up to the last key it yielded, or the
/// whole interval if it ran to the end.
pub struct IndexScan<'a> {
    tx: &'a Transaction,
    index: IndexMeta,
    original: KeyInterval,
    remaining: KeyInterval,
    order: Order,
    buffer: VecDeque<(Vec<u8>, Document)>,
    exhausted: bool,
    page: usize,
    last_key: Option<Vec<u8>>,
}

impl IndexScan<'_> {
    /// The next document, or `None` at the end of the interval.
    pub async fn next(&mut self) -> Result<Option<Document>, StoreError> {
        Ok(self.next_entry().await?.map(|(_, doc)| doc))
    }

    /// The next document with its index key.
    pub async fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Document)>, StoreError> {
        while self.buffer.is_empty() && !self.exhausted {
            self.fetch_page().await?;
        }
        let Some((key, doc)) = self.buffer.pop_front() else {
            return Ok(None);
        };
        self.tx.count_read(doc.size())?;
        self.last_key = Some(key.clone());
        Ok(Some((key, doc)))
    }

    /// The key of the last document returned.
    pub fn last_key(&self) -> Option<&[u8]> {
        self.last_key.as_deref()
    }

    /// Whether the scan has returned everything in its interval.
    pub fn is_done(&self) -> bool {
        self.exhausted && self.buffer.is_empty()
    }

    async fn fetch_page(&mut self) -> Result<(), StoreError> {
        if self.remaining.is_empty() {
            self.exhausted = true;
            return Ok(());
        }
        let limit = self.page;
        self.page = (self.page * 2).min(MAX_PAGE);
        let first_page = self.remaining == self.original;
        let cached = if first_page && !self.index.is_by_id() {
            self.cached_members(limit).await?
        } else {
            None
        };
        let stored = match cached {
            Some(entries) => entries,
            None if self.index.is_by_id() => Vec::new(),
            None => {
                let stored = self
                    .tx
                    .store
                    .persistence()
                    .scan(
                        &self.index,
                        &self.remaining,
                        self.tx.snapshot,
                        self.order,
                        limit,
                    )
                    .await?;
                // Only small ranges feed the caches: copying every document of
                // a large scan would cost on the read path and push hot
                // entries out.
                if stored.len() <= MAX_MEMBERS {
                    self.fill_caches(&stored, first_page && stored.len() < limit);
                }
                stored
            }
        };
        let full = stored.len() == limit;
        // The part of `remaining` this page fully accounts for.
        let covered = match (full, stored.last()) {
            (true, Some(last)) => match self.order {
                Order::Asc => KeyInterval {
                    start: self.remaining.start.clone(),
                    end: Some(successor(&last.key)),
                },
                Order::Desc => KeyInterval {
                    start: last.key.clone(),
                    end: self.remaining.end.clone(),
                },
            },
            _ => self.remaining.clone(),
        };
        let mut items: Vec<(Vec<u8>, Document)> = stored
            .into_iter()
            .filter(|e| !self.tx.is_overwritten(&e.document.id))
            .map(|e| (e.key, e.document))
            .collect();
        items.extend(self.tx.pending_in(&self.index, &covered));
        items.sort_by(|a, b| a.0.cmp(&b.0));
        if self.order == Order::Desc {
            items.reverse();
        }
        self.buffer.extend(items);
        if full {
            match self.order {
                Order::Asc => self.remaining.start = covered.end.unwrap_or_default(),
                Order::Desc => self.remaining.end = Some(covered.start),
            }
        } else {
            self.exhausted = true;
        }
        Ok(())
    }

    /// Records a small page's documents in the revision cache and, when the
    /// page is the whole interval, its members in the index cache.
    fn fill_caches(&self, stored: &[IndexEntry], whole_interval: bool) {
        let tx = self.tx;
        for entry in stored {
            tx.store.revisions().fill(
                entry.document.id,
                tx.snapshot,
                &CachedRevision {
                    ts: entry.ts,
                    document: Some(entry.document.clone()),
                },
            );
        }
        if whole_interval {
            let mut members: Vec<_> = stored
                .iter()
                .map(|e| (e.key.clone(), e.document.id.internal))
                .collect();
            if self.order == Order::Desc {
                members.reverse();
            }
            tx.store
                .index_ranges()
                .fill(self.index.id, &self.remaining, tx.snapshot, members);
        }
    }

    /// The whole interval's entries from the index cache, when it knows the
    /// interval's members and they fit in one page; `None` to scan SQLite.
    async fn cached_members(&self, limit: usize) -> Result<Option<Vec<IndexEntry>>, StoreError> {
        let tx = self.tx;
        let Some(members) =
            tx.store
                .index_ranges()
                .get(self.index.id, &self.remaining, tx.snapshot)
        else {
            return Ok(None);
        };
        if members.len() >= limit {
            return Ok(None);
        }
        let mut entries = Vec::with_capacity(members.len());
        for (key, internal) in members {
            let id = DocumentId {
                table: self.index.table,
                internal,
            };
            // A member always has a live revision at the snapshot; if not,
            // trust SQLite over the cache.
            let Some(Revision {
                ts,
                document: Some(document),
            }) = tx.stored_revision(id).await?
            else {
                return Ok(None);
            };
            entries.push(IndexEntry { key, ts, document });
        }
        if self.order == Order::Desc {
            entries.reverse();
        }
        Ok(Some(entries))
    }

    fn examined(&self) -> Option<KeyInterval> {
        if self.is_done() {
            return Some(self.original.clone());
        }
        let last = self.last_key.as_ref()?;
        Some(match self.order {
            Order::Asc => KeyInterval {
                start: self.original.start.clone(),
                end: Some(successor(last)),
            },
            Order::Desc => KeyInterval {
                start: last.clone(),
                end: self.original.end.clone(),
            },
        })
    }
}

impl Drop for IndexScan<'_> {
    fn drop(&mut self) {
        if let Some(interval) = self.examined() {
            self.tx.record_read(self.index.id, interval);
        }
    }
}
