//! Backpressure and limits over real sockets, and `GET /metrics`: a full
//! server refuses sessions with 503; a full mutation queue closes the
//! session with 1013 `Busy` and the official client re-sends until every
//! mutation ran exactly once; subscriptions past the limit fail; a client
//! that stops reading is closed instead of growing memory; and the
//! Prometheus endpoint reports functions, commits, sessions and queues.

use std::path::Path;
use std::time::Duration;

use convex_rs::app::{Backend, BackendConfig};
use convex_rs::server::{Server, ServerConfig};
use convex_rs::sync::{MutationQueue, SessionConfig};
use serde_json::{Value as Json, json};

use crate::common::{Raw, call, create_user, url};

async fn start_with(dir: &Path, config: ServerConfig) -> anyhow::Result<Server> {
    let backend = Backend::open(chat::app()?, BackendConfig::in_dir(dir)).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    Ok(Server::start(backend, listener, config).await?)
}

/// `GET /metrics` as text.
async fn scrape(server: &Server) -> anyhow::Result<String> {
    let response = reqwest::get(format!("{}/metrics", url(server))).await?;
    anyhow::ensure!(response.status() == 200, "status {}", response.status());
    Ok(response.text().await?)
}

/// The value of the sample `name{labels}` (labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// Sends the mutations of `requests` in one write, so they queue together.
async fn burst(
    raw: &mut Raw,
    requests: std::ops::Range<u32>,
    mutation: &impl Fn(u32, String) -> Json,
) -> anyhow::Result<()> {
    use futures::SinkExt;
    for request in requests {
        let frame = mutation(request, format!("burst {request}")).to_string();
        raw.socket
            .feed(tokio_tungstenite::tungstenite::Message::Text(frame.into()))
            .await?;
    }
    raw.socket.flush().await?;
    Ok(())
}

/// The code of the close frame `raw` receives within 10 s, skipping any
/// other message (transport pings would otherwise keep a wait alive).
async fn close_code(raw: &mut Raw) -> anyhow::Result<Option<u16>> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, raw.socket.next()).await {
            Err(_) => anyhow::bail!("no close within 10 s"),
            Ok(Some(Ok(Message::Close(frame)))) => return Ok(frame.map(|f| u16::from(f.code))),
            Ok(Some(Ok(Message::Text(text)))) => {
                anyhow::ensure!(!text.contains("MutationResponse"), "not refused: {text}");
            }
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_)) | None) => return Ok(None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_past_the_maximum_are_refused_with_503() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ServerConfig {
        max_sessions: 2,
        ..ServerConfig::default()
    };
    let server = start_with(dir.path(), config).await?;
    let _a = Raw::connect_session(&server, "aaaaaaaa-0000-4000-8000-000000000001").await?;
    let _b = Raw::connect_session(&server, "aaaaaaaa-0000-4000-8000-000000000002").await?;
    // Both are counted once their upgrade is served.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = Raw::connect(&server).await;
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("503"), "{message}");
    drop(_a);
    // A place frees up when a session ends.
    let mut connected = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if Raw::connect(&server).await.is_ok() {
            connected = true;
            break;
        }
    }
    assert!(connected, "a session ended but new ones are still refused");
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_mutation_queue_answers_busy_and_the_official_client_retries() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let config = ServerConfig {
        session: SessionConfig {
            mutation_queue: MutationQueue::new(1),
            ..SessionConfig::default()
        },
        ..ServerConfig::default()
    };
    let server = start_with(dir.path(), config).await?;
    let user = create_user(&server, "busy").await?;

    // One session's burst holds the only place while it runs; a second
    // session that sends a mutation meanwhile is closed as overloaded.
    let send = |request: u32, body: String| {
        json!({"type":"Mutation","requestId":request,"udfPath":"messages:send",
            "args":[{"body": body, "user": user}]})
    };
    let mut holder = Raw::connect_session(&server, "bbbbbbbb-0000-4000-8000-000000000001").await?;
    let mut refused = Raw::connect_session(&server, "bbbbbbbb-0000-4000-8000-000000000002").await?;
    burst(&mut holder, 0..100, &send).await?;
    // Once the first has answered, the other 99 are still queued.
    while holder.recv().await?["type"] != "MutationResponse" {}
    refused.send(send(0, "refused".into())).await?;
    assert_eq!(
        close_code(&mut refused).await?,
        Some(1013),
        "closed as overloaded"
    );
    let mut answered = 1;
    while answered < 100 {
        if holder.recv().await?["type"] == "MutationResponse" {
            answered += 1;
        }
    }

    // The official client, refused while another burst holds the place,
    // reconnects with backoff and re-sends until each mutation ran once.
    let before = call(&server, "query", "messages:count", json!({})).await?;
    burst(&mut holder, 100..400, &send).await?;
    let client = convex::ConvexClient::new(&url(&server)).await?;
    let mut sends = Vec::new();
    for i in 0..5 {
        let mut client = client.clone();
        let user = user.as_str().unwrap_or_default().to_string();
        sends.push(tokio::spawn(async move {
            let args = std::collections::BTreeMap::from([
                (
                    "body".to_string(),
                    convex::Value::from(format!("official {i}")),
                ),
                ("user".to_string(), convex::Value::from(user)),
            ]);
            client.mutation("messages:send", args).await
        }));
    }
    for send in sends {
        let result = tokio::time::timeout(Duration::from_secs(60), send).await???;
        assert!(
            matches!(result, convex::FunctionResult::Value(_)),
            "{result:?}"
        );
    }
    while answered < 400 {
        if holder.recv().await?["type"] == "MutationResponse" {
            answered += 1;
        }
    }
    let after = call(&server, "query", "messages:count", json!({})).await?;
    assert_eq!(
        after.as_f64().unwrap_or_default() - before.as_f64().unwrap_or_default(),
        305.0,
        "each mutation ran exactly once"
    );
    let metrics = scrape(&server).await?;
    let refused = sample(
        &metrics,
        "convex_sessions_refused_total{reason=\"overloaded\"}",
    );
    assert!(refused.is_some_and(|n| n >= 1.0), "{metrics}");
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_past_the_limit_fail_with_a_clear_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ServerConfig {
        session: SessionConfig {
            max_subscriptions: 2,
            ..SessionConfig::default()
        },
        ..ServerConfig::default()
    };
    let server = start_with(dir.path(), config).await?;
    let mut raw = Raw::connect_session(&server, "cccccccc-0000-4000-8000-000000000001").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]},
        {"type":"Add","queryId":1,"udfPath":"messages:list","args":[{}]},
        {"type":"Add","queryId":2,"udfPath":"messages:scheduled","args":[{}]}]}),
    )
    .await?;
    let transition = raw.recv().await?;
    assert_eq!(transition["type"], "Transition", "{transition}");
    let modifications = transition["modifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |id: u64| {
        modifications
            .iter()
            .find(|m| m["queryId"] == id)
            .cloned()
            .unwrap_or(Json::Null)
    };
    assert_eq!(of(0)["type"], "QueryUpdated");
    assert_eq!(of(1)["type"], "QueryUpdated");
    assert_eq!(of(2)["type"], "QueryFailed", "{transition}");
    let message = of(2)["errorMessage"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(message.contains("TooManySubscriptions"), "{message}");
    // Removing one makes room.
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":1,"newVersion":2,"modifications":[
        {"type":"Remove","queryId":0},{"type":"Remove","queryId":2},
        {"type":"Add","queryId":3,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    let transition = raw.recv().await?;
    let added = transition["modifications"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["queryId"] == 3).cloned())
        .unwrap_or(Json::Null);
    assert_eq!(added["type"], "QueryUpdated", "{transition}");
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_closed_instead_of_buffering() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = ServerConfig {
        session: SessionConfig {
            max_outgoing_bytes: 256 << 10,
            slow_consumer_timeout: Duration::from_millis(500),
            ..SessionConfig::default()
        },
        ..ServerConfig::default()
    };
    let server = start_with(dir.path(), config).await?;
    let user = create_user(&server, "slow").await?;
    let mut raw = Raw::connect_session(&server, "dddddddd-0000-4000-8000-000000000001").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:list","args":[{}]}]}),
    )
    .await?;
    let first = raw.recv().await?;
    assert_eq!(first["type"], "Transition", "{first}");
    assert_eq!(server.hub().subscription_count(), 1);
    // The client never reads again. Each message adds 200 KB to the result
    // it is sent; the socket's buffers fill, then the session's budget.
    let body = "x".repeat(200_000);
    let mut closed = false;
    for _ in 0..200 {
        call(
            &server,
            "mutation",
            "messages:send",
            json!({ "body": body, "user": user }),
        )
        .await?;
        if server.hub().subscription_count() == 0 {
            closed = true;
            break;
        }
    }
    for _ in 0..100 {
        if closed {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        closed = server.hub().subscription_count() == 0;
    }
    assert!(closed, "the slow session still holds its subscription");
    // The session counts its close just after it lets go of its queries.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = scrape(&server).await?;
        let refused = sample(
            &metrics,
            "convex_sessions_refused_total{reason=\"slow_consumer\"}",
        );
        if refused.is_some_and(|n| n >= 1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refused = sample(
        &metrics,
        "convex_sessions_refused_total{reason=\"slow_consumer\"}",
    );
    assert!(refused.is_some_and(|n| n >= 1.0), "{metrics}");
    drop(raw);
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_report_functions_commits_sessions_and_queues() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = start_with(dir.path(), ServerConfig::default()).await?;
    let user = create_user(&server, "metrics").await?;
    call(
        &server,
        "mutation",
        "messages:send",
        json!({ "body": "hello", "user": user }),
    )
    .await?;
    call(&server, "query", "messages:count", json!({})).await?;
    let _ = call(&server, "query", "no:such", json!({})).await;
    let mut raw = Raw::connect_session(&server, "eeeeeeee-0000-4000-8000-000000000001").await?;
    raw.send(
        json!({"type":"ModifyQuerySet","baseVersion":0,"newVersion":1,"modifications":[
        {"type":"Add","queryId":0,"udfPath":"messages:count","args":[{}]}]}),
    )
    .await?;
    raw.recv().await?;

    let response = reqwest::get(format!("{}/metrics", url(&server))).await?;
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await?;
    let calls = sample(
        &text,
        "convex_function_calls_total{kind=\"mutation\",path=\"messages:send\",outcome=\"success\"}",
    );
    assert!(calls.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains(
            "convex_function_calls_total{kind=\"query\",path=\"(unknown)\",outcome=\"error\"}"
        ),
        "an unknown path is counted without its name: {text}"
    );
    for series in [
        "convex_function_duration_seconds_bucket{kind=\"query\",path=\"messages:count\",le=\"0.001\"}",
        "convex_commit_batch_size_bucket{le=\"1\"}",
        "convex_commit_duration_seconds_count",
        "convex_commits_total",
        "convex_sync_sessions",
        "convex_sync_subscriptions",
        "convex_pending_mutations",
        "convex_commit_queue_depth",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series} missing: {text}"
        );
    }
    assert!(sample(&text, "convex_sync_sessions").is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "convex_sync_subscriptions").is_some_and(|n| n >= 1.0));
    assert!(text.contains("# TYPE convex_function_duration_seconds histogram"));
    server.shutdown().await;
    Ok(())
}
