//! Prometheus metrics: the recorder behind `GET /metrics`, and the names of
//! what the backend measures.
//!
//! The backend records through the [`metrics`] facade (function calls and
//! latency, OCC conflicts, commits per batch, garbage collection); the
//! server installs a Prometheus recorder once per process and renders it on
//! each scrape, after sampling the live gauges (sessions, subscriptions,
//! queue depths).

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::function::FunctionKind;

/// Latency buckets, in seconds: 0.25 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_25, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Transactions per group commit.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's Prometheus recorder (once) and returns its handle;
/// `None` if another metrics recorder was installed first.
pub(crate) fn recorder() -> Option<&'static PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("convex_commit_batch_size".into()),
                        BATCH_BUCKETS,
                    )
                })
                .and_then(|b| b.install_recorder());
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are off: another recorder is installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "convex_function_calls_total",
        "Function executions, by kind, path and outcome (success, error)."
    );
    describe_histogram!(
        "convex_function_duration_seconds",
        Unit::Seconds,
        "Function execution time, by kind and path (mutations include OCC retries and the commit)."
    );
    describe_counter!(
        "convex_occ_retries_total",
        "Mutation re-runs after an optimistic concurrency conflict, by path."
    );
    describe_counter!(
        "convex_occ_conflicts_total",
        "Transactions the committer rejected for a conflict."
    );
    describe_counter!("convex_commits_total", "Transactions committed.");
    describe_histogram!(
        "convex_commit_batch_size",
        "Transactions per group commit (one durable database transaction)."
    );
    describe_histogram!(
        "convex_commit_duration_seconds",
        Unit::Seconds,
        "Time to write one group commit durably."
    );
    describe_histogram!(
        "convex_sqlite_wal_restart_seconds",
        Unit::Seconds,
        "SQLite: one checkpoint that restarts the write-ahead log (commits wait for it)."
    );
    describe_gauge!("convex_sync_sessions", "Open websocket sessions.");
    describe_gauge!(
        "convex_sync_subscriptions",
        "Live query subscriptions (distinct queries across sessions)."
    );
    describe_gauge!(
        "convex_pending_mutations",
        "Websocket mutations queued or running, across sessions."
    );
    describe_gauge!(
        "convex_commit_queue_depth",
        "Transactions waiting for the committer."
    );
    describe_counter!(
        "convex_sessions_refused_total",
        "Sessions refused or closed by a limit, by reason."
    );
    describe_counter!(
        "convex_gc_revisions_deleted_total",
        "Old document revisions garbage-collected."
    );
    describe_counter!(
        "convex_gc_index_entries_deleted_total",
        "Old index entry versions garbage-collected."
    );
    describe_histogram!(
        "convex_gc_chunk_seconds",
        Unit::Seconds,
        "Time of one garbage collection chunk (commits wait at most this long)."
    );
}

/// Drains recorded histogram samples into their buckets every 5 seconds
/// (they are kept until then), until `stop` turns true or its sender goes.
pub(crate) fn spawn_upkeep(mut stop: tokio::sync::watch::Receiver<bool>) {
    if recorder().is_none() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                stopped = stop.wait_for(|stop| *stop) => {
                    let _ = stopped;
                    return;
                }
            }
            if let Some(handle) = recorder() {
                handle.run_upkeep();
            }
        }
    });
}

/// The lowercase name of a function kind, as metrics and spans label it.
pub(crate) fn kind_label(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Query => "query",
        FunctionKind::Mutation => "mutation",
        FunctionKind::Action => "action",
    }
}

/// Records one finished function execution.
pub(crate) fn function_finished(kind: FunctionKind, path: &str, success: bool, elapsed: Duration) {
    let kind = kind_label(kind);
    let outcome = if success { "success" } else { "error" };
    metrics::counter!(
        "convex_function_calls_total",
        "kind" => kind,
        "path" => path.to_string(),
        "outcome" => outcome
    )
    .increment(1);
    metrics::histogram!(
        "convex_function_duration_seconds",
        "kind" => kind,
        "path" => path.to_string()
    )
    .record(elapsed.as_secs_f64());
}
