//! `users:*` functions.

use convex_rs::function::UserIdentity;
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

// ANCHOR: auth
/// The caller's identity, or the `UNAUTHENTICATED` error clients can match on.
pub(crate) fn caller(auth: &Identity) -> Result<UserIdentity, FunctionError> {
    auth.user_identity().ok_or_else(|| {
        ConvexError::from_json(serde_json::json!({ "code": "UNAUTHENTICATED" })).into()
    })
}

/// The user whose token identifier is `token_identifier`, if any.
async fn find(
    db: &convex_rs::function::DatabaseReader<'_>,
    token_identifier: &str,
) -> Result<Option<Doc<User>>, FunctionError> {
    Ok(db
        .query::<User>()
        .with_index(
            "by_token",
            IndexRange::new().eq("tokenIdentifier", token_identifier),
        )
        .first()
        .await?)
}

/// The signed-in caller's user: created on the first call (named after the
/// identity's name, else "Anonymous"), returned as it is afterwards.
#[mutation]
pub async fn store(ctx: &MutationCtx) -> Result<Id<User>, FunctionError> {
    let identity = caller(ctx.auth())?;
    store_user(ctx, &identity).await
}

/// Gets or creates the user of `identity`.
pub(crate) async fn store_user(
    ctx: &MutationCtx,
    identity: &UserIdentity,
) -> Result<Id<User>, FunctionError> {
    if let Some(user) = find(&ctx.db(), &identity.token_identifier).await? {
        return Ok(user.id);
    }
    let name = identity.name.clone().unwrap_or_else(|| "Anonymous".into());
    ctx.db()
        .insert(&User {
            name,
            token_identifier: identity.token_identifier.clone(),
        })
        .await
}

/// The signed-in caller's user, or null (signed out, or not stored yet).
#[query]
pub async fn me(ctx: &QueryCtx) -> Result<Option<Doc<User>>, FunctionError> {
    match ctx.auth().user() {
        Some(identity) => find(&ctx.db(), &identity.token_identifier).await,
        None => Ok(None),
    }
}

/// The caller's identity as Convex's `ctx.auth.getUserIdentity()` returns
/// it (`tokenIdentifier`, `subject`, `issuer`, `name`, `email`, ... and any
/// custom claims), or null when signed out.
#[query]
pub async fn identity(ctx: &QueryCtx) -> Result<Option<Value>, FunctionError> {
    Ok(ctx.auth().user().map(UserIdentity::to_value))
}
// ANCHOR_END: auth
