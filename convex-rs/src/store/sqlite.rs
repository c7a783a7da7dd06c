//! SQLite persistence through sqlx: WAL mode, one writer connection owned by
//! the committer, a pool of read-only connections for snapshot reads.
//!
//! Tables:
//! * `documents(id, ts, table_number, value, deleted, prev_ts)`: the
//!   revision log, primary key `(id, ts)`;
//! * `index_entries(index_id, key, ts, deleted, doc_id)`: versioned index
//!   entries, primary key `(index_id, key, ts)`; a new version is written only
//!   when a document enters or leaves a key;
//! * `convex_tables`, `convex_indexes`, `convex_meta`: the catalog and the last
//!   commit timestamp.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, Row, SqliteConnection};
use tempfile::TempDir;
use tokio::sync::Mutex;

use super::catalog_sync::{
    CatalogTx, IndexRow, ReadOnlyCatalog, StoredIndex, StoredRevision, decode_document,
    index_fields_json, sync_catalog, table_number, ts_i64, ts_u64,
};
use super::gc::{GcSql, GcTx, collect_chunk};
use super::persistence::{CommitWrites, GarbageCollected, IndexEntry, Order, Revision};
use super::{Catalog, IndexMeta, KeyInterval, Persistence, StoreError};
use crate::schema::Schema;
use crate::value::{InternalId, TableNumber};

/// How hard SQLite works to make each commit survive a power loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// `synchronous=NORMAL` in WAL mode: a commit survives a crash of the
    /// process; a power loss may drop the last few commits. The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: every group commit waits for an fsync.
    Full,
}

/// Where and how to open the SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteConfig {
    /// The database file; `None` for a temporary file deleted on close.
    pub path: Option<PathBuf>,
    /// Sync mode.
    pub durability: Durability,
    /// Read-only connections in the reader pool.
    pub readers: u32,
}

impl SqliteConfig {
    /// A database at `path` (created if missing).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        SqliteConfig {
            path: Some(path.into()),
            durability: Durability::Normal,
            readers: 4,
        }
    }

    /// A temporary database, deleted when the store closes.
    pub fn temporary() -> Self {
        SqliteConfig {
            path: None,
            durability: Durability::Normal,
            readers: 4,
        }
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }
}

const SCHEMA_SQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS convex_meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS convex_tables (number INTEGER PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE IF NOT EXISTS convex_indexes (id INTEGER PRIMARY KEY NOT NULL, table_number INTEGER NOT NULL, \
     name TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (table_number, name))",
    "CREATE TABLE IF NOT EXISTS documents (id BLOB NOT NULL, ts INTEGER NOT NULL, table_number INTEGER NOT NULL, \
     value BLOB, deleted INTEGER NOT NULL, prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS index_entries (index_id INTEGER NOT NULL, key BLOB NOT NULL, ts INTEGER NOT NULL, \
     deleted INTEGER NOT NULL, doc_id BLOB NOT NULL, PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID",
    // Garbage collection walks what was written in a range of timestamps.
    "CREATE INDEX IF NOT EXISTS documents_by_ts ON documents (ts)",
    "CREATE INDEX IF NOT EXISTS index_entries_by_ts ON index_entries (ts)",
];

/// Garbage collection's statements (see [`GcSql`]). A revision is garbage
/// once a row written in `(?1, ?2]` replaced or deleted it; an index entry
/// version once a newer version of its key, or its removal, was written there.
const GC_SQL: GcSql = GcSql {
    collected_through: "SELECT value FROM convex_meta WHERE key = 'gc_ts'",
    revision_ts_after: "SELECT ts FROM documents WHERE ts > ?1 AND ts <= ?2 ORDER BY ts LIMIT 1 OFFSET ?3",
    delete_revisions: "DELETE FROM documents WHERE (id, ts) IN ( \
         SELECT id, prev_ts FROM documents WHERE ts > ?1 AND ts <= ?2 AND prev_ts IS NOT NULL \
         UNION ALL SELECT id, ts FROM documents WHERE ts > ?1 AND ts <= ?2 AND deleted = 1)",
    delete_index_entries: "DELETE FROM index_entries WHERE (index_id, key, ts) IN ( \
         SELECT o.index_id, o.key, o.ts FROM index_entries AS w JOIN index_entries AS o \
           ON o.index_id = w.index_id AND o.key = w.key AND o.ts < w.ts \
         WHERE w.ts > ?1 AND w.ts <= ?2 \
         UNION ALL SELECT index_id, key, ts FROM index_entries WHERE ts > ?1 AND ts <= ?2 AND deleted = 1)",
    record: "INSERT INTO convex_meta (key, value) VALUES ('gc_ts', ?1) \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.value > value",
};

/// Rows per multi-row INSERT statement, at most.
const MAX_ROWS_PER_STATEMENT: usize = 128;

/// The SQLite implementation of [`Persistence`].
pub struct SqlitePersistence {
    /// `None` once closed, and always for a read-only open.
    writer: Mutex<Option<SqliteConnection>>,
    readers: SqlitePool,
    /// `None` for a read-only open.
    checkpointer: Option<Checkpointer>,
    _temp: Option<TempDir>,
}

impl SqlitePersistence {
    /// Opens the database, creating it and its tables if needed.
    pub async fn open(config: SqliteConfig) -> Result<Self, StoreError> {
        let (path, temp) = match config.path {
            Some(path) => (path, None),
            None => {
                let dir = tempfile::tempdir()
                    .map_err(|e| StoreError::Catalog(format!("temporary directory: {e}")))?;
                (dir.path().join("convex.sqlite3"), Some(dir))
            }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::Catalog(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let synchronous = match config.durability {
            Durability::Normal => SqliteSynchronous::Normal,
            Durability::Full => SqliteSynchronous::Full,
        };
        let base = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .pragma("cache_size", "-65536")
            // A group commit's multi-row inserts keep a statement journal
            // (a copy of every page they change, for a partial rollback);
            // in memory it costs a copy instead of a write to a temp file.
            .pragma("temp_store", "memory");
        let mut writer = SqliteConnection::connect_with(
            &base
                .clone()
                .create_if_missing(true)
                .synchronous(synchronous)
                // Checkpoints run on their own connection (see `Checkpointer`).
                .pragma("wal_autocheckpoint", "0")
                // When the log restarts after a checkpoint, a log that grew in
                // a burst of writes is cut back to this size (above the
                // restart point below, so a steady load never truncates it).
                .pragma("journal_size_limit", "134217728"),
        )
        .await?;
        for sql in SCHEMA_SQL {
            sqlx::query(*sql).execute(&mut writer).await?;
        }
        let readers = SqlitePoolOptions::new()
            .max_connections(config.readers.max(1))
            .min_connections(1)
            // A local file connection cannot go stale: pinging it before
            // each use would cost every read one more trip to its thread.
            .test_before_acquire(false)
            .connect_with(base.clone().read_only(true))
            .await?;
        let checkpointer = Checkpointer::start(
            SqliteConnection::connect_with(&base.synchronous(synchronous)).await?,
        );
        Ok(SqlitePersistence {
            writer: Mutex::new(Some(writer)),
            checkpointer: Some(checkpointer),
            readers,
            _temp: temp,
        })
    }

    /// Opens an existing database for reading only: no writer connection,
    /// no checkpoints, no schema changes. In WAL mode this works beside a
    /// server that is writing the same file (an export of a live
    /// deployment); [`write`](Persistence::write) then fails, and
    /// [`sync_catalog`](Persistence::sync_catalog) only reads the catalog,
    /// refusing a database the schema would change.
    pub async fn open_read_only(path: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let path = path.into();
        if !tokio::fs::try_exists(&path).await.unwrap_or(false) {
            return Err(StoreError::Unavailable(format!(
                "there is no database at {}; check --data",
                path.display()
            )));
        }
        let options = SqliteConnectOptions::from_str("sqlite://")?
            .filename(&path)
            // Already WAL (the server's mode); asking again changes nothing.
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(30))
            .read_only(true);
        let readers = SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqlitePersistence {
            writer: Mutex::new(None),
            checkpointer: None,
            readers,
            _temp: None,
        })
    }
}

fn insert_index_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR REPLACE INTO index_entries (index_id, key, ts, deleted, doc_id) VALUES ",
    );
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?,?,?,?,?)"
        } else {
            ",(?,?,?,?,?)"
        });
    }
    sql
}

/// Splits `n` rows into statement sizes that are powers of two, so only a few
/// distinct statements are ever prepared (and cached).
fn chunk_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX_ROWS_PER_STATEMENT {
            MAX_ROWS_PER_STATEMENT
        } else {
            1 << n.ilog2()
        };
        n -= size;
        Some(size)
    })
}

/// Frames (pages) in the WAL past which a checkpoint also restarts it: 64 MiB
/// of 4 KiB pages.
const WAL_RESTART_FRAMES: i64 = 16_384;

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(250);

/// Copies the WAL back into the database file from its own connection, so
/// a group commit never waits for a checkpoint (SQLite's automatic one
/// runs inside the commit that crosses 1000 pages, fsyncs included). A
/// PASSIVE checkpoint never blocks the writer or readers; the writer
/// restarts the WAL from its start once everything is copied back.
struct Checkpointer {
    stop: tokio::sync::watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Checkpointer {
    fn start(mut conn: SqliteConnection) -> Checkpointer {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(CHECKPOINT_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                // (busy, frames in the log, frames copied back)
                let passive: Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                        .fetch_one(&mut conn)
                        .await;
                let log_frames = match passive {
                    Ok((_, log_frames, _)) => log_frames,
                    Err(e) => {
                        tracing::warn!(error = %e, "WAL checkpoint failed; retrying later");
                        continue;
                    }
                };
                // Under a steady stream of commits a passive checkpoint never
                // catches up with the writer, and the log would only grow.
                // Past the limit, copy the rest back while commits wait (the
                // log is mostly copied already, so briefly) and restart it:
                // the next commit writes from the file's start, over pages
                // the file already has (emptying it instead made every
                // later frame grow the file again: a block allocation and
                // a fresh page-cache page under each write).
                if log_frames > WAL_RESTART_FRAMES {
                    let started = std::time::Instant::now();
                    if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(RESTART)")
                        .execute(&mut conn)
                        .await
                    {
                        tracing::warn!(error = %e, "WAL restart failed; retrying later");
                    }
                    metrics::histogram!("convex_sqlite_wal_restart_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
            }
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "closing the SQLite checkpoint connection failed");
            }
        });
        Checkpointer {
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    async fn stop(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

/// One group commit: BEGIN, the document revisions and index entries (each
/// set a JSON array expanded by `jsonb_each`, so the statement text is the
/// same for every batch size and stays prepared), the newest timestamp, COMMIT.
/// `jsonb_each` hands each row out as binary JSON, so reading its columns
/// does not parse text again (with `json_each`, about a quarter of the
/// statement's time went to turning rows back into text and re-parsing them).
const WRITE_BATCH_SQL: &str = "BEGIN IMMEDIATE; \
     INSERT INTO documents (id, ts, table_number, value, deleted, prev_ts) \
     SELECT unhex(value ->> 0), value ->> 1, value ->> 2, unhex(value ->> 3), value ->> 4, value ->> 5 \
     FROM jsonb_each(?1); \
     INSERT OR REPLACE INTO index_entries (index_id, key, ts, deleted, doc_id) \
     SELECT value ->> 0, unhex(value ->> 1), value ->> 2, value ->> 3, unhex(value ->> 4) \
     FROM jsonb_each(?2); \
     INSERT INTO convex_meta (key, value) VALUES ('max_ts', ?3) \
     ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE excluded.value > value; \
     COMMIT";

/// A batch's rows as the JSON arrays [`WRITE_BATCH_SQL`] reads.
struct BatchRows {
    documents: String,
    index: String,
    max_ts: i64,
}

impl BatchRows {
    fn of(batch: &[CommitWrites]) -> BatchRows {
        use std::fmt::Write as _;
        let mut documents = String::from("[");
        let mut index = String::from("[");
        let mut max_ts = 0;
        for commit in batch {
            let ts = ts_i64(commit.ts);
            max_ts = max_ts.max(ts);
            for d in &commit.documents {
                if documents.len() > 1 {
                    documents.push(',');
                }
                documents.push_str("[\"");
                push_hex(&mut documents, &d.id.internal.0);
                let _ = write!(documents, "\",{ts},{},", d.id.table.0);
                match &d.document {
                    Some(doc) => {
                        documents.push('"');
                        push_hex(&mut documents, &doc.encode_body());
                        documents.push_str("\",0,");
                    }
                    None => documents.push_str("null,1,"),
                }
                match d.prev_ts {
                    Some(prev) => {
                        let _ = write!(documents, "{}]", ts_i64(prev));
                    }
                    None => documents.push_str("null]"),
                }
            }
            for i in &commit.index {
                if index.len() > 1 {
                    index.push(',');
                }
                let _ = write!(index, "[{},\"", i.index.0);
                push_hex(&mut index, &i.key);
                let _ = write!(index, "\",{ts},{},\"", u8::from(i.deleted));
                push_hex(&mut index, &i.doc.0);
                index.push_str("\"]");
            }
        }
        documents.push(']');
        index.push(']');
        BatchRows {
            documents,
            index,
            max_ts,
        }
    }
}

/// Appends `bytes` as upper-case hex (what SQLite's `unhex` reads).
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
}

async fn insert_index_rows(
    conn: &mut SqliteConnection,
    rows: &[IndexRow],
) -> Result<(), StoreError> {
    let mut rest = rows;
    for size in chunk_sizes(rows.len()) {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        let sql = insert_index_sql(size);
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for r in chunk {
            query = query
                .bind(r.index)
                .bind(r.key.clone())
                .bind(r.ts)
                .bind(r.deleted)
                .bind(r.doc.clone());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The catalog questions, answered inside one SQLite transaction.
struct SqliteCatalogTx<'c>(sqlx::Transaction<'c, sqlx::Sqlite>);

/// A garbage collection chunk's write transaction.
struct SqliteGcTx<'c>(sqlx::Transaction<'c, sqlx::Sqlite>);

#[async_trait]
impl GcTx for SqliteGcTx<'_> {
    async fn fetch_i64(
        &mut self,
        sql: &'static str,
        params: &[i64],
    ) -> Result<Option<i64>, StoreError> {
        let mut query = sqlx::query_scalar(sql);
        for p in params {
            query = query.bind(*p);
        }
        Ok(query.fetch_optional(&mut *self.0).await?)
    }

    async fn execute(&mut self, sql: &'static str, params: &[i64]) -> Result<u64, StoreError> {
        let mut query = sqlx::query(sql);
        for p in params {
            query = query.bind(*p);
        }
        Ok(query.execute(&mut *self.0).await?.rows_affected())
    }
}

#[async_trait]
impl CatalogTx for SqliteCatalogTx<'_> {
    async fn max_ts(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query("SELECT value FROM convex_meta WHERE key = 'max_ts'")
                .fetch_optional(&mut *self.0)
                .await?
                .map(|row: SqliteRow| row.try_get(0))
                .transpose()?,
        )
    }

    async fn tables(&mut self) -> Result<Vec<(String, u32)>, StoreError> {
        let mut out = Vec::new();
        for row in sqlx::query("SELECT number, name FROM convex_tables")
            .fetch_all(&mut *self.0)
            .await?
        {
            out.push((row.try_get(1)?, table_number(row.try_get(0)?)?.0));
        }
        Ok(out)
    }

    async fn indexes(&mut self) -> Result<Vec<StoredIndex>, StoreError> {
        let mut out = Vec::new();
        for row in sqlx::query("SELECT id, table_number, name, fields FROM convex_indexes")
            .fetch_all(&mut *self.0)
            .await?
        {
            let fields: String = row.try_get(3)?;
            out.push(StoredIndex::from_columns(
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                &fields,
            )?);
        }
        Ok(out)
    }

    async fn insert_table(&mut self, number: u32, name: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO convex_tables (number, name) VALUES (?, ?)")
            .bind(i64::from(number))
            .bind(name)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_index(&mut self, index: &StoredIndex) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO convex_indexes (id, table_number, name, fields) VALUES (?, ?, ?, ?)",
        )
        .bind(i64::from(index.id))
        .bind(i64::from(index.table))
        .bind(&index.name)
        .bind(index_fields_json(&index.fields))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn set_index_fields(&mut self, id: u32, fields: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE convex_indexes SET fields = ? WHERE id = ?")
            .bind(fields)
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_index_entries(&mut self, id: u32) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM index_entries WHERE index_id = ?")
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_index(&mut self, id: u32) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM convex_indexes WHERE id = ?")
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn revisions_of(&mut self, table: u32) -> Result<Vec<StoredRevision>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ts, value, deleted FROM documents WHERE table_number = ? ORDER BY id, ts",
        )
        .bind(i64::from(table))
        .fetch_all(&mut *self.0)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let deleted: bool = row.try_get(3)?;
            out.push(StoredRevision {
                id: row.try_get(0)?,
                ts: row.try_get(1)?,
                value: if deleted { None } else { Some(row.try_get(2)?) },
            });
        }
        Ok(out)
    }

    async fn insert_index_rows(&mut self, rows: &[IndexRow]) -> Result<(), StoreError> {
        insert_index_rows(&mut self.0, rows).await
    }
}

#[async_trait]
impl Persistence for SqlitePersistence {
    async fn sync_catalog(&self, schema: &Schema) -> Result<(Catalog, u64), StoreError> {
        if self.checkpointer.is_none() {
            // Read-only: one read transaction, so the catalog and `max_ts`
            // are one consistent state.
            let mut tx = SqliteCatalogTx(self.readers.begin().await?);
            let synced = sync_catalog(&mut ReadOnlyCatalog(&mut tx), schema).await?;
            tx.0.rollback().await?;
            return Ok(synced);
        }
        let mut guard = self.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let mut tx = SqliteCatalogTx(conn.begin().await?);
        let synced = sync_catalog(&mut tx, schema).await?;
        tx.0.commit().await?;
        Ok(synced)
    }

    async fn write(&self, batch: &[CommitWrites]) -> Result<(), StoreError> {
        let rows = BatchRows::of(batch);
        let mut guard = self.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        // The whole group commit is one statement list sent to the writer's
        // thread at once, so a batch costs one hop, not one per statement.
        let written = sqlx::query(WRITE_BATCH_SQL)
            .bind(rows.documents)
            .bind(rows.index)
            .bind(rows.max_ts)
            .execute(&mut *conn)
            .await;
        if let Err(e) = written {
            // A statement failed after BEGIN: undo the partial batch. (If
            // BEGIN itself failed there is nothing to roll back and this
            // errors harmlessly.)
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(e.into());
        }
        Ok(())
    }

    async fn get(
        &self,
        table: TableNumber,
        id: InternalId,
        ts: u64,
    ) -> Result<Option<Revision>, StoreError> {
        let row = sqlx::query(
            "SELECT ts, value, deleted, table_number FROM documents WHERE id = ? AND ts <= ? ORDER BY ts DESC LIMIT 1",
        )
        .bind(id.0.to_vec())
        .bind(ts_i64(ts))
        .fetch_optional(&self.readers)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let stored_table = table_number(row.try_get(3)?)?;
        if stored_table != table {
            return Ok(None);
        }
        let rev_ts = ts_u64(row.try_get(0)?);
        let deleted: bool = row.try_get(2)?;
        let document = if deleted {
            None
        } else {
            let value: Vec<u8> = row.try_get(1)?;
            Some(decode_document(table, &id.0, &value)?)
        };
        Ok(Some(Revision {
            ts: rev_ts,
            document,
        }))
    }

    async fn get_many(
        &self,
        table: TableNumber,
        ids: &[InternalId],
        ts: u64,
    ) -> Result<Vec<Option<Revision>>, StoreError> {
        if ids.len() < 2 {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                out.push(self.get(table, *id, ts).await?);
            }
            return Ok(out);
        }
        // One statement for all: the ids as a JSON array of hex strings; for
        // each, its newest revision at or before `ts` (a primary-key seek).
        let mut json = String::with_capacity(2 + ids.len() * 35);
        json.push('[');
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push('"');
            push_hex(&mut json, &id.0);
            json.push('"');
        }
        json.push(']');
        let rows = sqlx::query(
            "SELECT j.key, d.ts, d.value, d.deleted, d.table_number FROM json_each(?1) AS j \
             JOIN documents AS d ON d.id = unhex(j.value) AND d.ts = \
             (SELECT max(ts) FROM documents WHERE id = unhex(j.value) AND ts <= ?2)",
        )
        .bind(json)
        .bind(ts_i64(ts))
        .fetch_all(&self.readers)
        .await?;
        let mut out: Vec<Option<Revision>> = vec![None; ids.len()];
        for row in rows {
            let position = usize::try_from(row.try_get::<i64, _>(0)?)
                .map_err(|_| StoreError::Corrupt("negative json_each key".into()))?;
            let Some(id) = ids.get(position) else {
                continue;
            };
            if table_number(row.try_get(4)?)? != table {
                continue;
            }
            let deleted: bool = row.try_get(3)?;
            let document = if deleted {
                None
            } else {
                let value: Vec<u8> = row.try_get(2)?;
                Some(decode_document(table, &id.0, &value)?)
            };
            out[position] = Some(Revision {
                ts: ts_u64(row.try_get(1)?),
                document,
            });
        }
        Ok(out)
    }

    async fn scan(
        &self,
        index: &IndexMeta,
        interval: &KeyInterval,
        ts: u64,
        order: Order,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        let upper = if interval.end.is_some() {
            "AND e.key < ?4"
        } else {
            ""
        };
        let direction = match order {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        // The limit is part of the SQL text, not a bound parameter: SQLite
        // re-plans a statement whose LIMIT is re-bound, which made every scan
        // recompile its join. Callers use a few page sizes (powers of two), so
        // only a few statements are ever cached.
        let sql = format!(
            "SELECT e.key, d.id, d.ts, d.value, d.table_number FROM index_entries AS e \
             JOIN documents AS d ON d.id = e.doc_id \
              AND d.ts = (SELECT MAX(d2.ts) FROM documents AS d2 WHERE d2.id = e.doc_id AND d2.ts <= ?3) \
             WHERE e.index_id = ?1 AND e.key >= ?2 {upper} AND e.ts <= ?3 AND e.deleted = 0 AND d.deleted = 0 \
              AND NOT EXISTS (SELECT 1 FROM index_entries AS n \
                              WHERE n.index_id = ?1 AND n.key = e.key AND n.ts > e.ts AND n.ts <= ?3) \
             ORDER BY e.key {direction} LIMIT {limit}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(i64::from(index.id.0))
            .bind(interval.start.clone())
            .bind(ts_i64(ts));
        if let Some(end) = &interval.end {
            query = query.bind(end.clone());
        }
        let rows = query.fetch_all(&self.readers).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let key: Vec<u8> = row.try_get(0)?;
            let id: Vec<u8> = row.try_get(1)?;
            let value: Vec<u8> = row.try_get(3)?;
            let table = table_number(row.try_get(4)?)?;
            out.push(IndexEntry {
                key,
                ts: ts_u64(row.try_get(2)?),
                document: decode_document(table, &id, &value)?,
            });
        }
        Ok(out)
    }

    async fn collected_through(&self) -> Result<u64, StoreError> {
        let ts: Option<i64> =
            sqlx::query_scalar("SELECT value FROM convex_meta WHERE key = 'gc_ts'")
                .fetch_optional(&self.readers)
                .await?;
        Ok(ts.map_or(0, ts_u64))
    }

    async fn collect_garbage(
        &self,
        floor: u64,
        limit: usize,
    ) -> Result<GarbageCollected, StoreError> {
        let mut guard = self.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let mut tx = SqliteGcTx(conn.begin_with("BEGIN IMMEDIATE").await?);
        let done = collect_chunk(&mut tx, &GC_SQL, floor, limit).await?;
        tx.0.commit().await?;
        Ok(done)
    }

    async fn close(&self) {
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.stop().await;
        }
        let writer = self.writer.lock().await.take();
        if let Some(conn) = writer
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the SQLite writer failed");
        }
        self.readers.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_sizes;

    #[test]
    fn chunks_are_powers_of_two_and_cover_all_rows() {
        for n in 0..600 {
            let sizes: Vec<usize> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(
                sizes
                    .iter()
                    .all(|s| s.is_power_of_two() && *s <= super::MAX_ROWS_PER_STATEMENT)
            );
        }
    }
}
