//! What function bodies receive: [`QueryCtx`] (read-only by type),
//! [`MutationCtx`] (read-write) and [`ActionCtx`] (no database; calls other
//! functions).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::runner::Caller;
use super::{FunctionError, FunctionInfo, FunctionKind, Identity, Runner};
use crate::query::{Doc, Query, VectorQuery, VectorResult};
use crate::scheduler::{Budget, SCHEDULED_FUNCTIONS_TABLE, Scheduler};
use crate::schema::Validator;
use crate::storage::{ActionStorage, FileStore, PendingDeletes, StorageReader, StorageWriter};
use crate::store::{Document, TableMeta, Transaction};
use crate::value::{DocumentId, Id, TableType, Value, from_value, to_value};

/// Severity of a log line (`[LEVEL] message` on the wire).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// `console.debug`.
    Debug,
    /// `console.log`.
    Log,
    /// `console.info`.
    Info,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

impl LogLevel {
    fn tag(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Log => "LOG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
        }
    }
}

/// Most log lines one execution keeps; later ones are dropped with a notice.
const MAX_LOG_LINES: usize = 256;

#[derive(Default)]
pub(crate) struct LogLines(Mutex<Vec<String>>);

impl LogLines {
    fn push(&self, level: LogLevel, message: fmt::Arguments<'_>) {
        let mut lines = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match lines.len() {
            n if n < MAX_LOG_LINES => lines.push(format!("[{}] {}", level.tag(), message)),
            MAX_LOG_LINES => lines.push(format!(
                "[WARN] more than {MAX_LOG_LINES} log lines; the rest were dropped"
            )),
            _ => {}
        }
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// State shared by a query or mutation context and the runner.
pub(crate) struct TxContext {
    pub(crate) tx: Transaction,
    pub(crate) identity: Identity,
    pub(crate) logs: LogLines,
    /// What the transaction scheduled (for the limits, and to wake the
    /// scheduler after the commit).
    pub(crate) scheduled: Mutex<Budget>,
    /// Stored files whose rows the transaction deleted.
    pub(crate) deleted_files: PendingDeletes,
    files: Option<Arc<FileStore>>,
    rng: Mutex<StdRng>,
}

impl TxContext {
    pub(crate) fn new(
        tx: Transaction,
        identity: Identity,
        files: Option<Arc<FileStore>>,
    ) -> Arc<Self> {
        let seed = tx.snapshot_ts();
        Arc::new(TxContext {
            tx,
            identity,
            logs: LogLines::default(),
            scheduled: Mutex::new(Budget::default()),
            deleted_files: PendingDeletes::default(),
            files,
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        })
    }
}

macro_rules! shared_ctx_methods {
    () => {
        /// The time at which the transaction started, in milliseconds since
        /// the epoch. Fixed for the whole transaction, so re-runs agree; use
        /// it instead of `SystemTime::now()`.
        pub fn now(&self) -> f64 {
            self.inner.tx.now_ms()
        }

        /// A random number generator seeded from the transaction's snapshot,
        /// so re-runs draw the same numbers. Don't hold the guard across an `.await`.
        pub fn rng(&self) -> MutexGuard<'_, StdRng> {
            self.inner
                .rng
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        }

        /// Who is calling.
        pub fn auth(&self) -> &Identity {
            &self.inner.identity
        }

        /// Adds a `[LOG]` line to the function's log lines (shown by clients).
        pub fn log(&self, message: impl fmt::Display) {
            self.inner
                .logs
                .push(LogLevel::Log, format_args!("{message}"));
        }

        /// Adds a log line at `level`.
        pub fn log_at(&self, level: LogLevel, message: impl fmt::Display) {
            self.inner.logs.push(level, format_args!("{message}"));
        }
    };
}

/// The context of a query: read-only database access.
pub struct QueryCtx {
    pub(crate) inner: Arc<TxContext>,
}

impl QueryCtx {
    /// The database, read-only.
    pub fn db(&self) -> DatabaseReader<'_> {
        DatabaseReader { tx: &self.inner.tx }
    }

    /// Stored files: their URLs and metadata, read in the query's
    /// transaction (so the query is re-run when a file it read is deleted).
    pub fn storage(&self) -> StorageReader<'_> {
        StorageReader {
            tx: &self.inner.tx,
            files: self.inner.files.as_deref(),
        }
    }

    shared_ctx_methods!();
}

/// The context of a mutation: read-write database access in one transaction.
pub struct MutationCtx {
    pub(crate) inner: Arc<TxContext>,
    pub(crate) runner: Runner,
}

impl MutationCtx {
    /// The database, read-write.
    pub fn db(&self) -> DatabaseWriter<'_> {
        DatabaseWriter {
            reader: DatabaseReader { tx: &self.inner.tx },
        }
    }

    /// Schedules calls to run later, as part of this mutation's transaction:
    /// if the mutation fails, nothing it scheduled remains.
    pub fn scheduler(&self) -> Scheduler<'_> {
        Scheduler::in_transaction(&self.runner, &self.inner.tx, &self.inner.scheduled)
    }

    /// Stored files: upload URLs, file URLs and deletes, as part of this
    /// mutation's transaction (a deleted file's bytes go once it commits).
    pub fn storage(&self) -> StorageWriter<'_> {
        StorageWriter {
            reader: StorageReader {
                tx: &self.inner.tx,
                files: self.inner.files.as_deref(),
            },
            runner: &self.runner,
            deletes: &self.inner.deleted_files,
        }
    }

    shared_ctx_methods!();
}

/// Read access to the database inside a query or mutation.
#[derive(Clone, Copy)]
pub struct DatabaseReader<'a> {
    tx: &'a Transaction,
}

impl<'a> DatabaseReader<'a> {
    /// The document with this id, if it exists.
    pub async fn get<T: DeserializeOwned>(
        &self,
        id: Id<T>,
    ) -> Result<Option<Doc<T>>, FunctionError> {
        let Some(doc) = self.tx.get(id.document_id()).await? else {
            return Ok(None);
        };
        let table = self
            .tx
            .store()
            .catalog()
            .table_name(doc.id.table)
            .unwrap_or_default()
            .to_string();
        Ok(Some(crate::query::FromDocument::from_document(
            doc, &table,
        )?))
    }

    /// The document with this id, untyped.
    pub async fn get_document(&self, id: DocumentId) -> Result<Option<Document>, FunctionError> {
        Ok(self.tx.get(id).await?)
    }

    /// A query over the table of `T`, yielding typed documents.
    pub fn query<T: TableType + DeserializeOwned>(&self) -> Query<'a, Doc<T>> {
        Query::new(self.tx, T::TABLE_NAME)
    }

    /// A query over a table by name, yielding untyped documents.
    pub fn query_table(&self, table: &str) -> Query<'a, Document> {
        Query::new(self.tx, table)
    }

    /// The system tables (`_storage`, `_scheduled_functions`, `_cron_jobs`), read-only:
    /// `ctx.db().system().query::<ScheduledFunction>()`. They are read like
    /// any table, reactively in queries; only the backend writes them.
    pub fn system(&self) -> SystemReader<'a> {
        SystemReader { tx: self.tx }
    }

    /// Parses `id` as an id of `table`; `None` if it is not one.
    pub fn normalize_id(&self, table: &str, id: &str) -> Option<DocumentId> {
        let id = DocumentId::decode(id).ok()?;
        (self.tx.store().catalog().table_name(id.table)? == table).then_some(id)
    }

    fn table(&self, name: &str) -> Result<&'a TableMeta, FunctionError> {
        self.tx.store().catalog().table(name).ok_or_else(|| {
            FunctionError::message(format!(
                "table {name:?} does not exist; declare it in the schema"
            ))
        })
    }

    fn table_of(&self, id: DocumentId) -> Result<&'a TableMeta, FunctionError> {
        self.tx
            .store()
            .catalog()
            .table_by_number(id.table)
            .ok_or_else(|| FunctionError::message(format!("{id} is not an id of any table")))
    }
}

/// Read access to the system tables, from [`DatabaseReader::system`].
#[derive(Clone, Copy)]
pub struct SystemReader<'a> {
    tx: &'a Transaction,
}

impl<'a> SystemReader<'a> {
    /// The row of a system table with this id, if it exists.
    pub async fn get<T: TableType + DeserializeOwned>(
        &self,
        id: Id<T>,
    ) -> Result<Option<Doc<T>>, FunctionError> {
        DatabaseReader { tx: self.tx }.get(id).await
    }

    /// A query over the system table of `T` (such as [`ScheduledFunction`](crate::scheduler::ScheduledFunction)).
    pub fn query<T: TableType + DeserializeOwned>(&self) -> Query<'a, Doc<T>> {
        Query::new(self.tx, T::TABLE_NAME)
    }
}

/// Read-write access to the database inside a mutation. Derefs to [`DatabaseReader`].
pub struct DatabaseWriter<'a> {
    reader: DatabaseReader<'a>,
}

impl<'a> std::ops::Deref for DatabaseWriter<'a> {
    type Target = DatabaseReader<'a>;
    fn deref(&self) -> &DatabaseReader<'a> {
        &self.reader
    }
}

fn object_fields(value: Value, what: &str) -> Result<BTreeMap<String, Value>, FunctionError> {
    match value {
        Value::Object(fields) => Ok(fields),
        other => Err(FunctionError::message(format!(
            "{what} must be an object, found {}",
            other.type_name()
        ))),
    }
}

/// Refuses writes to system tables, which only the backend changes.
fn writable(table: &TableMeta) -> Result<&TableMeta, FunctionError> {
    if table.name.starts_with('_') {
        return Err(FunctionError::message(format!(
            "{} is a system table and cannot be written by functions{}",
            table.name,
            if table.name == SCHEDULED_FUNCTIONS_TABLE {
                "; use ctx.scheduler() to schedule or cancel calls"
            } else {
                ""
            }
        )));
    }
    Ok(table)
}

/// Checks a document against its table's validator (if any).
fn validate(
    table: &TableMeta,
    catalog: &crate::store::Catalog,
    fields: &BTreeMap<String, Value>,
) -> Result<(), FunctionError> {
    let Some(validator) = &table.definition.document else {
        return Ok(());
    };
    let result = match validator {
        Validator::Object(object) => object.validate_fields(fields, catalog),
        other => other.validate(&Value::Object(fields.clone()), catalog),
    };
    result.map_err(|e| {
        FunctionError::message(format!(
            "Failed to insert or update a document: {}",
            e.in_table(&table.name)
        ))
    })
}

impl DatabaseWriter<'_> {
    /// Inserts a document into `T`'s table and returns its id.
    pub async fn insert<T: TableType + Serialize>(
        &self,
        document: &T,
    ) -> Result<Id<T>, FunctionError> {
        let fields = object_fields(to_value(document)?, "a document")?;
        Ok(Id::new(self.insert_fields(T::TABLE_NAME, fields)?))
    }

    /// Inserts an untyped document (an object without system fields) into `table`.
    pub async fn insert_value(
        &self,
        table: &str,
        document: Value,
    ) -> Result<DocumentId, FunctionError> {
        self.insert_fields(table, object_fields(document, "a document")?)
    }

    fn insert_fields(
        &self,
        table: &str,
        fields: BTreeMap<String, Value>,
    ) -> Result<DocumentId, FunctionError> {
        let meta = writable(self.table(table)?)?;
        validate(meta, self.tx.store().catalog(), &fields)?;
        Ok(self.tx.insert(meta.number, fields)?)
    }

    /// Applies `patch` to the document: set fields are replaced or added,
    /// unset fields removed, the rest kept.
    pub async fn patch<T>(&self, id: Id<T>, patch: Patch) -> Result<(), FunctionError> {
        self.patch_document(id.document_id(), patch).await
    }

    /// [`patch`](Self::patch) for an untyped id.
    pub async fn patch_document(&self, id: DocumentId, patch: Patch) -> Result<(), FunctionError> {
        let meta = writable(self.table_of(id)?)?;
        let catalog = self.tx.store().catalog();
        self.tx
            .update(id, |current| {
                let mut fields = current.fields.clone();
                for name in &patch.unset {
                    fields.remove(name);
                }
                fields.extend(patch.set);
                validate(meta, catalog, &fields)?;
                Ok::<_, FunctionError>(fields)
            })
            .await
    }

    /// Replaces the document's fields with `document`'s.
    pub async fn replace<T: Serialize>(
        &self,
        id: Id<T>,
        document: &T,
    ) -> Result<(), FunctionError> {
        self.replace_value(id.document_id(), to_value(document)?)
            .await
    }

    /// [`replace`](Self::replace) for an untyped id and document.
    pub async fn replace_value(
        &self,
        id: DocumentId,
        document: Value,
    ) -> Result<(), FunctionError> {
        let meta = writable(self.table_of(id)?)?;
        let fields = object_fields(document, "a document")?;
        validate(meta, self.tx.store().catalog(), &fields)?;
        // A missing document is the store's `NotFound`, whose message names
        // the id (the same for patch, replace and delete).
        Ok(self.tx.replace(id, fields).await?)
    }

    /// Deletes the document.
    pub async fn delete<T>(&self, id: Id<T>) -> Result<(), FunctionError> {
        self.delete_document(id.document_id()).await
    }

    /// [`delete`](Self::delete) for an untyped id.
    pub async fn delete_document(&self, id: DocumentId) -> Result<(), FunctionError> {
        writable(self.table_of(id)?)?;
        Ok(self.tx.delete(id).await?)
    }
}

/// A partial update for [`DatabaseWriter::patch`].
///
/// ```
/// use convex_rs::prelude::*;
/// let patch = Patch::new().set("body", "edited").unset("draft");
/// # let _ = patch;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Patch {
    set: BTreeMap<String, Value>,
    unset: BTreeSet<String>,
}

impl Patch {
    /// An empty patch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `field` to `value`.
    pub fn set(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.unset.remove(field);
        self.set.insert(field.to_string(), value.into());
        self
    }

    /// Removes `field`.
    pub fn unset(mut self, field: &str) -> Self {
        self.set.remove(field);
        self.unset.insert(field.to_string());
        self
    }

    /// Sets every field of a serializable struct or map (`None` fields become `null`).
    pub fn from_fields(fields: &impl Serialize) -> Result<Self, FunctionError> {
        let set = object_fields(to_value(fields)?, "a patch")?;
        Ok(Patch {
            set,
            unset: BTreeSet::new(),
        })
    }
}

/// The context of an action: no database transaction, but it can call
/// queries, mutations and other actions, and do any I/O.
pub struct ActionCtx {
    pub(crate) runner: Runner,
    pub(crate) identity: Identity,
    pub(crate) logs: Arc<LogLines>,
}

impl ActionCtx {
    /// Who is calling.
    pub fn auth(&self) -> &Identity {
        &self.identity
    }

    /// Schedules calls to run later; each call is recorded at once (an
    /// action has no transaction to be part of).
    pub fn scheduler(&self) -> Scheduler<'_> {
        Scheduler::immediate(&self.runner)
    }

    /// Stored files: upload URLs, file URLs, and storing, reading and
    /// deleting files (each committed at once).
    pub fn storage(&self) -> ActionStorage<'_> {
        ActionStorage {
            runner: &self.runner,
        }
    }

    /// Adds a `[LOG]` line.
    pub fn log(&self, message: impl fmt::Display) {
        self.logs.push(LogLevel::Log, format_args!("{message}"));
    }

    /// Adds a log line at `level`.
    pub fn log_at(&self, level: LogLevel, message: impl fmt::Display) {
        self.logs.push(level, format_args!("{message}"));
    }

    /// The documents of `T`'s table whose vectors in the vector index
    /// `index` are most similar (cosine) to `query`'s, best first, as ids
    /// with scores; as in Convex, run at the latest snapshot and not part of
    /// any transaction (load the documents with a query).
    pub async fn vector_search<T: TableType>(
        &self,
        index: &str,
        query: VectorQuery,
    ) -> Result<Vec<VectorResult<T>>, FunctionError> {
        let tx = self.runner.store().begin_read();
        let found = crate::query::vector_search_ids(&tx, T::TABLE_NAME, index, &query).await?;
        Ok(found
            .into_iter()
            .map(|(id, score)| VectorResult {
                id: Id::new(id),
                score,
            })
            .collect())
    }

    async fn call<F: FunctionInfo>(
        &self,
        kind: FunctionKind,
        args: F::Args,
    ) -> Result<F::Output, FunctionError> {
        if F::ENTRY.kind != kind {
            return Err(FunctionError::message(format!(
                "{} is a {}, not a {kind}; call it with the matching run_* method",
                F::ENTRY.name,
                F::ENTRY.kind
            )));
        }
        let path = self
            .runner
            .registry()
            .path_of(F::ENTRY)
            .cloned()
            .ok_or_else(|| {
                FunctionError::message(format!("{} is not registered in this app", F::ENTRY.name))
            })?;
        let value = self
            .call_path(kind, &path.to_string(), to_value(&args)?)
            .await?;
        Ok(from_value(value)?)
    }

    async fn call_path(
        &self,
        kind: FunctionKind,
        path: &str,
        args: Value,
    ) -> Result<Value, FunctionError> {
        let outcome = self
            .runner
            .run(kind, path, args, self.identity.clone(), Caller::Function)
            .await;
        for line in &outcome.log_lines {
            self.logs
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(line.clone());
        }
        outcome
            .result
            .map_err(|f| FunctionError::of(f.kind, f.message, f.data))
    }

    /// Runs a query (in its own transaction at the latest snapshot).
    pub async fn run_query<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionError> {
        self.call::<F>(FunctionKind::Query, args).await
    }

    /// Runs a mutation (its own transaction, committed before this returns).
    pub async fn run_mutation<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionError> {
        self.call::<F>(FunctionKind::Mutation, args).await
    }

    /// Runs another action.
    pub async fn run_action<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionError> {
        self.call::<F>(FunctionKind::Action, args).await
    }

    /// Runs a query by path with untyped arguments.
    pub async fn run_query_by_path(&self, path: &str, args: Value) -> Result<Value, FunctionError> {
        self.call_path(FunctionKind::Query, path, args).await
    }

    /// Runs a mutation by path with untyped arguments.
    pub async fn run_mutation_by_path(
        &self,
        path: &str,
        args: Value,
    ) -> Result<Value, FunctionError> {
        self.call_path(FunctionKind::Mutation, path, args).await
    }

    /// Runs an action by path with untyped arguments.
    pub async fn run_action_by_path(
        &self,
        path: &str,
        args: Value,
    ) -> Result<Value, FunctionError> {
        self.call_path(FunctionKind::Action, path, args).await
    }
}
