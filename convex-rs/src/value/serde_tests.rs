//! Round-trip tests of the serde bridge ([`to_value`] / [`from_value`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use proptest::prelude::*;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::testing::value_strategy;
use super::{DocumentId, Id, TableType, Value, ValueError, from_value, to_value};

const REAL_ID: &str = "k570e9j5cj1t5gf0zwf3tq3vkawxhqr0";

struct Messages;
impl TableType for Messages {
    const TABLE_NAME: &'static str = "messages";
}

/// Bytes that serialize through `serialize_bytes`, like `serde_bytes`.
#[derive(Debug, Clone, PartialEq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BlobVisitor;
        impl Visitor<'_> for BlobVisitor {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        deserializer.deserialize_byte_buf(BlobVisitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Address {
    city: String,
    zip: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Empty,
    Circle(f64),
    Point(i32, i32),
    Rect { w: u16, h: u16 },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
enum Event {
    Joined { user: Id<Messages>, seats: u32 },
    Left { reason: Option<String>, code: i32 },
    Pinged,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
enum Loose {
    Count(u8),
    Name(String),
    Pair { a: i16, b: Blob },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meta {
    version: u32,
    weight: f32,
    tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Unit;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Wrapper(String);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Everything {
    big: i64,
    small: i32,
    unsigned: u64,
    ratio: f64,
    flag: bool,
    letter: char,
    name: String,
    nickname: Option<String>,
    missing: Option<i64>,
    scores: Vec<i32>,
    pairs: Vec<(String, i64)>,
    address: Address,
    shapes: Vec<Shape>,
    events: Vec<Event>,
    loose: Vec<Loose>,
    blob: Blob,
    owner: Id<Messages>,
    raw_id: DocumentId,
    extra: Value,
    unit: Unit,
    nothing: (),
    wrapped: Wrapper,
    lookup: HashMap<String, f64>,
    #[serde(flatten)]
    meta: Meta,
}

fn sample() -> Everything {
    let owner: Id<Messages> = REAL_ID.parse().expect("valid id");
    Everything {
        big: i64::MIN,
        small: -7,
        unsigned: 1 << 40,
        ratio: 0.25,
        flag: true,
        letter: 'λ',
        name: "Ada".into(),
        nickname: Some("ada".into()),
        missing: None,
        scores: vec![1, -2, 3],
        pairs: vec![("x".into(), 1), ("y".into(), -1)],
        address: Address {
            city: "Paris".into(),
            zip: Some(75001),
        },
        shapes: vec![
            Shape::Empty,
            Shape::Circle(1.5),
            Shape::Point(-1, 2),
            Shape::Rect { w: 3, h: 4 },
        ],
        events: vec![
            Event::Joined {
                user: owner,
                seats: 4,
            },
            Event::Left {
                reason: None,
                code: -3,
            },
            Event::Pinged,
        ],
        loose: vec![
            Loose::Count(7),
            Loose::Name("n".into()),
            Loose::Pair {
                a: -300,
                b: Blob(vec![0, 255]),
            },
        ],
        blob: Blob(vec![1, 2, 3]),
        owner,
        raw_id: owner.document_id(),
        extra: Value::Array(vec![
            Value::Int64(5),
            Value::Float64(-0.0),
            Value::Bytes(vec![9]),
            Value::Null,
        ]),
        unit: Unit,
        nothing: (),
        wrapped: Wrapper("w".into()),
        lookup: HashMap::from([("half".to_owned(), 0.5)]),
        meta: Meta {
            version: 3,
            weight: 0.5,
            tag: Some("t".into()),
        },
    }
}

fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let converted = to_value(value).expect("serializes");
    from_value(converted).expect("deserializes")
}

fn field<'a>(value: &'a Value, name: &str) -> &'a Value {
    value
        .as_object()
        .and_then(|fields| fields.get(name))
        .unwrap_or_else(|| panic!("missing field {name} in {value}"))
}

#[test]
fn struct_round_trip() {
    let original = sample();
    assert_eq!(round_trip(&original), original);
}

#[test]
fn struct_shape() {
    let value = to_value(&sample()).expect("serializes");
    assert_eq!(field(&value, "big"), &Value::Int64(i64::MIN));
    assert_eq!(field(&value, "small"), &Value::Float64(-7.0));
    assert_eq!(
        field(&value, "unsigned"),
        &Value::Float64(1_099_511_627_776.0)
    );
    assert_eq!(field(&value, "missing"), &Value::Null);
    assert_eq!(field(&value, "nothing"), &Value::Null);
    assert_eq!(field(&value, "unit"), &Value::Null);
    assert_eq!(field(&value, "wrapped"), &Value::from("w"));
    assert_eq!(field(&value, "blob"), &Value::Bytes(vec![1, 2, 3]));
    assert_eq!(field(&value, "owner"), &Value::from(REAL_ID));
    assert_eq!(field(&value, "letter"), &Value::from("λ"));
    // Flattened fields sit at the top level.
    assert_eq!(field(&value, "version"), &Value::Float64(3.0));
    assert!(value.as_object().is_some_and(|o| !o.contains_key("meta")));
    // Externally tagged enums.
    let shapes = field(&value, "shapes").as_array().expect("array");
    assert_eq!(shapes[0], Value::from("Empty"));
    assert_eq!(
        value.get_path("shapes"),
        Some(&Value::Array(shapes.to_vec()))
    );
    assert_eq!(field(&shapes[1], "Circle"), &Value::Float64(1.5));
    assert_eq!(
        field(&shapes[2], "Point"),
        &Value::Array(vec![Value::Float64(-1.0), Value::Float64(2.0)])
    );
    assert_eq!(field(field(&shapes[3], "Rect"), "w"), &Value::Float64(3.0));
    // Internally tagged enums.
    let events = field(&value, "events").as_array().expect("array");
    assert_eq!(field(&events[0], "kind"), &Value::from("joined"));
    assert_eq!(field(&events[0], "seats"), &Value::Float64(4.0));
    assert_eq!(field(&events[2], "kind"), &Value::from("pinged"));
}

#[test]
fn values_from_json_deserialize_into_structs() {
    // What a client would send: every number a float, ids as strings.
    let json = serde_json::json!({
        "kind": "left",
        "reason": "bye",
        "code": -12.0,
    });
    let value = Value::from_json(json).expect("valid convex JSON");
    let event: Event = from_value(value).expect("deserializes");
    assert_eq!(
        event,
        Event::Left {
            reason: Some("bye".into()),
            code: -12
        }
    );
    let value =
        Value::from_json(serde_json::json!({"kind": "joined", "user": REAL_ID, "seats": 2}))
            .expect("valid convex JSON");
    let event: Event = from_value(value).expect("deserializes");
    assert!(matches!(event, Event::Joined { seats: 2, .. }));
}

#[test]
fn integer_conversions() {
    assert_eq!(from_value::<i64>(Value::Int64(5)), Ok(5));
    assert_eq!(from_value::<i64>(Value::Float64(5.0)), Ok(5));
    assert_eq!(
        from_value::<i64>(Value::Float64(-1e18)),
        Ok(-1_000_000_000_000_000_000)
    );
    assert_eq!(from_value::<i32>(Value::Float64(-5.0)), Ok(-5));
    assert_eq!(from_value::<i32>(Value::Int64(-5)), Ok(-5));
    assert_eq!(from_value::<u8>(Value::Float64(255.0)), Ok(255));
    assert_eq!(from_value::<u64>(Value::Float64(0.0)), Ok(0));
    assert_eq!(from_value::<u64>(Value::Float64(-0.0)), Ok(0));
    assert_eq!(from_value::<u128>(Value::Int64(7)), Ok(7));
    assert_eq!(
        from_value::<i128>(Value::Float64(-1e30)),
        Ok(-1_000_000_000_000_000_019_884_624_838_656)
    );
    assert_eq!(from_value::<usize>(Value::Float64(3.0)), Ok(3));

    let err = from_value::<i32>(Value::Float64(3.5)).expect_err("fractional");
    assert_eq!(
        err.to_string(),
        "invalid value: floating point `3.5`, expected i32"
    );
    let err = from_value::<u8>(Value::Float64(300.0)).expect_err("out of range");
    assert_eq!(
        err.to_string(),
        "invalid value: floating point `300.0`, expected u8"
    );
    let err = from_value::<u8>(Value::Int64(-1)).expect_err("negative");
    assert_eq!(err.to_string(), "invalid value: integer `-1`, expected u8");
    assert!(from_value::<i64>(Value::Float64(1e300)).is_err());
    assert!(from_value::<i64>(Value::Float64(f64::NAN)).is_err());
    assert!(from_value::<i64>(Value::Float64(f64::INFINITY)).is_err());
    assert!(from_value::<u128>(Value::Float64(1e39)).is_err());
    let err = from_value::<i64>(Value::from("5")).expect_err("string");
    assert_eq!(err.to_string(), "invalid type: string \"5\", expected i64");
}

#[test]
fn float_conversions() {
    assert_eq!(from_value::<f64>(Value::Float64(1.5)), Ok(1.5));
    assert_eq!(from_value::<f64>(Value::Int64(3)), Ok(3.0));
    assert_eq!(from_value::<f32>(Value::Float64(0.5)), Ok(0.5));
    let nan = from_value::<f64>(Value::Float64(f64::NAN)).expect("NaN");
    assert!(nan.is_nan());
    let negative_zero = from_value::<f64>(Value::Float64(-0.0)).expect("-0");
    assert!(negative_zero == 0.0 && negative_zero.is_sign_negative());
    assert!(from_value::<f64>(Value::Boolean(true)).is_err());
}

#[test]
fn serializing_unsafe_integers_fails() {
    #[derive(Serialize)]
    struct Big {
        n: u64,
    }
    let err = to_value(&Big { n: u64::MAX }).expect_err("too big");
    assert!(err.to_string().contains("18446744073709551615"), "{err}");
    assert!(err.to_string().contains("use i64"), "{err}");
}

#[test]
fn enum_errors() {
    let err = from_value::<Shape>(Value::from("Hexagon")).expect_err("unknown variant");
    assert!(
        err.to_string().contains("unknown variant `Hexagon`"),
        "{err}"
    );
    let two_keys = Value::Object(BTreeMap::from([
        ("Circle".to_owned(), Value::Float64(1.0)),
        ("Empty".to_owned(), Value::Null),
    ]));
    assert!(from_value::<Shape>(two_keys).is_err());
    let err = from_value::<Shape>(Value::Int64(1)).expect_err("wrong type");
    assert!(err.to_string().contains("invalid type"), "{err}");
    assert!(from_value::<Shape>(Value::from("Circle")).is_err());
}

#[test]
fn struct_errors() {
    let missing = Value::Object(BTreeMap::from([("city".to_owned(), Value::Null)]));
    let err = from_value::<Address>(missing).expect_err("null city");
    assert_eq!(
        err.to_string(),
        "invalid type: unit value, expected a string"
    );
    let err = from_value::<Address>(Value::Object(BTreeMap::new())).expect_err("empty");
    assert_eq!(err.to_string(), "missing field `city`");
    let err = from_value::<(i64, i64)>(Value::Array(vec![Value::Int64(1)])).expect_err("short");
    assert!(err.to_string().contains("invalid length 1"), "{err}");
    let err = from_value::<(i64,)>(Value::Array(vec![Value::Int64(1), Value::Int64(2)]))
        .expect_err("long");
    assert!(err.to_string().contains("fewer elements"), "{err}");
}

#[test]
fn ids_deserialize_from_strings_only() {
    let id: Id<Messages> = from_value(Value::from(REAL_ID)).expect("valid id");
    assert_eq!(id.to_string(), REAL_ID);
    let err = from_value::<Id<Messages>>(Value::from("abc")).expect_err("malformed");
    assert!(matches!(err, ValueError::Serde { .. }));
    assert!(err.to_string().contains("invalid document id"), "{err}");
    assert!(from_value::<Id<Messages>>(Value::Int64(1)).is_err());
}

#[test]
fn value_converts_to_and_from_serde_json() {
    let value = Value::Object(BTreeMap::from([
        ("f".to_owned(), Value::Float64(2.0)),
        ("s".to_owned(), Value::from("x")),
    ]));
    let json: serde_json::Value = from_value(value).expect("converts");
    assert_eq!(json, serde_json::json!({"f": 2, "s": "x"}));
    // A `Value` read from plain JSON through serde: small integers are floats.
    let value: Value = serde_json::from_str(r#"{"a": [1, 2.5, "s", null, true]}"#).expect("parses");
    assert_eq!(
        value.get_path("a"),
        Some(&Value::Array(vec![
            Value::Float64(1.0),
            Value::Float64(2.5),
            Value::from("s"),
            Value::Null,
            Value::Boolean(true),
        ]))
    );
    let err = serde_json::from_str::<Value>("18446744073709551615").expect_err("too big");
    assert!(
        err.to_string().contains("cannot be represented exactly"),
        "{err}"
    );
}

#[test]
fn buffered_values_keep_their_types() {
    // Untagged enums buffer their input; a nested `Value` must come out
    // unchanged, including integral floats, -0, Int64 and bytes.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    enum Holder {
        Any(Value),
    }
    let value = Value::Array(vec![
        Value::Float64(3.0),
        Value::Float64(-3.0),
        Value::Float64(-3e10),
        Value::Float64(-0.0),
        Value::Float64(f64::NAN),
        Value::Int64(3),
        Value::Bytes(vec![1]),
        Value::Null,
    ]);
    let held: Holder = from_value(value.clone()).expect("deserializes");
    assert_eq!(held, Holder::Any(value));
}

proptest! {
    #[test]
    fn value_serde_round_trip(value in value_strategy()) {
        let through_serde = to_value(&value).expect("serializes");
        prop_assert_eq!(&through_serde, &value);
        let back: Value = from_value(value.clone()).expect("deserializes");
        prop_assert_eq!(back, value);
    }

    #[test]
    fn i32_and_f64_round_trip(a in any::<i32>(), b in any::<f64>(), c in any::<i64>(), d in any::<u32>()) {
        prop_assert_eq!(round_trip(&(a, c, d)), (a, c, d));
        let back: f64 = round_trip(&b);
        prop_assert_eq!(back.to_bits(), b.to_bits());
    }
}
