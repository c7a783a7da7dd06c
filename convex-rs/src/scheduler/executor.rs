//! The executor: one background task per backend that starts due scheduled
//! calls (at most `concurrency` at once), ticks cron jobs, marks actions
//! interrupted by a crash as failed, and removes old finished rows.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use super::SchedulerConfig;
use super::api::system_transaction;
use super::cron::CronJob;
use super::job::{self, CRON_JOBS_TABLE, Job, JobState, SCHEDULED_FUNCTIONS_TABLE};
use crate::function::{Caller, FunctionError, FunctionKind, Identity, Runner};
use crate::store::{CommitInfo, IndexId};
use crate::value::DocumentId;

/// What an action interrupted by a stop or crash is marked failed with.
pub const INTERRUPTED_ACTION: &str = "Transient error while executing action: the server stopped while it ran; a scheduled action runs at most once, so it was not restarted";
/// How often old finished rows are looked for.
const CLEANUP_EVERY_MS: f64 = 3_600_000.0;
/// Rows removed per cleanup transaction.
const CLEANUP_BATCH: usize = 500;
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
        if let Err(e) = fail_interrupted_actions(&runner).await {
            tracing::error!(error = %e, "could not mark interrupted scheduled actions as failed");
        }
        if let Err(e) = sync_crons(&runner, &crons).await {
            tracing::error!(error = %e, "could not record the cron jobs");
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(runner, config, crons, stopped));
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

async fn run(
    runner: Runner,
    config: SchedulerConfig,
    crons: Vec<CronJob>,
    mut stopped: watch::Receiver<bool>,
) {
    let clock = runner.clock().clone();
    let watched = watched_indexes(&runner);
    let mut commits = runner.store().subscribe_commits();
    let mut running: JoinSet<DocumentId> = JoinSet::new();
    let mut in_flight: HashSet<DocumentId> = HashSet::new();
    let mut next_cleanup = clock.now_ms();
    let concurrency = config.concurrency.max(1);
    loop {
        if *stopped.borrow() {
            break;
        }
        let now = clock.now_ms();
        if now >= next_cleanup {
            if let Err(e) =
                remove_finished(&runner, now - config.retention.as_secs_f64() * 1000.0).await
            {
                tracing::warn!(error = %e, "could not remove old scheduled function rows");
            }
            next_cleanup = now + CLEANUP_EVERY_MS;
        }
        let next_cron = match tick_crons(&runner, &crons, now).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "could not run the cron jobs");
                Some(now + 1_000.0)
            }
        };
        let free = concurrency.saturating_sub(running.len());
        let next_job = if free == 0 {
            None // a finishing call wakes the loop
        } else {
            match due_jobs(&runner, now, free, &in_flight).await {
                Ok((due, next)) => {
                    for job in due {
                        in_flight.insert(job.id);
                        running.spawn(run_job(runner.clone(), job, stopped.clone()));
                    }
                    next
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the due scheduled functions");
                    Some(now + 1_000.0)
                }
            }
        };
        let wake_at = [next_cron, next_job, Some(next_cleanup)]
            .into_iter()
            .flatten()
            .fold(f64::INFINITY, f64::min);
        tokio::select! {
            _ = stopped.changed() => break,
            Some(done) = running.join_next(), if !running.is_empty() => {
                match done {
                    Ok(id) => { in_flight.remove(&id); }
                    Err(e) => {
                        tracing::error!(error = %e, "a scheduled call's task failed");
                        in_flight.clear(); // re-read from the table
                    }
                }
            }
            closed = relevant_commit(&mut commits, &watched) => if closed { break },
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

/// The indexes whose changes may make a job or cron due sooner.
fn watched_indexes(runner: &Runner) -> HashSet<IndexId> {
    let catalog = runner.store().catalog();
    [SCHEDULED_FUNCTIONS_TABLE, CRON_JOBS_TABLE]
        .into_iter()
        .filter_map(|name| catalog.table(name))
        .flat_map(|table| table.indexes.iter().copied().chain([table.by_id]))
        .collect()
}

/// Waits for a commit that wrote a job; `true` when the store closed.
async fn relevant_commit(
    commits: &mut broadcast::Receiver<std::sync::Arc<CommitInfo>>,
    watched: &HashSet<IndexId>,
) -> bool {
    loop {
        match commits.recv().await {
            Ok(info) if info.writes.iter().any(|(index, _)| watched.contains(index)) => {
                return false;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(_)) => return false,
            Err(broadcast::error::RecvError::Closed) => return true,
        }
    }
}

/// Up to `free` due jobs not already running, in due order, and when the
/// next one after them is due.
async fn due_jobs(
    runner: &Runner,
    now: f64,
    free: usize,
    in_flight: &HashSet<DocumentId>,
) -> Result<(Vec<Job>, Option<f64>), FunctionError> {
    let tx = runner.store().begin_read();
    let pending = job::pending_jobs(&tx, free + in_flight.len() + 1).await?;
    let mut due = Vec::new();
    for job in pending {
        if in_flight.contains(&job.id) {
            continue;
        }
        if job.row.scheduled_time > now {
            return Ok((due, Some(job.row.scheduled_time)));
        }
        if due.len() == free {
            return Ok((due, None));
        }
        due.push(job);
    }
    Ok((due, None))
}

/// Runs one job to its end; returns its id.
async fn run_job(runner: Runner, job: Job, stopped: watch::Receiver<bool>) -> DocumentId {
    let id = job.id;
    let kind = runner.resolve_any(&job.row.name).map(|f| f.entry.kind);
    let error = match kind {
        Err(f) => f.message,
        Ok(FunctionKind::Query) => {
            format!("{} is a query; queries cannot be scheduled", job.row.name)
        }
        Ok(FunctionKind::Action) => {
            run_action_job(&runner, job).await;
            return id;
        }
        Ok(FunctionKind::Mutation) => {
            let outcome = runner
                .run_scheduled_mutation(id, &job.row.name, job.args())
                .await;
            match outcome.result {
                Ok(_) => return id,
                // Shutting down: left pending, it runs after the restart.
                Err(_) if *stopped.borrow() => return id,
                Err(f) => f.message,
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
    if let Err(e) = marked {
        tracing::error!(job = %id, error = %e, "could not mark a scheduled function failed");
    }
    id
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
    let outcome = runner
        .run_action(
            &job.row.name,
            job.args(),
            Identity::Unauthenticated,
            Caller::Function,
        )
        .await;
    let state = match outcome.result {
        Ok(_) => JobState::Success,
        Err(f) => JobState::Failed { error: f.message },
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
                let jobs = job::jobs_in_state(tx, "inProgress", None, CLEANUP_BATCH).await?;
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
                    // Finished after it was scheduled, so finished before the
                    // cutoff means scheduled before it too.
                    let jobs = job::jobs_in_state(tx, kind, Some(cutoff_ms), CLEANUP_BATCH).await?;
                    let mut removed = 0;
                    for job in &jobs {
                        if job.row.completed_time.is_some_and(|t| t < cutoff_ms) {
                            tx.delete(job.id).await?;
                            removed += 1;
                        }
                    }
                    Ok((jobs.len(), removed))
                })
            })
            .await?;
            if removed.0 < CLEANUP_BATCH || removed.1 == 0 {
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

/// Starts the runs of the cron jobs that are due; returns the next run time
/// of any cron job.
async fn tick_crons(
    runner: &Runner,
    crons: &[CronJob],
    now: f64,
) -> Result<Option<f64>, FunctionError> {
    if crons.is_empty() {
        return Ok(None);
    }
    let rows = job::cron_rows(&runner.store().begin_read()).await?;
    let mut next: Option<f64> = None;
    for (id, row) in rows {
        let mut next_run = row.next_run;
        if row.next_run <= now {
            let Some(cron) = crons.iter().find(|c| c.name == row.name) else {
                continue;
            };
            next_run = tick(runner, cron, id, now).await?;
        }
        next = Some(next.map_or(next_run, |n| n.min(next_run)));
    }
    Ok(next)
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
