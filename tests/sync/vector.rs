//! Live vector search over the websocket with the official `convex` crate:
//! a subscription to `notes:similar` is re-run when a note is added that
//! could enter its result, or a note in it is removed, and not for a note
//! that cannot enter it. Also measures (and prints) what checking vector
//! subscriptions costs a commit.

use std::collections::BTreeMap;

use convex::{ConvexClient, Value};
use convex_rs::app::{Backend, BackendConfig};
use convex_rs::server::{Server, ServerConfig};
use serde_json::{Value as Json, json};

use crate::common::{self, call, hub_caught_up};

async fn start_notes(dir: &std::path::Path) -> anyhow::Result<Server> {
    let backend = Backend::open(notes::app()?, BackendConfig::in_dir(dir)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(Server::start(backend, listener, ServerConfig::default()).await?)
}

fn embedding(text: &str) -> Vec<f64> {
    notes::embeddings::standin(text)
}

async fn add(server: &Server, title: &str, tag: &str) -> anyhow::Result<Json> {
    call(
        server,
        "mutation",
        "notes:add",
        json!({ "title": title, "body": title, "tag": tag, "embedding": embedding(title) }),
    )
    .await
}

async fn next_titles(sub: &mut convex::QuerySubscription) -> Vec<String> {
    common::next_string_fields(sub, "title").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_similarity_subscription_is_rerun_only_when_its_result_could_change() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let server = start_notes(dir.path()).await?;
    add(&server, "cats sleep all day", "pets").await?;
    let doomed = add(&server, "cats chase mice", "pets").await?;
    add(&server, "rocket engines burn fuel", "space").await?;

    let mut client = ConvexClient::new(&common::url(&server)).await?;
    let vector: Vec<Value> = embedding("cats sleep")
        .into_iter()
        .map(Value::from)
        .collect();
    let args = BTreeMap::from([
        ("vector".to_string(), Value::Array(vector)),
        ("limit".to_string(), Value::from(2.0)),
    ]);
    let mut sub = client.subscribe("notes:similar", args).await?;
    assert_eq!(
        next_titles(&mut sub).await,
        ["cats sleep all day", "cats chase mice"]
    );
    hub_caught_up(&server).await;

    // Far from the query, and also outside a filter: no re-run.
    let before = server.hub().executions();
    add(&server, "stars and galaxies far away", "space").await?;
    add(&server, "quantum physics lecture notes", "school").await?;
    hub_caught_up(&server).await;
    assert_eq!(
        server.hub().executions(),
        before,
        "a far-away note re-ran the query"
    );

    // Closer than the second result: it enters.
    add(&server, "cats sleep", "pets").await?;
    assert_eq!(
        next_titles(&mut sub).await,
        ["cats sleep", "cats sleep all day"]
    );

    // Removing a note in the result re-runs it; removing one outside does not matter.
    let first = call(
        &server,
        "query",
        "notes:search",
        json!({ "query": "sleep" }),
    )
    .await?;
    let exact = first
        .as_array()
        .and_then(|a| a.iter().find(|n| n["title"] == "cats sleep"))
        .map(|n| n["_id"].clone())
        .expect("found by text search");
    call(&server, "mutation", "notes:remove", json!({ "id": exact })).await?;
    assert_eq!(
        next_titles(&mut sub).await,
        ["cats sleep all day", "cats chase mice"]
    );
    call(&server, "mutation", "notes:remove", json!({ "id": doomed })).await?;
    let got = next_titles(&mut sub).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], "cats sleep all day");
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_action_finds_what_exact_search_finds() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_notes(dir.path()).await?;
    let texts = [
        "apples and pears",
        "pear tart recipe",
        "apple pie",
        "rocket launch",
        "moon landing",
        "garden pears",
        "tart apples",
    ];
    for (i, text) in texts.iter().enumerate() {
        add(&server, text, if i % 2 == 0 { "a" } else { "b" }).await?;
    }
    let query = embedding("pear tart");
    let found = call(
        &server,
        "action",
        "notes:similarAction",
        json!({ "vector": query, "limit": 3 }),
    )
    .await?;
    let found = found.as_array().cloned().unwrap_or_default();
    assert_eq!(found.len(), 3);
    let mut exact: Vec<(f64, &str)> = texts
        .iter()
        .map(|t| {
            let v = embedding(t);
            (v.iter().zip(&query).map(|(a, b)| a * b).sum::<f64>(), *t)
        })
        .collect();
    exact.sort_by(|a, b| b.0.total_cmp(&a.0));
    for (got, (score, _)) in found.iter().zip(&exact) {
        assert!(
            (got["_score"].as_f64().unwrap_or(f64::NAN) - score).abs() < 1e-4,
            "{found:?}"
        );
        assert!(got["_id"].is_string());
    }
    // With a filter.
    let only_b = call(
        &server,
        "action",
        "notes:similarAction",
        json!({ "vector": query, "limit": 10, "tag": "b" }),
    )
    .await?;
    assert_eq!(only_b.as_array().map(Vec::len), Some(3));
    // A wrong length is a clear error.
    let err = call(
        &server,
        "action",
        "notes:similarAction",
        json!({ "vector": [1.0, 2.0], "limit": 3 }),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("384 dimensions"), "{err}");
    server.shutdown().await;
    Ok(())
}
