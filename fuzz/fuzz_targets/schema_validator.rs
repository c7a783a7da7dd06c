//! Schema validators. The input is JSON. Decoded as a wire value, it is
//! validated against the document validators of the chat and bank example
//! schemas and a few hand-built validators. Read as a JSON schema, it is
//! turned into a validator (`validator_from_json_schema`, which derives the
//! validators of every table and function argument list), which is printed,
//! queried and used to validate values, including the input itself. A pair
//! `[schema, value]` validates that value against that schema. A literal
//! validator always accepts its own value.

#![no_main]

use std::sync::OnceLock;

use convex_rs::schema::{Validator, v, validator_from_json_schema};
use convex_rs::value::{TableNumber, Value};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

fn table_names(number: TableNumber) -> Option<&'static str> {
    match number.0 {
        1 => Some("users"),
        2 => Some("messages"),
        3 => Some("accounts"),
        _ => None,
    }
}

fn validators() -> &'static [Validator] {
    static VALIDATORS: OnceLock<Vec<Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let mut all: Vec<Validator> = chat::schema()
            .tables
            .into_iter()
            .chain(bank::schema().tables)
            .filter_map(|table| table.document)
            .collect();
        all.extend([
            v::any(),
            v::object([
                ("body", v::string()),
                ("user", v::id("users")),
                ("n", v::int64()),
                ("tags", v::array(v::union([v::string(), v::null()]))),
            ]),
            v::record(v::union([v::float64(), v::bytes(), v::boolean()])),
            v::array(v::object([("kind", v::literal("a")), ("x", v::number())])),
            v::nullable(v::array(v::array(v::int64()))),
            v::union([
                v::object([("kind", v::literal("a")), ("a", v::string())]),
                v::object([("kind", v::literal("b")), ("b", v::record(v::any()))]),
            ]),
        ]);
        all
    })
}

fn exercise(validator: &Validator, value: &Value) {
    if let Err(e) = validator.validate(value, &table_names) {
        let _ = e.to_string();
    }
    if let (Some(object), Value::Object(fields)) = (validator.as_object(), value) {
        let _ = object.validate_fields(fields, &table_names);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let value = Value::from_json(json.clone()).ok();
    if let Some(value) = &value {
        for validator in validators() {
            exercise(validator, value);
        }
        let literal = v::literal(value.clone());
        assert!(
            literal.validate(value, &table_names).is_ok(),
            "a literal validator rejects its own value"
        );
    }
    let derived = validator_from_json_schema(&json);
    let _ = derived.to_string();
    for path in ["a", "a.b", "body", "_id", ""] {
        let _ = derived.has_path(path);
    }
    if let Some(value) = &value {
        exercise(&derived, value);
    }
    if let Json::Array(pair) = &json
        && let [schema, candidate] = pair.as_slice()
    {
        let validator = validator_from_json_schema(schema);
        if let Ok(candidate) = Value::from_json(candidate.clone()) {
            exercise(&validator, &candidate);
        }
    }
});
