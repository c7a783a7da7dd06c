use thiserror::Error;

use crate::schema::SchemaError;
use crate::value::ValueError;

/// Errors from opening, reading or writing the store.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database (SQLite or PostgreSQL) failed.
    #[error("storage error: {0}")]
    Sqlite(#[from] sqlx::Error),
    /// The database cannot be reached, or refuses us.
    #[error("{0}")]
    Unavailable(String),
    /// Another server holds the writer's lease on the database.
    #[error(
        "another convex-rs server is serving the database at {0} (it holds the writer's lease); \
         stop it, or start this one with --standby to take over when it stops"
    )]
    LeaseHeld(String),
    /// Another server took the writer's lease: this one may no longer commit.
    #[error(
        "this server lost the writer's lease on the database to another server; \
         nothing more is committed here: restart it (as a --standby)"
    )]
    LeaseLost,
    /// The schema is invalid.
    #[error("invalid schema: {0}")]
    Schema(SchemaError),
    /// A stored index definition disagrees with the schema in a way the store
    /// cannot fix by itself.
    #[error("catalog error: {0}")]
    Catalog(String),
    /// Stored bytes could not be decoded (the database is corrupt or from a newer version).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A value is invalid (too large, bad field name, ...).
    #[error(transparent)]
    Value(#[from] ValueError),
    /// No table with this name exists.
    #[error("table {0:?} does not exist; declare it in the schema")]
    UnknownTable(String),
    /// No index with this name exists on the table.
    #[error("index {index:?} does not exist on table {table:?}")]
    UnknownIndex {
        /// The table.
        table: String,
        /// The index name.
        index: String,
    },
    /// A write was attempted in a read-only transaction (a query).
    #[error("this transaction is read-only: queries cannot write; use a mutation")]
    ReadOnly,
    /// The document to update or delete does not exist.
    #[error("document {0} does not exist")]
    NotFound(String),
    /// A document with this id exists already (inserting with a given id).
    #[error("document {0} already exists")]
    AlreadyExists(String),
    /// A transaction limit was exceeded.
    #[error("transaction limit exceeded: {0}")]
    LimitExceeded(String),
    /// A snapshot newer than the latest commit was requested.
    #[error("timestamp {requested} is in the future (latest is {latest})")]
    FutureTimestamp {
        /// The requested timestamp.
        requested: u64,
        /// The latest durable timestamp.
        latest: u64,
    },
    /// A snapshot older than the retention window was requested: its old
    /// revisions may have been garbage-collected.
    #[error(
        "timestamp {requested} is older than the oldest retained snapshot ({oldest}); \
         old revisions are kept for the retention window (--retention), read at a newer timestamp"
    )]
    SnapshotExpired {
        /// The requested timestamp.
        requested: u64,
        /// The oldest snapshot that can still be read.
        oldest: u64,
    },
    /// The store has been shut down.
    #[error("the store is closed")]
    Closed,
    /// A document's vector field does not fit a vector index of its table.
    #[error("field {field:?} does not fit vector index {index:?} of table {table:?}: {reason}")]
    InvalidVector {
        /// The table.
        table: String,
        /// The vector index.
        index: String,
        /// The vector field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A search index failed (its files are rebuilt from the store at the next start).
    #[error("search index error: {0}")]
    Search(String),
    /// A search ran at a snapshot older than its index keeps.
    #[error(
        "this search's snapshot is older than the search index keeps (oldest {oldest}); retry it"
    )]
    SearchSnapshotTooOld {
        /// The oldest searchable timestamp.
        oldest: u64,
    },
}

/// Why a commit did not happen.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CommitError {
    /// Another transaction committed a write to something this one read.
    #[error(
        "this mutation conflicted with a concurrent write to table {table:?}; it read data that changed before it could commit"
    )]
    Conflict {
        /// The table of the conflicting write.
        table: String,
        /// The commit timestamp of the conflicting write.
        conflicting_ts: u64,
    },
    /// The transaction began at a snapshot older than the conflict-detection window.
    #[error("this transaction's snapshot is too old to be validated; retry it")]
    SnapshotTooOld {
        /// The oldest commit still remembered.
        oldest: u64,
    },
    /// The batch could not be made durable.
    #[error("storage error while committing: {0}")]
    Storage(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
}
