//! Property test of optimistic concurrency control: transactions that all
//! start from one snapshot and commit in order succeed exactly when no earlier
//! committed transaction wrote something they read, and the final state is
//! that of running the committed ones serially.

use std::collections::{BTreeMap, BTreeSet};

use convex_rs::prelude::*;
use convex_rs::query::{IndexRange, Query};
use convex_rs::schema::{Schema, TableDefinition};
use convex_rs::store::{CommitError, SqliteConfig, Store, Transaction};
use proptest::prelude::*;

const KEYS: u8 = 8;

#[derive(Clone, Debug)]
enum Op {
    /// Read key k through the index.
    Read(u8),
    /// Read keys in [lo, hi) through the index.
    Range(u8, u8),
    /// Read key k and increment its value.
    Increment(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..KEYS).prop_map(Op::Read),
        (0..KEYS, 0..KEYS).prop_map(|(a, b)| Op::Range(a.min(b), a.max(b) + 1)),
        (0..KEYS).prop_map(Op::Increment),
    ]
}

fn doc(k: u8, v: f64) -> BTreeMap<String, Value> {
    [
        ("k".to_string(), Value::Float64(f64::from(k))),
        ("v".to_string(), Value::Float64(v)),
    ]
    .into()
}

async fn find(tx: &Transaction, k: u8) -> anyhow::Result<Document> {
    Query::<Document>::new(tx, "kv")
        .with_index("by_k", IndexRange::new().eq("k", f64::from(k)))
        .unique()
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing key {k}"))
}

/// Runs `ops`, returning the keys read and the increments made (a key may be
/// incremented twice: the second increment reads the first one's write).
async fn run(tx: &Transaction, ops: &[Op]) -> anyhow::Result<(BTreeSet<u8>, Vec<u8>)> {
    let mut reads = BTreeSet::new();
    let mut writes = Vec::new();
    for op in ops {
        match *op {
            Op::Read(k) => {
                find(tx, k).await?;
                reads.insert(k);
            }
            Op::Range(lo, hi) => {
                let found = Query::<Document>::new(tx, "kv")
                    .with_index(
                        "by_k",
                        IndexRange::new()
                            .gte("k", f64::from(lo))
                            .lt("k", f64::from(hi)),
                    )
                    .collect()
                    .await?;
                assert_eq!(found.len(), usize::from(hi - lo));
                reads.extend(lo..hi);
            }
            Op::Increment(k) => {
                let d = find(tx, k).await?;
                let v = d.fields.get("v").and_then(Value::as_f64).unwrap_or(0.0);
                tx.replace(d.id, doc(k, v + 1.0)).await?;
                reads.insert(k);
                writes.push(k);
            }
        }
    }
    Ok((reads, writes))
}

async fn check(txs: Vec<Vec<Op>>) -> anyhow::Result<()> {
    let schema = Schema::new().table(TableDefinition::new("kv").index("by_k", &["k"]));
    let store = Store::open_sqlite(SqliteConfig::temporary(), &schema).await?;
    let table = store.catalog().table("kv").unwrap().number;
    let seed = store.begin();
    for k in 0..KEYS {
        seed.insert(table, doc(k, 0.0))?;
    }
    store.commit(seed).await?;

    let mut started = Vec::new();
    for ops in &txs {
        let tx = store.begin();
        let (reads, writes) = run(&tx, ops).await?;
        started.push((tx, reads, writes));
    }
    let mut written_by_committed = BTreeSet::new();
    let mut expected = [0.0; KEYS as usize];
    for (tx, reads, writes) in started {
        // A read-only transaction is serializable at its snapshot and commits trivially.
        let should_commit = writes.is_empty() || reads.is_disjoint(&written_by_committed);
        let result = store.commit(tx).await;
        match (should_commit, result) {
            (true, Ok(_)) => {
                for k in &writes {
                    expected[usize::from(*k)] += 1.0;
                }
                written_by_committed.extend(writes.iter().copied());
            }
            (false, Err(CommitError::Conflict { table, .. })) => assert_eq!(table, "kv"),
            (want, got) => panic!(
                "expected commit={want}, got {got:?} (reads {reads:?}, written {written_by_committed:?})"
            ),
        }
    }
    let fresh = store.begin_read();
    for k in 0..KEYS {
        let v = find(&fresh, k)
            .await?
            .fields
            .get("v")
            .and_then(Value::as_f64);
        assert_eq!(v, Some(expected[usize::from(k)]), "key {k}");
    }
    store.close().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn occ_commits_exactly_the_serializable_transactions(
        txs in proptest::collection::vec(proptest::collection::vec(op(), 1..5), 2..6)
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(check(txs)).unwrap();
    }
}
