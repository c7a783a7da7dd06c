//! `ctx.scheduler()`: scheduling calls from mutations (inside their
//! transaction) and from actions (each call committed at once).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::job::{self, JobState, SCHEDULED_FUNCTIONS_TABLE, ScheduledFunction};
use crate::function::system_transaction;
use crate::function::{FunctionError, FunctionInfo, FunctionKind, Runner};
use crate::store::Transaction;
use crate::value::{DocumentId, Id, Value, to_value};

/// The most calls one mutation may schedule.
pub const MAX_SCHEDULED_CALLS: usize = 1_000;
/// The largest total size of the arguments one mutation may schedule.
pub const MAX_SCHEDULED_ARGS_BYTES: usize = 16 << 20;

/// What a mutation has scheduled so far (per attempt), for the limits.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    calls: usize,
    args_bytes: usize,
}

impl Budget {
    /// How many calls were scheduled.
    pub(crate) fn calls(&self) -> usize {
        self.calls
    }
}

enum Target<'a> {
    /// Scheduling is part of a mutation's transaction.
    Transaction {
        tx: &'a Transaction,
        budget: &'a Mutex<Budget>,
    },
    /// An action's scheduling commits at once.
    Immediate,
}

/// Schedules function calls to run later: `ctx.scheduler()` in mutations
/// and actions.
///
/// In a mutation, scheduling is part of its transaction: if the mutation
/// fails (or is retried after a conflict) nothing it scheduled remains. In
/// an action each call is recorded at once. A scheduled mutation runs
/// exactly once; a scheduled action at most once. Scheduled functions run
/// without a user identity.
///
/// ```
/// use std::time::Duration;
/// use convex_rs::prelude::*;
///
/// mod messages {
///     use super::*;
///
///     #[internal_mutation]
///     pub async fn deliver(ctx: &MutationCtx, body: String) -> Result<(), FunctionError> {
///         ctx.log(body);
///         Ok(())
///     }
///
///     #[mutation]
///     pub async fn send_later(
///         ctx: &MutationCtx,
///         body: String,
///         delay_ms: f64,
///     ) -> Result<Id<ScheduledFunction>, FunctionError> {
///         let delay = Duration::from_millis(delay_ms.max(0.0) as u64);
///         ctx.scheduler().run_after::<deliver>(delay, DeliverArgs { body }).await
///     }
/// }
/// # fn main() {
/// # let _ = App::builder().functions_from(module_path!()).build();
/// # }
/// ```
pub struct Scheduler<'a> {
    runner: &'a Runner,
    target: Target<'a>,
}

impl<'a> Scheduler<'a> {
    pub(crate) fn in_transaction(
        runner: &'a Runner,
        tx: &'a Transaction,
        budget: &'a Mutex<Budget>,
    ) -> Self {
        Scheduler {
            runner,
            target: Target::Transaction { tx, budget },
        }
    }

    pub(crate) fn immediate(runner: &'a Runner) -> Self {
        Scheduler {
            runner,
            target: Target::Immediate,
        }
    }

    /// Schedules `F` (a mutation or action of this app, public or internal)
    /// to run with `args` once `delay` has passed.
    pub async fn run_after<F: FunctionInfo>(
        &self,
        delay: Duration,
        args: F::Args,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        let path = self.path_of::<F>()?;
        let at = self.runner.clock().now_ms() + duration_ms(delay);
        self.schedule(&path, to_value(&args)?, at).await
    }

    /// Schedules `F` to run with `args` at `time` (at once if it has passed).
    pub async fn run_at<F: FunctionInfo>(
        &self,
        time: SystemTime,
        args: F::Args,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        let path = self.path_of::<F>()?;
        self.schedule(&path, to_value(&args)?, system_time_ms(time)?)
            .await
    }

    /// [`run_after`](Self::run_after) by function path (`"messages:send"`)
    /// with untyped arguments, for dynamic use.
    pub async fn run_after_by_path(
        &self,
        delay: Duration,
        path: &str,
        args: Value,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        let at = self.runner.clock().now_ms() + duration_ms(delay);
        self.schedule(path, args, at).await
    }

    /// [`run_at`](Self::run_at) by function path with untyped arguments.
    pub async fn run_at_by_path(
        &self,
        time: SystemTime,
        path: &str,
        args: Value,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        self.schedule(path, args, system_time_ms(time)?).await
    }

    /// Cancels a scheduled call. A pending call will not run; an action
    /// already running finishes, but its job is recorded as canceled. A call
    /// that already finished (or whose row was removed, 7 days after it
    /// finished) is left as it is. An id of another table is an error.
    pub async fn cancel(&self, id: Id<ScheduledFunction>) -> Result<(), FunctionError> {
        let id = id.document_id();
        let table = self
            .runner
            .store()
            .catalog()
            .table(SCHEDULED_FUNCTIONS_TABLE)
            .map(|t| t.number);
        if table != Some(id.table) {
            return Err(FunctionError::message(format!(
                "cannot cancel {id}: it is not an id of {SCHEDULED_FUNCTIONS_TABLE}"
            )));
        }
        let now = self.runner.clock().now_ms();
        match self.target {
            Target::Transaction { tx, .. } => cancel_in(tx, id, now).await,
            Target::Immediate => {
                system_transaction(self.runner.store(), move |tx| {
                    Box::pin(cancel_in(tx, id, now))
                })
                .await
            }
        }
    }

    fn path_of<F: FunctionInfo>(&self) -> Result<String, FunctionError> {
        self.runner
            .registry()
            .path_of(F::ENTRY)
            .map(ToString::to_string)
            .ok_or_else(|| {
                FunctionError::message(format!(
                    "cannot schedule {}: it is not registered in this app",
                    F::ENTRY.name
                ))
            })
    }

    async fn schedule(
        &self,
        path: &str,
        args: Value,
        at_ms: f64,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        let function = self
            .runner
            .resolve_any(path)
            .map_err(|f| FunctionError::message(f.message))?;
        if function.entry.kind == FunctionKind::Query {
            return Err(FunctionError::message(format!(
                "cannot schedule {path}: it is a query; only mutations and actions can be scheduled"
            )));
        }
        let name = function.path.to_string();
        self.runner.check_args(function, &args).map_err(|f| {
            FunctionError::message(format!("cannot schedule {name}: {}", f.message))
        })?;
        let id = match self.target {
            Target::Transaction { tx, budget } => {
                charge(budget, args.size())?;
                job::insert_job(tx, name, args, at_ms)?
            }
            Target::Immediate => {
                let id = system_transaction(self.runner.store(), move |tx| {
                    let (name, args) = (name.clone(), args.clone());
                    Box::pin(async move { job::insert_job(tx, name, args, at_ms) })
                })
                .await?;
                self.runner.scheduler_wakeup().notify_one();
                id
            }
        };
        Ok(Id::new(id))
    }
}

/// Counts one scheduled call of `args_bytes` against the mutation's limits.
fn charge(budget: &Mutex<Budget>, args_bytes: usize) -> Result<(), FunctionError> {
    let mut budget = budget.lock().unwrap_or_else(PoisonError::into_inner);
    if budget.calls >= MAX_SCHEDULED_CALLS {
        return Err(FunctionError::message(format!(
            "too many scheduled calls: one mutation may schedule at most {MAX_SCHEDULED_CALLS}; schedule a mutation that schedules the rest"
        )));
    }
    let total = budget.args_bytes + args_bytes;
    if total > MAX_SCHEDULED_ARGS_BYTES {
        return Err(FunctionError::message(format!(
            "the arguments of the calls this mutation schedules total {total} bytes; the limit is {MAX_SCHEDULED_ARGS_BYTES}"
        )));
    }
    budget.calls += 1;
    budget.args_bytes = total;
    Ok(())
}

async fn cancel_in(tx: &Transaction, id: DocumentId, now_ms: f64) -> Result<(), FunctionError> {
    // A missing row finished long ago (rows are removed 7 days after they
    // finish): like a finished one, there is nothing to cancel.
    let Some(job) = job::read_job(tx, id).await? else {
        return Ok(());
    };
    if job.row.state.is_final() {
        return Ok(());
    }
    job::set_state(tx, &job, JobState::Canceled, now_ms).await
}

fn duration_ms(delay: Duration) -> f64 {
    delay.as_secs_f64() * 1000.0
}

fn system_time_ms(time: SystemTime) -> Result<f64, FunctionError> {
    time.duration_since(UNIX_EPOCH)
        .map(duration_ms)
        .map_err(|_| FunctionError::message("cannot schedule a call before 1970"))
}
