//! The framework workloads: concurrent `items:insert` mutations, and bank
//! transfers under uniform or skewed account choice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};
use convex_rs::function::{Caller, FailureKind, FunctionOutcome, Identity};
use convex_rs::prelude::*;
use convex_rs::store::CommitStats;

use crate::items::{self, INSERT_PATH};
use crate::measure::{Measurement, Outcome, Window, run_concurrent};
use crate::raw::random_item;
use crate::zipf::PairSampler;

/// Accounts counted as hot when reporting how skewed the transfers were.
pub const HOT_ACCOUNTS: usize = 10;
/// Each account's starting balance: large enough that no transfer of 1 is
/// ever refused, small enough that every total stays an exact integer in f64.
pub const START_BALANCE: f64 = 1e9;
/// Most accounts one `bank:seed` call creates.
pub const MAX_ACCOUNTS: usize = 10_000;

/// An object value from `(field, value)` pairs.
fn object(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// Turns a mutation's outcome into an [`Outcome`]; `accept` decides whether
/// a returned value counts as success.
fn classify(
    outcome: FunctionOutcome,
    accept: impl FnOnce(&Value) -> Result<(), String>,
) -> Outcome {
    match outcome.result {
        Ok(value) => match accept(&value) {
            Ok(()) => Outcome::Ok,
            Err(message) => Outcome::Failed(message),
        },
        Err(failure) if failure.kind == FailureKind::Conflict => Outcome::Conflict(failure.message),
        Err(failure) => Outcome::Failed(format!("{:?}: {}", failure.kind, failure.message)),
    }
}

/// `callers` concurrent callers each looping `items:insert` on a fresh
/// database (`config`'s).
pub async fn inserts(
    config: BackendConfig,
    callers: usize,
    window: Window,
) -> anyhow::Result<Measurement> {
    let backend = Backend::open(items::app()?, config).await?;
    let runner = backend.runner().clone();
    let stats_before = backend.store().commit_stats();
    let measurement = run_concurrent(callers, window, move |caller, seq| {
        let runner = runner.clone();
        async move {
            let (body, n) = random_item(caller, seq);
            let args = object([("body", Value::String(body)), ("n", Value::Float64(n))]);
            let outcome = runner
                .run_mutation(
                    INSERT_PATH,
                    args,
                    Identity::Unauthenticated,
                    Caller::Function,
                )
                .await;
            classify(outcome, |value| match value {
                Value::String(_) => Ok(()),
                other => Err(format!("items:insert returned {other:?}")),
            })
        }
    })
    .await
    .map(|mut m| {
        m.commits_per_group = commits_per_group(stats_before, backend.store().commit_stats());
        m
    });
    backend.shutdown().await;
    measurement
}

/// Mean transactions per group commit between two readings of the store's
/// counters.
fn commits_per_group(before: CommitStats, after: CommitStats) -> Option<f64> {
    let batches = after.batches - before.batches;
    (batches > 0).then(|| (after.transactions - before.transactions) as f64 / batches as f64)
}

/// What a bank run did besides its throughput.
#[derive(Clone, Copy, Debug)]
pub struct BankReport {
    /// `bank:total` right after seeding.
    pub total_before: f64,
    /// `bank:total` after the last transfer.
    pub total_after: f64,
    /// Fraction of the transfers started (warm-up included) whose `from` or
    /// `to` was one of the [`HOT_ACCOUNTS`] hottest accounts.
    pub hot_fraction: f64,
}

/// `bank:total`, the sum of all balances.
async fn total(backend: &Backend) -> anyhow::Result<f64> {
    let outcome = backend
        .runner()
        .run_query(
            "bank:total",
            object([]),
            Identity::Unauthenticated,
            Caller::Function,
            None,
        )
        .await
        .outcome;
    match outcome.result {
        Ok(Value::Float64(total)) => Ok(total),
        Ok(other) => bail!("bank:total returned {other:?}"),
        Err(failure) => bail!("bank:total failed: {failure}"),
    }
}

/// Seeds `accounts` accounts on a fresh database (`config`'s), then runs
/// `callers` concurrent callers each looping `bank:transfer` of 1 between
/// the pairs `sampler` picks.
pub async fn bank(
    config: BackendConfig,
    accounts: usize,
    sampler: PairSampler,
    callers: usize,
    window: Window,
) -> anyhow::Result<(Measurement, BankReport)> {
    if accounts > MAX_ACCOUNTS {
        bail!("at most {MAX_ACCOUNTS} accounts (one bank:seed transaction)");
    }
    let backend = Backend::open(bank::app()?, config).await?;
    let seed = object([
        ("accounts", Value::Float64(accounts as f64)),
        ("balance", Value::Float64(START_BALANCE)),
    ]);
    let seeded = backend
        .runner()
        .run_mutation(
            "bank:seed",
            seed,
            Identity::Unauthenticated,
            Caller::Function,
        )
        .await;
    if let Err(failure) = seeded.result {
        bail!("bank:seed failed: {failure}");
    }
    let total_before = total(&backend).await.context("total after seeding")?;

    let sampler = Arc::new(sampler);
    let hot = Arc::new(AtomicU64::new(0));
    let started = Arc::new(AtomicU64::new(0));
    let runner = backend.runner().clone();
    let (hot_count, started_count) = (hot.clone(), started.clone());
    let stats_before = backend.store().commit_stats();
    let mut measurement = run_concurrent(callers, window, move |_, _| {
        let (runner, sampler, hot, started) = (
            runner.clone(),
            sampler.clone(),
            hot.clone(),
            started.clone(),
        );
        async move {
            let (from, to) = sampler.sample(&mut rand::rng());
            started.fetch_add(1, Ordering::Relaxed);
            if from < HOT_ACCOUNTS || to < HOT_ACCOUNTS {
                hot.fetch_add(1, Ordering::Relaxed);
            }
            let args = object([
                ("from", Value::Float64(from as f64)),
                ("to", Value::Float64(to as f64)),
                ("amount", Value::Float64(1.0)),
            ]);
            let outcome = runner
                .run_mutation(
                    "bank:transfer",
                    args,
                    Identity::Unauthenticated,
                    Caller::Function,
                )
                .await;
            classify(outcome, |value| match value {
                Value::Boolean(true) => Ok(()),
                Value::Boolean(false) => Err("bank:transfer refused: insufficient funds".into()),
                other => Err(format!("bank:transfer returned {other:?}")),
            })
        }
    })
    .await?;
    measurement.commits_per_group = commits_per_group(stats_before, backend.store().commit_stats());

    let total_after = total(&backend).await.context("total after the transfers")?;
    backend.shutdown().await;
    let started = started_count.load(Ordering::Relaxed);
    let hot_fraction = if started > 0 {
        hot_count.load(Ordering::Relaxed) as f64 / started as f64
    } else {
        0.0
    };
    Ok((
        measurement,
        BankReport {
            total_before,
            total_after,
            hot_fraction,
        },
    ))
}
