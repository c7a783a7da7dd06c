//! Limits on values, documents and names (protocol §3.2 and §3.3), and the
//! checks that enforce them.

use std::collections::BTreeMap;

use super::error::{Path, ValueError};
use super::value::{Value, object_size};

/// Largest stored document, by [`Value::size`].
pub const MAX_DOCUMENT_SIZE: usize = 1 << 20;
/// Deepest nesting of a stored document; the document object itself is
/// level 1.
pub const MAX_DOCUMENT_NESTING: usize = 16;
/// Deepest nesting of arrays and objects in any value
/// ([`Value::nesting_depth`]).
pub const MAX_VALUE_NESTING: usize = 64;
/// Largest value of any kind, by [`Value::size`].
pub const MAX_VALUE_SIZE: usize = 32 << 20;
/// Most elements in one array.
pub const MAX_ARRAY_LEN: usize = 8192;
/// Most fields in one object.
pub const MAX_OBJECT_FIELDS: usize = 1024;
/// Longest object field name, in characters (field names are ASCII, so
/// also in bytes).
pub const MAX_FIELD_NAME_LEN: usize = 1024;
/// Largest function arguments (and function result), by [`Value::size`].
pub const MAX_ARGS_SIZE: usize = 16 << 20;
/// Longest identifier (table, index or function name).
pub const MAX_IDENTIFIER_LEN: usize = 64;

/// Checks an object field name: non-empty, at most
/// [`MAX_FIELD_NAME_LEN`] characters, not starting with `$`, and made only
/// of printable ASCII (bytes `0x20..=0x7E`).
pub fn check_field_name(name: &str) -> Result<(), ValueError> {
    check_field_name_at(name, &Path::Root)
}

fn field_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("field names must not be empty".to_owned());
    }
    if name.len() > MAX_FIELD_NAME_LEN {
        return Some(format!(
            "field names are limited to {MAX_FIELD_NAME_LEN} characters, this one has {}",
            name.chars().count()
        ));
    }
    if name.starts_with('$') {
        return Some("field names must not start with `$`".to_owned());
    }
    if let Some((index, c)) = name
        .char_indices()
        .find(|&(_, c)| !(' '..='~').contains(&c))
    {
        return Some(format!(
            "field names may only contain printable ASCII characters, found {c:?} at byte {index}"
        ));
    }
    None
}

pub(super) fn check_field_name_at(name: &str, object_path: &Path<'_>) -> Result<(), ValueError> {
    match field_name_problem(name) {
        None => Ok(()),
        Some(reason) => Err(ValueError::InvalidFieldName {
            name: name.to_owned(),
            path: object_path.to_string(),
            reason,
        }),
    }
}

/// Checks the rules every value must satisfy: valid field names, at most
/// [`MAX_ARRAY_LEN`] elements per array, at most [`MAX_OBJECT_FIELDS`]
/// fields per object, nesting depth at most [`MAX_VALUE_NESTING`] and size
/// at most [`MAX_VALUE_SIZE`].
///
/// Values produced by [`Value::from_json`] already satisfy all of these
/// except the size limit.
pub fn check_value(value: &Value) -> Result<(), ValueError> {
    let size = walk(value, &Path::Root, 0, MAX_VALUE_NESTING)?;
    check_size("value", size, MAX_VALUE_SIZE)
}

/// Checks a document as written by user code (insert, replace, patch):
/// everything [`check_value`] checks, plus top-level field names must not
/// start with `_` (reserved for system fields such as `_id`), nesting at
/// most [`MAX_DOCUMENT_NESTING`] (the document object itself counts as
/// level 1) and size at most [`MAX_DOCUMENT_SIZE`].
pub fn check_document(fields: &BTreeMap<String, Value>) -> Result<(), ValueError> {
    let root = Path::Root;
    check_object_len(fields, &root)?;
    for (name, value) in fields {
        check_field_name_at(name, &root)?;
        if name.starts_with('_') {
            return Err(ValueError::InvalidFieldName {
                name: name.clone(),
                path: String::new(),
                reason: "top-level field names starting with `_` are reserved for system fields"
                    .to_owned(),
            });
        }
        walk(value, &root.field(name), 1, MAX_DOCUMENT_NESTING)?;
    }
    check_size("document", object_size(fields), MAX_DOCUMENT_SIZE)
}

/// Checks a table, index or function-name identifier: non-empty, at most
/// [`MAX_IDENTIFIER_LEN`] characters, only ASCII letters, digits and `_`,
/// starting with a letter or `_`, and not made only of underscores.
pub fn check_identifier(name: &str) -> Result<(), ValueError> {
    let problem = if name.is_empty() {
        Some("identifiers must not be empty".to_owned())
    } else if name.len() > MAX_IDENTIFIER_LEN {
        Some(format!(
            "identifiers are limited to {MAX_IDENTIFIER_LEN} characters, this one has {}",
            name.chars().count()
        ))
    } else if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_'))
    {
        Some(format!(
            "identifiers may only contain ASCII letters, digits and `_`, found {c:?}"
        ))
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        Some("identifiers must start with a letter or `_`".to_owned())
    } else if name.bytes().all(|b| b == b'_') {
        Some("identifiers must not consist only of underscores".to_owned())
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(reason) => Err(ValueError::InvalidIdentifier {
            name: name.to_owned(),
            reason,
        }),
    }
}

fn check_size(what: &'static str, size: usize, limit: usize) -> Result<(), ValueError> {
    if size > limit {
        return Err(ValueError::TooLarge {
            what,
            path: String::new(),
            size,
            limit,
        });
    }
    Ok(())
}

fn check_object_len(fields: &BTreeMap<String, Value>, path: &Path<'_>) -> Result<(), ValueError> {
    if fields.len() > MAX_OBJECT_FIELDS {
        return Err(ValueError::TooManyElements {
            kind: "fields",
            path: path.to_string(),
            count: fields.len(),
            limit: MAX_OBJECT_FIELDS,
        });
    }
    Ok(())
}

/// Validates `value`, which sits inside `depth` enclosing containers, and
/// returns its size. Recursion stops once `max_depth` is exceeded, so
/// arbitrarily deep values cannot overflow the stack.
fn walk(
    value: &Value,
    path: &Path<'_>,
    depth: usize,
    max_depth: usize,
) -> Result<usize, ValueError> {
    let too_deep = || ValueError::TooDeep {
        path: path.to_string(),
        limit: max_depth,
    };
    match value {
        Value::Array(items) => {
            if depth >= max_depth {
                return Err(too_deep());
            }
            if items.len() > MAX_ARRAY_LEN {
                return Err(ValueError::TooManyElements {
                    kind: "elements",
                    path: path.to_string(),
                    count: items.len(),
                    limit: MAX_ARRAY_LEN,
                });
            }
            let mut size = 2;
            for (index, item) in items.iter().enumerate() {
                size += walk(item, &path.index(index), depth + 1, max_depth)?;
            }
            Ok(size)
        }
        Value::Object(fields) => {
            if depth >= max_depth {
                return Err(too_deep());
            }
            check_object_len(fields, path)?;
            let mut size = 2;
            for (name, field) in fields {
                check_field_name_at(name, path)?;
                size += name.len() + 1 + walk(field, &path.field(name), depth + 1, max_depth)?;
            }
            Ok(size)
        }
        scalar => Ok(scalar.size()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested_arrays(depth: usize) -> Value {
        let mut v = Value::Null;
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        v
    }

    fn doc(fields: &[(&str, Value)]) -> BTreeMap<String, Value> {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    #[test]
    fn field_names() {
        assert!(check_field_name("a").is_ok());
        assert!(check_field_name("_id").is_ok());
        assert!(check_field_name("with space ~!").is_ok());
        assert!(check_field_name(&"x".repeat(MAX_FIELD_NAME_LEN)).is_ok());
        for bad in ["", "$a", "tab\there", "é", "\u{7f}"] {
            let err = check_field_name(bad).expect_err(bad);
            assert!(matches!(err, ValueError::InvalidFieldName { .. }), "{err}");
        }
        let err = check_field_name(&"x".repeat(MAX_FIELD_NAME_LEN + 1)).expect_err("too long");
        assert!(err.to_string().contains("1025"), "{err}");
        let err = check_field_name("$set").expect_err("dollar");
        assert_eq!(
            err.to_string(),
            "invalid field name \"$set\" at the top level: field names must not start with `$`"
        );
    }

    #[test]
    fn identifiers() {
        for good in ["messages", "_storage", "a1", "A_b_2", &"t".repeat(64)] {
            assert!(check_identifier(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "___", "_", "a-b", "a.b", "ünï", &"t".repeat(65)] {
            let err = check_identifier(bad).expect_err(bad);
            assert!(matches!(err, ValueError::InvalidIdentifier { .. }));
        }
        let err = check_identifier("a-b").expect_err("dash");
        assert!(err.to_string().contains("'-'"), "{err}");
    }

    #[test]
    fn value_limits_with_paths() {
        let mut fields = BTreeMap::new();
        fields.insert(
            "a".to_owned(),
            Value::Array(vec![
                Value::Null,
                Value::Object(doc(&[("$bad", Value::Null)])),
            ]),
        );
        let err = check_value(&Value::Object(fields)).expect_err("bad name");
        assert_eq!(
            err.to_string(),
            "invalid field name \"$bad\" at `a[1]`: field names must not start with `$`"
        );

        let long = Value::Array(vec![Value::Null; MAX_ARRAY_LEN + 1]);
        let wrapped = Value::Object(doc(&[("list", long)]));
        let err = check_value(&wrapped).expect_err("long array");
        assert_eq!(
            err,
            ValueError::TooManyElements {
                kind: "elements",
                path: "list".into(),
                count: 8193,
                limit: 8192
            }
        );
        assert!(check_value(&Value::Array(vec![Value::Null; MAX_ARRAY_LEN])).is_ok());

        let many: BTreeMap<String, Value> = (0..=MAX_OBJECT_FIELDS)
            .map(|i| (format!("f{i}"), Value::Null))
            .collect();
        let err = check_value(&Value::Object(many)).expect_err("many fields");
        assert!(err.to_string().contains("1025 fields"), "{err}");
    }

    #[test]
    fn value_depth_limit() {
        assert!(check_value(&nested_arrays(MAX_VALUE_NESTING)).is_ok());
        let err = check_value(&nested_arrays(MAX_VALUE_NESTING + 1)).expect_err("deep");
        assert!(matches!(err, ValueError::TooDeep { limit: 64, .. }));
        assert!(err.to_string().starts_with("value at `[0][0]"), "{err}");
        // Very deep values are rejected without recursing all the way down.
        let err = check_value(&nested_arrays(10_000)).expect_err("very deep");
        assert!(matches!(err, ValueError::TooDeep { .. }));
    }

    #[test]
    fn value_size_limit() {
        let big = Value::Bytes(vec![0; MAX_VALUE_SIZE]);
        let err = check_value(&big).expect_err("too big");
        assert_eq!(
            err,
            ValueError::TooLarge {
                what: "value",
                path: String::new(),
                size: MAX_VALUE_SIZE + 2,
                limit: MAX_VALUE_SIZE
            }
        );
    }

    #[test]
    fn documents() {
        let ok = doc(&[("name", Value::from("x")), ("n", Value::Int64(1))]);
        assert!(check_document(&ok).is_ok());

        let system = doc(&[("_id", Value::from("x"))]);
        let err = check_document(&system).expect_err("system field");
        assert!(
            err.to_string().contains("reserved for system fields"),
            "{err}"
        );
        // Nested underscore fields are fine.
        let nested = doc(&[("a", Value::Object(doc(&[("_b", Value::Null)])))]);
        assert!(check_document(&nested).is_ok());

        let bad = doc(&[("$x", Value::Null)]);
        assert!(matches!(
            check_document(&bad),
            Err(ValueError::InvalidFieldName { .. })
        ));
    }

    #[test]
    fn document_depth_counts_the_document() {
        // The document is level 1, so fields may nest 15 more levels.
        let ok = doc(&[("a", nested_arrays(MAX_DOCUMENT_NESTING - 1))]);
        assert_eq!(
            Value::Object(ok.clone()).nesting_depth(),
            MAX_DOCUMENT_NESTING
        );
        assert!(check_document(&ok).is_ok());
        let deep = doc(&[("a", nested_arrays(MAX_DOCUMENT_NESTING))]);
        let err = check_document(&deep).expect_err("too deep");
        assert!(
            matches!(err, ValueError::TooDeep { limit: 16, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("`a[0]"), "{err}");
    }

    #[test]
    fn document_size_limit() {
        // 2 (object) + 1 ("a") + 1 + 2 (bytes header) + payload.
        let payload = MAX_DOCUMENT_SIZE - 6;
        let ok = doc(&[("a", Value::Bytes(vec![0; payload]))]);
        assert_eq!(Value::Object(ok.clone()).size(), MAX_DOCUMENT_SIZE);
        assert!(check_document(&ok).is_ok());
        let big = doc(&[("a", Value::Bytes(vec![0; payload + 1]))]);
        let err = check_document(&big).expect_err("too big");
        assert_eq!(
            err.to_string(),
            "document at the top level is too large: 1048577 bytes, the limit is 1048576 bytes"
        );
    }
}
