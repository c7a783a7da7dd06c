use std::collections::BTreeMap;
use std::fmt;

use crate::value::{DocumentId, TableNumber, Value};

use super::ValidationError;

/// Describes the values a field (or a whole document, or a function argument) accepts.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Validator {
    /// Any value.
    Any,
    /// `null`.
    Null,
    /// A 64-bit integer (`bigint` in TypeScript, `i64` in Rust).
    Int64,
    /// A float64 (`number` in TypeScript; `f64` and the smaller integers in Rust).
    Float64,
    /// `true` or `false`.
    Boolean,
    /// A string.
    String,
    /// A byte string.
    Bytes,
    /// Exactly this value.
    Literal(Value),
    /// The id of a document in the named table.
    Id(String),
    /// An array whose elements all match.
    Array(Box<Validator>),
    /// An object with known fields.
    Object(ObjectValidator),
    /// An object with arbitrary (valid) field names whose values all match.
    Record(Box<Validator>),
    /// Any of the alternatives.
    Union(Vec<Validator>),
}

/// The fields of an object validator.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ObjectValidator {
    /// Field name to its validator.
    pub fields: BTreeMap<String, FieldValidator>,
}

/// One field of an [`ObjectValidator`].
#[derive(Clone, Debug, PartialEq)]
pub struct FieldValidator {
    /// What the field's value must be.
    pub validator: Validator,
    /// Whether the field may be absent.
    pub optional: bool,
}

/// Resolves table numbers (found inside ids) to table names.
pub trait TableNames {
    /// The name of the table with this number, if there is one.
    fn table_name(&self, number: TableNumber) -> Option<&str>;
}

impl<F: Fn(TableNumber) -> Option<&'static str>> TableNames for F {
    fn table_name(&self, number: TableNumber) -> Option<&str> {
        self(number)
    }
}

impl ObjectValidator {
    /// An object validator with no fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a required field.
    pub fn field(mut self, name: impl Into<String>, validator: Validator) -> Self {
        self.fields.insert(
            name.into(),
            FieldValidator {
                validator,
                optional: false,
            },
        );
        self
    }

    /// Adds an optional field.
    pub fn optional(mut self, name: impl Into<String>, validator: Validator) -> Self {
        self.fields.insert(
            name.into(),
            FieldValidator {
                validator,
                optional: true,
            },
        );
        self
    }

    /// Validates an object's fields: required fields present, no extra fields, each value matching.
    pub fn validate_fields(
        &self,
        fields: &BTreeMap<String, Value>,
        tables: &dyn TableNames,
    ) -> Result<(), ValidationError> {
        let mut path = String::new();
        self.check(fields, tables, &mut path)
    }

    fn check(
        &self,
        fields: &BTreeMap<String, Value>,
        tables: &dyn TableNames,
        path: &mut String,
    ) -> Result<(), ValidationError> {
        for (name, field) in &self.fields {
            match fields.get(name) {
                Some(value) => with_segment(path, Segment::Field(name), |path| {
                    field.validator.check(value, tables, path)
                })?,
                None if field.optional => {}
                None => {
                    return Err(with_segment(path, Segment::Field(name), |path| {
                        error(
                            path,
                            field.validator.to_string(),
                            "nothing (the field is missing)",
                        )
                    }));
                }
            }
        }
        if let Some(extra) = fields.keys().find(|k| !self.fields.contains_key(*k)) {
            return Err(with_segment(path, Segment::Field(extra), |path| {
                error(
                    path,
                    "no such field (it is not in the validator)".to_string(),
                    "an extra field",
                )
            }));
        }
        Ok(())
    }
}

enum Segment<'a> {
    Field(&'a str),
    Index(usize),
}

/// Runs `f` with `segment` appended to `path`, then restores `path`.
fn with_segment<T>(path: &mut String, segment: Segment<'_>, f: impl FnOnce(&mut String) -> T) -> T {
    let len = path.len();
    match segment {
        Segment::Field(name) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(name);
        }
        Segment::Index(i) => {
            path.push('[');
            path.push_str(&i.to_string());
            path.push(']');
        }
    }
    let out = f(path);
    path.truncate(len);
    out
}

fn error(path: &str, expected: String, found: impl Into<String>) -> ValidationError {
    ValidationError {
        table: None,
        path: path.to_string(),
        expected,
        found: found.into(),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Int64(i) => format!("int64 {i}"),
        Value::Float64(f) => format!("float64 {f}"),
        Value::Boolean(b) => format!("boolean {b}"),
        Value::String(s) if s.len() <= 40 => format!("string {s:?}"),
        Value::String(_) => "a string".into(),
        Value::Bytes(b) => format!("bytes ({} bytes)", b.len()),
        Value::Array(a) => format!("an array of {} elements", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

impl Validator {
    /// Checks `value` against this validator.
    pub fn validate(&self, value: &Value, tables: &dyn TableNames) -> Result<(), ValidationError> {
        let mut path = String::new();
        self.check(value, tables, &mut path)
    }

    fn check(
        &self,
        value: &Value,
        tables: &dyn TableNames,
        path: &mut String,
    ) -> Result<(), ValidationError> {
        match (self, value) {
            (Validator::Any, _)
            | (Validator::Null, Value::Null)
            | (Validator::Int64, Value::Int64(_))
            | (Validator::Float64, Value::Float64(_))
            | (Validator::Boolean, Value::Boolean(_))
            | (Validator::String, Value::String(_))
            | (Validator::Bytes, Value::Bytes(_)) => Ok(()),
            (Validator::Literal(expected), v) if expected == v => Ok(()),
            (Validator::Id(table), Value::String(s)) => {
                let id = match DocumentId::decode(s) {
                    Ok(id) => id,
                    Err(_) => {
                        return Err(error(
                            path,
                            self.to_string(),
                            format!("string {s:?}, which is not an id"),
                        ));
                    }
                };
                match tables.table_name(id.table) {
                    Some(name) if name == table => Ok(()),
                    Some(name) => Err(error(
                        path,
                        self.to_string(),
                        format!("an id of table {name:?}"),
                    )),
                    None => Err(error(path, self.to_string(), "an id of an unknown table")),
                }
            }
            (Validator::Array(element), Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    with_segment(path, Segment::Index(i), |path| {
                        element.check(item, tables, path)
                    })?;
                }
                Ok(())
            }
            (Validator::Object(object), Value::Object(fields)) => {
                object.check(fields, tables, path)
            }
            (Validator::Record(values), Value::Object(fields)) => {
                for (name, item) in fields {
                    with_segment(path, Segment::Field(name), |path| {
                        values.check(item, tables, path)
                    })?;
                }
                Ok(())
            }
            (Validator::Union(options), v) => {
                // Prefer the error of an alternative of the right shape, so that a
                // mistake deep inside a union member is reported precisely.
                let mut best: Option<ValidationError> = None;
                for option in options {
                    match option.check(v, tables, path) {
                        Ok(()) => return Ok(()),
                        Err(e) if e.path.len() > path.len() => best = Some(e),
                        Err(_) => {}
                    }
                }
                match best {
                    Some(e) if options.len() > 1 => Err(e),
                    _ => Err(error(path, self.to_string(), describe(value))),
                }
            }
            _ => Err(error(path, self.to_string(), describe(value))),
        }
    }

    /// The fields of this validator if it describes an object.
    pub fn as_object(&self) -> Option<&ObjectValidator> {
        match self {
            Validator::Object(o) => Some(o),
            _ => None,
        }
    }

    /// Whether a value at `path` (dotted) could exist in documents matching this validator.
    pub fn has_path(&self, path: &str) -> bool {
        let mut current = vec![self];
        for segment in path.split('.') {
            let mut next = Vec::new();
            for v in current {
                match v {
                    Validator::Any | Validator::Record(_) => return true,
                    Validator::Object(o) => {
                        if let Some(f) = o.fields.get(segment) {
                            next.push(&f.validator);
                        }
                    }
                    Validator::Union(options) => {
                        for o in options {
                            if let Validator::Object(o) = o {
                                if let Some(f) = o.fields.get(segment) {
                                    next.push(&f.validator);
                                }
                            } else if matches!(o, Validator::Any | Validator::Record(_)) {
                                return true;
                            }
                        }
                    }
                    _ => {}
                }
            }
            if next.is_empty() {
                return false;
            }
            current = next;
        }
        true
    }
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::Any => f.write_str("any"),
            Validator::Null => f.write_str("null"),
            Validator::Int64 => f.write_str("int64"),
            Validator::Float64 => f.write_str("float64"),
            Validator::Boolean => f.write_str("boolean"),
            Validator::String => f.write_str("string"),
            Validator::Bytes => f.write_str("bytes"),
            Validator::Literal(v) => write!(f, "literal {}", v.to_json()),
            Validator::Id(t) => write!(f, "Id<{t}>"),
            Validator::Array(e) => write!(f, "array<{e}>"),
            Validator::Object(o) => {
                f.write_str("{")?;
                for (i, (name, field)) in o.fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    let opt = if field.optional { "?" } else { "" };
                    write!(f, "{name}{opt}: {}", field.validator)?;
                }
                f.write_str("}")
            }
            Validator::Record(v) => write!(f, "record<string, {v}>"),
            Validator::Union(options) => {
                for (i, o) in options.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" | ")?;
                    }
                    write!(f, "{o}")?;
                }
                Ok(())
            }
        }
    }
}

/// Builders for validators, mirroring Convex's `v.*`.
///
/// ```
/// use convex_rs::schema::v;
/// let message = v::object([("body", v::string()), ("user", v::id("users"))]);
/// assert_eq!(message.to_string(), "{body: string, user: Id<users>}");
/// ```
pub mod v {
    use super::{ObjectValidator, Validator};
    use crate::value::Value;

    /// Any value.
    pub fn any() -> Validator {
        Validator::Any
    }
    /// `null`.
    pub fn null() -> Validator {
        Validator::Null
    }
    /// A 64-bit integer.
    pub fn int64() -> Validator {
        Validator::Int64
    }
    /// A float64.
    pub fn float64() -> Validator {
        Validator::Float64
    }
    /// Alias of [`float64`]: JavaScript's `number`.
    pub fn number() -> Validator {
        Validator::Float64
    }
    /// A boolean.
    pub fn boolean() -> Validator {
        Validator::Boolean
    }
    /// A string.
    pub fn string() -> Validator {
        Validator::String
    }
    /// Bytes.
    pub fn bytes() -> Validator {
        Validator::Bytes
    }
    /// Exactly `value`.
    pub fn literal(value: impl Into<Value>) -> Validator {
        Validator::Literal(value.into())
    }
    /// An id of a document in `table`.
    pub fn id(table: &str) -> Validator {
        Validator::Id(table.to_string())
    }
    /// An array of `element`.
    pub fn array(element: Validator) -> Validator {
        Validator::Array(Box::new(element))
    }
    /// A record with string keys and `values`.
    pub fn record(values: Validator) -> Validator {
        Validator::Record(Box::new(values))
    }
    /// Any of `options`.
    pub fn union(options: impl IntoIterator<Item = Validator>) -> Validator {
        Validator::Union(options.into_iter().collect())
    }
    /// `inner` or `null`.
    pub fn nullable(inner: Validator) -> Validator {
        Validator::Union(vec![inner, Validator::Null])
    }
    /// An object whose fields are all required. Use [`ObjectValidator`] for optional fields.
    pub fn object<'a>(fields: impl IntoIterator<Item = (&'a str, Validator)>) -> Validator {
        let mut o = ObjectValidator::new();
        for (name, validator) in fields {
            o = o.field(name, validator);
        }
        Validator::Object(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::InternalId;

    fn tables(n: TableNumber) -> Option<&'static str> {
        match n.0 {
            1 => Some("users"),
            2 => Some("messages"),
            _ => None,
        }
    }

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    fn id_of(table: u32) -> String {
        DocumentId {
            table: TableNumber(table),
            internal: InternalId([7; 16]),
        }
        .encode()
    }

    #[test]
    fn accepts_matching_document() {
        let val = v::object([("body", v::string()), ("user", v::id("users"))]);
        let doc = obj(&[("body", "hi".into()), ("user", id_of(1).into())]);
        assert_eq!(val.validate(&doc, &tables), Ok(()));
    }

    #[test]
    fn wrong_type_names_field_and_type() {
        let val = v::object([("body", v::string())]);
        let err = val
            .validate(&obj(&[("body", Value::Float64(3.0))]), &tables)
            .unwrap_err();
        assert_eq!(
            err.in_table("messages").to_string(),
            "messages.body: expected string, found float64 3"
        );
    }

    #[test]
    fn extra_and_missing_fields() {
        let val = v::object([("body", v::string())]);
        let err = val
            .validate(&obj(&[("body", "x".into()), ("x", Value::Null)]), &tables)
            .unwrap_err();
        assert_eq!(err.path, "x");
        let err = val.validate(&obj(&[]), &tables).unwrap_err();
        assert!(
            err.to_string()
                .contains("body: expected string, found nothing"),
            "{err}"
        );
    }

    #[test]
    fn wrong_table_id_is_rejected() {
        let val = v::object([("user", v::id("users"))]);
        let err = val
            .validate(&obj(&[("user", id_of(2).into())]), &tables)
            .unwrap_err();
        assert_eq!(
            err.in_table("messages").to_string(),
            "messages.user: expected Id<users>, found an id of table \"messages\""
        );
        let err = val
            .validate(&obj(&[("user", "nope".into())]), &tables)
            .unwrap_err();
        assert!(err.found.contains("not an id"));
    }

    #[test]
    fn optional_nested_union_and_arrays() {
        let inner = ObjectValidator::new()
            .field("city", v::string())
            .optional("zip", v::int64());
        let val = Validator::Object(
            ObjectValidator::new()
                .field("address", Validator::Object(inner))
                .field("tags", v::array(v::union([v::string(), v::null()]))),
        );
        let ok = obj(&[
            ("address", obj(&[("city", "Oslo".into())])),
            ("tags", Value::Array(vec!["a".into(), Value::Null])),
        ]);
        assert_eq!(val.validate(&ok, &tables), Ok(()));
        let bad = obj(&[
            (
                "address",
                obj(&[("city", "Oslo".into()), ("zip", Value::Float64(1.0))]),
            ),
            ("tags", Value::Array(vec![])),
        ]);
        assert_eq!(val.validate(&bad, &tables).unwrap_err().path, "address.zip");
        let bad = obj(&[
            ("address", obj(&[("city", "Oslo".into())])),
            ("tags", Value::Array(vec!["a".into(), Value::Boolean(true)])),
        ]);
        let err = val.validate(&bad, &tables).unwrap_err();
        assert_eq!(err.path, "tags[1]");
        assert_eq!(err.expected, "string | null");
    }

    #[test]
    fn has_path_follows_objects() {
        let val = v::object([("a", v::object([("b", v::string())]))]);
        assert!(val.has_path("a.b"));
        assert!(!val.has_path("a.c"));
        assert!(v::any().has_path("x.y"));
    }
}
