use thiserror::Error;

use crate::store::StoreError;
use crate::value::ValueError;

/// Errors from building or running a query.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The store failed or a limit was hit.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The index range does not fit the index's fields.
    #[error("invalid range for index {index:?} of table {table:?}: {reason}")]
    InvalidRange {
        /// The table.
        table: String,
        /// The index.
        index: String,
        /// What is wrong.
        reason: String,
    },
    /// A text search does not fit its search index or exceeds a limit.
    #[error("invalid search of index {index:?} of table {table:?}: {reason}")]
    InvalidSearch {
        /// The table.
        table: String,
        /// The search index.
        index: String,
        /// What is wrong.
        reason: String,
    },
    /// A vector search does not fit its vector index or exceeds a limit.
    #[error("invalid vector search of index {index:?} of table {table:?}: {reason}")]
    InvalidVectorSearch {
        /// The table.
        table: String,
        /// The vector index.
        index: String,
        /// What is wrong.
        reason: String,
    },
    /// A pagination cursor could not be decoded.
    #[error("InvalidCursor: {0}")]
    InvalidCursor(String),
    /// Pagination options are out of range.
    #[error("invalid pagination options: {0}")]
    InvalidPagination(String),
    /// `unique()` found more than one document.
    #[error(
        "unique() query on table {table:?} returned more than one document: {first} and {second}"
    )]
    NotUnique {
        /// The table.
        table: String,
        /// The first id.
        first: String,
        /// The second id.
        second: String,
    },
    /// A document did not deserialize into the requested Rust type.
    #[error("document {id} of table {table:?} does not match the Rust type: {source}")]
    Decode {
        /// The table.
        table: String,
        /// The document id.
        id: String,
        /// The error.
        source: ValueError,
    },
}
