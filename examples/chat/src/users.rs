//! `users:*` functions.

use convex_rs::prelude::*;
use convex_rs::query::IndexRange;

use crate::User;

// ANCHOR: create
/// Creates a user and returns its id.
#[mutation]
pub async fn create(
    ctx: &MutationCtx,
    name: String,
    token_identifier: String,
) -> Result<Id<User>, FunctionError> {
    ctx.db()
        .insert(&User {
            name,
            token_identifier,
        })
        .await
}
// ANCHOR_END: create

// ANCHOR: by_token
/// The user with this token identifier, or null.
#[query]
pub async fn by_token(
    ctx: &QueryCtx,
    token_identifier: String,
) -> Result<Option<Doc<User>>, FunctionError> {
    Ok(ctx
        .db()
        .query::<User>()
        .with_index(
            "by_token",
            IndexRange::new().eq("tokenIdentifier", token_identifier),
        )
        .first()
        .await?)
}
// ANCHOR_END: by_token
