//! `notes:*` functions.

// ANCHOR: imports
use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Note;
use crate::embeddings::Endpoint;
// ANCHOR_END: imports

// ANCHOR: add
/// Adds a note with its embedding (384 numbers) and returns its id.
#[mutation]
pub async fn add(
    ctx: &MutationCtx,
    title: String,
    body: String,
    tag: String,
    embedding: Vec<f64>,
) -> Result<Id<Note>, FunctionError> {
    ctx.db()
        .insert(&Note {
            title,
            body,
            tag,
            embedding,
        })
        .await
}
// ANCHOR_END: add

/// Deletes a note.
#[mutation]
pub async fn remove(ctx: &MutationCtx, id: Id<Note>) -> Result<(), FunctionError> {
    ctx.db().delete(id).await
}

// ANCHOR: similar-note
/// A note found by similarity: its id, score, title and tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SimilarNote {
    /// The note.
    #[serde(rename = "_id")]
    pub id: Id<Note>,
    /// Its cosine similarity to the searched vector, in `[-1, 1]`.
    #[serde(rename = "_score")]
    pub score: f64,
    /// Its title.
    pub title: String,
    /// Its tag.
    pub tag: String,
}
// ANCHOR_END: similar-note

/// `limit` as a result count: a whole number from 1 to 256.
fn result_count(limit: f64) -> Result<usize, FunctionError> {
    if limit.fract() == 0.0 && (1.0..=256.0).contains(&limit) {
        Ok(limit as usize)
    } else {
        Err(FunctionError::message(format!(
            "limit must be a whole number from 1 to 256, got {limit}"
        )))
    }
}

/// The vector search of `vector` for `limit` results, within `tag` if given.
fn query(vector: Vec<f64>, limit: f64, tag: Option<String>) -> Result<VectorQuery, FunctionError> {
    let query = VectorQuery::new(vector).limit(result_count(limit)?);
    Ok(match tag {
        Some(tag) => query.filter(|f| f.eq("tag", tag)),
        None => query,
    })
}

// ANCHOR: similar
/// The `limit` notes most similar to `vector`, within `tag` if given. A live
/// query: subscribers get a new result when a note is added that could
/// enter it, or one in it changes or is removed, and only then.
#[query]
pub async fn similar(
    ctx: &QueryCtx,
    vector: Vec<f64>,
    limit: f64,
    tag: Option<String>,
) -> Result<Vec<SimilarNote>, FunctionError> {
    let found = ctx
        .db()
        .query::<Note>()
        .with_vector_index("by_embedding", query(vector, limit, tag)?)
        .collect()
        .await?;
    Ok(found
        .into_iter()
        .map(|s| SimilarNote {
            id: s.doc.id,
            score: s.score,
            title: s.doc.fields.title.clone(),
            tag: s.doc.fields.tag.clone(),
        })
        .collect())
}
// ANCHOR_END: similar

// ANCHOR: similar-action
/// The same search from an action, as Convex offers it: ids and scores at
/// the latest snapshot.
#[action]
pub async fn similar_action(
    ctx: &ActionCtx,
    vector: Vec<f64>,
    limit: f64,
    tag: Option<String>,
) -> Result<Vec<VectorResult<Note>>, FunctionError> {
    ctx.vector_search::<Note>("by_embedding", query(vector, limit, tag)?)
        .await
}
// ANCHOR_END: similar-action

/// The notes whose body best matches `query` (at most 20), most relevant
/// first, within `tag` if given.
#[query]
pub async fn search(
    ctx: &QueryCtx,
    query: String,
    tag: Option<String>,
) -> Result<Vec<Doc<Note>>, FunctionError> {
    Ok(ctx
        .db()
        .query::<Note>()
        .with_search_index("search_body", |q| {
            let q = q.search("body", query);
            match tag {
                Some(tag) => q.eq("tag", tag),
                None => q,
            }
        })
        .take(20)
        .await?)
}

// ANCHOR: add-text
/// Adds a note, getting its embedding from the endpoint named by
/// `EMBEDDINGS_URL` (model `EMBEDDINGS_MODEL`).
#[action]
pub async fn add_text(
    ctx: &ActionCtx,
    title: String,
    body: String,
    tag: String,
) -> Result<Id<Note>, FunctionError> {
    let embedding = Endpoint::from_env()?
        .embed(&format!("{title}\n{body}"))
        .await?;
    ctx.run_mutation::<add>(AddArgs {
        title,
        body,
        tag,
        embedding,
    })
    .await
}
// ANCHOR_END: add-text

/// The embedding of `text` from the endpoint named by `EMBEDDINGS_URL`, for
/// a search box.
#[action]
pub async fn embed(_ctx: &ActionCtx, text: String) -> Result<Vec<f64>, FunctionError> {
    Ok(Endpoint::from_env()?.embed(&text).await?)
}
