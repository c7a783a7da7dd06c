//! What a vector index keeps of a document: its vector, normalized, and the
//! key encoding of its filter fields' values.

use std::sync::Arc;

use crate::store::text::filter_value_key;
use crate::store::{Document, StoreError, VectorIndexMeta};
use crate::value::{InternalId, Value};

/// A document as one vector index sees it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndexedVector {
    /// The document.
    pub(crate) id: InternalId,
    /// The vector scaled to length 1 (all zeros stays all zeros), so that
    /// cosine similarity is a dot product.
    pub(crate) vector: Arc<[f32]>,
    /// The key encoding of each filter field's value, in declared order.
    pub(crate) filters: Vec<Vec<u8>>,
}

impl IndexedVector {
    /// The document as `index` sees it: `None` when it has no vector field;
    /// an error when the field is not an array of exactly the index's
    /// dimensions of finite float64 numbers.
    pub(crate) fn of(index: &VectorIndexMeta, doc: &Document) -> Result<Option<Self>, StoreError> {
        // A missing field, or `null` (how Rust's `None` serializes), is no vector.
        let Some(value) = doc
            .get_path(&index.vector_field)
            .filter(|v| !matches!(v, Value::Null))
        else {
            return Ok(None);
        };
        let invalid = |reason: String| StoreError::InvalidVector {
            table: index.table_name.clone(),
            index: index.name.clone(),
            field: index.vector_field.clone(),
            reason,
        };
        let Value::Array(items) = value else {
            return Err(invalid(format!(
                "expected an array of {} numbers, found a value of type {}",
                index.dimensions,
                value.type_name()
            )));
        };
        if items.len() != index.dimensions {
            return Err(invalid(format!(
                "expected {} numbers (the index's dimensions), found {}",
                index.dimensions,
                items.len()
            )));
        }
        let mut vector = Vec::with_capacity(items.len());
        for (position, item) in items.iter().enumerate() {
            match item {
                Value::Float64(x) if x.is_finite() => vector.push(*x as f32),
                other => {
                    return Err(invalid(format!(
                        "element {position} is {other:?}; every element must be a finite float64"
                    )));
                }
            }
        }
        let filters = index
            .filter_fields
            .iter()
            .map(|field| filter_value_key(doc.get_path(field).as_ref()))
            .collect();
        Ok(Some(IndexedVector {
            id: doc.id.internal,
            vector: normalized(&vector).into(),
            filters,
        }))
    }
}

/// `v` scaled to length 1; all zeros stays all zeros.
pub(crate) fn normalized(v: &[f32]) -> Vec<f32> {
    let norm = v
        .iter()
        .map(|x| f64::from(*x) * f64::from(*x))
        .sum::<f64>()
        .sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return vec![0.0; v.len()];
    }
    v.iter().map(|x| (f64::from(*x) / norm) as f32).collect()
}

/// The dot product of two vectors of one length: their cosine similarity
/// when both are normalized, in `[-1, 1]`.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    raw_dot(a, b).clamp(-1.0, 1.0)
}

/// The dot product, summed in eight lanes so the compiler can use SIMD (a
/// single running sum cannot be reordered).
pub(crate) fn raw_dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_keeps_direction_and_zero() {
        let n = normalized(&[3.0, 4.0]);
        assert!((n[0] - 0.6).abs() < 1e-6 && (n[1] - 0.8).abs() < 1e-6);
        assert_eq!(normalized(&[0.0, 0.0]), [0.0, 0.0]);
        assert!((dot(&n, &n) - 1.0).abs() < 1e-6);
        assert!(dot(&n, &normalized(&[-3.0, -4.0])) <= -0.999_999);
        let long: Vec<f32> = (0..21).map(|i| i as f32).collect();
        let expected: f32 = long.iter().map(|x| x * x).sum();
        assert_eq!(raw_dot(&long, &long), expected);
    }
}
