//! TypeScript code generation: snapshots of a fixture app covering the type
//! mapping, and a check that the chat app's files checked in under
//! `examples/chat/web/convex/_generated` are up to date (those files are the
//! chat app's snapshot; a separate insta copy of them would only duplicate
//! it).

use std::path::PathBuf;

use convex_rs::codegen::{self, CodegenError};

/// Where the chat front end's generated files are checked in.
fn chat_generated_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/chat/web/convex/_generated")
}

#[test]
fn checked_in_chat_files_are_up_to_date() -> anyhow::Result<()> {
    match codegen::check(&chat::app()?, &chat_generated_dir()) {
        Ok(()) => Ok(()),
        Err(e @ CodegenError::Stale { .. }) => anyhow::bail!(
            "{e}\nregenerate them with: \
             cargo run -p chat -- codegen --out examples/chat/web/convex/_generated"
        ),
        Err(e) => Err(e.into()),
    }
}

#[test]
fn generation_is_deterministic() -> anyhow::Result<()> {
    assert_eq!(
        codegen::generate(&chat::app()?),
        codegen::generate(&chat::app()?)
    );
    assert_eq!(
        codegen::generate(&fixture::app()?),
        codegen::generate(&fixture::app()?)
    );
    Ok(())
}

#[test]
fn fixture_app_snapshots() -> anyhow::Result<()> {
    let files = codegen::generate(&fixture::app()?);
    insta::assert_snapshot!("fixture_api_d_ts", files.api_d_ts);
    insta::assert_snapshot!("fixture_data_model_d_ts", files.data_model_d_ts);
    Ok(())
}

#[test]
fn internal_functions_are_only_under_internal() -> anyhow::Result<()> {
    let files = codegen::generate(&chat::app()?);
    let (api, internal) = files
        .api_d_ts
        .split_once("export declare const internal")
        .ok_or_else(|| anyhow::anyhow!("no internal declaration"))?;
    assert!(!api.contains("wipe"), "{api}");
    assert!(
        internal.contains("wipe: FunctionReference<\n      \"mutation\",\n      \"internal\","),
        "{internal}"
    );
    Ok(())
}

/// An app exercising the type mapping: 64-bit and smaller numbers, options,
/// enums, nested structs, maps, untyped values, pagination and nested modules.
mod fixture {
    use std::collections::BTreeMap;

    use convex_rs::prelude::*;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    pub struct Author {
        pub name: String,
    }
    impl TableType for Author {
        const TABLE_NAME: &'static str = "authors";
    }

    #[derive(Clone, Copy, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Mood {
        Happy,
        Sad,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(tag = "kind", rename_all = "camelCase")]
    pub enum Attachment {
        Link { url: String },
        Image { width: u32, height: u32 },
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Meta {
        pub edited_at: Option<f64>,
        pub version: i64,
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Note {
        pub text: String,
        pub author: Id<Author>,
        pub likes: i64,
        pub score: f64,
        pub rank: u32,
        pub tags: Vec<String>,
        pub mood: Mood,
        pub attachments: Vec<Attachment>,
        pub meta: Option<Meta>,
    }
    impl TableType for Note {
        const TABLE_NAME: &'static str = "notes";
    }

    #[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct Stats {
        pub count: u32,
        pub total_likes: i64,
        pub by_mood: BTreeMap<String, f64>,
    }

    pub mod notes {
        use super::{Attachment, Meta, Mood, Note};
        use convex_rs::prelude::*;

        #[query]
        pub async fn get(
            _ctx: &QueryCtx,
            id: Id<Note>,
        ) -> Result<Option<Doc<Note>>, FunctionError> {
            let _ = id;
            Ok(None)
        }

        #[query]
        pub async fn page(
            ctx: &QueryCtx,
            pagination_opts: PaginationOptions,
            mood: Option<Mood>,
        ) -> Result<PaginationResult<Doc<Note>>, FunctionError> {
            let _ = mood;
            Ok(ctx.db().query::<Note>().paginate(&pagination_opts).await?)
        }

        #[allow(clippy::too_many_arguments)]
        #[mutation]
        pub async fn add(
            ctx: &MutationCtx,
            text: String,
            author: Id<super::Author>,
            likes: i64,
            tags: Vec<String>,
            mood: Mood,
            attachments: Vec<Attachment>,
        ) -> Result<Id<Note>, FunctionError> {
            ctx.db()
                .insert(&Note {
                    text,
                    author,
                    likes,
                    score: 0.0,
                    rank: 0,
                    tags,
                    mood,
                    attachments,
                    meta: None,
                })
                .await
        }

        /// Returned structs are typed by what they serialize to: `Option`
        /// fields are always present (`editedAt: number | null`), unlike
        /// arguments, where they may be left out (`mood?: ...`).
        #[query]
        pub async fn latest_meta(_ctx: &QueryCtx) -> Result<Option<Meta>, FunctionError> {
            Ok(None)
        }

        #[action]
        pub async fn echo(
            _ctx: &ActionCtx,
            value: serde_json::Value,
        ) -> Result<Value, FunctionError> {
            let _ = value;
            Ok(Value::Null)
        }
    }

    pub mod admin {
        pub mod tools {
            use super::super::Stats;
            use convex_rs::prelude::*;

            #[internal_query]
            pub async fn stats(_ctx: &QueryCtx) -> Result<Stats, FunctionError> {
                Ok(Stats {
                    count: 0,
                    total_likes: 0,
                    by_mood: Default::default(),
                })
            }

            #[internal_mutation]
            pub async fn reset(_ctx: &MutationCtx, keep: Option<u32>) -> Result<(), FunctionError> {
                let _ = keep;
                Ok(())
            }
        }
    }

    pub fn app() -> Result<App, convex_rs::app::BackendError> {
        let schema = Schema::new()
            .table(TableDefinition::of::<Author>())
            .table(TableDefinition::of::<Note>().index("by_author", &["author", "likes"]))
            .table(TableDefinition::new("logs"));
        App::builder()
            .schema(schema)
            .functions_from(module_path!())
            .build()
    }
}
