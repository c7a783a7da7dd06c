//! Prints [`Validator`]s as TypeScript types.
//!
//! Function argument and return types are converted from their JSON schemas
//! to validators first (see [`validator_from_json_schema`](crate::schema::validator_from_json_schema)),
//! so tables and functions share this one printer. The mapping:
//!
//! | validator | TypeScript |
//! |---|---|
//! | any | `any` |
//! | null | `null` |
//! | int64 (`i64`) | `bigint` |
//! | float64 (`f64`, smaller integers) | `number` |
//! | boolean, string | `boolean`, `string` |
//! | bytes | `ArrayBuffer` |
//! | literal | the literal (`"a"`, `1`, `true`, `1n`) |
//! | id of table `t` | `Id<"t">` |
//! | array | `Array<T>` |
//! | object | `{ a: A; b?: B }` (an empty object is `Record<string, never>`) |
//! | record | `Record<string, T>` |
//! | union | `A \| B` (an empty union is `never`) |
//!
//! Objects with the shape of a [`Doc<T>`](crate::function::Doc) of a known
//! table print as `Doc<"table">`, and the shapes of Convex's pagination types
//! print as the official `PaginationOptions` and `PaginationResult<T>` so the
//! generated references satisfy `usePaginatedQuery`.

use std::collections::{BTreeMap, BTreeSet};

use super::pretty::Doc;
use crate::schema::{FieldValidator, ObjectValidator, Schema, Validator};
use crate::value::Value;

/// The fields of Convex's `PaginationOptions`, and whether each is required.
const PAGINATION_OPTIONS_FIELDS: [(&str, bool); 6] = [
    ("numItems", true),
    ("cursor", false),
    ("endCursor", false),
    ("id", false),
    ("maximumRowsRead", false),
    ("maximumBytesRead", false),
];

/// Names a generated file has to import, collected while printing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Imports {
    /// `Id` from the data model.
    pub(crate) id: bool,
    /// `Doc` from the data model.
    pub(crate) doc: bool,
    /// `GenericId` from `convex/values` (ids of tables outside the schema).
    pub(crate) generic_id: bool,
    /// `PaginationOptions` from `convex/server`.
    pub(crate) pagination_options: bool,
    /// `PaginationResult` from `convex/server`.
    pub(crate) pagination_result: bool,
}

/// Prints validators as TypeScript types in the context of an app's schema.
pub(crate) struct TypePrinter<'a> {
    /// User tables and their document validators.
    tables: BTreeMap<&'a str, Option<&'a Validator>>,
    /// What the printed types refer to.
    pub(crate) imports: Imports,
}

impl<'a> TypePrinter<'a> {
    /// A printer for types of `schema`'s app. System tables are left out.
    pub(crate) fn new(schema: &'a Schema) -> Self {
        let tables = schema
            .tables
            .iter()
            .filter(|t| !is_system_table(&t.name))
            .map(|t| (t.name.as_str(), t.document.as_ref()))
            .collect();
        TypePrinter {
            tables,
            imports: Imports::default(),
        }
    }

    /// The user tables, sorted by name.
    pub(crate) fn table_names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.tables.keys().copied()
    }

    /// The TypeScript type of values matching `validator`.
    pub(crate) fn ty(&mut self, validator: &Validator) -> Doc {
        match validator {
            Validator::Any => Doc::text("any"),
            Validator::Null => Doc::text("null"),
            Validator::Int64 => Doc::text("bigint"),
            Validator::Float64 => Doc::text("number"),
            Validator::Boolean => Doc::text("boolean"),
            Validator::String => Doc::text("string"),
            Validator::Bytes => Doc::text("ArrayBuffer"),
            Validator::Literal(value) => Doc::text(literal(value)),
            Validator::Id(table) => Doc::text(self.id(table)),
            Validator::Array(element) => Doc::args("Array", vec![self.ty(element)]),
            Validator::Record(values) => {
                Doc::args("Record", vec![Doc::text("string"), self.ty(values)])
            }
            Validator::Object(object) => self.object(object),
            Validator::Union(options) => self.union(options),
        }
    }

    /// `Id<"table">`, or `GenericId<"table">` for a table outside the schema.
    pub(crate) fn id(&mut self, table: &str) -> String {
        if self.tables.contains_key(table) || READABLE_SYSTEM_TABLES.contains(&table) {
            self.imports.id = true;
            format!("Id<{}>", string_literal(table))
        } else {
            self.imports.generic_id = true;
            format!("GenericId<{}>", string_literal(table))
        }
    }

    /// The type of a document of `table` whose validator is `document`:
    /// the system fields followed by the document's own fields.
    pub(crate) fn document(&mut self, table: &str, document: Option<&Validator>) -> Doc {
        match document {
            Some(Validator::Object(object)) => self.document_object(table, object),
            Some(Validator::Union(options))
                if !options.is_empty()
                    && options.iter().all(|o| matches!(o, Validator::Object(_))) =>
            {
                let options: Vec<Doc> = options
                    .iter()
                    .filter_map(Validator::as_object)
                    .map(|o| self.document_object(table, o))
                    .collect();
                join_union(options)
            }
            _ => {
                let mut members = self.system_fields(table);
                members.push(Doc::text("[key: string]: any"));
                Doc::members(members)
            }
        }
    }

    /// The field paths of `table`'s documents (for `fieldPaths` in the data
    /// model), or `None` when documents are unconstrained.
    pub(crate) fn field_paths(&self, document: Option<&Validator>) -> Option<BTreeSet<String>> {
        let mut paths = BTreeSet::from(["_creationTime".to_string(), "_id".to_string()]);
        match document {
            Some(v @ (Validator::Object(_) | Validator::Union(_))) => {
                collect_paths(v, "", &mut paths);
                Some(paths)
            }
            _ => None,
        }
    }

    fn document_object(&mut self, table: &str, object: &ObjectValidator) -> Doc {
        let mut members = self.system_fields(table);
        members.extend(
            object
                .fields
                .iter()
                .filter(|(name, _)| *name != "_id" && *name != "_creationTime")
                .map(|(name, field)| self.field(name, field)),
        );
        Doc::members(members)
    }

    fn system_fields(&mut self, table: &str) -> Vec<Doc> {
        vec![
            Doc::text(format!("_id: {}", self.id(table))),
            Doc::text("_creationTime: number"),
        ]
    }

    fn object(&mut self, object: &ObjectValidator) -> Doc {
        if is_pagination_options(object) {
            self.imports.pagination_options = true;
            return Doc::text("PaginationOptions");
        }
        if let Some(item) = pagination_result_item(object) {
            self.imports.pagination_result = true;
            return Doc::args("PaginationResult", vec![self.ty(item)]);
        }
        if let Some(table) = self.doc_table(object) {
            self.imports.doc = true;
            return Doc::text(format!("Doc<{}>", string_literal(table)));
        }
        self.object_literal(object)
    }

    /// An object literal type for `object`, never abbreviated to a named type
    /// (function arguments must be an object literal type: interfaces such as
    /// `PaginationOptions` do not satisfy `DefaultFunctionArgs`).
    pub(crate) fn object_literal(&mut self, object: &ObjectValidator) -> Doc {
        if object.fields.is_empty() {
            return Doc::text("Record<string, never>");
        }
        // System fields first, as in documents.
        let (system, user): (Vec<_>, Vec<_>) = object
            .fields
            .iter()
            .partition(|(name, _)| *name == "_id" || *name == "_creationTime");
        let members = system
            .into_iter()
            .rev()
            .chain(user)
            .map(|(name, field)| self.field(name, field))
            .collect();
        Doc::members(members)
    }

    /// The table whose `Doc` has exactly this shape, if any.
    fn doc_table(&self, object: &ObjectValidator) -> Option<&'a str> {
        let Some(FieldValidator {
            validator: Validator::Id(table),
            optional: false,
        }) = object.fields.get("_id")
        else {
            return None;
        };
        let creation_time = object.fields.get("_creationTime")?;
        if creation_time.optional || creation_time.validator != Validator::Float64 {
            return None;
        }
        let (&name, document) = self.tables.get_key_value(table.as_str())?;
        let Some(Validator::Object(document)) = document else {
            return None;
        };
        let same_fields = object.fields.len() == document.fields.len() + 2
            && document.fields.iter().all(|(field, v)| {
                object
                    .fields
                    .get(field)
                    .is_some_and(|o| same_shape(&o.validator, &v.validator))
            });
        same_fields.then_some(name)
    }

    fn field(&mut self, name: &str, field: &FieldValidator) -> Doc {
        let optional = if field.optional { "?" } else { "" };
        Doc::Concat(vec![
            Doc::text(format!("{}{optional}: ", property_name(name))),
            self.ty(&field.validator),
        ])
    }

    fn union(&mut self, options: &[Validator]) -> Doc {
        let mut flat = Vec::new();
        flatten_union(options, &mut flat);
        let mut seen = BTreeSet::new();
        let mut docs = Vec::new();
        for option in flat {
            let doc = self.ty(option);
            // Drop repeated alternatives (`T | null | null`), keeping the first.
            if seen.insert(doc.render(0)) {
                docs.push(doc);
            }
        }
        join_union(docs)
    }
}

/// Whether two validators describe the same type up to the optionality of
/// object fields. A returned value is described by what its Rust type
/// serializes to (an `Option` field is present, possibly `null`), a table's
/// documents by what it accepts (the field may be absent): both are the
/// table's `Doc`.
fn same_shape(a: &Validator, b: &Validator) -> bool {
    match (a, b) {
        (Validator::Object(a), Validator::Object(b)) => {
            a.fields.len() == b.fields.len()
                && a.fields.iter().all(|(name, fa)| {
                    b.fields
                        .get(name)
                        .is_some_and(|fb| same_shape(&fa.validator, &fb.validator))
                })
        }
        (Validator::Array(a), Validator::Array(b))
        | (Validator::Record(a), Validator::Record(b)) => same_shape(a, b),
        (Validator::Union(a), Validator::Union(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_shape(a, b))
        }
        _ => a == b,
    }
}

/// The system tables apps read (`ctx.db().system()`), whose ids and
/// documents the generated types name.
pub(crate) const READABLE_SYSTEM_TABLES: [&str; 2] = [
    crate::storage::STORAGE_TABLE,
    crate::scheduler::SCHEDULED_FUNCTIONS_TABLE,
];

/// Whether a table is a backend system table (not part of the app's API).
pub(crate) fn is_system_table(name: &str) -> bool {
    name.starts_with('_')
}

fn flatten_union<'v>(options: &'v [Validator], out: &mut Vec<&'v Validator>) {
    for option in options {
        match option {
            Validator::Union(inner) => flatten_union(inner, out),
            other => out.push(other),
        }
    }
}

fn join_union(mut docs: Vec<Doc>) -> Doc {
    match docs.len() {
        0 => Doc::text("never"),
        1 => docs.remove(0),
        _ => Doc::Union(docs),
    }
}

/// Whether the object has the shape of Convex's `PaginationOptions`.
fn is_pagination_options(object: &ObjectValidator) -> bool {
    let known = |name: &str| PAGINATION_OPTIONS_FIELDS.iter().any(|(f, _)| *f == name);
    if !object.fields.keys().all(|name| known(name)) {
        return false;
    }
    let num_items = object.fields.get("numItems");
    let cursor = object.fields.get("cursor");
    matches!(num_items, Some(f) if !f.optional && f.validator == Validator::Float64)
        && matches!(cursor, Some(f) if is_nullable_string(&f.validator))
}

/// The item validator if the object has the shape of Convex's `PaginationResult<T>`.
fn pagination_result_item(object: &ObjectValidator) -> Option<&Validator> {
    let required = |name: &str| object.fields.get(name).filter(|f| !f.optional);
    let Validator::Array(item) = &required("page")?.validator else {
        return None;
    };
    let shape_ok = required("isDone")?.validator == Validator::Boolean
        && required("continueCursor")?.validator == Validator::String
        && object
            .fields
            .iter()
            .all(|(name, field)| match name.as_str() {
                "page" | "isDone" | "continueCursor" => true,
                "splitCursor" => field.optional && is_nullable_string(&field.validator),
                "pageStatus" => field.optional && is_nullable_page_status(&field.validator),
                _ => false,
            });
    shape_ok.then_some(&**item)
}

fn is_nullable_string(validator: &Validator) -> bool {
    match validator {
        Validator::String | Validator::Null => true,
        Validator::Union(options) => options.iter().all(is_nullable_string),
        _ => false,
    }
}

fn is_nullable_page_status(validator: &Validator) -> bool {
    match validator {
        Validator::String | Validator::Null => true,
        Validator::Literal(Value::String(s)) => s == "SplitRecommended" || s == "SplitRequired",
        Validator::Union(options) => options.iter().all(is_nullable_page_status),
        _ => false,
    }
}

/// Collects the dotted paths of an object's fields, recursing into nested objects.
fn collect_paths(validator: &Validator, prefix: &str, out: &mut BTreeSet<String>) {
    match validator {
        Validator::Object(object) => {
            for (name, field) in &object.fields {
                let path = format!("{prefix}{name}");
                collect_paths(&field.validator, &format!("{path}."), out);
                out.insert(path);
            }
        }
        Validator::Union(options) => {
            for option in options {
                collect_paths(option, prefix, out);
            }
        }
        _ => {}
    }
}

/// A property name: bare when it is an identifier, quoted otherwise.
pub(crate) fn property_name(name: &str) -> String {
    let mut chars = name.chars();
    let identifier = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        name.to_string()
    } else {
        string_literal(name)
    }
}

/// A double-quoted string literal.
pub(crate) fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Line terminators and other control characters are escaped so the
            // literal stays on one line whatever the input.
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The literal type of a value.
fn literal(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Int64(i) => format!("{i}n"),
        Value::Float64(f) if f.is_finite() => {
            if *f == 0.0 {
                "0".into()
            } else {
                // Rust prints floats without exponents, which is valid TypeScript.
                format!("{f}")
            }
        }
        Value::Float64(_) => "number".into(),
        Value::Boolean(b) => b.to_string(),
        Value::String(s) => string_literal(s),
        Value::Bytes(_) => "ArrayBuffer".into(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(fields) if fields.is_empty() => "Record<string, never>".into(),
        Value::Object(fields) => {
            let fields: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{}: {}", property_name(k), literal(v)))
                .collect();
            format!("{{ {} }}", fields.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::schema::validator_from_json_schema;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::function::Doc as DocOf;
    use crate::query::{PaginationOptions, PaginationResult};
    use crate::schema::{TableDefinition, v};
    use crate::value::{Id, TableType};

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct User {
        name: String,
    }
    impl TableType for User {
        const TABLE_NAME: &'static str = "users";
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    struct Message {
        body: String,
        user: Id<User>,
    }
    impl TableType for Message {
        const TABLE_NAME: &'static str = "messages";
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    enum Mood {
        Happy,
        Sad,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    enum Shape {
        Circle { radius: f64 },
        Square { side: f64 },
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    enum Event {
        Joined,
        Said(String),
        Moved { x: i32, y: i32 },
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Inner {
        flag: bool,
        #[serde(rename = "weird-name")]
        weird: u8,
    }

    #[derive(Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    struct Outer {
        inner: Inner,
        inners: Vec<Inner>,
        by_name: BTreeMap<String, u32>,
    }

    fn schema() -> Schema {
        Schema::new()
            .table(TableDefinition::of::<User>())
            .table(TableDefinition::of::<Message>())
            .table(TableDefinition::new("_system"))
    }

    fn ts<T: JsonSchema>() -> String {
        let schema = schema();
        let mut printer = TypePrinter::new(&schema);
        let json = crate::__private::schema_for::<T>();
        printer
            .ty(&validator_from_json_schema(json.as_value()))
            .render(0)
    }

    #[test]
    fn numbers() {
        assert_eq!(ts::<i64>(), "bigint");
        assert_eq!(ts::<f64>(), "number");
        assert_eq!(ts::<f32>(), "number");
        assert_eq!(ts::<i32>(), "number");
        assert_eq!(ts::<u32>(), "number");
        assert_eq!(ts::<u8>(), "number");
    }

    #[test]
    fn scalars() {
        assert_eq!(ts::<String>(), "string");
        assert_eq!(ts::<bool>(), "boolean");
        assert_eq!(ts::<()>(), "null");
        assert_eq!(ts::<serde_json::Value>(), "any");
        assert_eq!(ts::<Value>(), "any");
        assert_eq!(ts::<Option<String>>(), "string | null");
        assert_eq!(ts::<Option<Option<String>>>(), "string | null");
    }

    #[test]
    fn collections() {
        assert_eq!(ts::<Vec<String>>(), "Array<string>");
        assert_eq!(ts::<Vec<Option<i64>>>(), "Array<bigint | null>");
        assert_eq!(ts::<BTreeMap<String, f64>>(), "Record<string, number>");
    }

    #[test]
    fn ids() {
        assert_eq!(ts::<Id<Message>>(), r#"Id<"messages">"#);
        assert_eq!(ts::<Vec<Id<User>>>(), r#"Array<Id<"users">>"#);
        let schema = schema();
        let mut printer = TypePrinter::new(&schema);
        assert_eq!(
            printer.ty(&Validator::Id("elsewhere".into())).render(0),
            r#"GenericId<"elsewhere">"#
        );
        assert!(printer.imports.generic_id && !printer.imports.id);
    }

    #[test]
    fn option_fields_are_optional_and_nullable() {
        #[derive(JsonSchema)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct Args {
            edited_at: Option<f64>,
            name: String,
        }
        assert_eq!(ts::<Args>(), "{ editedAt?: number | null; name: string }");
    }

    #[test]
    fn enums() {
        assert_eq!(ts::<Mood>(), r#""Happy" | "Sad""#);
        assert_eq!(
            ts::<Shape>(),
            r#"{ kind: "circle"; radius: number } | { kind: "square"; side: number }"#
        );
        assert_eq!(
            ts::<Event>(),
            r#""joined" | { said: string } | { moved: { x: number; y: number } }"#
        );
    }

    #[test]
    fn nested_structs() {
        assert_eq!(
            ts::<Outer>(),
            "{\n  byName: Record<string, number>;\n  inner: { flag: boolean; \"weird-name\": number };\n  \
             inners: Array<{ flag: boolean; \"weird-name\": number }>;\n}"
        );
    }

    #[test]
    fn empty_objects() {
        #[derive(JsonSchema)]
        #[serde(deny_unknown_fields)]
        struct Nothing {}
        assert_eq!(ts::<Nothing>(), "Record<string, never>");
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Holder {
            nothing: Nothing,
        }
        assert_eq!(ts::<Holder>(), "{ nothing: Record<string, never> }");
    }

    #[test]
    fn docs_of_known_tables() {
        assert_eq!(ts::<DocOf<Message>>(), r#"Doc<"messages">"#);
        assert_eq!(ts::<Vec<DocOf<User>>>(), r#"Array<Doc<"users">>"#);
        assert_eq!(ts::<Option<DocOf<User>>>(), r#"Doc<"users"> | null"#);
    }

    #[test]
    fn docs_of_unknown_shapes_are_spelled_out() {
        #[derive(JsonSchema)]
        #[allow(dead_code)]
        struct Partial {
            #[serde(rename = "_id")]
            id: Id<Message>,
            #[serde(rename = "_creationTime")]
            creation_time: f64,
            body: String,
        }
        assert_eq!(
            ts::<Partial>(),
            r#"{ _id: Id<"messages">; _creationTime: number; body: string }"#
        );
    }

    #[test]
    fn documents_include_system_fields() {
        let schema = schema();
        let mut printer = TypePrinter::new(&schema);
        let message = schema.get("messages").and_then(|t| t.document.as_ref());
        assert_eq!(
            printer.document("messages", message).render(0),
            r#"{ _id: Id<"messages">; _creationTime: number; body: string; user: Id<"users"> }"#
        );
        assert_eq!(
            printer.document("logs", None).render(0),
            r#"{ _id: GenericId<"logs">; _creationTime: number; [key: string]: any }"#
        );
        let union = v::union([
            v::object([("a", v::string())]),
            v::object([("b", v::int64())]),
        ]);
        assert_eq!(
            printer.document("users", Some(&union)).render(0),
            "| { _id: Id<\"users\">; _creationTime: number; a: string }\n\
             | { _id: Id<\"users\">; _creationTime: number; b: bigint }",
            "a union that does not fit has one member per line"
        );
        let paths = printer
            .field_paths(message)
            .map(|p| p.into_iter().collect::<Vec<_>>());
        assert_eq!(
            paths,
            Some(vec![
                "_creationTime".into(),
                "_id".into(),
                "body".into(),
                "user".into()
            ])
        );
    }

    #[test]
    fn field_paths_of_nested_objects() {
        let schema = schema();
        let printer = TypePrinter::new(&schema);
        let json = crate::__private::schema_for::<Outer>();
        let validator = validator_from_json_schema(json.as_value());
        let paths: Vec<String> = printer
            .field_paths(Some(&validator))
            .map(|p| p.into_iter().collect())
            .unwrap_or_default();
        assert_eq!(
            paths,
            [
                "_creationTime",
                "_id",
                "byName",
                "inner",
                "inner.flag",
                "inner.weird-name",
                "inners"
            ]
        );
        assert_eq!(printer.field_paths(None), None);
    }

    #[test]
    fn pagination_types_are_the_official_ones() {
        assert_eq!(ts::<PaginationOptions>(), "PaginationOptions");
        assert_eq!(
            ts::<PaginationResult<DocOf<Message>>>(),
            r#"PaginationResult<Doc<"messages">>"#
        );
        assert_eq!(ts::<PaginationResult<i64>>(), "PaginationResult<bigint>");
        #[derive(JsonSchema)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct NotAPage {
            page: Vec<i64>,
            is_done: bool,
        }
        assert_eq!(ts::<NotAPage>(), "{ isDone: boolean; page: Array<bigint> }");
    }

    #[test]
    fn object_literals_are_never_abbreviated() {
        let schema = schema();
        let mut printer = TypePrinter::new(&schema);
        let json = crate::__private::schema_for::<PaginationOptions>();
        let Validator::Object(object) = validator_from_json_schema(json.as_value()) else {
            panic!("an object")
        };
        let printed = printer.object_literal(&object).render(0);
        assert!(
            printed.starts_with("{\n  cursor?: string | null;\n"),
            "{printed}"
        );
        assert!(!printer.imports.pagination_options);
    }

    #[test]
    fn literals() {
        let schema = schema();
        let mut printer = TypePrinter::new(&schema);
        let mut lit = |v: Value| printer.ty(&Validator::Literal(v)).render(0);
        assert_eq!(lit(Value::Int64(-3)), "-3n");
        assert_eq!(lit(Value::Float64(2.0)), "2");
        assert_eq!(lit(Value::Float64(-0.0)), "0");
        assert_eq!(lit(Value::Float64(0.5)), "0.5");
        assert_eq!(lit(Value::Float64(f64::NAN)), "number");
        assert_eq!(lit(Value::Boolean(true)), "true");
        assert_eq!(lit("a\"b\n\u{2028}".into()), r#""a\"b\n\u{2028}""#);
        assert_eq!(printer.ty(&Validator::Union(Vec::new())).render(0), "never");
        assert_eq!(printer.ty(&Validator::Bytes).render(0), "ArrayBuffer");
    }

    #[test]
    fn property_names() {
        assert_eq!(property_name("body"), "body");
        assert_eq!(property_name("_id"), "_id");
        assert_eq!(property_name("$x1"), "$x1");
        assert_eq!(property_name("a-b"), r#""a-b""#);
        assert_eq!(property_name("1a"), r#""1a""#);
        assert_eq!(property_name(""), r#""""#);
    }

    #[test]
    fn system_tables_are_skipped() {
        let schema = schema();
        let printer = TypePrinter::new(&schema);
        assert_eq!(
            printer.table_names().collect::<Vec<_>>(),
            ["messages", "users"]
        );
    }
}
