//! Round-tripping values through Convex's "clean" export JSON.
//!
//! Clean JSON loses types: an `Int64` becomes a decimal string, `Bytes` a
//! base64 string, ±infinity and NaN the strings `"Infinity"`, `"-Infinity"`
//! and `"NaN"`. Convex restores them from the table's shape and from a
//! per-document *export context* (a [`Hint`]) listed in the table's
//! `generated_schema.jsonl`. Export writes the shape `unknown` (every
//! string is ambiguous) and a hint for every document holding such a value,
//! so a snapshot round-trips exactly; import also uses the app's schema as
//! the shape, so a Convex-made snapshot of a typed table decodes too.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json, json};

use crate::schema::Validator;
use crate::value::Value;

/// How to read a clean-JSON value back (Convex's `ExportContext`).
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Hint {
    /// As the shape says; a string that the shape does not pin down stays a string.
    Infer,
    /// A decimal string that is an `Int64`.
    Int64,
    /// `"Infinity"` or `"-Infinity"`.
    Float64Inf,
    /// `"NaN"`, with the bits of this NaN.
    Float64NaN([u8; 8]),
    /// A base64 string that is `Bytes`.
    Bytes,
    /// An array, one hint per element.
    Array(Vec<Hint>),
    /// An object: hints of the fields that need one.
    Object(BTreeMap<String, Hint>),
}

impl Hint {
    /// The hint `value` needs when the shape tells nothing (`unknown`).
    pub(super) fn of(value: &Value) -> Hint {
        match value {
            Value::Int64(_) => Hint::Int64,
            Value::Bytes(_) => Hint::Bytes,
            Value::Float64(f) if f.is_nan() => Hint::Float64NaN(f.to_le_bytes()),
            Value::Float64(f) if f.is_infinite() => Hint::Float64Inf,
            Value::Array(items) => {
                let hints: Vec<Hint> = items.iter().map(Hint::of).collect();
                if hints.iter().all(|h| *h == Hint::Infer) {
                    Hint::Infer
                } else {
                    Hint::Array(hints)
                }
            }
            Value::Object(fields) => Hint::of_fields(fields),
            _ => Hint::Infer,
        }
    }

    /// The hint of an object's fields (a document without `_id` and `_creationTime`).
    pub(super) fn of_fields(fields: &BTreeMap<String, Value>) -> Hint {
        let hints: BTreeMap<String, Hint> = fields
            .iter()
            .map(|(name, value)| (name.clone(), Hint::of(value)))
            .filter(|(_, hint)| *hint != Hint::Infer)
            .collect();
        if hints.is_empty() {
            Hint::Infer
        } else {
            Hint::Object(hints)
        }
    }

    /// Convex's JSON for the hint: `"int64"`, `{"field": "bytes"}`, ...
    pub(super) fn to_json(&self) -> Json {
        match self {
            Hint::Infer => json!("infer"),
            Hint::Int64 => json!("int64"),
            Hint::Float64Inf => json!("float64inf"),
            Hint::Bytes => json!("bytes"),
            Hint::Float64NaN(bits) => json!({ "$float64NaN": STANDARD.encode(bits) }),
            Hint::Array(items) => Json::Array(items.iter().map(Hint::to_json).collect()),
            Hint::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, hint)| (name.clone(), hint.to_json()))
                    .collect(),
            ),
        }
    }

    /// Parses Convex's JSON for a hint.
    pub(super) fn from_json(json: &Json) -> Result<Hint, String> {
        match json {
            Json::String(s) => match s.as_str() {
                "infer" => Ok(Hint::Infer),
                "int64" => Ok(Hint::Int64),
                "float64inf" => Ok(Hint::Float64Inf),
                "bytes" => Ok(Hint::Bytes),
                "set" | "map" => Err(format!(
                    "the value type {s} is not supported (Convex removed sets and maps)"
                )),
                other => Err(format!("unknown export context {other:?}")),
            },
            Json::Array(items) => items
                .iter()
                .map(Hint::from_json)
                .collect::<Result<_, _>>()
                .map(Hint::Array),
            Json::Object(map) => {
                if let Some(Json::String(bits)) = map.get("$float64NaN") {
                    let bytes = STANDARD
                        .decode(bits)
                        .map_err(|e| format!("bad NaN context: {e}"))?;
                    let bits = <[u8; 8]>::try_from(bytes.as_slice())
                        .map_err(|_| "a NaN context must be 8 bytes".to_string())?;
                    return Ok(Hint::Float64NaN(bits));
                }
                map.iter()
                    .map(|(name, hint)| Ok((name.clone(), Hint::from_json(hint)?)))
                    .collect::<Result<_, String>>()
                    .map(Hint::Object)
            }
            other => Err(format!("invalid export context {other}")),
        }
    }
}

/// What a string can stand for under some shapes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StringKind {
    Text,
    Int64,
    Bytes,
    Float,
}

/// The alternatives of `validators`, with unions flattened.
fn options<'a>(validators: &[&'a Validator]) -> Vec<&'a Validator> {
    let mut out = Vec::new();
    let mut stack: Vec<&Validator> = validators.iter().rev().copied().collect();
    while let Some(v) = stack.pop() {
        match v {
            Validator::Union(alternatives) => stack.extend(alternatives.iter().rev()),
            other => out.push(other),
        }
    }
    out
}

/// The one thing a string can be under `shape`, if only one.
fn string_kind(shape: &[&Validator]) -> Option<StringKind> {
    let mut kinds = Vec::new();
    for v in options(shape) {
        let kind = match v {
            Validator::Any => return None,
            Validator::String | Validator::Id(_) | Validator::Literal(Value::String(_)) => {
                StringKind::Text
            }
            Validator::Int64 | Validator::Literal(Value::Int64(_)) => StringKind::Int64,
            Validator::Bytes | Validator::Literal(Value::Bytes(_)) => StringKind::Bytes,
            Validator::Float64 | Validator::Literal(Value::Float64(_)) => StringKind::Float,
            _ => continue,
        };
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    match kinds.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// The shape of an array's elements.
fn element_shape<'a>(shape: &[&'a Validator]) -> Vec<&'a Validator> {
    options(shape)
        .into_iter()
        .filter_map(|v| match v {
            Validator::Array(element) => Some(&**element),
            Validator::Any => Some(v),
            _ => None,
        })
        .collect()
}

/// The shape of an object's field `name`.
pub(super) fn field_shape<'a>(shape: &[&'a Validator], name: &str) -> Vec<&'a Validator> {
    options(shape)
        .into_iter()
        .filter_map(|v| match v {
            Validator::Object(object) => object.fields.get(name).map(|f| &f.validator),
            Validator::Record(values) => Some(&**values),
            Validator::Any => Some(v),
            _ => None,
        })
        .collect()
}

/// Reads clean JSON back into a value, with `hint` and the `shape` (the
/// validators the value may match; empty for none).
pub(super) fn decode(json: Json, hint: Hint, shape: &[&Validator]) -> Result<Value, String> {
    match (json, hint) {
        (Json::Null, _) => Ok(Value::Null),
        (Json::Bool(b), _) => Ok(Value::Boolean(b)),
        (Json::Number(n), _) => n
            .as_f64()
            .map(Value::Float64)
            .ok_or_else(|| format!("the number {n} is not a float64")),
        (Json::String(s), Hint::Infer) => Ok(match string_kind(shape) {
            Some(StringKind::Int64) => s.parse().map_or(Value::String(s), Value::Int64),
            Some(StringKind::Bytes) => STANDARD.decode(&s).map_or(Value::String(s), Value::Bytes),
            Some(StringKind::Float) => match s.as_str() {
                "Infinity" => Value::Float64(f64::INFINITY),
                "-Infinity" => Value::Float64(f64::NEG_INFINITY),
                "NaN" => Value::Float64(f64::NAN),
                _ => Value::String(s),
            },
            Some(StringKind::Text) | None => Value::String(s),
        }),
        (Json::String(s), Hint::Int64) => s
            .parse()
            .map(Value::Int64)
            .map_err(|_| format!("{s:?} is not an int64")),
        (Json::String(s), Hint::Bytes) => STANDARD
            .decode(&s)
            .map(Value::Bytes)
            .map_err(|e| format!("{s:?} is not base64: {e}")),
        (Json::String(s), Hint::Float64Inf) => match s.as_str() {
            "Infinity" => Ok(Value::Float64(f64::INFINITY)),
            "-Infinity" => Ok(Value::Float64(f64::NEG_INFINITY)),
            _ => Err(format!("{s:?} is not Infinity or -Infinity")),
        },
        (Json::String(s), Hint::Float64NaN(bits)) if s == "NaN" => {
            Ok(Value::Float64(f64::from_le_bytes(bits)))
        }
        (Json::Array(items), hint @ (Hint::Infer | Hint::Array(_))) => {
            let element = element_shape(shape);
            let hints = match hint {
                Hint::Array(hints) if hints.len() == items.len() => hints,
                Hint::Array(_) => return Err("the array's context has another length".into()),
                _ => vec![Hint::Infer; items.len()],
            };
            items
                .into_iter()
                .zip(hints)
                .map(|(item, hint)| decode(item, hint, &element))
                .collect::<Result<_, _>>()
                .map(Value::Array)
        }
        (Json::Object(map), hint @ (Hint::Infer | Hint::Object(_))) => {
            decode_fields(map, hint, shape).map(Value::Object)
        }
        (json, hint) => Err(format!(
            "the export context {} does not fit the value {json}",
            hint.to_json()
        )),
    }
}

/// Reads an object's fields back (see [`decode`]).
pub(super) fn decode_fields(
    map: Map<String, Json>,
    hint: Hint,
    shape: &[&Validator],
) -> Result<BTreeMap<String, Value>, String> {
    let mut hints = match hint {
        Hint::Object(hints) => hints,
        Hint::Infer => BTreeMap::new(),
        other => {
            return Err(format!(
                "the export context {} does not fit an object",
                other.to_json()
            ));
        }
    };
    map.into_iter()
        .map(|(name, json)| {
            let hint = hints.remove(&name).unwrap_or(Hint::Infer);
            let value = decode(json, hint, &field_shape(shape, &name))
                .map_err(|e| format!("field {name}: {e}"))?;
            Ok((name, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::v;

    fn round_trip(value: Value, shape: &[&Validator]) -> Value {
        let hint = Hint::from_json(&Hint::of(&value).to_json()).expect("hint parses");
        decode(value.to_clean_json(), hint, shape).expect("decodes")
    }

    #[test]
    fn values_round_trip_without_a_shape() {
        let value = Value::Array(vec![
            Value::Int64(-5),
            Value::String("5".into()),
            Value::Bytes(vec![0, 1, 2]),
            Value::Float64(f64::INFINITY),
            Value::Float64(f64::NEG_INFINITY),
            Value::Float64(-0.0),
            Value::Float64(1.5),
            Value::Null,
            Value::Boolean(true),
            Value::Object(BTreeMap::from([("n".to_string(), Value::Int64(1))])),
        ]);
        assert_eq!(round_trip(value.clone(), &[]), value);
        let nan = round_trip(Value::Float64(f64::NAN), &[]);
        assert!(matches!(nan, Value::Float64(f) if f.is_nan()));
    }

    #[test]
    fn the_schema_decides_unhinted_strings() {
        let shape = v::object([
            ("count", v::int64()),
            ("data", v::bytes()),
            ("name", v::string()),
            ("either", v::union([v::string(), v::int64()])),
        ]);
        let json = json!({"count": "7", "data": "AAE=", "name": "7", "either": "7"});
        let Json::Object(map) = json else {
            unreachable!()
        };
        let fields = decode_fields(map, Hint::Infer, &[&shape]).expect("decodes");
        assert_eq!(fields["count"], Value::Int64(7));
        assert_eq!(fields["data"], Value::Bytes(vec![0, 1]));
        assert_eq!(fields["name"], Value::String("7".into()));
        assert_eq!(fields["either"], Value::String("7".into()));
    }
}
