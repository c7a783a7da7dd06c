//! An order-preserving, self-delimiting byte encoding of [`Value`]s, used
//! for index keys and as the storage encoding of documents.
//!
//! For all values `a` and `b`, `a.cmp(&b)` equals the byte-wise comparison
//! of their encodings, and no encoding is a proper prefix of another one, so
//! tuples of values can be encoded by concatenation ([`encode_values`]) and
//! still compare element by element.
//!
//! Layout (tags ascend in the type order and are all above the 0x00
//! terminator, so a shorter array or object sorts before a longer one with
//! the same prefix):
//!
//! | type | encoding |
//! |---|---|
//! | null | `10` |
//! | int64 | `20` ‖ 8 bytes big-endian with the sign bit flipped |
//! | float64 | `30` ‖ 8 bytes big-endian of the [`f64::total_cmp`] transform (negative: all bits inverted; otherwise the sign bit flipped) |
//! | false / true | `40` / `41` |
//! | string | `50` ‖ UTF-8 bytes with `00` escaped as `00 FF` ‖ `00 00` |
//! | bytes | `60` ‖ bytes escaped the same way ‖ `00 00` |
//! | array | `70` ‖ each element ‖ `00` |
//! | object | `80` ‖ for each field in name order: `01` ‖ escaped name ‖ `00 00` ‖ value ‖ then `00` |

use std::collections::BTreeMap;

use super::error::ValueError;
use super::limits::MAX_VALUE_NESTING;
use super::value::Value;

const TERMINATOR: u8 = 0x00;
const ENTRY: u8 = 0x01;
const ESCAPED_ZERO: u8 = 0xFF;
const TAG_NULL: u8 = 0x10;
const TAG_INT64: u8 = 0x20;
const TAG_FLOAT64: u8 = 0x30;
const TAG_FALSE: u8 = 0x40;
const TAG_TRUE: u8 = 0x41;
const TAG_STRING: u8 = 0x50;
const TAG_BYTES: u8 = 0x60;
const TAG_ARRAY: u8 = 0x70;
const TAG_OBJECT: u8 = 0x80;
const SIGN_BIT: u64 = 1 << 63;

/// Appends the key encoding of `value` to `out`.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Int64(n) => {
            out.push(TAG_INT64);
            out.extend_from_slice(&(n.cast_unsigned() ^ SIGN_BIT).to_be_bytes());
        }
        Value::Float64(f) => {
            let bits = f.to_bits();
            let key = if bits & SIGN_BIT == 0 {
                bits ^ SIGN_BIT
            } else {
                !bits
            };
            out.push(TAG_FLOAT64);
            out.extend_from_slice(&key.to_be_bytes());
        }
        Value::Boolean(false) => out.push(TAG_FALSE),
        Value::Boolean(true) => out.push(TAG_TRUE),
        Value::String(s) => {
            out.push(TAG_STRING);
            encode_escaped(s.as_bytes(), out);
        }
        Value::Bytes(b) => {
            out.push(TAG_BYTES);
            encode_escaped(b, out);
        }
        Value::Array(items) => {
            out.push(TAG_ARRAY);
            for item in items {
                encode_value(item, out);
            }
            out.push(TERMINATOR);
        }
        Value::Object(fields) => {
            out.push(TAG_OBJECT);
            for (name, field) in fields {
                out.push(ENTRY);
                encode_escaped(name.as_bytes(), out);
                encode_value(field, out);
            }
            out.push(TERMINATOR);
        }
    }
}

fn encode_escaped(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(bytes.len() + 2);
    for chunk in bytes.split_inclusive(|&b| b == 0) {
        out.extend_from_slice(chunk);
        if chunk.last() == Some(&0) {
            out.push(ESCAPED_ZERO);
        }
    }
    out.extend_from_slice(&[TERMINATOR, TERMINATOR]);
}

/// Encodes a tuple of values as the concatenation of their encodings, which
/// compares like the tuple (element by element).
pub fn encode_values(values: &[&Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        encode_value(value, &mut out);
    }
    out
}

/// Decodes one value from the front of `bytes` and returns it with the
/// remaining bytes.
///
/// Only canonical encodings (as produced by [`encode_value`]) are accepted:
/// truncated input, unknown tags, bad escapes, invalid UTF-8 and object
/// fields out of order are errors, as is nesting deeper than
/// [`MAX_VALUE_NESTING`]. Never panics.
pub fn decode_value(bytes: &[u8]) -> Result<(Value, &[u8]), ValueError> {
    let mut decoder = Decoder {
        input: bytes,
        pos: 0,
    };
    let value = decoder.value(0)?;
    Ok((value, bytes.get(decoder.pos..).unwrap_or_default()))
}

/// Decodes a concatenation of encodings (as produced by [`encode_values`])
/// that must consist of whole values only.
pub fn decode_values(mut bytes: &[u8]) -> Result<Vec<Value>, ValueError> {
    let total = bytes.len();
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let (value, rest) = decode_value(bytes).map_err(|e| match e {
            ValueError::InvalidKey { offset, message } => ValueError::InvalidKey {
                offset: offset + (total - bytes.len()),
                message,
            },
            other => other,
        })?;
        values.push(value);
        bytes = rest;
    }
    Ok(values)
}

/// The smallest byte string that is greater than every byte string starting
/// with `bytes`, for turning a prefix into an exclusive upper bound of a
/// range scan. `None` if there is no such string (`bytes` is empty or all
/// `0xFF`), meaning the range is unbounded above.
pub fn prefix_successor(bytes: &[u8]) -> Option<Vec<u8>> {
    let last = bytes.iter().rposition(|&b| b != 0xFF)?;
    let mut successor = bytes[..=last].to_vec();
    successor[last] += 1;
    Some(successor)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> ValueError {
        debug_assert!(offset <= self.input.len());
        ValueError::InvalidKey {
            offset,
            message: message.into(),
        }
    }

    fn truncated(&self) -> ValueError {
        self.error(self.input.len(), "unexpected end of input")
    }

    fn byte(&mut self) -> Result<u8, ValueError> {
        let byte = *self.input.get(self.pos).ok_or_else(|| self.truncated())?;
        self.pos += 1;
        Ok(byte)
    }

    fn peek(&self) -> Result<u8, ValueError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.truncated())
    }

    fn u64(&mut self) -> Result<u64, ValueError> {
        let bytes: [u8; 8] = self
            .input
            .get(self.pos..self.pos + 8)
            .and_then(|slice| slice.try_into().ok())
            .ok_or_else(|| self.truncated())?;
        self.pos += 8;
        Ok(u64::from_be_bytes(bytes))
    }

    /// Reads an escaped byte string up to and including its `00 00`
    /// terminator.
    fn escaped(&mut self) -> Result<Vec<u8>, ValueError> {
        let mut out = Vec::new();
        loop {
            let rest = self.input.get(self.pos..).unwrap_or_default();
            let zero = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| self.truncated())?;
            out.extend_from_slice(&rest[..zero]);
            self.pos += zero + 1;
            match self.byte()? {
                TERMINATOR => return Ok(out),
                ESCAPED_ZERO => out.push(0),
                other => {
                    return Err(self.error(
                        self.pos - 1,
                        format!("invalid escape byte 0x{other:02x} after 0x00"),
                    ));
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, ValueError> {
        let start = self.pos;
        let bytes = self.escaped()?;
        String::from_utf8(bytes).map_err(|e| self.error(start, format!("string is not UTF-8: {e}")))
    }

    /// Decodes one value that sits inside `depth` enclosing containers.
    fn value(&mut self, depth: usize) -> Result<Value, ValueError> {
        let start = self.pos;
        let tag = self.byte()?;
        let value = match tag {
            TAG_NULL => Value::Null,
            TAG_INT64 => Value::Int64((self.u64()? ^ SIGN_BIT).cast_signed()),
            TAG_FLOAT64 => {
                let key = self.u64()?;
                let bits = if key & SIGN_BIT == 0 {
                    !key
                } else {
                    key ^ SIGN_BIT
                };
                Value::Float64(f64::from_bits(bits))
            }
            TAG_FALSE => Value::Boolean(false),
            TAG_TRUE => Value::Boolean(true),
            TAG_STRING => Value::String(self.string()?),
            TAG_BYTES => Value::Bytes(self.escaped()?),
            TAG_ARRAY | TAG_OBJECT if depth >= MAX_VALUE_NESTING => {
                return Err(self.error(
                    start,
                    format!(
                        "arrays and objects are nested more than {MAX_VALUE_NESTING} levels deep"
                    ),
                ));
            }
            TAG_ARRAY => {
                let mut items = Vec::new();
                while self.peek()? != TERMINATOR {
                    items.push(self.value(depth + 1)?);
                }
                self.pos += 1;
                Value::Array(items)
            }
            TAG_OBJECT => {
                let mut fields = BTreeMap::new();
                loop {
                    let entry_start = self.pos;
                    match self.byte()? {
                        TERMINATOR => break,
                        ENTRY => {}
                        other => {
                            return Err(self.error(
                                entry_start,
                                format!("expected an object entry (0x01) or the end of the object (0x00), found 0x{other:02x}"),
                            ));
                        }
                    }
                    let name = self.string()?;
                    if fields
                        .last_key_value()
                        .is_some_and(|(last, _)| *last >= name)
                    {
                        return Err(self.error(
                            entry_start,
                            format!("object field {name:?} is out of order or duplicated"),
                        ));
                    }
                    let field = self.value(depth + 1)?;
                    fields.insert(name, field);
                }
                Value::Object(fields)
            }
            other => {
                return Err(self.error(start, format!("unknown type tag 0x{other:02x}")));
            }
        };
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::value_strategy;
    use super::*;
    use proptest::prelude::*;

    fn enc(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(value, &mut out);
        out
    }

    #[test]
    fn known_encodings() {
        assert_eq!(enc(&Value::Null), [0x10]);
        assert_eq!(
            enc(&Value::Int64(-1)),
            [0x20, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(enc(&Value::Int64(0)), [0x20, 0x80, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            enc(&Value::Float64(1.0)),
            [0x30, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(enc(&Value::Boolean(true)), [0x41]);
        assert_eq!(enc(&Value::from("a\0b")), [0x50, b'a', 0, 0xff, b'b', 0, 0]);
        assert_eq!(enc(&Value::Bytes(vec![0])), [0x60, 0, 0xff, 0, 0]);
        assert_eq!(enc(&Value::Array(vec![Value::Null])), [0x70, 0x10, 0]);
        let object = Value::Object(BTreeMap::from([("k".to_owned(), Value::Null)]));
        assert_eq!(enc(&object), [0x80, 0x01, b'k', 0, 0, 0x10, 0]);
    }

    #[test]
    fn tricky_orders() {
        let ascending = [
            Value::Float64(-f64::NAN),
            Value::Float64(f64::NEG_INFINITY),
            Value::Float64(-0.0),
            Value::Float64(0.0),
            Value::Float64(f64::NAN),
            Value::from(""),
            Value::from("\0"),
            Value::from("\0\0"),
            Value::from("\u{1}"),
            Value::Bytes(vec![0xff]),
            Value::Array(vec![Value::Object(BTreeMap::new()), Value::Null]),
            Value::Array(vec![Value::Object(BTreeMap::from([(
                String::new(),
                Value::Null,
            )]))]),
        ];
        for pair in ascending.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
            assert!(
                enc(&pair[0]) < enc(&pair[1]),
                "{:?} < {:?}",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn decode_returns_rest() {
        let a = Value::from("x");
        let b = Value::Int64(7);
        let bytes = encode_values(&[&a, &b]);
        let (first, rest) = decode_value(&bytes).expect("valid");
        assert_eq!(first, a);
        let (second, rest) = decode_value(rest).expect("valid");
        assert_eq!(second, b);
        assert!(rest.is_empty());
        assert_eq!(decode_values(&bytes), Ok(vec![a, b]));
    }

    #[test]
    fn decode_rejects_garbage() {
        let cases: &[(&[u8], &str)] = &[
            (&[], "unexpected end"),
            (&[0x20, 1, 2], "unexpected end"),
            (&[0x50, b'a'], "unexpected end"),
            (&[0x50, b'a', 0], "unexpected end"),
            (&[0x50, 0, 7, 0, 0], "invalid escape"),
            (&[0x50, 0xc3, 0x28, 0, 0], "not UTF-8"),
            (&[0x70, 0x10], "unexpected end"),
            (&[0x99], "unknown type tag 0x99"),
            (&[0x80, 0x10, 0], "expected an object entry"),
            (
                &[0x80, 1, b'b', 0, 0, 0x10, 1, b'a', 0, 0, 0x10, 0],
                "out of order",
            ),
            (
                &[0x80, 1, b'a', 0, 0, 0x10, 1, b'a', 0, 0, 0x10, 0],
                "out of order",
            ),
        ];
        for (bytes, expected) in cases {
            let err = decode_value(bytes).expect_err("garbage");
            assert!(
                err.to_string().contains(expected),
                "{bytes:?}: {err} (wanted {expected})"
            );
        }
        let err = decode_values(&[0x10, 0x10, 0x99]).expect_err("garbage");
        assert_eq!(
            err,
            ValueError::InvalidKey {
                offset: 2,
                message: "unknown type tag 0x99".into()
            }
        );
    }

    #[test]
    fn decode_depth_is_bounded() {
        let mut deep = vec![TAG_ARRAY; MAX_VALUE_NESTING];
        deep.push(TAG_NULL);
        deep.extend(std::iter::repeat_n(TERMINATOR, MAX_VALUE_NESTING));
        let (value, rest) = decode_value(&deep).expect("64 levels are fine");
        assert_eq!(value.nesting_depth(), MAX_VALUE_NESTING);
        assert!(rest.is_empty());
        // One more level, or a very long run of array tags, is an error
        // rather than a stack overflow.
        let too_deep = vec![TAG_ARRAY; MAX_VALUE_NESTING + 1];
        let err = decode_value(&too_deep).expect_err("too deep");
        assert!(err.to_string().contains("nested more than 64"), "{err}");
        let very_deep: Vec<u8> = std::iter::repeat_n(TAG_ARRAY, 1_000_000).collect();
        assert!(decode_value(&very_deep).is_err());
    }

    #[test]
    fn prefix_successors() {
        assert_eq!(prefix_successor(&[1, 2, 3]), Some(vec![1, 2, 4]));
        assert_eq!(prefix_successor(&[1, 0xff, 0xff]), Some(vec![2]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(&[]), None);
        let prefix = enc(&Value::from("ab"));
        let successor = prefix_successor(&prefix).expect("has successor");
        let mut longer = prefix.clone();
        encode_value(&Value::Bytes(vec![0xff; 4]), &mut longer);
        assert!(prefix < successor && longer < successor);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn key_order_matches_value_order(values in proptest::collection::vec(value_strategy(), 2..8)) {
            let encoded: Vec<Vec<u8>> = values.iter().map(enc).collect();
            for (a, ea) in values.iter().zip(&encoded) {
                for (b, eb) in values.iter().zip(&encoded) {
                    prop_assert_eq!(a.cmp(b), ea.cmp(eb), "{:?} vs {:?}", a, b);
                }
            }
        }

        #[test]
        fn key_round_trip(value in value_strategy(), suffix in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = enc(&value);
            bytes.extend_from_slice(&suffix);
            let (decoded, rest) = decode_value(&bytes).expect("valid encoding");
            prop_assert_eq!(&decoded, &value);
            prop_assert_eq!(decoded.to_json(), value.to_json());
            prop_assert_eq!(rest, &suffix[..]);
        }

        #[test]
        fn encodings_are_self_delimiting(a in value_strategy(), b in value_strategy()) {
            let (ea, eb) = (enc(&a), enc(&b));
            if a != b {
                prop_assert!(!eb.starts_with(&ea), "{:?} is a prefix of {:?}", a, b);
                prop_assert!(!ea.starts_with(&eb), "{:?} is a prefix of {:?}", b, a);
            }
            // Tuples compare element by element.
            let tuple_order = (&a, &b).cmp(&(&b, &a));
            prop_assert_eq!(tuple_order, encode_values(&[&a, &b]).cmp(&encode_values(&[&b, &a])));
        }

        #[test]
        fn truncations_are_errors(value in value_strategy()) {
            let bytes = enc(&value);
            for len in 0..bytes.len() {
                prop_assert!(decode_value(&bytes[..len]).is_err());
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_value(&bytes);
        }

        #[test]
        fn successor_bounds_prefix(value in value_strategy(), suffix in proptest::collection::vec(any::<u8>(), 0..4)) {
            let prefix = enc(&value);
            let successor = prefix_successor(&prefix).expect("the leading tag byte is never 0xFF");
            let mut extended = prefix.clone();
            extended.extend_from_slice(&suffix);
            prop_assert!(extended < successor);
        }
    }
}
