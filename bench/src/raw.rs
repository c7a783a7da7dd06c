//! The baseline: plain SQLite through sqlx, no framework. Each operation is
//! one transaction writing what an `items:insert` writes in our storage (see
//! `convex-rs/src/store/sqlite.rs`): one `documents` row and two
//! `index_entries` rows (`by_creation_time` and `by_n`), with the same
//! schema, pragmas, key encodings and blob sizes.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use convex_rs::prelude::Durability;
use convex_rs::value::{InternalId, Value, encode_value};
use rand::RngExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};

use crate::measure::{Measurement, Outcome, Recorder, Window};

/// The same tables as our storage's revision log and index entries.
const SCHEMA_SQL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS documents (id BLOB NOT NULL, ts INTEGER NOT NULL, table_number INTEGER NOT NULL, \
     value BLOB, deleted INTEGER NOT NULL, prev_ts INTEGER, PRIMARY KEY (id, ts)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS index_entries (index_id INTEGER NOT NULL, key BLOB NOT NULL, ts INTEGER NOT NULL, \
     deleted INTEGER NOT NULL, doc_id BLOB NOT NULL, PRIMARY KEY (index_id, key, ts)) WITHOUT ROWID",
];

/// Appends one document revision (as our storage does, one row here).
const INSERT_DOCUMENT: &str =
    "INSERT INTO documents (id, ts, table_number, value, deleted, prev_ts) VALUES (?,?,?,?,?,?)";
/// Appends one index entry version (the statement our storage uses).
const INSERT_INDEX: &str =
    "INSERT OR REPLACE INTO index_entries (index_id, key, ts, deleted, doc_id) VALUES (?,?,?,?,?)";

/// The table number our storage gives the first user table.
pub(crate) const TABLE_NUMBER: i64 = 10_001;
/// The id our catalog gives `by_creation_time` of the first table (`by_id` is 1).
pub(crate) const BY_CREATION_TIME_ID: i64 = 2;
/// The id our catalog gives `by_n`, the first user index.
pub(crate) const BY_N_ID: i64 = 3;

/// One operation's rows, encoded exactly as our storage encodes an item.
#[derive(Debug)]
pub struct RawInsert {
    /// The 16-byte document id (time-ordered, like ours).
    pub id: Vec<u8>,
    /// The encoded document body: `{_creationTime, body, n}`.
    pub value: Vec<u8>,
    /// The `by_creation_time` key: creation time, id.
    pub by_creation_time: Vec<u8>,
    /// The `by_n` key: n, creation time, id.
    pub by_n: Vec<u8>,
}

impl RawInsert {
    /// The rows of an item with `body` and `n` created at `now_ms`.
    pub fn new(body: &str, n: f64, now_ms: f64) -> Self {
        let id = InternalId::new_time_ordered(now_ms as u64, &mut rand::rng())
            .0
            .to_vec();
        let fields = BTreeMap::from([
            ("_creationTime".to_string(), Value::Float64(now_ms)),
            ("body".to_string(), Value::String(body.to_string())),
            ("n".to_string(), Value::Float64(n)),
        ]);
        let mut value = Vec::with_capacity(64);
        encode_value(&Value::Object(fields), &mut value);
        let mut by_creation_time = Vec::with_capacity(32);
        encode_value(&Value::Float64(now_ms), &mut by_creation_time);
        by_creation_time.extend_from_slice(&id);
        let mut by_n = Vec::with_capacity(48);
        encode_value(&Value::Float64(n), &mut by_n);
        encode_value(&Value::Float64(now_ms), &mut by_n);
        by_n.extend_from_slice(&id);
        RawInsert {
            id,
            value,
            by_creation_time,
            by_n,
        }
    }
}

/// A random item like the ones the `items:insert` workload writes.
pub fn random_item(caller: usize, seq: u64) -> (String, f64) {
    let n = f64::from(rand::rng().random_range(0..1_000_000_u32));
    (format!("item {caller}-{seq}"), n)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
        * 1000.0
}

/// Nanoseconds since the Unix epoch (the unit of commit timestamps).
pub(crate) fn now_nanos() -> i64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_nanos();
    i64::try_from(nanos).unwrap_or(i64::MAX)
}

/// Opens `path` with the pragmas our storage's writer connection uses.
pub async fn open(path: &Path, durability: Durability) -> anyhow::Result<SqliteConnection> {
    let synchronous = match durability {
        Durability::Full => SqliteSynchronous::Full,
        Durability::Normal => SqliteSynchronous::Normal,
    };
    let options = SqliteConnectOptions::from_str("sqlite://")?
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(30))
        .pragma("cache_size", "-65536")
        .create_if_missing(true)
        .synchronous(synchronous);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {}", path.display()))?;
    for sql in SCHEMA_SQL {
        sqlx::query(*sql).execute(&mut conn).await?;
    }
    Ok(conn)
}

/// Where one raw operation spent its time.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phases {
    /// `BEGIN`.
    pub begin: Duration,
    /// The `documents` row.
    pub document: Duration,
    /// Both `index_entries` rows.
    pub index: Duration,
    /// `COMMIT` (where `synchronous=FULL` waits for the fsync, and where a
    /// WAL auto-checkpoint runs).
    pub commit: Duration,
}

/// [`Phases`] summed over many operations, with the slowest commit.
#[derive(Clone, Copy, Debug, Default)]
pub struct PhaseTotals {
    /// Operations summed.
    pub ops: u32,
    /// The sums.
    pub sum: Phases,
    /// The slowest `COMMIT`.
    pub max_commit: Duration,
}

impl PhaseTotals {
    /// Adds one operation.
    fn add(&mut self, p: Phases) {
        self.ops += 1;
        self.sum.begin += p.begin;
        self.sum.document += p.document;
        self.sum.index += p.index;
        self.sum.commit += p.commit;
        self.max_commit = self.max_commit.max(p.commit);
    }

    /// The mean of each phase.
    pub fn mean(&self) -> Phases {
        let n = self.ops.max(1);
        Phases {
            begin: self.sum.begin / n,
            document: self.sum.document / n,
            index: self.sum.index / n,
            commit: self.sum.commit / n,
        }
    }
}

/// Writes one item's rows in one transaction; returns the time of each step.
pub async fn insert(
    conn: &mut SqliteConnection,
    rows: &RawInsert,
    ts: i64,
) -> Result<Phases, sqlx::Error> {
    let t0 = Instant::now();
    let mut tx = conn.begin().await?;
    let t1 = Instant::now();
    sqlx::query(INSERT_DOCUMENT)
        .bind(rows.id.clone())
        .bind(ts)
        .bind(TABLE_NUMBER)
        .bind(Some(rows.value.clone()))
        .bind(false)
        .bind(None::<i64>)
        .execute(&mut *tx)
        .await?;
    let t2 = Instant::now();
    for (index, key) in [
        (BY_CREATION_TIME_ID, &rows.by_creation_time),
        (BY_N_ID, &rows.by_n),
    ] {
        sqlx::query(INSERT_INDEX)
            .bind(index)
            .bind(key.clone())
            .bind(ts)
            .bind(false)
            .bind(rows.id.clone())
            .execute(&mut *tx)
            .await?;
    }
    let t3 = Instant::now();
    tx.commit().await?;
    let t4 = Instant::now();
    Ok(Phases {
        begin: t1 - t0,
        document: t2 - t1,
        index: t3 - t2,
        commit: t4 - t3,
    })
}

/// Blob sizes of a typical operation: (id, document, by_creation_time key, by_n key).
pub fn typical_sizes() -> (usize, usize, usize, usize) {
    let (body, n) = random_item(12, 345_678);
    let rows = RawInsert::new(&body, n, now_ms());
    (
        rows.id.len(),
        rows.value.len(),
        rows.by_creation_time.len(),
        rows.by_n.len(),
    )
}

/// One-insert-per-transaction commits on a single connection, for the
/// window; also returns where the recorded operations spent their time.
pub async fn run(
    path: &Path,
    durability: Durability,
    window: Window,
) -> anyhow::Result<(Measurement, PhaseTotals)> {
    let mut conn = open(path, durability).await?;
    let deadlines = window.start();
    let mut recorder = Recorder::new(deadlines);
    let mut recorded = 0;
    let mut last_ts = 0;
    let mut seq = 0;
    let mut phases = PhaseTotals::default();
    while recorder.should_continue(recorded) {
        let started = Instant::now();
        let (body, n) = random_item(0, seq);
        let rows = RawInsert::new(&body, n, now_ms());
        last_ts = now_nanos().max(last_ts + 1);
        let (outcome, timing) = match insert(&mut conn, &rows, last_ts).await {
            Ok(timing) => (Outcome::Ok, Some(timing)),
            Err(e) => (Outcome::Failed(e.to_string()), None),
        };
        if recorder.record(started, Instant::now(), outcome) {
            recorded += 1;
            if let Some(timing) = timing {
                phases.add(timing);
            }
        }
        seq += 1;
    }
    conn.close().await?;
    Ok((Measurement::merge(vec![recorder]), phases))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_sizes_are_realistic() {
        let (id, doc, by_creation_time, by_n) = typical_sizes();
        assert_eq!(id, 16);
        assert!((40..=80).contains(&doc), "{doc}");
        assert!((20..=40).contains(&by_creation_time), "{by_creation_time}");
        assert!((30..=45).contains(&by_n), "{by_n}");
    }
}
