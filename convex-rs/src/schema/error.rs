use thiserror::Error;

/// A problem with the schema itself, found when the backend starts.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum SchemaError {
    /// A table or index name is not a valid identifier.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Two tables share a name.
    #[error("table {0:?} is declared twice")]
    DuplicateTable(String),
    /// Two indexes of one table share a name.
    #[error("table {table:?} declares index {index:?} twice")]
    DuplicateIndex {
        /// The table.
        table: String,
        /// The index name.
        index: String,
    },
    /// An index name is reserved (`by_id`, `by_creation_time`) or starts with `_`.
    #[error("table {table:?}: index name {index:?} is reserved; choose another name")]
    ReservedIndexName {
        /// The table.
        table: String,
        /// The index name.
        index: String,
    },
    /// An index has no fields or too many.
    #[error(
        "table {table:?}: index {index:?} has {count} fields; an index needs 1 to {max} fields"
    )]
    IndexFieldCount {
        /// The table.
        table: String,
        /// The index name.
        index: String,
        /// How many fields it has.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// An index names a field that the table's validator does not have.
    #[error(
        "table {table:?}: index {index:?} uses field {field:?}, which the table's validator does not declare"
    )]
    UnknownIndexField {
        /// The table.
        table: String,
        /// The index name.
        index: String,
        /// The missing field.
        field: String,
    },
    /// A search or vector index has too many filter fields.
    #[error(
        "table {table:?}: index {index:?} has {count} filter fields; a search or vector index allows at most {max}"
    )]
    SearchFilterFieldCount {
        /// The table.
        table: String,
        /// The index name.
        index: String,
        /// How many filter fields it has.
        count: usize,
        /// The maximum.
        max: usize,
    },
    /// A vector index's dimension count is out of range.
    #[error(
        "table {table:?}: vector index {index:?} has {dimensions} dimensions; a vector index needs 2 to 4096"
    )]
    VectorDimensions {
        /// The table.
        table: String,
        /// The index name.
        index: String,
        /// The declared dimensions.
        dimensions: usize,
    },
    /// An index lists the same field twice.
    #[error("table {table:?}: index {index:?} lists field {field:?} twice")]
    DuplicateIndexField {
        /// The table.
        table: String,
        /// The index name.
        index: String,
        /// The repeated field.
        field: String,
    },
    /// A table's validator is not an object validator.
    #[error("table {table:?}: a document validator must describe an object, found {found}")]
    NotAnObject {
        /// The table.
        table: String,
        /// What was found instead.
        found: String,
    },
    /// A validator declares a system field (`_id`, `_creationTime`) or another `_` field.
    #[error("table {table:?}: field {field:?} is reserved for system fields")]
    ReservedField {
        /// The table.
        table: String,
        /// The field.
        field: String,
    },
}

/// A value that does not match a validator.
///
/// The message names the table (when there is one), the path of the field
/// and the expected type, e.g.
/// `messages.user: expected Id<users>, found an id of table "messages"`.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{}: expected {expected}, found {found}", self.location())]
pub struct ValidationError {
    /// The table whose document failed, if this is a document write.
    pub table: Option<String>,
    /// The path of the offending field (`user`, `tags[2]`, `address.city`), empty for the root.
    pub path: String,
    /// What the validator wanted.
    pub expected: String,
    /// What was there.
    pub found: String,
}

impl ValidationError {
    fn location(&self) -> String {
        match (&self.table, self.path.is_empty()) {
            (Some(t), true) => format!("document of table {t:?}"),
            (Some(t), false) => format!("{t}.{}", self.path),
            (None, true) => "value".to_string(),
            (None, false) => self.path.clone(),
        }
    }

    /// Sets the table the error refers to.
    pub fn in_table(mut self, table: &str) -> Self {
        self.table = Some(table.to_string());
        self
    }
}
