//! Scheduled functions and cron jobs.
//!
//! Mutations and actions schedule calls with [`Scheduler`]
//! (`ctx.scheduler()`); the app declares [`Crons`]. Every call is a row of
//! the system table `_scheduled_functions` ([`ScheduledFunction`]), which
//! queries read with `ctx.db().system()` and which is reactive like any
//! table. A background executor per backend starts due calls:
//!
//! * a scheduled **mutation** runs in one transaction with its row's change
//!   from pending to success, so it commits exactly once, across crashes and
//!   concurrent executors; a failure (after conflict retries) marks it failed
//!   with the error message;
//! * a scheduled **action** is marked in progress in its own transaction
//!   before it starts, so it never starts twice; one cut off by a crash is
//!   marked failed at the next start ([`INTERRUPTED_ACTION`]).
//!
//! Finished rows are kept for [`SchedulerConfig::retention`] (7 days), then
//! removed. Time comes from a [`Clock`], which tests replace with a
//! [`ManualClock`].

mod api;
mod clock;
mod cron;
mod executor;
mod job;

use std::time::Duration;

pub(crate) use api::Budget;
pub use api::{MAX_SCHEDULED_ARGS_BYTES, MAX_SCHEDULED_CALLS, Scheduler};
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub(crate) use cron::CronJob;
pub use cron::{CronError, Crons, MIN_CRON_INTERVAL, Weekday};
pub(crate) use executor::Executor;
pub use executor::INTERRUPTED_ACTION;
pub use job::{
    BY_STATE, CRON_JOBS_TABLE, CronJobRow, JobState, SCHEDULED_FUNCTIONS_TABLE, ScheduledFunction,
};
pub(crate) use job::{read_job, set_state, system_tables};

/// How many scheduled calls run at once, by default.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// How long finished rows of `_scheduled_functions` are kept, by default.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Settings of a backend's scheduler.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Whether this backend runs due calls and cron jobs at all (a backend
    /// opened only to inspect data, or a second process on the same
    /// database, may leave that to another).
    pub enabled: bool,
    /// The most scheduled calls running at once.
    pub concurrency: usize,
    /// How long finished rows are kept.
    pub retention: Duration,
    /// Where time comes from.
    pub clock: SharedClock,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            enabled: true,
            concurrency: DEFAULT_CONCURRENCY,
            retention: DEFAULT_RETENTION,
            clock: SharedClock::system(),
        }
    }
}
