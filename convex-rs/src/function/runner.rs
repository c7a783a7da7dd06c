//! Runs functions: looks them up, validates arguments, gives them a context,
//! and for mutations commits (re-running on OCC conflicts).

use std::sync::Arc;
use std::time::Duration;

use rand::RngExt;
use tracing::Instrument;

use super::context::{LogLines, TxContext};
use super::error::RetryHint;
use super::{
    ActionCtx, FailureKind, FunctionError, FunctionFailure, FunctionKind, FunctionPath, Identity,
    Invoker, MutationCtx, QueryCtx, RegisteredFunction, Registry, Visibility,
};
use crate::auth::Authenticator;
use crate::query::{IndexRange, Query};
use crate::scheduler::{self, JobState, SharedClock};
use crate::schema::MUTATION_LOG_TABLE;
use crate::storage::FileStore;
use crate::store::{Document, ReadSet, Store};
use crate::value::{DocumentId, MAX_ARGS_SIZE, Value, check_value};

/// Identifies one request of one client session, so a re-sent mutation runs once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestKey {
    /// The client's session id.
    pub session: String,
    /// The request id within the session.
    pub request: u32,
    /// Whether an earlier socket of the session may have sent this request
    /// already (the socket is a reconnect). When false the mutation log is
    /// not consulted, saving a read per mutation; the result is recorded
    /// either way, for re-sends after a later reconnect.
    pub may_be_resent: bool,
}

impl RequestKey {
    /// The key of `request` in `session`, which may be a re-send (the log is
    /// consulted).
    pub fn new(session: impl Into<String>, request: u32) -> Self {
        RequestKey {
            session: session.into(),
            request,
            may_be_resent: true,
        }
    }
}

/// Who is calling, which decides whether internal functions are visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A client over the network: public functions only.
    Client,
    /// Another function or an admin: internal functions too.
    Function,
}

/// Tuning of the runner.
#[derive(Clone, Copy, Debug)]
pub struct RunnerConfig {
    /// How many times a mutation runs before a conflict is reported.
    pub max_mutation_attempts: u32,
    /// After this many conflicts a mutation's next attempt runs exclusively
    /// (no other mutation executes or commits meanwhile), so it cannot
    /// conflict again: hot rows degrade to serial execution instead of
    /// starving some callers.
    pub exclusive_after: u32,
    /// Backoff before the first retry; doubled each time, jittered ±50 %.
    pub initial_backoff: Duration,
    /// Largest backoff.
    pub max_backoff: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            max_mutation_attempts: 12,
            exclusive_after: 3,
            initial_backoff: Duration::from_micros(500),
            max_backoff: Duration::from_millis(100),
        }
    }
}

/// What a call produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionOutcome {
    /// The return value, or the failure.
    pub result: Result<Value, FunctionFailure>,
    /// `[LEVEL] message` lines the function logged.
    pub log_lines: Vec<String>,
    /// For a successful mutation, its commit timestamp (the snapshot for one
    /// that wrote nothing); for a query, its snapshot.
    pub ts: Option<u64>,
}

impl FunctionOutcome {
    /// A failure that happened before the function ran (or with nothing
    /// logged and no timestamp to report).
    pub fn failed(failure: FunctionFailure) -> Self {
        FunctionOutcome {
            result: Err(failure),
            log_lines: Vec::new(),
            ts: None,
        }
    }
}

/// A query's outcome plus what it read, for subscriptions.
#[derive(Debug, Clone)]
pub struct QueryOutcome {
    /// The outcome.
    pub outcome: FunctionOutcome,
    /// The snapshot it ran at.
    pub ts: u64,
    /// Everything it read.
    pub read_set: ReadSet,
    /// The journal to start a re-execution of the same subscription from.
    pub journal: Option<String>,
}

/// Executes an app's functions against a store. Cheap to clone.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<RunnerInner>,
}

struct RunnerInner {
    store: Store,
    registry: Registry,
    config: RunnerConfig,
    /// Held shared by every optimistic mutation attempt (execution and
    /// commit), and exclusively by an attempt that has conflicted too often.
    /// Tokio's lock is fair, so a waiting exclusive attempt is not starved.
    mutation_gate: tokio::sync::RwLock<()>,
    /// Where scheduling reads the time.
    clock: SharedClock,
    /// Verifies users' tokens.
    auth: Authenticator,
    /// Woken after a commit that scheduled calls, so the scheduler looks
    /// for due ones (commits that schedule nothing cost it nothing).
    scheduler_wakeup: tokio::sync::Notify,
    /// Stored files (`None`: a runner without file storage).
    files: Option<Arc<FileStore>>,
}

/// What a mutation records in its own transaction, so that running and
/// recording are one atomic fact.
enum Bookkeeping<'a> {
    /// Nothing.
    None,
    /// A client's request: its result, so a re-send returns it instead of
    /// running again.
    Request(&'a RequestKey),
    /// A scheduled call: the job's move from pending to success (a job that
    /// is no longer pending is not run).
    Job(DocumentId),
}

fn failure(kind: FailureKind, message: String) -> FunctionFailure {
    FunctionFailure {
        kind,
        message,
        data: None,
    }
}

impl Runner {
    /// A runner over `store` for the functions in `registry`.
    pub fn new(store: Store, registry: Registry, config: RunnerConfig) -> Self {
        Self::with_services(
            store,
            registry,
            config,
            SharedClock::system(),
            Authenticator::default(),
            None,
        )
    }

    /// A runner whose scheduling reads the time from `clock`, whose
    /// callers' tokens are verified by `auth` and whose files are in `files`.
    pub fn with_services(
        store: Store,
        registry: Registry,
        config: RunnerConfig,
        clock: SharedClock,
        auth: Authenticator,
        files: Option<Arc<FileStore>>,
    ) -> Self {
        Runner {
            inner: Arc::new(RunnerInner {
                store,
                registry,
                config,
                mutation_gate: tokio::sync::RwLock::new(()),
                clock,
                auth,
                scheduler_wakeup: tokio::sync::Notify::new(),
                files,
            }),
        }
    }

    /// Wakes the scheduler after calls were scheduled.
    pub(crate) fn scheduler_wakeup(&self) -> &tokio::sync::Notify {
        &self.inner.scheduler_wakeup
    }

    /// Verifies users' tokens (the app's auth providers).
    pub fn auth(&self) -> &Authenticator {
        &self.inner.auth
    }

    /// The stored files, if this runner has file storage.
    pub fn files(&self) -> Option<&FileStore> {
        self.inner.files.as_deref()
    }

    /// The clock scheduled calls are timed by.
    pub fn clock(&self) -> &SharedClock {
        &self.inner.clock
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The functions.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Looks up a function and checks that `caller` may call it as `kind`.
    /// Errors are the messages Convex clients expect.
    pub fn resolve(
        &self,
        kind: FunctionKind,
        path: &str,
        caller: Caller,
    ) -> Result<&RegisteredFunction, FunctionFailure> {
        let not_found = || {
            failure(
                FailureKind::NotFound,
                format!(
                    "Could not find public function for '{path}'. Did you forget to run the code generator or register the function?"
                ),
            )
        };
        let parsed = FunctionPath::parse(path).map_err(|_| not_found())?;
        let function = self.inner.registry.get(&parsed).ok_or_else(not_found)?;
        if caller == Caller::Client && function.entry.visibility == Visibility::Internal {
            return Err(not_found());
        }
        if function.entry.kind != kind {
            return Err(failure(
                FailureKind::NotFound,
                format!(
                    "Trying to execute {parsed} as {kind}, but it is defined as {}.",
                    function.entry.kind
                ),
            ));
        }
        Ok(function)
    }

    /// Looks up a function of any kind and visibility (for calls made by
    /// the backend itself, such as scheduled ones).
    pub(crate) fn resolve_any(&self, path: &str) -> Result<&RegisteredFunction, FunctionFailure> {
        FunctionPath::parse(path)
            .ok()
            .and_then(|parsed| self.inner.registry.get(&parsed))
            .ok_or_else(|| {
                failure(
                    FailureKind::NotFound,
                    format!(
                        "Could not find function for '{path}': it is not registered in this app"
                    ),
                )
            })
    }

    pub(crate) fn check_args(
        &self,
        function: &RegisteredFunction,
        args: &Value,
    ) -> Result<(), FunctionFailure> {
        let invalid = |m: String| FunctionError::invalid_arguments(m).into_failure();
        if !matches!(args, Value::Object(_)) {
            return Err(invalid(format!(
                "arguments must be an object, found {}",
                args.type_name()
            )));
        }
        let size = args.size();
        if size > MAX_ARGS_SIZE {
            return Err(invalid(format!(
                "arguments are {size} bytes; the limit is {MAX_ARGS_SIZE}"
            )));
        }
        check_value(args).map_err(|e| invalid(e.to_string()))?;
        function
            .args
            .validate(args, &**self.inner.store.catalog())
            .map_err(|e| invalid(format!("{e} (calling {})", function.path)))
    }

    /// Runs any function by kind and path.
    pub async fn run(
        &self,
        kind: FunctionKind,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
    ) -> FunctionOutcome {
        match kind {
            FunctionKind::Query => {
                self.run_query(path, args, identity, caller, None)
                    .await
                    .outcome
            }
            FunctionKind::Mutation => self.run_mutation(path, args, identity, caller).await,
            FunctionKind::Action => self.run_action(path, args, identity, caller).await,
        }
    }

    /// Runs a query at the latest snapshot, or at `ts` if given.
    pub async fn run_query(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        ts: Option<u64>,
    ) -> QueryOutcome {
        self.run_query_with_journal(path, args, identity, caller, ts, None)
            .await
    }

    /// Runs a query at `ts` (or the latest snapshot), re-using the decisions
    /// recorded in `journal` by an earlier execution of the same subscription.
    pub async fn run_query_with_journal(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        ts: Option<u64>,
        journal: Option<String>,
    ) -> QueryOutcome {
        let run = self.query_inner(path, args, identity, caller, ts, journal);
        self.observed(FunctionKind::Query, path, run, |o| o.outcome.result.is_ok())
            .await
    }

    async fn query_inner(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        ts: Option<u64>,
        journal: Option<String>,
    ) -> QueryOutcome {
        let failed = |f: FunctionFailure, ts: u64| QueryOutcome {
            outcome: FunctionOutcome {
                ts: Some(ts),
                ..FunctionOutcome::failed(f)
            },
            ts,
            read_set: ReadSet::new(),
            journal: None,
        };
        let latest = self.inner.store.latest_ts();
        let caller = caller_for(caller, &identity);
        let function = match self.resolve(FunctionKind::Query, path, caller) {
            Ok(f) => f,
            Err(f) => return failed(f, latest),
        };
        if let Err(f) = self.check_args(function, &args) {
            return failed(f, latest);
        }
        let tx = match ts {
            None => self.inner.store.begin_read(),
            Some(ts) => match self.inner.store.begin_read_at(ts) {
                Ok(tx) => tx,
                Err(e) => return failed(failure(FailureKind::User, e.to_string()), latest),
            },
        };
        let Invoker::Query(invoke) = function.entry.invoke else {
            return failed(
                failure(FailureKind::System, "registry kind mismatch".into()),
                latest,
            );
        };
        let snapshot = tx.snapshot_ts();
        tx.set_journal(journal);
        let ctx = TxContext::new(tx, identity, self.inner.files.clone());
        let result = invoke(QueryCtx { inner: ctx.clone() }, args).await;
        let result = result.and_then(check_result_size);
        let read_set = ctx.tx.read_set();
        let journal = ctx.tx.journal();
        QueryOutcome {
            outcome: FunctionOutcome {
                result: result.map_err(FunctionError::into_failure),
                log_lines: ctx.logs.take(),
                ts: Some(snapshot),
            },
            ts: snapshot,
            read_set,
            journal,
        }
    }

    /// Runs a mutation, re-running it on conflicts, and commits it.
    pub async fn run_mutation(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
    ) -> FunctionOutcome {
        self.run_mutation_once(path, args, identity, caller, None)
            .await
    }

    /// Like [`run_mutation`](Self::run_mutation), but if the same `request` of
    /// the same session already committed, returns its recorded result instead
    /// of running again. The record is written in the mutation's own
    /// transaction, so "ran" and "recorded" are one atomic fact, across restarts.
    pub async fn run_mutation_once(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        request: Option<RequestKey>,
    ) -> FunctionOutcome {
        let bookkeeping = match &request {
            Some(request) => Bookkeeping::Request(request),
            None => Bookkeeping::None,
        };
        self.run_mutation_with(path, args, identity, caller, bookkeeping)
            .await
    }

    /// Runs the scheduled mutation of job `job` in one transaction with the
    /// job's move from pending to success: it commits exactly once. A job
    /// that is no longer pending (canceled, or run by another executor) is
    /// not run, and the outcome is a success with `null`.
    pub(crate) async fn run_scheduled_mutation(
        &self,
        job: DocumentId,
        path: &str,
        args: Value,
    ) -> FunctionOutcome {
        self.run_mutation_with(
            path,
            args,
            Identity::Unauthenticated,
            Caller::Function,
            Bookkeeping::Job(job),
        )
        .await
    }

    async fn run_mutation_with(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        bookkeeping: Bookkeeping<'_>,
    ) -> FunctionOutcome {
        let run = self.mutation_inner(path, args, identity, caller, bookkeeping);
        self.observed(FunctionKind::Mutation, path, run, |o| o.result.is_ok())
            .await
    }

    async fn mutation_inner(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
        bookkeeping: Bookkeeping<'_>,
    ) -> FunctionOutcome {
        let failed = FunctionOutcome::failed;
        let caller = caller_for(caller, &identity);
        let function = match self.resolve(FunctionKind::Mutation, path, caller) {
            Ok(f) => f,
            Err(f) => return failed(f),
        };
        if let Err(f) = self.check_args(function, &args) {
            return failed(f);
        }
        let Invoker::Mutation(invoke) = function.entry.invoke else {
            return failed(failure(
                FailureKind::System,
                "registry kind mismatch".into(),
            ));
        };
        let config = self.inner.config;
        let mut backoff = config.initial_backoff;
        let mut attempt = 1;
        loop {
            let gate = &self.inner.mutation_gate;
            let (_shared, _exclusive) = if attempt > config.exclusive_after {
                (None, Some(gate.write().await))
            } else {
                (Some(gate.read().await), None)
            };
            let tx = self.inner.store.begin();
            match self.already_done(&tx, &bookkeeping).await {
                Ok(Some(value)) => {
                    return FunctionOutcome {
                        result: Ok(value),
                        log_lines: Vec::new(),
                        ts: Some(tx.snapshot_ts()),
                    };
                }
                Ok(None) => {}
                Err(e) => return failed(e.into_failure()),
            }
            let ctx = TxContext::new(tx, identity.clone(), self.inner.files.clone());
            let mutation_ctx = MutationCtx {
                inner: ctx.clone(),
                runner: self.clone(),
            };
            let result = invoke(mutation_ctx, args.clone())
                .await
                .and_then(check_result_size);
            let result = match result {
                Ok(value) => self
                    .record(&ctx.tx, &bookkeeping, &value)
                    .await
                    .map(|()| value),
                Err(e) => Err(e),
            };
            let Ok(ctx) = Arc::try_unwrap(ctx) else {
                return failed(failure(
                    FailureKind::System,
                    "the mutation context outlived the mutation".into(),
                ));
            };
            let log_lines = ctx.logs.take();
            let scheduled = ctx
                .scheduled
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .calls()
                > 0;
            let deleted_files = ctx.deleted_files.take();
            let error = match result {
                Err(e) => e,
                Ok(value) => match self.inner.store.commit(ctx.tx).await {
                    Ok(ts) => {
                        if scheduled {
                            self.inner.scheduler_wakeup.notify_one();
                        }
                        if let (Some(files), false) = (&self.inner.files, deleted_files.is_empty())
                        {
                            files.remove(&deleted_files).await;
                        }
                        return FunctionOutcome {
                            result: Ok(value),
                            log_lines,
                            ts: Some(ts),
                        };
                    }
                    Err(e) => FunctionError::from(e),
                },
            };
            drop((_shared, _exclusive));
            let hint = error.retry_hint();
            if hint.is_none() || attempt >= config.max_mutation_attempts {
                let mut f = error.into_failure();
                if hint.is_some() {
                    f.message = format!("{} (gave up after {attempt} attempts)", f.message);
                }
                return FunctionOutcome {
                    result: Err(f),
                    log_lines,
                    ts: None,
                };
            }
            if let Some(RetryHint::Conflict(ts)) = hint {
                // The conflicting commit may not be visible yet; retrying
                // before it is would conflict again.
                if self.inner.store.wait_for_ts(ts).await.is_err() {
                    return failed(failure(FailureKind::System, "the store is closed".into()));
                }
            }
            metrics::counter!("convex_occ_retries_total", "path" => function.path.to_string())
                .increment(1);
            tracing::Span::current().record("occ_retries", attempt);
            let jitter = rand::rng().random_range(0.5..1.5);
            tokio::time::sleep(backoff.mul_f64(jitter)).await;
            backoff = (backoff * 2).min(config.max_backoff);
            attempt += 1;
        }
    }

    /// The result to return without running, when the bookkeeping says the
    /// mutation already ran (or, for a job, must not run).
    async fn already_done(
        &self,
        tx: &crate::store::Transaction,
        bookkeeping: &Bookkeeping<'_>,
    ) -> Result<Option<Value>, FunctionError> {
        match bookkeeping {
            Bookkeeping::None => Ok(None),
            Bookkeeping::Request(request) if request.may_be_resent => {
                recorded_result(tx, request).await
            }
            Bookkeeping::Request(_) => Ok(None),
            Bookkeeping::Job(job) => match scheduler::read_job(tx, *job).await? {
                Some(job) if job.row.state == JobState::Pending => Ok(None),
                _ => Ok(Some(Value::Null)),
            },
        }
    }

    /// Records, in the mutation's transaction, that it ran.
    async fn record(
        &self,
        tx: &crate::store::Transaction,
        bookkeeping: &Bookkeeping<'_>,
        value: &Value,
    ) -> Result<(), FunctionError> {
        match bookkeeping {
            Bookkeeping::None => Ok(()),
            Bookkeeping::Request(request) => record_result(tx, request, value),
            Bookkeeping::Job(id) => {
                let Some(job) = scheduler::read_job(tx, *id).await? else {
                    return Err(FunctionError::system(format!(
                        "the scheduled function {id} disappeared while it ran"
                    )));
                };
                let now = self.inner.clock.now_ms();
                scheduler::set_state(tx, &job, JobState::Success, now).await
            }
        }
    }

    /// Runs an action.
    pub async fn run_action(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
    ) -> FunctionOutcome {
        let run = self.action_inner(path, args, identity, caller);
        self.observed(FunctionKind::Action, path, run, |o| o.result.is_ok())
            .await
    }

    /// Runs `run` (one execution of `path`) in its span, then records its
    /// outcome (`success` tells) and duration on the span and in the metrics.
    async fn observed<T>(
        &self,
        kind: FunctionKind,
        path: &str,
        run: impl std::future::Future<Output = T>,
        success: impl FnOnce(&T) -> bool,
    ) -> T {
        let observed = self.observe(kind, path);
        let outcome = run.instrument(observed.span.clone()).await;
        observed.finish(success(&outcome));
        outcome
    }

    /// A span for one execution of `path`, and the start of its clock.
    fn observe(&self, kind: FunctionKind, path: &str) -> Observed {
        // Only registered paths label metrics: a client may send any string.
        let label = match self.resolve(kind, path, Caller::Function) {
            Ok(function) => function.path.to_string(),
            Err(_) => "(unknown)".to_string(),
        };
        Observed {
            // At debug level: free unless asked for (`RUST_LOG=convex_rs=debug`).
            span: tracing::debug_span!(
                "function",
                kind = crate::telemetry::kind_label(kind),
                path = %label,
                outcome = tracing::field::Empty,
                duration_ms = tracing::field::Empty,
                occ_retries = tracing::field::Empty,
            ),
            kind,
            label,
            started: std::time::Instant::now(),
        }
    }

    async fn action_inner(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        caller: Caller,
    ) -> FunctionOutcome {
        let failed = FunctionOutcome::failed;
        let caller = caller_for(caller, &identity);
        let function = match self.resolve(FunctionKind::Action, path, caller) {
            Ok(f) => f,
            Err(f) => return failed(f),
        };
        if let Err(f) = self.check_args(function, &args) {
            return failed(f);
        }
        let Invoker::Action(invoke) = function.entry.invoke else {
            return failed(failure(
                FailureKind::System,
                "registry kind mismatch".into(),
            ));
        };
        let logs = Arc::new(LogLines::default());
        let ctx = ActionCtx {
            runner: self.clone(),
            identity,
            logs: logs.clone(),
        };
        let result = invoke(ctx, args).await.and_then(check_result_size);
        FunctionOutcome {
            result: result.map_err(FunctionError::into_failure),
            log_lines: logs.take(),
            ts: None,
        }
    }
}

/// One function execution being observed: its span and start time.
struct Observed {
    span: tracing::Span,
    kind: FunctionKind,
    label: String,
    started: std::time::Instant,
}

impl Observed {
    /// Records the outcome and duration on the span and in the metrics.
    fn finish(self, success: bool) {
        let elapsed = self.started.elapsed();
        let outcome = if success { "success" } else { "error" };
        self.span.record("outcome", outcome);
        self.span
            .record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        self.span
            .in_scope(|| tracing::debug!(outcome, "function finished"));
        crate::telemetry::function_finished(self.kind, &self.label, success, elapsed);
    }
}

/// An admin (the deployment's admin key) may call internal functions, as
/// functions can.
fn caller_for(caller: Caller, identity: &Identity) -> Caller {
    if identity.is_admin() {
        Caller::Function
    } else {
        caller
    }
}

async fn recorded_result(
    tx: &crate::store::Transaction,
    request: &RequestKey,
) -> Result<Option<Value>, FunctionError> {
    let range = IndexRange::new()
        .eq("session", request.session.as_str())
        .eq("request", f64::from(request.request));
    let found = Query::<Document>::new(tx, MUTATION_LOG_TABLE)
        .with_index("by_request", range)
        .first()
        .await?;
    match found {
        None => Ok(None),
        Some(doc) if doc.fields.contains_key("tooLarge") => Err(FunctionError::message(
            "this mutation already ran, but its result was too large to keep for a re-send; read the data again instead",
        )),
        Some(doc) => Ok(Some(
            doc.fields.get("result").cloned().unwrap_or(Value::Null),
        )),
    }
}

/// Largest result kept in the mutation log; a re-send of a mutation whose
/// result was larger (or could not be stored as a document) gets an error
/// instead of running twice.
const MAX_RECORDED_RESULT: usize = 512 << 10;

fn record_result(
    tx: &crate::store::Transaction,
    request: &RequestKey,
    value: &Value,
) -> Result<(), FunctionError> {
    let Some(table) = tx.store().catalog().table(MUTATION_LOG_TABLE) else {
        return Ok(()); // a store opened without system tables: no de-duplication
    };
    let base = [
        ("session".to_string(), Value::from(request.session.as_str())),
        (
            "request".to_string(),
            Value::Float64(f64::from(request.request)),
        ),
    ];
    let mut fields: std::collections::BTreeMap<String, Value> = base.clone().into();
    fields.insert("result".to_string(), value.clone());
    if value.size() > MAX_RECORDED_RESULT || crate::value::check_document(&fields).is_err() {
        fields = base.into();
        fields.insert("tooLarge".to_string(), Value::Boolean(true));
    }
    tx.insert(table.number, fields)?;
    Ok(())
}

fn check_result_size(value: Value) -> Result<Value, FunctionError> {
    let size = value.size();
    if size > MAX_ARGS_SIZE {
        return Err(FunctionError::message(format!(
            "the return value is {size} bytes; the limit is {MAX_ARGS_SIZE}"
        )));
    }
    Ok(value)
}
