//! The [`Value`] type: the dynamically typed data model of Convex.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};

/// A Convex value (protocol §3.1).
///
/// Values have a total order (see the [`Ord`] impl) that is also the order
/// of their key encoding ([`encode_value`](super::encode_value)), and `Eq`
/// is total too: floats compare by [`f64::total_cmp`], so `NaN == NaN`
/// (same bits) and `-0.0 != 0.0`.
#[derive(Clone, Debug)]
pub enum Value {
    /// The null value (`null` in JavaScript).
    Null,
    /// A signed 64-bit integer (`bigint` in JavaScript).
    Int64(i64),
    /// A 64-bit IEEE-754 float (`number` in JavaScript).
    Float64(f64),
    /// A boolean.
    Boolean(bool),
    /// A UTF-8 string.
    String(String),
    /// A byte string (`ArrayBuffer` in JavaScript).
    Bytes(Vec<u8>),
    /// An ordered list of values.
    Array(Vec<Value>),
    /// An object; fields are kept sorted by name.
    Object(BTreeMap<String, Value>),
}

impl Value {
    /// The name of this value's type, as used in error messages and
    /// validators: `"null"`, `"int64"`, `"float64"`, `"boolean"`,
    /// `"string"`, `"bytes"`, `"array"` or `"object"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Int64(_) => "int64",
            Value::Float64(_) => "float64",
            Value::Boolean(_) => "boolean",
            Value::String(_) => "string",
            Value::Bytes(_) => "bytes",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Position of this value's type in the cross-type order
    /// null < int64 < float64 < boolean < string < bytes < array < object.
    fn type_rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Int64(_) => 1,
            Value::Float64(_) => 2,
            Value::Boolean(_) => 3,
            Value::String(_) => 4,
            Value::Bytes(_) => 5,
            Value::Array(_) => 6,
            Value::Object(_) => 7,
        }
    }

    /// The string, if this is a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The float, if this is a [`Value::Float64`] (integers are not
    /// converted).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float64(f) => Some(*f),
            _ => None,
        }
    }

    /// The integer, if this is a [`Value::Int64`] (floats are not converted).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int64(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if this is a [`Value::Boolean`].
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The bytes, if this is a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The elements, if this is a [`Value::Array`].
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The fields, if this is a [`Value::Object`].
    pub fn as_object(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Object(fields) => Some(fields),
            _ => None,
        }
    }

    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Convex's size metric for this value (protocol §3.3), which the
    /// document and argument size limits are expressed in:
    /// null and booleans 1; int64 and float64 9; strings and bytes
    /// 2 + byte length; arrays 2 + the sum of the elements; objects
    /// 2 + Σ(field name length + 1 + field value size).
    pub fn size(&self) -> usize {
        match self {
            Value::Null | Value::Boolean(_) => 1,
            Value::Int64(_) | Value::Float64(_) => 9,
            Value::String(s) => 2 + s.len(),
            Value::Bytes(b) => 2 + b.len(),
            Value::Array(items) => 2 + items.iter().map(Value::size).sum::<usize>(),
            Value::Object(fields) => object_size(fields),
        }
    }

    /// How deeply arrays and objects are nested: 0 for scalars, and for
    /// arrays and objects 1 + the greatest depth of their children.
    pub fn nesting_depth(&self) -> usize {
        match self {
            Value::Array(items) => 1 + items.iter().map(Value::nesting_depth).max().unwrap_or(0),
            Value::Object(fields) => {
                1 + fields.values().map(Value::nesting_depth).max().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Follows a dotted field path such as `"a.b.c"` through nested
    /// objects. Returns `None` if a segment is missing or a value on the way
    /// is not an object. Arrays are not indexed into. An empty path names
    /// the field `""` and so normally finds nothing.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        path.split('.')
            .try_fold(self, |current, segment| match current {
                Value::Object(fields) => fields.get(segment),
                _ => None,
            })
    }
}

/// [`Value::size`] of an object with these fields, without building it.
pub(super) fn object_size(fields: &BTreeMap<String, Value>) -> usize {
    2 + fields
        .iter()
        .map(|(name, value)| name.len() + 1 + value.size())
        .sum::<usize>()
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    /// The total order of Convex values: first by type
    /// (null < int64 < float64 < boolean < string < bytes < array < object),
    /// then within a type: integers numerically, floats by
    /// [`f64::total_cmp`], `false < true`, strings by their UTF-8 bytes,
    /// bytes lexicographically, arrays lexicographically (a proper prefix
    /// first) and objects lexicographically over their name-sorted
    /// `(name, value)` pairs (a proper prefix first).
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Int64(a), Value::Int64(b)) => a.cmp(b),
            (Value::Float64(a), Value::Float64(b)) => a.total_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (Value::Array(a), Value::Array(b)) => a.cmp(b),
            (Value::Object(a), Value::Object(b)) => a.iter().cmp(b.iter()),
            _ => self.type_rank().cmp(&other.type_rank()),
        }
    }
}

impl Hash for Value {
    /// Consistent with `Eq`: floats hash their bit pattern, which is equal
    /// exactly when [`f64::total_cmp`] says the floats are equal.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.type_rank());
        match self {
            Value::Null => {}
            Value::Int64(n) => n.hash(state),
            Value::Float64(f) => f.to_bits().hash(state),
            Value::Boolean(b) => b.hash(state),
            Value::String(s) => s.hash(state),
            Value::Bytes(b) => b.hash(state),
            Value::Array(items) => items.hash(state),
            Value::Object(fields) => fields.hash(state),
        }
    }
}

impl fmt::Display for Value {
    /// Writes the value as compact convex encoded JSON (see
    /// [`Value::to_json`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl schemars::JsonSchema for Value {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Value")
    }

    /// The schema that accepts anything: a `Value` may hold any Convex value.
    fn json_schema(_generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::Schema::from(true)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int64(n)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::Float64(f)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Value::Array(items)
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(fields: BTreeMap<String, Value>) -> Self {
        Value::Object(fields)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes [`Value::Null`].
    fn from(option: Option<T>) -> Self {
        option.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::hash_map::DefaultHasher;

    fn obj(fields: &[(&str, Value)]) -> Value {
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn hash_of(v: &Value) -> u64 {
        let mut h = DefaultHasher::new();
        v.hash(&mut h);
        h.finish()
    }

    #[test]
    fn type_order() {
        let ascending = [
            Value::Null,
            Value::Int64(i64::MAX),
            Value::Float64(f64::NEG_INFINITY),
            Value::Boolean(false),
            Value::String(String::new()),
            Value::Bytes(vec![]),
            Value::Array(vec![]),
            Value::Object(BTreeMap::new()),
        ];
        for pair in ascending.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
        }
        let names: Vec<_> = ascending.iter().map(Value::type_name).collect();
        assert_eq!(
            names,
            [
                "null", "int64", "float64", "boolean", "string", "bytes", "array", "object"
            ]
        );
    }

    #[test]
    fn float_order_is_total() {
        let ascending = [
            -f64::NAN,
            f64::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            f64::MIN_POSITIVE,
            1.0,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in ascending.windows(2) {
            assert!(Value::from(pair[0]) < Value::from(pair[1]));
        }
        assert_eq!(Value::from(f64::NAN), Value::from(f64::NAN));
        assert_ne!(Value::from(0.0), Value::from(-0.0));
        assert_eq!(
            hash_of(&Value::from(f64::NAN)),
            hash_of(&Value::from(f64::NAN))
        );
    }

    #[test]
    fn within_type_order() {
        assert!(Value::Int64(-5) < Value::Int64(3));
        assert!(Value::from(false) < Value::from(true));
        assert!(Value::from("a") < Value::from("a\0"));
        assert!(Value::from("Z") < Value::from("a"));
        assert!(Value::Bytes(vec![1]) < Value::Bytes(vec![1, 0]));
        assert!(Value::from(vec![Value::Null]) < Value::from(vec![Value::Null, Value::Null]));
        assert!(Value::from(vec![Value::Int64(2)]) < Value::from(vec![Value::Float64(1.0)]));
        let a1 = obj(&[("a", Value::Int64(1))]);
        let a1b = obj(&[("a", Value::Int64(1)), ("b", Value::Null)]);
        let a2 = obj(&[("a", Value::Int64(2))]);
        let b0 = obj(&[("b", Value::Int64(0))]);
        assert!(a1 < a1b);
        assert!(a1b < a2);
        assert!(a2 < b0);
    }

    #[test]
    fn from_impls_and_accessors() {
        assert_eq!(Value::from(Some(3_i64)), Value::Int64(3));
        assert_eq!(Value::from(None::<i64>), Value::Null);
        assert_eq!(Value::from("x").as_str(), Some("x"));
        assert_eq!(Value::from(String::from("y")).as_str(), Some("y"));
        assert_eq!(Value::from(1.5).as_f64(), Some(1.5));
        assert_eq!(Value::Int64(1).as_f64(), None);
        assert_eq!(Value::Int64(7).as_i64(), Some(7));
        assert_eq!(Value::Float64(7.0).as_i64(), None);
        assert_eq!(Value::from(true).as_bool(), Some(true));
        assert_eq!(Value::Bytes(vec![1]).as_bytes(), Some(&[1u8][..]));
        assert_eq!(
            Value::from(vec![Value::Null]).as_array(),
            Some(&[Value::Null][..])
        );
        assert!(Value::from(BTreeMap::new()).as_object().is_some());
        assert!(Value::Null.is_null());
        assert!(!Value::from(false).is_null());
    }

    #[test]
    fn size_metric() {
        assert_eq!(Value::Null.size(), 1);
        assert_eq!(Value::from(true).size(), 1);
        assert_eq!(Value::Int64(0).size(), 9);
        assert_eq!(Value::Float64(0.0).size(), 9);
        assert_eq!(Value::from("héllo").size(), 2 + 6);
        assert_eq!(Value::Bytes(vec![0; 10]).size(), 12);
        assert_eq!(
            Value::from(vec![Value::Null, Value::Int64(1)]).size(),
            2 + 1 + 9
        );
        let o = obj(&[("ab", Value::from("c")), ("d", Value::Null)]);
        assert_eq!(o.size(), 2 + (2 + 1 + 3) + (1 + 1 + 1));
    }

    #[test]
    fn nesting_depth() {
        assert_eq!(Value::Null.nesting_depth(), 0);
        assert_eq!(Value::Array(vec![]).nesting_depth(), 1);
        let nested = obj(&[
            ("a", Value::from(vec![Value::from(vec![])])),
            ("b", Value::Null),
        ]);
        assert_eq!(nested.nesting_depth(), 3);
    }

    #[test]
    fn get_path_walks_objects() {
        let v = obj(&[
            ("a", obj(&[("b", obj(&[("c", Value::Int64(1))]))])),
            ("x", Value::from(vec![obj(&[("y", Value::Null)])])),
        ]);
        assert_eq!(v.get_path("a.b.c"), Some(&Value::Int64(1)));
        assert!(v.get_path("a.b").is_some_and(|b| b.as_object().is_some()));
        assert_eq!(v.get_path("a.b.c.d"), None);
        assert_eq!(v.get_path("a.z"), None);
        assert_eq!(v.get_path("x.0.y"), None);
        assert_eq!(v.get_path(""), None);
    }
}
