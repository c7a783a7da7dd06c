//! Bad input gets the documented response, never a panic, and other sessions
//! are unaffected.

use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{ChatServer, Raw};

async fn healthy(server: &convex_rs::server::Server) -> anyhow::Result<()> {
    let mut raw = Raw::connect_session(server, "aaaaaaaa-0000-4000-8000-000000000000").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    let t = raw.recv().await?;
    anyhow::ensure!(t["modifications"][0]["type"] == "QueryUpdated", "{t}");
    Ok(())
}

async fn expect_fatal(raw: &mut Raw) -> anyhow::Result<String> {
    let m = raw.recv().await?;
    anyhow::ensure!(m["type"] == "FatalError", "expected FatalError, got {m}");
    let code = raw.closed().await?;
    anyhow::ensure!(
        code.is_none() || code == Some(1005),
        "bad requests close without a code, got {code:?}"
    );
    Ok(m["error"].as_str().unwrap_or_default().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_violations() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    // A long-lived session that must survive everything below.
    let mut bystander =
        Raw::connect_session(&server, "bbbbbbbb-0000-4000-8000-000000000000").await?;
    bystander
        .send(
            json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
        )
        .await?;
    bystander.recv().await?;

    let mut raw = Raw::connect(&server).await?;
    raw.socket.send(Message::Text("{not json".into())).await?;
    assert!(expect_fatal(&mut raw).await?.contains("parse"));

    let mut raw = Raw::connect_session(&server, "cccccccc-0000-4000-8000-000000000000").await?;
    raw.send(json!({"type":"Teleport"})).await?;
    expect_fatal(&mut raw).await?;

    let mut raw = Raw::connect(&server).await?;
    raw.send(json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[]}))
        .await?;
    assert!(expect_fatal(&mut raw).await?.contains("Connect"));

    let mut raw = Raw::connect_session(&server, "dddddddd-0000-4000-8000-000000000000").await?;
    raw.send(json!({"type":"ModifyQuerySet","baseVersion":5,"newVersion":6,"modifications":[]}))
        .await?;
    assert!(
        expect_fatal(&mut raw)
            .await?
            .contains("BaseVersionMismatch")
    );

    let mut raw = Raw::connect_session(&server, "eeeeeeee-0000-4000-8000-000000000000").await?;
    raw.socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await?;
    expect_fatal(&mut raw).await?;

    let mut raw = Raw::connect_session(&server, "ffffffff-0000-4000-8000-000000000000").await?;
    raw.send(json!({"type":"Authenticate","baseVersion":3,"tokenType":"None"}))
        .await?;
    assert_eq!(
        raw.closed().await?,
        Some(1011),
        "a wrong identity version is an internal error"
    );

    let mut raw = Raw::connect_session(&server, "12121212-0000-4000-8000-000000000000").await?;
    raw.send(json!({"type":"Authenticate","baseVersion":0,"tokenType":"User","value":"a.b.c"}))
        .await?;
    let m = raw.recv().await?;
    assert_eq!(m["type"], "AuthError");
    assert_eq!(m["authUpdateAttempted"], true);
    assert_eq!(m["baseVersion"], 0);

    let mut raw = Raw::connect_session(&server, "13131313-0000-4000-8000-000000000000").await?;
    raw.send(json!({"type":"Authenticate","baseVersion":0,"tokenType":"None"}))
        .await?;
    let t = raw.recv().await?;
    assert_eq!(
        t["endVersion"]["identity"], 1,
        "a logout is confirmed by an identity bump"
    );

    let mut raw = Raw::connect_session(&server, "14141414-0000-4000-8000-000000000000").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]},
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    assert_eq!(
        raw.closed().await?,
        Some(1011),
        "adding a query id twice is an internal error"
    );

    // Oversized frames end the connection without affecting the server.
    let mut raw = Raw::connect_session(&server, "15151515-0000-4000-8000-000000000000").await?;
    let huge = format!(
        r#"{{"type":"Event","eventType":"x","event":"{}"}}"#,
        "x".repeat(17 << 20)
    );
    let _ = raw.socket.send(Message::Text(huge.into())).await;
    // The connection ends (a close frame, possibly 1009, or a reset); a
    // timeout is an error here.
    let code = raw.closed().await?;
    assert!(matches!(code, None | Some(1009)), "closed with {code:?}");

    healthy(&server).await?;
    bystander
        .send(json!({"type":"Event","eventType":"ClientConnect","event":{}}))
        .await?;
    bystander.send(json!({"type":"Mutation","requestId":0,"udfPath":"users:create","args":[{"name":"x","tokenIdentifier":"y"}]})).await?;
    assert_eq!(bystander.recv().await?["type"], "MutationResponse");
    server.shutdown().await;
    Ok(())
}
