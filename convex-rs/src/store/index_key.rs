//! Index keys: the order-preserving encoding of a document's indexed fields,
//! followed by `_creationTime` (user indexes) and the document id, so that
//! every key is unique and a range of field values is a range of bytes.

use super::{Document, IndexMeta};
use crate::schema::BY_CREATION_TIME;
use crate::value::{Value, encode_value};

/// The byte that stands for a missing field in an index key. It sorts before
/// every encoded value (as `undefined` sorts before `null` in Convex).
pub const MISSING_FIELD: u8 = 0x01;

/// The index key of `doc` in `index`.
pub(crate) fn index_key(index: &IndexMeta, doc: &Document) -> Vec<u8> {
    if index.is_by_id() {
        return doc.id.internal.0.to_vec();
    }
    let mut out = Vec::with_capacity(48);
    for field in &index.fields {
        match doc.get_path(field) {
            Some(value) => encode_value(&value, &mut out),
            None => out.push(MISSING_FIELD),
        }
    }
    if index.name != BY_CREATION_TIME {
        encode_value(&Value::Float64(doc.creation_time), &mut out);
    }
    out.extend_from_slice(&doc.id.internal.0);
    out
}

/// The key prefix selecting documents whose first fields equal `values`
/// (`None` meaning "field missing").
pub fn index_key_prefix(values: &[Option<&Value>]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        match value {
            Some(v) => encode_value(v, &mut out),
            None => out.push(MISSING_FIELD),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IndexId;
    use crate::value::{DocumentId, InternalId, TableNumber};
    use std::collections::BTreeMap;

    fn doc(n: u8, fields: &[(&str, Value)]) -> Document {
        Document {
            id: DocumentId {
                table: TableNumber(1),
                internal: InternalId([n; 16]),
            },
            creation_time: 1000.0 + f64::from(n),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn index(fields: &[&str]) -> IndexMeta {
        IndexMeta {
            id: IndexId(9),
            table: TableNumber(1),
            name: "by_x".into(),
            fields: fields.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn keys_order_by_fields_then_creation_then_id() {
        let ix = index(&["a"]);
        let k1 = index_key(&ix, &doc(2, &[("a", Value::Float64(1.0))]));
        let k2 = index_key(&ix, &doc(1, &[("a", Value::Float64(2.0))]));
        let k3 = index_key(&ix, &doc(3, &[("a", Value::Float64(2.0))]));
        let missing = index_key(&ix, &doc(4, &[]));
        let null = index_key(&ix, &doc(5, &[("a", Value::Null)]));
        assert!(missing < null && null < k1 && k1 < k2 && k2 < k3);
        let prefix = index_key_prefix(&[Some(&Value::Float64(2.0))]);
        assert!(k2.starts_with(&prefix) && k3.starts_with(&prefix) && !k1.starts_with(&prefix));
    }
}
