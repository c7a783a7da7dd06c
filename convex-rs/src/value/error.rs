//! The error type shared by everything in the [`value`](super) module, and
//! the field-path bookkeeping used to say *where* in a value a problem is.

use std::fmt::{self, Display, Write as _};

/// Everything that can go wrong while building, decoding, validating or
/// converting a [`Value`](super::Value).
///
/// Every message names the offending location (a field path such as
/// `a.b[3]`, or "the top level") and, for limits, both the actual number and
/// the limit, so that it can be shown to the user as it is.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ValueError {
    /// The JSON is not valid "convex encoded JSON" (protocol §3.1), for
    /// example a malformed `$integer` object or an unsupported `$`-key.
    #[error("invalid convex JSON value at {}: {message}", display_path(.path))]
    InvalidJson {
        /// Field path of the offending JSON value (empty for the top level).
        path: String,
        /// What is wrong with it.
        message: String,
    },

    /// An object field name breaks the field-name rules (protocol §3.2).
    #[error("invalid field name {} at {}: {reason}", display_name(.name), display_path(.path))]
    InvalidFieldName {
        /// The offending field name.
        name: String,
        /// Path of the object that holds the field (empty for the top level).
        path: String,
        /// Which rule the name breaks.
        reason: String,
    },

    /// A table, index or function name is not a valid identifier.
    #[error("invalid identifier {}: {reason}", display_name(.name))]
    InvalidIdentifier {
        /// The offending name.
        name: String,
        /// Which rule the name breaks.
        reason: String,
    },

    /// A value is larger, by Convex's size metric ([`Value::size`](super::Value::size)),
    /// than allowed.
    #[error(
        "{what} at {} is too large: {size} bytes, the limit is {limit} bytes",
        display_path(.path)
    )]
    TooLarge {
        /// What was measured, e.g. `"document"` or `"value"`.
        what: &'static str,
        /// Path of the measured value (empty for the top level).
        path: String,
        /// The measured size in bytes.
        size: usize,
        /// The largest size allowed.
        limit: usize,
    },

    /// Arrays and objects are nested deeper than allowed.
    #[error(
        "value at {} is nested too deeply: it exceeds the limit of {limit} levels of nested arrays and objects",
        display_path(.path)
    )]
    TooDeep {
        /// Path of the first container that lies beyond the limit.
        path: String,
        /// The greatest nesting depth allowed.
        limit: usize,
    },

    /// An array has too many elements or an object has too many fields.
    #[error("{} at {} has {count} {kind}, the limit is {limit}", container(.kind), display_path(.path))]
    TooManyElements {
        /// `"elements"` for arrays, `"fields"` for objects.
        kind: &'static str,
        /// Path of the array or object (empty for the top level).
        path: String,
        /// How many elements or fields it has.
        count: usize,
        /// The largest count allowed.
        limit: usize,
    },

    /// A string is not a valid document id (IDv6, protocol §3.5).
    #[error("invalid document id {}: {reason}", display_name(.id))]
    InvalidId {
        /// The offending string.
        id: String,
        /// Why it was rejected.
        reason: String,
    },

    /// A string is not a valid encoded timestamp (protocol §3.4).
    #[error("invalid timestamp {}: {reason}", display_name(.value))]
    InvalidTimestamp {
        /// The offending string.
        value: String,
        /// Why it was rejected.
        reason: String,
    },

    /// Bytes given to [`decode_value`](super::decode_value) are not a valid
    /// key encoding (truncated, corrupt or non-canonical).
    #[error("invalid value key encoding at byte {offset}: {message}")]
    InvalidKey {
        /// Offset of the problem in the input.
        offset: usize,
        /// What is wrong.
        message: String,
    },

    /// Converting between a Rust type and a [`Value`](super::Value) through
    /// serde failed.
    #[error("{message}")]
    Serde {
        /// The message produced by serde or by this module's serializer.
        message: String,
    },
}

impl serde::ser::Error for ValueError {
    fn custom<T: Display>(msg: T) -> Self {
        ValueError::Serde {
            message: msg.to_string(),
        }
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: Display>(msg: T) -> Self {
        ValueError::Serde {
            message: msg.to_string(),
        }
    }
}

/// Longest name or id quoted in full inside an error message.
const MAX_QUOTED_CHARS: usize = 80;

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the top level".to_owned()
    } else {
        format!("`{path}`")
    }
}

fn display_name(name: &str) -> String {
    if name.chars().count() <= MAX_QUOTED_CHARS {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(MAX_QUOTED_CHARS).collect();
        format!("{head:?}… ({} bytes)", name.len())
    }
}

fn container(kind: &str) -> &'static str {
    if kind == "fields" { "object" } else { "array" }
}

/// A location inside a value, kept as a linked list on the stack so that
/// recursive walkers only pay for formatting when they report an error.
#[derive(Clone, Copy, Debug)]
pub(super) enum Path<'a> {
    /// The value being walked itself.
    Root,
    /// Field `name` of the object at the parent path.
    Field(&'a Path<'a>, &'a str),
    /// Element `index` of the array at the parent path.
    Index(&'a Path<'a>, usize),
}

impl<'a> Path<'a> {
    /// The path of field `name` below this one.
    pub(super) fn field(&'a self, name: &'a str) -> Path<'a> {
        Path::Field(self, name)
    }

    /// The path of array element `index` below this one.
    pub(super) fn index(&'a self, index: usize) -> Path<'a> {
        Path::Index(self, index)
    }
}

impl Display for Path<'_> {
    /// Renders like `a.b[3]`; names that are not plain identifiers are
    /// quoted as `["odd.name"]`. The root renders as the empty string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut segments = Vec::new();
        let mut node = self;
        loop {
            match node {
                Path::Root => break,
                Path::Field(parent, _) | Path::Index(parent, _) => {
                    segments.push(node);
                    node = parent;
                }
            }
        }
        let mut first = true;
        for segment in segments.into_iter().rev() {
            match segment {
                Path::Root => {}
                Path::Field(_, name) => {
                    let plain = !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
                    if plain {
                        if !first {
                            f.write_char('.')?;
                        }
                        f.write_str(name)?;
                    } else {
                        write!(f, "[{name:?}]")?;
                    }
                }
                Path::Index(_, index) => write!(f, "[{index}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rendering() {
        let root = Path::Root;
        assert_eq!(root.to_string(), "");
        let a = root.field("a");
        let b = a.field("b");
        let i = b.index(3);
        assert_eq!(i.to_string(), "a.b[3]");
        let odd = i.field("x.y");
        assert_eq!(odd.to_string(), "a.b[3][\"x.y\"]");
        let top_index = root.index(0);
        let c = top_index.field("c");
        assert_eq!(c.to_string(), "[0].c");
    }

    #[test]
    fn messages_name_location_and_numbers() {
        let err = ValueError::TooManyElements {
            kind: "elements",
            path: "a.b".into(),
            count: 9000,
            limit: 8192,
        };
        assert_eq!(
            err.to_string(),
            "array at `a.b` has 9000 elements, the limit is 8192"
        );
        let err = ValueError::TooLarge {
            what: "document",
            path: String::new(),
            size: 2_000_000,
            limit: 1 << 20,
        };
        assert_eq!(
            err.to_string(),
            "document at the top level is too large: 2000000 bytes, the limit is 1048576 bytes"
        );
    }

    #[test]
    fn long_names_are_truncated_in_messages() {
        let err = ValueError::InvalidIdentifier {
            name: "x".repeat(500),
            reason: "too long".into(),
        };
        let msg = err.to_string();
        assert!(msg.len() < 200, "{msg}");
        assert!(msg.contains("(500 bytes)"));
    }

    #[test]
    fn serde_errors_are_custom_messages() {
        let err = <ValueError as serde::de::Error>::custom("boom");
        assert_eq!(
            err,
            ValueError::Serde {
                message: "boom".into()
            }
        );
        let err = <ValueError as serde::ser::Error>::custom("bang");
        assert_eq!(err.to_string(), "bang");
    }
}
