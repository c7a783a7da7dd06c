//! The scheduler and cron jobs, with an injectable clock: calls run when
//! their time comes, exactly once for mutations and at most once for
//! actions, rolled back with the mutation that scheduled them, canceled,
//! in due order, caught up after a restart, within their limits; cron jobs
//! parsed at build time, run on their cadence, once after downtime, never
//! overlapping.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use convex_rs::app::BackendError;
use convex_rs::prelude::*;
use convex_rs::scheduler::{
    Clock, INTERRUPTED_ACTION, MAX_SCHEDULED_ARGS_BYTES, MAX_SCHEDULED_CALLS, ManualClock,
    SCHEDULED_FUNCTIONS_TABLE, SchedulerConfig, SharedClock,
};
use convex_rs::store::wall_clock_millis;

/// The functions these tests schedule.
pub mod jobs {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use convex_rs::prelude::*;
    use convex_rs::scheduler::CronJobRow;

    /// Records that `name` ran.
    #[internal_mutation]
    pub async fn record(ctx: &MutationCtx, name: String) -> Result<(), FunctionError> {
        let mut event = std::collections::BTreeMap::new();
        event.insert("name".to_string(), Value::from(name.as_str()));
        ctx.db()
            .insert_value("events", Value::Object(event))
            .await?;
        Ok(())
    }

    /// Writes an event, then fails (the event must not remain).
    #[internal_mutation]
    pub async fn fail(ctx: &MutationCtx, message: String) -> Result<(), FunctionError> {
        record_event(ctx, "written before failing").await?;
        Err(FunctionError::message(message))
    }

    async fn record_event(ctx: &MutationCtx, name: &str) -> Result<(), FunctionError> {
        let mut event = std::collections::BTreeMap::new();
        event.insert("name".to_string(), Value::from(name));
        ctx.db()
            .insert_value("events", Value::Object(event))
            .await?;
        Ok(())
    }

    /// Schedules `record {name}` after `delay_ms`.
    #[mutation]
    pub async fn schedule(
        ctx: &MutationCtx,
        name: String,
        delay_ms: f64,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        ctx.scheduler()
            .run_after::<record>(Duration::from_millis(delay_ms as u64), RecordArgs { name })
            .await
    }

    /// Schedules `record {name}` for each name after its delay, in one mutation.
    #[mutation]
    pub async fn schedule_all(
        ctx: &MutationCtx,
        names: Vec<String>,
        delays_ms: Vec<f64>,
    ) -> Result<(), FunctionError> {
        for (name, delay) in names.into_iter().zip(delays_ms) {
            ctx.scheduler()
                .run_after_by_path(
                    Duration::from_millis(delay as u64),
                    "jobs:record",
                    Value::Object([("name".to_string(), Value::from(name.as_str()))].into()),
                )
                .await?;
        }
        Ok(())
    }

    /// Schedules, then fails: nothing may remain scheduled.
    #[mutation]
    pub async fn schedule_then_fail(ctx: &MutationCtx, name: String) -> Result<(), FunctionError> {
        ctx.scheduler()
            .run_after::<record>(Duration::ZERO, RecordArgs { name })
            .await?;
        Err(FunctionError::message("changed my mind"))
    }

    /// Schedules `fail {message}` at once.
    #[mutation]
    pub async fn schedule_failure(
        ctx: &MutationCtx,
        message: String,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        ctx.scheduler()
            .run_after::<fail>(Duration::ZERO, FailArgs { message })
            .await
    }

    /// Schedules `n` calls with `padding` bytes of arguments each.
    #[mutation]
    pub async fn schedule_many(
        ctx: &MutationCtx,
        n: f64,
        padding: f64,
    ) -> Result<(), FunctionError> {
        let name = "x".repeat(padding as usize);
        for _ in 0..n as usize {
            ctx.scheduler()
                .run_after::<record>(Duration::from_secs(3600), RecordArgs { name: name.clone() })
                .await?;
        }
        Ok(())
    }

    /// Schedules a query (refused).
    #[mutation]
    pub async fn schedule_query(ctx: &MutationCtx) -> Result<(), FunctionError> {
        ctx.scheduler()
            .run_after::<events>(Duration::ZERO, EventsArgs {})
            .await?;
        Ok(())
    }

    /// Cancels a scheduled call.
    #[mutation]
    pub async fn cancel(ctx: &MutationCtx, id: Id<ScheduledFunction>) -> Result<(), FunctionError> {
        ctx.scheduler().cancel(id).await
    }

    /// Tries to write the scheduler's table directly (refused).
    #[mutation]
    pub async fn forge(ctx: &MutationCtx) -> Result<(), FunctionError> {
        ctx.db()
            .insert_value("_scheduled_functions", Value::Object(Default::default()))
            .await?;
        Ok(())
    }

    /// Counts its runs and records them.
    #[internal_action]
    pub async fn act(ctx: &ActionCtx, name: String) -> Result<(), FunctionError> {
        super::ACTION_RUNS.fetch_add(1, Ordering::SeqCst);
        ctx.run_mutation::<record>(RecordArgs { name }).await
    }

    /// Waits until the test lets it finish.
    #[internal_action]
    pub async fn slow(_ctx: &ActionCtx) -> Result<(), FunctionError> {
        super::SLOW_STARTED.fetch_add(1, Ordering::SeqCst);
        super::RELEASE_SLOW.notified().await;
        Ok(())
    }

    /// Schedules `act {name}` from an action (committed at once).
    #[action]
    pub async fn schedule_from_action(
        ctx: &ActionCtx,
        name: String,
    ) -> Result<Id<ScheduledFunction>, FunctionError> {
        ctx.scheduler()
            .run_after::<act>(Duration::ZERO, ActArgs { name })
            .await
    }

    /// Panics (a bug in a scheduled function must not stop the scheduler).
    #[internal_mutation]
    pub async fn panics(_ctx: &MutationCtx, tag: String) -> Result<(), FunctionError> {
        super::count(&tag);
        panic!("bug in {tag}");
    }

    /// Panics, as an action.
    #[internal_action]
    pub async fn panics_too(_ctx: &ActionCtx, tag: String) -> Result<(), FunctionError> {
        super::count(&tag);
        panic!("bug in {tag}");
    }

    /// Waits until the test opens `gate`; counts how many wait at once.
    #[internal_action]
    pub async fn gated(_ctx: &ActionCtx, gate: String) -> Result<(), FunctionError> {
        super::enter(&gate);
        while !super::is_open(&gate) {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        super::leave(&gate);
        Ok(())
    }

    /// Schedules `n` calls of `F` (by path) with `args`, due at once.
    #[mutation]
    pub async fn schedule_n(
        ctx: &MutationCtx,
        path: String,
        args: Value,
        n: f64,
    ) -> Result<Vec<Id<ScheduledFunction>>, FunctionError> {
        let mut ids = Vec::new();
        for _ in 0..n as usize {
            ids.push(
                ctx.scheduler()
                    .run_after_by_path(Duration::ZERO, &path, args.clone())
                    .await?,
            );
        }
        Ok(ids)
    }

    /// The cron job rows.
    #[query]
    pub async fn crons(ctx: &QueryCtx) -> Result<Vec<Doc<CronJobRow>>, FunctionError> {
        Ok(ctx.db().system().query::<CronJobRow>().collect().await?)
    }

    /// The names recorded, in order.
    #[query]
    pub async fn events(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
        Ok(ctx
            .db()
            .query_table("events")
            .collect()
            .await?
            .into_iter()
            .filter_map(|doc| match doc.fields.get("name") {
                Some(Value::String(name)) => Some(name.clone()),
                _ => None,
            })
            .collect())
    }

    /// Every scheduled call, through the system reader.
    #[query]
    pub async fn scheduled(ctx: &QueryCtx) -> Result<Vec<Doc<ScheduledFunction>>, FunctionError> {
        Ok(ctx
            .db()
            .system()
            .query::<ScheduledFunction>()
            .collect()
            .await?)
    }
}

static ACTION_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Per-tag run counts and gates, so tests running in parallel keep apart.
#[derive(Default)]
struct Gate {
    open: bool,
    inside: usize,
    most_inside: usize,
    entered: usize,
}

static GATES: std::sync::Mutex<BTreeMap<String, Gate>> = std::sync::Mutex::new(BTreeMap::new());

fn with_gate<T>(name: &str, f: impl FnOnce(&mut Gate) -> T) -> T {
    let mut gates = GATES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    f(gates.entry(name.to_string()).or_default())
}

fn count(tag: &str) {
    with_gate(tag, |g| g.entered += 1);
}

fn enter(gate: &str) {
    with_gate(gate, |g| {
        g.entered += 1;
        g.inside += 1;
        g.most_inside = g.most_inside.max(g.inside);
    });
}

fn leave(gate: &str) {
    with_gate(gate, |g| g.inside -= 1);
}

fn is_open(gate: &str) -> bool {
    with_gate(gate, |g| g.open)
}
static SLOW_STARTED: AtomicUsize = AtomicUsize::new(0);
static RELEASE_SLOW: tokio::sync::Notify = tokio::sync::Notify::const_new();

fn schema() -> Schema {
    Schema::new().table(TableDefinition::new("events"))
}

fn app_with(crons: Crons) -> Result<App, BackendError> {
    App::builder()
        .schema(schema())
        .functions_from(module_path!())
        .crons(crons)
        .build()
}

fn config(clock: &ManualClock, base: BackendConfig) -> BackendConfig {
    BackendConfig {
        scheduler: SchedulerConfig {
            clock: SharedClock::new(clock.clone()),
            ..SchedulerConfig::default()
        },
        ..base
    }
}

async fn open(clock: &ManualClock, crons: Crons) -> anyhow::Result<TestBackend> {
    Ok(
        TestBackend::with_config(app_with(crons)?, config(clock, BackendConfig::temporary()))
            .await?,
    )
}

async fn events(t: &TestBackend) -> anyhow::Result<Vec<String>> {
    Ok(t.query::<jobs::events>(jobs::EventsArgs {}).await?)
}

async fn scheduled(t: &TestBackend) -> anyhow::Result<Vec<Doc<ScheduledFunction>>> {
    Ok(t.query::<jobs::scheduled>(jobs::ScheduledArgs {}).await?)
}

/// Waits (10 s at most) until `check` holds.
async fn eventually<F, Fut>(what: &str, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if check().await? {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn states(t: &TestBackend) -> anyhow::Result<Vec<JobState>> {
    Ok(scheduled(t)
        .await?
        .into_iter()
        .map(|d| d.fields.state)
        .collect())
}

/// Lets the executor look at the clock (it only wakes on changes).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(100)).await;
}

fn now() -> f64 {
    wall_clock_millis()
}

#[tokio::test]
async fn a_scheduled_mutation_runs_when_its_time_comes_exactly_once() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    let start = clock.now_ms();
    let id = t
        .mutation::<jobs::schedule>(jobs::ScheduleArgs {
            name: "a".into(),
            delay_ms: 10_000.0,
        })
        .await?;
    let rows = scheduled(&t).await?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, id);
    assert_eq!(rows[0].fields.name, "jobs:record");
    assert_eq!(
        rows[0].fields.args,
        vec![Value::Object(
            [("name".to_string(), Value::from("a"))].into()
        )]
    );
    assert_eq!(rows[0].fields.scheduled_time, start + 10_000.0);
    assert_eq!(rows[0].fields.state, JobState::Pending);

    clock.advance(Duration::from_secs(9));
    settle().await;
    assert!(events(&t).await?.is_empty(), "ran before its time");

    clock.advance(Duration::from_secs(2));
    eventually("the job to succeed", || async {
        Ok(states(&t).await? == vec![JobState::Success])
    })
    .await?;
    assert_eq!(events(&t).await?, vec!["a"]);
    assert_eq!(
        scheduled(&t).await?[0].fields.completed_time,
        Some(start + 11_000.0)
    );

    clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(events(&t).await?, vec!["a"], "ran twice");
    Ok(())
}

#[tokio::test]
async fn a_rolled_back_mutation_schedules_nothing() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    let failure = t
        .mutation::<jobs::schedule_then_fail>(jobs::ScheduleThenFailArgs { name: "a".into() })
        .await
        .expect_err("the mutation fails");
    assert!(failure.message.contains("changed my mind"), "{failure:?}");
    clock.advance(Duration::from_secs(1));
    settle().await;
    assert!(scheduled(&t).await?.is_empty());
    assert!(events(&t).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn a_canceled_call_never_runs() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    let id = t
        .mutation::<jobs::schedule>(jobs::ScheduleArgs {
            name: "a".into(),
            delay_ms: 5_000.0,
        })
        .await?;
    t.mutation::<jobs::cancel>(jobs::CancelArgs { id }).await?;
    assert_eq!(states(&t).await?, vec![JobState::Canceled]);
    clock.advance(Duration::from_secs(10));
    settle().await;
    assert!(events(&t).await?.is_empty());
    assert_eq!(states(&t).await?, vec![JobState::Canceled]);
    // Canceling again (or after it finished) changes nothing.
    t.mutation::<jobs::cancel>(jobs::CancelArgs { id }).await?;
    assert_eq!(states(&t).await?, vec![JobState::Canceled]);
    Ok(())
}

#[tokio::test]
async fn due_calls_run_in_due_order() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let base = BackendConfig::temporary();
    let mut config = config(&clock, base);
    config.scheduler.concurrency = 1;
    let t = TestBackend::with_config(app_with(Crons::new())?, config).await?;
    t.mutation::<jobs::schedule_all>(jobs::ScheduleAllArgs {
        names: vec![
            "third".into(),
            "first".into(),
            "second".into(),
            "fourth".into(),
        ],
        delays_ms: vec![3_000.0, 1_000.0, 2_000.0, 4_000.0],
    })
    .await?;
    clock.advance(Duration::from_secs(60));
    eventually("four events", || async { Ok(events(&t).await?.len() == 4) }).await?;
    assert_eq!(
        events(&t).await?,
        vec!["first", "second", "third", "fourth"]
    );
    Ok(())
}

#[tokio::test]
async fn a_failing_scheduled_mutation_is_marked_failed_with_its_writes_rolled_back()
-> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    t.mutation::<jobs::schedule_failure>(jobs::ScheduleFailureArgs {
        message: "out of paper".into(),
    })
    .await?;
    eventually("the job to fail", || async {
        Ok(matches!(
            states(&t).await?.as_slice(),
            [JobState::Failed { .. }]
        ))
    })
    .await?;
    let states = states(&t).await?;
    let [JobState::Failed { error }] = states.as_slice() else {
        anyhow::bail!("not failed: {states:?}");
    };
    assert!(error.contains("out of paper"), "{error}");
    assert!(
        events(&t).await?.is_empty(),
        "the failed mutation's write remained"
    );
    Ok(())
}

#[tokio::test]
async fn calls_due_while_the_server_was_down_run_after_restart_in_due_order() -> anyhow::Result<()>
{
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(now());
    let t = TestBackend::with_config(
        app_with(Crons::new())?,
        config(&clock, BackendConfig::in_dir(dir.path())),
    )
    .await?;
    t.mutation::<jobs::schedule_all>(jobs::ScheduleAllArgs {
        names: vec!["later".into(), "sooner".into()],
        delays_ms: vec![20_000.0, 10_000.0],
    })
    .await?;
    t.backend().shutdown().await;
    drop(t);

    clock.advance(Duration::from_secs(3600));
    let mut config = config(&clock, BackendConfig::in_dir(dir.path()));
    config.scheduler.concurrency = 1;
    let t = TestBackend::with_config(app_with(Crons::new())?, config).await?;
    eventually("both calls", || async { Ok(events(&t).await?.len() == 2) }).await?;
    assert_eq!(events(&t).await?, vec!["sooner", "later"]);
    assert_eq!(
        states(&t).await?,
        vec![JobState::Success, JobState::Success]
    );
    t.backend().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn limits_are_enforced_with_clear_errors() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    t.mutation::<jobs::schedule_many>(jobs::ScheduleManyArgs {
        n: MAX_SCHEDULED_CALLS as f64,
        padding: 1.0,
    })
    .await?;
    let too_many = t
        .mutation::<jobs::schedule_many>(jobs::ScheduleManyArgs {
            n: MAX_SCHEDULED_CALLS as f64 + 1.0,
            padding: 1.0,
        })
        .await
        .expect_err("over the limit");
    assert!(
        too_many.message.contains("at most 1000"),
        "{}",
        too_many.message
    );

    let padding = 900 * 1024;
    let calls = MAX_SCHEDULED_ARGS_BYTES / padding + 1;
    let too_big = t
        .mutation::<jobs::schedule_many>(jobs::ScheduleManyArgs {
            n: calls as f64,
            padding: padding as f64,
        })
        .await
        .expect_err("over the size limit");
    assert!(
        too_big.message.contains("the limit is 16777216"),
        "{}",
        too_big.message
    );

    let query = t
        .mutation::<jobs::schedule_query>(jobs::ScheduleQueryArgs {})
        .await
        .expect_err("queries cannot be scheduled");
    assert!(
        query.message.contains("only mutations and actions"),
        "{}",
        query.message
    );

    let forged = t
        .mutation::<jobs::forge>(jobs::ForgeArgs {})
        .await
        .expect_err("refused");
    assert!(
        forged.message.contains("system table"),
        "{}",
        forged.message
    );
    assert_eq!(scheduled(&t).await?.len(), MAX_SCHEDULED_CALLS);
    Ok(())
}

#[tokio::test]
async fn scheduled_actions_run_at_most_once_and_interrupted_ones_fail() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(now());
    let open_in = |clock: &ManualClock| {
        let config = config(clock, BackendConfig::in_dir(dir.path()));
        async move {
            TestBackend::with_config(app_with(Crons::new())?, config)
                .await
                .map_err(anyhow::Error::from)
        }
    };
    let t = open_in(&clock).await?;
    let before = ACTION_RUNS.load(Ordering::SeqCst);
    let id = t
        .action::<jobs::schedule_from_action>(jobs::ScheduleFromActionArgs {
            name: "acted".into(),
        })
        .await?;
    eventually("the action to succeed", || async {
        Ok(states(&t).await? == vec![JobState::Success])
    })
    .await?;
    assert_eq!(ACTION_RUNS.load(Ordering::SeqCst) - before, 1);
    assert_eq!(events(&t).await?, vec!["acted"]);
    assert_eq!(scheduled(&t).await?[0].id, id);

    // A crash while an action runs leaves its row in progress: written here
    // directly, as the executor would have before starting it.
    let store = t.backend().store();
    let table = store
        .catalog()
        .table(SCHEDULED_FUNCTIONS_TABLE)
        .expect("system table")
        .number;
    let tx = store.begin();
    let row = ScheduledFunction {
        name: "jobs:act".into(),
        args: vec![Value::Object(
            [("name".to_string(), Value::from("again"))].into(),
        )],
        scheduled_time: clock.now_ms(),
        completed_time: None,
        state: JobState::InProgress,
    };
    let Value::Object(fields) = convex_rs::value::to_value(&row)? else {
        anyhow::bail!("not an object")
    };
    let interrupted = tx.insert(table, fields)?;
    store.commit(tx).await?;
    t.backend().shutdown().await;
    drop(t);

    let runs = ACTION_RUNS.load(Ordering::SeqCst);
    let t = open_in(&clock).await?;
    eventually("the interrupted action to be marked failed", || async {
        Ok(scheduled(&t).await?.iter().any(|d| {
            d.id.document_id() == interrupted
                && d.fields.state
                    == JobState::Failed {
                        error: INTERRUPTED_ACTION.into(),
                    }
        }))
    })
    .await?;
    clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(
        ACTION_RUNS.load(Ordering::SeqCst),
        runs,
        "an interrupted action was started again"
    );
    t.backend().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn finished_rows_are_removed_after_seven_days() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    t.mutation::<jobs::schedule>(jobs::ScheduleArgs {
        name: "a".into(),
        delay_ms: 0.0,
    })
    .await?;
    let pending = t
        .mutation::<jobs::schedule>(jobs::ScheduleArgs {
            name: "b".into(),
            delay_ms: 30.0 * 86_400_000.0,
        })
        .await?;
    eventually("the first to run", || async {
        Ok(events(&t).await? == vec!["a"])
    })
    .await?;
    clock.advance(Duration::from_secs(6 * 86_400));
    settle().await;
    assert_eq!(scheduled(&t).await?.len(), 2, "removed too early");
    clock.advance(Duration::from_secs(2 * 86_400));
    eventually("the finished row to be removed", || async {
        let rows = scheduled(&t).await?;
        Ok(rows.len() == 1 && rows[0].id == pending)
    })
    .await?;
    Ok(())
}

#[test]
fn cron_declarations_are_checked_at_build() {
    let args = || jobs::RecordArgs {
        name: "tick".into(),
    };
    let error = |crons: Crons| app_with(crons).expect_err("refused").to_string();
    assert!(
        error(Crons::new().cron::<jobs::record>("bad", "61 * * * *", args()))
            .contains("invalid cron expression")
    );
    assert!(
        error(Crons::new().cron::<jobs::record>("seconds", "0 0 3 * * *", args()))
            .contains("five fields")
    );
    assert!(
        error(Crons::new().hourly::<jobs::record>("late", 60, args()))
            .contains("the minute must be 0 to 59")
    );
    assert!(
        error(Crons::new().monthly::<jobs::record>("never", 32, 0, 0, args()))
            .contains("day of the month")
    );
    assert!(
        error(Crons::new().interval::<jobs::record>("fast", Duration::from_millis(10), args()))
            .contains("at least 1 second")
    );
    assert!(
        error(Crons::new().cron::<jobs::events>("query", "0 * * * *", jobs::EventsArgs {}))
            .contains("is a query")
    );
    let twice = Crons::new()
        .hourly::<jobs::record>("same", 0, args())
        .daily::<jobs::record>("same", 1, 0, args());
    assert!(error(twice).contains("two cron jobs have this name"));
    assert!(
        error(Crons::new().cron_by_path(
            "nobody",
            "0 * * * *",
            "jobs:nothing",
            Value::Object(BTreeMap::new())
        ))
        .contains("not registered")
    );
    assert!(app_with(Crons::new().cron::<jobs::record>("ok", "*/5 * * * 1-5", args())).is_ok());
}

#[tokio::test]
async fn a_cron_runs_on_its_cadence_and_once_after_downtime() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let crons = Crons::new().interval::<jobs::record>(
        "tick",
        Duration::from_secs(60),
        jobs::RecordArgs {
            name: "tick".into(),
        },
    );
    let t = open(&clock, crons).await?;
    settle().await;
    assert!(events(&t).await?.is_empty());
    clock.advance(Duration::from_secs(61));
    eventually("the first run", || async {
        Ok(events(&t).await?.len() == 1)
    })
    .await?;
    clock.advance(Duration::from_secs(60));
    eventually("the second run", || async {
        Ok(events(&t).await?.len() == 2)
    })
    .await?;
    // Ten missed minutes: one run, not ten.
    clock.advance(Duration::from_secs(600));
    eventually("the catch-up run", || async {
        Ok(events(&t).await?.len() == 3)
    })
    .await?;
    settle().await;
    assert_eq!(events(&t).await?.len(), 3, "missed runs were each run");
    // Each run is one scheduled call, all of them done.
    let runs = scheduled(&t).await?;
    assert_eq!(runs.len(), 3, "one scheduled call per run");
    assert!(
        runs.iter()
            .all(|r| r.fields.name == "jobs:record" && r.fields.state == JobState::Success),
        "{runs:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_cron_run_never_overlaps_the_previous_one() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let crons =
        Crons::new().interval::<jobs::slow>("slow", Duration::from_secs(60), jobs::SlowArgs {});
    let t = open(&clock, crons).await?;
    let started = SLOW_STARTED.load(Ordering::SeqCst);
    clock.advance(Duration::from_secs(61));
    eventually("the first run to start", || async {
        Ok(SLOW_STARTED.load(Ordering::SeqCst) == started + 1)
    })
    .await?;

    clock.advance(Duration::from_secs(60));
    settle().await;
    clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(
        SLOW_STARTED.load(Ordering::SeqCst),
        started + 1,
        "a run started while the previous one ran"
    );
    assert_eq!(scheduled(&t).await?.len(), 1);
    RELEASE_SLOW.notify_waiters();
    eventually("the run to finish", || async {
        Ok(states(&t).await? == vec![JobState::Success])
    })
    .await?;
    clock.advance(Duration::from_secs(60));
    eventually("the next run", || async {
        Ok(SLOW_STARTED.load(Ordering::SeqCst) == started + 2)
    })
    .await?;
    RELEASE_SLOW.notify_waiters();
    Ok(())
}

fn object(fields: &[(&str, &str)]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    )
}

async fn schedule_n(
    t: &TestBackend,
    path: &str,
    args: Value,
    n: usize,
) -> anyhow::Result<Vec<Id<ScheduledFunction>>> {
    Ok(t.mutation::<jobs::schedule_n>(jobs::ScheduleNArgs {
        path: path.into(),
        args,
        n: n as f64,
    })
    .await?)
}

#[tokio::test]
async fn a_panicking_scheduled_function_is_marked_failed_and_not_run_again() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    schedule_n(&t, "jobs:panics", object(&[("tag", "panic-mutation")]), 1).await?;
    schedule_n(&t, "jobs:panicsToo", object(&[("tag", "panic-action")]), 1).await?;
    eventually("both to fail", || async {
        Ok(states(&t)
            .await?
            .iter()
            .all(|s| matches!(s, JobState::Failed { .. })))
    })
    .await?;
    for state in states(&t).await? {
        let JobState::Failed { error } = state else {
            anyhow::bail!("not failed")
        };
        assert!(
            error.starts_with("the function panicked: bug in panic-"),
            "{error}"
        );
    }
    clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(
        with_gate("panic-mutation", |g| g.entered),
        1,
        "the panicking mutation ran again"
    );
    assert_eq!(with_gate("panic-action", |g| g.entered), 1);
    // The scheduler still works.
    t.mutation::<jobs::schedule>(jobs::ScheduleArgs {
        name: "after".into(),
        delay_ms: 0.0,
    })
    .await?;
    eventually("a later call", || async {
        Ok(events(&t).await? == vec!["after"])
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn no_more_calls_run_at_once_than_the_configured_concurrency() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let mut config = config(&clock, BackendConfig::temporary());
    config.scheduler.concurrency = 3;
    let t = TestBackend::with_config(app_with(Crons::new())?, config).await?;
    schedule_n(&t, "jobs:gated", object(&[("gate", "three")]), 7).await?;
    eventually("three to start", || async {
        Ok(with_gate("three", |g| g.entered) == 3)
    })
    .await?;
    settle().await;
    assert_eq!(with_gate("three", |g| g.entered), 3, "a fourth started");
    with_gate("three", |g| g.open = true);
    eventually("all seven to succeed", || async {
        let states = states(&t).await?;
        Ok(states.len() == 7 && states.iter().all(|s| *s == JobState::Success))
    })
    .await?;
    assert_eq!(with_gate("three", |g| g.most_inside), 3);
    Ok(())
}

#[tokio::test]
async fn an_action_canceled_while_it_runs_finishes_but_stays_canceled() -> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    let [id] = schedule_n(&t, "jobs:gated", object(&[("gate", "cancel-running")]), 1).await?[..]
    else {
        anyhow::bail!("one id");
    };
    eventually("the action to start", || async {
        Ok(states(&t).await? == vec![JobState::InProgress])
    })
    .await?;
    t.mutation::<jobs::cancel>(jobs::CancelArgs { id }).await?;
    with_gate("cancel-running", |g| g.open = true);
    eventually("the action to end", || async {
        Ok(with_gate("cancel-running", |g| g.inside) == 0)
    })
    .await?;
    settle().await;
    assert_eq!(states(&t).await?, vec![JobState::Canceled]);
    Ok(())
}

#[tokio::test]
async fn a_call_canceled_long_before_its_time_is_removed_seven_days_after_the_cancel()
-> anyhow::Result<()> {
    let clock = ManualClock::new(now());
    let t = open(&clock, Crons::new()).await?;
    let id = t
        .mutation::<jobs::schedule>(jobs::ScheduleArgs {
            name: "far".into(),
            delay_ms: 30.0 * 86_400_000.0,
        })
        .await?;
    t.mutation::<jobs::cancel>(jobs::CancelArgs { id }).await?;
    clock.advance(Duration::from_secs(8 * 86_400));
    eventually("the canceled row to be removed", || async {
        Ok(scheduled(&t).await?.is_empty())
    })
    .await?;
    // Canceling it again is not an error.
    t.mutation::<jobs::cancel>(jobs::CancelArgs { id }).await?;
    Ok(())
}

#[tokio::test]
async fn cron_rows_record_runs_and_keep_their_schedule_across_restarts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let clock = ManualClock::new(now());
    let start = clock.now_ms();
    let crons = || {
        Crons::new().interval::<jobs::record>(
            "minutely",
            Duration::from_secs(60),
            jobs::RecordArgs { name: "m".into() },
        )
    };
    let open_in = |clock: &ManualClock| {
        let config = config(clock, BackendConfig::in_dir(dir.path()));
        async move {
            Ok::<_, anyhow::Error>(TestBackend::with_config(app_with(crons())?, config).await?)
        }
    };
    let rows = |t: &TestBackend| {
        let t = t.clone();
        async move { Ok::<_, anyhow::Error>(t.query::<jobs::crons>(jobs::CronsArgs {}).await?) }
    };
    let t = open_in(&clock).await?;
    let row = rows(&t).await?.remove(0).fields;
    assert_eq!(
        (
            row.name.as_str(),
            row.schedule.as_str(),
            row.function_name.as_str()
        ),
        ("minutely", "every 60000 ms", "jobs:record")
    );
    assert_eq!((row.last_run, row.next_run), (None, start + 60_000.0));
    t.backend().shutdown().await;
    drop(t);

    // A restart keeps the planned time (it does not start the interval over).
    clock.advance(Duration::from_secs(30));
    let t = open_in(&clock).await?;
    assert_eq!(rows(&t).await?[0].fields.next_run, start + 60_000.0);
    clock.advance(Duration::from_secs(31));
    eventually("the run", || async { Ok(events(&t).await? == vec!["m"]) }).await?;
    let row = rows(&t).await?.remove(0).fields;
    assert_eq!(
        (row.last_run, row.next_run),
        (Some(start + 61_000.0), start + 120_000.0)
    );
    t.backend().shutdown().await;
    drop(t);

    // Down for an hour: one catch-up run after the restart, then on schedule.
    clock.advance(Duration::from_secs(3600));
    let t = open_in(&clock).await?;
    eventually("the catch-up run", || async {
        Ok(events(&t).await?.len() == 2)
    })
    .await?;
    settle().await;
    assert_eq!(events(&t).await?.len(), 2);
    assert!(rows(&t).await?[0].fields.next_run > clock.now_ms());
    t.backend().shutdown().await;
    Ok(())
}

#[tokio::test]
async fn hourly_and_daily_crons_run_at_their_utc_times() -> anyhow::Result<()> {
    // 2026-12-06T10:59:30Z.
    let clock = ManualClock::new(1_796_554_770_000.0);
    let crons = Crons::new()
        .hourly::<jobs::record>(
            "hourly",
            0,
            jobs::RecordArgs {
                name: "hourly".into(),
            },
        )
        .daily::<jobs::record>(
            "daily",
            11,
            30,
            jobs::RecordArgs {
                name: "daily".into(),
            },
        );
    let t = open(&clock, crons).await?;
    clock.advance(Duration::from_secs(29));
    settle().await;
    assert!(events(&t).await?.is_empty());
    clock.advance(Duration::from_secs(2)); // 11:00:01
    eventually("the hourly run", || async {
        Ok(events(&t).await? == vec!["hourly"])
    })
    .await?;
    clock.advance(Duration::from_secs(30 * 60)); // 11:30:01
    eventually("the daily run", || async {
        Ok(events(&t).await? == vec!["hourly", "daily"])
    })
    .await?;
    Ok(())
}

#[test]
fn a_cron_expression_that_never_fires_is_refused_at_build() {
    let args = jobs::RecordArgs {
        name: "never".into(),
    };
    let error = app_with(Crons::new().cron::<jobs::record>("february 30", "0 0 30 2 *", args))
        .expect_err("refused")
        .to_string();
    assert!(error.contains("would never run"), "{error}");
}
