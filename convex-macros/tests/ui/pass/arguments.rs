//! The generated argument structs: fields, names, serde behaviour and JSON
//! schemas.
#![deny(warnings)]

use convex_rs::function::FunctionInfo;
use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A custom argument type.
#[derive(Serialize, Deserialize, JsonSchema, Debug, Clone, PartialEq)]
pub struct Filter {
    /// Only this author.
    pub author: Option<String>,
}

/// Lists messages.
#[query]
pub async fn list_messages(
    ctx: &QueryCtx,
    channel_name: String,
    mut limit: Option<u32>,
    filter: Filter,
) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    limit = limit.or(Some(10));
    Ok(vec![format!("{channel_name} {limit:?} {filter:?}")])
}

/// Takes nothing.
#[query]
pub async fn list(ctx: &QueryCtx) -> Result<Vec<String>, FunctionError> {
    let _ = ctx;
    Ok(Vec::new())
}

/// A keyword as a name.
#[mutation]
pub async fn r#type(ctx: &MutationCtx, r#for: String) -> Result<String, FunctionError> {
    let _ = ctx;
    Ok(r#for)
}

/// Exported under another name.
#[action(name = "sendEmail")]
pub async fn mail(ctx: &ActionCtx, to: String) -> Result<(), FunctionError> {
    let _ = (ctx, to);
    Ok(())
}

/// Leading underscores are kept.
#[internal_query]
pub async fn _hidden_thing(ctx: &QueryCtx) -> Result<(), FunctionError> {
    let _ = ctx;
    Ok(())
}

fn main() {
    let args = ListMessagesArgs {
        channel_name: "general".to_owned(),
        limit: Some(3),
        filter: Filter { author: None },
    };
    let copy = args.clone();
    assert_eq!(copy.channel_name, "general");
    assert!(format!("{args:?}").contains("general"));

    // The argument object's schema uses camelCase keys and rejects unknown ones.
    let schema = (list_messages::ENTRY.args_schema)();
    let json = schema.as_value();
    let properties = json["properties"].as_object().expect("properties");
    let mut keys: Vec<&str> = properties.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["channelName", "filter", "limit"]);
    assert_eq!(json["additionalProperties"], false);

    // The output schema is the `T` of `Result<T, E>`.
    let returns = (list_messages::ENTRY.returns_schema)();
    assert_eq!(returns.as_value()["type"], "array");
    let _: fn() -> <list_messages as FunctionInfo>::Output = Vec::<String>::new;

    // No arguments: an empty struct, and an empty object schema.
    let _empty: <list as FunctionInfo>::Args = ListArgs {};
    let schema = (list::ENTRY.args_schema)();
    assert_eq!(schema.as_value()["additionalProperties"], false);

    // Raw identifiers lose their `r#`.
    assert_eq!(r#type::ENTRY.name, "type");
    let _ = TypeArgs {
        r#for: String::new(),
    };
    let schema = (r#type::ENTRY.args_schema)();
    assert!(schema.as_value()["properties"].get("for").is_some());

    assert_eq!(mail::ENTRY.name, "sendEmail");
    let _ = MailArgs { to: String::new() };

    assert_eq!(_hidden_thing::ENTRY.name, "_hiddenThing");
    let _ = _HiddenThingArgs {};
}
