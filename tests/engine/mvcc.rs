use convex_rs::function::{Caller, Identity};
use convex_rs::prelude::*;
use convex_rs::query::Query;
use serde_json::{Value as Json, json};

use crate::common::{self, send, user};

#[tokio::test]
async fn snapshots_do_not_see_later_commits() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    send(&t, &u, "one").await?;
    let store = t.backend().store().clone();
    let old = store.begin_read();
    let old_ts = old.snapshot_ts();
    send(&t, &u, "two").await?;
    assert!(store.latest_ts() > old_ts);
    let seen = Query::<Document>::new(&old, "messages").collect().await?;
    assert_eq!(
        seen.len(),
        1,
        "the old snapshot must not see the new message"
    );
    let fresh = store.begin_read();
    assert_eq!(
        Query::<Document>::new(&fresh, "messages")
            .collect()
            .await?
            .len(),
        2
    );

    // A query at an old timestamp sees the old state too.
    let runner = t.backend().runner();
    let at_old = runner
        .run_query(
            "messages:count",
            Value::Object(Default::default()),
            Identity::default(),
            Caller::Client,
            Some(old_ts),
        )
        .await;
    assert_eq!(at_old.outcome.result.unwrap(), Value::Float64(1.0));
    assert_eq!(at_old.ts, old_ts);
    let future = runner
        .run_query(
            "messages:count",
            Value::Object(Default::default()),
            Identity::default(),
            Caller::Client,
            Some(u64::MAX / 2),
        )
        .await;
    assert!(future.outcome.result.is_err());
    Ok(())
}

#[tokio::test]
async fn edits_and_deletes_are_versioned() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let id = send(&t, &u, "v1").await?;
    let store = t.backend().store().clone();
    let before_edit = store.begin_read();
    t.mutation_path::<Json>("messages:edit", json!({ "id": id, "body": "v2" }))
        .await?;
    let before_delete = store.begin_read();
    t.mutation_path::<Json>("messages:remove", json!({ "id": id }))
        .await?;
    let after = store.begin_read();
    let doc_id = DocumentId::decode(&id)?;
    let body = |d: Option<Document>| d.and_then(|d| d.fields.get("body").cloned());
    assert_eq!(
        body(before_edit.get(doc_id).await?),
        Some(Value::from("v1"))
    );
    assert_eq!(
        body(before_delete.get(doc_id).await?),
        Some(Value::from("v2"))
    );
    assert_eq!(after.get(doc_id).await?, None);
    assert_eq!(
        Query::<Document>::new(&before_delete, "messages")
            .collect()
            .await?
            .len(),
        1
    );
    assert_eq!(
        Query::<Document>::new(&after, "messages")
            .collect()
            .await?
            .len(),
        0
    );
    Ok(())
}

#[tokio::test]
async fn mutations_read_their_own_writes() -> anyhow::Result<()> {
    let t = common::chat_with_raw().await?;
    let u = user(&t, "ada").await?;
    send(&t, &u, "existing").await?;
    let seen: Json = t
        .mutation_path("raw:readOwnWrites", json!({ "user": u }))
        .await?;
    assert_eq!(seen, json!([1, "b", true, 0, true]));
    // Nothing of it survived (inserted, then deleted in the same transaction).
    assert_eq!(t.query_path::<f64>("messages:count", json!({})).await?, 1.0);
    Ok(())
}

#[tokio::test]
async fn commit_timestamps_strictly_increase_and_creation_times_follow_insert_order()
-> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let runner = t.backend().runner();
    let mut last = 0;
    for i in 0..20 {
        let args = convex_rs::value::to_value(&json!({ "body": format!("m{i}"), "user": u }))?;
        let out = runner
            .run_mutation("messages:send", args, Identity::default(), Caller::Client)
            .await;
        let ts = out.ts.expect("committed");
        assert!(ts > last);
        last = ts;
    }
    let list: Vec<Json> = t.query_path("messages:list", json!({})).await?;
    let times: Vec<f64> = list
        .iter()
        .map(|m| m["_creationTime"].as_f64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    let bodies: Vec<String> = list
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, (0..20).map(|i| format!("m{i}")).collect::<Vec<_>>());
    Ok(())
}

/// The ids under `by_token = token` at the transaction's snapshot.
async fn by_token(
    tx: &convex_rs::store::Transaction,
    token: &str,
) -> anyhow::Result<Vec<convex_rs::value::DocumentId>> {
    let found = Query::<Document>::new(tx, "users")
        .with_index(
            "by_token",
            convex_rs::query::IndexRange::new().eq("tokenIdentifier", token.to_string()),
        )
        .collect()
        .await?;
    Ok(found.into_iter().map(|d| d.id).collect())
}

/// Index lookups and point reads are served from memory when they can be
/// (the store's range and revision caches); at every snapshot they must
/// still see exactly that snapshot's members and revisions.
#[tokio::test]
async fn cached_index_lookups_follow_every_snapshot() -> anyhow::Result<()> {
    use convex_rs::value::DocumentId;

    let t = common::chat().await?;
    let store = t.backend().store().clone();
    let ada: String = user(&t, "ada").await?;
    let ada = DocumentId::decode(&ada)?;
    let a = store.begin_read();
    assert_eq!(
        by_token(&a, "tok|ada").await?,
        vec![ada],
        "fills the range at A"
    );
    assert_eq!(
        by_token(&a, "tok|ada").await?,
        vec![ada],
        "served from memory"
    );

    // B: ada's token moves to another key.
    let tx = store.begin();
    tx.update(ada, |doc| {
        let mut fields = doc.fields.clone();
        fields.insert("tokenIdentifier".into(), Value::from("tok|other"));
        Ok::<_, convex_rs::store::StoreError>(fields)
    })
    .await?;
    let b_ts = store.commit(tx).await?;
    // The old snapshot still sees the old members and the old revision
    // (read first, so nothing newer is cached for these ranges yet).
    assert_eq!(by_token(&a, "tok|other").await?, Vec::<DocumentId>::new());
    assert_eq!(by_token(&a, "tok|ada").await?, vec![ada]);
    let old = a.get(ada).await?.expect("ada at A");
    assert_eq!(old.fields["tokenIdentifier"], Value::from("tok|ada"));
    // What was read at A must not have become the latest answer.
    let b = store.begin_read();
    assert_eq!(by_token(&b, "tok|other").await?, vec![ada]);
    assert_eq!(by_token(&b, "tok|ada").await?, Vec::<DocumentId>::new());
    let current = b.get(ada).await?.expect("ada at B");
    assert_eq!(current.fields["tokenIdentifier"], Value::from("tok|other"));

    // C: ada is deleted.
    let tx = store.begin();
    tx.delete(ada).await?;
    store.commit(tx).await?;
    let c = store.begin_read();
    assert_eq!(by_token(&c, "tok|other").await?, Vec::<DocumentId>::new());
    assert!(c.get(ada).await?.is_none());
    let at_b = store.begin_read_at(b_ts)?;
    assert_eq!(by_token(&at_b, "tok|other").await?, vec![ada]);
    assert!(at_b.get(ada).await?.is_some());
    Ok(())
}

/// The committer writes one group commit while the previous one is being
/// published; a caller must still hear of its commit only once the commit
/// is visible to every new snapshot, and to the search index.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_is_visible_as_soon_as_its_caller_hears_of_it() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let store = t.backend().store().clone();
    let before = store.commit_stats().batches;
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..32 {
        let (t, u, store) = (t.clone(), u.clone(), store.clone());
        writers.spawn(async move {
            for i in 0..10 {
                let word = format!("w{writer}x{i}");
                let runner = t.backend().runner();
                let args = convex_rs::value::to_value(&json!({ "body": word, "user": u }))?;
                let out = runner
                    .run_mutation("messages:send", args, Identity::default(), Caller::Client)
                    .await;
                let ts = out.ts.expect("committed");
                anyhow::ensure!(store.latest_ts() >= ts, "acknowledged before visible");
                let Ok(Value::String(id)) = out.result else {
                    anyhow::bail!("messages:send returned {:?}", out.result);
                };
                let fresh = store.begin_read();
                let mine = Query::<Document>::new(&fresh, "messages")
                    .collect()
                    .await?
                    .into_iter()
                    .any(|m| m.id.to_string() == id);
                anyhow::ensure!(mine, "a new snapshot misses acknowledged {id}");
                let found: Vec<Json> = t
                    .query_path("messages:search", json!({ "query": word }))
                    .await?;
                anyhow::ensure!(found.len() == 1, "search for {word} found {found:?}");
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    // The writers' commits shared group commits: the committer had
    // transactions queued while batches were written and published.
    assert!(store.commit_stats().batches - before < 320);
    Ok(())
}
