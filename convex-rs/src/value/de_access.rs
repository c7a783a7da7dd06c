//! The `SeqAccess`, `MapAccess`, `EnumAccess` and `VariantAccess` helpers
//! behind the [`Deserializer`](serde::Deserializer) impl of
//! [`Value`](super::Value).

use std::collections::BTreeMap;
use std::collections::btree_map;
use std::vec;

use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};

use super::error::ValueError;
use super::value::Value;

/// Feeds the elements of an array to `visitor`, which must consume them all.
pub(super) fn visit_array<'de, V: Visitor<'de>>(
    items: Vec<Value>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = items.len();
    let mut seq = SeqDeserializer {
        iter: items.into_iter(),
    };
    let result = visitor.visit_seq(&mut seq)?;
    if seq.iter.len() == 0 {
        Ok(result)
    } else {
        Err(de::Error::invalid_length(
            len,
            &"fewer elements in the array",
        ))
    }
}

/// Feeds the fields of an object to `visitor`, which must consume them all.
pub(super) fn visit_object<'de, V: Visitor<'de>>(
    fields: BTreeMap<String, Value>,
    visitor: V,
) -> Result<V::Value, ValueError> {
    let len = fields.len();
    let mut map = MapDeserializer {
        iter: fields.into_iter(),
        value: None,
    };
    let result = visitor.visit_map(&mut map)?;
    if map.iter.len() == 0 {
        Ok(result)
    } else {
        Err(de::Error::invalid_length(
            len,
            &"fewer fields in the object",
        ))
    }
}

struct SeqDeserializer {
    iter: vec::IntoIter<Value>,
}

impl<'de> SeqAccess<'de> for SeqDeserializer {
    type Error = ValueError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ValueError> {
        self.iter
            .next()
            .map(|item| seed.deserialize(item))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapDeserializer {
    iter: btree_map::IntoIter<String, Value>,
    value: Option<Value>,
}

impl<'de> MapAccess<'de> for MapDeserializer {
    type Error = ValueError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ValueError> {
        match self.iter.next() {
            Some((key, value)) => {
                self.value = Some(value);
                seed.deserialize(StringDeserializer::<ValueError>::new(key))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ValueError> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("object value requested before its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// Gives access to an externally tagged enum: the variant name and, unless
/// it is a unit variant, its content.
pub(super) struct EnumDeserializer {
    /// The variant name.
    pub(super) variant: String,
    /// The variant content (`None` for a bare string).
    pub(super) content: Option<Value>,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = ValueError;
    type Variant = VariantDeserializer;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDeserializer), ValueError> {
        let variant = seed.deserialize(StringDeserializer::<ValueError>::new(self.variant))?;
        Ok((
            variant,
            VariantDeserializer {
                content: self.content,
            },
        ))
    }
}

/// Gives access to the content of one enum variant.
pub(super) struct VariantDeserializer {
    content: Option<Value>,
}

impl<'de> VariantAccess<'de> for VariantDeserializer {
    type Error = ValueError;

    fn unit_variant(self) -> Result<(), ValueError> {
        match self.content {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(other.invalid_type(&"a unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<T::Value, ValueError> {
        match self.content {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(other.invalid_type(&"a tuple variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self.content {
            Some(Value::Object(fields)) => visit_object(fields, visitor),
            Some(Value::Array(items)) => visit_array(items, visitor),
            Some(other) => Err(other.invalid_type(&"a struct variant")),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a struct variant",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::super::{Value, from_value};
    use super::*;

    #[derive(Debug, PartialEq, Deserialize)]
    enum E {
        Unit,
        New(i64),
        Tuple(i64, bool),
        Struct { x: i64 },
    }

    fn tagged(variant: &str, content: Value) -> Value {
        Value::Object(BTreeMap::from([(variant.to_owned(), content)]))
    }

    #[test]
    fn variants() {
        assert_eq!(from_value::<E>(Value::from("Unit")), Ok(E::Unit));
        // A unit variant may also be written as `{variant: null}`.
        assert_eq!(from_value::<E>(tagged("Unit", Value::Null)), Ok(E::Unit));
        assert_eq!(
            from_value::<E>(tagged("New", Value::Int64(1))),
            Ok(E::New(1))
        );
        assert_eq!(
            from_value::<E>(tagged(
                "Tuple",
                Value::Array(vec![Value::Int64(1), Value::Boolean(true)])
            )),
            Ok(E::Tuple(1, true))
        );
        let fields = Value::Object(BTreeMap::from([("x".to_owned(), Value::Int64(2))]));
        assert_eq!(
            from_value::<E>(tagged("Struct", fields)),
            Ok(E::Struct { x: 2 })
        );
        assert_eq!(
            from_value::<E>(tagged("Struct", Value::Array(vec![Value::Int64(3)]))),
            Ok(E::Struct { x: 3 })
        );
    }

    #[test]
    fn variant_shape_errors() {
        for (input, expected) in [
            (
                Value::from("New"),
                "invalid type: unit variant, expected a newtype variant",
            ),
            (
                Value::from("Tuple"),
                "invalid type: unit variant, expected a tuple variant",
            ),
            (
                Value::from("Struct"),
                "invalid type: unit variant, expected a struct variant",
            ),
            (
                tagged("Unit", Value::Int64(1)),
                "invalid type: integer `1`, expected a unit variant",
            ),
            (
                tagged("Tuple", Value::Int64(1)),
                "invalid type: integer `1`, expected a tuple variant",
            ),
            (
                tagged("Struct", Value::Null),
                "invalid type: unit value, expected a struct variant",
            ),
        ] {
            let err = from_value::<E>(input).expect_err(expected);
            assert_eq!(err.to_string(), expected);
        }
        let err = from_value::<E>(Value::Object(BTreeMap::new())).expect_err("empty object");
        assert!(err.to_string().contains("single field"), "{err}");
    }

    #[test]
    fn leftover_fields_are_errors() {
        let err = from_value::<[i64; 2]>(Value::Array(vec![Value::Int64(1); 3])).expect_err("3");
        assert!(err.to_string().contains("fewer elements"), "{err}");
    }
}
