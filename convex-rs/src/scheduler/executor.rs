//! The executor: one background task per backend that starts due scheduled
//! calls (at most `concurrency` at once), ticks cron jobs, marks actions
//! interrupted by a crash as failed, and removes old finished rows.

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::SchedulerConfig;
use super::cron::CronJob;
use super::job::{self, CRON_JOBS_TABLE, Job, JobState};
use crate::function::system_transaction;
use crate::function::{Caller, FailureKind, FunctionError, FunctionKind, Identity, Runner};
use crate::value::DocumentId;

/// What an action interrupted by a stop or crash is marked failed with.
pub const INTERRUPTED_ACTION: &str = "Transient error while executing action: the server stopped while it ran; a scheduled action runs at most once, so it was not restarted";
/// How often old finished rows are looked for.
const CLEANUP_EVERY_MS: f64 = 3_600_000.0;
/// Rows removed per cleanup transaction.
const CLEANUP_BATCH: usize = 500;
/// How many times a scheduled mutation is run when it keeps failing on
/// transient errors, before it is marked failed.
const TRANSIENT_ATTEMPTS: u32 = 5;
/// The pause after the first transient failure; doubled each time.
const TRANSIENT_PAUSE_MS: f64 = 500.0;
/// How long a stop waits for running calls before abandoning them.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// The running executor of one backend.
pub(crate) struct Executor {
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Executor {
    /// Marks actions interrupted by the last stop as failed, records the
    /// cron jobs, then starts the executor's task.
    pub(crate) async fn start(
        runner: Runner,
        config: SchedulerConfig,
        crons: Vec<CronJob>,
    ) -> Executor {
        let set_up = set_up_once(&runner, &crons).await;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(runner, config, crons, stopped, set_up));
        Executor {
            stop,
            task: Mutex::new(Some(task)),
        }
    }

    /// Stops starting calls and waits (a few seconds at most) for the
    /// running ones. An action still running stays in progress and is
    /// marked failed at the next start.
    pub(crate) async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(e) = task.await
        {
            tracing::warn!(error = %e, "the scheduler's task failed");
        }
    }
}

impl Drop for Executor {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// How a job's run ended, for the executor's bookkeeping.
enum JobEnd {
    /// Done (or left for another time, such as after a restart).
    Done,
    /// Failed on a transient error (a conflict beyond the retries, a system
    /// error): still pending, to be tried again after a pause.
    Retry,
}

/// Runs that ended in a transient error, with when to try them again.
#[derive(Default)]
struct Backoff {
    jobs: HashMap<DocumentId, (u32, f64)>,
}

impl Backoff {
    fn attempts(&self, id: &DocumentId) -> u32 {
        self.jobs.get(id).map_or(0, |(attempts, _)| *attempts)
    }

    fn not_before(&self, id: &DocumentId) -> Option<f64> {
        self.jobs.get(id).map(|(_, at)| *at)
    }

    fn failed(&mut self, id: DocumentId, now: f64) {
        let attempts = self.attempts(&id) + 1;
        let pause = TRANSIENT_PAUSE_MS * f64::from(1_u32 << attempts.min(10));
        self.jobs.insert(id, (attempts, now + pause));
    }
}

async fn run(
    runner: Runner,
    config: SchedulerConfig,
    crons: Vec<CronJob>,
    mut stopped: watch::Receiver<bool>,
    mut set_up: bool,
) {
    let clock = runner.clock().clone();
    let mut running: JoinSet<(DocumentId, JobEnd)> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, DocumentId> = HashMap::new();
    let mut backoff = Backoff::default();
    let mut next_cleanup = clock.now_ms();
    let mut next_cron: Option<f64> = None;
    let concurrency = config.concurrency.max(1);
    loop {
        if *stopped.borrow() {
            break;
        }
        let now = clock.now_ms();
        let mut retry_setup = None;
        if !set_up {
            set_up = set_up_once(&runner, &crons).await;
            next_cron = None; // the rows may have changed: read them again
            retry_setup = (!set_up).then_some(now + 1_000.0);
        }
        if now >= next_cleanup {
            let cutoff = now - config.retention.as_secs_f64() * 1000.0;
            if let Err(e) = remove_finished(&runner, cutoff).await {
                tracing::warn!(error = %e, "could not remove old scheduled function rows");
            }
            next_cleanup = now + CLEANUP_EVERY_MS;
        }
        // Only this executor changes `_cron_jobs` after setup, so the next
        // run time it computed holds until then: no read of the table on
        // every wake-up.
        if now >= next_cron.unwrap_or(f64::NEG_INFINITY) {
            next_cron = tick_crons(&runner, &crons, now).await;
        }
        let free = concurrency.saturating_sub(running.len());
        let next_job = if free == 0 {
            None // a finishing call wakes the loop
        } else {
            let in_flight: HashSet<DocumentId> = tasks.values().copied().collect();
            match due_jobs(&runner, now, free, &in_flight, &backoff).await {
                Ok((due, next)) => {
                    for job in due {
                        let (id, attempt) = (job.id, backoff.attempts(&job.id));
                        let task =
                            running.spawn(run_job(runner.clone(), job, attempt, stopped.clone()));
                        tasks.insert(task.id(), id);
                    }
                    next
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the due scheduled functions");
                    Some(now + 1_000.0)
                }
            }
        };
        let wake_at = [next_cron, next_job, Some(next_cleanup), retry_setup]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        tokio::select! {
            _ = stopped.changed() => break,
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let task = match &done {
                    Ok((task, _)) => *task,
                    Err(e) => e.id(),
                };
                let id = tasks.remove(&task);
                match done {
                    Ok((_, (id, JobEnd::Done))) => { backoff.jobs.remove(&id); }
                    Ok((_, (id, JobEnd::Retry))) => backoff.failed(id, clock.now_ms()),
                    // Panics are caught inside the task; this is a cancellation.
                    Err(e) => tracing::error!(error = %e, job = ?id, "a scheduled call's task ended abnormally"),
                }
            }
            () = runner.scheduler_wakeup().notified() => {}
            _ = clock.sleep_until(wake_at) => {}
        }
    }
    // Let running calls finish (a mutation commits or not; an action may
    // be cut off and is then marked failed at the next start).
    let drained = tokio::time::timeout(STOP_GRACE, async {
        while running.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            running = running.len(),
            "scheduled calls still running at shutdown were abandoned"
        );
        running.shutdown().await;
    }
}

/// What a start does before the loop: fails the actions the last stop
/// interrupted and records the cron jobs. `false` when either failed (it is
/// tried again).
async fn set_up_once(runner: &Runner, crons: &[CronJob]) -> bool {
    let mut ok = true;
    if let Err(e) = fail_interrupted_actions(runner).await {
        tracing::error!(error = %e, "could not mark interrupted scheduled actions as failed; trying again");
        ok = false;
    }
    if let Err(e) = sync_crons(runner, crons).await {
        tracing::error!(error = %e, "could not record the cron jobs; trying again");
        ok = false;
    }
    ok
}

/// Up to `free` due jobs not already running nor pausing after a transient
/// failure, in due order, and when the next one after them is due.
async fn due_jobs(
    runner: &Runner,
    now: f64,
    free: usize,
    in_flight: &HashSet<DocumentId>,
    backoff: &Backoff,
) -> Result<(Vec<Job>, Option<f64>), FunctionError> {
    let tx = runner.store().begin_read();
    let skipped = in_flight.len() + backoff.jobs.len();
    let pending = job::pending_jobs(&tx, free + skipped + 1).await?;
    let mut due = Vec::new();
    let mut next: Option<f64> = None;
    let mut earliest = |at: f64| next = Some(next.map_or(at, |n: f64| n.min(at)));
    for job in pending {
        if in_flight.contains(&job.id) {
            continue;
        }
        if let Some(at) = backoff.not_before(&job.id).filter(|at| *at > now) {
            earliest(at);
            continue;
        }
        if job.row.scheduled_time > now {
            earliest(job.row.scheduled_time);
            break;
        }
        if due.len() == free {
            break;
        }
        due.push(job);
    }
    Ok((due, next))
}

/// The message of a caught panic.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    format!("the function panicked: {text}")
}

/// Runs one job to its end (a panic in the function fails the job);
/// returns its id and whether to try it again later.
async fn run_job(
    runner: Runner,
    job: Job,
    attempt: u32,
    stopped: watch::Receiver<bool>,
) -> (DocumentId, JobEnd) {
    let id = job.id;
    let kind = runner.resolve_any(&job.row.name).map(|f| f.entry.kind);
    let error = match kind {
        Err(f) => f.message,
        Ok(FunctionKind::Query) => {
            format!("{} is a query; queries cannot be scheduled", job.row.name)
        }
        Ok(FunctionKind::Action) => {
            run_action_job(&runner, job).await;
            return (id, JobEnd::Done);
        }
        Ok(FunctionKind::Mutation) => {
            let run = runner.run_scheduled_mutation(id, &job.row.name, job.args());
            match AssertUnwindSafe(run).catch_unwind().await {
                Err(panic) => panic_message(&*panic),
                Ok(outcome) => match outcome.result {
                    Ok(_) => return (id, JobEnd::Done),
                    // Shutting down: left pending, it runs after the restart.
                    Err(_) if *stopped.borrow() => return (id, JobEnd::Done),
                    Err(f) if is_transient(f.kind) => {
                        if attempt + 1 < TRANSIENT_ATTEMPTS {
                            tracing::warn!(job = %id, error = %f.message, "a scheduled mutation failed on a transient error; it will be tried again");
                            return (id, JobEnd::Retry);
                        }
                        format!("{} (tried {TRANSIENT_ATTEMPTS} times)", f.message)
                    }
                    Err(f) => f.message,
                },
            }
        }
    };
    let now = runner.clock().now_ms();
    let marked = system_transaction(runner.store(), |tx| {
        let error = error.clone();
        Box::pin(async move {
            if let Some(job) = job::read_job(tx, id).await?
                && job.row.state == JobState::Pending
            {
                job::set_state(tx, &job, JobState::Failed { error }, now).await?;
            }
            Ok(())
        })
    })
    .await;
    match marked {
        Ok(()) => (id, JobEnd::Done),
        Err(e) => {
            tracing::error!(job = %id, error = %e, "could not mark a scheduled function failed");
            (id, JobEnd::Retry)
        }
    }
}

/// Errors that say nothing about the function: the store was busy or
/// failed. The run is tried again rather than marked failed.
fn is_transient(kind: FailureKind) -> bool {
    matches!(kind, FailureKind::Conflict | FailureKind::System)
}

/// An action: marked in progress (so it never starts twice), run, then
/// marked done unless it was canceled meanwhile.
async fn run_action_job(runner: &Runner, job: Job) {
    let id = job.id;
    let now = runner.clock().now_ms();
    let claimed = system_transaction(runner.store(), |tx| {
        Box::pin(async move {
            let Some(job) = job::read_job(tx, id).await? else {
                return Ok(None);
            };
            if job.row.state != JobState::Pending {
                return Ok(None);
            }
            job::set_state(tx, &job, JobState::InProgress, now).await?;
            Ok(Some(job))
        })
    })
    .await;
    let job = match claimed {
        Ok(Some(job)) => job,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(job = %id, error = %e, "could not start a scheduled action");
            return;
        }
    };
    let run = runner.run_action(
        &job.row.name,
        job.args(),
        Identity::Unauthenticated,
        Caller::Function,
    );
    let state = match AssertUnwindSafe(run).catch_unwind().await {
        Err(panic) => JobState::Failed {
            error: panic_message(&*panic),
        },
        Ok(outcome) => match outcome.result {
            Ok(_) => JobState::Success,
            Err(f) => JobState::Failed { error: f.message },
        },
    };
    let now = runner.clock().now_ms();
    let finished = system_transaction(runner.store(), |tx| {
        let state = state.clone();
        Box::pin(async move {
            if let Some(job) = job::read_job(tx, id).await?
                && job.row.state == JobState::InProgress
            {
                job::set_state(tx, &job, state, now).await?;
            }
            Ok(())
        })
    })
    .await;
    if let Err(e) = finished {
        tracing::error!(job = %id, error = %e, "could not record a scheduled action's end");
    }
}

/// Actions left in progress by a stop or crash: they did not finish, and are
/// not started again (at most once), so they are marked failed.
async fn fail_interrupted_actions(runner: &Runner) -> Result<(), FunctionError> {
    let now = runner.clock().now_ms();
    loop {
        let marked = system_transaction(runner.store(), |tx| {
            Box::pin(async move {
                let jobs = job::jobs_in_state(tx, "inProgress", CLEANUP_BATCH).await?;
                for job in &jobs {
                    let failed = JobState::Failed {
                        error: INTERRUPTED_ACTION.to_string(),
                    };
                    job::set_state(tx, job, failed, now).await?;
                }
                Ok(jobs.len())
            })
        })
        .await?;
        if marked < CLEANUP_BATCH {
            return Ok(());
        }
    }
}

/// Removes jobs that finished before `cutoff_ms`.
async fn remove_finished(runner: &Runner, cutoff_ms: f64) -> Result<(), FunctionError> {
    for kind in ["success", "failed", "canceled"] {
        loop {
            let removed = system_transaction(runner.store(), |tx| {
                Box::pin(async move {
                    let jobs = job::finished_before(tx, kind, cutoff_ms, CLEANUP_BATCH).await?;
                    for job in &jobs {
                        tx.delete(job.id).await?;
                    }
                    Ok(jobs.len())
                })
            })
            .await?;
            if removed < CLEANUP_BATCH {
                break;
            }
        }
    }
    Ok(())
}

/// Makes `_cron_jobs` match the declared cron jobs: new ones get their first
/// run time, changed ones a new one, removed ones are deleted.
async fn sync_crons(runner: &Runner, crons: &[CronJob]) -> Result<(), FunctionError> {
    let now = runner.clock().now_ms();
    system_transaction(runner.store(), |tx| {
        let crons = crons.to_vec();
        Box::pin(async move {
            let rows = job::cron_rows(tx).await?;
            for (id, row) in &rows {
                if !crons.iter().any(|c| c.name == row.name) {
                    tx.delete(*id).await?;
                }
            }
            for cron in &crons {
                let existing = rows.iter().find(|(_, row)| row.name == cron.name);
                let schedule = cron.schedule.describe();
                if let Some((_, row)) = existing
                    && row.schedule == schedule
                    && row.function_name == cron.path
                    && row.args == cron.args
                {
                    continue;
                }
                let next_run = cron
                    .schedule
                    .next_after(None, now)
                    .map_err(FunctionError::message)?;
                let row = job::CronJobRow {
                    name: cron.name.clone(),
                    schedule,
                    function_name: cron.path.clone(),
                    args: cron.args.clone(),
                    last_run: existing.and_then(|(_, row)| row.last_run),
                    next_run,
                    current_job: existing.and_then(|(_, row)| row.current_job.clone()),
                };
                job::put_cron_row(tx, existing.map(|(id, _)| *id), &row).await?;
            }
            Ok(())
        })
    })
    .await
}

/// Starts the runs of the cron jobs that are due; returns when to look
/// again (the next run time of any cron job, or soon after a failure; one
/// job's failure does not hold up the others).
async fn tick_crons(runner: &Runner, crons: &[CronJob], now: f64) -> Option<f64> {
    if crons.is_empty() {
        return None;
    }
    let retry = now + 1_000.0;
    let rows = match job::cron_rows(&runner.store().begin_read()).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the cron jobs");
            return Some(retry);
        }
    };
    let mut next: Option<f64> = None;
    for (id, row) in rows {
        let mut next_run = row.next_run;
        if row.next_run <= now {
            let Some(cron) = crons.iter().find(|c| c.name == row.name) else {
                continue;
            };
            next_run = tick(runner, cron, id, now).await.unwrap_or_else(|e| {
                tracing::warn!(cron = %cron.name, error = %e, "could not start a cron job's run");
                retry
            });
        }
        next = Some(next.map_or(next_run, |n| n.min(next_run)));
    }
    next
}

/// One cron tick, in one transaction: schedules a run unless the previous
/// run is still pending or running, and moves the next run time past now.
async fn tick(
    runner: &Runner,
    cron: &CronJob,
    row_id: DocumentId,
    now: f64,
) -> Result<f64, FunctionError> {
    system_transaction(runner.store(), |tx| {
        let cron = cron.clone();
        Box::pin(async move {
            let Some(doc) = tx.get(row_id).await? else {
                return Ok(f64::INFINITY);
            };
            let mut row: job::CronJobRow = crate::value::from_value(crate::value::Value::Object(doc.fields))
                .map_err(|e| FunctionError::system(format!("a {CRON_JOBS_TABLE} row is malformed: {e}")))?;
            if row.next_run > now {
                return Ok(row.next_run);
            }
            let previous_running = match row.current_job.as_deref().and_then(|id| DocumentId::decode(id).ok()) {
                Some(previous) => job::read_job(tx, previous)
                    .await?
                    .is_some_and(|job| !job.row.state.is_final()),
                None => false,
            };
            if previous_running {
                tracing::info!(cron = %cron.name, "the previous run is still going; skipping this one");
            } else {
                let id = job::insert_job(tx, cron.path.clone(), cron.args.clone(), now)?;
                row.current_job = Some(id.encode());
                row.last_run = Some(now);
            }
            row.next_run = cron
                .schedule
                .next_after(Some(row.next_run), now)
                .map_err(FunctionError::message)?;
            let next_run = row.next_run;
            job::put_cron_row(tx, Some(row_id), &row).await?;
            Ok(next_run)
        })
    })
    .await
}
