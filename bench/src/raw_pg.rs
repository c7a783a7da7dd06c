//! The PostgreSQL baseline: plain sqlx on one connection, no framework. Each
//! operation is one transaction writing what an `items:insert` writes in our
//! PostgreSQL storage (see `convex-rs/src/store/postgres.rs`): one
//! `documents` row and two `index_entries` rows, with the same tables, types
//! and key encodings as the SQLite baseline (`raw.rs`).

use std::time::Instant;

use anyhow::Context;
use sqlx::{Connection, PgConnection};

use crate::measure::{Measurement, Outcome, Recorder, Window};
use crate::raw::{
    BY_CREATION_TIME_ID, BY_N_ID, RawInsert, TABLE_NUMBER, now_ms, now_nanos, random_item,
};

/// Our PostgreSQL storage's revision log and index entries.
const SCHEMA_SQL: &[&str] = &[
    "CREATE TABLE documents (id BYTEA NOT NULL, ts BIGINT NOT NULL, table_number BIGINT NOT NULL, \
     value BYTEA, deleted BOOLEAN NOT NULL, prev_ts BIGINT, PRIMARY KEY (id, ts))",
    "CREATE INDEX documents_by_table ON documents (table_number, id, ts)",
    "CREATE TABLE index_entries (index_id BIGINT NOT NULL, key BYTEA NOT NULL, ts BIGINT NOT NULL, \
     deleted BOOLEAN NOT NULL, doc_id BYTEA NOT NULL, PRIMARY KEY (index_id, key, ts))",
];

/// Creates the database `name` on the server of `server_url` (the
/// `postgres` maintenance database is used to create it) and returns its URL.
pub async fn fresh_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    let server = server_url.trim_end_matches('/');
    let mut admin = PgConnection::connect(&format!("{server}/postgres"))
        .await
        .with_context(|| format!("connecting to PostgreSQL at {server}"))?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut admin)
        .await
        .with_context(|| format!("creating the database {name}"))?;
    admin.close().await?;
    Ok(format!("{server}/{name}"))
}

/// Drops the database `name` (best effort: a warning if it cannot).
pub async fn drop_database(server_url: &str, name: &str) {
    let server = server_url.trim_end_matches('/');
    let dropped = async {
        let mut admin = PgConnection::connect(&format!("{server}/postgres")).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await
    };
    if let Err(e) = dropped.await {
        eprintln!("warning: could not drop the database {name}: {e}");
    }
}

async fn insert(conn: &mut PgConnection, rows: &RawInsert, ts: i64) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::query(
        "INSERT INTO documents (id, ts, table_number, value, deleted, prev_ts) \
         VALUES ($1, $2, $3, $4, false, NULL)",
    )
    .bind(rows.id.clone())
    .bind(ts)
    .bind(TABLE_NUMBER)
    .bind(rows.value.clone())
    .execute(&mut *tx)
    .await?;
    for (index, key) in [
        (BY_CREATION_TIME_ID, &rows.by_creation_time),
        (BY_N_ID, &rows.by_n),
    ] {
        sqlx::query(
            "INSERT INTO index_entries (index_id, key, ts, deleted, doc_id) \
             VALUES ($1, $2, $3, false, $4)",
        )
        .bind(index)
        .bind(key.clone())
        .bind(ts)
        .bind(rows.id.clone())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// One-insert-per-transaction commits on a single connection to the
/// (fresh) database at `url`, for the window.
pub async fn run(url: &str, window: Window) -> anyhow::Result<Measurement> {
    let mut conn = PgConnection::connect(url).await?;
    for sql in SCHEMA_SQL {
        sqlx::query(*sql).execute(&mut conn).await?;
    }
    let mut recorder = Recorder::new(window.start());
    let mut recorded = 0;
    let mut last_ts = 0;
    let mut seq = 0;
    while recorder.should_continue(recorded) {
        let started = Instant::now();
        let (body, n) = random_item(0, seq);
        let rows = RawInsert::new(&body, n, now_ms());
        last_ts = now_nanos().max(last_ts + 1);
        let outcome = match insert(&mut conn, &rows, last_ts).await {
            Ok(()) => Outcome::Ok,
            Err(e) => Outcome::Failed(e.to_string()),
        };
        if recorder.record(started, Instant::now(), outcome) {
            recorded += 1;
        }
        seq += 1;
    }
    conn.close().await?;
    Ok(Measurement::merge(vec![recorder]))
}
