//! The official `convex` crate (0.10) against our server.

use std::collections::BTreeMap;
use std::time::Duration;

use convex::{ConvexClient, FunctionResult, Value};
use futures::StreamExt;

use crate::common::{self, start_chat, start_chat_at};

fn args(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn string(result: FunctionResult) -> String {
    match result {
        FunctionResult::Value(Value::String(s)) => s,
        other => panic!("expected a string, got {other:?}"),
    }
}

fn number(result: FunctionResult) -> f64 {
    match result {
        FunctionResult::Value(Value::Float64(n)) => n,
        other => panic!("expected a number, got {other:?}"),
    }
}

async fn next_number(sub: &mut convex::QuerySubscription) -> f64 {
    number(
        tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .expect("an update")
            .expect("open"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_mutate_action_with_the_official_client() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_chat(dir.path()).await?;
    let mut client = ConvexClient::new(&common::url(&server)).await?;
    let mut other = ConvexClient::new(&common::url(&server)).await?;
    let mut count = client.subscribe("messages:count", BTreeMap::new()).await?;
    assert_eq!(next_number(&mut count).await, 0.0);

    let user = string(
        other
            .mutation(
                "users:create",
                args(&[("name", "ada".into()), ("tokenIdentifier", "t".into())]),
            )
            .await?,
    );
    let id = string(
        other
            .mutation(
                "messages:send",
                args(&[("body", "hello".into()), ("user", user.clone().into())]),
            )
            .await?,
    );
    assert_eq!(
        next_number(&mut count).await,
        1.0,
        "the subscription updates after another client's mutation"
    );

    let loud = string(
        client
            .action("messages:shout", args(&[("id", id.clone().into())]))
            .await?,
    );
    assert_eq!(loud, "HELLO");
    match client
        .query("messages:get", args(&[("id", id.into())]))
        .await?
    {
        FunctionResult::Value(Value::Object(doc)) => {
            assert_eq!(doc.get("body"), Some(&Value::from("HELLO")))
        }
        other => panic!("{other:?}"),
    }
    match client
        .mutation(
            "messages:send",
            args(&[("body", " ".into()), ("user", user.into())]),
        )
        .await?
    {
        FunctionResult::ConvexError(e) => {
            let Value::Object(data) = e.data else {
                panic!("{:?}", e.data)
            };
            assert_eq!(data.get("code"), Some(&Value::from("EMPTY_BODY")));
        }
        other => panic!("expected a ConvexError, got {other:?}"),
    }
    match client.mutation("messages:wipe", BTreeMap::new()).await? {
        FunctionResult::ErrorMessage(m) => {
            assert!(m.contains("Could not find public function"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    drop(count);
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_client_reconnects_after_a_server_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_chat(dir.path()).await?;
    let addr = server.local_addr();
    let mut client = ConvexClient::new(&common::url(&server)).await?;
    let user = string(
        client
            .mutation(
                "users:create",
                args(&[("name", "ada".into()), ("tokenIdentifier", "t".into())]),
            )
            .await?,
    );
    client
        .mutation(
            "messages:send",
            args(&[("body", "before".into()), ("user", user.clone().into())]),
        )
        .await?;
    let mut count = client.subscribe("messages:count", BTreeMap::new()).await?;
    assert_eq!(next_number(&mut count).await, 1.0);

    server.shutdown().await;
    let server = start_chat_at(dir.path(), addr).await?;
    // Another client writes after the restart; the first one's subscription sees it.
    let mut writer = ConvexClient::new(&common::url(&server)).await?;
    writer
        .mutation(
            "messages:send",
            args(&[("body", "after".into()), ("user", user.into())]),
        )
        .await?;
    let mut last = 0.0;
    for _ in 0..5 {
        last = next_number(&mut count).await;
        if last == 2.0 {
            break;
        }
    }
    assert_eq!(
        last, 2.0,
        "the subscription resumed after the restart with data intact"
    );
    drop(count);
    server.shutdown().await;
    Ok(())
}
