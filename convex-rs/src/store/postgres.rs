//! PostgreSQL persistence through sqlx: the tables of the SQLite store with
//! PostgreSQL types, a pool for snapshot reads, one writer connection owned
//! by the committer, and the single-writer lease.
//!
//! Tables:
//! * `documents(id, ts, table_number, value, deleted, prev_ts)`: the
//!   append-only revision log, primary key `(id, ts)`;
//! * `index_entries(index_id, key, ts, deleted, doc_id)`: versioned index
//!   entries, primary key `(index_id, key, ts)` (`bytea` compares bytewise,
//!   which is the order index keys are encoded for);
//! * `convex_tables`, `convex_indexes`, `convex_meta`: the catalog, the last
//!   commit timestamp and the schema version;
//! * `convex_lease`: the writer's epoch.
//!
//! **The lease.** One process commits at a time. It holds a session-level
//! advisory lock on a connection of its own for as long as it serves (the
//! lock goes when the process or its connection dies), and on taking it
//! bumps `convex_lease.epoch`. Every group commit is one statement whose
//! first step updates the lease row *only if the epoch is still ours*, and
//! whose inserts happen only if that update did: a leader paused past its
//! lock and resumed after another took over commits nothing, and learns it
//! lost the lease.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Row};
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

/// The advisory lock key of the writer's lease ("convex-rs" in ASCII, folded).
const LEASE_LOCK_KEY: i64 = 0x636f_6e76_6578_7273;
/// The version of our tables this code reads and writes.
const SCHEMA_VERSION: i64 = 2;
/// How often a standby tries to take the lease.
const STANDBY_POLL: Duration = Duration::from_millis(250);

/// Migrations of our tables, applied in order at open: `MIGRATIONS[v]` takes
/// the schema from version `v` to `v + 1`.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE IF NOT EXISTS convex_tables (number BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "CREATE TABLE IF NOT EXISTS convex_indexes (id BIGINT PRIMARY KEY, table_number BIGINT NOT NULL, \
     name TEXT NOT NULL, fields TEXT NOT NULL, UNIQUE (table_number, name))",
        "CREATE TABLE IF NOT EXISTS documents (id BYTEA NOT NULL, ts BIGINT NOT NULL, \
     table_number BIGINT NOT NULL, value BYTEA, deleted BOOLEAN NOT NULL, prev_ts BIGINT, \
     PRIMARY KEY (id, ts))",
        "CREATE INDEX IF NOT EXISTS documents_by_table ON documents (table_number, id, ts)",
        "CREATE TABLE IF NOT EXISTS index_entries (index_id BIGINT NOT NULL, key BYTEA NOT NULL, \
     ts BIGINT NOT NULL, deleted BOOLEAN NOT NULL, doc_id BYTEA NOT NULL, \
     PRIMARY KEY (index_id, key, ts))",
        "CREATE TABLE IF NOT EXISTS convex_lease (id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL)",
        "INSERT INTO convex_lease (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
    ],
    &[
        // Garbage collection walks what was written in a range of timestamps.
        "CREATE INDEX IF NOT EXISTS documents_by_ts ON documents (ts)",
        "CREATE INDEX IF NOT EXISTS index_entries_by_ts ON index_entries (ts)",
    ],
];

/// Garbage collection's statements (see [`GcSql`]). A revision is garbage
/// once a row written in `($1, $2]` replaced or deleted it; an index entry
/// version once a newer version of its key, or its removal, was written there.
const GC_SQL: GcSql = GcSql {
    collected_through: "SELECT value FROM convex_meta WHERE key = 'gc_ts'",
    revision_ts_after: "SELECT ts FROM documents WHERE ts > $1 AND ts <= $2 ORDER BY ts LIMIT 1 OFFSET $3",
    delete_revisions: "DELETE FROM documents AS d USING ( \
         SELECT id, prev_ts AS ts FROM documents WHERE ts > $1 AND ts <= $2 AND prev_ts IS NOT NULL \
         UNION ALL SELECT id, ts FROM documents WHERE ts > $1 AND ts <= $2 AND deleted) AS g \
         WHERE d.id = g.id AND d.ts = g.ts",
    delete_index_entries: "DELETE FROM index_entries AS e USING ( \
         SELECT o.index_id, o.key, o.ts FROM index_entries AS w JOIN index_entries AS o \
           ON o.index_id = w.index_id AND o.key = w.key AND o.ts < w.ts \
         WHERE w.ts > $1 AND w.ts <= $2 \
         UNION ALL SELECT index_id, key, ts FROM index_entries WHERE ts > $1 AND ts <= $2 AND deleted) AS g \
         WHERE e.index_id = g.index_id AND e.key = g.key AND e.ts = g.ts",
    record: "INSERT INTO convex_meta (key, value) VALUES ('gc_ts', $1) \
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(convex_meta.value, excluded.value)",
};

/// The lease row, created before anything else (outside the versioned
/// migrations, which run only once the previous holder is fenced).
const LEASE_SQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS convex_lease (id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL)",
    "INSERT INTO convex_lease (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
];
/// How long a server that is not a standby retries the lease: a server
/// that just stopped releases it a moment after it closed.
const LEASE_GRACE: Duration = Duration::from_secs(3);

/// Where and how to reach PostgreSQL.
#[derive(Clone)]
pub struct PostgresConfig {
    /// `postgres://USER[:PASSWORD]@HOST:PORT/DATABASE[?options]`.
    pub url: String,
    /// Connections in the read pool.
    pub max_connections: u32,
    /// How long connecting (or waiting for a pooled connection) may take.
    pub connect_timeout: Duration,
    /// Wait for the lease instead of failing when another server holds it.
    pub standby: bool,
}

impl PostgresConfig {
    /// The database at `url`, with the default pool and timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresConfig {
            url: url.into(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
            standby: false,
        }
    }

    /// The URL with any password (in the user part or a `password=`
    /// parameter) replaced by `***`, for messages and logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// The URL is shown redacted.
impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.redacted_url())
            .field("max_connections", &self.max_connections)
            .field("connect_timeout", &self.connect_timeout)
            .field("standby", &self.standby)
            .finish()
    }
}

/// `url` with the password of its user part and of a `password=`
/// parameter replaced by `***`.
fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match base.split_once("://") {
        Some((scheme, after)) => {
            // The user part ends at the last '@' before the path.
            let authority_end = after.find('/').unwrap_or(after.len());
            let (authority, path) = after.split_at(authority_end);
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => match userinfo.split_once(':') {
                    Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
                    None => base.to_string(),
                },
                None => base.to_string(),
            }
        }
        None => base.to_string(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_string(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The PostgreSQL implementation of [`Persistence`].
pub struct PostgresPersistence {
    writer: Mutex<Option<PgConnection>>,
    readers: PgPool,
    /// Holds the advisory lock (on its own connection) and checks the epoch.
    heartbeat: Mutex<Option<Heartbeat>>,
    /// The lease epoch every commit must still hold.
    epoch: i64,
    /// Why this server can no longer commit, once it cannot.
    fatal: Arc<std::sync::Mutex<Option<String>>>,
}

/// Records the first reason this server can no longer commit.
fn set_fatal(fatal: &std::sync::Mutex<Option<String>>, reason: String) {
    let mut slot = fatal
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if slot.is_none() {
        tracing::error!("{reason}");
        *slot = Some(reason);
    }
}

/// How often the lease connection checks that the epoch is still ours.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one check may take before the connection counts as lost.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(5);

/// The task that owns the lease connection: it keeps the session (and so
/// the advisory lock) alive, and notices a lost connection or a taken epoch
/// without waiting for the next commit.
struct Heartbeat {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    fn start(
        mut conn: PgConnection,
        epoch: i64,
        fatal: Arc<std::sync::Mutex<Option<String>>>,
    ) -> Heartbeat {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let check = tokio::time::timeout(
                    HEARTBEAT_TIMEOUT,
                    sqlx::query_scalar::<_, i64>("SELECT epoch FROM convex_lease WHERE id = 1")
                        .fetch_one(&mut conn),
                )
                .await;
                let reason = match check {
                    Ok(Ok(current)) if current == epoch => continue,
                    Ok(Ok(_)) => StoreError::LeaseLost.to_string(),
                    Ok(Err(e)) => format!(
                        "the connection holding the writer's lease failed ({e}); another server \
                         may take over, so this one stops committing"
                    ),
                    Err(_) => format!(
                        "the connection holding the writer's lease did not answer within \
                         {HEARTBEAT_TIMEOUT:?}; another server may take over, so this one stops"
                    ),
                };
                set_fatal(&fatal, reason);
                return;
            }
            // Closing the session releases the advisory lock at once.
            if let Err(e) = conn.close().await {
                tracing::warn!(error = %e, "closing the PostgreSQL lease connection failed");
            }
        });
        Heartbeat { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

fn connect_error(config: &PostgresConfig, error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(format!(
        "cannot connect to PostgreSQL at {}: {error}",
        config.redacted_url()
    ))
}

impl PostgresPersistence {
    /// Connects, applies migrations, and takes the writer's lease: at once,
    /// or, with `standby`, when the server holding it stops.
    pub async fn open(config: PostgresConfig) -> Result<Self, StoreError> {
        let options: PgConnectOptions = config
            .url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("invalid database URL: {e}")))?;
        let connect = || connect(&options, &config);
        ensure_database(&options, &config).await?;
        // The lease session: TCP keepalives, so a dead peer is noticed in
        // seconds rather than hours, on either side.
        let lease_options = options.clone().options([
            ("tcp_keepalives_idle", "5"),
            ("tcp_keepalives_interval", "2"),
            ("tcp_keepalives_count", "3"),
        ]);
        let lease = take_lease(&lease_options, &config).await?;
        let mut writer = connect().await?;
        // The fence relies on READ COMMITTED's re-check of the lease row.
        sqlx::query("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut writer)
            .await?;
        let readers = PgPoolOptions::new()
            .max_connections(config.max_connections.max(1))
            .acquire_timeout(config.connect_timeout)
            // A ping before every read would double its round trips; a
            // broken connection fails its query once and is replaced.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(|e| connect_error(&config, e))?;
        // Fence the previous holder first, then migrate: nothing it still
        // commits can interleave with the migration.
        for sql in LEASE_SQL {
            sqlx::query(*sql).execute(&mut writer).await?;
        }
        let epoch: i64 = sqlx::query_scalar(
            "UPDATE convex_lease SET epoch = epoch + 1 WHERE id = 1 RETURNING epoch",
        )
        .fetch_one(&mut writer)
        .await?;
        migrate(&mut writer).await?;
        tracing::info!(
            epoch,
            "took the writer's lease on {}",
            config.redacted_url()
        );
        let fatal = Arc::new(std::sync::Mutex::new(None));
        let heartbeat = Heartbeat::start(lease, epoch, fatal.clone());
        Ok(PostgresPersistence {
            writer: Mutex::new(Some(writer)),
            readers,
            heartbeat: Mutex::new(Some(heartbeat)),
            epoch,
            fatal,
        })
    }

    /// Connects for reading only: no writer's lease (a serving leader keeps
    /// it and goes on committing), no migrations, no schema changes.
    /// [`write`](Persistence::write) then fails, and
    /// [`sync_catalog`](Persistence::sync_catalog) only reads the catalog,
    /// refusing a database the schema would change.
    pub async fn open_read_only(config: PostgresConfig) -> Result<Self, StoreError> {
        let options: PgConnectOptions = config
            .url
            .parse()
            .map_err(|e| StoreError::Unavailable(format!("invalid database URL: {e}")))?;
        let readers = PgPoolOptions::new()
            .max_connections(config.max_connections.clamp(1, 2))
            .acquire_timeout(config.connect_timeout)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(|e| connect_error(&config, e))?;
        Ok(PostgresPersistence {
            writer: Mutex::new(None),
            readers,
            heartbeat: Mutex::new(None),
            epoch: -1,
            fatal: Arc::new(std::sync::Mutex::new(None)),
        })
    }
}

/// One connection, within `config.connect_timeout`, with errors that name
/// the (redacted) server.
async fn connect(
    options: &PgConnectOptions,
    config: &PostgresConfig,
) -> Result<PgConnection, StoreError> {
    tokio::time::timeout(config.connect_timeout, PgConnection::connect_with(options))
        .await
        .map_err(|_| {
            StoreError::Unavailable(format!(
                "PostgreSQL at {} did not answer within {:?}",
                config.redacted_url(),
                config.connect_timeout
            ))
        })?
        .map_err(|e| connect_error(config, e))
}

/// Creates the database if it does not exist yet (as SQLite creates its
/// file), through the server's `postgres` maintenance database.
async fn ensure_database(
    options: &PgConnectOptions,
    config: &PostgresConfig,
) -> Result<(), StoreError> {
    let attempt =
        tokio::time::timeout(config.connect_timeout, PgConnection::connect_with(options)).await;
    let error = match attempt {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Ok(Err(error)) => error,
        // The connection attempts that follow report the timeout.
        Err(_) => return Ok(()),
    };
    let missing =
        matches!(&error, sqlx::Error::Database(db) if db.code().as_deref() == Some("3D000"));
    let Some(name) = options
        .get_database()
        .filter(|_| missing)
        .map(str::to_string)
    else {
        return Err(connect_error(config, error));
    };
    let maintenance = options.clone().database("postgres");
    let mut admin = tokio::time::timeout(config.connect_timeout, PgConnection::connect_with(&maintenance))
        .await
        .map_err(|_| StoreError::Unavailable(format!(
            "the database {name} does not exist, and the server's `postgres` database (to create it) did not answer"
        )))?
        .map_err(|e| StoreError::Unavailable(format!(
            "the database {name} does not exist, and it cannot be created through the server's \
             `postgres` database ({e}); create it yourself"
        )))?;
    let quoted = format!("\"{}\"", name.replace('"', "\"\""));
    let created = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    match created {
        Ok(_) => {
            tracing::info!("created the PostgreSQL database {name}");
            Ok(())
        }
        // Created meanwhile by another process (either code, by timing).
        Err(sqlx::Error::Database(db))
            if matches!(db.code().as_deref(), Some("42P04" | "23505")) =>
        {
            Ok(())
        }
        Err(e) => Err(StoreError::Unavailable(format!(
            "the database {name} does not exist and could not be created ({e}); \
             create it, or grant the role CREATEDB"
        ))),
    }
}

/// Connects the lease session and takes the advisory lock on it: now (or
/// within [`LEASE_GRACE`]), or, as a standby, once the holder's session
/// ends. A standby rides out errors (a restarting database) by reconnecting.
async fn take_lease(
    options: &PgConnectOptions,
    config: &PostgresConfig,
) -> Result<PgConnection, StoreError> {
    let started = std::time::Instant::now();
    let mut waiting = false;
    let mut conn: Option<PgConnection> = None;
    loop {
        let attempt = async {
            let conn = match &mut conn {
                Some(conn) => conn,
                None => conn.insert(connect(options, config).await?),
            };
            let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(LEASE_LOCK_KEY)
                .fetch_one(&mut *conn)
                .await?;
            Ok::<bool, StoreError>(taken)
        }
        .await;
        match attempt {
            Ok(true) => {
                return conn.ok_or_else(|| StoreError::Unavailable("no lease connection".into()));
            }
            Ok(false) if !config.standby && started.elapsed() >= LEASE_GRACE => {
                return Err(StoreError::LeaseHeld(config.redacted_url()));
            }
            Ok(false) => {}
            Err(error) if !config.standby => return Err(error),
            Err(error) => {
                tracing::warn!("standby: {error}; retrying");
                conn = None;
            }
        }
        if config.standby && !waiting {
            tracing::info!(
                "standing by: another server holds the lease on {}",
                config.redacted_url()
            );
            waiting = true;
        }
        tokio::time::sleep(STANDBY_POLL).await;
    }
}

/// Brings our tables to [`SCHEMA_VERSION`], one transaction per step.
async fn migrate(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS convex_meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42501") => {
            StoreError::Unavailable(format!(
                "the PostgreSQL role may not create tables in this database ({db}); \
                     grant it CREATE on the schema, or run as the database's owner"
            ))
        }
        other => other.into(),
    })?;
    let current: i64 =
        sqlx::query_scalar("SELECT value FROM convex_meta WHERE key = 'schema_version'")
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or(0);
    if current < 0 {
        return Err(StoreError::Corrupt(format!(
            "convex_meta.schema_version is {current}"
        )));
    }
    if current > SCHEMA_VERSION {
        return Err(StoreError::Catalog(format!(
            "the database's tables are at version {current}, newer than this build's \
             {SCHEMA_VERSION}; run a newer convex-rs"
        )));
    }
    for (version, steps) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let mut tx = conn.begin().await?;
        for step in *steps {
            sqlx::query(*step).execute(&mut *tx).await?;
        }
        sqlx::query(
            "INSERT INTO convex_meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(version as i64 + 1)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// One group commit, as one statement (one round trip, atomic): check the
/// lease, append the revisions and index entries (arrays expanded with
/// `UNNEST`), raise `max_ts`. Nothing is written unless the lease is ours;
/// the statement answers whether it was.
const WRITE_BATCH_SQL: &str = "WITH lease AS ( \
       UPDATE convex_lease SET epoch = epoch WHERE id = 1 AND epoch = $12 RETURNING 1), \
     docs AS ( \
       INSERT INTO documents (id, ts, table_number, value, deleted, prev_ts) \
       SELECT * FROM UNNEST($1::bytea[], $2::int8[], $3::int8[], $4::bytea[], $5::bool[], $6::int8[]) \
       WHERE EXISTS (SELECT 1 FROM lease)), \
     entries AS ( \
       INSERT INTO index_entries (index_id, key, ts, deleted, doc_id) \
       SELECT * FROM UNNEST($7::int8[], $8::bytea[], $9::int8[], $10::bool[], $11::bytea[]) \
       WHERE EXISTS (SELECT 1 FROM lease) \
       ON CONFLICT (index_id, key, ts) DO UPDATE SET deleted = excluded.deleted, doc_id = excluded.doc_id), \
     meta AS ( \
       INSERT INTO convex_meta (key, value) SELECT 'max_ts', $13 WHERE EXISTS (SELECT 1 FROM lease) \
       ON CONFLICT (key) DO UPDATE SET value = GREATEST(convex_meta.value, excluded.value)) \
     SELECT count(*) FROM lease";

/// A batch's rows as the column arrays [`WRITE_BATCH_SQL`] binds.
#[derive(Default)]
struct BatchColumns {
    doc_ids: Vec<Vec<u8>>,
    doc_ts: Vec<i64>,
    doc_tables: Vec<i64>,
    doc_values: Vec<Option<Vec<u8>>>,
    doc_deleted: Vec<bool>,
    doc_prev: Vec<Option<i64>>,
    entry_index: Vec<i64>,
    entry_keys: Vec<Vec<u8>>,
    entry_ts: Vec<i64>,
    entry_deleted: Vec<bool>,
    entry_docs: Vec<Vec<u8>>,
    max_ts: i64,
}

impl BatchColumns {
    fn of(batch: &[CommitWrites]) -> BatchColumns {
        let mut c = BatchColumns::default();
        for commit in batch {
            let ts = ts_i64(commit.ts);
            c.max_ts = c.max_ts.max(ts);
            for d in &commit.documents {
                c.doc_ids.push(d.id.internal.0.to_vec());
                c.doc_ts.push(ts);
                c.doc_tables.push(i64::from(d.id.table.0));
                c.doc_values
                    .push(d.document.as_ref().map(|doc| doc.encode_body()));
                c.doc_deleted.push(d.document.is_none());
                c.doc_prev.push(d.prev_ts.map(ts_i64));
            }
            for i in &commit.index {
                c.entry_index.push(i64::from(i.index.0));
                c.entry_keys.push(i.key.clone());
                c.entry_ts.push(ts);
                c.entry_deleted.push(i.deleted);
                c.entry_docs.push(i.doc.0.to_vec());
            }
        }
        c
    }
}

/// The catalog questions, answered inside one PostgreSQL transaction.
struct PgCatalogTx<'c>(sqlx::Transaction<'c, sqlx::Postgres>);

/// A garbage collection chunk's write transaction.
struct PgGcTx<'c>(sqlx::Transaction<'c, sqlx::Postgres>);

#[async_trait]
impl GcTx for PgGcTx<'_> {
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
impl CatalogTx for PgCatalogTx<'_> {
    async fn max_ts(&mut self) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM convex_meta WHERE key = 'max_ts'")
                .fetch_optional(&mut *self.0)
                .await?,
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
        sqlx::query("INSERT INTO convex_tables (number, name) VALUES ($1, $2)")
            .bind(i64::from(number))
            .bind(name)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_index(&mut self, index: &StoredIndex) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO convex_indexes (id, table_number, name, fields) VALUES ($1, $2, $3, $4)",
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
        sqlx::query("UPDATE convex_indexes SET fields = $1 WHERE id = $2")
            .bind(fields)
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_index_entries(&mut self, id: u32) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM index_entries WHERE index_id = $1")
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn delete_index(&mut self, id: u32) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM convex_indexes WHERE id = $1")
            .bind(i64::from(id))
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn revisions_of(&mut self, table: u32) -> Result<Vec<StoredRevision>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ts, value, deleted FROM documents WHERE table_number = $1 ORDER BY id, ts",
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
                value: if deleted { None } else { row.try_get(2)? },
            });
        }
        Ok(out)
    }

    async fn insert_index_rows(&mut self, rows: &[IndexRow]) -> Result<(), StoreError> {
        for chunk in rows.chunks(10_000) {
            sqlx::query(
                "INSERT INTO index_entries (index_id, key, ts, deleted, doc_id) \
                 SELECT * FROM UNNEST($1::int8[], $2::bytea[], $3::int8[], $4::bool[], $5::bytea[]) \
                 ON CONFLICT (index_id, key, ts) DO UPDATE SET deleted = excluded.deleted, doc_id = excluded.doc_id",
            )
            .bind(chunk.iter().map(|r| r.index).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.key.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.ts).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.deleted).collect::<Vec<_>>())
            .bind(chunk.iter().map(|r| r.doc.clone()).collect::<Vec<_>>())
            .execute(&mut *self.0)
            .await?;
        }
        Ok(())
    }
}

impl PostgresPersistence {
    fn fatal_reason(&self) -> Option<String> {
        self.fatal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

fn revision_of(row: &PgRow, table: TableNumber, id: &[u8]) -> Result<Revision, StoreError> {
    let deleted: bool = row.try_get("deleted")?;
    let document = if deleted {
        None
    } else {
        let value: Vec<u8> = row.try_get("value")?;
        Some(decode_document(table, id, &value)?)
    };
    Ok(Revision {
        ts: ts_u64(row.try_get("ts")?),
        document,
    })
}

#[async_trait]
impl Persistence for PostgresPersistence {
    async fn sync_catalog(&self, schema: &Schema) -> Result<(Catalog, u64), StoreError> {
        if self.epoch < 0 {
            // Read-only: one snapshot of the catalog and `max_ts`.
            let mut tx = PgCatalogTx(self.readers.begin().await?);
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .execute(&mut *tx.0)
                .await?;
            let synced = sync_catalog(&mut ReadOnlyCatalog(&mut tx), schema).await?;
            tx.0.rollback().await?;
            return Ok(synced);
        }
        let mut guard = self.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let mut tx = PgCatalogTx(conn.begin().await?);
        let synced = sync_catalog(&mut tx, schema).await?;
        tx.0.commit().await?;
        Ok(synced)
    }

    async fn write(&self, batch: &[CommitWrites]) -> Result<(), StoreError> {
        let c = BatchColumns::of(batch);
        let mut guard = self.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        if let Some(reason) = self.fatal_reason() {
            return Err(StoreError::Unavailable(reason));
        }
        let held: Result<i64, sqlx::Error> = sqlx::query_scalar(WRITE_BATCH_SQL)
            .bind(c.doc_ids)
            .bind(c.doc_ts)
            .bind(c.doc_tables)
            .bind(c.doc_values)
            .bind(c.doc_deleted)
            .bind(c.doc_prev)
            .bind(c.entry_index)
            .bind(c.entry_keys)
            .bind(c.entry_ts)
            .bind(c.entry_deleted)
            .bind(c.entry_docs)
            .bind(self.epoch)
            .bind(c.max_ts)
            .fetch_one(&mut *conn)
            .await;
        let held = match held {
            Ok(held) => held,
            // A statement error: nothing was written, the connection is fine.
            Err(sqlx::Error::Database(e)) => return Err(sqlx::Error::Database(e).into()),
            // The connection failed: the batch may or may not have committed,
            // and this server has no writer left. It stops (clients re-send to
            // the next leader, and the mutation log runs each once).
            Err(e) => {
                set_fatal(
                    &self.fatal,
                    format!("the PostgreSQL connection that commits failed ({e}); stopping"),
                );
                return Err(e.into());
            }
        };
        if held == 0 {
            set_fatal(&self.fatal, StoreError::LeaseLost.to_string());
            return Err(StoreError::LeaseLost);
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
            "SELECT ts, value, deleted, table_number FROM documents \
             WHERE id = $1 AND ts <= $2 ORDER BY ts DESC LIMIT 1",
        )
        .bind(id.0.to_vec())
        .bind(ts_i64(ts))
        .fetch_optional(&self.readers)
        .await?;
        let Some(row) = row else { return Ok(None) };
        if table_number(row.try_get("table_number")?)? != table {
            return Ok(None);
        }
        Ok(Some(revision_of(&row, table, &id.0)?))
    }

    async fn get_many(
        &self,
        table: TableNumber,
        ids: &[InternalId],
        ts: u64,
    ) -> Result<Vec<Option<Revision>>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.ord, d.ts, d.value, d.deleted, d.table_number \
             FROM UNNEST($1::bytea[]) WITH ORDINALITY AS u(id, ord) \
             CROSS JOIN LATERAL (SELECT ts, value, deleted, table_number FROM documents \
               WHERE id = u.id AND ts <= $2 ORDER BY ts DESC LIMIT 1) AS d",
        )
        .bind(ids.iter().map(|id| id.0.to_vec()).collect::<Vec<_>>())
        .bind(ts_i64(ts))
        .fetch_all(&self.readers)
        .await?;
        let mut out: Vec<Option<Revision>> = vec![None; ids.len()];
        for row in rows {
            let ordinal: i64 = row.try_get("ord")?;
            let position = usize::try_from(ordinal - 1)
                .map_err(|_| StoreError::Corrupt("UNNEST ordinal below 1".into()))?;
            let Some(id) = ids.get(position) else {
                continue;
            };
            if table_number(row.try_get("table_number")?)? != table {
                continue;
            }
            out[position] = Some(revision_of(&row, table, &id.0)?);
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
            "AND e.key < $5"
        } else {
            ""
        };
        let direction = match order {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        let sql = format!(
            "SELECT e.key, d.id, d.ts, d.value, d.table_number FROM index_entries AS e \
             CROSS JOIN LATERAL (SELECT id, ts, value, deleted, table_number FROM documents \
               WHERE id = e.doc_id AND ts <= $3 ORDER BY ts DESC LIMIT 1) AS d \
             WHERE e.index_id = $1 AND e.key >= $2 {upper} AND e.ts <= $3 \
               AND NOT e.deleted AND NOT d.deleted \
               AND NOT EXISTS (SELECT 1 FROM index_entries AS n \
                               WHERE n.index_id = $1 AND n.key = e.key AND n.ts > e.ts AND n.ts <= $3) \
             ORDER BY e.key {direction} LIMIT $4"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql))
            .bind(i64::from(index.id.0))
            .bind(interval.start.clone())
            .bind(ts_i64(ts))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
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

    fn fatal_error(&self) -> Option<String> {
        self.fatal_reason()
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
        if let Some(reason) = self.fatal_reason() {
            return Err(StoreError::Unavailable(reason));
        }
        let mut tx = PgGcTx(conn.begin().await?);
        // Only the lease holder collects: the row lock waits out a new
        // holder's takeover, and a changed epoch means this server is fenced.
        let epoch: i64 =
            sqlx::query_scalar("SELECT epoch FROM convex_lease WHERE id = 1 FOR SHARE")
                .fetch_one(&mut *tx.0)
                .await?;
        if epoch != self.epoch {
            set_fatal(&self.fatal, StoreError::LeaseLost.to_string());
            return Err(StoreError::LeaseLost);
        }
        let done = collect_chunk(&mut tx, &GC_SQL, floor, limit).await?;
        tx.0.commit().await?;
        Ok(done)
    }

    async fn close(&self) {
        if let Some(conn) = self.writer.lock().await.take()
            && let Err(e) = conn.close().await
        {
            tracing::warn!(error = %e, "closing the PostgreSQL writer failed");
        }
        self.readers.close().await;
        // Last: the lease goes with its connection, and a standby takes over.
        if let Some(heartbeat) = self.heartbeat.lock().await.take() {
            heartbeat.stop().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        let config = PostgresConfig::new("postgres://app:secret@db.example.com:5432/chat");
        assert_eq!(
            config.redacted_url(),
            "postgres://app:***@db.example.com:5432/chat"
        );
        let config = PostgresConfig::new("postgres://app@localhost/chat");
        assert_eq!(config.redacted_url(), "postgres://app@localhost/chat");
        assert_eq!(
            redact("postgres://app:p@ss@db/chat"),
            "postgres://app:***@db/chat",
            "an unencoded @ in the password"
        );
        assert_eq!(
            redact("postgres://app@db/chat?sslmode=require&password=secret"),
            "postgres://app@db/chat?sslmode=require&password=***"
        );
        let debug = format!("{:?}", PostgresConfig::new("postgres://a:secret@h/d"));
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn migrations_reach_the_schema_version() {
        assert_eq!(MIGRATIONS.len() as i64, SCHEMA_VERSION);
    }
}
