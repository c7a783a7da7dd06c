//! `convex-bench`: measures, side by side on one disk,
//!
//! * raw SQLite one-insert-per-transaction commits/s with the write
//!   amplification of our storage (a document row and two index rows);
//! * our `items:insert` mutations/s with many concurrent in-process callers,
//!   each at `synchronous=FULL` and `NORMAL`;
//! * bank transfers/s with uniform and Zipf-skewed account choice;
//!
//! and, with `--postgres URL`, the same on that PostgreSQL server: raw
//! one-insert-per-transaction commits, our inserts, uniform and skewed bank
//! transfers (each in a fresh database, dropped at the end);
//!
//! then prints a table and the ratios against the targets. It always exits
//! with 0 when the measurements ran, whether or not a target was met.

mod cpu;
mod items;
mod raw;
mod raw_pg;
mod workloads;

use convex_bench::{measure, zipf};

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use convex_rs::prelude::{BackendConfig, Durability};
use convex_rs::store::PostgresConfig;

use cpu::{CpuUse, CpuWatch};
use measure::{Measurement, Window};
use workloads::{BankReport, HOT_ACCOUNTS, MAX_ACCOUNTS};
use zipf::{PairSampler, Zipf};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(
    name = "convex-bench",
    about = "Raw SQLite vs convex-rs mutations vs bank transfers under contention"
)]
struct Args {
    /// Seconds each measurement records for (after its warm-up).
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Seconds each measurement runs before recording.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Concurrent in-process callers for the framework workloads.
    #[arg(long, default_value_t = 64)]
    callers: usize,
    /// Bank accounts (at most 10000, at least 2 × the 10 hot ones).
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Most operations recorded per measurement (a run stops early at this bound).
    #[arg(long, default_value_t = 2_000_000)]
    max_ops: u64,
    /// Fraction of skewed transfers that should touch one of the 10 hottest accounts.
    #[arg(long, default_value_t = 0.8)]
    hot_fraction: f64,
    /// Directory under which the databases are created (default: ./target if
    /// it exists, else the system temp dir). A fresh subdirectory is used for
    /// each measurement and everything is removed at exit.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also measure on this PostgreSQL server (`postgres://USER@HOST:PORT`;
    /// the role must be able to create databases).
    #[arg(long, env = "CONVEX_BENCH_POSTGRES")]
    postgres: Option<String>,
}

/// Target: ours at FULL over raw at FULL.
const FULL_TARGET: f64 = 3.0;
/// Target: ours at NORMAL over raw at NORMAL.
const NORMAL_TARGET: f64 = 0.5;
/// Target: skewed transfers over uniform transfers.
const SKEW_TARGET: f64 = 0.5;
/// Target on PostgreSQL: ours over raw (group commit).
const POSTGRES_TARGET: f64 = 3.0;

/// One line of the results table.
struct Row {
    name: &'static str,
    sync: &'static str,
    callers: usize,
    measurement: Measurement,
    /// CPU used while the measurement (with its set-up and warm-up) ran.
    cpu: Option<CpuUse>,
}

/// The `synchronous` pragma value a durability stands for.
fn sync_name(durability: Durability) -> &'static str {
    match durability {
        Durability::Full => "FULL",
        Durability::Normal => "NORMAL",
    }
}

/// Rejects options outside their meaningful ranges.
fn validate(args: &Args) -> anyhow::Result<()> {
    if !(args.seconds.is_finite() && args.seconds > 0.0) {
        bail!("--seconds must be positive");
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        bail!("--warmup must be zero or positive");
    }
    if args.callers == 0 {
        bail!("--callers must be at least 1");
    }
    if !(2 * HOT_ACCOUNTS..=MAX_ACCOUNTS).contains(&args.accounts) {
        bail!(
            "--accounts must be from {} to {MAX_ACCOUNTS}",
            2 * HOT_ACCOUNTS
        );
    }
    if !(args.hot_fraction > 0.0 && args.hot_fraction < 1.0) {
        bail!("--hot-fraction must be between 0 and 1");
    }
    Ok(())
}

/// The temporary root directory all measurements' databases go under.
fn root_dir(dir: Option<&Path>) -> anyhow::Result<tempfile::TempDir> {
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("convex-bench-");
        b
    };
    let root = match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            builder.tempdir_in(dir)?
        }
        None if Path::new("target").is_dir() => builder.tempdir_in("target")?,
        None => builder.tempdir()?,
    };
    Ok(root)
}

/// A fresh, empty directory for one measurement.
fn fresh_dir(root: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Removes a measurement's directory, warning (not failing) if it cannot.
fn remove_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }
}

/// Prints a measurement's failure counts and sample messages, if any.
fn print_errors(name: &str, m: &Measurement) {
    if m.all_failures() > 0 {
        println!(
            "  {name}: {} conflicts, {} other failures; for example:",
            m.conflicts, m.failures
        );
        for e in &m.errors {
            println!("    {e}");
        }
    }
}

/// A duration in milliseconds with three decimals.
fn millis(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// Prints the results table.
fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<14} {:<7} {:>7} {:>9} {:>10} {:>9} {:>9} {:>9} {:>8} {:>12} {:>15}",
        "workload",
        "sync",
        "callers",
        "ops",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "conflicts",
        "failures",
        "commits/grp",
        "cpu% own/other"
    );
    println!("{}", "-".repeat(119));
    for r in rows {
        let m = &r.measurement;
        let group = m
            .commits_per_group
            .map_or_else(|| "-".to_string(), |g| format!("{g:.1}"));
        let cpu = r.cpu.map_or_else(
            || "n/a".to_string(),
            |c| format!("{:.0}/{:.0}", c.own, c.others),
        );
        println!(
            "{:<14} {:<7} {:>7} {:>9} {:>10.0} {:>9} {:>9} {:>9} {:>8} {:>12} {:>15}",
            r.name,
            r.sync,
            r.callers,
            m.ok,
            m.ops_per_sec(),
            millis(m.p50),
            millis(m.p99),
            m.conflicts,
            m.failures,
            group,
            cpu
        );
    }
    println!(
        "(commits/grp: mean transactions per group commit (one database transaction), counted by the committer over the whole run;"
    );
    println!(
        " cpu%: percent of one core used by this process / by everything else, over set-up, warm-up and run)"
    );
    println!();
}

/// Prints `numerator / denominator` in ops/s with PASS or MISS against `target`.
fn ratio_line(label: &str, numerator: &Measurement, denominator: &Measurement, target: f64) {
    let (n, d) = (numerator.ops_per_sec(), denominator.ops_per_sec());
    let ratio = if d > 0.0 { n / d } else { 0.0 };
    let verdict = if ratio >= target { "PASS" } else { "MISS" };
    println!(
        "{label:<46} {n:>8.0} / {d:>8.0} = {ratio:>6.3}x  (target >= {target:.2}x)  {verdict}"
    );
}

/// A duration in whole microseconds.
fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// Prints where a raw run's operations spent their time.
fn print_phases(sync: &str, totals: &raw::PhaseTotals) {
    let mean = totals.mean();
    println!(
        "raw {sync}: mean per op: BEGIN {}, document INSERT {}, 2 index INSERTs {}, COMMIT {} (slowest COMMIT {})",
        micros(mean.begin),
        micros(mean.document),
        micros(mean.index),
        micros(mean.commit),
        millis(totals.max_commit) + " ms"
    );
}

/// Prints a bank run's skew and its `bank:total` check.
fn print_bank(name: &str, report: &BankReport) {
    let unchanged = if report.total_after == report.total_before {
        "unchanged"
    } else {
        "CHANGED"
    };
    println!(
        "{name}: {:.1}% of transfers touched one of the {HOT_ACCOUNTS} hottest accounts; \
         bank:total {:.0} before, {:.0} after ({unchanged})",
        report.hot_fraction * 100.0,
        report.total_before,
        report.total_after
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    validate(&args)?;
    let window = Window {
        warmup: Duration::from_secs_f64(args.warmup),
        measure: Duration::from_secs_f64(args.seconds),
        max_ops: args.max_ops,
    };
    let root = root_dir(args.dir.as_deref())?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (id, doc, by_creation_time, by_n) = raw::typical_sizes();
    let zipf = Zipf::for_hot_pair_fraction(args.accounts, HOT_ACCOUNTS, args.hot_fraction);

    println!("convex-bench");
    println!(
        "  databases under {} (a fresh directory per measurement, removed at exit)",
        root.path().display()
    );
    println!("  {cores} cores; tokio multi-thread runtime");
    println!(
        "  each measurement: {:.1} s warm-up, then {:.1} s recorded (at most {} ops)",
        args.warmup, args.seconds, args.max_ops
    );
    println!(
        "  insert rows: document {doc} B + by_creation_time key {by_creation_time} B + by_n key {by_n} B, \
         ids {id} B; raw = 1 connection, 1 insert per transaction; ours = {} callers",
        args.callers
    );
    println!(
        "  bank: {} accounts, transfers of 1 by {} callers at synchronous=NORMAL; skewed = Zipf exponent {:.3} \
         (target {:.0}% of transfers touching the {HOT_ACCOUNTS} hottest accounts)",
        args.accounts,
        args.callers,
        zipf.exponent(),
        args.hot_fraction * 100.0
    );

    let mut rows = Vec::new();
    let mut raw_phases = Vec::new();
    for durability in [Durability::Full, Durability::Normal] {
        let sync = sync_name(durability);

        let dir = fresh_dir(root.path(), &format!("raw-{sync}"))?;
        eprintln!("running raw SQLite at {sync} ...");
        let watch = CpuWatch::start();
        let (measurement, phases) = raw::run(&dir.join("raw.sqlite3"), durability, window).await?;
        let cpu = watch.stop();
        remove_dir(&dir);
        raw_phases.push((sync, phases));
        rows.push(Row {
            name: "raw insert",
            sync,
            callers: 1,
            measurement,
            cpu,
        });

        let dir = fresh_dir(root.path(), &format!("ours-{sync}"))?;
        eprintln!("running items:insert at {sync} ...");
        let watch = CpuWatch::start();
        let config = BackendConfig::in_dir(&dir).durability(durability);
        let measurement = workloads::inserts(config, args.callers, window).await?;
        let cpu = watch.stop();
        remove_dir(&dir);
        rows.push(Row {
            name: "ours insert",
            sync,
            callers: args.callers,
            measurement,
            cpu,
        });
    }

    let bank_durability = Durability::Normal;
    let mut bank_reports = Vec::new();
    for (name, sampler) in [
        (
            "bank uniform",
            PairSampler::Uniform {
                accounts: args.accounts,
            },
        ),
        ("bank skewed", PairSampler::Zipf(zipf.clone())),
    ] {
        let dir = fresh_dir(root.path(), name.replace(' ', "-").as_str())?;
        eprintln!("running {name} ...");
        let watch = CpuWatch::start();
        let (measurement, report) = workloads::bank(
            BackendConfig::in_dir(&dir).durability(bank_durability),
            args.accounts,
            sampler,
            args.callers,
            window,
        )
        .await?;
        let cpu = watch.stop();
        remove_dir(&dir);
        rows.push(Row {
            name,
            sync: sync_name(bank_durability),
            callers: args.callers,
            measurement,
            cpu,
        });
        bank_reports.push((name, report));
    }

    print_table(&rows);
    let [
        raw_full,
        ours_full,
        raw_normal,
        ours_normal,
        uniform,
        skewed,
    ] = &rows[..]
    else {
        bail!("expected six measurements");
    };
    ratio_line(
        "ours FULL / raw FULL (group commit)",
        &ours_full.measurement,
        &raw_full.measurement,
        FULL_TARGET,
    );
    ratio_line(
        "ours NORMAL / raw NORMAL (framework cost)",
        &ours_normal.measurement,
        &raw_normal.measurement,
        NORMAL_TARGET,
    );
    ratio_line(
        "bank skewed / bank uniform (contention)",
        &skewed.measurement,
        &uniform.measurement,
        SKEW_TARGET,
    );
    println!();
    for (name, report) in &bank_reports {
        print_bank(name, report);
    }
    for (sync, phases) in &raw_phases {
        print_phases(sync, phases);
    }
    for row in &rows {
        print_errors(&format!("{} {}", row.name, row.sync), &row.measurement);
    }
    if rows[..4].iter().any(|r| r.measurement.all_failures() > 0) {
        println!("WARNING: insert failures above; every insert should succeed");
    }
    if let Some(server) = &args.postgres {
        postgres(server, &args, window, &zipf).await?;
    }
    Ok(())
}

/// The PostgreSQL rows: raw inserts, ours, bank uniform and skewed, each in
/// a fresh database (dropped afterwards).
async fn postgres(server: &str, args: &Args, window: Window, zipf: &Zipf) -> anyhow::Result<()> {
    let run_id = std::process::id();
    let mut rows = Vec::new();
    let name = format!("convex_bench_raw_{run_id}");
    let url = raw_pg::fresh_database(server, &name).await?;
    eprintln!("running raw PostgreSQL ...");
    let watch = CpuWatch::start();
    let measurement = raw_pg::run(&url, window).await;
    let cpu = watch.stop();
    raw_pg::drop_database(server, &name).await;
    rows.push(Row {
        name: "raw insert",
        sync: "pg",
        callers: 1,
        measurement: measurement?,
        cpu,
    });

    let config = |name: &str| BackendConfig {
        postgres: Some(PostgresConfig::new(format!(
            "{}/{name}",
            server.trim_end_matches('/')
        ))),
        ..BackendConfig::temporary()
    };
    let name = format!("convex_bench_ours_{run_id}");
    eprintln!("running items:insert on PostgreSQL ...");
    let watch = CpuWatch::start();
    let measurement = workloads::inserts(config(&name), args.callers, window).await;
    let cpu = watch.stop();
    raw_pg::drop_database(server, &name).await;
    rows.push(Row {
        name: "ours insert",
        sync: "pg",
        callers: args.callers,
        measurement: measurement?,
        cpu,
    });

    let mut reports = Vec::new();
    for (label, sampler) in [
        (
            "bank uniform",
            PairSampler::Uniform {
                accounts: args.accounts,
            },
        ),
        ("bank skewed", PairSampler::Zipf(zipf.clone())),
    ] {
        let name = format!("convex_bench_{}_{run_id}", label.replace(' ', "_"));
        eprintln!("running {label} on PostgreSQL ...");
        let watch = CpuWatch::start();
        let result =
            workloads::bank(config(&name), args.accounts, sampler, args.callers, window).await;
        let cpu = watch.stop();
        raw_pg::drop_database(server, &name).await;
        let (measurement, report) = result?;
        rows.push(Row {
            name: label,
            sync: "pg",
            callers: args.callers,
            measurement,
            cpu,
        });
        reports.push((label, report));
    }

    println!("PostgreSQL ({server}):");
    print_table(&rows);
    let [raw, ours, uniform, skewed] = &rows[..] else {
        bail!("expected four PostgreSQL measurements");
    };
    ratio_line(
        "pg: ours / raw (group commit)",
        &ours.measurement,
        &raw.measurement,
        POSTGRES_TARGET,
    );
    ratio_line(
        "pg: bank skewed / bank uniform (contention)",
        &skewed.measurement,
        &uniform.measurement,
        SKEW_TARGET,
    );
    println!();
    for (label, report) in &reports {
        print_bank(&format!("pg {label}"), report);
    }
    for row in &rows {
        print_errors(&format!("pg {}", row.name), &row.measurement);
    }
    Ok(())
}
