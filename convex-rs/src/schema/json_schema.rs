//! Derives [`Validator`]s from JSON schemas (as produced by `schemars`), so a
//! Rust type is the single source of truth for a table's documents and a
//! function's arguments.

use serde_json::{Map, Value as Json};

use super::{ObjectValidator, Validator};
use crate::value::Value;

/// How deep schemas are followed before what lies deeper is accepted as `any`.
const MAX_DEPTH: usize = 128;

/// How many times one definition may be expanded inside itself. A stored
/// document nests at most 16 levels, so a recursive type with one recursive
/// field (a list, a tree of replies) is checked as deep as any document can
/// go; deeper occurrences accept `any`.
const MAX_RECURSION: usize = crate::value::MAX_DOCUMENT_NESTING;

/// How many schema nodes one conversion looks at; the rest become `any`.
/// Bounds the time and memory of a conversion whatever the schema: a type
/// with several recursive fields, expanded 16 levels, would otherwise be
/// exponential in size.
const MAX_NODES: usize = 20_000;

/// Converts a JSON schema into a validator.
///
/// Mapping: `string` → string (or `Id<T>` when the schema carries
/// `x-convex-id`), `integer` with format `int64` → int64, other integers and
/// `number` → float64, `boolean`, `null`, `array` → array of its `items`,
/// `object` with `properties` → an exact object (fields not in `required` are
/// optional), `object` with only `additionalProperties` → record, `enum`,
/// `const`, `anyOf`, `oneOf` and type lists → unions. Anything the converter
/// does not understand becomes `any`, so conversion never fails. A recursive
/// type (a `$ref` inside its own definition) is checked as deep as a
/// document can nest, or, when that would make the validator too large (a
/// type with several recursive fields), uniformly less deep; below that,
/// values are accepted as `any`.
pub fn validator_from_json_schema(schema: &Json) -> Validator {
    let defs = schema
        .get("$defs")
        .or_else(|| schema.get("definitions"))
        .and_then(Json::as_object);
    // The deepest expansion that fits the node budget: 16, 8, 4, 2, 1.
    let mut max_recursion = MAX_RECURSION;
    loop {
        let mut converter = Converter {
            defs,
            expanding: Vec::new(),
            nodes_left: MAX_NODES,
            max_recursion,
        };
        let validator = converter.convert(schema, 0);
        if converter.nodes_left > 0 || max_recursion == 1 {
            return validator;
        }
        max_recursion /= 2;
    }
}

struct Converter<'a> {
    defs: Option<&'a Map<String, Json>>,
    /// The definitions being expanded, outermost first.
    expanding: Vec<&'a str>,
    /// How many more schema nodes may be converted.
    nodes_left: usize,
    /// How many times a definition may be expanded inside itself.
    max_recursion: usize,
}

impl<'a> Converter<'a> {
    fn convert(&mut self, schema: &'a Json, depth: usize) -> Validator {
        if depth > MAX_DEPTH || self.nodes_left == 0 {
            return Validator::Any;
        }
        self.nodes_left -= 1;
        let Some(obj) = schema.as_object() else {
            return match schema {
                Json::Bool(false) => Validator::Union(Vec::new()),
                _ => Validator::Any,
            };
        };
        if let Some(reference) = obj.get("$ref").and_then(Json::as_str) {
            let name = reference.rsplit('/').next().unwrap_or_default();
            let Some(target) = self.defs.and_then(|d| d.get(name)) else {
                return Validator::Any;
            };
            if self.expanding.iter().filter(|n| **n == name).count() >= self.max_recursion {
                return Validator::Any;
            }
            self.expanding.push(name);
            let validator = self.convert(target, depth + 1);
            self.expanding.pop();
            return validator;
        }
        if let Some(table) = obj.get("x-convex-id").and_then(Json::as_str) {
            let id = Validator::Id(table.to_string());
            // `Option<Id<T>>`: schemars adds "null" to the inline id schema's type.
            let nullable = obj
                .get("type")
                .and_then(Json::as_array)
                .is_some_and(|types| types.iter().any(|t| t == "null"));
            return if nullable {
                union(vec![id, Validator::Null])
            } else {
                id
            };
        }
        if let Some(constant) = obj.get("const") {
            return Validator::Literal(plain_value(constant));
        }
        if let Some(options) = obj.get("enum").and_then(Json::as_array) {
            return union(
                options
                    .iter()
                    .map(|o| Validator::Literal(plain_value(o)))
                    .collect(),
            );
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(options) = obj.get(key).and_then(Json::as_array) {
                return union(options.iter().map(|o| self.convert(o, depth + 1)).collect());
            }
        }
        if let Some(all) = obj.get("allOf").and_then(Json::as_array) {
            if let [only] = all.as_slice() {
                return self.convert(only, depth + 1);
            }
            return Validator::Any;
        }
        match obj.get("type") {
            Some(Json::String(t)) => self.typed(t, obj, depth),
            Some(Json::Array(types)) => union(
                types
                    .iter()
                    .filter_map(Json::as_str)
                    .map(|t| self.typed(t, obj, depth))
                    .collect(),
            ),
            _ => Validator::Any,
        }
    }

    fn typed(&mut self, ty: &str, obj: &'a Map<String, Json>, depth: usize) -> Validator {
        match ty {
            "null" => Validator::Null,
            "boolean" => Validator::Boolean,
            "string" => Validator::String,
            "number" => Validator::Float64,
            "integer" => match obj.get("format").and_then(Json::as_str) {
                Some("int64") => Validator::Int64,
                _ => Validator::Float64,
            },
            "array" => match obj.get("items") {
                Some(items) if items.is_object() => {
                    Validator::Array(Box::new(self.convert(items, depth + 1)))
                }
                _ => Validator::Array(Box::new(Validator::Any)),
            },
            "object" => self.object(obj, depth),
            _ => Validator::Any,
        }
    }

    fn object(&mut self, obj: &'a Map<String, Json>, depth: usize) -> Validator {
        let required: Vec<&str> = obj
            .get("required")
            .and_then(Json::as_array)
            .map(|r| r.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        match obj.get("properties").and_then(Json::as_object) {
            Some(properties) => {
                let mut out = ObjectValidator::new();
                for (name, schema) in properties {
                    let validator = self.convert(schema, depth + 1);
                    out = if required.contains(&name.as_str()) {
                        out.field(name.clone(), validator)
                    } else {
                        out.optional(name.clone(), validator)
                    };
                }
                Validator::Object(out)
            }
            None => match obj.get("additionalProperties") {
                Some(values) if values.is_object() => {
                    Validator::Record(Box::new(self.convert(values, depth + 1)))
                }
                // A closed object without properties: what schemars emits for
                // an empty struct with `deny_unknown_fields`, such as the
                // arguments of a function that takes none.
                Some(Json::Bool(false)) => Validator::Object(ObjectValidator::new()),
                _ => Validator::Record(Box::new(Validator::Any)),
            },
        }
    }
}

fn union(mut options: Vec<Validator>) -> Validator {
    if options.len() == 1 {
        return options.remove(0);
    }
    if options.contains(&Validator::Any) {
        return Validator::Any;
    }
    Validator::Union(options)
}

/// A JSON literal from a schema (`const`, `enum`) as a value: numbers are float64.
fn plain_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        Json::String(s) => Value::String(s.clone()),
        Json::Array(items) => Value::Array(items.iter().map(plain_value).collect()),
        Json::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), plain_value(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Id, TableType};
    use schemars::JsonSchema;

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct User {
        name: String,
    }
    impl TableType for User {
        const TABLE_NAME: &'static str = "users";
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    enum Mood {
        Happy,
        Sad,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Message {
        body: String,
        user: Id<User>,
        likes: i64,
        score: f64,
        count: u32,
        edited_at: Option<f64>,
        tags: Vec<String>,
        mood: Mood,
        inner: Inner,
    }

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Inner {
        flag: bool,
    }

    #[test]
    fn converts_a_struct() {
        let schema = crate::__private::schema_for::<Message>();
        let validator = validator_from_json_schema(schema.as_value());
        let Validator::Object(o) = &validator else {
            panic!("{validator}")
        };
        let field = |n: &str| &o.fields[n];
        assert_eq!(field("body").validator, Validator::String);
        assert_eq!(field("user").validator, Validator::Id("users".into()));
        assert_eq!(field("likes").validator, Validator::Int64);
        assert_eq!(field("score").validator, Validator::Float64);
        assert_eq!(field("count").validator, Validator::Float64);
        assert!(field("editedAt").optional);
        assert_eq!(
            field("editedAt").validator,
            Validator::Union(vec![Validator::Float64, Validator::Null])
        );
        assert_eq!(
            field("tags").validator,
            Validator::Array(Box::new(Validator::String))
        );
        assert_eq!(
            field("mood").validator,
            Validator::Union(vec![
                Validator::Literal("Happy".into()),
                Validator::Literal("Sad".into())
            ])
        );
        assert!(matches!(field("inner").validator, Validator::Object(_)));
        assert!(!field("body").optional);
    }

    #[test]
    fn an_optional_id_is_an_id_or_null() {
        // Found by the chat's `messages:deliver` returning `Option<Id<_>>`,
        // typed `Id<"messages">` (without `| null`) before.
        let schema = crate::__private::output_schema_for::<Option<Id<User>>>();
        assert_eq!(
            validator_from_json_schema(schema.as_value()),
            Validator::Union(vec![Validator::Id("users".into()), Validator::Null])
        );
    }

    #[test]
    fn closed_objects_without_properties_are_empty_objects() {
        // The arguments of a function without arguments.
        #[derive(serde::Deserialize, schemars::JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct NoArgs {}
        let schema = crate::__private::schema_for::<NoArgs>();
        assert_eq!(
            validator_from_json_schema(schema.as_value()),
            Validator::Object(ObjectValidator::new())
        );
        // An open one is still a record of anything.
        assert_eq!(
            validator_from_json_schema(&serde_json::json!({"type": "object"})),
            Validator::Record(Box::new(Validator::Any))
        );
    }

    #[test]
    fn unknown_constructs_become_any() {
        assert_eq!(
            validator_from_json_schema(&serde_json::json!(true)),
            Validator::Any
        );
        assert_eq!(
            validator_from_json_schema(&serde_json::json!({"$ref": "#/$defs/missing"})),
            Validator::Any
        );
    }

    fn no_tables(_: crate::value::TableNumber) -> Option<&'static str> {
        None
    }

    #[test]
    fn recursive_types_convert_in_bounded_time() {
        // Found with the `schema_validator` fuzz target's harness: a type
        // with several recursive fields was expanded 32 levels deep, which
        // took 6.5 s for four fields and ran out of memory for six.
        #[allow(dead_code)]
        #[derive(JsonSchema)]
        struct Node {
            label: String,
            a: Option<Box<Node>>,
            b: Option<Box<Node>>,
            c: Option<Box<Node>>,
            d: Option<Box<Node>>,
            e: Option<Box<Node>>,
            f: Option<Box<Node>>,
        }
        #[allow(dead_code)]
        #[derive(JsonSchema)]
        struct Tree {
            root: Node,
        }
        let schema = crate::__private::schema_for::<Tree>();
        let validator = validator_from_json_schema(schema.as_value());
        let value = |json: Json| Value::from_json(json).expect("a valid value");
        // Still checked below the top.
        let good =
            value(serde_json::json!({"root": {"label": "r", "a": {"label": "a", "b": null}}}));
        assert_eq!(validator.validate(&good, &no_tables), Ok(()));
        let bad = value(serde_json::json!({"root": {"label": "r", "a": {"label": 1.0}}}));
        assert!(validator.validate(&bad, &no_tables).is_err());
    }

    #[test]
    fn a_singly_recursive_type_is_checked_as_deep_as_documents_go() {
        #[allow(dead_code)]
        #[derive(JsonSchema)]
        struct Reply {
            text: String,
            next: Option<Box<Reply>>,
        }
        #[allow(dead_code)]
        #[derive(JsonSchema)]
        struct Thread {
            first: Reply,
        }
        let schema = crate::__private::schema_for::<Thread>();
        let validator = validator_from_json_schema(schema.as_value());
        // A chain 14 replies deep (15 levels with the document) whose last
        // reply has a number for its text.
        let mut reply = serde_json::json!({"text": 1.0, "next": null});
        for _ in 0..13 {
            reply = serde_json::json!({"text": "ok", "next": reply});
        }
        let bad = Value::from_json(serde_json::json!({ "first": reply })).expect("a value");
        assert!(validator.validate(&bad, &no_tables).is_err());
    }

    #[test]
    fn hostile_schemas_convert_in_bounded_time() {
        // A definition that is a union of eight references to itself.
        let schema = serde_json::json!({
            "$defs": {"a": {"anyOf": [{"$ref": "a"}, {"$ref": "a"}, {"$ref": "a"}, {"$ref": "a"},
                                      {"$ref": "a"}, {"$ref": "a"}, {"$ref": "a"}, {"$ref": "a"}]}},
            "$ref": "a"
        });
        assert_eq!(validator_from_json_schema(&schema), Validator::Any);
        // A chain of 30 definitions, each an object with four fields of the next.
        let mut defs = Map::new();
        for i in 0..30 {
            let next = serde_json::json!({"$ref": format!("#/$defs/d{}", i + 1)});
            defs.insert(
                format!("d{i}"),
                serde_json::json!({"type": "object", "properties": {"a": next, "b": next, "c": next, "d": next}}),
            );
        }
        let schema = serde_json::json!({"$defs": defs, "$ref": "#/$defs/d0"});
        assert!(matches!(
            validator_from_json_schema(&schema),
            Validator::Object(_)
        ));
    }
}
