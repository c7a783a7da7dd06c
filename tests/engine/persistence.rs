//! One conformance test for every `Persistence`: the same commits written
//! straight to SQLite and to PostgreSQL (when `CONVEX_TEST_DATABASE_URL`
//! names a server) must read back the same at every snapshot: index scans
//! (a key that is left and re-entered, an entry whose document is deleted,
//! snapshots between versions, both orders, limits, bounded intervals) and
//! document reads, one by one and batched. The store's read caches are not
//! in the way here, so this is the persistence's own MVCC.

use std::collections::BTreeMap;

use convex_rs::schema::{Schema, TableDefinition};
use convex_rs::store::postgres::PostgresPersistence;
use convex_rs::store::sqlite::SqlitePersistence;
use convex_rs::store::{
    CommitWrites, Document, DocumentWrite, IndexMeta, IndexWrite, KeyInterval, Order, Persistence,
    PostgresConfig, SqliteConfig,
};
use convex_rs::testing::{TEST_DATABASE_URL_VAR, test_database_url};
use convex_rs::value::{DocumentId, InternalId, TableNumber, Value};

fn document(table: TableNumber, internal: InternalId, n: f64) -> Document {
    Document {
        id: DocumentId { table, internal },
        creation_time: 1.0,
        fields: BTreeMap::from([("n".to_string(), Value::Float64(n))]),
    }
}

/// What a scan returned: `(key, document n, revision ts)` per entry.
type Scanned = Vec<(Vec<u8>, f64, u64)>;

/// Scans `index` and summarizes the entries.
async fn scan(
    p: &dyn Persistence,
    index: &IndexMeta,
    interval: &KeyInterval,
    ts: u64,
    order: Order,
    limit: usize,
) -> anyhow::Result<Scanned> {
    Ok(p.scan(index, interval, ts, order, limit)
        .await?
        .into_iter()
        .map(|e| {
            let n = match e.document.fields.get("n") {
                Some(Value::Float64(n)) => *n,
                _ => f64::NAN,
            };
            (e.key, n, e.ts)
        })
        .collect())
}

async fn check(p: &dyn Persistence) -> anyhow::Result<()> {
    let schema = Schema::new().table(TableDefinition::new("things").index("by_n", &["n"]));
    let (catalog, _) = p.sync_catalog(&schema).await?;
    let table = catalog.table("things").expect("the table");
    let by_n = catalog
        .index_by_name(table, "by_n")
        .expect("the index")
        .clone();
    let t = table.number;
    let (a, b, missing) = (
        InternalId([1; 16]),
        InternalId([2; 16]),
        InternalId([3; 16]),
    );
    let (a1, a2, b2) = (b"1A".to_vec(), b"2A".to_vec(), b"2B".to_vec());
    let entry = |key: &Vec<u8>, deleted, doc| IndexWrite {
        index: by_n.id,
        key: key.clone(),
        deleted,
        doc,
    };
    let write = |id, prev_ts, n: Option<f64>| DocumentWrite {
        id: DocumentId {
            table: t,
            internal: id,
        },
        prev_ts,
        document: n.map(|n| document(t, id, n)),
    };
    p.write(&[
        CommitWrites {
            ts: 10,
            documents: vec![write(a, None, Some(1.0)), write(b, None, Some(2.0))],
            index: vec![entry(&a1, false, a), entry(&b2, false, b)],
        },
        CommitWrites {
            ts: 20,
            documents: vec![write(a, Some(10), Some(2.0))],
            index: vec![entry(&a1, true, a), entry(&a2, false, a)],
        },
    ])
    .await?;
    p.write(&[CommitWrites {
        ts: 30,
        documents: vec![write(b, Some(10), None)],
        index: vec![entry(&b2, true, b)],
    }])
    .await?;
    p.write(&[CommitWrites {
        ts: 40,
        documents: vec![write(a, Some(20), Some(1.0))],
        index: vec![entry(&a2, true, a), entry(&a1, false, a)],
    }])
    .await?;

    let all = KeyInterval {
        start: Vec::new(),
        end: None,
    };
    let cases: [(u64, Scanned); 6] = [
        (5, vec![]),
        (10, vec![(a1.clone(), 1.0, 10), (b2.clone(), 2.0, 10)]),
        (15, vec![(a1.clone(), 1.0, 10), (b2.clone(), 2.0, 10)]),
        (20, vec![(a2.clone(), 2.0, 20), (b2.clone(), 2.0, 10)]),
        (30, vec![(a2.clone(), 2.0, 20)]),
        (45, vec![(a1.clone(), 1.0, 40)]),
    ];
    for (ts, expected) in cases {
        let got = scan(p, &by_n, &all, ts, Order::Asc, 100).await?;
        assert_eq!(got, expected, "scan at {ts}");
        let mut reversed = expected.clone();
        reversed.reverse();
        let got = scan(p, &by_n, &all, ts, Order::Desc, 100).await?;
        assert_eq!(got, reversed, "descending scan at {ts}");
    }
    assert_eq!(
        scan(p, &by_n, &all, 20, Order::Desc, 1).await?,
        vec![(b2.clone(), 2.0, 10)],
        "a limit takes from the right end"
    );
    let twos = KeyInterval {
        start: b"2".to_vec(),
        end: Some(b"3".to_vec()),
    };
    assert_eq!(
        scan(p, &by_n, &twos, 10, Order::Asc, 100).await?,
        vec![(b2.clone(), 2.0, 10)]
    );
    assert_eq!(
        scan(p, &by_n, &twos, 20, Order::Asc, 100).await?,
        vec![(a2.clone(), 2.0, 20), (b2.clone(), 2.0, 10)]
    );

    let revision = |r: Option<convex_rs::store::Revision>| {
        r.map(|r| {
            let n = r.document.map(|d| d.fields.get("n").cloned());
            (r.ts, n)
        })
    };
    let n = |n: f64| Some(Some(Value::Float64(n)));
    assert_eq!(revision(p.get(t, a, 5).await?), None);
    assert_eq!(revision(p.get(t, a, 15).await?), Some((10, n(1.0))));
    assert_eq!(revision(p.get(t, a, 25).await?), Some((20, n(2.0))));
    assert_eq!(
        revision(p.get(t, b, 35).await?),
        Some((30, None)),
        "a deletion"
    );
    assert_eq!(
        revision(p.get(TableNumber(t.0 + 1), a, 50).await?),
        None,
        "another table"
    );
    let many = p.get_many(t, &[missing, a, b, a], 30).await?;
    let many: Vec<_> = many.into_iter().map(revision).collect();
    assert_eq!(
        many,
        vec![
            None,
            Some((20, n(2.0))),
            Some((30, None)),
            Some((20, n(2.0)))
        ]
    );

    // The catalog survives and the timestamp is kept.
    let (_, max_ts) = p.sync_catalog(&schema).await?;
    assert_eq!(max_ts, 40);
    p.close().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reads_back_every_snapshot() -> anyhow::Result<()> {
    check(&SqlitePersistence::open(SqliteConfig::temporary()).await?).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_back_every_snapshot() -> anyhow::Result<()> {
    let Some(server) = std::env::var(TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
    else {
        return Ok(());
    };
    let config = PostgresConfig::new(test_database_url(&server, None));
    check(&PostgresPersistence::open(config).await?).await
}
