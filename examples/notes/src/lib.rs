//! The notes example: notes with an embedding, searched by similarity (a
//! live query, and an action as in Convex) and by text.
//!
//! Public function paths (a contract other test suites rely on):
//! `notes:add {title, body, tag, embedding}`, `notes:remove {id}`,
//! `notes:similar {vector, limit, tag?}` (live), `notes:similarAction
//! {vector, limit, tag?}`, `notes:search {query, tag?}` and `notes:addText
//! {title, body, tag}` (an action that gets the embedding from the
//! OpenAI-compatible endpoint `POST {EMBEDDINGS_URL}/embeddings`, with the
//! model `EMBEDDINGS_MODEL`). `notes:embed {text}` gives the React page the
//! embedding of what is typed in its search box.
//!
//! `embeddings-standin` (a second binary) serves that endpoint on loopback
//! with a deterministic bag-of-words embedding ([`embeddings::standin`]):
//! notes that share words are similar. It stands in for a real model in
//! tests and demos.

// ANCHOR: modules
use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod embeddings;
pub mod notes;
// ANCHOR_END: modules

/// The length of every embedding (all-MiniLM-L6-v2's).
pub const DIMENSIONS: usize = 384;

// ANCHOR: note
/// A note and its embedding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Note {
    /// A short title.
    pub title: String,
    /// The text.
    pub body: String,
    /// A label to filter by.
    pub tag: String,
    /// The embedding of the note's text (384 numbers).
    pub embedding: Vec<f64>,
}

impl TableType for Note {
    const TABLE_NAME: &'static str = "notes";
}
// ANCHOR_END: note

// ANCHOR: schema
/// The notes schema: a vector index on `embedding` and a text index on
/// `body`, both filterable by `tag`.
pub fn schema() -> Schema {
    Schema::new().table(
        TableDefinition::of::<Note>()
            .vector_index(
                "by_embedding",
                VectorIndex::new("embedding", DIMENSIONS).filter_fields(&["tag"]),
            )
            .search_index(
                "search_body",
                SearchIndex::new("body").filter_fields(&["tag"]),
            ),
    )
}
// ANCHOR_END: schema

/// The notes app: its schema and every function in this crate.
pub fn app() -> Result<App, convex_rs::app::BackendError> {
    App::builder()
        .schema(schema())
        .functions_from(module_path!())
        .build()
}
