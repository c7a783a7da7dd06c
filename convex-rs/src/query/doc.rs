use std::ops::{Deref, DerefMut};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::QueryError;
use crate::store::Document;
use crate::value::{Id, TableType, Value, from_value};

/// A typed document: `_id`, `_creationTime` and the fields of `T`.
///
/// Serializes to the same shape clients see: the fields of `T` flattened next
/// to `_id` and `_creationTime`. Derefs to `T`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(bound(
    serialize = "T: Serialize",
    deserialize = "T: serde::de::DeserializeOwned"
))]
#[schemars(bound = "T: TableType + JsonSchema")]
pub struct Doc<T> {
    /// The document's id.
    #[serde(rename = "_id")]
    pub id: Id<T>,
    /// Milliseconds since the epoch at which the document was inserted.
    #[serde(rename = "_creationTime")]
    pub creation_time: f64,
    /// The user fields.
    #[serde(flatten)]
    pub fields: T,
}

impl<T> Deref for Doc<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.fields
    }
}

impl<T> DerefMut for Doc<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.fields
    }
}

/// Types a query can return documents as: [`Document`] (untyped) or [`Doc<T>`].
pub trait FromDocument: Sized {
    /// Converts a document read from `table`.
    fn from_document(doc: Document, table: &str) -> Result<Self, QueryError>;
}

impl FromDocument for Document {
    fn from_document(doc: Document, _table: &str) -> Result<Self, QueryError> {
        Ok(doc)
    }
}

impl<T: serde::de::DeserializeOwned> FromDocument for Doc<T> {
    fn from_document(doc: Document, table: &str) -> Result<Self, QueryError> {
        let id = doc.id;
        let fields: T =
            from_value(Value::Object(doc.fields)).map_err(|source| QueryError::Decode {
                table: table.to_string(),
                id: id.encode(),
                source,
            })?;
        Ok(Doc {
            id: Id::new(id),
            creation_time: doc.creation_time,
            fields,
        })
    }
}
