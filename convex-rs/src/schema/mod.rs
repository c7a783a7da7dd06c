//! Tables, document validators and indexes.
//!
//! A [`Schema`] lists the app's tables. Each [`TableDefinition`] may carry a
//! document [`Validator`] (without one, any valid document is accepted, as in
//! Convex) and declares its indexes. Two indexes exist on every table without
//! being declared: `by_id` (point lookups) and `by_creation_time` (the default
//! order of a table scan).

mod error;
mod json_schema;
mod search;
mod table;
mod validator;

pub use error::{SchemaError, ValidationError};
pub use json_schema::validator_from_json_schema;
pub use search::{
    MAX_SEARCH_FILTER_FIELDS, MAX_VECTOR_DIMENSIONS, MIN_VECTOR_DIMENSIONS, SearchIndex,
    SearchIndexDefinition, VectorIndex, VectorIndexDefinition,
};
pub use table::{
    BY_CREATION_TIME, BY_ID, IndexDefinition, MAX_INDEX_FIELDS, MUTATION_LOG_TABLE, SYSTEM_TABLES,
    Schema, TableDefinition,
};
pub use validator::{FieldValidator, ObjectValidator, TableNames, Validator, v};
