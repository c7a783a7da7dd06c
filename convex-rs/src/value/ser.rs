//! Serializing Rust types into [`Value`]s ([`to_value`]), and the
//! [`Serialize`] impl of [`Value`] itself.
//!
//! Mapping: `i64` becomes `Int64` (a JavaScript `bigint`); every other
//! integer type becomes `Float64` (a JavaScript `number`) and must be exactly
//! representable, i.e. within ±2^53; floats become `Float64`; `bool`,
//! strings and chars map to themselves; `serialize_bytes` (for example via
//! `serde_bytes`) gives `Bytes`; `None`, `()` and unit structs give `Null`;
//! sequences and tuples give arrays; structs and maps give objects (map keys
//! must be strings); enums are externally tagged like in `serde_json`: a unit
//! variant is its name as a string and other variants are a one-field object
//! `{variant: content}`.

use std::collections::BTreeMap;
use std::fmt::Display;

use serde::ser::{self, Impossible, Serialize, Serializer};

use super::error::ValueError;
use super::value::Value;

/// Largest magnitude up to which every integer is exactly representable as
/// an `f64`.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Converts any [`Serialize`] type to a [`Value`].
///
/// * `i64` becomes `Int64` (a JavaScript `bigint`); every other integer
///   type becomes `Float64` (a JavaScript `number`) and must be within
///   ±2^53 so that it is exact, otherwise this fails naming the number;
///   `f32`/`f64` become `Float64`.
/// * `bool` stays a boolean; strings and chars become `String`;
///   `serialize_bytes` (for example through `serde_bytes`) gives `Bytes`.
/// * `None`, `()` and unit structs give `Null`; `Some(x)` and newtype
///   structs give the inner value.
/// * Sequences and tuples give arrays; structs and maps give objects (map
///   keys must serialize as strings, anything else is an error).
/// * Enums are externally tagged like in `serde_json`: a unit variant is its
///   name as a string, other variants a one-field object
///   `{variant: content}`. `#[serde(tag = ...)]`, untagged enums and
///   `#[serde(flatten)]` work as usual.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ValueSerializer)
}

impl Serialize for Value {
    /// Serializes to the value's natural serde form: `Int64` through
    /// `serialize_i64`, `Float64` through `serialize_f64`, `Bytes` through
    /// `serialize_bytes`, `Null` as unit, arrays as sequences and objects as
    /// maps. [`to_value`] therefore returns an identical value.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Int64(n) => serializer.serialize_i64(*n),
            Value::Float64(f) => serializer.serialize_f64(*f),
            Value::Boolean(b) => serializer.serialize_bool(*b),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bytes(b) => serializer.serialize_bytes(b),
            Value::Array(items) => serializer.collect_seq(items),
            Value::Object(fields) => serializer.collect_map(fields),
        }
    }
}

fn unsafe_integer(n: impl Display) -> ValueError {
    ValueError::Serde {
        message: format!(
            "the integer {n} cannot be represented exactly as a float64 (integers other than i64 \
             must be within ±2^53); use i64 for 64-bit integers"
        ),
    }
}

/// Converts an integer that must be within ±2^53 to `Float64`.
fn safe_integer(n: i128) -> Result<Value, ValueError> {
    if n.unsigned_abs() <= u128::from(MAX_SAFE_INTEGER) {
        // Exact: the magnitude fits in the 53-bit mantissa.
        Ok(Value::Float64(n as f64))
    } else {
        Err(unsafe_integer(n))
    }
}

/// The [`Serializer`] behind [`to_value`].
struct ValueSerializer;

impl Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = SerializeVec;
    type SerializeTuple = SerializeVec;
    type SerializeTupleStruct = SerializeVec;
    type SerializeTupleVariant = SerializeTupleVariant;
    type SerializeMap = SerializeMap;
    type SerializeStruct = SerializeMap;
    type SerializeStructVariant = SerializeStructVariant;

    fn serialize_bool(self, v: bool) -> Result<Value, ValueError> {
        Ok(Value::Boolean(v))
    }

    fn serialize_i8(self, v: i8) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_i16(self, v: i16) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_i32(self, v: i32) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_i64(self, v: i64) -> Result<Value, ValueError> {
        Ok(Value::Int64(v))
    }

    fn serialize_i128(self, v: i128) -> Result<Value, ValueError> {
        safe_integer(v)
    }

    fn serialize_u8(self, v: u8) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result<Value, ValueError> {
        safe_integer(i128::from(v))
    }

    fn serialize_u128(self, v: u128) -> Result<Value, ValueError> {
        i128::try_from(v)
            .map_err(|_| unsafe_integer(v))
            .and_then(safe_integer)
    }

    fn serialize_f32(self, v: f32) -> Result<Value, ValueError> {
        Ok(Value::Float64(f64::from(v)))
    }

    fn serialize_f64(self, v: f64) -> Result<Value, ValueError> {
        Ok(Value::Float64(v))
    }

    fn serialize_char(self, v: char) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_string()))
    }

    fn serialize_str(self, v: &str) -> Result<Value, ValueError> {
        Ok(Value::String(v.to_owned()))
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Value, ValueError> {
        Ok(Value::Bytes(v.to_vec()))
    }

    fn serialize_none(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, ValueError> {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<Value, ValueError> {
        Ok(Value::String(variant.to_owned()))
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, ValueError> {
        let content = value.serialize(self)?;
        Ok(single_field(variant, content))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SerializeVec, ValueError> {
        Ok(SerializeVec {
            items: Vec::with_capacity(len.unwrap_or(0)),
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<SerializeVec, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SerializeVec, ValueError> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SerializeTupleVariant, ValueError> {
        Ok(SerializeTupleVariant {
            variant,
            items: Vec::with_capacity(len),
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<SerializeMap, ValueError> {
        Ok(SerializeMap {
            fields: BTreeMap::new(),
            pending_key: None,
        })
    }

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<SerializeMap, ValueError> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<SerializeStructVariant, ValueError> {
        Ok(SerializeStructVariant {
            variant,
            fields: BTreeMap::new(),
        })
    }
}

fn single_field(name: &str, content: Value) -> Value {
    Value::Object(BTreeMap::from([(name.to_owned(), content)]))
}

/// Collects the elements of sequences, tuples and tuple structs.
struct SerializeVec {
    items: Vec<Value>,
}

impl ser::SerializeSeq for SerializeVec {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Array(self.items))
    }
}

impl ser::SerializeTuple for SerializeVec {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for SerializeVec {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<Value, ValueError> {
        ser::SerializeSeq::end(self)
    }
}

/// Collects the fields of a tuple variant into `{variant: [fields]}`.
struct SerializeTupleVariant {
    variant: &'static str,
    items: Vec<Value>,
}

impl ser::SerializeTupleVariant for SerializeTupleVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        self.items.push(to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(single_field(self.variant, Value::Array(self.items)))
    }
}

/// Collects the entries of maps and the fields of structs.
struct SerializeMap {
    fields: BTreeMap<String, Value>,
    pending_key: Option<String>,
}

impl ser::SerializeMap for SerializeMap {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), ValueError> {
        self.pending_key = Some(key.serialize(MapKeySerializer)?);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), ValueError> {
        let key = self.pending_key.take().ok_or_else(|| ValueError::Serde {
            message: "serialize_value called before serialize_key".to_owned(),
        })?;
        self.fields.insert(key, to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.fields))
    }
}

impl ser::SerializeStruct for SerializeMap {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.fields.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(Value::Object(self.fields))
    }
}

/// Collects the fields of a struct variant into `{variant: {fields}}`.
struct SerializeStructVariant {
    variant: &'static str,
    fields: BTreeMap<String, Value>,
}

impl ser::SerializeStructVariant for SerializeStructVariant {
    type Ok = Value;
    type Error = ValueError;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), ValueError> {
        self.fields.insert(key.to_owned(), to_value(value)?);
        Ok(())
    }

    fn end(self) -> Result<Value, ValueError> {
        Ok(single_field(self.variant, Value::Object(self.fields)))
    }
}

/// Serializes map keys, which must be strings (or things that serialize as
/// strings: chars, unit enum variants, newtypes around strings).
struct MapKeySerializer;

fn key_must_be_string(found: &str) -> ValueError {
    ValueError::Serde {
        message: format!("object keys must be strings, found {found}"),
    }
}

/// Implements the [`MapKeySerializer`] methods for scalars, which are all
/// rejected with an error naming the value.
macro_rules! reject_scalar_keys {
    ($($method:ident($ty:ty) => $what:literal),* $(,)?) => {
        $(
            fn $method(self, v: $ty) -> Result<String, ValueError> {
                Err(key_must_be_string(&format!(concat!($what, " {}"), v)))
            }
        )*
    };
}

impl Serializer for MapKeySerializer {
    type Ok = String;
    type Error = ValueError;
    type SerializeSeq = Impossible<String, ValueError>;
    type SerializeTuple = Impossible<String, ValueError>;
    type SerializeTupleStruct = Impossible<String, ValueError>;
    type SerializeTupleVariant = Impossible<String, ValueError>;
    type SerializeMap = Impossible<String, ValueError>;
    type SerializeStruct = Impossible<String, ValueError>;
    type SerializeStructVariant = Impossible<String, ValueError>;

    fn serialize_str(self, v: &str) -> Result<String, ValueError> {
        Ok(v.to_owned())
    }

    fn serialize_char(self, v: char) -> Result<String, ValueError> {
        Ok(v.to_string())
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _variant_index: u32,
        variant: &'static str,
    ) -> Result<String, ValueError> {
        Ok(variant.to_owned())
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, ValueError> {
        value.serialize(self)
    }

    reject_scalar_keys! {
        serialize_bool(bool) => "the boolean",
        serialize_i8(i8) => "the integer",
        serialize_i16(i16) => "the integer",
        serialize_i32(i32) => "the integer",
        serialize_i64(i64) => "the integer",
        serialize_i128(i128) => "the integer",
        serialize_u8(u8) => "the integer",
        serialize_u16(u16) => "the integer",
        serialize_u32(u32) => "the integer",
        serialize_u64(u64) => "the integer",
        serialize_u128(u128) => "the integer",
        serialize_f32(f32) => "the float",
        serialize_f64(f64) => "the float",
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<String, ValueError> {
        Err(key_must_be_string("bytes"))
    }

    fn serialize_none(self) -> Result<String, ValueError> {
        Err(key_must_be_string("None"))
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, ValueError> {
        Err(key_must_be_string("an option"))
    }

    fn serialize_unit(self) -> Result<String, ValueError> {
        Err(key_must_be_string("()"))
    }

    fn serialize_unit_struct(self, name: &'static str) -> Result<String, ValueError> {
        Err(key_must_be_string(&format!("the unit struct {name}")))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _value: &T,
    ) -> Result<String, ValueError> {
        Err(key_must_be_string(&format!(
            "the enum variant {name}::{variant}"
        )))
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, ValueError> {
        Err(key_must_be_string("a sequence"))
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, ValueError> {
        Err(key_must_be_string("a tuple"))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, ValueError> {
        Err(key_must_be_string(&format!("the tuple struct {name}")))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, ValueError> {
        Err(key_must_be_string(&format!(
            "the enum variant {name}::{variant}"
        )))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, ValueError> {
        Err(key_must_be_string("a map"))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, ValueError> {
        Err(key_must_be_string(&format!("the struct {name}")))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _variant_index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, ValueError> {
        Err(key_must_be_string(&format!(
            "the enum variant {name}::{variant}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn integer_mapping() {
        assert_eq!(to_value(&5_i64), Ok(Value::Int64(5)));
        assert_eq!(to_value(&5_i32), Ok(Value::Float64(5.0)));
        assert_eq!(to_value(&-5_i8), Ok(Value::Float64(-5.0)));
        assert_eq!(to_value(&5_u8), Ok(Value::Float64(5.0)));
        assert_eq!(to_value(&u32::MAX), Ok(Value::Float64(4_294_967_295.0)));
        assert_eq!(
            to_value(&(1_u64 << 53)),
            Ok(Value::Float64(9_007_199_254_740_992.0))
        );
        assert_eq!(to_value(&7_usize), Ok(Value::Float64(7.0)));
        assert_eq!(
            to_value(&-(1_i128 << 53)),
            Ok(Value::Float64(-9_007_199_254_740_992.0))
        );
        assert_eq!(to_value(&3_u128), Ok(Value::Float64(3.0)));

        let err = to_value(&((1_u64 << 53) + 1)).expect_err("unsafe");
        assert!(err.to_string().contains("9007199254740993"), "{err}");
        assert!(to_value(&u128::MAX).is_err());
        assert!(to_value(&i128::MIN).is_err());
        assert!(to_value(&-((1_i128 << 53) + 1)).is_err());
    }

    #[test]
    fn scalars() {
        assert_eq!(to_value(&1.5_f32), Ok(Value::Float64(1.5)));
        assert_eq!(to_value(&f64::NAN), Ok(Value::Float64(f64::NAN)));
        assert_eq!(to_value(&true), Ok(Value::Boolean(true)));
        assert_eq!(to_value(&'c'), Ok(Value::from("c")));
        assert_eq!(to_value("s"), Ok(Value::from("s")));
        assert_eq!(to_value(&()), Ok(Value::Null));
        assert_eq!(to_value(&None::<i64>), Ok(Value::Null));
        assert_eq!(to_value(&Some(1_i64)), Ok(Value::Int64(1)));
        assert_eq!(
            to_value(&vec![1_u8, 2]),
            Ok(Value::Array(vec![Value::Float64(1.0), Value::Float64(2.0)]))
        );
        assert_eq!(
            to_value(&(1_i64, "a")),
            Ok(Value::Array(vec![Value::Int64(1), Value::from("a")]))
        );
    }

    #[test]
    fn map_keys_must_be_strings() {
        let mut ok = HashMap::new();
        ok.insert('k', 1_i64);
        assert_eq!(
            to_value(&ok),
            Ok(Value::Object(BTreeMap::from([(
                "k".to_owned(),
                Value::Int64(1)
            )])))
        );
        let mut bad = HashMap::new();
        bad.insert(3_u32, 1_i64);
        let err = to_value(&bad).expect_err("integer key");
        assert_eq!(
            err.to_string(),
            "object keys must be strings, found the integer 3"
        );
    }

    #[test]
    fn value_serializes_to_itself() {
        let value = Value::Object(BTreeMap::from([
            ("a".to_owned(), Value::Int64(-3)),
            ("b".to_owned(), Value::Float64(-0.0)),
            ("c".to_owned(), Value::Bytes(vec![0, 1])),
            (
                "d".to_owned(),
                Value::Array(vec![Value::Null, Value::Boolean(true)]),
            ),
            ("e".to_owned(), Value::from("x")),
        ]));
        assert_eq!(to_value(&value), Ok(value));
    }
}
