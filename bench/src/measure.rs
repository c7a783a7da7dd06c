//! Timing and counting: a warm-up, then a fixed wall-time window over which
//! completed operations, their latencies and their failures are recorded.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long to run and how much to do.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Time spent running the workload before anything is recorded.
    pub warmup: Duration,
    /// Time over which operations are recorded.
    pub measure: Duration,
    /// Most operations recorded (the run ends early when reached).
    pub max_ops: u64,
}

impl Window {
    /// One second of warm-up, then `seconds` recorded, with no limit on
    /// operations.
    pub fn timed(seconds: f64) -> Window {
        Window {
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs_f64(seconds),
            max_ops: u64::MAX,
        }
    }

    /// Fixes the window's instants, starting now.
    pub fn start(&self) -> Deadlines {
        let now = Instant::now();
        let record_from = now + self.warmup;
        Deadlines {
            record_from,
            stop_at: record_from + self.measure,
            max_ops: self.max_ops,
        }
    }
}

/// The instants of a started [`Window`].
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// Operations completing from this instant on are recorded.
    pub record_from: Instant,
    /// No operation starts at or after this instant.
    pub stop_at: Instant,
    /// Most operations recorded.
    pub max_ops: u64,
}

/// How one operation ended.
#[derive(Debug)]
pub enum Outcome {
    /// It did what it was asked (for a transfer: it committed and moved the
    /// money).
    Ok,
    /// A mutation that gave up after its conflict retries.
    Conflict(String),
    /// Anything else (an error, or a transfer that moved nothing).
    Failed(String),
}

/// What one caller recorded.
#[derive(Debug)]
pub struct Recorder {
    deadlines: Deadlines,
    latencies_us: Vec<u32>,
    ok: u64,
    conflicts: u64,
    failures: u64,
    errors: Vec<String>,
    last_completion: Option<Instant>,
}

/// Distinct error messages kept per measurement, for printing.
const KEPT_ERRORS: usize = 5;

impl Recorder {
    /// An empty recorder for a window.
    pub fn new(deadlines: Deadlines) -> Self {
        Recorder {
            deadlines,
            latencies_us: Vec::new(),
            ok: 0,
            conflicts: 0,
            failures: 0,
            errors: Vec::new(),
            last_completion: None,
        }
    }

    /// Whether the caller should start another operation, given how many the
    /// whole run has recorded so far.
    pub fn should_continue(&self, recorded_by_all: u64) -> bool {
        Instant::now() < self.deadlines.stop_at && recorded_by_all < self.deadlines.max_ops
    }

    /// Records an operation that ran from `started` to `ended`; returns
    /// whether it fell in the window (and so counts towards the op bound).
    pub fn record(&mut self, started: Instant, ended: Instant, outcome: Outcome) -> bool {
        if ended < self.deadlines.record_from {
            return false;
        }
        self.last_completion = Some(self.last_completion.map_or(ended, |last| last.max(ended)));
        let micros = ended.duration_since(started).as_micros();
        self.latencies_us
            .push(u32::try_from(micros).unwrap_or(u32::MAX));
        let message = match outcome {
            Outcome::Ok => {
                self.ok += 1;
                return true;
            }
            Outcome::Conflict(message) => {
                self.conflicts += 1;
                message
            }
            Outcome::Failed(message) => {
                self.failures += 1;
                message
            }
        };
        if self.errors.len() < KEPT_ERRORS && !self.errors.contains(&message) {
            self.errors.push(message);
        }
        true
    }
}

/// The merged result of a measurement.
#[derive(Clone, Debug, Default)]
pub struct Measurement {
    /// Successful operations in the window.
    pub ok: u64,
    /// Mutations that gave up after their conflict retries.
    pub conflicts: u64,
    /// Other failures.
    pub failures: u64,
    /// From the start of the window to the last recorded completion.
    pub elapsed: Duration,
    /// Median latency of all recorded operations.
    pub p50: Duration,
    /// 99th-percentile latency of all recorded operations.
    pub p99: Duration,
    /// A few distinct error messages.
    pub errors: Vec<String>,
    /// Mean transactions per group commit over the whole run (warm-up
    /// included), counted by the store's committer (`Store::commit_stats`);
    /// `None` when the workload does not go through our store.
    pub commits_per_group: Option<f64>,
}

impl Measurement {
    /// Merges the recorders of all callers of one run.
    pub fn merge(recorders: Vec<Recorder>) -> Self {
        let mut out = Measurement::default();
        let mut latencies = Vec::new();
        let mut record_from = None;
        let mut last = None;
        for r in recorders {
            record_from = Some(r.deadlines.record_from);
            out.ok += r.ok;
            out.conflicts += r.conflicts;
            out.failures += r.failures;
            latencies.extend(r.latencies_us);
            for e in r.errors {
                if out.errors.len() < KEPT_ERRORS && !out.errors.contains(&e) {
                    out.errors.push(e);
                }
            }
            last = last.max(r.last_completion);
        }
        if let (Some(from), Some(last)) = (record_from, last) {
            out.elapsed = last.saturating_duration_since(from);
        }
        latencies.sort_unstable();
        out.p50 = percentile(&latencies, 0.50);
        out.p99 = percentile(&latencies, 0.99);
        out
    }

    /// Successful operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// Conflicts plus other failures.
    pub fn all_failures(&self) -> u64 {
        self.conflicts + self.failures
    }
}

/// The `q` quantile of sorted microsecond latencies (nearest rank).
pub fn percentile(sorted_us: &[u32], q: f64) -> Duration {
    if sorted_us.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted_us.len() as f64) * q).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    Duration::from_micros(u64::from(sorted_us[index]))
}

/// Runs `op` in a loop on `callers` concurrent tokio tasks until the window
/// closes, and merges what they recorded. `op` gets the caller's number and
/// the caller's sequence number.
pub async fn run_concurrent<F, Fut>(
    callers: usize,
    window: Window,
    op: F,
) -> anyhow::Result<Measurement>
where
    F: Fn(usize, u64) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let deadlines = window.start();
    let recorded = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(callers);
    for caller in 0..callers {
        let op = op.clone();
        let recorded = recorded.clone();
        tasks.push(tokio::spawn(async move {
            let mut recorder = Recorder::new(deadlines);
            let mut seq = 0;
            while recorder.should_continue(recorded.load(Ordering::Relaxed)) {
                let started = Instant::now();
                let outcome = op(caller, seq).await;
                if recorder.record(started, Instant::now(), outcome) {
                    recorded.fetch_add(1, Ordering::Relaxed);
                }
                seq += 1;
            }
            recorder
        }));
    }
    let mut recorders = Vec::with_capacity(callers);
    for task in tasks {
        recorders.push(task.await?);
    }
    Ok(Measurement::merge(recorders))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let data: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&data, 0.5), Duration::from_micros(50));
        assert_eq!(percentile(&data, 0.99), Duration::from_micros(99));
        assert_eq!(percentile(&[7], 0.99), Duration::from_micros(7));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn warmup_operations_are_not_recorded() {
        let start = Instant::now();
        let deadlines = Deadlines {
            record_from: start + Duration::from_secs(1),
            stop_at: start + Duration::from_secs(2),
            max_ops: 10,
        };
        let mut r = Recorder::new(deadlines);
        assert!(!r.record(start, start + Duration::from_millis(500), Outcome::Ok));
        assert!(r.record(
            start,
            start + Duration::from_millis(1500),
            Outcome::Conflict("c".into())
        ));
        assert!(r.record(start, start + Duration::from_millis(1600), Outcome::Ok));
        let m = Measurement::merge(vec![r]);
        assert_eq!((m.ok, m.conflicts, m.failures), (1, 1, 0));
        assert_eq!(m.elapsed, Duration::from_millis(600));
    }
}
