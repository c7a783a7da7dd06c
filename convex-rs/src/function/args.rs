//! Function arguments as clients send them.

use serde_json::Value as Json;

use crate::value::Value;

/// The arguments of a call as the wire carries them: the sync protocol and
/// the npm HTTP client send `[argsObject]`; no element (or, over HTTP, a
/// missing `args`) means no arguments. Returns the argument object, or why
/// it is not one.
pub(crate) fn args_from_wire(args: Vec<Json>) -> Result<Value, String> {
    let mut args = args;
    let object = match args.len() {
        0 => Json::Object(Default::default()),
        1 => args.remove(0),
        n => return Err(format!("expected one arguments object, got {n} arguments")),
    };
    match Value::from_json(object).map_err(|e| format!("invalid arguments: {e}"))? {
        value @ Value::Object(_) => Ok(value),
        other => Err(format!(
            "arguments must be an object, not {}",
            other.type_name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_one_object_or_nothing() {
        assert!(matches!(args_from_wire(vec![]), Ok(Value::Object(o)) if o.is_empty()));
        assert!(
            matches!(args_from_wire(vec![json!({"a": 1.0})]), Ok(Value::Object(o)) if o.len() == 1)
        );
        let two = args_from_wire(vec![json!({}), json!({})]).unwrap_err();
        assert!(two.contains("got 2 arguments"), "{two}");
        let scalar = args_from_wire(vec![json!(1.0)]).unwrap_err();
        assert!(scalar.contains("must be an object"), "{scalar}");
        let bad = args_from_wire(vec![json!({"$bad": 1.0})]).unwrap_err();
        assert!(bad.starts_with("invalid arguments"), "{bad}");
    }
}
