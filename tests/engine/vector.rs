//! Vector indexes at the store level: similarity order, filters, limits and
//! errors, snapshot consistency with and without the graph, own writes,
//! OCC, restart, and a property test against exact search.

use std::collections::BTreeMap;

use convex_rs::prelude::*;
use convex_rs::query::{Query, QueryError};
use convex_rs::schema::{Schema, TableDefinition, VectorIndex};
use convex_rs::store::{CommitError, SqliteConfig, Store, Transaction};
use convex_rs::value::DocumentId;
use proptest::prelude::*;

const DIMS: usize = 8;

fn schema() -> Schema {
    Schema::new().table(TableDefinition::new("items").vector_index(
        "by_embedding",
        VectorIndex::new("embedding", DIMS).filter_fields(&["tag"]),
    ))
}

fn item(vector: &[f64], tag: &str) -> BTreeMap<String, Value> {
    [
        (
            "embedding".to_string(),
            Value::Array(vector.iter().map(|x| Value::Float64(*x)).collect()),
        ),
        ("tag".to_string(), Value::String(tag.into())),
    ]
    .into()
}

/// A unit-ish vector pointing mostly along axis `axis`, tilted by `tilt`.
fn axis(axis: usize, tilt: f64) -> Vec<f64> {
    let mut v = vec![0.0; DIMS];
    v[axis % DIMS] = 1.0;
    v[(axis + 1) % DIMS] = tilt;
    v
}

async fn open(path: Option<&std::path::Path>) -> anyhow::Result<Store> {
    let config = match path {
        Some(p) => SqliteConfig::file(p),
        None => SqliteConfig::temporary(),
    };
    Ok(Store::open_sqlite(config, &schema()).await?)
}

fn table(store: &Store) -> convex_rs::value::TableNumber {
    store
        .catalog()
        .table("items")
        .map(|t| t.number)
        .expect("items")
}

async fn insert(store: &Store, vector: &[f64], tag: &str) -> anyhow::Result<DocumentId> {
    let tx = store.begin();
    let id = tx.insert(table(store), item(vector, tag))?;
    store.commit(tx).await?;
    Ok(id)
}

async fn similar(
    tx: &Transaction,
    vector: &[f64],
    limit: usize,
    tag: Option<&str>,
) -> Result<Vec<(DocumentId, f64)>, QueryError> {
    let mut query = VectorQuery::new(vector.to_vec()).limit(limit);
    if let Some(tag) = tag {
        let tag = tag.to_string();
        query = query.filter(move |f| f.eq("tag", tag));
    }
    let found = Query::<Document>::new(tx, "items")
        .with_vector_index("by_embedding", query)
        .collect()
        .await?;
    Ok(found.into_iter().map(|s| (s.doc.id, s.score)).collect())
}

fn ids(found: &[(DocumentId, f64)]) -> Vec<DocumentId> {
    found.iter().map(|(id, _)| *id).collect()
}

#[tokio::test]
async fn results_come_most_similar_first_with_cosine_scores() -> anyhow::Result<()> {
    let store = open(None).await?;
    let exact = insert(&store, &axis(0, 0.0), "a").await?;
    let near = insert(&store, &axis(0, 0.3), "a").await?;
    let far = insert(&store, &axis(1, 0.0), "b").await?;
    let opposite = insert(
        &store,
        &axis(0, 0.0).iter().map(|x| -x * 2.0).collect::<Vec<_>>(),
        "b",
    )
    .await?;
    for settled in [false, true] {
        if settled {
            store.settle_vector_indexes().await?;
        }
        let found = similar(&store.begin_read(), &axis(0, 0.0), 10, None).await?;
        assert_eq!(
            ids(&found),
            [exact, near, far, opposite],
            "settled: {settled}"
        );
        assert!((found[0].1 - 1.0).abs() < 1e-6);
        assert!((found[1].1 - 1.0 / 1.09f64.sqrt()).abs() < 1e-5);
        assert!(found[2].1.abs() < 1e-6);
        assert!(
            (found[3].1 + 1.0).abs() < 1e-6,
            "scores are cosine, length does not matter"
        );
        let top = similar(&store.begin_read(), &axis(0, 0.0), 2, None).await?;
        assert_eq!(ids(&top), [exact, near]);
    }
    Ok(())
}

#[tokio::test]
async fn vectors_of_the_wrong_shape_are_refused_and_missing_ones_skipped() -> anyhow::Result<()> {
    let store = open(None).await?;
    let tx = store.begin();
    let err = tx
        .insert(table(&store), item(&[1.0, 2.0, 3.0], "a"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"embedding\"") && err.contains("8") && err.contains("3"),
        "{err}"
    );
    let mut bad = item(&axis(0, 0.0), "a");
    bad.insert("embedding".into(), Value::String("not a vector".into()));
    let err = tx.insert(table(&store), bad).unwrap_err().to_string();
    assert!(err.contains("embedding"), "{err}");
    // No vector field, or null (a Rust `None`): stored, not indexed.
    let mut plain = item(&axis(0, 0.0), "a");
    plain.remove("embedding");
    tx.insert(table(&store), plain)?;
    let mut null = item(&axis(0, 0.0), "a");
    null.insert("embedding".into(), Value::Null);
    tx.insert(table(&store), null)?;
    store.commit(tx).await?;
    assert!(
        similar(&store.begin_read(), &axis(0, 0.0), 10, None)
            .await?
            .is_empty()
    );

    let tx = store.begin_read();
    let err = similar(&tx, &[1.0, 0.0], 10, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("2 numbers") && err.contains("8 dimensions"),
        "{err}"
    );
    let err = similar(&tx, &axis(0, 0.0), 0, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 to 256"), "{err}");
    let err = similar(&tx, &axis(0, 0.0), 257, None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 to 256"), "{err}");
    let err = Query::<Document>::new(&tx, "items")
        .with_vector_index(
            "by_embedding",
            VectorQuery::new(axis(0, 0.0)).filter(|f| f.eq("embedding", 1.0)),
        )
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a filter field"), "{err}");
    let err = Query::<Document>::new(&tx, "items")
        .with_vector_index("nope", VectorQuery::new(axis(0, 0.0)))
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no vector index"), "{err}");
    Ok(())
}

#[tokio::test]
async fn filters_are_an_or_of_equalities() -> anyhow::Result<()> {
    let store = open(None).await?;
    let a = insert(&store, &axis(0, 0.1), "a").await?;
    let b = insert(&store, &axis(0, 0.2), "b").await?;
    let c = insert(&store, &axis(0, 0.0), "c").await?;
    for settled in [false, true] {
        if settled {
            store.settle_vector_indexes().await?;
        }
        let tx = store.begin_read();
        assert_eq!(ids(&similar(&tx, &axis(0, 0.0), 10, Some("b")).await?), [b]);
        let found = Query::<Document>::new(&tx, "items")
            .with_vector_index(
                "by_embedding",
                VectorQuery::new(axis(0, 0.0))
                    .filter(|f| f.or([f.eq("tag", "a"), f.eq("tag", "c")])),
            )
            .collect()
            .await?;
        let found: Vec<DocumentId> = found.iter().map(|s| s.doc.id).collect();
        assert_eq!(found, [c, a]);
    }
    Ok(())
}

#[tokio::test]
async fn commits_are_seen_at_once_and_old_vectors_never_return() -> anyhow::Result<()> {
    let store = open(None).await?;
    let moved = insert(&store, &axis(0, 0.0), "a").await?;
    let before = store.begin_read();
    // Moved away from axis 0, then a new document on axis 0.
    let tx = store.begin();
    tx.replace(moved, item(&axis(3, 0.0), "a")).await?;
    store.commit(tx).await?;
    let fresh = insert(&store, &axis(0, 0.05), "a").await?;
    for settled in [false, true] {
        if settled {
            store.settle_vector_indexes().await?;
        }
        let now = similar(&store.begin_read(), &axis(0, 0.0), 1, None).await?;
        assert_eq!(ids(&now), [fresh], "settled: {settled}");
        // The older snapshot still sees the old vector and not the new document.
        let then = similar(&before, &axis(0, 0.0), 10, None).await?;
        assert_eq!(ids(&then), [moved]);
        assert!((then[0].1 - 1.0).abs() < 1e-6);
    }
    let tx = store.begin();
    tx.delete(fresh).await?;
    store.commit(tx).await?;
    let now = similar(&store.begin_read(), &axis(0, 0.0), 10, None).await?;
    assert_eq!(ids(&now), [moved], "the deleted document is gone");
    Ok(())
}

#[tokio::test]
async fn a_mutation_sees_its_own_writes() -> anyhow::Result<()> {
    let store = open(None).await?;
    let old = insert(&store, &axis(0, 0.0), "a").await?;
    store.settle_vector_indexes().await?;
    let tx = store.begin();
    let new = tx.insert(table(&store), item(&axis(2, 0.0), "a"))?;
    tx.replace(old, item(&axis(5, 0.0), "a")).await?;
    assert_eq!(ids(&similar(&tx, &axis(2, 0.0), 1, None).await?), [new]);
    assert_eq!(ids(&similar(&tx, &axis(5, 0.0), 1, None).await?), [old]);
    let found = similar(&tx, &axis(0, 0.0), 10, None).await?;
    assert!(
        found.iter().all(|(_, score)| *score < 0.5),
        "the old vector is gone: {found:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_vector_search_in_a_mutation_conflicts_only_with_writes_that_could_enter_it()
-> anyhow::Result<()> {
    let store = open(None).await?;
    insert(&store, &axis(0, 0.5), "a").await?;
    insert(&store, &axis(4, 0.0), "a").await?;
    let table = table(&store);

    // A far-away insert does not conflict with a top-1 search.
    let tx = store.begin();
    similar(&tx, &axis(0, 0.0), 1, None).await?;
    tx.insert(table, item(&axis(6, 0.0), "b"))?;
    insert(&store, &axis(2, 0.0), "a").await?;
    store.commit(tx).await?;

    // A closer one does.
    let tx = store.begin();
    similar(&tx, &axis(0, 0.0), 1, None).await?;
    tx.insert(table, item(&axis(6, 0.0), "b"))?;
    insert(&store, &axis(0, 0.1), "a").await?;
    let err = store.commit(tx).await.unwrap_err();
    assert!(matches!(err, CommitError::Conflict { .. }), "{err}");

    // A closer one that fails the filter does not.
    let tx = store.begin();
    similar(&tx, &axis(0, 0.0), 1, Some("a")).await?;
    tx.insert(table, item(&axis(6, 0.0), "b"))?;
    insert(&store, &axis(0, 0.0), "z").await?;
    store.commit(tx).await?;
    Ok(())
}

#[tokio::test]
async fn a_restart_finds_the_same_vectors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite3");
    let expected = {
        let store = open(Some(&path)).await?;
        for i in 0..50 {
            insert(
                &store,
                &axis(i, i as f64 / 50.0),
                if i % 2 == 0 { "a" } else { "b" },
            )
            .await?;
        }
        store.settle_vector_indexes().await?;
        let found = similar(&store.begin_read(), &axis(3, 0.2), 5, Some("b")).await?;
        store.close().await;
        found
    };
    let store = open(Some(&path)).await?;
    assert_eq!(
        similar(&store.begin_read(), &axis(3, 0.2), 5, Some("b")).await?,
        expected
    );
    store.settle_vector_indexes().await?;
    assert_eq!(
        similar(&store.begin_read(), &axis(3, 0.2), 5, Some("b")).await?,
        expected
    );
    Ok(())
}

/// Deterministic pseudo-random vectors.
fn random_vector(seed: u64) -> Vec<f64> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..DIMS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2000) as f64 / 1000.0 - 1.0
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u8),
    Replace(u8, u64),
    Delete(u8),
    Settle,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<u64>(), 0..4u8).prop_map(|(s, t)| Op::Insert(s, t)),
        2 => (any::<u8>(), any::<u64>()).prop_map(|(n, s)| Op::Replace(n, s)),
        1 => any::<u8>().prop_map(Op::Delete),
        1 => Just(Op::Settle),
    ]
}

async fn run_case(
    ops: Vec<Op>,
    queries: Vec<(u64, Option<u8>)>,
    graph: bool,
) -> Result<(), TestCaseError> {
    let fail = |e: anyhow::Error| TestCaseError::fail(format!("{e:#}"));
    let store = open(None).await.map_err(fail)?;
    if graph {
        // Walk the graph even for these few documents (unfiltered and
        // broadly filtered searches; "rare" stays exact).
        store.set_vector_exact_scan_limit(20);
    }
    let tags = ["a", "b", "c", "rare"];
    let mut model: BTreeMap<DocumentId, (Vec<f64>, &str)> = BTreeMap::new();
    for op in ops {
        match op {
            Op::Insert(seed, tag) => {
                // "rare" is the selective filter: about 1 in 40 documents.
                let tag = if tag == 3 && seed % 10 != 0 {
                    "a"
                } else {
                    tags[usize::from(tag)]
                };
                let v = random_vector(seed);
                let id = insert(&store, &v, tag).await.map_err(fail)?;
                model.insert(id, (v, tag));
            }
            Op::Replace(n, seed) if !model.is_empty() => {
                let id = *model
                    .keys()
                    .nth(usize::from(n) % model.len())
                    .expect("some");
                let tag = model[&id].1;
                let v = random_vector(seed);
                let tx = store.begin();
                tx.replace(id, item(&v, tag))
                    .await
                    .map_err(|e| fail(e.into()))?;
                store.commit(tx).await.map_err(|e| fail(e.into()))?;
                model.insert(id, (v, tag));
            }
            Op::Delete(n) if !model.is_empty() => {
                let id = *model
                    .keys()
                    .nth(usize::from(n) % model.len())
                    .expect("some");
                let tx = store.begin();
                tx.delete(id).await.map_err(|e| fail(e.into()))?;
                store.commit(tx).await.map_err(|e| fail(e.into()))?;
                model.remove(&id);
            }
            Op::Settle => store
                .settle_vector_indexes()
                .await
                .map_err(|e| fail(e.into()))?,
            _ => {}
        }
    }
    store
        .settle_vector_indexes()
        .await
        .map_err(|e| fail(e.into()))?;
    let (mut hits, mut wanted) = (0usize, 0usize);
    for (seed, tag) in queries {
        let q = random_vector(seed ^ 0xabcdef);
        let tag = tag.map(|t| tags[usize::from(t)]);
        let mut exact: Vec<(DocumentId, f64)> = model
            .iter()
            .filter(|(_, (_, t))| tag.is_none_or(|want| want == *t))
            .map(|(id, (v, _))| (*id, cosine(&q, v)))
            .collect();
        exact.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        exact.truncate(10);
        let got = similar(&store.begin_read(), &q, 10, tag)
            .await
            .map_err(|e| fail(e.into()))?;
        // Every result is a live document passing the filter, with its true score.
        for (id, score) in &got {
            let Some((v, t)) = model.get(id) else {
                return Err(TestCaseError::fail(format!(
                    "a deleted document came back: {id:?}"
                )));
            };
            prop_assert!(tag.is_none_or(|want| want == *t));
            prop_assert!((cosine(&q, v) - score).abs() < 1e-4, "stale score");
        }
        prop_assert_eq!(got.len(), exact.len());
        let got_ids: std::collections::BTreeSet<DocumentId> = ids(&got).into_iter().collect();
        hits += exact.iter().filter(|(id, _)| got_ids.contains(id)).count();
        wanted += exact.len();
        if !graph || tag == Some("rare") {
            // Exact scans are exact.
            prop_assert_eq!(ids(&got), ids(&exact));
        }
    }
    if wanted > 0 {
        let recall = hits as f64 / wanted as f64;
        prop_assert!(recall >= 0.95, "recall@10 {recall:.3}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn vector_search_agrees_with_exact_search(
        ops in prop::collection::vec(op(), 50..400),
        queries in prop::collection::vec((any::<u64>(), prop::option::of(0..4u8)), 10..20),
        graph in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(run_case(ops, queries, graph))?;
    }
}

/// At close a vector index saves its graph beside the database; the next
/// start reuses it for documents that did not change, indexes the others
/// anew, and rebuilds from the store when the files are missing or damaged.
#[tokio::test]
async fn the_graph_is_saved_reused_and_rebuilt_from_the_store() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite3");
    let files = dir.path().join("db.sqlite3.vectors/items.by_embedding");
    let older = dir.path().join("older-files");
    let open_walking_the_graph = || async {
        let store = open(Some(&path)).await?;
        store.set_vector_exact_scan_limit(0);
        anyhow::Ok(store)
    };
    let mut saved_ids = Vec::new();
    {
        let store = open_walking_the_graph().await?;
        for i in 0..40 {
            saved_ids.push(insert(&store, &axis(i, i as f64 / 40.0), "a").await?);
        }
        store.settle_vector_indexes().await?;
        store.close().await;
    }
    assert!(files.join("points.bin").is_file(), "the graph was saved");
    // Keep these files: as if the process crashed after the next change.
    std::fs::create_dir_all(&older)?;
    for entry in std::fs::read_dir(&files)? {
        let entry = entry?;
        std::fs::copy(entry.path(), older.join(entry.file_name()))?;
    }
    let query = axis(5, 0.0);
    let expected = {
        let store = open_walking_the_graph().await?;
        let tx = store.begin();
        tx.replace(saved_ids[5], item(&axis(2, 0.9), "a")).await?;
        store.commit(tx).await?;
        let found = similar(&store.begin_read(), &query, 5, None).await?;
        assert!(
            !ids(&found).contains(&saved_ids[5]),
            "moved away: {found:?}"
        );
        store.close().await;
        found
    };
    std::fs::remove_dir_all(&files)?;
    std::fs::rename(&older, &files)?;
    for damage in ["older files", "truncated", "deleted"] {
        match damage {
            "truncated" => std::fs::write(files.join("graph.hnsw.data"), b"")?,
            "deleted" => std::fs::remove_dir_all(&files)?,
            _ => {}
        }
        let store = open_walking_the_graph().await?;
        assert_eq!(
            similar(&store.begin_read(), &query, 5, None).await?,
            expected,
            "{damage}"
        );
        store.settle_vector_indexes().await?;
        assert_eq!(
            similar(&store.begin_read(), &query, 5, None).await?,
            expected,
            "{damage}"
        );
        store.close().await;
        assert!(
            files.join("points.bin").is_file(),
            "saved again after {damage}"
        );
    }
    Ok(())
}
