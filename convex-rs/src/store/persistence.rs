use async_trait::async_trait;

use super::{Catalog, Document, IndexId, IndexMeta, KeyInterval, StoreError};
use crate::schema::Schema;
use crate::value::{DocumentId, InternalId, TableNumber};

/// Scan direction of an index range.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Ascending keys (oldest first on `by_creation_time`).
    #[default]
    Asc,
    /// Descending keys (newest first on `by_creation_time`).
    Desc,
}

/// The newest revision of a document at or before some timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct Revision {
    /// The commit timestamp of the revision.
    pub ts: u64,
    /// The document, or `None` if the revision is a deletion.
    pub document: Option<Document>,
}

/// A live index entry found by a scan, with the document revision it points to.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexEntry {
    /// The full index key.
    pub key: Vec<u8>,
    /// The timestamp of the document revision.
    pub ts: u64,
    /// The document as of the snapshot.
    pub document: Document,
}

/// One document revision to append.
#[derive(Clone, Debug)]
pub struct DocumentWrite {
    /// The document's id.
    pub id: DocumentId,
    /// The previous revision's timestamp, if the document existed.
    pub prev_ts: Option<u64>,
    /// The new content, `None` for a deletion.
    pub document: Option<Document>,
}

/// One index entry version to append.
#[derive(Clone, Debug)]
pub struct IndexWrite {
    /// The index.
    pub index: IndexId,
    /// The full key.
    pub key: Vec<u8>,
    /// Whether this version removes the key (the document left it).
    pub deleted: bool,
    /// The document the key belongs to.
    pub doc: InternalId,
}

/// Everything one committed transaction writes.
#[derive(Clone, Debug)]
pub struct CommitWrites {
    /// The commit timestamp.
    pub ts: u64,
    /// Document revisions.
    pub documents: Vec<DocumentWrite>,
    /// Index entry versions (only keys that changed; a document whose indexed
    /// fields did not change keeps its entry).
    pub index: Vec<IndexWrite>,
}

/// What one [`Persistence::collect_garbage`] call did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GarbageCollected {
    /// Everything written at or before this timestamp has been collected;
    /// reads at snapshots from here on see the same as before.
    pub through: u64,
    /// Document revisions deleted.
    pub revisions: u64,
    /// Index entry versions deleted.
    pub index_entries: u64,
}

/// Durable storage under the store: SQLite now, PostgreSQL later.
///
/// Implementations must make [`write`](Persistence::write) atomic and durable
/// (per their configured durability) before returning, and must serve reads at
/// any snapshot at or below the newest written timestamp.
#[async_trait]
pub trait Persistence: Send + Sync + 'static {
    /// Creates or updates the stored catalog to match `schema` (new tables and
    /// indexes, backfilling new indexes) and returns it with the newest
    /// persisted commit timestamp.
    async fn sync_catalog(&self, schema: &Schema) -> Result<(Catalog, u64), StoreError>;

    /// Durably writes a batch of commits in one transaction.
    async fn write(&self, batch: &[CommitWrites]) -> Result<(), StoreError>;

    /// The newest revision of `id` at or before `ts`.
    async fn get(
        &self,
        table: TableNumber,
        id: InternalId,
        ts: u64,
    ) -> Result<Option<Revision>, StoreError>;

    /// The newest revision at or before `ts` of each of `ids` (all of
    /// `table`), in the order given. Backends answer it in one round trip;
    /// the default asks for each in turn.
    async fn get_many(
        &self,
        table: TableNumber,
        ids: &[InternalId],
        ts: u64,
    ) -> Result<Vec<Option<Revision>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(table, *id, ts).await?);
        }
        Ok(out)
    }

    /// Up to `limit` live entries of `index` inside `interval` at snapshot `ts`, in `order`.
    async fn scan(
        &self,
        index: &IndexMeta,
        interval: &KeyInterval,
        ts: u64,
        order: Order,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, StoreError>;

    /// Flushes and closes connections.
    async fn close(&self);

    /// The oldest snapshot that still reads as it did: garbage written at or
    /// before it has been collected (0 when nothing has). Stored, so it
    /// survives restarts.
    async fn collected_through(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Deletes what no read at a snapshot at or after `floor` can see, among
    /// the rows written after [`collected_through`](Self::collected_through):
    /// revisions replaced by a newer one at or before `floor`, deletions
    /// (tombstones) at or before `floor`, and likewise for index entry
    /// versions. Does about `limit` revisions' worth of work per call, in one
    /// short write transaction, so commits wait at most that long; call again
    /// until `through` reaches `floor`. Callers keep `floor` at or below every
    /// snapshot still being read. The default keeps everything.
    async fn collect_garbage(
        &self,
        floor: u64,
        limit: usize,
    ) -> Result<GarbageCollected, StoreError> {
        let _ = limit;
        Ok(GarbageCollected {
            through: floor,
            ..GarbageCollected::default()
        })
    }

    /// Why nothing more can be committed here, once that is so: another
    /// process took the writer's lease, or the committing connection of a
    /// shared database failed. The server should stop.
    fn fatal_error(&self) -> Option<String> {
        None
    }
}

/// The live documents of one table at one snapshot, oldest first, read
/// from its `by_creation_time` index a page at a time (to build search and
/// vector indexes, and to export).
pub(crate) struct LiveDocuments<'a> {
    persistence: &'a dyn Persistence,
    by_creation: &'a IndexMeta,
    interval: KeyInterval,
    ts: u64,
    done: bool,
}

impl<'a> LiveDocuments<'a> {
    /// Documents read from each page.
    const PAGE: usize = 1024;

    /// The live documents of `table` at `ts`.
    pub(crate) fn of(
        catalog: &'a Catalog,
        persistence: &'a dyn Persistence,
        table: &super::TableMeta,
        ts: u64,
    ) -> Result<Self, StoreError> {
        let by_creation = catalog.index(table.by_creation_time).ok_or_else(|| {
            StoreError::Catalog(format!(
                "table {} has no by_creation_time index",
                table.name
            ))
        })?;
        Ok(LiveDocuments {
            persistence,
            by_creation,
            interval: KeyInterval::all(),
            ts,
            done: false,
        })
    }

    /// The next page, or `None` after the last.
    pub(crate) async fn next_page(&mut self) -> Result<Option<Vec<IndexEntry>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .persistence
            .scan(
                self.by_creation,
                &self.interval,
                self.ts,
                Order::Asc,
                Self::PAGE,
            )
            .await?;
        self.done = page.len() < Self::PAGE;
        if let Some(last) = page.last() {
            self.interval.start = super::read_set::successor(&last.key);
        }
        Ok(Some(page))
    }
}

/// Calls `visit(revision_ts, document)` for every live document of `table`
/// at `ts`, oldest first ([`LiveDocuments`]). `index` names the index being
/// built, for errors.
pub(crate) async fn for_each_live_document(
    catalog: &Catalog,
    persistence: &dyn Persistence,
    table: TableNumber,
    index: &str,
    ts: u64,
    mut visit: impl FnMut(u64, &Document),
) -> Result<(), StoreError> {
    let table = catalog
        .table_by_number(table)
        .ok_or_else(|| StoreError::Catalog(format!("no table for index {index}")))?;
    let mut pages = LiveDocuments::of(catalog, persistence, table, ts)?;
    while let Some(page) = pages.next_page().await? {
        for entry in &page {
            visit(entry.ts, &entry.document);
        }
    }
    Ok(())
}
