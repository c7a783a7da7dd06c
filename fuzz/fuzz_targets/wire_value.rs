//! The wire JSON value decoder (`Value::from_json`, protocol §3.1): any text
//! a client sends as a value must decode or fail cleanly, and what decodes
//! must survive the wire encoding (`to_json`, then its text form) unchanged.

#![no_main]

use convex_rs::value::{Value, ValueError, check_value};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let Ok(value) = Value::from_json(json) else {
        return;
    };
    // The decoder promises the structural rules of `check_value` except the
    // size limit.
    if let Err(e) = check_value(&value) {
        assert!(
            matches!(e, ValueError::TooLarge { .. }),
            "a decoded value fails check_value: {e}"
        );
    }
    let encoded = value.to_json();
    let text = serde_json::to_string(&encoded).expect("an encoded value serializes");
    let reparsed: Json = serde_json::from_str(&text).expect("encoded text parses");
    let again = Value::from_json(reparsed).expect("an encoded value decodes");
    assert_eq!(again, value, "wire round trip changed the value");
    // The clean JSON of the HTTP API is lossy but must always encode.
    let _ = serde_json::to_string(&value.to_clean_json()).expect("clean JSON serializes");
    let _ = value.size();
});
