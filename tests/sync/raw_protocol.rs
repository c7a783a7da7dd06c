//! The protocol at the frame level: version chaining, the mutation-then-
//! Transition rule, function errors, and exactly-once re-sent mutations.

use serde_json::json;

use crate::common::{ChatServer, Raw, call as http, create_user};

#[tokio::test]
async fn versions_chain_and_mutations_are_followed_by_a_covering_transition() -> anyhow::Result<()>
{
    let server = ChatServer::start().await?;
    let user = create_user(&server, "t").await?;
    let mut raw = Raw::connect_session(&server, "8e1b7a5c-0c8e-4b4f-9a57-3d1e7f0e2a11").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    let t1 = raw.recv().await?;
    assert_eq!(t1["type"], "Transition");
    assert_eq!(
        t1["startVersion"],
        json!({"querySet":0,"identity":0,"ts":"AAAAAAAAAAA="})
    );
    assert_eq!(t1["endVersion"]["querySet"], 1);
    assert_eq!(
        t1["modifications"],
        json!([{"type":"QueryUpdated","queryId":0,"value":0.0,"logLines":[],"journal":null}])
    );
    assert!(t1["clientClockSkew"].is_number() && t1["serverTs"].is_number());

    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[
        {"type":"Add","queryId":1,"udfPath":"messages.js:list","args":[{}]}]}),
    )
    .await?;
    let t2 = raw.recv().await?;
    assert_eq!(t2["startVersion"], t1["endVersion"]);
    assert_eq!(t2["endVersion"]["querySet"], 2);
    assert_eq!(t2["modifications"][0]["queryId"], 1);

    raw.send(json!({"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"hi","user":user}]})).await?;
    let response = raw.recv().await?;
    assert_eq!(response["type"], "MutationResponse");
    assert_eq!(response["success"], true);
    let commit_ts = convex_rs::value::decode_ts(response["ts"].as_str().unwrap())?;
    let t3 = raw.recv().await?;
    assert_eq!(t3["type"], "Transition");
    assert_eq!(t3["startVersion"], t2["endVersion"]);
    let end_ts = convex_rs::value::decode_ts(t3["endVersion"]["ts"].as_str().unwrap())?;
    assert!(end_ts >= commit_ts, "the Transition covers the mutation");
    let mods = t3["modifications"].as_array().unwrap();
    assert_eq!(mods.len(), 2, "both queries changed: {t3}");

    raw.send(json!({"type":"ModifyQuerySet","baseVersion":2,"newVersion":3,"modifications":[{"type":"Remove","queryId":0}]})).await?;
    let t4 = raw.recv().await?;
    assert_eq!(
        t4["modifications"],
        json!([{"type":"QueryRemoved","queryId":0}])
    );
    assert_eq!(t4["endVersion"]["querySet"], 3);

    // A mutation touching nothing subscribed still gets its (empty) Transition.
    raw.send(json!({"type":"Mutation","requestId":1,"udfPath":"users:create","args":[{"name":"b","tokenIdentifier":"u"}]})).await?;
    assert_eq!(raw.recv().await?["type"], "MutationResponse");
    let t5 = raw.recv().await?;
    assert_eq!(t5["type"], "Transition");
    assert_eq!(t5["modifications"], json!([]));
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn function_errors_are_query_failures_not_protocol_errors() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let mut raw = Raw::connect_session(&server, "b5b0b1c2-1111-4222-8333-944455556666").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"nope:missing","args":[{}]},
        {"type":"Add","queryId":1,"udfPath":"messages:get","args":[{"id":{"$integer":"bad"}}]},
        {"type":"Add","queryId":2,"udfPath":"messages:wipe","args":[{}]}]}),
    )
    .await?;
    let t = raw.recv().await?;
    let mods = t["modifications"].as_array().unwrap();
    assert_eq!(mods.len(), 3);
    for m in mods {
        assert_eq!(m["type"], "QueryFailed", "{m}");
    }
    assert!(
        mods[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Could not find public function")
    );
    raw.send(json!({"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"","user":"x"}]})).await?;
    let r = raw.recv().await?;
    assert_eq!(
        (r["type"].as_str(), r["success"].as_bool()),
        (Some("MutationResponse"), Some(false))
    );
    let t = raw.recv().await?;
    assert_eq!(
        t["type"], "Transition",
        "a failed mutation is followed by a Transition too"
    );
    assert_eq!(t["modifications"], json!([]));
    raw.send(
        json!({"type":"Action","requestId":1,"udfPath":"messages:shout","args":[{"id":"nope"}]}),
    )
    .await?;
    let r = raw.recv().await?;
    assert_eq!(
        (r["type"].as_str(), r["success"].as_bool()),
        (Some("ActionResponse"), Some(false))
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test]
async fn convex_error_data_reaches_the_client() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let user = create_user(&server, "t").await?;
    let mut raw = Raw::connect_session(&server, "c0ffee00-1111-4222-8333-944455556666").await?;
    raw.send(json!({"type":"Mutation","requestId":0,"udfPath":"messages:send","args":[{"body":"  ","user":user}]})).await?;
    let r = raw.recv().await?;
    assert_eq!(r["success"], false);
    assert_eq!(r["errorData"], json!({"code":"EMPTY_BODY"}));
    server.shutdown().await;
    Ok(())
}

/// The socket dies while a mutation is in flight; the client reconnects with
/// the same session id and re-sends it: it runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_resent_after_the_socket_dies_runs_once() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let user = create_user(&server, "t").await?;
    for round in 0..8u32 {
        let session = format!("00000000-0000-4000-8000-{round:012}");
        let mutation = json!({"type":"Mutation","requestId":round,"udfPath":"messages:send","args":[{"body":format!("m{round}"),"user":user}]});
        let mut first = Raw::connect_session(&server, &session).await?;
        first.send(mutation.clone()).await?;
        // Kill the socket at a different moment each round: before or while the mutation runs.
        if round % 2 == 1 {
            tokio::time::sleep(std::time::Duration::from_millis(u64::from(round))).await;
        }
        drop(first);
        let mut second = Raw::reconnect_session(&server, &session, 1).await?;
        second.send(mutation).await?;
        let r = second.recv().await?;
        assert_eq!(r["type"], "MutationResponse");
        assert_eq!(r["success"], true, "{r}");
        let count = http(&server, "query", "messages:count", json!({})).await?;
        assert_eq!(
            count,
            json!(f64::from(round + 1)),
            "round {round}: exactly one message per re-sent mutation"
        );
    }
    server.shutdown().await;
    Ok(())
}

/// Regression: a subscribed page keeps its range (journal) as it grows, but a
/// new subscriber with the same arguments and no journal gets a fresh page.
#[tokio::test]
async fn a_new_page_subscriber_does_not_share_a_grown_page() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let user = create_user(&server, "t").await?;
    for i in 0..2 {
        http(
            &server,
            "mutation",
            "messages:send",
            json!({"body": format!("old{i}"), "user": user}),
        )
        .await?;
    }
    let page = json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:page","args":[{"paginationOpts":{"numItems":2.0,"cursor":null}}]}]});
    let mut first = Raw::connect_session(&server, "11111111-2222-4333-8444-555555555555").await?;
    first.send(page.clone()).await?;
    let t = first.recv().await?;
    assert_eq!(
        t["modifications"][0]["value"]["page"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert!(
        t["modifications"][0]["journal"].is_string(),
        "a paginated query returns a journal"
    );
    for i in 0..3 {
        http(
            &server,
            "mutation",
            "messages:send",
            json!({"body": format!("new{i}"), "user": user}),
        )
        .await?;
    }
    // The first subscriber's page keeps its end, so it grows to include the new messages.
    let mut grown = 0;
    for _ in 0..3 {
        let t = first.recv().await?;
        if let Some(page) = t["modifications"][0]["value"]["page"].as_array() {
            grown = page.len();
            if grown == 5 {
                break;
            }
        }
    }
    assert_eq!(grown, 5);
    // A new subscriber asking for the first 2 gets exactly 2.
    let mut second = Raw::connect_session(&server, "66666666-2222-4333-8444-555555555555").await?;
    second.send(page).await?;
    let t = second.recv().await?;
    let value = &t["modifications"][0]["value"];
    assert_eq!(value["page"].as_array().map(Vec::len), Some(2), "{t}");
    assert_eq!(value["isDone"], false);
    server.shutdown().await;
    Ok(())
}

/// A session with more queued mutations than its completion channel holds
/// is shut down: its mutations keep committing and it ends promptly (it used
/// to wait forever to report completions nobody would read, holding up
/// server shutdown for the sessions' full 10 s grace period).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_many_queued_mutations_is_prompt() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let mut raw = Raw::connect_session(&server, "5e55104e-0000-4000-8000-000000000400").await?;
    for request_id in 0..400u32 {
        raw.send(
            json!({"type":"Mutation","requestId":request_id,"udfPath":"users:create",
            "args":[{"name":"q","tokenIdentifier":format!("queued|{request_id}")}]}),
        )
        .await?;
    }
    // The first answer: the session is working through its queue.
    loop {
        if raw.recv().await?["type"] == "MutationResponse" {
            break;
        }
    }
    let started = std::time::Instant::now();
    server.shutdown().await;
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(5),
        "shutdown took {took:?}"
    );
    Ok(())
}

/// A client that observed timestamps from earlier data (the database was
/// wiped under an open page) connects to a fresh database and is served.
#[tokio::test]
async fn a_fresh_database_accepts_clients_that_saw_earlier_timestamps() -> anyhow::Result<()> {
    let earlier = convex_rs::store::wall_clock_nanos();
    let server = ChatServer::start().await?;
    let mut raw = Raw::connect(&server).await?;
    raw.send(
        json!({"type":"Connect","sessionId":"f7e5f7e5-0000-4000-8000-000000000001",
        "connectionCount":1,"lastCloseReason":"ServerShutdown","clientTs":0,
        "maxObservedTimestamp": convex_rs::sync::protocol::Ts(earlier)}),
    )
    .await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    let t = raw.recv().await?;
    assert_eq!(t["type"], "Transition", "{t}");
    assert_eq!(t["modifications"][0]["value"], json!(0.0), "{t}");
    server.shutdown().await;
    Ok(())
}

/// A server dropped without `shutdown()` stops serving and leaves no task
/// behind: the subscription hub's task used to hold the store and wait for
/// commits for as long as the runtime lived.
#[tokio::test]
async fn a_dropped_server_leaves_no_tasks_behind() -> anyhow::Result<()> {
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    let server = ChatServer::start().await?;
    let addr = server.local_addr();
    let mut raw = Raw::connect_session(&server, "d70bbed0-0000-4000-8000-000000000001").await?;
    drop(server);
    raw.closed().await?;
    drop(raw);
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting connections"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while metrics.num_alive_tasks() > before {
        assert!(
            std::time::Instant::now() < deadline,
            "{} tasks still alive (before the server: {before})",
            metrics.num_alive_tasks()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    Ok(())
}
