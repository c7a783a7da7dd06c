use crate::store::{IndexMeta, KeyInterval, index_key_prefix};
use crate::value::{Value, encode_value, prefix_successor};

use super::QueryError;

/// A range over an index: equality on a prefix of its fields, then at most one
/// lower and one upper bound on the next field (Convex's `withIndex` rules).
///
/// ```
/// use convex_rs::query::IndexRange;
/// // index by_channel_time [channel, time]:
/// let range = IndexRange::new().eq("channel", "general").gte("time", 10.0).lt("time", 20.0);
/// # let _ = range;
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IndexRange {
    eqs: Vec<(String, Value)>,
    lower: Option<Bound>,
    upper: Option<Bound>,
}

#[derive(Clone, Debug, PartialEq)]
struct Bound {
    field: String,
    value: Value,
    inclusive: bool,
}

impl IndexRange {
    /// The whole index.
    pub fn new() -> Self {
        Self::default()
    }

    /// `field == value`; equalities must follow the index's field order.
    pub fn eq(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.eqs.push((field.to_string(), value.into()));
        self
    }

    /// `field > value`.
    pub fn gt(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.lower = Some(Bound {
            field: field.to_string(),
            value: value.into(),
            inclusive: false,
        });
        self
    }

    /// `field >= value`.
    pub fn gte(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.lower = Some(Bound {
            field: field.to_string(),
            value: value.into(),
            inclusive: true,
        });
        self
    }

    /// `field < value`.
    pub fn lt(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.upper = Some(Bound {
            field: field.to_string(),
            value: value.into(),
            inclusive: false,
        });
        self
    }

    /// `field <= value`.
    pub fn lte(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.upper = Some(Bound {
            field: field.to_string(),
            value: value.into(),
            inclusive: true,
        });
        self
    }

    /// The key interval this range selects in `index`.
    pub(crate) fn to_interval(
        &self,
        table: &str,
        index: &IndexMeta,
    ) -> Result<KeyInterval, QueryError> {
        let invalid = |reason: String| QueryError::InvalidRange {
            table: table.to_string(),
            index: index.name.clone(),
            reason,
        };
        if index.is_by_id() {
            return Err(invalid("by_id cannot be scanned; use db.get(id)".into()));
        }
        if self.eqs.len() > index.fields.len() {
            return Err(invalid(format!(
                "{} equality conditions but the index has {} fields",
                self.eqs.len(),
                index.fields.len()
            )));
        }
        for (i, (field, _)) in self.eqs.iter().enumerate() {
            if index.fields[i] != *field {
                return Err(invalid(format!(
                    "equality #{} is on {field:?} but the index's field #{} is {:?}; conditions must follow the index's field order",
                    i + 1,
                    i + 1,
                    index.fields[i]
                )));
            }
        }
        let next_field = index.fields.get(self.eqs.len());
        for bound in [&self.lower, &self.upper].into_iter().flatten() {
            match next_field {
                Some(f) if *f == bound.field => {}
                Some(f) => {
                    return Err(invalid(format!(
                        "a range bound on {:?} must be on the field after the equalities, {f:?}",
                        bound.field
                    )));
                }
                None => {
                    return Err(invalid(format!(
                        "a range bound on {:?} follows equalities on every field",
                        bound.field
                    )));
                }
            }
        }
        let values: Vec<Option<&Value>> = self.eqs.iter().map(|(_, v)| Some(v)).collect();
        let prefix = index_key_prefix(&values);
        let with = |v: &Value| {
            let mut key = prefix.clone();
            encode_value(v, &mut key);
            key
        };
        let start = match &self.lower {
            None => prefix.clone(),
            Some(b) if b.inclusive => with(&b.value),
            Some(b) => match prefix_successor(&with(&b.value)) {
                Some(s) => s,
                None => {
                    return Ok(KeyInterval {
                        start: prefix.clone(),
                        end: Some(prefix),
                    });
                }
            },
        };
        let end = match &self.upper {
            None => prefix_successor(&prefix),
            Some(b) if b.inclusive => prefix_successor(&with(&b.value)),
            Some(b) => Some(with(&b.value)),
        };
        Ok(KeyInterval { start, end })
    }
}
