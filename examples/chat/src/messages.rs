//! `messages:*` functions.

// ANCHOR: imports
use convex_rs::prelude::*;

use crate::{Message, User};
// ANCHOR_END: imports

// ANCHOR: send
/// Sends a message. An empty or all-whitespace body is a `ConvexError` with
/// data `{"code": "EMPTY_BODY"}`.
#[mutation]
pub async fn send(
    ctx: &MutationCtx,
    body: String,
    user: Id<User>,
) -> Result<Id<Message>, FunctionError> {
    if body.trim().is_empty() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "EMPTY_BODY" })).into());
    }
    if ctx.db().get(user).await?.is_none() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "UNKNOWN_USER" })).into());
    }
    ctx.db().insert(&Message { body, user }).await
}
// ANCHOR_END: send

// ANCHOR: list
/// Every message, oldest first.
#[query]
pub async fn list(ctx: &QueryCtx) -> Result<Vec<Doc<Message>>, FunctionError> {
    Ok(ctx.db().query::<Message>().collect().await?)
}
// ANCHOR_END: list

// ANCHOR: count
/// How many messages there are.
#[query]
pub async fn count(ctx: &QueryCtx) -> Result<f64, FunctionError> {
    Ok(ctx.db().query::<Message>().collect().await?.len() as f64)
}
// ANCHOR_END: count

// ANCHOR: get
/// One message, or null.
#[query]
pub async fn get(ctx: &QueryCtx, id: Id<Message>) -> Result<Option<Doc<Message>>, FunctionError> {
    ctx.db().get(id).await
}
// ANCHOR_END: get

// ANCHOR: edit
/// Replaces a message's body.
#[mutation]
pub async fn edit(ctx: &MutationCtx, id: Id<Message>, body: String) -> Result<(), FunctionError> {
    if body.trim().is_empty() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "EMPTY_BODY" })).into());
    }
    ctx.db().patch(id, Patch::new().set("body", body)).await
}
// ANCHOR_END: edit

// ANCHOR: remove
/// Deletes a message.
#[mutation]
pub async fn remove(ctx: &MutationCtx, id: Id<Message>) -> Result<(), FunctionError> {
    ctx.db().delete(id).await
}
// ANCHOR_END: remove

// ANCHOR: page
/// A page of messages, newest first.
#[query]
pub async fn page(
    ctx: &QueryCtx,
    pagination_opts: PaginationOptions,
) -> Result<PaginationResult<Doc<Message>>, FunctionError> {
    Ok(ctx
        .db()
        .query::<Message>()
        .order(Order::Desc)
        .paginate(&pagination_opts)
        .await?)
}
// ANCHOR_END: page

// ANCHOR: search
/// The messages whose body best matches `query` (at most 20), most relevant
/// first. Every word counts; the last one also matches as a prefix, so the
/// results follow the user's typing. A live query: it is re-run only when a
/// message containing one of the words is sent, edited or removed.
#[query]
pub async fn search(ctx: &QueryCtx, query: String) -> Result<Vec<Doc<Message>>, FunctionError> {
    Ok(ctx
        .db()
        .query::<Message>()
        .with_search_index("search_body", |q| q.search("body", query))
        .take(20)
        .await?)
}
// ANCHOR_END: search

// ANCHOR: shout
/// Reads a message, stores its body upper-cased, and returns the new body.
#[action]
pub async fn shout(ctx: &ActionCtx, id: Id<Message>) -> Result<String, FunctionError> {
    let Some(message) = ctx.run_query::<get>(GetArgs { id }).await? else {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "NOT_FOUND" })).into());
    };
    let loud = message.body.to_uppercase();
    ctx.run_mutation::<edit>(EditArgs {
        id,
        body: loud.clone(),
    })
    .await?;
    Ok(loud)
}
// ANCHOR_END: shout

// ANCHOR: wipe
/// Deletes every message (internal: not callable by clients).
#[internal_mutation]
pub async fn wipe(ctx: &MutationCtx) -> Result<(), FunctionError> {
    for message in ctx.db().query::<Message>().collect().await? {
        ctx.db().delete(message.id).await?;
    }
    Ok(())
}
// ANCHOR_END: wipe
