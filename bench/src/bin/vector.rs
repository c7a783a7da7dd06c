//! `vector`: vector search, exact brute force against raw hnsw_rs against
//! convex-rs, side by side on the same vectors in one run.
//!
//! 1. **Vectors.** `--vectors` (default 100,000) vectors of 384 numbers,
//!    generated deterministically with structure like real embeddings have:
//!    each is one of 200 cluster centres in a 32-dimensional latent space,
//!    mapped to 384 dimensions, plus noise. 1% of them carry the tag `rare`,
//!    the rest one of four common tags. The queries are drawn the same way.
//! 2. **Exact brute force**: the recall reference (top 10 by cosine), and
//!    its own latency.
//! 3. **Raw hnsw_rs**: a graph built directly (M = 16, ef_construction = 200,
//!    parallel insertion, the same clamped dot-product distance), searched
//!    with ef = 128; with the 1% filter, through hnsw_rs's filter.
//! 4. **convex-rs**: a table with a vector index, loaded through
//!    `vecs:load` mutations, its graph built by the index's worker, then
//!    `vecs:top10 {vector, tag?}` (`with_vector_index(..).collect()`)
//!    through the runner, which loads the ten documents and returns their
//!    ids, scores and numbers (not their 384 numbers: an app would not send
//!    those to its clients).
//!
//! For each: build time, recall@10 against exact, query p50/p99 one at a
//! time, and queries/s with two callers. Then insert mutations/s (64
//! callers) into a table with and without a vector index, and what checking
//! 1k and 10k live vector subscriptions costs a commit in the hub.
//!
//! Targets: ours ≥ 50% of raw hnsw_rs queries/s at recall@10 ≥ 0.95;
//! inserts with the index ≥ 50% of inserts without. Exits with 0 whenever
//! the measurements ran.
//!
//! `cargo run --release -p convex-bench --bin vector`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use convex_bench::measure::{Measurement, Outcome, Window, percentile, run_concurrent};
use convex_bench::report::{ms, sorted_us, verdict};
use convex_rs::app::{Backend, BackendConfig};
use convex_rs::function::{Caller, Identity};
use convex_rs::prelude::*;
use convex_rs::sync::Hub;
use hnsw_rs::prelude::{Distance, Hnsw};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tokio::sync::Notify;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "vector",
    about = "Vector search: exact vs raw hnsw_rs vs convex-rs"
)]
struct Args {
    /// Vectors in the index.
    #[arg(long, default_value_t = 100_000)]
    vectors: usize,
    /// Queries timed one at a time, per system and filter.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// Seconds each throughput measurement records for (after 1 s of warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Concurrent callers of the insert measurements.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// Live vector subscriptions for the hub measurement (comma-separated; 0 skips it).
    #[arg(long, value_delimiter = ',', default_values_t = [1_000, 10_000])]
    subscriptions: Vec<usize>,
    /// Commits measured per subscription count.
    #[arg(long, default_value_t = 100)]
    commits: usize,
    /// Skip the search comparison (the slow part: two graph builds).
    #[arg(long)]
    skip_search: bool,
    /// Skip the insert measurements.
    #[arg(long)]
    skip_inserts: bool,
    /// Directory for the databases (default: ./target if it exists, else
    /// the system temp dir); removed at exit.
    #[arg(long)]
    dir: Option<PathBuf>,
}

const DIMENSIONS: usize = 384;
const LATENT: usize = 32;
const CLUSTERS: usize = 200;
const TAGS: [&str; 4] = ["a", "b", "c", "d"];
const RARE: &str = "rare";
const TOP: usize = 10;
/// The raw graph's parameters: the same as convex-rs's.
const CONNECTIONS: usize = 16;
const EF_CONSTRUCTION: usize = 200;
const EF_SEARCH: usize = 128;
/// Documents per `vecs:load` mutation.
const LOAD_BATCH: usize = 500;
/// Target: ours over raw hnsw_rs, queries/s.
const TARGET_QPS_RATIO: f64 = 0.5;
/// Target: recall@10.
const TARGET_RECALL: f64 = 0.95;
/// Target: inserts with the index over without.
const TARGET_INSERT_RATIO: f64 = 0.5;

mod vecs {
    //! The benchmark's app: `vecs` (a vector index) and `plain` (none).

    use convex_rs::prelude::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A vector and its tag.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Vec384 {
        /// 384 numbers.
        pub embedding: Vec<f64>,
        /// A filter field.
        pub tag: String,
        /// The vector's number in the data set.
        pub n: f64,
    }

    impl TableType for Vec384 {
        const TABLE_NAME: &'static str = "vecs";
    }

    /// The same document in a table without a vector index.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Plain {
        /// 384 numbers.
        pub embedding: Vec<f64>,
        /// A tag.
        pub tag: String,
    }

    impl TableType for Plain {
        const TABLE_NAME: &'static str = "plain";
    }

    /// The app.
    pub fn app() -> Result<App, convex_rs::app::BackendError> {
        let schema = Schema::new()
            .table(TableDefinition::of::<Vec384>().vector_index(
                "by_embedding",
                VectorIndex::new("embedding", super::DIMENSIONS).filter_fields(&["tag"]),
            ))
            .table(TableDefinition::of::<Plain>());
        App::builder()
            .schema(schema)
            .register::<load>()
            .register::<insert>()
            .register::<top10>()
            .register::<super::plain::insert>()
            .build()
    }

    /// Inserts many vectors in one transaction.
    #[mutation]
    pub async fn load(ctx: &MutationCtx, items: Vec<Vec384>) -> Result<(), FunctionError> {
        for item in items {
            ctx.db().insert(&item).await?;
        }
        Ok(())
    }

    /// Inserts one vector.
    #[mutation]
    pub async fn insert(
        ctx: &MutationCtx,
        embedding: Vec<f64>,
        tag: String,
    ) -> Result<Id<Vec384>, FunctionError> {
        ctx.db()
            .insert(&Vec384 {
                embedding,
                tag,
                n: -1.0,
            })
            .await
    }

    /// A result: the document's id, score and number (an app does not send
    /// the 384 numbers of each result to its clients).
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Hit {
        /// The document.
        #[serde(rename = "_id")]
        pub id: Id<Vec384>,
        /// Its similarity.
        #[serde(rename = "_score")]
        pub score: f64,
        /// Its number in the data set.
        pub n: f64,
    }

    /// The ten most similar documents, within `tag` if given.
    #[query]
    pub async fn top10(
        ctx: &QueryCtx,
        vector: Vec<f64>,
        tag: Option<String>,
    ) -> Result<Vec<Hit>, FunctionError> {
        let mut query = VectorQuery::new(vector).limit(10);
        if let Some(tag) = tag {
            query = query.filter(|f| f.eq("tag", tag));
        }
        let found = ctx
            .db()
            .query::<Vec384>()
            .with_vector_index("by_embedding", query)
            .collect()
            .await?;
        Ok(found
            .into_iter()
            .map(|s| Hit {
                id: s.doc.id,
                score: s.score,
                n: s.doc.fields.n,
            })
            .collect())
    }
}

mod plain {
    //! `plain:insert`.

    use convex_rs::prelude::*;

    use super::vecs::Plain;

    /// Inserts one vector into the table without a vector index.
    #[mutation]
    pub async fn insert(
        ctx: &MutationCtx,
        embedding: Vec<f64>,
        tag: String,
    ) -> Result<Id<Plain>, FunctionError> {
        ctx.db().insert(&Plain { embedding, tag }).await
    }
}

/// Structured deterministic vectors (see the module documentation).
struct Generator {
    projection: Vec<Vec<f32>>,
    centres: Vec<Vec<f32>>,
    rng: StdRng,
}

impl Generator {
    fn new(seed: u64) -> Generator {
        let mut rng = StdRng::seed_from_u64(seed);
        let gaussian = |rng: &mut StdRng| -> f32 {
            // Sum of uniforms: close enough to a normal distribution here.
            (0..6).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() / 2.0
        };
        let projection = (0..DIMENSIONS)
            .map(|_| (0..LATENT).map(|_| gaussian(&mut rng)).collect())
            .collect();
        let centres = (0..CLUSTERS)
            .map(|_| (0..LATENT).map(|_| gaussian(&mut rng)).collect())
            .collect();
        Generator {
            projection,
            centres,
            rng,
        }
    }

    fn vector(&mut self) -> Vec<f32> {
        let centre = self.rng.random_range(0..CLUSTERS);
        let latent: Vec<f32> = self.centres[centre]
            .iter()
            .map(|c| c + self.rng.random_range(-0.6f32..0.6))
            .collect();
        let mut out: Vec<f32> = self
            .projection
            .iter()
            .map(|row| row.iter().zip(&latent).map(|(a, b)| a * b).sum::<f32>())
            .collect();
        for x in &mut out {
            *x += self.rng.random_range(-0.3f32..0.3);
        }
        normalize(&mut out);
        out
    }

    fn tag(&mut self) -> &'static str {
        if self.rng.random_range(0..100) == 0 {
            RARE
        } else {
            TAGS[self.rng.random_range(0..TAGS.len())]
        }
    }
}

fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `1 - a·b`, clamped at 0 (hnsw_rs's `DistDot` panics on rounding above 1).
#[derive(Clone, Copy, Default)]
struct DotClamped;

impl Distance<f32> for DotClamped {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - dot(a, b)).max(0.0)
    }
}

/// The data set.
struct Data {
    vectors: Vec<Vec<f32>>,
    tags: Vec<&'static str>,
    queries: Vec<Vec<f32>>,
}

/// The exact top ten of `query` among `data` (with `tag` only, if given).
fn exact_top(data: &Data, query: &[f32], tag: Option<&str>) -> Vec<usize> {
    let mut scored: Vec<(f32, usize)> = data
        .vectors
        .iter()
        .enumerate()
        .filter(|(i, _)| tag.is_none_or(|t| data.tags[*i] == t))
        .map(|(i, v)| (dot(query, v), i))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.truncate(TOP);
    scored.into_iter().map(|(_, i)| i).collect()
}

fn recall(found: &[Vec<usize>], exact: &[Vec<usize>]) -> f64 {
    let (mut hits, mut wanted) = (0usize, 0usize);
    for (f, e) in found.iter().zip(exact) {
        hits += e.iter().filter(|i| f.contains(i)).count();
        wanted += e.len();
    }
    if wanted == 0 {
        1.0
    } else {
        hits as f64 / wanted as f64
    }
}

/// One system's measurements for one kind of query.
struct Line {
    system: &'static str,
    filter: &'static str,
    recall: f64,
    p50: Duration,
    p99: Duration,
    qps: f64,
}

/// Runs `op` over the queries on two threads for `seconds`; queries/s.
fn threads_qps<F>(queries: usize, seconds: f64, op: F) -> f64
where
    F: Fn(usize) + Send + Sync,
{
    let stop = Instant::now() + Duration::from_secs_f64(seconds);
    let done: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                let op = &op;
                scope.spawn(move || {
                    let mut n = 0;
                    while Instant::now() < stop {
                        op((t + 2 * n) % queries);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    done as f64 / seconds
}

fn timed<T>(queries: &[Vec<f32>], mut op: impl FnMut(&[f32]) -> T) -> (Vec<T>, Vec<u32>) {
    let mut out = Vec::with_capacity(queries.len());
    let mut latencies = Vec::with_capacity(queries.len());
    for q in queries {
        let started = Instant::now();
        out.push(op(q));
        latencies.push(started.elapsed());
    }
    (out, sorted_us(latencies))
}

fn value_of(v: &[f32]) -> Value {
    Value::Array(v.iter().map(|x| Value::Float64(f64::from(*x))).collect())
}

fn object(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn top10_args(query: &[f32], tag: Option<&str>) -> Value {
    let mut pairs = vec![("vector", value_of(query))];
    if let Some(tag) = tag {
        pairs.push(("tag", Value::String(tag.to_string())));
    }
    object(pairs)
}

async fn ours_top10(
    backend: &Backend,
    query: &[f32],
    tag: Option<&str>,
) -> anyhow::Result<Vec<usize>> {
    let outcome = backend
        .runner()
        .run_query(
            "vecs:top10",
            top10_args(query, tag),
            Identity::Unauthenticated,
            Caller::Function,
            None,
        )
        .await;
    let value = outcome.outcome.result.map_err(|f| anyhow::anyhow!("{f}"))?;
    let Value::Array(items) = value else {
        bail!("vecs:top10 returned {value:?}");
    };
    Ok(items
        .iter()
        .filter_map(|item| match item {
            Value::Object(fields) => match fields.get("n") {
                Some(Value::Float64(n)) => Some(*n as usize),
                _ => None,
            },
            _ => None,
        })
        .collect())
}

async fn search_comparison(
    args: &Args,
    data: &Data,
    root: &Path,
) -> anyhow::Result<(Vec<Line>, [Duration; 2])> {
    let mut lines = Vec::new();
    let filters: [(&'static str, Option<&'static str>); 2] =
        [("none", None), ("1% tag", Some(RARE))];

    // Exact.
    let mut exact_results: Vec<Vec<Vec<usize>>> = Vec::new();
    for (name, tag) in filters {
        let (found, latencies) = timed(&data.queries, |q| exact_top(data, q, tag));
        let qps = threads_qps(data.queries.len(), args.seconds, |i| {
            exact_top(data, &data.queries[i], tag);
        });
        lines.push(Line {
            system: "exact",
            filter: name,
            recall: 1.0,
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            qps,
        });
        exact_results.push(found);
    }
    eprintln!("exact measured");

    // Raw hnsw_rs.
    let started = Instant::now();
    let hnsw: Hnsw<'static, f32, DotClamped> = Hnsw::new(
        CONNECTIONS,
        data.vectors.len(),
        16,
        EF_CONSTRUCTION,
        DotClamped,
    );
    let batch: Vec<(&[f32], usize)> = data
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| (v.as_slice(), i))
        .collect();
    for chunk in batch.chunks(2048) {
        hnsw.parallel_insert_slice(&chunk.to_vec());
    }
    let raw_build = started.elapsed();
    for (k, (name, tag)) in filters.into_iter().enumerate() {
        let search = |q: &[f32]| -> Vec<usize> {
            let keep = |id: &usize| tag.is_none_or(|t| data.tags[*id] == t);
            let found = match tag {
                Some(_) => hnsw.search_filter(q, TOP, EF_SEARCH, Some(&keep)),
                None => hnsw.search(q, TOP, EF_SEARCH),
            };
            found.into_iter().map(|n| n.d_id).collect()
        };
        let (found, latencies) = timed(&data.queries, search);
        let qps = threads_qps(data.queries.len(), args.seconds, |i| {
            search(&data.queries[i]);
        });
        lines.push(Line {
            system: "raw hnsw_rs",
            filter: name,
            recall: recall(&found, &exact_results[k]),
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            qps,
        });
    }
    drop(hnsw);
    eprintln!(
        "raw hnsw_rs measured (build {:.1} s)",
        raw_build.as_secs_f64()
    );

    // convex-rs.
    let backend = Backend::open(vecs::app()?, BackendConfig::in_dir(root.join("ours"))).await?;
    let started = Instant::now();
    for (k, (chunk, tags)) in data
        .vectors
        .chunks(LOAD_BATCH)
        .zip(data.tags.chunks(LOAD_BATCH))
        .enumerate()
    {
        let items = chunk
            .iter()
            .zip(tags)
            .enumerate()
            .map(|(i, (v, t))| {
                let n = (k * LOAD_BATCH + i) as f64;
                object(vec![
                    ("embedding", value_of(v)),
                    ("tag", Value::String(t.to_string())),
                    ("n", Value::Float64(n)),
                ])
            })
            .collect();
        let outcome = backend
            .runner()
            .run_mutation(
                "vecs:load",
                object(vec![("items", Value::Array(items))]),
                Identity::Unauthenticated,
                Caller::Function,
            )
            .await;
        outcome
            .result
            .map_err(|f| anyhow::anyhow!("vecs:load: {f}"))?;
    }
    backend.store().settle_vector_indexes().await?;
    let ours_build = started.elapsed();
    for (k, (name, tag)) in filters.into_iter().enumerate() {
        let mut found = Vec::with_capacity(data.queries.len());
        let mut latencies = Vec::with_capacity(data.queries.len());
        for q in &data.queries {
            let started = Instant::now();
            let ids = ours_top10(&backend, q, tag).await?;
            latencies.push(started.elapsed());
            found.push(ids);
        }
        let latencies = sorted_us(latencies);
        let runner = backend.runner().clone();
        let queries: Arc<Vec<Vec<f32>>> = Arc::new(data.queries.clone());
        let window = Window::timed(args.seconds);
        let m = run_concurrent(2, window, move |caller, seq| {
            let runner = runner.clone();
            let queries = queries.clone();
            async move {
                let q = &queries[(caller + 2 * seq as usize) % queries.len()];
                let outcome = runner
                    .run_query(
                        "vecs:top10",
                        top10_args(q, tag),
                        Identity::Unauthenticated,
                        Caller::Function,
                        None,
                    )
                    .await;
                match outcome.outcome.result {
                    Ok(_) => Outcome::Ok,
                    Err(f) => Outcome::Failed(f.to_string()),
                }
            }
        })
        .await?;
        if m.all_failures() > 0 {
            bail!("convex-rs vector queries failed: {:?}", m.errors);
        }
        lines.push(Line {
            system: "convex-rs",
            filter: name,
            recall: recall(&found, &exact_results[k]),
            p50: percentile(&latencies, 0.5),
            p99: percentile(&latencies, 0.99),
            qps: m.ops_per_sec(),
        });
    }
    backend.shutdown().await;
    eprintln!(
        "convex-rs measured (build {:.1} s)",
        ours_build.as_secs_f64()
    );
    Ok((lines, [raw_build, ours_build]))
}

/// Insert mutations/s with `callers` callers on a fresh database.
async fn inserts(
    dir: &Path,
    path: &'static str,
    args: &Args,
    seed: u64,
) -> anyhow::Result<Measurement> {
    let backend = Backend::open(vecs::app()?, BackendConfig::in_dir(dir)).await?;
    let runner = backend.runner().clone();
    let mut generator = Generator::new(seed);
    let pool: Arc<Vec<Vec<f32>>> = Arc::new((0..4096).map(|_| generator.vector()).collect());
    let window = Window::timed(args.seconds);
    let m = run_concurrent(args.callers, window, move |caller, seq| {
        let runner = runner.clone();
        let pool = pool.clone();
        async move {
            let v = &pool[(caller * 7919 + seq as usize) % pool.len()];
            let outcome = runner
                .run_mutation(
                    path,
                    object(vec![
                        ("embedding", value_of(v)),
                        ("tag", Value::String("a".into())),
                    ]),
                    Identity::Unauthenticated,
                    Caller::Function,
                )
                .await;
            match outcome.result {
                Ok(_) => Outcome::Ok,
                Err(f) => Outcome::Failed(f.to_string()),
            }
        }
    })
    .await;
    backend.shutdown().await;
    m
}

/// Hub invalidation time per commit with `n` live vector subscriptions.
async fn hub_cost(
    n: usize,
    args: &Args,
    root: &Path,
) -> anyhow::Result<(Duration, Duration, usize)> {
    let backend = Backend::open(
        vecs::app()?,
        BackendConfig::in_dir(root.join(format!("hub-{n}"))),
    )
    .await?;
    let mut generator = Generator::new(7);
    // A small table: the subscriptions' first runs stay cheap.
    let items: Vec<Value> = (0..2000)
        .map(|_| {
            let v = generator.vector();
            object(vec![
                ("embedding", value_of(&v)),
                ("tag", Value::String("a".into())),
                ("n", Value::Float64(0.0)),
            ])
        })
        .collect();
    for chunk in items.chunks(LOAD_BATCH) {
        let outcome = backend
            .runner()
            .run_mutation(
                "vecs:load",
                object(vec![("items", Value::Array(chunk.to_vec()))]),
                Identity::Unauthenticated,
                Caller::Function,
            )
            .await;
        outcome
            .result
            .map_err(|f| anyhow::anyhow!("vecs:load: {f}"))?;
    }
    let hub = Hub::start(backend.runner().clone());
    let watcher = Arc::new(Notify::new());
    let mut subscriptions = Vec::with_capacity(n);
    for _ in 0..n {
        let q = generator.vector();
        subscriptions.push(hub.subscribe(
            "vecs:top10",
            top10_args(&q, None),
            Identity::Unauthenticated,
            None,
            &watcher,
        ));
    }
    // Wait for every first run.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, results) = hub.results(&subscriptions);
        if results.iter().all(Option::is_some) {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "subscriptions did not run within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut invalidation = Vec::with_capacity(args.commits);
    let mut reruns = 0;
    let mut previous = hub.last_round();
    for _ in 0..args.commits {
        let v = generator.vector();
        let outcome = backend
            .runner()
            .run_mutation(
                "vecs:insert",
                object(vec![
                    ("embedding", value_of(&v)),
                    ("tag", Value::String("a".into())),
                ]),
                Identity::Unauthenticated,
                Caller::Function,
            )
            .await;
        let ts = outcome.ts.context("the insert did not commit")?;
        let reached = Arc::new(Notify::new());
        hub.notify_at(ts, &reached);
        tokio::time::timeout(Duration::from_secs(30), reached.notified()).await?;
        // The round's statistics are stored right after its waiters wake.
        let stats_deadline = Instant::now() + Duration::from_secs(5);
        let stats = loop {
            let stats = hub.last_round();
            if stats.commits > 0
                && (stats.invalidation_nanos, stats.executed)
                    != (previous.invalidation_nanos, previous.executed)
            {
                break stats;
            }
            if Instant::now() > stats_deadline {
                break stats;
            }
            tokio::task::yield_now().await;
        };
        previous = stats;
        reruns += stats.executed;
        invalidation.push(Duration::from_nanos(stats.invalidation_nanos));
    }
    hub.stop();
    backend.shutdown().await;
    let sorted = sorted_us(invalidation);
    Ok((percentile(&sorted, 0.5), percentile(&sorted, 0.99), reruns))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.vectors >= 1000 && args.queries > 0,
        "--vectors must be at least 1000 and --queries positive"
    );
    let root = convex_bench::report::scratch_dir(args.dir.as_deref(), "convex-bench-vector-")
        .context("creating the benchmark's directory")?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "vector search: exact vs raw hnsw_rs vs convex-rs ({cpus} CPUs; {} vectors of {DIMENSIONS}, {} timed queries)",
        args.vectors, args.queries
    );
    let mut generator = Generator::new(42);
    let data = Data {
        vectors: (0..args.vectors).map(|_| generator.vector()).collect(),
        tags: (0..args.vectors).map(|_| generator.tag()).collect(),
        queries: (0..args.queries).map(|_| generator.vector()).collect(),
    };

    let search = if args.skip_search {
        None
    } else {
        Some(search_comparison(&args, &data, root.path()).await?)
    };
    let insert_runs = if args.skip_inserts {
        None
    } else {
        let with = inserts(&root.path().join("insert-indexed"), "vecs:insert", &args, 1).await?;
        let without = inserts(&root.path().join("insert-plain"), "plain:insert", &args, 1).await?;
        Some((with, without))
    };
    let mut hub = Vec::new();
    for &n in args.subscriptions.iter().filter(|n| **n > 0) {
        eprintln!("hub: {n} subscriptions");
        hub.push((n, hub_cost(n, &args, root.path()).await?));
    }

    if let Some((lines, [raw_build, ours_build])) = &search {
        println!();
        println!(
            "build: raw hnsw_rs {:.1} s (parallel insert); convex-rs {:.1} s (mutations + the index's worker)",
            raw_build.as_secs_f64(),
            ours_build.as_secs_f64()
        );
        println!(
            "{:<12} {:<8} {:>9} {:>9} {:>9} {:>10}",
            "system", "filter", "recall@10", "p50 ms", "p99 ms", "queries/s"
        );
        println!("{}", "-".repeat(62));
        for l in lines {
            println!(
                "{:<12} {:<8} {:>9.3} {:>9} {:>9} {:>10.0}",
                l.system,
                l.filter,
                l.recall,
                ms(l.p50),
                ms(l.p99),
                l.qps
            );
        }
        for filter in ["none", "1% tag"] {
            let raw = lines
                .iter()
                .find(|l| l.system == "raw hnsw_rs" && l.filter == filter);
            let ours = lines
                .iter()
                .find(|l| l.system == "convex-rs" && l.filter == filter);
            if let (Some(raw), Some(ours)) = (raw, ours) {
                let ratio = ours.qps / raw.qps.max(1e-9);
                println!(
                    "filter {filter}: ours / raw queries/s {ratio:.2} (target >= {TARGET_QPS_RATIO}) {}; recall@10 ours {:.3} (target >= {TARGET_RECALL}) {}",
                    verdict(ratio >= TARGET_QPS_RATIO),
                    ours.recall,
                    verdict(ours.recall >= TARGET_RECALL)
                );
            }
        }
    }
    if let Some((with, without)) = &insert_runs {
        println!();
        println!(
            "{:<28} {:>8} {:>12} {:>9} {:>9}",
            format!("inserts ({} callers)", args.callers),
            "ops",
            "mutations/s",
            "p50 ms",
            "p99 ms"
        );
        for (name, m) in [("with a vector index", with), ("without", without)] {
            println!(
                "{:<28} {:>8} {:>12.0} {:>9} {:>9}",
                name,
                m.ok,
                m.ops_per_sec(),
                ms(m.p50),
                ms(m.p99)
            );
        }
        let ratio = with.ops_per_sec() / without.ops_per_sec().max(1e-9);
        println!(
            "inserts, with / without a vector index: {ratio:.2} (target >= {TARGET_INSERT_RATIO}) {}",
            verdict(ratio >= TARGET_INSERT_RATIO)
        );
    }
    if !hub.is_empty() {
        println!();
        println!(
            "hub: finding the vector subscriptions a commit could change ({} commits of one random vector each)",
            args.commits
        );
        println!(
            "{:>14} {:>14} {:>14} {:>10}",
            "subscriptions", "inval. p50 ms", "inval. p99 ms", "re-runs"
        );
        for (n, (p50, p99, reruns)) in &hub {
            println!("{:>14} {:>14} {:>14} {:>10}", n, ms(*p50), ms(*p99), reruns);
        }
    }
    Ok(())
}
