//! `e2e`: convex-rs measured the way its users meet it — a server process
//! on loopback, driven over websockets by the official `convex` Rust crate.
//!
//! Each measurement starts a fresh `chat` or `bank` server (the example
//! binaries next to this one, or in `--bin-dir`) on a new data directory,
//! then:
//!
//! * **throughput**: N connections (one `ConvexClient` each), each with one
//!   mutation in flight at a time as the official clients do, loop
//!   `messages:send` or `bank:transfer` (uniform or Zipf-skewed accounts);
//!   mutations/s and the round-trip latency a client sees;
//! * **push**: S distinct `users:byToken` subscriptions spread over
//!   connections of 100 subscriptions each; one at a time, a writer client
//!   creates the user one subscription waits for, and the clock runs from
//!   the writer's send to the Transition reaching the subscriber (so it is
//!   an upper bound on commit-to-push);
//! * **fan-out**: F connections all subscribed to `messages:count`; one
//!   writer sends, and every subscriber's send-to-push time is recorded.
//!
//! Prints a table with PASS/MISS against the targets of issue 9; exits with 0
//! whenever the measurements ran.
//!
//! `cargo build --release -p convex-bench -p chat -p bank && target/release/e2e`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use convex::{ConvexClient, FunctionResult, Value};
use convex_bench::measure::{Measurement, Outcome, Window, percentile, run_concurrent};
use convex_bench::report::{ms, verdict};
use convex_bench::zipf::{PairSampler, Zipf};
use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "e2e",
    about = "End to end over websockets with the official convex Rust client: \
             mutations/s, latency, commit-to-push"
)]
struct Args {
    /// Seconds each throughput measurement records for (after its warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds each throughput measurement runs before recording.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Connection counts for the throughput measurements (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [16, 64])]
    connections: Vec<usize>,
    /// Bank accounts.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Subscription counts for the push measurement (comma-separated; 0 skips it).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000])]
    subscriptions: Vec<usize>,
    /// Measured pushes per subscription count.
    #[arg(long, default_value_t = 300)]
    pushes: usize,
    /// Subscriber connections for the fan-out measurement (comma-separated; 0 skips it).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000])]
    fanout: Vec<usize>,
    /// Measured sends in the fan-out measurement.
    #[arg(long, default_value_t = 50)]
    fanout_sends: usize,
    /// Directory holding the `chat` and `bank` binaries (default: this binary's).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// `--durability` passed to the servers.
    #[arg(long, default_value = "normal")]
    durability: String,
}

/// Target: `messages:send`/s with 64 connections.
const TARGET_SENDS_PER_SEC: f64 = 10_000.0;
/// Target: p50 mutation round trip at 16 connections.
const TARGET_P50_16: Duration = Duration::from_millis(2);
/// Target: push p50.
const TARGET_PUSH_P50: Duration = Duration::from_millis(2);
/// Target: push p99.
const TARGET_PUSH_P99: Duration = Duration::from_millis(10);
/// Target: skewed transfers over uniform.
const TARGET_SKEW: f64 = 0.5;
/// Subscriptions per connection in the push measurement.
const QUERIES_PER_CONNECTION: usize = 100;
/// Unrecorded pushes before each push measurement.
const PUSH_WARMUP: usize = 20;
/// Longest wait for a server to start or a push to arrive.
const TIMEOUT: Duration = Duration::from_secs(60);
/// Connections opened at once while setting up.
const CONNECT_CONCURRENCY: usize = 64;
/// Hottest accounts, for the Zipf exponent (as in the in-process benchmark).
const HOT_ACCOUNTS: usize = 10;

/// A server process on a fresh data directory; killed on drop.
struct ServerProcess {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl ServerProcess {
    async fn start(bin_dir: &Path, app: &str, durability: &str) -> anyhow::Result<Self> {
        let data = convex_bench::report::scratch_dir(None, "convex-e2e-")?;
        let binary = bin_dir.join(app);
        ensure!(
            binary.is_file(),
            "{} is missing: build it with `cargo build --release -p {app}` or pass --bin-dir",
            binary.display()
        );
        let mut child = Command::new(&binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--site-listen",
                "127.0.0.1:0",
                "--durability",
                durability,
            ])
            .arg("--data")
            .arg(data.path())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child.stdout.take().context("server stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = tokio::time::timeout(TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    return Ok(addr.trim().to_string());
                }
            }
            bail!("{app} exited before listening")
        })
        .await
        .context("waiting for the server to listen")??;
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(ServerProcess {
            child,
            url,
            _data: data,
        })
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// Where data directories go: ./target if it exists (a real disk), else the temp dir.
fn args(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Opens `n` official clients, a bounded number at a time.
async fn connect_all(url: &str, n: usize) -> anyhow::Result<Vec<ConvexClient>> {
    let url = url.to_string();
    let clients: Vec<anyhow::Result<ConvexClient>> = futures::stream::iter(0..n)
        .map(|_| {
            let url = url.clone();
            async move { ConvexClient::new(&url).await }
        })
        .buffered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    clients.into_iter().collect()
}

async fn call_mutation(
    client: &mut ConvexClient,
    path: &str,
    args: BTreeMap<String, Value>,
) -> anyhow::Result<Value> {
    match client.mutation(path, args).await? {
        FunctionResult::Value(v) => Ok(v),
        other => bail!("{path} failed: {other:?}"),
    }
}

fn outcome(result: anyhow::Result<FunctionResult>, accept: fn(&Value) -> bool) -> Outcome {
    match result {
        Ok(FunctionResult::Value(v)) if accept(&v) => Outcome::Ok,
        Ok(other) => Outcome::Failed(format!("{other:?}")),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// One row of the throughput table.
struct Row {
    name: String,
    connections: usize,
    measurement: Measurement,
}

async fn sends(
    args: &Args,
    bin_dir: &Path,
    connections: usize,
    window: Window,
) -> anyhow::Result<Row> {
    let server = ServerProcess::start(bin_dir, "chat", &args.durability).await?;
    let mut clients = connect_all(&server.url, connections).await?;
    let user = call_mutation(
        &mut clients[0],
        "users:create",
        self::args(&[
            ("name", "bench".into()),
            ("tokenIdentifier", "bench".into()),
        ]),
    )
    .await?;
    let clients = Arc::new(clients);
    let measurement = run_concurrent(connections, window, move |caller, seq| {
        let mut client = clients[caller].clone();
        let user = user.clone();
        async move {
            let body = Value::from(format!("message {seq} from {caller}"));
            let result = client
                .mutation(
                    "messages:send",
                    self::args(&[("body", body), ("user", user)]),
                )
                .await;
            outcome(result, |v| matches!(v, Value::String(_)))
        }
    })
    .await?;
    server.stop().await;
    Ok(Row {
        name: "messages:send".into(),
        connections,
        measurement,
    })
}

async fn transfers(
    args: &Args,
    bin_dir: &Path,
    connections: usize,
    sampler: PairSampler,
    name: &str,
    window: Window,
) -> anyhow::Result<Row> {
    let server = ServerProcess::start(bin_dir, "bank", &args.durability).await?;
    let mut clients = connect_all(&server.url, connections).await?;
    call_mutation(
        &mut clients[0],
        "bank:seed",
        self::args(&[
            ("accounts", Value::Float64(args.accounts as f64)),
            ("balance", Value::Float64(1e9)),
        ]),
    )
    .await?;
    let clients = Arc::new(clients);
    let sampler = Arc::new(sampler);
    let measurement = run_concurrent(connections, window, move |caller, _| {
        let mut client = clients[caller].clone();
        let (from, to) = sampler.sample(&mut rand::rng());
        async move {
            let result = client
                .mutation(
                    "bank:transfer",
                    self::args(&[
                        ("from", Value::Float64(from as f64)),
                        ("to", Value::Float64(to as f64)),
                        ("amount", Value::Float64(1.0)),
                    ]),
                )
                .await;
            outcome(result, |v| matches!(v, Value::Boolean(true)))
        }
    })
    .await?;
    server.stop().await;
    Ok(Row {
        name: name.into(),
        connections,
        measurement,
    })
}

/// Order statistics of latencies.
#[derive(Clone, Copy, Debug)]
struct Summary {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(samples: Vec<Duration>) -> Summary {
        let mut micros: Vec<u32> = samples
            .iter()
            .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
            .collect();
        micros.sort_unstable();
        Summary {
            count: micros.len(),
            p50: percentile(&micros, 0.5),
            p99: percentile(&micros, 0.99),
            max: percentile(&micros, 1.0),
        }
    }
}

/// Waits for a subscription's next value.
async fn next_value(sub: &mut convex::QuerySubscription) -> anyhow::Result<FunctionResult> {
    tokio::time::timeout(TIMEOUT, sub.next())
        .await
        .context("timed out waiting for a push")?
        .context("subscription closed")
}

/// Targeted pushes: `total` distinct subscriptions, each commit answers one.
async fn push(args: &Args, bin_dir: &Path, total: usize) -> anyhow::Result<(Summary, Summary)> {
    let server = ServerProcess::start(bin_dir, "chat", &args.durability).await?;
    let connections = total.div_ceil(QUERIES_PER_CONNECTION);
    let clients = connect_all(&server.url, connections).await?;
    let token = |i: usize| format!("tok{i}");
    // Subscribe everything, then wait for every first result (null).
    let mut subs = Vec::with_capacity(total);
    for i in 0..total {
        let mut client = clients[i / QUERIES_PER_CONNECTION].clone();
        subs.push(async move {
            client
                .subscribe(
                    "users:byToken",
                    self::args(&[("tokenIdentifier", token(i).into())]),
                )
                .await
        });
    }
    let mut subs: Vec<convex::QuerySubscription> = futures::future::try_join_all(subs).await?;
    for sub in &mut subs {
        next_value(sub).await?;
    }
    let writer = connect_all(&server.url, 1).await?.remove(0);
    let rounds = (args.pushes + PUSH_WARMUP).min(total);
    // Spread the answered subscriptions over all connections.
    let stride = (total / rounds).max(1);
    let mut push_times = Vec::with_capacity(rounds);
    let mut ack_times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let target = (round * stride) % total;
        let started = Instant::now();
        let mut w = writer.clone();
        let create = tokio::spawn(async move {
            let result = call_mutation(
                &mut w,
                "users:create",
                self::args(&[
                    ("name", "u".into()),
                    ("tokenIdentifier", token(target).into()),
                ]),
            )
            .await;
            (result, started.elapsed())
        });
        loop {
            match next_value(&mut subs[target]).await? {
                FunctionResult::Value(Value::Null) => continue,
                FunctionResult::Value(_) => break,
                other => bail!("users:byToken pushed {other:?}"),
            }
        }
        let pushed = started.elapsed();
        let (result, acked) = create.await?;
        result?;
        if round >= PUSH_WARMUP.min(rounds / 2) {
            push_times.push(pushed);
            ack_times.push(acked);
        }
    }
    drop(subs);
    drop(clients);
    drop(writer);
    server.stop().await;
    Ok((Summary::of(push_times), Summary::of(ack_times)))
}

/// Fan-out: `subscribers` connections on `messages:count`; every send reaches all.
async fn fanout(args: &Args, bin_dir: &Path, subscribers: usize) -> anyhow::Result<Summary> {
    let server = ServerProcess::start(bin_dir, "chat", &args.durability).await?;
    let clients = connect_all(&server.url, subscribers).await?;
    let mut subs = Vec::with_capacity(subscribers);
    for client in &clients {
        let mut client = client.clone();
        subs.push(async move { client.subscribe("messages:count", BTreeMap::new()).await });
    }
    let mut subs: Vec<convex::QuerySubscription> = futures::future::try_join_all(subs).await?;
    for sub in &mut subs {
        next_value(sub).await?;
    }
    let mut writer = connect_all(&server.url, 1).await?.remove(0);
    let user = call_mutation(
        &mut writer,
        "users:create",
        self::args(&[("name", "w".into()), ("tokenIdentifier", "w".into())]),
    )
    .await?;
    let mut samples = Vec::with_capacity(subscribers * args.fanout_sends);
    for send in 0..args.fanout_sends + 5 {
        let started = Instant::now();
        let mut w = writer.clone();
        let user = user.clone();
        let sent = tokio::spawn(async move {
            call_mutation(
                &mut w,
                "messages:send",
                self::args(&[("body", format!("fan {send}").into()), ("user", user)]),
            )
            .await
        });
        let expected = (send + 1) as f64;
        let waits = subs.iter_mut().map(|sub| async move {
            loop {
                match next_value(sub).await? {
                    FunctionResult::Value(Value::Float64(n)) if n >= expected => {
                        return anyhow::Ok(started.elapsed());
                    }
                    FunctionResult::Value(Value::Float64(_)) => continue,
                    other => bail!("messages:count pushed {other:?}"),
                }
            }
        });
        let times = futures::future::try_join_all(waits).await?;
        sent.await??;
        if send >= 5 {
            samples.extend(times);
        }
    }
    drop(subs);
    drop(clients);
    drop(writer);
    server.stop().await;
    Ok(Summary::of(samples))
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(run());
    use std::io::Write as _;
    std::io::stdout().flush()?;
    // Exit without dropping the runtime: after a run with thousands of
    // official clients whose server is gone, a client task was once seen
    // spinning without yielding, and dropping the runtime waits for it.
    std::process::exit(match &result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("e2e: {e:#}");
            1
        }
    })
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.seconds > 0.0 && args.warmup >= 0.0,
        "bad --seconds or --warmup"
    );
    ensure!(
        args.accounts >= 2 * HOT_ACCOUNTS,
        "--accounts must be at least 20"
    );
    let bin_dir = match &args.bin_dir {
        Some(dir) => dir.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("binary directory")?
            .to_path_buf(),
    };
    let window = Window {
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
        max_ops: u64::MAX,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let zipf = Zipf::for_hot_pair_fraction(args.accounts, HOT_ACCOUNTS, 0.8);
    println!("convex-rs end to end: official convex Rust client over loopback websockets");
    println!(
        "  {cores} cores; servers from {} (--durability {}); one mutation in flight per connection",
        bin_dir.display(),
        args.durability
    );
    println!(
        "  throughput: {:.1} s warm-up + {:.1} s recorded; bank: {} accounts, Zipf exponent {:.3}",
        args.warmup,
        args.seconds,
        args.accounts,
        zipf.exponent()
    );

    let mut rows = Vec::new();
    for &n in &args.connections {
        eprintln!("messages:send, {n} connections ...");
        rows.push(sends(&args, &bin_dir, n, window).await?);
    }
    for &n in &args.connections {
        eprintln!("bank:transfer uniform, {n} connections ...");
        let uniform = PairSampler::Uniform {
            accounts: args.accounts,
        };
        rows.push(transfers(&args, &bin_dir, n, uniform, "transfer uniform", window).await?);
        eprintln!("bank:transfer Zipf, {n} connections ...");
        let skewed = PairSampler::Zipf(zipf.clone());
        rows.push(transfers(&args, &bin_dir, n, skewed, "transfer Zipf", window).await?);
    }
    let mut pushes = Vec::new();
    for &n in args.subscriptions.iter().filter(|&&n| n > 0) {
        eprintln!("push, {n} subscriptions ...");
        pushes.push((n, push(&args, &bin_dir, n).await?));
    }
    let mut fanouts = Vec::new();
    for &n in args.fanout.iter().filter(|&&n| n > 0) {
        eprintln!("fan-out, {n} subscribers ...");
        fanouts.push((n, fanout(&args, &bin_dir, n).await?));
    }

    println!();
    println!(
        "{:<18} {:>11} {:>9} {:>12} {:>9} {:>9} {:>9}",
        "workload", "connections", "ops", "mutations/s", "p50 ms", "p99 ms", "failures"
    );
    println!("{}", "-".repeat(83));
    for r in &rows {
        let m = &r.measurement;
        println!(
            "{:<18} {:>11} {:>9} {:>12.0} {:>9} {:>9} {:>9}",
            r.name,
            r.connections,
            m.ok,
            m.ops_per_sec(),
            ms(m.p50),
            ms(m.p99),
            m.all_failures()
        );
    }
    for r in &rows {
        for e in &r.measurement.errors {
            println!("  {} ({}): {e}", r.name, r.connections);
        }
    }
    if !pushes.is_empty() {
        println!();
        println!(
            "{:<26} {:>8} {:>9} {:>9} {:>9} {:>16}",
            "push (send -> Transition)", "samples", "p50 ms", "p99 ms", "max ms", "writer ack p50"
        );
        for (n, (push, ack)) in &pushes {
            println!(
                "{:<26} {:>8} {:>9} {:>9} {:>9} {:>16}",
                format!("{n} subscriptions"),
                push.count,
                ms(push.p50),
                ms(push.p99),
                ms(push.max),
                ms(ack.p50)
            );
        }
    }
    if !fanouts.is_empty() {
        println!();
        println!(
            "{:<26} {:>8} {:>9} {:>9} {:>9}",
            "fan-out (send -> each)", "samples", "p50 ms", "p99 ms", "max ms"
        );
        for (n, s) in &fanouts {
            println!(
                "{:<26} {:>8} {:>9} {:>9} {:>9}",
                format!("{n} subscribers"),
                s.count,
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            );
        }
    }
    println!();
    let find = |name: &str, n: usize| {
        rows.iter()
            .find(|r| r.name == name && r.connections == n)
            .map(|r| &r.measurement)
    };
    if let Some(m) = find("messages:send", 64) {
        let rate = m.ops_per_sec();
        println!(
            "messages:send/s at 64 connections: {rate:.0} (target >= {TARGET_SENDS_PER_SEC:.0})  {}",
            verdict(rate >= TARGET_SENDS_PER_SEC)
        );
    }
    for name in ["messages:send", "transfer uniform"] {
        if let Some(m) = find(name, 16) {
            println!(
                "{name} p50 at 16 connections: {} ms (target <= {} ms)  {}",
                ms(m.p50),
                ms(TARGET_P50_16),
                verdict(m.p50 <= TARGET_P50_16)
            );
        }
    }
    for &n in &args.connections {
        if let (Some(u), Some(z)) = (find("transfer uniform", n), find("transfer Zipf", n)) {
            let ratio = z.ops_per_sec() / u.ops_per_sec().max(1e-9);
            println!(
                "transfers Zipf / uniform at {n} connections: {ratio:.3}x (target >= {TARGET_SKEW:.2}x)  {}",
                verdict(ratio >= TARGET_SKEW)
            );
        }
    }
    for (n, (push, _)) in &pushes {
        println!(
            "push at {n} subscriptions: p50 {} ms (target <= {}), p99 {} ms (target <= {})  {}",
            ms(push.p50),
            ms(TARGET_PUSH_P50),
            ms(push.p99),
            ms(TARGET_PUSH_P99),
            verdict(push.p50 <= TARGET_PUSH_P50 && push.p99 <= TARGET_PUSH_P99)
        );
    }
    Ok(())
}
