//! Proptest strategies for [`Value`], shared by the tests of this module.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use super::value::Value;

/// Floats biased towards the interesting corners of the total order.
pub(super) fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(-f64::NAN),
        Just(f64::from_bits(0x7ff0_0000_0000_0001)),
        Just(0.0),
        Just(-0.0),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(f64::MIN_POSITIVE),
        Just(-f64::MIN_POSITIVE),
        (-3_i32..3).prop_map(f64::from),
    ]
}

/// Short strings over a small alphabet (so that values often share
/// prefixes) that includes NUL and non-ASCII characters.
pub(super) fn small_string() -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            Just('\0'),
            Just('a'),
            Just('b'),
            Just('\u{ff}'),
            Just('\u{1f600}'),
            any::<char>(),
        ],
        0..5,
    )
    .prop_map(String::from_iter)
}

/// Short byte strings that often contain 0x00 and 0xFF.
pub(super) fn small_bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![Just(0_u8), Just(1_u8), Just(0xff_u8), any::<u8>()],
        0..5,
    )
}

/// Valid object field names (protocol §3.2).
pub(super) fn field_name() -> impl Strategy<Value = String> {
    prop_oneof!["[a-c]{1,3}", "[ -#%-~][ -~]{0,6}"]
}

fn value_with_names(names: BoxedStrategy<String>) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<i64>().prop_map(Value::Int64),
        (-3_i64..3).prop_map(Value::Int64),
        float().prop_map(Value::Float64),
        any::<bool>().prop_map(Value::Boolean),
        small_string().prop_map(Value::String),
        small_bytes().prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(4, 48, 4, move |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(names.clone(), inner, 0..4)
                .prop_map(|fields: BTreeMap<String, Value>| Value::Object(fields)),
        ]
    })
}

/// Arbitrary values, with arbitrary object keys (including empty keys and
/// keys containing NUL), as allowed by the key encoding.
pub(super) fn value_strategy() -> impl Strategy<Value = Value> {
    value_with_names(small_string().boxed())
}

/// Arbitrary values whose object keys are valid field names, as allowed by
/// convex encoded JSON.
pub(super) fn valid_value() -> impl Strategy<Value = Value> {
    value_with_names(field_name().boxed())
}
