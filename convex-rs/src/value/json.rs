//! Conversions between [`Value`] and JSON: the exact wire encoding
//! ("convex encoded JSON", protocol §3.1), the lossy "clean" JSON format
//! (protocol §4.3) and the encoding of u64 timestamps (protocol §3.4).

use std::borrow::Cow;
use std::collections::BTreeMap;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::{Map, Number, Value as Json};

use super::error::{Path, ValueError};
use super::limits::{MAX_ARRAY_LEN, MAX_OBJECT_FIELDS, MAX_VALUE_NESTING, check_field_name_at};
use super::value::Value;

/// Base64 decoder that, like the JavaScript client, is lenient: padding is
/// optional and non-zero trailing bits are ignored. The URL-safe characters
/// `-` and `_` are mapped to `+` and `/` before decoding.
const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes base64 in the standard or the URL-safe alphabet (or a mix),
/// with or without padding.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let text = if text.contains(['-', '_']) {
        Cow::Owned(text.replace('-', "+").replace('_', "/"))
    } else {
        Cow::Borrowed(text)
    };
    LENIENT_BASE64.decode(text.as_bytes())
}

/// Decodes base64 that must hold exactly eight bytes.
fn decode_base64_8(text: &str) -> Result<[u8; 8], String> {
    let bytes = decode_base64(text).map_err(|e| format!("invalid base64: {e}"))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("expected 8 bytes of base64-encoded data, found {len}"))
}

/// Encodes a u64 (such as a commit timestamp) for the sync protocol:
/// standard padded base64 of its 8 little-endian bytes (protocol §3.4).
pub fn encode_ts(ts: u64) -> String {
    STANDARD.encode(ts.to_le_bytes())
}

/// Decodes a u64 encoded by [`encode_ts`]. Also accepts the URL-safe
/// alphabet and missing padding.
pub fn decode_ts(s: &str) -> Result<u64, ValueError> {
    decode_base64_8(s)
        .map(u64::from_le_bytes)
        .map_err(|reason| ValueError::InvalidTimestamp {
            value: s.to_owned(),
            reason,
        })
}

fn special(key: &str, payload: String) -> Json {
    let mut map = Map::new();
    map.insert(key.to_owned(), Json::String(payload));
    Json::Object(map)
}

fn invalid(path: &Path<'_>, message: impl Into<String>) -> ValueError {
    ValueError::InvalidJson {
        path: path.to_string(),
        message: message.into(),
    }
}

impl Value {
    /// Encodes this value as convex encoded JSON, the wire format of the
    /// sync protocol (protocol §3.1): `Int64` as `{"$integer": base64}`,
    /// `Bytes` as `{"$bytes": base64}`, NaN, ±infinity and −0 as
    /// `{"$float": base64}` (all standard padded base64, numbers as 8
    /// little-endian bytes), other floats as JSON numbers.
    pub fn to_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => special("$integer", STANDARD.encode(n.to_le_bytes())),
            Value::Float64(f) => {
                let negative_zero = *f == 0.0 && f.is_sign_negative();
                match Number::from_f64(*f) {
                    Some(number) if !negative_zero => Json::Number(number),
                    _ => special("$float", STANDARD.encode(f.to_le_bytes())),
                }
            }
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => special("$bytes", STANDARD.encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Decodes convex encoded JSON (protocol §3.1).
    ///
    /// Every JSON number becomes a `Float64`. An object is a special
    /// encoding only when it has exactly one key: `$integer` and `$float`
    /// must hold base64 of exactly 8 bytes, and a `$float` must be NaN,
    /// ±infinity or ±0; `$bytes` holds any base64. Base64 may use the
    /// standard or URL-safe alphabet. The legacy `$set`/`$map` encodings and
    /// the `$commitTs` placeholder are rejected.
    ///
    /// The result also satisfies the structural rules of
    /// [`check_value`](super::check_value) (field names, array and object
    /// lengths, nesting depth at most 64); nesting is checked on the way
    /// down, so hostile input cannot overflow the stack. Only the overall
    /// size limit is left to the caller.
    pub fn from_json(json: Json) -> Result<Value, ValueError> {
        from_json_at(json, &Path::Root, 0)
    }

    /// Encodes this value as "clean" JSON (the `json` format of the HTTP
    /// API, protocol §4.3). This is lossy: `Int64` becomes a decimal
    /// string, `Bytes` a standard base64 string, NaN and ±infinity the
    /// strings `"NaN"`, `"Infinity"` and `"-Infinity"`, and −0 the number
    /// `-0.0`; everything else is encoded as is.
    pub fn to_clean_json(&self) -> Json {
        match self {
            Value::Null => Json::Null,
            Value::Int64(n) => Json::String(n.to_string()),
            Value::Float64(f) => match Number::from_f64(*f) {
                Some(number) => Json::Number(number),
                None if f.is_nan() => Json::String("NaN".to_owned()),
                None if *f > 0.0 => Json::String("Infinity".to_owned()),
                None => Json::String("-Infinity".to_owned()),
            },
            Value::Boolean(b) => Json::Bool(*b),
            Value::String(s) => Json::String(s.clone()),
            Value::Bytes(b) => Json::String(STANDARD.encode(b)),
            Value::Array(items) => Json::Array(items.iter().map(Value::to_clean_json).collect()),
            Value::Object(fields) => Json::Object(
                fields
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_clean_json()))
                    .collect(),
            ),
        }
    }
}

/// Decodes `json`, which sits inside `depth` enclosing arrays/objects.
fn from_json_at(json: Json, path: &Path<'_>, depth: usize) -> Result<Value, ValueError> {
    match json {
        Json::Null => Ok(Value::Null),
        Json::Bool(b) => Ok(Value::Boolean(b)),
        Json::Number(n) => n
            .as_f64()
            .map(Value::Float64)
            .ok_or_else(|| invalid(path, format!("the number {n} is not a valid float64"))),
        Json::String(s) => Ok(Value::String(s)),
        Json::Array(items) => {
            if depth >= MAX_VALUE_NESTING {
                return Err(too_deep(path));
            }
            if items.len() > MAX_ARRAY_LEN {
                return Err(ValueError::TooManyElements {
                    kind: "elements",
                    path: path.to_string(),
                    count: items.len(),
                    limit: MAX_ARRAY_LEN,
                });
            }
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| from_json_at(item, &path.index(index), depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        Json::Object(map) => {
            if map.len() == 1
                && let Some(special) = decode_special(&map, path)?
            {
                return Ok(special);
            }
            if depth >= MAX_VALUE_NESTING {
                return Err(too_deep(path));
            }
            if map.len() > MAX_OBJECT_FIELDS {
                return Err(ValueError::TooManyElements {
                    kind: "fields",
                    path: path.to_string(),
                    count: map.len(),
                    limit: MAX_OBJECT_FIELDS,
                });
            }
            let mut fields = BTreeMap::new();
            for (name, field) in map {
                check_field_name_at(&name, path)?;
                let value = from_json_at(field, &path.field(&name), depth + 1)?;
                fields.insert(name, value);
            }
            Ok(Value::Object(fields))
        }
    }
}

fn too_deep(path: &Path<'_>) -> ValueError {
    ValueError::TooDeep {
        path: path.to_string(),
        limit: MAX_VALUE_NESTING,
    }
}

/// Decodes a one-key object whose key is a special `$` encoding. Returns
/// `Ok(None)` when the key is not one of the special keys, in which case the
/// object is an ordinary one (and the field-name check reports `$` keys).
fn decode_special(map: &Map<String, Json>, path: &Path<'_>) -> Result<Option<Value>, ValueError> {
    let Some((key, payload)) = map.iter().next() else {
        return Ok(None);
    };
    match key.as_str() {
        "$integer" | "$float" | "$bytes" => {}
        "$set" | "$map" => {
            return Err(invalid(
                path,
                format!("`{key}` is a legacy encoding that is no longer supported"),
            ));
        }
        "$commitTs" => {
            return Err(invalid(
                path,
                "the `$commitTs` placeholder is not supported in values sent to the server",
            ));
        }
        _ => return Ok(None),
    }
    let Json::String(text) = payload else {
        return Err(invalid(
            path,
            format!("the value of `{key}` must be a base64 string"),
        ));
    };
    let value = match key.as_str() {
        "$integer" => {
            let bytes =
                decode_base64_8(text).map_err(|e| invalid(path, format!("`$integer`: {e}")))?;
            Value::Int64(i64::from_le_bytes(bytes))
        }
        "$float" => {
            let bytes =
                decode_base64_8(text).map_err(|e| invalid(path, format!("`$float`: {e}")))?;
            let f = f64::from_le_bytes(bytes);
            // NaN, ±infinity and −0 need `$float`; +0 is tolerated like the
            // reference server does.
            if f.is_finite() && f != 0.0 {
                return Err(invalid(
                    path,
                    format!(
                        "`$float` may only hold NaN, ±Infinity or -0; {f} should be encoded as a JSON number"
                    ),
                ));
            }
            Value::Float64(f)
        }
        _ => {
            let bytes = decode_base64(text)
                .map_err(|e| invalid(path, format!("`$bytes`: invalid base64: {e}")))?;
            Value::Bytes(bytes)
        }
    };
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{valid_value, value_strategy};
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn int(n: i64) -> Value {
        Value::Int64(n)
    }

    #[test]
    fn protocol_worked_examples() {
        let cases = [
            (int(1), json!({"$integer": "AQAAAAAAAAA="})),
            (int(-1), json!({"$integer": "//////////8="})),
            (int(123), json!({"$integer": "ewAAAAAAAAA="})),
            (Value::Float64(f64::NAN), json!({"$float": "AAAAAAAA+H8="})),
            (
                Value::Float64(f64::INFINITY),
                json!({"$float": "AAAAAAAA8H8="}),
            ),
            (
                Value::Float64(f64::NEG_INFINITY),
                json!({"$float": "AAAAAAAA8P8="}),
            ),
            (Value::Float64(-0.0), json!({"$float": "AAAAAAAAAIA="})),
            (Value::Bytes(vec![1, 2, 3]), json!({"$bytes": "AQID"})),
            (Value::Float64(1.5), json!(1.5)),
            (Value::Null, json!(null)),
            (Value::Boolean(true), json!(true)),
            (Value::from("hi"), json!("hi")),
        ];
        for (value, expected) in cases {
            assert_eq!(value.to_json(), expected, "{value:?}");
            assert_eq!(Value::from_json(expected).as_ref(), Ok(&value));
        }
        assert_eq!(
            serde_json::to_string(&int(1).to_json()).expect("serializes"),
            r#"{"$integer":"AQAAAAAAAAA="}"#
        );
    }

    #[test]
    fn nested_values_and_display() {
        let value = Value::Object(BTreeMap::from([
            (
                "b".to_owned(),
                Value::Array(vec![int(2), Value::Float64(2.0)]),
            ),
            ("a".to_owned(), Value::Null),
        ]));
        let json = json!({"a": null, "b": [{"$integer": "AgAAAAAAAAA="}, 2.0]});
        assert_eq!(value.to_json(), json);
        assert_eq!(Value::from_json(json), Ok(value.clone()));
        assert_eq!(
            value.to_string(),
            r#"{"a":null,"b":[{"$integer":"AgAAAAAAAAA="},2.0]}"#
        );
    }

    #[test]
    fn every_number_is_float64() {
        assert_eq!(Value::from_json(json!(5)), Ok(Value::Float64(5.0)));
        assert_eq!(Value::from_json(json!(-5)), Ok(Value::Float64(-5.0)));
        assert_eq!(
            Value::from_json(json!(u64::MAX)),
            Ok(Value::Float64(1.8446744073709552e19))
        );
        let parsed: Json = serde_json::from_str("1e21").expect("valid JSON");
        assert_eq!(Value::from_json(parsed), Ok(Value::Float64(1e21)));
    }

    #[test]
    fn special_object_rules() {
        // +0 is tolerated; finite non-zero floats are not.
        assert_eq!(
            Value::from_json(json!({"$float": "AAAAAAAAAAA="})),
            Ok(Value::Float64(0.0))
        );
        let err = Value::from_json(json!({"$float": "AAAAAAAA+D8="})).expect_err("1.5");
        assert!(
            err.to_string()
                .contains("should be encoded as a JSON number"),
            "{err}"
        );
        // Exactly 8 bytes.
        let err = Value::from_json(json!({"$integer": "AQID"})).expect_err("3 bytes");
        assert!(err.to_string().contains("found 3"), "{err}");
        // Payload must be a string.
        let err = Value::from_json(json!({"$bytes": 5})).expect_err("not a string");
        assert!(matches!(err, ValueError::InvalidJson { .. }));
        let err = Value::from_json(json!({"$integer": "!!!!"})).expect_err("bad base64");
        assert!(err.to_string().contains("invalid base64"), "{err}");
        // Legacy and unknown `$` keys.
        for key in ["$set", "$map", "$commitTs"] {
            let err = Value::from_json(json!({ key: [] })).expect_err(key);
            assert!(matches!(err, ValueError::InvalidJson { .. }), "{err}");
        }
        let err = Value::from_json(json!({"$foo": 1})).expect_err("$foo");
        assert!(matches!(err, ValueError::InvalidFieldName { .. }), "{err}");
        // With more than one key, `$integer` is just an invalid field name.
        let err =
            Value::from_json(json!({"$integer": "AQAAAAAAAAA=", "x": 1})).expect_err("two keys");
        assert!(matches!(err, ValueError::InvalidFieldName { .. }), "{err}");
    }

    #[test]
    fn url_safe_and_unpadded_base64_accepted() {
        assert_eq!(
            Value::from_json(json!({"$integer": "__________8="})),
            Ok(int(-1))
        );
        assert_eq!(
            Value::from_json(json!({"$bytes": "-_8"})),
            Ok(Value::Bytes(vec![0xfb, 0xff]))
        );
        assert_eq!(
            Value::from_json(json!({"$bytes": "AQID"})),
            Ok(Value::Bytes(vec![1, 2, 3]))
        );
        assert_eq!(
            Value::from_json(json!({"$bytes": ""})),
            Ok(Value::Bytes(vec![]))
        );
    }

    #[test]
    fn field_names_are_validated_with_paths() {
        let err = Value::from_json(json!({"a": [1, {"b\u{1}": 2}]})).expect_err("control char");
        assert_eq!(
            err,
            ValueError::InvalidFieldName {
                name: "b\u{1}".into(),
                path: "a[1]".into(),
                reason: "field names may only contain printable ASCII characters, found '\\u{1}' at byte 1".into(),
            }
        );
        let err = Value::from_json(json!({"": 1})).expect_err("empty");
        assert!(matches!(err, ValueError::InvalidFieldName { .. }));
    }

    #[test]
    fn length_limits() {
        let long = Json::Array(vec![Json::Null; MAX_ARRAY_LEN + 1]);
        let err = Value::from_json(json!({ "x": long })).expect_err("long");
        assert!(err.to_string().contains("`x` has 8193 elements"), "{err}");
    }

    #[test]
    fn depth_limit_without_stack_overflow() {
        fn nested(depth: usize) -> Json {
            let mut json = Json::Null;
            for _ in 0..depth {
                json = Json::Array(vec![json]);
            }
            json
        }
        assert!(Value::from_json(nested(MAX_VALUE_NESTING)).is_ok());
        let err = Value::from_json(nested(MAX_VALUE_NESTING + 1)).expect_err("too deep");
        assert!(matches!(err, ValueError::TooDeep { limit: 64, .. }));
        // Objects count too.
        let mut json = Json::Null;
        for _ in 0..=MAX_VALUE_NESTING {
            json = json!({ "a": json });
        }
        assert!(matches!(
            Value::from_json(json),
            Err(ValueError::TooDeep { .. })
        ));
        // Far deeper input (built by hand, beyond serde_json's parser limit)
        // is rejected at the limit rather than recursed through.
        assert!(Value::from_json(nested(1_000)).is_err());
    }

    #[test]
    fn clean_json() {
        let value = Value::Object(BTreeMap::from([
            ("i".to_owned(), int(-42)),
            ("big".to_owned(), int(i64::MAX)),
            ("b".to_owned(), Value::Bytes(vec![1, 2, 3])),
            ("nan".to_owned(), Value::Float64(f64::NAN)),
            ("inf".to_owned(), Value::Float64(f64::INFINITY)),
            ("ninf".to_owned(), Value::Float64(f64::NEG_INFINITY)),
            ("nz".to_owned(), Value::Float64(-0.0)),
            ("f".to_owned(), Value::Float64(1.5)),
            ("s".to_owned(), Value::from("x")),
            (
                "l".to_owned(),
                Value::Array(vec![Value::Null, Value::Boolean(false)]),
            ),
        ]));
        let clean = value.to_clean_json();
        assert_eq!(
            clean,
            json!({
                "i": "-42", "big": "9223372036854775807", "b": "AQID",
                "nan": "NaN", "inf": "Infinity", "ninf": "-Infinity",
                "nz": -0.0, "f": 1.5, "s": "x", "l": [null, false],
            })
        );
        let text = serde_json::to_string(&clean["nz"]).expect("serializes");
        assert_eq!(text, "-0.0");
    }

    #[test]
    fn timestamps() {
        assert_eq!(encode_ts(1_700_000_000_000_000_000), "AAAqNv6clxc=");
        assert_eq!(encode_ts(0), "AAAAAAAAAAA=");
        assert_eq!(decode_ts("AAAqNv6clxc="), Ok(1_700_000_000_000_000_000));
        assert_eq!(decode_ts("AAAAAAAAAAA"), Ok(0));
        assert_eq!(decode_ts(&encode_ts(u64::MAX)), Ok(u64::MAX));
        let err = decode_ts("AQID").expect_err("short");
        assert!(matches!(err, ValueError::InvalidTimestamp { .. }));
        assert!(err.to_string().contains("found 3"), "{err}");
        assert!(decode_ts("not base64!").is_err());
    }

    proptest! {
        #[test]
        fn json_round_trip(value in valid_value()) {
            let json = value.to_json();
            prop_assert_eq!(Value::from_json(json.clone()), Ok(value.clone()));
            // And through text, relying on serde_json's `float_roundtrip`.
            let text = serde_json::to_string(&json).expect("serializes");
            let reparsed: Json = serde_json::from_str(&text).expect("parses");
            prop_assert_eq!(Value::from_json(reparsed), Ok(value));
        }

        #[test]
        fn ts_round_trip(ts in any::<u64>()) {
            prop_assert_eq!(decode_ts(&encode_ts(ts)), Ok(ts));
        }

        #[test]
        fn from_json_never_panics(value in value_strategy()) {
            // Arbitrary keys (including invalid field names) must produce
            // errors, never panics.
            let _ = Value::from_json(value.to_json());
        }
    }
}
