//! `search`: full-text search, raw tantivy against convex-rs, side by side on
//! one deterministic corpus in one run.
//!
//! 1. **Corpus.** `--docs` short documents (default 100,000), each 6 to 16
//!    words drawn from a Zipf distribution over a 20,000-word vocabulary of
//!    made-up words (fixed seed, so every run searches the same text).
//! 2. **Raw tantivy.** An index built directly with tantivy in a temporary
//!    directory, with the analyzer convex-rs uses (split on non-alphanumerics,
//!    lower-case, drop terms over 32 bytes). Each query searches the same
//!    terms convex-rs searches — its words, plus the words its last word
//!    stands for as a prefix (the word itself, then the most frequent
//!    completions, 32 in all) — takes the top 10 by BM25 and reads each hit's
//!    stored text. This is what an application would do with tantivy alone.
//! 3. **convex-rs.** A backend whose `docs` table has a search index on
//!    `body`, loaded through `docs:load` mutations of 1,000 documents, then
//!    queried through the runner with `docs:top10 {query}`
//!    (`with_search_index(..).take(10)`), which returns the documents.
//!
//! For both: build time, query p50/p99 one query at a time, and queries/s
//! with two concurrent callers (the machine's cores). The two result lists of
//! each query are compared (same documents; the order may differ only among
//! equal scores). Then insert mutations/s with 64 callers into a fresh table
//! with and without a search index, and the time a backend takes to start
//! on the loaded database (it brings its search index up to date first).
//!
//! Targets: our top-10 p50 at most 1.5x raw; inserts with a search index at
//! least half of those without. Exits with 0 whenever the measurements ran.
//!
//! `cargo run --release -p convex-bench --bin search`

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use convex_bench::measure::{Measurement, Outcome, Window, percentile, run_concurrent};
use convex_bench::report::{ms, sorted_us, verdict};
use convex_bench::zipf::Zipf;
use convex_rs::app::{Backend, BackendConfig};
use convex_rs::function::{Caller, Identity};
use convex_rs::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{
    IndexRecordOption, STORED, Schema as TantivySchema, TextFieldIndexing, TextOptions, Value as _,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(name = "search", about = "Full-text search: raw tantivy vs convex-rs")]
struct Args {
    /// Documents in the corpus.
    #[arg(long, default_value_t = 100_000)]
    docs: usize,
    /// Queries timed one at a time, per system.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Seconds each throughput measurement records for (after 1 s of warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Concurrent callers of the insert measurements.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// Skip the query measurements.
    #[arg(long)]
    skip_queries: bool,
    /// Insert rounds (each: with a search index, then without); 0 skips them.
    #[arg(long, default_value_t = 2)]
    insert_rounds: usize,
    /// Directory for the databases and index files (default: ./target if it
    /// exists, else the system temp dir); removed at exit.
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Words in the vocabulary.
const VOCABULARY: usize = 20_000;
/// Zipf exponent of word choice (documents and queries).
const WORD_SKEW: f64 = 1.0;
/// Documents per `docs:load` mutation.
const LOAD_BATCH: usize = 1_000;
/// Results per query.
const TOP: usize = 10;
/// What the last word of a query stands for at most (as in convex-rs).
const PREFIX_EXPANSIONS: usize = convex_rs::query::MAX_PREFIX_EXPANSIONS;
/// Longest term indexed, in bytes (as in convex-rs).
const MAX_TERM_BYTES: usize = convex_rs::query::MAX_TERM_BYTES;
/// Target: our p50 over raw tantivy's.
const TARGET_P50_RATIO: f64 = 1.5;
/// Target: inserts with a search index over inserts without.
const TARGET_INSERT_RATIO: f64 = 0.5;

mod docs {
    //! The benchmark's convex-rs app: `docs` (with a search index) and
    //! `plain` (without), and the `docs:*` functions.

    use convex_rs::prelude::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A searchable document.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Doc {
        /// The text.
        pub body: String,
    }

    impl TableType for Doc {
        const TABLE_NAME: &'static str = "docs";
    }

    /// The same document in a table without a search index.
    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Plain {
        /// The text.
        pub body: String,
    }

    impl TableType for Plain {
        const TABLE_NAME: &'static str = "plain";
    }

    /// The app: both tables and every function below.
    pub fn app() -> Result<App, convex_rs::app::BackendError> {
        let schema = Schema::new()
            .table(
                TableDefinition::of::<Doc>().search_index("search_body", SearchIndex::new("body")),
            )
            .table(TableDefinition::of::<Plain>());
        App::builder()
            .schema(schema)
            .register::<load>()
            .register::<insert>()
            .register::<super::plain::insert>()
            .register::<top10>()
            .build()
    }

    /// Inserts many documents in one transaction.
    #[mutation]
    pub async fn load(ctx: &MutationCtx, bodies: Vec<String>) -> Result<(), FunctionError> {
        for body in bodies {
            ctx.db().insert(&Doc { body }).await?;
        }
        Ok(())
    }

    /// Inserts one searchable document.
    #[mutation]
    pub async fn insert(ctx: &MutationCtx, body: String) -> Result<Id<Doc>, FunctionError> {
        ctx.db().insert(&Doc { body }).await
    }

    /// The ten most relevant documents for `query`.
    #[query]
    pub async fn top10(ctx: &QueryCtx, query: String) -> Result<Vec<Doc>, FunctionError> {
        Ok(ctx
            .db()
            .query::<Doc>()
            .with_search_index("search_body", |q| q.search("body", query))
            .take(10)
            .await?
            .into_iter()
            .map(|d| d.fields)
            .collect())
    }
}

mod plain {
    //! `plain:insert`.

    use convex_rs::prelude::*;

    use super::docs::Plain;

    /// Inserts one document into the table without a search index.
    #[mutation]
    pub async fn insert(ctx: &MutationCtx, body: String) -> Result<Id<Plain>, FunctionError> {
        ctx.db().insert(&Plain { body }).await
    }
}

/// The made-up word number `i`: syllables spelling `i` in base 24, at least two.
fn word(mut i: usize) -> String {
    const SYLLABLES: [&str; 24] = [
        "ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "vu", "ze", "ba", "de", "fi", "go", "hu",
        "ja", "ke", "li", "mo", "ne", "pa", "qui", "ro", "su",
    ];
    let mut out = String::new();
    let mut syllables = 0;
    while i > 0 || syllables < 2 {
        out.push_str(SYLLABLES[i % SYLLABLES.len()]);
        i /= SYLLABLES.len();
        syllables += 1;
    }
    out
}

/// The corpus and the queries, from a fixed seed.
struct Workload {
    docs: Vec<String>,
    queries: Vec<String>,
}

impl Workload {
    fn generate(docs: usize, queries: usize) -> Workload {
        let vocabulary: Vec<String> = (0..VOCABULARY).map(word).collect();
        let zipf = Zipf::new(VOCABULARY, WORD_SKEW);
        let mut rng = StdRng::seed_from_u64(0x5eed);
        let pick = |rng: &mut StdRng| vocabulary[zipf.sample(rng)].clone();
        let docs = (0..docs)
            .map(|_| {
                let n = rng.random_range(6..=16);
                (0..n).map(|_| pick(&mut rng)).collect::<Vec<_>>().join(" ")
            })
            .collect();
        let queries = (0..queries)
            .map(|_| {
                let n = rng.random_range(1..=3);
                let mut words: Vec<String> = (0..n).map(|_| pick(&mut rng)).collect();
                // Half the queries are typed halfway through their last word.
                if rng.random_range(0..2) == 0
                    && let Some(last) = words.last_mut()
                {
                    let cut = rng.random_range(3..=last.len().max(3));
                    last.truncate(cut.min(last.len()));
                }
                words.join(" ")
            })
            .collect();
        Workload { docs, queries }
    }
}

/// Split on non-alphanumerics, lower-case, drop long terms: the analyzer of
/// convex-rs, built here from tantivy's parts.
fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(RemoveLongFilter::limit(MAX_TERM_BYTES + 1))
        .build()
}

/// Raw tantivy's answer to one query.
struct RawHits {
    /// The text of the top ten, best first.
    bodies: Vec<String>,
    /// Whether the tenth scores strictly above the eleventh (so any correct
    /// top ten holds the same documents).
    unambiguous: bool,
}

/// The raw tantivy side.
struct Raw {
    reader: IndexReader,
    body: tantivy::schema::Field,
}

impl Raw {
    /// Builds the index of `docs` in `dir`.
    fn build(dir: &Path, docs: &[String]) -> anyhow::Result<Raw> {
        let mut builder = TantivySchema::builder();
        let body = builder.add_text_field(
            "body",
            TextOptions::default().set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer("words")
                    .set_index_option(IndexRecordOption::WithFreqs),
            ) | STORED,
        );
        let index = Index::create_in_dir(dir, builder.build())?;
        index.tokenizers().register("words", analyzer());
        let mut writer = index.writer_with_num_threads(1, 64 << 20)?;
        for text in docs {
            let mut doc = TantivyDocument::default();
            doc.add_text(body, text);
            writer.add_document(doc)?;
        }
        writer.commit()?;
        writer.wait_merging_threads()?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Raw { reader, body })
    }

    /// The terms convex-rs searches for `query`: its words, and for the last
    /// word the word itself and its most frequent completions.
    fn terms(&self, searcher: &Searcher, query: &str) -> anyhow::Result<Vec<String>> {
        let mut analyzer = analyzer();
        let mut stream = analyzer.token_stream(query);
        let mut words = Vec::new();
        while stream.advance() {
            words.push(stream.token().text.clone());
        }
        let Some(prefix) = words.pop() else {
            return Ok(Vec::new());
        };
        let mut frequencies: BTreeMap<String, u64> = BTreeMap::new();
        for segment in searcher.segment_readers() {
            let inverted = segment.inverted_index(self.body)?;
            let mut stream = inverted
                .terms()
                .range()
                .ge(prefix.as_bytes())
                .into_stream()?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if !term.starts_with(&prefix) {
                    break;
                }
                *frequencies.entry(term.to_string()).or_default() +=
                    u64::from(stream.value().doc_freq);
            }
        }
        let mut completions: Vec<(String, u64)> = frequencies.into_iter().collect();
        completions.sort_by(|a, b| {
            (a.0 != prefix)
                .cmp(&(b.0 != prefix))
                .then(b.1.cmp(&a.1))
                .then_with(|| a.0.cmp(&b.0))
        });
        words.extend(
            completions
                .into_iter()
                .take(PREFIX_EXPANSIONS)
                .map(|(t, _)| t),
        );
        words.sort();
        words.dedup();
        Ok(words)
    }

    /// The text of the top ten documents for `query`.
    fn top10(&self, query: &str) -> anyhow::Result<RawHits> {
        let searcher = self.reader.searcher();
        let terms = self.terms(&searcher, query)?;
        let clauses: Vec<(Occur, Box<dyn Query>)> = terms
            .iter()
            .map(|t| {
                let term = Term::from_field_text(self.body, t);
                let query: Box<dyn Query> =
                    Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs));
                (Occur::Should, query)
            })
            .collect();
        // One more than needed, to tell whether a tie crosses the cut.
        let mut hits = searcher.search(
            &BooleanQuery::new(clauses),
            &TopDocs::with_limit(TOP + 1).order_by_score(),
        )?;
        let unambiguous = hits.len() <= TOP || hits[TOP - 1].0 > hits[TOP].0;
        hits.truncate(TOP);
        let bodies = hits
            .into_iter()
            .map(|(_, address)| {
                let doc: TantivyDocument = searcher.doc(address)?;
                Ok(doc
                    .get_first(self.body)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string())
            })
            .collect::<anyhow::Result<Vec<String>>>()?;
        Ok(RawHits {
            bodies,
            unambiguous,
        })
    }
}

fn args_of(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

/// The text of `docs:top10`'s result.
async fn ours_top10(backend: &Backend, query: &str) -> anyhow::Result<Vec<String>> {
    let outcome = backend
        .runner()
        .run_query(
            "docs:top10",
            args_of(&[("query", Value::String(query.to_string()))]),
            Identity::Unauthenticated,
            Caller::Function,
            None,
        )
        .await;
    let value = outcome.outcome.result.map_err(|f| anyhow::anyhow!("{f}"))?;
    let Value::Array(items) = value else {
        bail!("docs:top10 returned {value:?}");
    };
    Ok(items
        .iter()
        .map(|item| match item {
            Value::Object(fields) => match fields.get("body") {
                Some(Value::String(body)) => body.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        })
        .collect())
}

async fn mutation(backend: &Backend, path: &str, args: Value) -> anyhow::Result<()> {
    let outcome = backend
        .runner()
        .run_mutation(path, args, Identity::Unauthenticated, Caller::Function)
        .await;
    outcome
        .result
        .map(|_| ())
        .map_err(|f| anyhow::anyhow!("{path}: {f}"))
}

/// One system's query results.
struct QueryReport {
    build: Duration,
    p50: Duration,
    p99: Duration,
    qps: f64,
}

/// Queries/s of `raw` with two threads for `seconds`.
fn raw_throughput(raw: &Arc<Raw>, queries: &Arc<Vec<String>>, seconds: f64) -> anyhow::Result<f64> {
    let stop = Instant::now() + Duration::from_secs_f64(seconds);
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let (raw, queries) = (raw.clone(), queries.clone());
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let mut done = 0u64;
                let mut i = t;
                while Instant::now() < stop {
                    raw.top10(&queries[i % queries.len()])?;
                    done += 1;
                    i += 2;
                }
                Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for thread in threads {
        total += thread
            .join()
            .map_err(|_| anyhow::anyhow!("a query thread panicked"))??;
    }
    Ok(total as f64 / seconds)
}

async fn ours_throughput(
    backend: &Backend,
    queries: &Arc<Vec<String>>,
    seconds: f64,
) -> anyhow::Result<Measurement> {
    let runner = backend.runner().clone();
    let queries = queries.clone();
    run_concurrent(2, Window::timed(seconds), move |caller, seq| {
        let runner = runner.clone();
        let query = queries[(caller + 2 * seq as usize) % queries.len()].clone();
        async move {
            let outcome = runner
                .run_query(
                    "docs:top10",
                    args_of(&[("query", Value::String(query))]),
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
    .await
}

/// Insert mutations/s with `callers` callers on a fresh database.
async fn inserts(
    dir: &Path,
    path: &'static str,
    callers: usize,
    seconds: f64,
) -> anyhow::Result<Measurement> {
    let backend = Backend::open(docs::app()?, BackendConfig::in_dir(dir)).await?;
    let runner = backend.runner().clone();
    let words: Arc<Vec<String>> = Arc::new((0..VOCABULARY).map(word).collect());
    let measurement = run_concurrent(callers, Window::timed(seconds), move |caller, seq| {
        let runner = runner.clone();
        let words = words.clone();
        async move {
            let mut rng = StdRng::seed_from_u64((caller as u64) << 32 | seq);
            let body: Vec<&str> = (0..10)
                .map(|_| words[rng.random_range(0..words.len())].as_str())
                .collect();
            let outcome = runner
                .run_mutation(
                    path,
                    args_of(&[("body", Value::String(body.join(" ")))]),
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
    measurement
}

/// What the query part measured.
struct QueryRun {
    raw: QueryReport,
    ours: QueryReport,
    /// Queries whose raw top ten is unambiguous (no tie across the cut).
    comparable: usize,
    /// Of those, the queries where both returned the same ten documents.
    same: usize,
    /// Time to open a backend on the loaded database.
    reopen: Duration,
}

async fn measure_queries(args: &Args, root: &Path) -> anyhow::Result<QueryRun> {
    let started = Instant::now();
    let workload = Workload::generate(args.docs, args.queries);
    eprintln!(
        "corpus generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Raw tantivy.
    let raw_dir = root.join("raw");
    std::fs::create_dir_all(&raw_dir)?;
    let started = Instant::now();
    let raw = Arc::new(tokio::task::block_in_place(|| {
        Raw::build(&raw_dir, &workload.docs)
    })?);
    let raw_build = started.elapsed();
    let mut raw_results = Vec::with_capacity(workload.queries.len());
    let mut latencies = Vec::with_capacity(workload.queries.len());
    tokio::task::block_in_place(|| -> anyhow::Result<()> {
        for query in &workload.queries {
            let started = Instant::now();
            let found = raw.top10(query)?;
            latencies.push(started.elapsed());
            raw_results.push(found);
        }
        Ok(())
    })?;
    let raw_sorted = sorted_us(latencies);
    let queries = Arc::new(workload.queries.clone());
    let raw_qps = tokio::task::block_in_place(|| raw_throughput(&raw, &queries, args.seconds))?;
    let raw = QueryReport {
        build: raw_build,
        p50: percentile(&raw_sorted, 0.5),
        p99: percentile(&raw_sorted, 0.99),
        qps: raw_qps,
    };
    eprintln!("raw tantivy measured");

    // convex-rs.
    let ours_dir = root.join("ours");
    let backend = Backend::open(docs::app()?, BackendConfig::in_dir(&ours_dir)).await?;
    let started = Instant::now();
    for batch in workload.docs.chunks(LOAD_BATCH) {
        let bodies = batch.iter().map(|b| Value::String(b.clone())).collect();
        mutation(
            &backend,
            "docs:load",
            args_of(&[("bodies", Value::Array(bodies))]),
        )
        .await?;
    }
    backend.store().flush_search_indexes().await?;
    let ours_build = started.elapsed();
    let mut latencies = Vec::with_capacity(workload.queries.len());
    let (mut comparable, mut same) = (0, 0);
    for (query, raw_found) in workload.queries.iter().zip(&raw_results) {
        let started = Instant::now();
        let mut found = ours_top10(&backend, query).await?;
        latencies.push(started.elapsed());
        if raw_found.unambiguous {
            comparable += 1;
            let mut expected = raw_found.bodies.clone();
            expected.sort();
            found.sort();
            if found == expected {
                same += 1;
            }
        }
    }
    let ours_sorted = sorted_us(latencies);
    let ours_qps = ours_throughput(&backend, &queries, args.seconds).await?;
    if ours_qps.all_failures() > 0 {
        bail!("convex-rs queries failed: {:?}", ours_qps.errors);
    }
    let ours = QueryReport {
        build: ours_build,
        p50: percentile(&ours_sorted, 0.5),
        p99: percentile(&ours_sorted, 0.99),
        qps: ours_qps.ops_per_sec(),
    };
    backend.shutdown().await;
    drop(backend);
    let started = Instant::now();
    let reopened = Backend::open(docs::app()?, BackendConfig::in_dir(&ours_dir)).await?;
    let reopen = started.elapsed();
    reopened.shutdown().await;
    eprintln!("convex-rs measured");
    Ok(QueryRun {
        raw,
        ours,
        comparable,
        same,
        reopen,
    })
}

fn print_queries(args: &Args, run: &QueryRun) {
    println!();
    println!(
        "{:<12} {:>10} {:>9} {:>9} {:>10}",
        "top-10", "build s", "p50 ms", "p99 ms", "queries/s"
    );
    println!("{}", "-".repeat(54));
    for (name, r) in [("raw tantivy", &run.raw), ("convex-rs", &run.ours)] {
        println!(
            "{:<12} {:>10.2} {:>9} {:>9} {:>10.0}",
            name,
            r.build.as_secs_f64(),
            ms(r.p50),
            ms(r.p99),
            r.qps
        );
    }
    println!(
        "same ten documents in {} of the {} queries whose raw top ten has no tie across the cut ({} queries in all)",
        run.same, run.comparable, args.queries
    );
    println!(
        "restart on the loaded database (search index checked against {} documents): {:.2} s",
        args.docs,
        run.reopen.as_secs_f64()
    );
    let ratio = run.ours.p50.as_secs_f64() / run.raw.p50.as_secs_f64().max(1e-9);
    println!(
        "top-10 p50, ours / raw: {ratio:.2} (target <= {TARGET_P50_RATIO}) {}",
        verdict(ratio <= TARGET_P50_RATIO)
    );
}

/// Insert rounds, alternating with and without a search index so that drift
/// in the machine's load hits both alike.
async fn measure_inserts(
    args: &Args,
    root: &Path,
) -> anyhow::Result<Vec<(Measurement, Measurement)>> {
    let mut rounds = Vec::new();
    for round in 0..args.insert_rounds {
        let with_index = inserts(
            &root.join(format!("insert-indexed-{round}")),
            "docs:insert",
            args.callers,
            args.seconds,
        )
        .await?;
        let without = inserts(
            &root.join(format!("insert-plain-{round}")),
            "plain:insert",
            args.callers,
            args.seconds,
        )
        .await?;
        rounds.push((with_index, without));
    }
    Ok(rounds)
}

fn print_inserts(args: &Args, rounds: &[(Measurement, Measurement)]) {
    println!();
    println!(
        "{:<34} {:>8} {:>12} {:>9} {:>9}",
        format!("inserts ({} callers)", args.callers),
        "ops",
        "mutations/s",
        "p50 ms",
        "p99 ms"
    );
    println!("{}", "-".repeat(76));
    let (mut with_total, mut without_total) = (0.0, 0.0);
    for (round, (with_index, without)) in rounds.iter().enumerate() {
        for (name, m) in [("with a search index", with_index), ("without", without)] {
            println!(
                "{:<34} {:>8} {:>12.0} {:>9} {:>9}",
                format!("round {}: {name}", round + 1),
                m.ok,
                m.ops_per_sec(),
                ms(m.p50),
                ms(m.p99)
            );
            if m.all_failures() > 0 {
                println!(
                    "  {} failures, e.g. {:?}",
                    m.all_failures(),
                    m.errors.first()
                );
            }
        }
        with_total += with_index.ops_per_sec();
        without_total += without.ops_per_sec();
    }
    let ratio = with_total / without_total.max(1e-9);
    println!(
        "inserts, with / without a search index (mean of the rounds): {ratio:.2} (target >= {TARGET_INSERT_RATIO}) {}",
        verdict(ratio >= TARGET_INSERT_RATIO)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.docs >= TOP && args.queries > 0, "nothing to measure");
    ensure!(
        args.seconds > 0.0 && args.callers > 0,
        "--seconds and --callers must be positive"
    );
    let root = convex_bench::report::scratch_dir(args.dir.as_deref(), "convex-bench-search-")
        .context("creating the benchmark's directory")?;
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "full-text search: raw tantivy vs convex-rs ({cpus} CPUs; {} documents, {} timed queries)",
        args.docs, args.queries
    );
    let queries = if args.skip_queries {
        None
    } else {
        Some(measure_queries(&args, root.path()).await?)
    };
    let inserts = if args.insert_rounds == 0 {
        Vec::new()
    } else {
        measure_inserts(&args, root.path()).await?
    };
    if let Some(run) = &queries {
        print_queries(&args, run);
    }
    if !inserts.is_empty() {
        print_inserts(&args, &inserts);
    }
    Ok(())
}
