//! The system tables of the scheduler: `_scheduled_functions` (one row per
//! scheduled call, with Convex's fields) and `_cron_jobs` (one row per
//! declared cron job), and the small transactions that change a job's state.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::function::{FunctionError, row_fields as fields_of, table_number};
use crate::query::{IndexRange, Query};
use crate::schema::TableDefinition;
use crate::store::{Document, Transaction};
use crate::value::{DocumentId, TableType, Value, from_value};

/// The system table of scheduled function calls.
pub const SCHEDULED_FUNCTIONS_TABLE: &str = "_scheduled_functions";
/// The system table of cron jobs.
pub const CRON_JOBS_TABLE: &str = "_cron_jobs";
/// Index of `_scheduled_functions` by state, then scheduled time.
pub const BY_STATE: &str = "by_state";
/// Index of `_scheduled_functions` by state, then completion time.
pub(crate) const BY_COMPLETION: &str = "by_completion";
/// Index of `_cron_jobs` by name.
pub(crate) const BY_NAME: &str = "by_name";

/// Where a scheduled call is in its life.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum JobState {
    /// Waiting for its time.
    Pending,
    /// An action that has started (mutations go from pending to done in one
    /// transaction and are never seen in progress).
    InProgress,
    /// Ran and returned successfully.
    Success,
    /// Ran and failed (or could not run); `error` says why.
    Failed {
        /// What went wrong.
        error: String,
    },
    /// Canceled before it ran (or, for an action, while it ran).
    Canceled,
}

impl JobState {
    /// The `kind` field of the state object.
    pub fn kind(&self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::InProgress => "inProgress",
            JobState::Success => "success",
            JobState::Failed { .. } => "failed",
            JobState::Canceled => "canceled",
        }
    }

    /// Whether the job is done (successfully or not) for good.
    pub fn is_final(&self) -> bool {
        !matches!(self, JobState::Pending | JobState::InProgress)
    }
}

/// A row of `_scheduled_functions`, as Convex defines it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledFunction {
    /// The path of the scheduled function (`messages:send`).
    pub name: String,
    /// Its arguments: a one-element array holding the arguments object.
    pub args: Vec<Value>,
    /// When it is to run, in milliseconds since the Unix epoch.
    pub scheduled_time: f64,
    /// When it finished (succeeded, failed or was canceled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_time: Option<f64>,
    /// Where it is in its life.
    pub state: JobState,
}

impl TableType for ScheduledFunction {
    const TABLE_NAME: &'static str = SCHEDULED_FUNCTIONS_TABLE;
}

/// A row of `_cron_jobs`: a declared cron job and when it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CronJobRow {
    /// The cron job's name, unique in the app.
    pub name: String,
    /// Its schedule, as text (`every 3600 s`, `0 3 * * *`).
    pub schedule: String,
    /// The path of the function it runs.
    pub function_name: String,
    /// The arguments it runs the function with.
    pub args: Value,
    /// When it last started a run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<f64>,
    /// When it runs next.
    pub next_run: f64,
    /// The `_scheduled_functions` row of its latest run (a new run does not
    /// start while this one is pending or in progress).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_job: Option<String>,
}

impl TableType for CronJobRow {
    const TABLE_NAME: &'static str = CRON_JOBS_TABLE;
}

/// The definitions of the scheduler's system tables.
pub(crate) fn system_tables() -> [TableDefinition; 2] {
    [
        TableDefinition::of::<ScheduledFunction>()
            .index(BY_STATE, &["state.kind", "scheduledTime"])
            .index(BY_COMPLETION, &["state.kind", "completedTime"]),
        TableDefinition::of::<CronJobRow>().index(BY_NAME, &["name"]),
    ]
}

/// A job as read from its table.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) id: DocumentId,
    pub(crate) row: ScheduledFunction,
}

impl Job {
    pub(crate) fn from_document(doc: Document) -> Result<Job, FunctionError> {
        let row = from_value(Value::Object(doc.fields)).map_err(|e| {
            FunctionError::system(format!(
                "a {SCHEDULED_FUNCTIONS_TABLE} row is malformed: {e}"
            ))
        })?;
        Ok(Job { id: doc.id, row })
    }

    /// The arguments object.
    pub(crate) fn args(&self) -> Value {
        self.row
            .args
            .first()
            .cloned()
            .unwrap_or_else(|| Value::Object(BTreeMap::new()))
    }
}

/// Inserts a pending job.
pub(crate) fn insert_job(
    tx: &Transaction,
    name: String,
    args: Value,
    scheduled_time: f64,
) -> Result<DocumentId, FunctionError> {
    let row = ScheduledFunction {
        name,
        args: vec![args],
        scheduled_time,
        completed_time: None,
        state: JobState::Pending,
    };
    let table = table_number(tx, SCHEDULED_FUNCTIONS_TABLE)?;
    Ok(tx.insert(table, fields_of(&row)?)?)
}

/// Reads a job (recording the read, so a concurrent change conflicts).
pub(crate) async fn read_job(
    tx: &Transaction,
    id: DocumentId,
) -> Result<Option<Job>, FunctionError> {
    match tx.get(id).await? {
        Some(doc) => Ok(Some(Job::from_document(doc)?)),
        None => Ok(None),
    }
}

/// Moves a job to `state` (with `completedTime` when the state is final).
pub(crate) async fn set_state(
    tx: &Transaction,
    job: &Job,
    state: JobState,
    now_ms: f64,
) -> Result<(), FunctionError> {
    let mut row = job.row.clone();
    if state.is_final() {
        row.completed_time = Some(now_ms);
    }
    row.state = state;
    let fields = fields_of(&row)?;
    tx.replace(job.id, fields).await?;
    Ok(())
}

/// Pending jobs in due order, the first `limit` of them.
pub(crate) async fn pending_jobs(
    tx: &Transaction,
    limit: usize,
) -> Result<Vec<Job>, FunctionError> {
    jobs_in_state(tx, "pending", limit).await
}

/// Jobs whose state is `kind`, in scheduled order, the first `limit` of them.
pub(crate) async fn jobs_in_state(
    tx: &Transaction,
    kind: &str,
    limit: usize,
) -> Result<Vec<Job>, FunctionError> {
    let docs = Query::<Document>::new(tx, SCHEDULED_FUNCTIONS_TABLE)
        .with_index(BY_STATE, IndexRange::new().eq("state.kind", kind))
        .take(limit)
        .await?;
    docs.into_iter().map(Job::from_document).collect()
}

/// Jobs whose state is `kind` (a final one) that finished before
/// `before_ms`, the first `limit` of them.
pub(crate) async fn finished_before(
    tx: &Transaction,
    kind: &str,
    before_ms: f64,
    limit: usize,
) -> Result<Vec<Job>, FunctionError> {
    let range = IndexRange::new()
        .eq("state.kind", kind)
        .gte("completedTime", f64::NEG_INFINITY)
        .lt("completedTime", before_ms);
    let docs = Query::<Document>::new(tx, SCHEDULED_FUNCTIONS_TABLE)
        .with_index(BY_COMPLETION, range)
        .take(limit)
        .await?;
    docs.into_iter().map(Job::from_document).collect()
}

/// Every cron job row, with its id.
pub(crate) async fn cron_rows(
    tx: &Transaction,
) -> Result<Vec<(DocumentId, CronJobRow)>, FunctionError> {
    let docs = Query::<Document>::new(tx, CRON_JOBS_TABLE)
        .collect()
        .await?;
    docs.into_iter()
        .map(|doc| {
            let row = from_value(Value::Object(doc.fields)).map_err(|e| {
                FunctionError::system(format!("a {CRON_JOBS_TABLE} row is malformed: {e}"))
            })?;
            Ok((doc.id, row))
        })
        .collect()
}

/// Inserts or replaces a cron job row.
pub(crate) async fn put_cron_row(
    tx: &Transaction,
    id: Option<DocumentId>,
    row: &CronJobRow,
) -> Result<(), FunctionError> {
    let fields = fields_of(row)?;
    match id {
        Some(id) => tx.replace(id, fields).await?,
        None => {
            tx.insert(table_number(tx, CRON_JOBS_TABLE)?, fields)?;
        }
    }
    Ok(())
}
