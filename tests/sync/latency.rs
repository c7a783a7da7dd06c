//! No latency floor over a real loopback socket: with Nagle's algorithm on
//! the server's sockets (and the `MutationResponse` and its `Transition`
//! written as separate small frames) every mutation took ~44 ms, the delayed
//! ACK timer. These tests drive the server with the official Rust client.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use convex::{ConvexClient, FunctionResult, Value};
use futures::StreamExt;

use crate::common::{self, ChatServer};

/// Sequential round trips each test times.
const ROUNDS: usize = 200;
/// Far below the 40 ms delayed-ACK floor, with room for a loaded CI machine.
const MEDIAN_BOUND: Duration = Duration::from_millis(10);

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

async fn create_user(client: &mut ConvexClient) -> anyhow::Result<String> {
    let args = BTreeMap::from([
        ("name".to_string(), Value::from("ada")),
        ("tokenIdentifier".to_string(), Value::from("t")),
    ]);
    match client.mutation("users:create", args).await? {
        FunctionResult::Value(Value::String(id)) => Ok(id),
        other => anyhow::bail!("users:create returned {other:?}"),
    }
}

fn send_args(user: &str, i: usize) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("body".to_string(), Value::from(format!("message {i}"))),
        ("user".to_string(), Value::from(user.to_string())),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_mutations_have_no_delayed_ack_floor() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let mut client = ConvexClient::new(&common::url(&server)).await?;
    let user = create_user(&mut client).await?;
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        match client
            .mutation("messages:send", send_args(&user, i))
            .await?
        {
            FunctionResult::Value(Value::String(_)) => {}
            other => anyhow::bail!("messages:send returned {other:?}"),
        }
        samples.push(started.elapsed());
    }
    let median = median(samples);
    assert!(
        median < MEDIAN_BOUND,
        "median mutation round trip {median:?} (bound {MEDIAN_BOUND:?})"
    );
    server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_reaches_a_second_client_without_a_floor() -> anyhow::Result<()> {
    let server = ChatServer::start().await?;
    let mut writer = ConvexClient::new(&common::url(&server)).await?;
    let mut watcher = ConvexClient::new(&common::url(&server)).await?;
    let user = create_user(&mut writer).await?;
    let mut count = watcher.subscribe("messages:count", BTreeMap::new()).await?;
    let mut seen = 0.0;
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..ROUNDS {
        let started = Instant::now();
        let mut writer = writer.clone();
        let args = send_args(&user, i);
        let sent = tokio::spawn(async move { writer.mutation("messages:send", args).await });
        // Wait for the watcher's subscription to show this message.
        while seen < (i + 1) as f64 {
            match tokio::time::timeout(Duration::from_secs(10), count.next()).await? {
                Some(FunctionResult::Value(Value::Float64(n))) => seen = n,
                other => anyhow::bail!("messages:count pushed {other:?}"),
            }
        }
        samples.push(started.elapsed());
        sent.await??;
    }
    let median = median(samples);
    assert!(
        median < MEDIAN_BOUND,
        "median send-to-push time {median:?} (bound {MEDIAN_BOUND:?})"
    );
    drop(count);
    server.shutdown().await;
    Ok(())
}
