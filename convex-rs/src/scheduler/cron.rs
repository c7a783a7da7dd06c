//! Cron jobs: functions declared in the app to run on a cadence.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::function::{FunctionEntry, FunctionInfo, FunctionKind, Registry};
use crate::value::{Value, to_value};

/// A day of the week, for [`Crons::weekly`].
pub use chrono::Weekday;

/// The shortest interval of [`Crons::interval`].
pub const MIN_CRON_INTERVAL: Duration = Duration::from_secs(1);
/// The longest cron job name.
const MAX_CRON_NAME: usize = 128;

/// Why a cron job could not be declared; reported by `App::build`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("cron job {name:?}: {reason}")]
pub struct CronError {
    /// The cron job's name.
    pub name: String,
    /// What is wrong with it.
    pub reason: String,
}

/// When a cron job runs.
#[derive(Clone)]
pub(crate) enum Schedule {
    /// Every so often, keeping its cadence.
    Interval(Duration),
    /// At the times a cron expression (UTC) names.
    Cron {
        expression: String,
        cron: Box<croner::Cron>,
    },
}

impl fmt::Debug for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Schedule {
    fn cron(expression: &str) -> Result<Schedule, String> {
        let cron = croner::Cron::from_str(expression)
            .map_err(|e| format!("invalid cron expression {expression:?}: {e}"))?;
        Ok(Schedule::Cron {
            expression: expression.to_string(),
            cron: Box::new(cron),
        })
    }

    /// A standard five-field expression (minute hour day-of-month month
    /// day-of-week); croner alone would also accept six fields (seconds).
    fn five_field(expression: &str) -> Result<Schedule, String> {
        if expression.split_whitespace().count() != 5 {
            return Err(format!(
                "invalid cron expression {expression:?}: expected five fields (minute hour day-of-month month day-of-week)"
            ));
        }
        Schedule::cron(expression)
    }

    /// The schedule as text, as stored in `_cron_jobs`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Schedule::Interval(every) => format!("every {} ms", every.as_millis()),
            Schedule::Cron { expression, .. } => expression.clone(),
        }
    }

    /// The next run after `now_ms`. An interval keeps the cadence of the
    /// previously planned run (`planned_ms`) when there is one, skipping the
    /// ticks missed meanwhile; a cron expression names its next time after now.
    pub(crate) fn next_after(&self, planned_ms: Option<f64>, now_ms: f64) -> Result<f64, String> {
        match self {
            Schedule::Interval(every) => {
                let every = every.as_secs_f64() * 1000.0;
                Ok(match planned_ms {
                    Some(planned) if planned <= now_ms => {
                        let missed = ((now_ms - planned) / every).floor() + 1.0;
                        planned + missed * every
                    }
                    Some(planned) => planned,
                    None => now_ms + every,
                })
            }
            Schedule::Cron { expression, cron } => {
                let now = DateTime::<Utc>::from_timestamp_millis(now_ms as i64)
                    .ok_or_else(|| format!("time {now_ms} ms is out of range"))?;
                let next = cron
                    .find_next_occurrence(&now, false)
                    .map_err(|e| format!("{expression:?} has no next run after {now}: {e}"))?;
                Ok(next.timestamp_millis() as f64)
            }
        }
    }
}

enum CronFunction {
    Typed(&'static FunctionEntry),
    Path(String),
}

struct Declaration {
    name: String,
    schedule: Result<Schedule, String>,
    function: CronFunction,
    args: Result<Value, String>,
}

/// The cron jobs of an app, declared with [`App::builder().crons(..)`](crate::app::AppBuilder::crons).
///
/// Times are UTC. A run is a scheduled call (it appears in
/// `_scheduled_functions`); a cron job's next run does not start while its
/// previous one is still pending or running, and after downtime a job that
/// missed runs runs once, not once per missed time. Each job is recorded in
/// the system table `_cron_jobs` (name, schedule, last and next run).
///
/// ```
/// use std::time::Duration;
/// use convex_rs::prelude::*;
/// use convex_rs::scheduler::{Crons, Weekday};
///
/// mod cleanup {
///     use super::*;
///
///     #[internal_mutation]
///     pub async fn expired(ctx: &MutationCtx) -> Result<(), FunctionError> {
///         ctx.log("cleaning up");
///         Ok(())
///     }
/// }
///
/// # fn main() {
/// let crons = Crons::new()
///     .interval::<cleanup::expired>("every ten minutes", Duration::from_secs(600), cleanup::ExpiredArgs {})
///     .daily::<cleanup::expired>("nightly", 3, 30, cleanup::ExpiredArgs {})
///     .weekly::<cleanup::expired>("mondays", Weekday::Mon, 9, 0, cleanup::ExpiredArgs {})
///     .cron::<cleanup::expired>("first of the month", "0 4 1 * *", cleanup::ExpiredArgs {});
/// let app = App::builder().functions_from(module_path!()).crons(crons).build();
/// assert!(app.is_ok());
/// # }
/// ```
#[derive(Default)]
pub struct Crons {
    declarations: Vec<Declaration>,
}

impl fmt::Debug for Crons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.declarations.iter().map(|d| &d.name))
            .finish()
    }
}

fn in_range(what: &str, value: u32, max: u32, min: u32) -> Result<(), String> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(format!("{what} must be {min} to {max}, not {value}"))
    }
}

/// Checks an `hour:minute` time of day.
fn time_of_day(hour: u32, minute: u32) -> Result<(), String> {
    in_range("the hour", hour, 23, 0).and_then(|()| in_range("the minute", minute, 59, 0))
}

impl Crons {
    /// No cron jobs.
    pub fn new() -> Self {
        Self::default()
    }

    fn push<F: FunctionInfo>(
        mut self,
        name: &str,
        schedule: Result<Schedule, String>,
        args: F::Args,
    ) -> Self {
        self.declarations.push(Declaration {
            name: name.to_string(),
            schedule,
            function: CronFunction::Typed(F::ENTRY),
            args: to_value(&args).map_err(|e| format!("cannot encode the arguments: {e}")),
        });
        self
    }

    /// Runs `F` every `every` (at least one second), the first time one
    /// interval after the job is first deployed.
    pub fn interval<F: FunctionInfo>(self, name: &str, every: Duration, args: F::Args) -> Self {
        let schedule = if every < MIN_CRON_INTERVAL {
            Err(format!(
                "the interval must be at least 1 second, not {} ms",
                every.as_millis()
            ))
        } else {
            Ok(Schedule::Interval(every))
        };
        self.push::<F>(name, schedule, args)
    }

    /// Runs `F` every hour at `minute_utc`.
    pub fn hourly<F: FunctionInfo>(self, name: &str, minute_utc: u32, args: F::Args) -> Self {
        let schedule = in_range("the minute", minute_utc, 59, 0)
            .and_then(|()| Schedule::cron(&format!("{minute_utc} * * * *")));
        self.push::<F>(name, schedule, args)
    }

    /// Runs `F` every day at `hour_utc:minute_utc`.
    pub fn daily<F: FunctionInfo>(
        self,
        name: &str,
        hour_utc: u32,
        minute_utc: u32,
        args: F::Args,
    ) -> Self {
        let schedule = time_of_day(hour_utc, minute_utc)
            .and_then(|()| Schedule::cron(&format!("{minute_utc} {hour_utc} * * *")));
        self.push::<F>(name, schedule, args)
    }

    /// Runs `F` every week on `day` at `hour_utc:minute_utc`.
    pub fn weekly<F: FunctionInfo>(
        self,
        name: &str,
        day: Weekday,
        hour_utc: u32,
        minute_utc: u32,
        args: F::Args,
    ) -> Self {
        let schedule = time_of_day(hour_utc, minute_utc).and_then(|()| {
            Schedule::cron(&format!(
                "{minute_utc} {hour_utc} * * {}",
                day.num_days_from_sunday()
            ))
        });
        self.push::<F>(name, schedule, args)
    }

    /// Runs `F` every month on `day` (1 to 31; months without that day are
    /// skipped) at `hour_utc:minute_utc`.
    pub fn monthly<F: FunctionInfo>(
        self,
        name: &str,
        day: u32,
        hour_utc: u32,
        minute_utc: u32,
        args: F::Args,
    ) -> Self {
        let schedule = in_range("the day of the month", day, 31, 1)
            .and_then(|()| time_of_day(hour_utc, minute_utc))
            .and_then(|()| Schedule::cron(&format!("{minute_utc} {hour_utc} {day} * *")));
        self.push::<F>(name, schedule, args)
    }

    /// Runs `F` at the times of a standard five-field cron expression
    /// (`minute hour day-of-month month day-of-week`, UTC), such as
    /// `"0 3 * * *"`. An invalid expression is an error at `App::build`.
    pub fn cron<F: FunctionInfo>(self, name: &str, expression: &str, args: F::Args) -> Self {
        self.push::<F>(name, Schedule::five_field(expression), args)
    }

    /// [`cron`](Self::cron) for a function named by path (`"messages:purge"`),
    /// with untyped arguments.
    pub fn cron_by_path(mut self, name: &str, expression: &str, path: &str, args: Value) -> Self {
        self.declarations.push(Declaration {
            name: name.to_string(),
            schedule: Schedule::five_field(expression),
            function: CronFunction::Path(path.to_string()),
            args: Ok(args),
        });
        self
    }

    /// Checks every declaration against the app's functions.
    pub(crate) fn resolve(self, registry: &Registry) -> Result<Vec<CronJob>, CronError> {
        let mut jobs: Vec<CronJob> = Vec::with_capacity(self.declarations.len());
        for declaration in self.declarations {
            let name = declaration.name;
            let error = |reason: String| CronError {
                name: name.clone(),
                reason,
            };
            if name.is_empty() || name.len() > MAX_CRON_NAME {
                return Err(error(format!(
                    "a cron job name must be 1 to {MAX_CRON_NAME} bytes"
                )));
            }
            if jobs.iter().any(|job| job.name == name) {
                return Err(error("two cron jobs have this name".into()));
            }
            let schedule = declaration.schedule.map_err(&error)?;
            // An expression that parses may still never fire ("0 0 30 2 *").
            schedule
                .next_after(None, crate::store::wall_clock_millis())
                .map_err(|reason| error(format!("it would never run: {reason}")))?;
            let args = declaration.args.map_err(&error)?;
            if !matches!(args, Value::Object(_)) {
                return Err(error(format!(
                    "the arguments must be an object, not {}",
                    args.type_name()
                )));
            }
            let function = match &declaration.function {
                CronFunction::Typed(entry) => registry.path_of(entry).and_then(|p| registry.get(p)),
                CronFunction::Path(path) => crate::function::FunctionPath::parse(path)
                    .ok()
                    .and_then(|p| registry.get(&p)),
            }
            .ok_or_else(|| error("its function is not registered in this app".into()))?;
            if function.entry.kind == FunctionKind::Query {
                return Err(error(format!(
                    "{} is a query; a cron job runs a mutation or an action",
                    function.path
                )));
            }
            jobs.push(CronJob {
                name,
                schedule,
                path: function.path.to_string(),
                args,
            });
        }
        Ok(jobs)
    }
}

/// A cron job checked against the app's functions.
#[derive(Clone, Debug)]
pub(crate) struct CronJob {
    pub(crate) name: String,
    pub(crate) schedule: Schedule,
    pub(crate) path: String,
    pub(crate) args: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: f64 = 60_000.0;

    #[test]
    fn an_interval_keeps_its_cadence_and_skips_missed_ticks() {
        let every = Schedule::Interval(Duration::from_secs(60));
        assert_eq!(every.next_after(None, 1_000.0), Ok(1_000.0 + MINUTE));
        // On time: the next tick.
        assert_eq!(every.next_after(Some(MINUTE), MINUTE), Ok(2.0 * MINUTE));
        // A little late: still on the original cadence.
        assert_eq!(
            every.next_after(Some(MINUTE), MINUTE + 5.0),
            Ok(2.0 * MINUTE)
        );
        // Ten minutes of downtime: the next tick after now, not ten of them.
        assert_eq!(
            every.next_after(Some(MINUTE), 11.5 * MINUTE),
            Ok(12.0 * MINUTE)
        );
        // Not yet due: unchanged.
        assert_eq!(
            every.next_after(Some(5.0 * MINUTE), MINUTE),
            Ok(5.0 * MINUTE)
        );
    }

    #[test]
    fn cron_expressions_name_the_next_time_after_now_in_utc() {
        let daily = Schedule::five_field("30 3 * * *").expect("valid");
        // 2026-12-06T12:00:00Z -> 2026-12-07T03:30:00Z.
        let now = 1_796_558_400_000.0;
        assert_eq!(daily.next_after(None, now), Ok(now + 15.5 * 60.0 * MINUTE));
        // Exactly at a tick: the next one, not the same.
        let at_tick = now + 15.5 * 60.0 * MINUTE;
        assert_eq!(
            daily.next_after(Some(at_tick), at_tick),
            Ok(at_tick + 24.0 * 60.0 * MINUTE)
        );
        assert_eq!(daily.describe(), "30 3 * * *");
    }

    #[test]
    fn malformed_expressions_are_refused_with_the_reason() {
        let error = |e: &str| Schedule::five_field(e).expect_err(e);
        assert!(error("0 3 * *").contains("expected five fields"));
        assert!(error("0 0 3 * * *").contains("expected five fields"));
        assert!(error("99 3 * * *").contains("invalid cron expression \"99 3 * * *\""));
        assert!(error("a b c d e").contains("invalid cron expression"));
    }
}
