//! Deserializing Rust types from [`Value`]s ([`from_value`]), and the
//! [`Deserialize`] impl of [`Value`] itself.
//!
//! `Value` is itself a [`Deserializer`]. Numbers are converted leniently but
//! never lossily: integer types accept an `Int64` or an integral `Float64`
//! that is in range, and float types accept `Float64` and `Int64`.
//!
//! `deserialize_any` (used by self-describing consumers and by serde's
//! buffering for internally tagged and untagged enums and `flatten`) maps
//! naturally, with one refinement: an integral `Float64` within ±2^53
//! (other than −0) is offered as `visit_u64` when non-negative and as
//! `visit_i32` when negative and within `i32`; other floats use
//! `visit_f64`. serde's buffered content only converts integers (not floats)
//! into integer fields, so without this an `i32` or `u32` field inside an
//! internally tagged enum or a flattened struct could not be read. The
//! `Value` visitor turns all of these back into `Float64`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{
    self, Deserialize, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, Visitor,
};

use super::de_access::{EnumDeserializer, visit_array, visit_object};
use super::error::ValueError;
use super::value::Value;

/// Largest magnitude up to which every integer is exactly representable as
/// an `f64` (2^53).
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;
/// 2^127: floats below this magnitude convert to `i128` without saturating.
const TWO_POW_127: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;

/// Converts a [`Value`] into any [`DeserializeOwned`] type, undoing
/// [`to_value`](super::to_value).
///
/// Numbers convert leniently but never lossily: every integer type accepts
/// an `Int64` or an integral `Float64` that is in its range (so a
/// JavaScript `number` can fill an `i64` field and a `bigint` an `i32`
/// field), and `f32`/`f64` accept `Float64` and `Int64`. `Option` fields
/// read `Null` as `None`; bytes fields accept `Bytes`; enums accept a
/// variant name string or a one-field object, like `serde_json`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(value)
}

impl<'de> Deserialize<'de> for Value {
    /// Builds a value from any self-describing format. `i64` becomes
    /// `Int64`; every other integer becomes `Float64` and must be within
    /// ±2^53; byte buffers become `Bytes`; unit and `None` become `Null`.
    ///
    /// This round-trips with [`Value`]'s own `Serialize`/`Deserializer`.
    /// Other formats may report integers in ways that do not follow Convex
    /// conventions (`serde_json` gives negative integers as `i64`, so they
    /// become `Int64`): to parse the wire format, use [`Value::from_json`].
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl ValueVisitor {
    fn safe_integer<E: de::Error>(n: i128) -> Result<Value, E> {
        if n.unsigned_abs() <= 1 << 53 {
            // Exact: the magnitude fits in the 53-bit mantissa.
            Ok(Value::Float64(n as f64))
        } else {
            Err(E::custom(format!(
                "the integer {n} cannot be represented exactly as a float64 (integers other \
                 than i64 must be within ±2^53)"
            )))
        }
    }
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Convex value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i8<E: de::Error>(self, v: i8) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_i16<E: de::Error>(self, v: i16) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_i32<E: de::Error>(self, v: i32) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Self::safe_integer(v)
    }

    fn visit_u8<E: de::Error>(self, v: u8) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_u16<E: de::Error>(self, v: u16) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_u32<E: de::Error>(self, v: u32) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Self::safe_integer(i128::from(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        match i128::try_from(v) {
            Ok(n) => Self::safe_integer(n),
            Err(_) => Err(E::invalid_value(
                Unexpected::Other("a 128-bit integer"),
                &self,
            )),
        }
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Value, E> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(v))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Value, D::Error> {
        Value::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = BTreeMap::new();
        while let Some((name, value)) = map.next_entry::<String, Value>()? {
            fields.insert(name, value);
        }
        Ok(Value::Object(fields))
    }
}

impl Value {
    /// How this value is described in serde's type errors.
    pub(super) fn unexpected(&self) -> Unexpected<'_> {
        match self {
            Value::Null => Unexpected::Unit,
            Value::Int64(n) => Unexpected::Signed(*n),
            Value::Float64(f) => Unexpected::Float(*f),
            Value::Boolean(b) => Unexpected::Bool(*b),
            Value::String(s) => Unexpected::Str(s),
            Value::Bytes(b) => Unexpected::Bytes(b),
            Value::Array(_) => Unexpected::Seq,
            Value::Object(_) => Unexpected::Map,
        }
    }

    pub(super) fn invalid_type(&self, expected: &dyn de::Expected) -> ValueError {
        de::Error::invalid_type(self.unexpected(), expected)
    }

    /// The exact integer this value holds: an `Int64`, or an integral
    /// finite `Float64`.
    fn exact_integer(&self) -> Option<i128> {
        match *self {
            Value::Int64(n) => Some(i128::from(n)),
            // |f| < 2^127, so the conversion is exact for integral floats.
            Value::Float64(f) if f.fract() == 0.0 && f.abs() < TWO_POW_127 => Some(f as i128),
            _ => None,
        }
    }

    /// Reads an integer of type `T`, accepting `Int64` and integral
    /// `Float64` values in range.
    fn integer<T: TryFrom<i128>>(&self, expected: &dyn de::Expected) -> Result<T, ValueError> {
        match (self, self.exact_integer()) {
            (_, Some(n)) => {
                T::try_from(n).map_err(|_| de::Error::invalid_value(self.unexpected(), expected))
            }
            (Value::Float64(_), None) => Err(de::Error::invalid_value(self.unexpected(), expected)),
            (_, None) => Err(self.invalid_type(expected)),
        }
    }
}

macro_rules! deserialize_integer {
    ($($method:ident => $visit:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
                let n: $ty = self.integer(&visitor)?;
                visitor.$visit(n)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for Value {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            Value::Int64(n) => visitor.visit_i64(n),
            Value::Float64(f) => {
                let integral = f.fract() == 0.0
                    && f.abs() <= MAX_SAFE_INTEGER
                    && !(f == 0.0 && f.is_sign_negative());
                if integral && f >= 0.0 {
                    visitor.visit_u64(f as u64)
                } else if integral && f >= f64::from(i32::MIN) {
                    visitor.visit_i32(f as i32)
                } else {
                    visitor.visit_f64(f)
                }
            }
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::String(s) => visitor.visit_string(s),
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::Array(items) => visit_array(items, visitor),
            Value::Object(fields) => visit_object(fields, visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Boolean(b) => visitor.visit_bool(b),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    deserialize_integer! {
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Float64(f) => visitor.visit_f64(f),
            // Documented conversion; large integers round to the nearest float.
            Value::Int64(n) => visitor.visit_f64(n as f64),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::String(s) => visitor.visit_string(s),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Bytes(b) => visitor.visit_byte_buf(b),
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => visit_array(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Null => visitor.visit_unit(),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Array(items) => visit_array(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Value::Object(fields) => visit_object(fields, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::Object(fields) => visit_object(fields, visitor),
            Value::Array(items) => visit_array(items, visitor),
            other => Err(other.invalid_type(&visitor)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Value::String(variant) => visitor.visit_enum(EnumDeserializer {
                variant,
                content: None,
            }),
            Value::Object(fields) if fields.len() == 1 => {
                let Some((variant, content)) = fields.into_iter().next() else {
                    return Err(de::Error::invalid_length(
                        0,
                        &"an object with a single field",
                    ));
                };
                visitor.visit_enum(EnumDeserializer {
                    variant,
                    content: Some(content),
                })
            }
            Value::Object(fields) => Err(de::Error::invalid_length(
                fields.len(),
                &"an object with a single field (the enum variant)",
            )),
            other => Err(other.invalid_type(&"a string or an object with a single field")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        drop(self);
        visitor.visit_unit()
    }
}

impl IntoDeserializer<'_, ValueError> for Value {
    type Deserializer = Value;

    fn into_deserializer(self) -> Value {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records which visitor method `deserialize_any` called.
    struct Probe;

    impl Visitor<'_> for Probe {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("anything")
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(format!("u64 {v}"))
        }

        fn visit_i32<E: de::Error>(self, v: i32) -> Result<String, E> {
            Ok(format!("i32 {v}"))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(format!("i64 {v}"))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(format!("f64 {v:?}"))
        }

        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<String, E> {
            Ok(format!("bytes {v:?}"))
        }

        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok("unit".to_owned())
        }
    }

    fn any(value: Value) -> String {
        value.deserialize_any(Probe).expect("probe accepts")
    }

    #[test]
    fn deserialize_any_mapping() {
        assert_eq!(any(Value::Int64(-3)), "i64 -3");
        assert_eq!(any(Value::Float64(3.0)), "u64 3");
        assert_eq!(any(Value::Float64(-3.0)), "i32 -3");
        assert_eq!(any(Value::Float64(-3e10)), "f64 -30000000000.0");
        assert_eq!(any(Value::Float64(1.5)), "f64 1.5");
        assert_eq!(any(Value::Float64(-0.0)), "f64 -0.0");
        assert_eq!(
            any(Value::Float64(9_007_199_254_740_992.0)),
            "u64 9007199254740992"
        );
        assert_eq!(any(Value::Float64(1e300)), "f64 1e300");
        assert_eq!(any(Value::Float64(f64::INFINITY)), "f64 inf");
        assert_eq!(any(Value::Bytes(vec![1])), "bytes [1]");
        assert_eq!(any(Value::Null), "unit");
    }

    #[test]
    fn into_deserializer_and_ignored_any() {
        let value = Value::from("x").into_deserializer();
        assert_eq!(String::deserialize(value), Ok("x".to_owned()));
        let ignored = de::IgnoredAny::deserialize(Value::Array(vec![Value::Null]));
        assert!(ignored.is_ok());
    }

    #[test]
    fn strings_chars_and_bytes() {
        assert_eq!(from_value::<char>(Value::from("é")), Ok('é'));
        assert!(from_value::<char>(Value::from("ab")).is_err());
        assert!(from_value::<String>(Value::Bytes(vec![])).is_err());
        assert_eq!(from_value::<Option<bool>>(Value::Null), Ok(None));
        assert_eq!(
            from_value::<Option<bool>>(Value::from(true)),
            Ok(Some(true))
        );
        assert_eq!(from_value::<()>(Value::Null), Ok(()));
        assert!(from_value::<()>(Value::Int64(0)).is_err());
        // Without `serde_bytes`, a `Vec<u8>` is a sequence of numbers.
        assert_eq!(
            from_value::<Vec<u8>>(Value::Array(vec![Value::Float64(1.0)])),
            Ok(vec![1])
        );
    }
}
