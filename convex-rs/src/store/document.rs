use std::collections::BTreeMap;

use crate::value::{DocumentId, Value, ValueError, decode_value, encode_value};

/// The system field holding a document's id.
pub const ID_FIELD: &str = "_id";
/// The system field holding a document's creation time (float64 ms since the epoch).
pub const CREATION_TIME_FIELD: &str = "_creationTime";

/// A document: its id, creation time and user fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// The document's id.
    pub id: DocumentId,
    /// Milliseconds since the Unix epoch at which it was inserted.
    pub creation_time: f64,
    /// The user-defined fields (no system fields).
    pub fields: BTreeMap<String, Value>,
}

impl Document {
    /// The document as a value, with `_id` and `_creationTime` added.
    pub fn to_value(&self) -> Value {
        let mut fields = self.fields.clone();
        fields.insert(ID_FIELD.to_string(), Value::String(self.id.encode()));
        fields.insert(
            CREATION_TIME_FIELD.to_string(),
            Value::Float64(self.creation_time),
        );
        Value::Object(fields)
    }

    /// Consumes the document into a value, with `_id` and `_creationTime` added.
    pub fn into_value(self) -> Value {
        let mut fields = self.fields;
        fields.insert(ID_FIELD.to_string(), Value::String(self.id.encode()));
        fields.insert(
            CREATION_TIME_FIELD.to_string(),
            Value::Float64(self.creation_time),
        );
        Value::Object(fields)
    }

    /// The value at a dotted field path; `_id` and `_creationTime` included.
    /// `None` when the field is missing.
    pub fn get_path(&self, path: &str) -> Option<Value> {
        match path {
            ID_FIELD => return Some(Value::String(self.id.encode())),
            CREATION_TIME_FIELD => return Some(Value::Float64(self.creation_time)),
            _ => {}
        }
        let (head, rest) = match path.split_once('.') {
            Some((head, rest)) => (head, Some(rest)),
            None => (path, None),
        };
        let value = self.fields.get(head)?;
        match rest {
            None => Some(value.clone()),
            Some(rest) => value.get_path(rest).cloned(),
        }
    }

    /// The stored form: the user fields plus `_creationTime`, key-encoded.
    pub(crate) fn encode_body(&self) -> Vec<u8> {
        let mut fields = self.fields.clone();
        fields.insert(
            CREATION_TIME_FIELD.to_string(),
            Value::Float64(self.creation_time),
        );
        let mut out = Vec::with_capacity(64);
        encode_value(&Value::Object(fields), &mut out);
        out
    }

    /// Rebuilds a document from its stored form.
    pub(crate) fn decode_body(id: DocumentId, bytes: &[u8]) -> Result<Document, ValueError> {
        let (value, _) = decode_value(bytes)?;
        let Value::Object(mut fields) = value else {
            return Err(ValueError::Serde {
                message: "stored document is not an object".into(),
            });
        };
        let creation_time = match fields.remove(CREATION_TIME_FIELD) {
            Some(Value::Float64(t)) => t,
            _ => {
                return Err(ValueError::Serde {
                    message: "stored document lacks _creationTime".into(),
                });
            }
        };
        Ok(Document {
            id,
            creation_time,
            fields,
        })
    }

    /// The size of the document by Convex's size metric.
    pub fn size(&self) -> usize {
        2 + self
            .fields
            .iter()
            .map(|(k, v)| k.len() + 1 + v.size())
            .sum::<usize>()
            + 30
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{InternalId, TableNumber};

    #[test]
    fn body_round_trip_and_paths() {
        let mut fields = BTreeMap::new();
        let mut inner = BTreeMap::new();
        inner.insert("b".to_string(), Value::Int64(3));
        fields.insert("a".to_string(), Value::Object(inner));
        let doc = Document {
            id: DocumentId {
                table: TableNumber(3),
                internal: InternalId([1; 16]),
            },
            creation_time: 1234.5,
            fields,
        };
        let back = Document::decode_body(doc.id, &doc.encode_body()).unwrap();
        assert_eq!(back, doc);
        assert_eq!(doc.get_path("a.b"), Some(Value::Int64(3)));
        assert_eq!(doc.get_path("a.c"), None);
        assert_eq!(doc.get_path("_creationTime"), Some(Value::Float64(1234.5)));
        assert!(matches!(doc.to_value(), Value::Object(o) if o.len() == 3));
    }
}
