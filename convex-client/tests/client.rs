//! End-to-end behaviour of the client against a scripted fake server.

mod common;

use std::time::Duration;

use anyhow::{Context, Result, bail};
use common::{FakeServer, STEP, mutation_ok, transition, updated, version, wait_for_state};
use convex_client::{AuthState, ClientError, ConvexClient};
use convex_rs::sync::protocol::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification, TokenType, Ts,
};
use convex_rs::value::Value;
use futures::{FutureExt, StreamExt};
use serde_json::json;
use tokio::time::timeout;

fn fast(server: &FakeServer) -> convex_client::ClientBuilder {
    ConvexClient::builder(&server.url)
        .reconnect_backoff(Duration::from_millis(10), Duration::from_millis(100))
}

async fn next<S: futures::Stream + Unpin>(stream: &mut S) -> Result<Option<S::Item>> {
    timeout(STEP, stream.next())
        .await
        .context("timed out waiting for a stream item")
}

fn expect_add(
    modification: &QuerySetModification,
) -> Result<(u32, String, Vec<serde_json::Value>, Option<String>)> {
    match modification {
        QuerySetModification::Add {
            query_id,
            udf_path,
            args,
            journal,
            ..
        } => Ok((*query_id, udf_path.clone(), args.clone(), journal.clone())),
        other => bail!("expected Add, got {other:?}"),
    }
}

#[tokio::test]
async fn subscription_receives_first_result_and_later_updates() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, session_id) = server.connect(fast(&server)).await?;
    assert_eq!(session_id.len(), 36);
    assert_eq!(&session_id[14..15], "4", "UUID v4: {session_id}");

    let mut sub = client
        .subscribe::<Vec<String>>("messages:list", json!({ "channel": "general" }))
        .await?;
    let (base, new, mods) = conn.expect_modify().await?;
    assert_eq!((base, new), (1, 2));
    let (query_id, path, args, _) = expect_add(&mods[0])?;
    assert_eq!((query_id, path.as_str()), (0, "messages:list"));
    assert_eq!(args, vec![json!({ "channel": "general" })]);

    conn.send(transition(
        version(0, 0, 0),
        version(2, 0, 10),
        vec![updated(0, json!(["a"]), None)],
    ))
    .await?;
    assert_eq!(next(&mut sub).await?.context("stream ended")??, ["a"]);

    conn.send(transition(
        version(2, 0, 10),
        version(2, 0, 20),
        vec![updated(0, json!(["a", "b"]), None)],
    ))
    .await?;
    assert_eq!(next(&mut sub).await?.context("stream ended")??, ["a", "b"]);

    // An identical subscription shares the query: it gets the current result
    // at once, and the next update reaches both.
    let mut twin = client
        .subscribe::<Vec<String>>("messages:list", json!({ "channel": "general" }))
        .await?;
    assert_eq!(next(&mut twin).await?.context("stream ended")??, ["a", "b"]);
    conn.send(transition(
        version(2, 0, 20),
        version(2, 0, 30),
        vec![updated(0, json!(["c"]), None)],
    ))
    .await?;
    assert_eq!(next(&mut sub).await?.context("stream ended")??, ["c"]);
    assert_eq!(next(&mut twin).await?.context("stream ended")??, ["c"]);

    let state = client.connection_state();
    assert!(state.is_connected);
    assert_eq!((state.connection_count, state.active_queries), (1, 1));

    // Dropping one of two subscribers sends nothing; dropping the last
    // removes the query (so the next message is 2 -> 3, not 3 -> 4).
    drop(sub);
    drop(twin);
    let (base, new, mods) = conn.expect_modify().await?;
    assert_eq!((base, new), (2, 3));
    assert_eq!(mods, [QuerySetModification::Remove { query_id: 0 }]);

    client.close().await;
    conn.expect_closed().await
}

#[tokio::test]
async fn mutation_resolves_only_after_the_covering_transition() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let mut count = client.subscribe::<f64>("messages:count", ()).await?;
    conn.expect_modify().await?;
    conn.send(transition(
        version(0, 0, 0),
        version(2, 0, 10),
        vec![updated(0, json!(0.0), None)],
    ))
    .await?;
    assert_eq!(next(&mut count).await?.context("stream ended")??, 0.0);

    let mutating = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .mutation::<String>("messages:send", json!({ "body": "hi" }))
                .await
        }
    });
    let ClientMessage::Mutation {
        request_id,
        udf_path,
        args,
        ..
    } = conn.recv().await?
    else {
        bail!("expected Mutation");
    };
    assert_eq!((request_id, udf_path.as_str()), (0, "messages:send"));
    assert_eq!(args, vec![json!({ "body": "hi" })]);

    conn.send(mutation_ok(0, json!("id1"), 30)).await?;
    // A Transition that does not reach the commit ts does not resolve it.
    conn.send(transition(version(2, 0, 10), version(2, 0, 20), vec![]))
        .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !mutating.is_finished(),
        "mutation resolved before its Transition"
    );
    assert_eq!(client.connection_state().inflight_mutations, 1);

    conn.send(transition(
        version(2, 0, 20),
        version(2, 0, 30),
        vec![updated(0, json!(1.0), None)],
    ))
    .await?;
    let id = timeout(STEP, mutating).await???;
    assert_eq!(id, "id1");
    // The subscription already holds the mutation's effect.
    let latest = count
        .next()
        .now_or_never()
        .flatten()
        .context("no result ready")??;
    assert_eq!(latest, 1.0);
    Ok(())
}

#[tokio::test]
async fn reconnect_resends_the_mutation_and_resubscribes() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, session_id) = server.connect(fast(&server)).await?;
    let mut sub = client
        .subscribe::<Vec<f64>>("pages:list", json!({ "n": 1.0 }))
        .await?;
    conn.expect_modify().await?;
    conn.send(transition(
        version(0, 0, 0),
        version(2, 0, 10),
        vec![updated(0, json!([1.0]), Some("j0"))],
    ))
    .await?;
    assert_eq!(next(&mut sub).await?.context("stream ended")??, [1.0]);

    let mutating = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .mutation::<f64>("pages:add", json!({ "x": 2.0 }))
                .await
        }
    });
    let first = conn.recv().await?;
    let ClientMessage::Mutation { request_id, .. } = &first else {
        bail!("expected Mutation, got {first:?}");
    };
    let request_id = *request_id;
    // The server dies before answering.
    drop(conn);

    let mut conn = server.accept().await?;
    let connect = conn.expect_connect().await?;
    assert_eq!(
        connect.session_id, session_id,
        "session id must survive reconnects"
    );
    assert_eq!(connect.connection_count, 1);
    assert!(connect.last_close_reason.is_some());
    assert_eq!(connect.max_observed_timestamp, Some(Ts(10)));
    let (base, new, mods) = conn.expect_modify().await?;
    assert_eq!((base, new), (0, 1));
    let (query_id, path, args, journal) = expect_add(&mods[0])?;
    assert_eq!(
        (query_id, path.as_str(), journal.as_deref()),
        (0, "pages:list", Some("j0"))
    );
    assert_eq!(args, vec![json!({ "n": 1.0 })]);
    let resent = conn.recv().await?;
    assert_eq!(resent, first, "the mutation is re-sent unchanged");
    assert!(!mutating.is_finished());

    conn.send(mutation_ok(request_id, json!(2.0), 40)).await?;
    conn.send(transition(
        version(0, 0, 0),
        version(1, 0, 40),
        vec![updated(0, json!([1.0, 2.0]), Some("j0"))],
    ))
    .await?;
    assert_eq!(timeout(STEP, mutating).await???, 2.0);
    assert_eq!(next(&mut sub).await?.context("stream ended")??, [1.0, 2.0]);
    let state = client.connection_state();
    assert_eq!((state.connection_count, state.connection_retries), (2, 0));
    Ok(())
}

#[tokio::test]
async fn convex_error_data_is_kept_in_function_errors() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;

    let mutating = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .mutation::<()>("accounts:withdraw", json!({ "amount": 5.0 }))
                .await
        }
    });
    conn.recv().await?;
    conn.send(ServerMessage::MutationResponse {
        request_id: 0,
        success: false,
        result: json!("Uncaught ConvexError: insufficient funds"),
        ts: None,
        log_lines: vec!["[ERROR] 'no'".to_owned()],
        error_data: Some(
            json!({ "code": "INSUFFICIENT", "balance": { "$integer": "AwAAAAAAAAA=" } }),
        ),
    })
    .await?;
    // Failures resolve immediately, without a Transition.
    match timeout(STEP, mutating).await?? {
        Err(ClientError::Function {
            message,
            data: Some(Value::Object(data)),
        }) => {
            assert!(message.contains("insufficient funds"));
            assert_eq!(data.get("code"), Some(&Value::from("INSUFFICIENT")));
            assert_eq!(data.get("balance"), Some(&Value::Int64(3)));
        }
        other => bail!("unexpected result {other:?}"),
    }

    // A failing action without ConvexError data has `data: None`.
    let acting = tokio::spawn({
        let client = client.clone();
        async move { client.action::<()>("mail:send", ()).await }
    });
    let ClientMessage::Action { request_id, .. } = conn.recv().await? else {
        bail!("expected Action")
    };
    assert_eq!(
        request_id, 1,
        "one request counter for mutations and actions"
    );
    conn.send(ServerMessage::ActionResponse {
        request_id,
        success: false,
        result: json!("Server Error"),
        log_lines: vec![],
        error_data: None,
    })
    .await?;
    let err = timeout(STEP, acting)
        .await??
        .err()
        .context("action should fail")?;
    assert!(
        matches!(&err, ClientError::Function { data: None, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "Server Error");

    // Query failures carry data too.
    let querying = tokio::spawn({
        let client = client.clone();
        async move { client.query::<f64>("accounts:balance", ()).await }
    });
    conn.expect_modify().await?;
    conn.send(transition(
        version(0, 0, 0),
        version(2, 0, 5),
        vec![StateModification::QueryFailed {
            query_id: 0,
            error_message: "no account".into(),
            log_lines: vec![],
            journal: None,
            error_data: Some(json!("NO_ACCOUNT")),
        }],
    ))
    .await?;
    let err = timeout(STEP, querying)
        .await??
        .err()
        .context("query should fail")?;
    assert_eq!(err.data(), Some(&Value::from("NO_ACCOUNT")));
    // query() unsubscribes afterwards.
    assert_eq!(
        conn.expect_modify().await?.2,
        [QuerySetModification::Remove { query_id: 0 }]
    );
    Ok(())
}

#[tokio::test]
async fn action_fails_when_the_connection_drops_and_is_not_resent() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let acting = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .action::<String>("mail:send", json!({ "to": "x" }))
                .await
        }
    });
    let ClientMessage::Action { request_id: 0, .. } = conn.recv().await? else {
        bail!("expected Action 0")
    };
    drop(conn);

    match timeout(STEP, acting).await?? {
        Err(ClientError::Connection(message)) => {
            assert!(message.contains("may or may not have run"), "{message}")
        }
        other => bail!("unexpected result {other:?}"),
    }

    let mut conn = server.accept().await?;
    assert_eq!(conn.expect_connect().await?.connection_count, 1);
    let (base, new, mods) = conn.expect_modify().await?;
    assert_eq!((base, new, mods.len()), (0, 1, 0));
    conn.expect_silence(Duration::from_millis(300)).await?;

    // The request counter continues on the new socket.
    let acting = tokio::spawn({
        let client = client.clone();
        async move {
            client
                .action::<String>("mail:send", json!({ "to": "y" }))
                .await
        }
    });
    let ClientMessage::Action { request_id, .. } = conn.recv().await? else {
        bail!("expected Action")
    };
    assert_eq!(request_id, 1);
    conn.send(ServerMessage::ActionResponse {
        request_id,
        success: true,
        result: json!("sent"),
        log_lines: vec![],
        error_data: None,
    })
    .await?;
    assert_eq!(timeout(STEP, acting).await???, "sent");
    Ok(())
}

#[tokio::test]
async fn auth_is_resent_with_base_zero_before_the_query_set() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    client.set_auth(Some("jwt-1".into())).await;
    match conn.recv().await? {
        ClientMessage::Authenticate {
            base_version: 0,
            token_type: TokenType::User,
            value: Some(v),
            ..
        } => {
            assert_eq!(v, "jwt-1")
        }
        other => bail!("expected Authenticate, got {other:?}"),
    }
    assert_eq!(client.connection_state().auth, AuthState::Pending);
    conn.send(transition(version(0, 0, 0), version(1, 1, 3), vec![]))
        .await?;
    wait_for_state(&client, "auth confirmed", |s| {
        s.auth == AuthState::Authenticated
    })
    .await?;

    let _sub = client.subscribe::<f64>("messages:count", ()).await?;
    assert_eq!(conn.expect_modify().await?.0, 1);
    conn.close_with("InternalServerError").await?;

    let mut conn = server.accept().await?;
    let connect = conn.expect_connect().await?;
    assert_eq!(
        connect.last_close_reason.as_deref(),
        Some("InternalServerError")
    );
    assert_eq!(connect.max_observed_timestamp, Some(Ts(3)));
    match conn.recv().await? {
        ClientMessage::Authenticate {
            base_version: 0,
            value: Some(v),
            ..
        } => assert_eq!(v, "jwt-1"),
        other => bail!("expected Authenticate first, got {other:?}"),
    }
    let (base, new, mods) = conn.expect_modify().await?;
    assert_eq!((base, new, mods.len()), (0, 1, 1));

    // Clearing auth sends `None` with the next identity base version.
    client.set_auth(None).await;
    match conn.recv().await? {
        ClientMessage::Authenticate {
            base_version: 1,
            token_type: TokenType::None,
            value: None,
            ..
        } => {}
        other => bail!("expected Authenticate None, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn fatal_error_stops_the_client_for_good() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let mut sub = client.subscribe::<f64>("messages:count", ()).await?;
    conn.expect_modify().await?;
    let mutating = tokio::spawn({
        let client = client.clone();
        async move { client.mutation::<()>("messages:send", ()).await }
    });
    conn.recv().await?;
    conn.send(ServerMessage::FatalError {
        error: "BaseVersionMismatch".into(),
    })
    .await?;

    assert!(
        matches!(timeout(STEP, mutating).await??, Err(ClientError::Fatal(e)) if e == "BaseVersionMismatch")
    );
    assert!(matches!(
        next(&mut sub).await?,
        Some(Err(ClientError::Fatal(_)))
    ));
    assert!(next(&mut sub).await?.is_none());
    conn.expect_closed().await?;
    assert!(
        server
            .accept_within(Duration::from_millis(300))
            .await
            .is_err(),
        "no reconnect"
    );
    assert!(matches!(
        client.mutation::<()>("messages:send", ()).await,
        Err(ClientError::Fatal(_))
    ));
    assert!(matches!(
        client.subscribe::<f64>("messages:count", ()).await,
        Err(ClientError::Fatal(_))
    ));
    let state = client.connection_state();
    assert_eq!(state.fatal_error.as_deref(), Some("BaseVersionMismatch"));
    assert!(!state.is_connected);
    Ok(())
}

#[tokio::test]
async fn start_version_mismatch_reconnects() -> Result<()> {
    let server = FakeServer::start().await?;
    let (_client, mut conn, _) = server.connect(fast(&server)).await?;
    conn.send(transition(version(5, 0, 0), version(6, 0, 1), vec![]))
        .await?;
    conn.expect_closed().await?;
    let mut conn = server.accept().await?;
    let connect = conn.expect_connect().await?;
    assert_eq!(
        connect.last_close_reason.as_deref(),
        Some("StartVersionMismatch")
    );
    Ok(())
}

#[tokio::test]
async fn silent_server_triggers_a_reconnect_but_pings_keep_it_alive() -> Result<()> {
    let server = FakeServer::start().await?;
    let builder = fast(&server).server_inactivity_timeout(Duration::from_millis(800));
    let (_client, mut conn, _) = server.connect(builder).await?;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        conn.send(ServerMessage::Ping).await?;
    }
    assert!(
        server
            .accept_within(Duration::from_millis(10))
            .await
            .is_err()
    );
    let mut conn = server.accept().await?;
    let connect = conn.expect_connect().await?;
    assert_eq!(connect.last_close_reason.as_deref(), Some("InactiveServer"));
    Ok(())
}

#[tokio::test]
async fn slow_consumer_only_sees_the_latest_result() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let mut sub = client.subscribe::<f64>("messages:count", ()).await?;
    conn.expect_modify().await?;
    // A mutation committed at the last ts resolves only once the client has
    // applied every Transition below.
    let mutating = tokio::spawn({
        let client = client.clone();
        async move { client.mutation::<()>("messages:send", ()).await }
    });
    conn.recv().await?;
    conn.send(mutation_ok(0, json!(null), 100)).await?;
    let mut start = version(0, 0, 0);
    for i in 0..100u32 {
        let end = version(2, 0, u64::from(i) + 1);
        conn.send(transition(
            start,
            end,
            vec![updated(0, json!(f64::from(i)), None)],
        ))
        .await?;
        start = end;
    }
    timeout(STEP, mutating).await???;
    // Nothing was read meanwhile: exactly one item is waiting, the last.
    let latest = sub
        .next()
        .now_or_never()
        .flatten()
        .context("no result ready")??;
    assert_eq!(latest, 99.0);
    assert!(sub.next().now_or_never().is_none());
    Ok(())
}

#[tokio::test]
async fn dropping_every_handle_closes_the_socket_and_ends_streams() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let mut sub = client.subscribe::<f64>("messages:count", ()).await?;
    conn.expect_modify().await?;
    let clone = client.clone();
    drop(client);
    conn.expect_silence(Duration::from_millis(100)).await?;
    drop(clone);
    conn.expect_closed().await?;
    assert!(next(&mut sub).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn close_fails_pending_calls_on_other_handles() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;
    let other = client.clone();
    let mutating = tokio::spawn({
        let client = client.clone();
        async move { client.mutation::<()>("messages:send", ()).await }
    });
    conn.recv().await?;
    client.close().await;
    conn.expect_closed().await?;
    assert!(matches!(
        timeout(STEP, mutating).await??,
        Err(ClientError::Closed)
    ));
    assert!(matches!(
        other.query::<f64>("messages:count", ()).await,
        Err(ClientError::Closed)
    ));
    assert!(other.connection_state().is_closed);
    Ok(())
}

#[tokio::test]
async fn connect_reports_an_unreachable_deployment() -> Result<()> {
    let server = FakeServer::start().await?;
    let url = server.url.clone();
    drop(server);
    match ConvexClient::connect(&url).await {
        Err(ClientError::Connection(message)) => {
            assert!(message.contains("/api/sync"), "{message}")
        }
        other => bail!("unexpected {other:?}"),
    }
    Ok(())
}

/// A `subscribe` call abandoned after the background task registered the
/// query (but before the caller saw the reply) still unsubscribes: the
/// query must not stay subscribed on the server with nobody reading it.
#[tokio::test]
async fn an_abandoned_subscribe_call_unsubscribes() -> Result<()> {
    let server = FakeServer::start().await?;
    let (client, mut conn, _) = server.connect(fast(&server)).await?;

    let mut call = Box::pin(client.subscribe_value("messages:list", Value::Null));
    assert!(futures::poll!(call.as_mut()).is_pending());
    // The background task has registered it: the Add reaches the server.
    let (_, _, mods) = conn.expect_modify().await?;
    let (query_id, path, _, _) = expect_add(&mods[0])?;
    assert_eq!(path, "messages:list");
    // The caller gives up (a timeout, a `select!`) without polling again.
    drop(call);
    let (_, _, mods) = conn.expect_modify().await?;
    assert_eq!(mods, [QuerySetModification::Remove { query_id }]);
    Ok(())
}
