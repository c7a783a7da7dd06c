//! Live text search over the websocket with the official `convex` crate: a
//! subscription to `messages:search` follows matching messages as they are
//! sent, edited and removed, and the hub does not re-run it for a commit
//! that cannot change it.

use std::collections::BTreeMap;

use convex::{ConvexClient, Value};
use serde_json::{Value as Json, json};

use crate::common::{self, ChatServer, call, create_user, hub_caught_up};

async fn next_bodies(sub: &mut convex::QuerySubscription) -> Vec<String> {
    common::next_string_fields(sub, "body").await
}

async fn send(server: &ChatServer, user: &Json, body: &str) -> anyhow::Result<Json> {
    call(
        server,
        "mutation",
        "messages:send",
        json!({ "body": body, "user": user }),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_subscription_is_rerun_only_for_matching_writes() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let user = create_user(&server, "tok|search").await?;
    send(&server, &user, "hello world").await?;
    send(&server, &user, "something else").await?;

    let mut client = ConvexClient::new(&common::url(&server)).await?;
    let args = BTreeMap::from([("query".to_string(), Value::from("hello"))]);
    let mut sub = client.subscribe("messages:search", args).await?;
    assert_eq!(next_bodies(&mut sub).await, ["hello world"]);
    hub_caught_up(&server).await;

    // A message without the term: no re-run at all.
    let before = server.hub().executions();
    send(&server, &user, "goodbye moon").await?;
    send(&server, &user, "help wanted").await?;
    hub_caught_up(&server).await;
    assert_eq!(
        server.hub().executions(),
        before,
        "a commit without the search's terms re-ran a query"
    );

    // A matching message (the term as a prefix of a longer word counts too).
    let id = send(&server, &user, "well hello there").await?;
    assert_eq!(next_bodies(&mut sub).await.len(), 2);
    send(&server, &user, "HELLOOO").await?;
    let got = next_bodies(&mut sub).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(server.hub().executions() > before);

    // Edited away from the term, then removed: the result follows.
    call(
        &server,
        "mutation",
        "messages:edit",
        json!({ "id": id, "body": "well goodbye there" }),
    )
    .await?;
    let got = next_bodies(&mut sub).await;
    assert!(!got.contains(&"well hello there".to_string()), "{got:?}");
    let first = call(
        &server,
        "query",
        "messages:search",
        json!({ "query": "hello world" }),
    )
    .await?;
    let first_id = first[0]["_id"].clone();
    call(
        &server,
        "mutation",
        "messages:remove",
        json!({ "id": first_id }),
    )
    .await?;
    let got = next_bodies(&mut sub).await;
    assert_eq!(got, ["HELLOOO"]);
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_results_come_in_relevance_order_at_most_twenty() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let user = create_user(&server, "tok|rank").await?;
    send(&server, &user, "rust is fast and rust is safe, rust").await?;
    send(
        &server,
        &user,
        "a long message that mentions rust only once among many other words",
    )
    .await?;
    send(&server, &user, "rust rust").await?;
    for i in 0..30 {
        send(&server, &user, &format!("filler {i} about rust")).await?;
    }
    let found = call(
        &server,
        "query",
        "messages:search",
        json!({ "query": "rust" }),
    )
    .await?;
    let found = found.as_array().cloned().unwrap_or_default();
    assert_eq!(found.len(), 20);
    assert_eq!(found[0]["body"], "rust rust");
    assert_eq!(found[1]["body"], "rust is fast and rust is safe, rust");
    let empty = call(
        &server,
        "query",
        "messages:search",
        json!({ "query": "  " }),
    )
    .await?;
    assert_eq!(empty, json!([]));
    server.shutdown().await;
    Ok(())
}
