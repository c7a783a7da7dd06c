//! The index key decoder (`decode_value` / `decode_values`), which reads
//! index keys and stored documents: arbitrary bytes must decode or fail
//! cleanly; a decoded value re-encodes to exactly the bytes it came from
//! (only canonical encodings are accepted), and the byte order of encodings
//! is the order of the values.

#![no_main]

use convex_rs::value::{
    Value, decode_value, decode_values, encode_value, encode_values, prefix_successor,
};
use libfuzzer_sys::fuzz_target;

fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok((value, rest)) = decode_value(data) {
        let consumed = &data[..data.len() - rest.len()];
        assert_eq!(
            encode(&value),
            consumed,
            "decode then encode is not the identity"
        );
        // Split the input in two values where possible and check that byte
        // order is value order.
        if let Ok((other, _)) = decode_value(rest) {
            let (a, b) = (encode(&value), encode(&other));
            assert_eq!(
                a.cmp(&b),
                value.cmp(&other),
                "key order differs from value order"
            );
        }
    }
    if let Ok(values) = decode_values(data) {
        let refs: Vec<&Value> = values.iter().collect();
        assert_eq!(
            encode_values(&refs),
            data,
            "decode_values then encode is not the identity"
        );
    }
    if let Some(successor) = prefix_successor(data) {
        assert!(
            successor.as_slice() > data,
            "prefix successor is not greater"
        );
    }
});
