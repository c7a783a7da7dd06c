//! Our `convex-client` against the real server.

use std::time::Duration;

use convex_client::ConvexClient;
use futures::{FutureExt, StreamExt};
use serde_json::{Value as Json, json};

use crate::common::{self, start_chat, start_chat_at};

async fn next<T>(sub: &mut convex_client::Subscription<T>) -> T
where
    T: serde::de::DeserializeOwned + Send + 'static,
{
    tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an update in time")
        .expect("the stream is open")
        .expect("a successful result")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_mutate_action_and_errors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_chat(dir.path()).await?;
    let client = ConvexClient::connect(&common::url(&server)).await?;
    let other = ConvexClient::connect(&common::url(&server)).await?;
    let mut count = client.subscribe::<f64>("messages:count", json!({})).await?;
    let mut list = client
        .subscribe::<Vec<Json>>("messages:list", json!({}))
        .await?;
    assert_eq!(next(&mut count).await, 0.0);
    assert!(next(&mut list).await.is_empty());

    let user: String = other
        .mutation(
            "users:create",
            json!({"name": "ada", "tokenIdentifier": "t"}),
        )
        .await?;
    let id: String = other
        .mutation("messages:send", json!({"body": "hi", "user": user}))
        .await?;
    assert_eq!(next(&mut count).await, 1.0);
    assert_eq!(next(&mut list).await[0]["_id"], json!(id));

    // Our own mutation resolves only once our subscriptions reflect it: the
    // new count is already waiting, without another poll of the socket.
    let _: String = client
        .mutation("messages:send", json!({"body": "mine", "user": user}))
        .await?;
    let ready = count.next().now_or_never();
    assert!(
        matches!(ready, Some(Some(Ok(n))) if n == 2.0),
        "the count was not updated when the mutation resolved: {ready:?}"
    );

    let loud: String = client.action("messages:shout", json!({"id": id})).await?;
    assert_eq!(loud, "HI");
    let got: Json = client.query("messages:get", json!({"id": id})).await?;
    assert_eq!(got["body"], "HI");

    let err = client
        .mutation::<Json>("messages:send", json!({"body": " ", "user": user}))
        .await
        .unwrap_err();
    assert_eq!(
        err.data().map(convex_rs::value::Value::to_json),
        Some(json!({"code": "EMPTY_BODY"}))
    );
    let err = client
        .mutation::<Json>("messages:wipe", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Could not find public function"),
        "{err}"
    );
    client.close().await;
    other.close().await;
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_and_resubscribes_after_a_server_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_chat(dir.path()).await?;
    let addr = server.local_addr();
    let client = ConvexClient::connect(&common::url(&server)).await?;
    let user: String = client
        .mutation(
            "users:create",
            json!({"name": "ada", "tokenIdentifier": "t"}),
        )
        .await?;
    let _: String = client
        .mutation("messages:send", json!({"body": "before", "user": user}))
        .await?;
    let mut count = client.subscribe::<f64>("messages:count", json!({})).await?;
    assert_eq!(next(&mut count).await, 1.0);

    server.shutdown().await;
    let server = start_chat_at(dir.path(), addr).await?;
    // A mutation issued by the same client while it reconnects is sent once it is back.
    let _: String = tokio::time::timeout(
        Duration::from_secs(20),
        client.mutation("messages:send", json!({"body": "after", "user": user})),
    )
    .await??;
    let mut last = 0.0;
    for _ in 0..5 {
        last = next(&mut count).await;
        if last == 2.0 {
            break;
        }
    }
    assert_eq!(last, 2.0);
    let n: f64 = client.query("messages:count", json!({})).await?;
    assert_eq!(n, 2.0, "the mutation ran exactly once");
    client.close().await;
    server.shutdown().await;
    Ok(())
}
