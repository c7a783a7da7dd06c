//! Garbage collection of old revisions: reads at every snapshot at or
//! after the floor answer as before collection (on SQLite and, when
//! `CONVEX_TEST_DATABASE_URL` names a server, PostgreSQL); a document patched
//! a million times keeps the database small; a store refuses snapshots older
//! than its retention window; the mutation log expires.

use std::collections::BTreeMap;
use std::time::Duration;

use convex_rs::app::BackendConfig;
use convex_rs::schema::{Schema, TableDefinition};
use convex_rs::store::postgres::PostgresPersistence;
use convex_rs::store::sqlite::SqlitePersistence;
use convex_rs::store::{
    CommitWrites, Document, DocumentWrite, IndexMeta, IndexWrite, KeyInterval, Order, Persistence,
    PostgresConfig, Retention, SqliteConfig, StoreError,
};
use convex_rs::testing::{TEST_DATABASE_URL_VAR, TestBackend, test_database_url};
use convex_rs::value::{DocumentId, InternalId, TableNumber, Value};
use rand::{RngExt, SeedableRng};
use serde_json::{Value as Json, json};

fn document(table: TableNumber, internal: InternalId, n: u32) -> Document {
    Document {
        id: DocumentId { table, internal },
        creation_time: 1.0,
        fields: BTreeMap::from([("n".to_string(), Value::Float64(f64::from(n)))]),
    }
}

/// The index key of a document with `n`: `n` big-endian, then the id (so
/// keys are unique per document, as the store's keys are).
fn key(n: u32, id: InternalId) -> Vec<u8> {
    let mut key = n.to_be_bytes().to_vec();
    key.extend_from_slice(&id.0);
    key
}

async fn setup(p: &dyn Persistence) -> anyhow::Result<(TableNumber, IndexMeta)> {
    let schema = Schema::new().table(TableDefinition::new("things").index("by_n", &["n"]));
    let (catalog, _) = p.sync_catalog(&schema).await?;
    let table = catalog.table("things").expect("the table");
    let by_n = catalog
        .index_by_name(table, "by_n")
        .expect("the index")
        .clone();
    Ok((table.number, by_n))
}

/// The state of every document after each commit: `ts -> id -> n`.
type History = BTreeMap<u64, BTreeMap<u8, u32>>;

/// Writes `commits` random commits (inserts, updates that move the index
/// key, deletions) of up to 24 documents and returns what each snapshot holds.
async fn random_history(
    p: &dyn Persistence,
    table: TableNumber,
    by_n: &IndexMeta,
    commits: u64,
    seed: u64,
) -> anyhow::Result<History> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut live: BTreeMap<u8, (u32, u64)> = BTreeMap::new();
    let mut history = History::new();
    for c in 1..=commits {
        let ts = c * 10;
        let mut documents = Vec::new();
        let mut index = Vec::new();
        let mut touched = std::collections::BTreeSet::new();
        for _ in 0..rng.random_range(1..4) {
            let slot: u8 = rng.random_range(0..24);
            if !touched.insert(slot) {
                continue;
            }
            let internal = InternalId([slot + 1; 16]);
            let id = DocumentId { table, internal };
            let old = live.get(&slot).copied();
            let delete = old.is_some() && rng.random_bool(0.25);
            let new_n = (!delete).then(|| rng.random_range(0..8u32));
            if let Some((n, _)) = old
                && Some(n) != new_n
            {
                index.push(IndexWrite {
                    index: by_n.id,
                    key: key(n, internal),
                    deleted: true,
                    doc: internal,
                });
            }
            if let Some(n) = new_n
                && old.map(|(o, _)| o) != Some(n)
            {
                index.push(IndexWrite {
                    index: by_n.id,
                    key: key(n, internal),
                    deleted: false,
                    doc: internal,
                });
            }
            documents.push(DocumentWrite {
                id,
                prev_ts: old.map(|(_, ts)| ts),
                document: new_n.map(|n| document(table, internal, n)),
            });
            match new_n {
                Some(n) => live.insert(slot, (n, ts)),
                None => live.remove(&slot),
            };
        }
        p.write(&[CommitWrites {
            ts,
            documents,
            index,
        }])
        .await?;
        history.insert(ts, live.iter().map(|(s, (n, _))| (*s, *n)).collect());
    }
    Ok(history)
}

/// Checks point reads and index scans at `ts` against the model.
async fn check_snapshot(
    p: &dyn Persistence,
    table: TableNumber,
    by_n: &IndexMeta,
    ts: u64,
    expected: &BTreeMap<u8, u32>,
) -> anyhow::Result<()> {
    for slot in 0..24u8 {
        let internal = InternalId([slot + 1; 16]);
        let got = p
            .get(table, internal, ts)
            .await?
            .and_then(|r| r.document)
            .and_then(|d| match d.fields.get("n") {
                Some(Value::Float64(n)) => Some(*n as u32),
                _ => None,
            });
        assert_eq!(got, expected.get(&slot).copied(), "document {slot} at {ts}");
    }
    let scanned: Vec<(Vec<u8>, u32)> = p
        .scan(by_n, &KeyInterval::all(), ts, Order::Asc, 1000)
        .await?
        .into_iter()
        .map(|e| match e.document.fields.get("n") {
            Some(Value::Float64(n)) => (e.key, *n as u32),
            _ => (e.key, u32::MAX),
        })
        .collect();
    let mut want: Vec<(Vec<u8>, u32)> = expected
        .iter()
        .map(|(slot, n)| (key(*n, InternalId([slot + 1; 16])), *n))
        .collect();
    want.sort();
    assert_eq!(scanned, want, "index scan at {ts}");
    Ok(())
}

/// Collection to a floor in the middle of the history, in small chunks,
/// leaves every snapshot from the floor on as it was.
async fn collection_keeps_snapshots(p: &dyn Persistence) -> anyhow::Result<()> {
    let (table, by_n) = setup(p).await?;
    let history = random_history(p, table, &by_n, 400, 7).await?;
    let mut floor_before = 0;
    for floor in [1500, 2500, 3005] {
        let mut chunks = 0;
        loop {
            let done = p.collect_garbage(floor, 5).await?;
            chunks += 1;
            assert!(done.through <= floor && done.through >= floor_before);
            if done.through == floor {
                break;
            }
            assert!(chunks < 10_000, "collection does not finish");
        }
        assert!(chunks > 1, "a small chunk size takes several chunks");
        assert_eq!(p.collected_through().await?, floor);
        floor_before = floor;
        for (ts, expected) in history.range(floor..) {
            check_snapshot(p, table, &by_n, *ts, expected).await?;
            // Between commits too.
            check_snapshot(p, table, &by_n, ts + 5, expected).await?;
        }
    }
    // Asking for an older floor does nothing.
    assert_eq!(p.collect_garbage(100, 5).await?.through, 3005);
    p.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_collection_keeps_every_retained_snapshot() -> anyhow::Result<()> {
    collection_keeps_snapshots(&SqlitePersistence::open(SqliteConfig::temporary()).await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_collection_keeps_every_retained_snapshot() -> anyhow::Result<()> {
    let Some(server) = std::env::var(TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        return Ok(());
    };
    let config = PostgresConfig::new(test_database_url(&server, None));
    collection_keeps_snapshots(&PostgresPersistence::open(config).await?).await
}

/// One document patched a million times (each revision also moves its index
/// key), with collection running every 20,000 revisions at a floor 10,000
/// revisions back: the database file stays small, and the newest revision
/// and the retained ones still read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_patches_keep_the_database_small() -> anyhow::Result<()> {
    if std::env::var(TEST_DATABASE_URL_VAR).is_ok_and(|url| !url.is_empty()) {
        return Ok(()); // SQLite's file; ran in the SQLite pass
    }
    const PATCHES: u64 = 1_000_000;
    const PER_WRITE: u64 = 1000;
    const RETAINED: u64 = 10_000;
    const BOUND: u64 = 12 << 20;
    // A checkpoint (every 250 ms) empties the log once it passes 64 MiB;
    // writing as fast as this test does, it passes that between two
    // checkpoints (the largest seen was about 250 MiB).
    const WAL_BOUND: u64 = 384 << 20;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("gc.sqlite3");
    let p = SqlitePersistence::open(SqliteConfig::file(&path)).await?;
    let (table, by_n) = setup(&p).await?;
    let internal = InternalId([9; 16]);
    let id = DocumentId { table, internal };
    let mut largest = 0;
    let mut largest_wal = 0;
    let started = std::time::Instant::now();
    let mut ts = 0u64;
    while ts < PATCHES {
        let mut batch = Vec::with_capacity(PER_WRITE as usize);
        for _ in 0..PER_WRITE {
            ts += 1;
            let n = (ts % 1000) as u32;
            let mut index = vec![IndexWrite {
                index: by_n.id,
                key: key(n, internal),
                deleted: false,
                doc: internal,
            }];
            if ts > 1 {
                index.push(IndexWrite {
                    index: by_n.id,
                    key: key(((ts - 1) % 1000) as u32, internal),
                    deleted: true,
                    doc: internal,
                });
            }
            batch.push(CommitWrites {
                ts,
                documents: vec![DocumentWrite {
                    id,
                    prev_ts: (ts > 1).then_some(ts - 1),
                    document: Some(document(table, internal, n)),
                }],
                index,
            });
        }
        p.write(&batch).await?;
        if ts.is_multiple_of(20_000) {
            let floor = ts - RETAINED;
            while p.collect_garbage(floor, 5000).await?.through < floor {}
            let (size, wal) = file_sizes(&path)?;
            largest = largest.max(size);
            largest_wal = largest_wal.max(wal);
            assert!(
                size <= BOUND,
                "after {ts} patches the database is {size} bytes (bound {BOUND})"
            );
        }
    }
    let elapsed = started.elapsed();
    // The newest revision, and one inside the retained window.
    let newest = p
        .get(table, internal, PATCHES)
        .await?
        .expect("the document");
    assert_eq!(newest.ts, PATCHES);
    let retained = p
        .get(table, internal, PATCHES - 5000)
        .await?
        .expect("a retained revision");
    assert_eq!(retained.ts, PATCHES - 5000);
    let scan = p
        .scan(&by_n, &KeyInterval::all(), PATCHES - 5000, Order::Asc, 10)
        .await?;
    assert_eq!(scan.len(), 1, "one live index entry at a retained snapshot");
    assert_eq!(scan[0].ts, PATCHES - 5000);
    p.close().await;
    println!(
        "gc bound: {PATCHES} patches of one document in {:.1} s; database file at most {:.2} MiB \
         (bound {} MiB, {RETAINED} revisions retained), write-ahead log at most {:.1} MiB",
        elapsed.as_secs_f64(),
        largest as f64 / (1 << 20) as f64,
        BOUND >> 20,
        largest_wal as f64 / (1 << 20) as f64,
    );
    assert!(
        largest_wal <= WAL_BOUND,
        "the write-ahead log grew to {largest_wal} bytes"
    );
    Ok(())
}

/// The sizes of the database file and of its write-ahead log.
fn file_sizes(path: &std::path::Path) -> anyhow::Result<(u64, u64)> {
    let wal = path.with_extension("sqlite3-wal");
    let wal = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
    Ok((std::fs::metadata(path)?.len(), wal))
}

/// Through a whole backend: patches through mutations with a short
/// retention window; after collection, reads at the latest snapshot see the
/// newest value, `query_at_ts` at a retained snapshot works, and one older
/// than retention fails with an error that says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_older_than_retention_are_refused_with_a_clear_error() -> anyhow::Result<()> {
    let config = BackendConfig {
        retention: Retention {
            window: Duration::from_millis(300),
            // Collected by hand below.
            interval: Duration::from_secs(3600),
            ..Retention::default()
        },
        ..BackendConfig::temporary()
    };
    let t = TestBackend::with_config(bank::app()?, config).await?;
    t.mutation_path::<Json>("bank:seed", json!({ "accounts": 2.0, "balance": 1000.0 }))
        .await?;
    let old_ts = t.backend().store().latest_ts();
    for _ in 0..50 {
        t.mutation_path::<Json>(
            "bank:transfer",
            json!({ "from": 0.0, "to": 1.0, "amount": 1.0 }),
        )
        .await?;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    let recent_ts = t.backend().store().latest_ts();
    let report = t
        .backend()
        .store()
        .collect_garbage(Duration::from_millis(300))
        .await?;
    assert!(report.revisions >= 50, "collected {report:?}");
    assert!(report.floor > old_ts && report.floor <= recent_ts);
    assert_eq!(t.backend().store().oldest_readable_ts(), report.floor);

    let expired = t.backend().store().begin_read_at(old_ts);
    assert!(
        matches!(expired, Err(StoreError::SnapshotExpired { requested, .. }) if requested == old_ts),
        "{expired:?}"
    );
    let message = expired.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("retention"), "{message}");

    let at_recent = t.backend().store().begin_read_at(recent_ts);
    assert!(at_recent.is_ok(), "a retained snapshot reads");
    let balance: f64 = t
        .query_path("bank:balance", json!({ "owner": 1.0 }))
        .await?;
    assert_eq!(balance, 1050.0);
    t.backend().shutdown().await;
    Ok(())
}

/// A transaction reading at an old snapshot holds the floor back: nothing
/// it can see is collected while it lives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_transaction_holds_the_floor_back() -> anyhow::Result<()> {
    let t = TestBackend::new(bank::app()?).await?;
    t.mutation_path::<Json>("bank:seed", json!({ "accounts": 2.0, "balance": 1000.0 }))
        .await?;
    let store = t.backend().store().clone();
    let reader = store.begin_read();
    let pinned = reader.snapshot_ts();
    for _ in 0..10 {
        t.mutation_path::<Json>(
            "bank:transfer",
            json!({ "from": 0.0, "to": 1.0, "amount": 1.0 }),
        )
        .await?;
    }
    let first = store.collect_garbage(Duration::ZERO).await?;
    // At or below: another short transaction (the scheduler's) may hold an
    // even older snapshot at this moment.
    assert!(
        first.floor <= pinned,
        "the floor {} passed the live snapshot {pinned}",
        first.floor
    );
    drop(reader);
    let mut collected = first.revisions;
    let mut floor = first.floor;
    for _ in 0..100 {
        let report = store.collect_garbage(Duration::ZERO).await?;
        collected += report.revisions;
        floor = report.floor;
        if floor > pinned {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(floor > pinned, "the floor stayed at {floor}");
    assert!(collected >= 10, "collected {collected} revisions");
    t.backend().shutdown().await;
    Ok(())
}

/// Mutation log entries older than the window are deleted; newer ones stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mutation_log_expires() -> anyhow::Result<()> {
    use convex_rs::function::{Caller, Identity, RequestKey, expire_mutation_log};
    let t = TestBackend::new(bank::app()?).await?;
    let runner = t.backend().runner().clone();
    for request in 0..3 {
        let outcome = runner
            .run_mutation_once(
                "bank:seed",
                Value::Object(BTreeMap::from([
                    ("accounts".to_string(), Value::Float64(1.0)),
                    ("balance".to_string(), Value::Float64(1.0)),
                ])),
                Identity::Unauthenticated,
                Caller::Client,
                Some(RequestKey::new("session-a", request)),
            )
            .await;
        assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    }
    let store = t.backend().store();
    let expire = |window| async move {
        expire_mutation_log(store, window)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    };
    assert_eq!(expire(Duration::from_secs(3600)).await?, 0);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(expire(Duration::from_millis(10)).await?, 3);
    assert_eq!(expire(Duration::ZERO).await?, 0);
    t.backend().shutdown().await;
    Ok(())
}
