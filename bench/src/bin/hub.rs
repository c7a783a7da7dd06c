//! `hub`: measures the subscription hub of convex-rs.
//!
//! 1. **Invalidation cost.** For each size N (1k, 10k and 100k by default) a
//!    fresh chat backend and a [`Hub`] get N distinct subscriptions, without
//!    sockets: `users:byToken` with token `tok<i>`, each reading its own range
//!    of the `by_token` index (and returning null: no users exist). Then
//!    commits run one at a time, round-robin over the sizes (so drift in the
//!    machine's load hits every size alike), each creating the user exactly
//!    one subscription waits for, and for each the hub's own invalidation time
//!    ([`RoundStats::invalidation_nanos`]: finding the invalidated
//!    subscriptions in the interval index) and the whole round (commit
//!    acknowledged → hub timestamp at or past the commit) are recorded.
//!    Target: the median at 100k is at most twice the median at 1k.
//! 2. **Commit-to-client latency.** A server on loopback gets 100 websocket
//!    connections, each subscribing to 100 distinct `users:byToken` queries
//!    (10k subscriptions). Then, one at a time, an in-process mutation creates
//!    the user one of them waits for, and the clock stops when the owning
//!    socket receives the Transition carrying the new result. Targets:
//!    commit acknowledged → Transition received p50 ≤ 2 ms, p99 ≤ 10 ms.
//!
//! The websocket clients are plain OS threads with blocking sockets (the
//! synchronous `tungstenite` API), so they never queue behind the server's
//! tokio workers; each stamps a message the moment its read returns.
//!
//! Prints a table with PASS/MISS against the targets; exits with 0 whenever
//! the measurements ran, whether or not the targets were met.
//!
//! `cargo run --release -p convex-bench --bin hub`

use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use clap::Parser;
use convex_bench::report::verdict;
use convex_rs::app::{Backend, BackendConfig};
use convex_rs::function::{Caller, FunctionOutcome, Identity};
use convex_rs::server::{Server, ServerConfig};
use convex_rs::store::wall_clock_nanos;
use convex_rs::sync::protocol::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification,
};
use convex_rs::sync::{Hub, RoundStats, SubscriptionId};
use convex_rs::value::Value;
use serde_json::{Value as Json, json};
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::tungstenite::{self, Message, WebSocket};

/// The subscribed query: an indexed point lookup by token.
const BY_TOKEN: &str = "users:byToken";
/// The mutation that creates the user a subscription waits for.
const CREATE_USER: &str = "users:create";

/// Target: invalidation median at the largest size over the smallest.
const TARGET_INVALIDATION_RATIO: f64 = 2.0;
/// Target: commit-to-client median.
const TARGET_P50: Duration = Duration::from_millis(2);
/// Target: commit-to-client 99th percentile.
const TARGET_P99: Duration = Duration::from_millis(10);

/// Longest wait for every subscription's first result.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for one commit to reach the hub or a client.
const COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the hub to publish a round's statistics after its results.
const STATS_TIMEOUT: Duration = Duration::from_millis(200);
/// Bound on connecting and on the websocket handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a blocked client thread checks whether it should stop.
const CLIENT_POLL: Duration = Duration::from_millis(100);
/// Stack of each client thread (they parse JSON and little else).
const CLIENT_STACK: usize = 256 * 1024;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "hub",
    about = "Subscription hub: per-commit invalidation cost by subscription count, \
             and commit-to-client latency over websockets"
)]
struct Args {
    /// Subscription counts for the invalidation measurement (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000, 100_000])]
    sizes: Vec<usize>,
    /// Measured commits per subscription count.
    #[arg(long, default_value_t = 200)]
    commits: usize,
    /// Unrecorded commits before each measurement.
    #[arg(long, default_value_t = 10)]
    warmup: usize,
    /// Subscribe in batches of this many, each waiting for its first results
    /// before the next (0: all at once). Bounds how many subscriptions are
    /// ever pending in the hub at the same time.
    #[arg(long, default_value_t = 0)]
    subscribe_batch: usize,
    /// Websocket connections for the latency measurement.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Distinct subscriptions per connection.
    #[arg(long, default_value_t = 100)]
    queries_per_connection: usize,
    /// Measured commits in the latency measurement.
    #[arg(long, default_value_t = 500)]
    samples: usize,
    /// Directory under which the databases are created (default: the system
    /// temp dir). Each backend gets a fresh subdirectory, removed afterwards.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Skip the invalidation measurement.
    #[arg(long)]
    skip_invalidation: bool,
    /// Skip the latency measurement.
    #[arg(long)]
    skip_latency: bool,
}

/// Order statistics of signed nanosecond samples.
#[derive(Clone, Copy, Debug)]
struct Summary {
    count: usize,
    p50: i64,
    p99: i64,
    max: i64,
}

impl Summary {
    fn of(mut samples: Vec<i64>) -> Summary {
        samples.sort_unstable();
        Summary {
            count: samples.len(),
            p50: percentile(&samples, 50.0),
            p99: percentile(&samples, 99.0),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

/// Nearest-rank percentile of sorted samples (0 when empty).
fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// `to - from`, negative when `to` is earlier.
fn signed_nanos(from: Instant, to: Instant) -> i64 {
    if to >= from {
        nanos(to - from)
    } else {
        -nanos(from - to)
    }
}

/// `to - from` for wall-clock nanosecond stamps.
fn wall_diff(from: u64, to: u64) -> i64 {
    i64::try_from(i128::from(to) - i128::from(from)).unwrap_or(i64::MAX)
}

/// A nanosecond count for people: `850 ns`, `12.3 µs`, `1.84 ms`, `2.10 s`.
fn human(ns: i64) -> String {
    let abs = ns.unsigned_abs() as f64;
    let sign = if ns < 0 { "-" } else { "" };
    if abs < 1e3 {
        format!("{sign}{abs:.0} ns")
    } else if abs < 1e6 {
        format!("{sign}{:.1} µs", abs / 1e3)
    } else if abs < 1e9 {
        format!("{sign}{:.2} ms", abs / 1e6)
    } else {
        format!("{sign}{:.2} s", abs / 1e9)
    }
}

fn token(i: usize) -> String {
    format!("tok{i}")
}

fn by_token_args(i: usize) -> anyhow::Result<Value> {
    Ok(Value::from_json(json!({ "tokenIdentifier": token(i) }))?)
}

fn create_user_args(i: usize) -> anyhow::Result<Value> {
    Ok(Value::from_json(
        json!({ "name": format!("user {i}"), "tokenIdentifier": token(i) }),
    )?)
}

/// The commit timestamp of a successful mutation.
fn commit_ts(outcome: &FunctionOutcome) -> anyhow::Result<u64> {
    if let Err(failure) = &outcome.result {
        bail!("{CREATE_USER} failed: {}", failure.message);
    }
    outcome
        .ts
        .with_context(|| format!("{CREATE_USER} returned no commit timestamp"))
}

/// Resident set size of this process in KiB (Linux only).
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Opens the chat app in a fresh subdirectory of `parent`.
async fn open_backend(parent: &Path) -> anyhow::Result<(Backend, tempfile::TempDir)> {
    let dir = tempfile::Builder::new()
        .prefix("convex-bench-hub-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory under {}", parent.display()))?;
    let backend = Backend::open(chat::app()?, BackendConfig::in_dir(dir.path())).await?;
    Ok((backend, dir))
}

// ---------------------------------------------------------------------------
// 1. Invalidation cost
// ---------------------------------------------------------------------------

/// The invalidation measurement for one subscription count.
struct InvalidationRun {
    subscriptions: usize,
    /// Subscribe calls until every subscription has its first result.
    setup: Duration,
    /// RSS growth over the setup, in KiB.
    rss_growth_kib: Option<i64>,
    /// `RoundStats::invalidation_nanos` per commit.
    invalidation: Summary,
    /// Commit acknowledged → hub timestamp at or past the commit.
    round: Summary,
    /// Commits whose round did not absorb exactly one commit and re-run
    /// exactly one changed subscription, or whose statistics never showed.
    irregular: usize,
}

/// One subscription count's backend, hub and samples so far.
struct SizeUnderTest {
    n: usize,
    backend: Backend,
    _dir: tempfile::TempDir,
    hub: Hub,
    setup: Duration,
    rss_growth_kib: Option<i64>,
    /// The token each commit creates a user for (distinct: a second user
    /// with the same token would not change the subscription's result).
    picks: Vec<usize>,
    /// Statistics of the round of the previous commit.
    previous: RoundStats,
    invalidation: Vec<i64>,
    round: Vec<i64>,
    irregular: usize,
}

/// Sets every size up, then runs the commits round-robin over the sizes, so
/// that drift in the machine's state (other processes, frequency scaling)
/// affects every size alike and the ratio between sizes stays meaningful.
async fn invalidation_runs(args: &Args, parent: &Path) -> anyhow::Result<Vec<InvalidationRun>> {
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    let mut under_test: Vec<SizeUnderTest> = Vec::with_capacity(sizes.len());
    let mut result = Ok(());
    for n in sizes {
        eprintln!("invalidation: subscribing {n} queries ...");
        match set_up_size(n, args, parent).await {
            Ok(size) => under_test.push(size),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() {
        eprintln!(
            "invalidation: {} commits per size ...",
            args.warmup + args.commits
        );
        result = commit_round_robin(&mut under_test, args).await;
    }
    let mut runs = Vec::with_capacity(under_test.len());
    for size in under_test {
        size.backend.shutdown().await;
        runs.push(InvalidationRun {
            subscriptions: size.n,
            setup: size.setup,
            rss_growth_kib: size.rss_growth_kib,
            invalidation: Summary::of(size.invalidation),
            round: Summary::of(size.round),
            irregular: size.irregular,
        });
    }
    result.map(|()| runs)
}

/// Opens a backend and a hub with `n` distinct subscriptions, all with results.
async fn set_up_size(n: usize, args: &Args, parent: &Path) -> anyhow::Result<SizeUnderTest> {
    let (backend, dir) = open_backend(parent).await?;
    let rss_before = rss_kib();
    let hub = Hub::start(backend.runner().clone());
    let watcher = Arc::new(Notify::new());
    let batch = if args.subscribe_batch == 0 {
        n
    } else {
        args.subscribe_batch
    };
    let started = Instant::now();
    let mut ids = Vec::with_capacity(n);
    let mut subscribed = Ok(());
    for first in (0..n).step_by(batch) {
        for i in first..n.min(first + batch) {
            ids.push(hub.subscribe(
                BY_TOKEN,
                by_token_args(i)?,
                Identity::Unauthenticated,
                None,
                &watcher,
            ));
        }
        subscribed = wait_for_first_results(&hub, &ids[first..], &watcher).await;
        if subscribed.is_err() {
            break;
        }
    }
    let setup = started.elapsed();
    if let Err(e) = subscribed {
        backend.shutdown().await;
        return Err(e);
    }
    let rss_growth_kib = match (rss_before, rss_kib()) {
        (Some(before), Some(after)) => i64::try_from(after)
            .ok()
            .zip(i64::try_from(before).ok())
            .map(|(a, b)| a - b),
        _ => None,
    };
    if hub.subscription_count() != n {
        backend.shutdown().await;
        bail!(
            "the hub holds {} subscriptions, expected {n}",
            hub.subscription_count()
        );
    }
    let picks =
        rand::seq::index::sample(&mut rand::rng(), n, args.warmup + args.commits).into_vec();
    Ok(SizeUnderTest {
        n,
        previous: hub.last_round(),
        backend,
        _dir: dir,
        hub,
        setup,
        rss_growth_kib,
        picks,
        invalidation: Vec::with_capacity(args.commits),
        round: Vec::with_capacity(args.commits),
        irregular: 0,
    })
}

async fn commit_round_robin(sizes: &mut [SizeUnderTest], args: &Args) -> anyhow::Result<()> {
    for k in 0..args.warmup + args.commits {
        for size in sizes.iter_mut() {
            commit_once(size, k, k >= args.warmup).await?;
        }
    }
    Ok(())
}

/// Commits the `k`th user of `size` and records what its hub round cost.
async fn commit_once(size: &mut SizeUnderTest, k: usize, measured: bool) -> anyhow::Result<()> {
    let outcome = size
        .backend
        .runner()
        .run_mutation(
            CREATE_USER,
            create_user_args(size.picks[k])?,
            Identity::Unauthenticated,
            Caller::Function,
        )
        .await;
    let acked = Instant::now();
    let ts = commit_ts(&outcome)?;
    wait_for_hub_ts(&size.hub, ts).await?;
    let round_time = acked.elapsed();
    match published_stats(&size.hub, &size.previous).await {
        Some(stats) => {
            if measured {
                if stats.commits != 1 || stats.executed != 1 || stats.changed != 1 {
                    eprintln!("note: {} subscriptions, commit {k}: {stats:?}", size.n);
                    size.irregular += 1;
                }
                size.invalidation
                    .push(i64::try_from(stats.invalidation_nanos).unwrap_or(i64::MAX));
                size.round.push(nanos(round_time));
            }
            size.previous = stats;
        }
        None if measured => {
            eprintln!(
                "note: {} subscriptions, commit {k}: no round statistics within {STATS_TIMEOUT:?}",
                size.n
            );
            size.irregular += 1;
        }
        None => {}
    }
    Ok(())
}

/// Waits until every subscription in `ids` has its first result, and checks
/// that each is null (no user has any of the tokens yet).
async fn wait_for_first_results(
    hub: &Hub,
    ids: &[SubscriptionId],
    watcher: &Notify,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETUP_TIMEOUT;
    loop {
        let (_, results) = hub.results(ids);
        let mut ready = 0;
        for result in results.iter().flatten() {
            match &result.value {
                Ok(Json::Null) => ready += 1,
                Ok(other) => bail!("{BY_TOKEN} returned {other}, expected null"),
                Err((message, _)) => bail!("{BY_TOKEN} failed: {message}"),
            }
        }
        if ready == ids.len() {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            bail!(
                "only {ready} of {} subscriptions had a result after {SETUP_TIMEOUT:?}",
                ids.len()
            );
        }
        // Rounds wake the watcher; the bound covers a wake-up that raced the check.
        let _ =
            tokio::time::timeout(left.min(Duration::from_millis(100)), watcher.notified()).await;
    }
}

/// Waits until the hub's results are valid at `ts` or later.
async fn wait_for_hub_ts(hub: &Hub, ts: u64) -> anyhow::Result<()> {
    let reached = Arc::new(Notify::new());
    hub.notify_at(ts, &reached);
    tokio::time::timeout(COMMIT_TIMEOUT, reached.notified())
        .await
        .with_context(|| format!("the hub did not reach ts {ts} within {COMMIT_TIMEOUT:?}"))
}

fn same_stats(a: &RoundStats, b: &RoundStats) -> bool {
    (a.commits, a.executed, a.changed, a.invalidation_nanos)
        == (b.commits, b.executed, b.changed, b.invalidation_nanos)
}

/// The statistics of the round that absorbed the commit just waited for.
///
/// The hub wakes timestamp waiters before it stores the round's statistics,
/// so right after the wake-up `last_round` may still show the previous round.
/// Rounds are sequential and, with one commit at a time, the next round that
/// absorbed a commit is this commit's; `None` if none shows up in time.
async fn published_stats(hub: &Hub, previous: &RoundStats) -> Option<RoundStats> {
    let deadline = Instant::now() + STATS_TIMEOUT;
    loop {
        let stats = hub.last_round();
        if stats.commits > 0 && !same_stats(&stats, previous) {
            return Some(stats);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::task::yield_now().await;
    }
}

// ---------------------------------------------------------------------------
// 2. Commit-to-client latency
// ---------------------------------------------------------------------------

/// What a client thread reports.
#[derive(Debug)]
enum ClientEvent {
    /// Every query of the connection has its first result.
    Ready { conn: usize },
    /// A query's result became non-null.
    Updated {
        conn: usize,
        query_id: u32,
        /// When the read returned the Transition.
        received: Instant,
        /// The same moment on the wall clock, in ns.
        received_wall: u64,
        /// The Transition's `serverTs` (wall clock when the server built it).
        server_ts: u64,
    },
    /// The connection failed.
    Failed { conn: usize, error: String },
}

/// The latency measurement.
struct LatencyRun {
    subscriptions: usize,
    connections: usize,
    /// Connect until every connection has all its first results.
    setup: Duration,
    /// Mutation acknowledged → Transition received.
    commit_to_client: Summary,
    /// Mutation started → Transition received.
    start_to_client: Summary,
    /// Mutation started → acknowledged.
    mutation: Summary,
    /// Mutation acknowledged → Transition built (`serverTs`), wall clock.
    ack_to_built: Summary,
    /// Transition built → received, wall clock.
    built_to_received: Summary,
    /// Updates for a query other than the one just written.
    stray_updates: usize,
}

/// The client threads; dropping this tells them to stop.
struct Clients {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Clients {
    fn spawn(
        addr: SocketAddr,
        connections: usize,
        per_connection: usize,
        events: &mpsc::UnboundedSender<ClientEvent>,
    ) -> anyhow::Result<Clients> {
        let mut clients = Clients {
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::with_capacity(connections),
        };
        for conn in 0..connections {
            let tokens = conn * per_connection..(conn + 1) * per_connection;
            let events = events.clone();
            let stop = clients.stop.clone();
            let thread = std::thread::Builder::new()
                .name(format!("ws-client-{conn}"))
                .stack_size(CLIENT_STACK)
                .spawn(move || {
                    if let Err(e) = run_client(addr, conn, tokens, &events, &stop) {
                        let _ = events.send(ClientEvent::Failed {
                            conn,
                            error: format!("{e:#}"),
                        });
                    }
                })
                .context("cannot spawn a client thread")?;
            clients.threads.push(thread);
        }
        Ok(clients)
    }

    /// Stops every client (each closes its socket) and waits for them.
    async fn stop(mut self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        let threads = std::mem::take(&mut self.threads);
        let panicked = tokio::task::spawn_blocking(move || {
            threads
                .into_iter()
                .map(JoinHandle::join)
                .filter(Result::is_err)
                .count()
        })
        .await?;
        ensure!(panicked == 0, "{panicked} client threads panicked");
        Ok(())
    }
}

impl Drop for Clients {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn send(ws: &mut WebSocket<TcpStream>, message: &ClientMessage) -> anyhow::Result<()> {
    ws.send(Message::text(serde_json::to_string(message)?))
        .context("cannot send to the server")
}

/// One websocket connection: subscribes to `tokens`' queries (query ids
/// 0, 1, …), reports when all have results, then reports every non-null
/// result until told to stop.
fn run_client(
    addr: SocketAddr,
    conn: usize,
    tokens: Range<usize>,
    events: &mpsc::UnboundedSender<ClientEvent>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
    let (mut ws, _) = tungstenite::client(format!("ws://{addr}/api/sync"), stream)
        .map_err(|e| anyhow!("websocket handshake failed: {e}"))?;
    ws.get_mut().set_read_timeout(Some(CLIENT_POLL))?;

    send(
        &mut ws,
        &ClientMessage::Connect {
            session_id: format!("hub-bench-{conn}"),
            connection_count: 0,
            last_close_reason: Some("InitialConnect".into()),
            max_observed_timestamp: None,
            client_ts: Some(wall_clock_nanos() as f64 / 1e6),
        },
    )?;
    let mut modifications = Vec::with_capacity(tokens.len());
    for (query_id, t) in (0u32..).zip(tokens) {
        modifications.push(QuerySetModification::Add {
            query_id,
            udf_path: BY_TOKEN.into(),
            args: vec![json!({ "tokenIdentifier": token(t) })],
            journal: None,
            component_path: None,
        });
    }
    let mut awaiting: HashSet<u32> = (0u32..).take(modifications.len()).collect();
    send(
        &mut ws,
        &ClientMessage::ModifyQuerySet {
            base_version: 0,
            new_version: 1,
            modifications,
        },
    )?;

    let mut ready = false;
    while !stop.load(Ordering::Relaxed) {
        let message = match ws.read() {
            Ok(message) => message,
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                bail!("the server closed the connection");
            }
            Err(e) => return Err(e).context("cannot read from the server"),
        };
        let received = Instant::now();
        let received_wall = wall_clock_nanos();
        let text = match message {
            Message::Text(text) => text,
            Message::Close(frame) => bail!("the server closed the connection: {frame:?}"),
            _ => continue,
        };
        match serde_json::from_str::<ServerMessage>(text.as_str())
            .context("cannot parse a server message")?
        {
            ServerMessage::Transition {
                modifications,
                server_ts,
                ..
            } => {
                for modification in modifications {
                    match modification {
                        StateModification::QueryUpdated {
                            query_id, value, ..
                        } => {
                            if value.is_null() {
                                awaiting.remove(&query_id);
                            } else {
                                let _ = events.send(ClientEvent::Updated {
                                    conn,
                                    query_id,
                                    received,
                                    received_wall,
                                    server_ts,
                                });
                            }
                        }
                        StateModification::QueryFailed {
                            query_id,
                            error_message,
                            ..
                        } => bail!("query {query_id} failed: {error_message}"),
                        StateModification::QueryRemoved { .. } => {}
                    }
                }
                if !ready && awaiting.is_empty() {
                    ready = true;
                    let _ = events.send(ClientEvent::Ready { conn });
                }
            }
            ServerMessage::FatalError { error } => bail!("fatal error from the server: {error}"),
            ServerMessage::AuthError { error, .. } => bail!("auth error from the server: {error}"),
            _ => {}
        }
    }
    close(&mut ws);
    Ok(())
}

/// Closes the socket cleanly, waiting (boundedly) for the server's close frame.
fn close(ws: &mut WebSocket<TcpStream>) {
    if ws.close(None).is_err() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match ws.read() {
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

async fn latency_run(args: &Args, parent: &Path) -> anyhow::Result<LatencyRun> {
    let (backend, _dir) = open_backend(parent).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(backend, listener, ServerConfig::default()).await?;
    let result = measure_latency(&server, args).await;
    server.shutdown().await;
    result
}

async fn measure_latency(server: &Server, args: &Args) -> anyhow::Result<LatencyRun> {
    let connections = args.connections;
    let per_connection = args.queries_per_connection;
    let total = connections * per_connection;
    let (events_tx, mut events) = mpsc::unbounded_channel();
    let started = Instant::now();
    let clients = Clients::spawn(server.local_addr(), connections, per_connection, &events_tx)?;
    drop(events_tx);

    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    let mut ready = 0;
    while ready < connections {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => bail!(
                "only {ready} of {connections} connections were ready after {SETUP_TIMEOUT:?}"
            ),
            Ok(None) => bail!("every client thread ended"),
            Ok(Some(ClientEvent::Ready { .. })) => ready += 1,
            Ok(Some(ClientEvent::Failed { conn, error })) => bail!("connection {conn}: {error}"),
            Ok(Some(ClientEvent::Updated { conn, query_id, .. })) => {
                bail!("connection {conn} saw query {query_id} change before any commit")
            }
        }
    }
    let setup = started.elapsed();
    let subscriptions = server.hub().subscription_count();
    ensure!(
        subscriptions == total,
        "the hub holds {subscriptions} subscriptions, expected {total}"
    );

    let runner = server.backend().runner();
    let picks = rand::seq::index::sample(&mut rand::rng(), total, args.warmup + args.samples);
    let mut commit_to_client = Vec::with_capacity(args.samples);
    let mut start_to_client = Vec::with_capacity(args.samples);
    let mut mutation = Vec::with_capacity(args.samples);
    let mut ack_to_built = Vec::with_capacity(args.samples);
    let mut built_to_received = Vec::with_capacity(args.samples);
    let mut stray_updates = 0;
    for (k, t) in picks.into_iter().enumerate() {
        let conn = t / per_connection;
        let query_id = u32::try_from(t % per_connection)?;
        let start = Instant::now();
        let outcome = runner
            .run_mutation(
                CREATE_USER,
                create_user_args(t)?,
                Identity::Unauthenticated,
                Caller::Function,
            )
            .await;
        let acked = Instant::now();
        let acked_wall = wall_clock_nanos();
        commit_ts(&outcome)?;
        let update_deadline = tokio::time::Instant::now() + COMMIT_TIMEOUT;
        let (received, received_wall, server_ts) = loop {
            match tokio::time::timeout_at(update_deadline, events.recv()).await {
                Err(_) => bail!(
                    "connection {conn} did not receive query {query_id}'s update within {COMMIT_TIMEOUT:?}"
                ),
                Ok(None) => bail!("every client thread ended"),
                Ok(Some(ClientEvent::Updated {
                    conn: c,
                    query_id: q,
                    received,
                    received_wall,
                    server_ts,
                })) => {
                    if (c, q) == (conn, query_id) {
                        break (received, received_wall, server_ts);
                    }
                    stray_updates += 1;
                }
                Ok(Some(ClientEvent::Failed { conn, error })) => {
                    bail!("connection {conn}: {error}")
                }
                Ok(Some(ClientEvent::Ready { conn })) => {
                    bail!("connection {conn} became ready twice")
                }
            }
        };
        if k >= args.warmup {
            mutation.push(signed_nanos(start, acked));
            commit_to_client.push(signed_nanos(acked, received));
            start_to_client.push(signed_nanos(start, received));
            ack_to_built.push(wall_diff(acked_wall, server_ts));
            built_to_received.push(wall_diff(server_ts, received_wall));
        }
    }
    clients.stop().await?;
    Ok(LatencyRun {
        subscriptions,
        connections,
        setup,
        commit_to_client: Summary::of(commit_to_client),
        start_to_client: Summary::of(start_to_client),
        mutation: Summary::of(mutation),
        ack_to_built: Summary::of(ack_to_built),
        built_to_received: Summary::of(built_to_received),
        stray_updates,
    })
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn report(args: &Args, runs: &[InvalidationRun], latency: Option<&LatencyRun>) -> String {
    let mut out = String::new();
    if !runs.is_empty() {
        let batching = match args.subscribe_batch {
            0 => "subscribed all at once".to_string(),
            b => format!("subscribed in batches of {b}"),
        };
        let _ = writeln!(
            out,
            "\nInvalidation cost per commit ({} commits per size, each invalidating 1 subscription; {batching})",
            args.commits
        );
        let _ = writeln!(
            out,
            "{:>13} | {:>10} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12} | {:>9}",
            "subscriptions",
            "setup",
            "RSS growth",
            "inval. p50",
            "inval. p99",
            "round p50",
            "round p99",
            "irregular"
        );
        let _ = writeln!(out, "{}", "-".repeat(113));
        for run in runs {
            let rss = run.rss_growth_kib.map_or_else(
                || "n/a".to_string(),
                |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
            );
            let _ = writeln!(
                out,
                "{:>13} | {:>10} | {:>12} | {:>12} | {:>12} | {:>12} | {:>12} | {:>9}",
                run.subscriptions,
                human(nanos(run.setup)),
                rss,
                human(run.invalidation.p50),
                human(run.invalidation.p99),
                human(run.round.p50),
                human(run.round.p99),
                run.irregular
            );
        }
        if let (Some(first), Some(last)) = (runs.first(), runs.last())
            && runs.len() > 1
        {
            let ratio = |a: i64, b: i64| a as f64 / (b.max(1)) as f64;
            let p50 = ratio(last.invalidation.p50, first.invalidation.p50);
            let p99 = ratio(last.invalidation.p99, first.invalidation.p99);
            let _ = writeln!(
                out,
                "invalidation p50 at {} / at {}: {p50:.2}x (target <= {TARGET_INVALIDATION_RATIO}x) {}   \
                 [p99 ratio {p99:.2}x]",
                last.subscriptions,
                first.subscriptions,
                verdict(p50 <= TARGET_INVALIDATION_RATIO),
            );
        }
    }
    if let Some(run) = latency {
        let _ = writeln!(
            out,
            "\nCommit-to-client latency ({} subscriptions on {} websockets, {} commits, setup {})",
            run.subscriptions,
            run.connections,
            run.commit_to_client.count,
            human(nanos(run.setup))
        );
        let _ = writeln!(
            out,
            "{:<38} | {:>10} | {:>10} | {:>10} | target",
            "", "p50", "p99", "max"
        );
        let _ = writeln!(out, "{}", "-".repeat(100));
        let row = |out: &mut String, name: &str, s: &Summary, target: &str| {
            let _ = writeln!(
                out,
                "{name:<38} | {:>10} | {:>10} | {:>10} | {target}",
                human(s.p50),
                human(s.p99),
                human(s.max)
            );
        };
        let c = &run.commit_to_client;
        let target = format!(
            "p50 <= {} {}, p99 <= {} {}",
            human(nanos(TARGET_P50)),
            verdict(c.p50 <= nanos(TARGET_P50)),
            human(nanos(TARGET_P99)),
            verdict(c.p99 <= nanos(TARGET_P99))
        );
        row(&mut out, "commit ack -> Transition received", c, &target);
        row(
            &mut out,
            "mutation start -> Transition received",
            &run.start_to_client,
            "",
        );
        row(&mut out, "mutation start -> ack", &run.mutation, "");
        row(
            &mut out,
            "  ack -> Transition built (serverTs)",
            &run.ack_to_built,
            "",
        );
        row(
            &mut out,
            "  Transition built -> received",
            &run.built_to_received,
            "",
        );
        if run.stray_updates > 0 {
            let _ = writeln!(
                out,
                "warning: {} updates arrived for queries that were not written",
                run.stray_updates
            );
        }
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(!args.sizes.is_empty(), "--sizes needs at least one size");
    ensure!(args.commits > 0 && args.samples > 0, "nothing to measure");
    ensure!(
        args.sizes.iter().all(|&n| n >= args.commits + args.warmup),
        "every size must be at least --commits + --warmup (each commit needs its own token)"
    );
    ensure!(
        args.connections > 0 && args.queries_per_connection > 0,
        "--connections and --queries-per-connection must be positive"
    );
    ensure!(
        args.connections * args.queries_per_connection >= args.samples + args.warmup,
        "--connections x --queries-per-connection must be at least --samples + --warmup"
    );
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!("convex-rs subscription hub benchmark ({cpus} CPUs, release build recommended)");

    let runs = if args.skip_invalidation {
        Vec::new()
    } else {
        invalidation_runs(&args, &parent).await?
    };
    let latency = if args.skip_latency {
        None
    } else {
        eprintln!(
            "latency: {} connections x {} subscriptions ...",
            args.connections, args.queries_per_connection
        );
        Some(latency_run(&args, &parent).await?)
    };
    print!("{}", report(&args, &runs, latency.as_ref()));
    Ok(())
}
