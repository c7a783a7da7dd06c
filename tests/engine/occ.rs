use std::collections::BTreeMap;

use convex_rs::app::BackendConfig;
use convex_rs::function::{FailureKind, FunctionFailure, RunnerConfig};
use convex_rs::prelude::*;
use convex_rs::query::{IndexRange, Query};
use convex_rs::store::{CommitError, Store};
use serde_json::{Value as Json, json};

use crate::common;

/// The fields of a bank account document.
fn account_fields(owner: f64, balance: f64) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("owner".to_string(), Value::Float64(owner)),
        ("balance".to_string(), Value::Float64(balance)),
    ])
}

async fn seeded_bank(accounts: f64) -> anyhow::Result<(TestBackend, Store)> {
    let t = common::bank().await?;
    t.mutation_path::<Json>(
        "bank:seed",
        json!({ "accounts": accounts, "balance": 100.0 }),
    )
    .await?;
    let store = t.backend().store().clone();
    Ok((t, store))
}

async fn account(tx: &convex_rs::store::Transaction, owner: f64) -> anyhow::Result<Document> {
    Query::<Document>::new(tx, "accounts")
        .with_index("by_owner", IndexRange::new().eq("owner", owner))
        .unique()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no account {owner}"))
}

#[tokio::test]
async fn concurrent_writers_of_one_document_conflict() -> anyhow::Result<()> {
    let (_t, store) = seeded_bank(2.0).await?;
    let a = store.begin();
    let b = store.begin();
    for tx in [&a, &b] {
        let acc = account(tx, 0.0).await?;
        tx.replace(acc.id, account_fields(0.0, 1.0)).await?;
    }
    store.commit(a).await?;
    match store.commit(b).await {
        Err(CommitError::Conflict { table, .. }) => assert_eq!(table, "accounts"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn disjoint_reads_and_writes_do_not_conflict() -> anyhow::Result<()> {
    let (_t, store) = seeded_bank(2.0).await?;
    let a = store.begin();
    let b = store.begin();
    let acc0 = account(&a, 0.0).await?;
    a.replace(acc0.id, account_fields(0.0, 1.0)).await?;
    let acc1 = account(&b, 1.0).await?;
    b.replace(acc1.id, account_fields(1.0, 2.0)).await?;
    store.commit(a).await?;
    store.commit(b).await?;
    Ok(())
}

#[tokio::test]
async fn range_reads_conflict_with_phantom_inserts_only_inside_the_range() -> anyhow::Result<()> {
    let (_t, store) = seeded_bank(3.0).await?;
    let accounts = store.catalog().table("accounts").unwrap().number;
    let reader = |lo: f64, hi: f64| {
        let store = store.clone();
        async move {
            let tx = store.begin();
            let seen = Query::<Document>::new(&tx, "accounts")
                .with_index(
                    "by_owner",
                    IndexRange::new().gte("owner", lo).lt("owner", hi),
                )
                .collect()
                .await?;
            // Write something unrelated so the transaction has to be validated.
            tx.insert(accounts, account_fields(1000.0 + lo, 0.0))?;
            anyhow::Ok((tx, seen.len()))
        }
    };
    let (inside, n) = reader(0.0, 10.0).await?;
    assert_eq!(n, 3);
    let (outside, _) = reader(20.0, 30.0).await?;
    let writer = store.begin();
    writer.insert(accounts, account_fields(5.0, 0.0))?;
    store.commit(writer).await?;
    assert!(
        matches!(
            store.commit(inside).await,
            Err(CommitError::Conflict { .. })
        ),
        "phantom inside the range"
    );
    store.commit(outside).await?;
    Ok(())
}

#[tokio::test]
async fn take_records_only_what_it_examined() -> anyhow::Result<()> {
    let (_t, store) = seeded_bank(5.0).await?;
    let accounts = store.catalog().table("accounts").unwrap().number;
    let tx = store.begin();
    let first = Query::<Document>::new(&tx, "accounts").first().await?;
    assert!(first.is_some());
    tx.insert(accounts, account_fields(99.0, 0.0))?;
    // A later insert lands after the first document in creation order: no conflict.
    let other = store.begin();
    other.insert(accounts, account_fields(98.0, 0.0))?;
    store.commit(other).await?;
    store.commit(tx).await?;
    // But a full scan does conflict with an insert.
    let tx = store.begin();
    Query::<Document>::new(&tx, "accounts").collect().await?;
    tx.insert(accounts, account_fields(97.0, 0.0))?;
    let other = store.begin();
    other.insert(accounts, account_fields(96.0, 0.0))?;
    store.commit(other).await?;
    assert!(matches!(
        store.commit(tx).await,
        Err(CommitError::Conflict { .. })
    ));
    Ok(())
}

/// Runs `n` concurrent transfers of 1 from account 0 to account 1; returns
/// how many committed and the failures.
async fn race_transfers(t: &TestBackend, n: usize) -> anyhow::Result<(f64, Vec<FunctionFailure>)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                t.mutation_path::<bool>(
                    "bank:transfer",
                    json!({ "from": 0.0, "to": 1.0, "amount": 1.0 }),
                )
                .await
            })
        })
        .collect();
    let mut failures = Vec::new();
    let mut committed = 0.0;
    for task in tasks {
        match task.await? {
            Ok(true) => committed += 1.0,
            Ok(false) => anyhow::bail!("a transfer found insufficient funds"),
            Err(e) => failures.push(e),
        }
    }
    Ok((committed, failures))
}

/// The same load as below, with the default retries: every transfer commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_mutations_are_retried_automatically() -> anyhow::Result<()> {
    let (t, _store) = seeded_bank(2.0).await?;
    let (committed, failures) = race_transfers(&t, 40).await?;
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(committed, 40.0);
    assert_eq!(
        t.query_path::<f64>("bank:balance", json!({ "owner": 0.0 }))
            .await?,
        60.0
    );
    assert_eq!(
        t.query_path::<f64>("bank:balance", json!({ "owner": 1.0 }))
            .await?,
        140.0
    );
    Ok(())
}

/// With a single attempt, the load conflicts (which is what gives the test
/// above its meaning) and each failure names the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_surface_after_the_last_attempt_naming_the_table() -> anyhow::Result<()> {
    let config = BackendConfig {
        runner: RunnerConfig {
            max_mutation_attempts: 1,
            ..RunnerConfig::default()
        },
        ..BackendConfig::temporary()
    };
    let t = TestBackend::with_config(bank::app()?, config).await?;
    t.mutation_path::<Json>("bank:seed", json!({ "accounts": 2.0, "balance": 1000.0 }))
        .await?;
    let (committed, failures) = race_transfers(&t, 40).await?;
    assert!(
        !failures.is_empty(),
        "40 concurrent transfers produced no conflict"
    );
    for e in &failures {
        assert_eq!(e.kind, FailureKind::Conflict);
        assert!(e.message.contains("table \"accounts\""), "{e}");
    }
    assert_eq!(
        t.query_path::<f64>("bank:balance", json!({ "owner": 1.0 }))
            .await?,
        1000.0 + committed
    );
    assert_eq!(t.query_path::<f64>("bank:total", json!({})).await?, 2000.0);
    Ok(())
}
