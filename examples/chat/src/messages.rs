//! `messages:*` functions.

// ANCHOR: imports
use convex_rs::prelude::*;

use crate::{ListedMessage, Message, User};
// ANCHOR_END: imports

use std::time::{Duration, UNIX_EPOCH};

use convex_rs::query::IndexRange;
use convex_rs::scheduler::BY_STATE;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Expiry;

// ANCHOR: send
/// Sends a message. An empty or all-whitespace body is a `ConvexError` with
/// data `{"code": "EMPTY_BODY"}`.
#[mutation]
pub async fn send(
    ctx: &MutationCtx,
    body: String,
    user: Id<User>,
) -> Result<Id<Message>, FunctionError> {
    insert_message(ctx, body, user).await
}

/// Checks and inserts a message.
async fn insert_message(
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
    ctx.db()
        .insert(&Message {
            body,
            user,
            image: None,
        })
        .await
}
// ANCHOR_END: send

// ANCHOR: list
/// Every message, oldest first; those with an image carry its URL.
#[query]
pub async fn list(ctx: &QueryCtx) -> Result<Vec<ListedMessage>, FunctionError> {
    let messages = ctx.db().query::<Message>().collect().await?;
    with_image_urls(ctx, messages).await
}

/// Adds the URL of each message's image.
async fn with_image_urls(
    ctx: &QueryCtx,
    messages: Vec<Doc<Message>>,
) -> Result<Vec<ListedMessage>, FunctionError> {
    let mut listed = Vec::with_capacity(messages.len());
    for message in messages {
        let image_url = match message.image {
            Some(image) => ctx.storage().get_url(image).await?,
            None => None,
        };
        listed.push(ListedMessage { message, image_url });
    }
    Ok(listed)
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
/// Deletes a message, and its image from file storage.
#[mutation]
pub async fn remove(ctx: &MutationCtx, id: Id<Message>) -> Result<(), FunctionError> {
    if let Some(image) = ctx.db().get(id).await?.and_then(|message| message.image) {
        ctx.storage().delete(image).await?;
    }
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

// ANCHOR: send_as_me
/// Sends a message as the signed-in caller (their user is created on the
/// first message); `UNAUTHENTICATED` when signed out.
#[mutation]
pub async fn send_as_me(ctx: &MutationCtx, body: String) -> Result<Id<Message>, FunctionError> {
    let identity = crate::users::caller(ctx.auth())?;
    let user = crate::users::store_user(ctx, &identity).await?;
    insert_message(ctx, body, user).await
}
// ANCHOR_END: send_as_me

// ANCHOR: send_later
/// Sends a message after `delay_ms` milliseconds: schedules the internal
/// mutation `messages:deliver` and returns the scheduled call's id (cancel it
/// with `messages:cancelScheduled`).
#[mutation]
pub async fn send_later(
    ctx: &MutationCtx,
    body: String,
    user: Id<User>,
    delay_ms: f64,
) -> Result<Id<ScheduledFunction>, FunctionError> {
    if body.trim().is_empty() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "EMPTY_BODY" })).into());
    }
    let delay = Duration::from_millis(delay_ms.max(0.0) as u64);
    ctx.scheduler()
        .run_after::<deliver>(delay, DeliverArgs { body, user })
        .await
}

/// Sends a scheduled message (internal: only the scheduler calls it). The
/// user may have been deleted meanwhile; then nothing is sent.
#[internal_mutation]
pub async fn deliver(
    ctx: &MutationCtx,
    body: String,
    user: Id<User>,
) -> Result<Option<Id<Message>>, FunctionError> {
    if ctx.db().get(user).await?.is_none() {
        return Ok(None);
    }
    Ok(Some(
        ctx.db()
            .insert(&Message {
                body,
                user,
                image: None,
            })
            .await?,
    ))
}
// ANCHOR_END: send_later

// ANCHOR: cancel_scheduled
/// Cancels a message scheduled with `messages:sendLater` (nothing happens if
/// it was already sent).
#[mutation]
pub async fn cancel_scheduled(
    ctx: &MutationCtx,
    id: Id<ScheduledFunction>,
) -> Result<(), FunctionError> {
    ctx.scheduler().cancel(id).await
}
// ANCHOR_END: cancel_scheduled

// ANCHOR: scheduled
/// A scheduled message that has not been sent yet.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingSend {
    /// The scheduled call's id.
    #[serde(rename = "_id")]
    pub id: Id<ScheduledFunction>,
    /// Its state (`{kind: "pending"}`).
    pub state: JobState,
    /// When it is to be sent, in milliseconds since the Unix epoch.
    pub scheduled_time: f64,
}

/// The messages waiting to be sent, soonest first: a live query over the
/// system table `_scheduled_functions`.
#[query]
pub async fn scheduled(ctx: &QueryCtx) -> Result<Vec<PendingSend>, FunctionError> {
    let pending = IndexRange::new().eq("state.kind", "pending");
    Ok(ctx
        .db()
        .system()
        .query::<ScheduledFunction>()
        .with_index(BY_STATE, pending)
        .collect()
        .await?
        .into_iter()
        .filter(|job| job.fields.name == "messages:deliver")
        .map(|job| PendingSend {
            id: job.id,
            state: job.fields.state,
            scheduled_time: job.fields.scheduled_time,
        })
        .collect())
}
// ANCHOR_END: scheduled

// ANCHOR: send_expiring
/// Sends a message that deletes itself after `ttl_ms` milliseconds (through
/// the internal mutation `messages:expire`). The hourly cron job
/// `purge expired messages` (`messages:purgeExpired`) removes any that
/// outlived their time anyway.
#[mutation]
pub async fn send_expiring(
    ctx: &MutationCtx,
    body: String,
    user: Id<User>,
    ttl_ms: f64,
) -> Result<Id<Message>, FunctionError> {
    let id = insert_message(ctx, body, user).await?;
    let expires_at = ctx.now() + ttl_ms.max(0.0);
    ctx.db()
        .insert(&Expiry {
            message: id,
            expires_at,
        })
        .await?;
    let at = UNIX_EPOCH + Duration::from_millis(expires_at as u64);
    ctx.scheduler()
        .run_at::<expire>(at, ExpireArgs { id })
        .await?;
    Ok(id)
}

/// Deletes an expiring message and its expiry (internal).
#[internal_mutation]
pub async fn expire(ctx: &MutationCtx, id: Id<Message>) -> Result<(), FunctionError> {
    if ctx.db().get(id).await?.is_some() {
        ctx.db().delete(id).await?;
    }
    let expiries = ctx
        .db()
        .query::<Expiry>()
        .with_index("by_message", IndexRange::new().eq("message", id))
        .collect()
        .await?;
    for expiry in expiries {
        ctx.db().delete(expiry.id).await?;
    }
    Ok(())
}

/// Removes the expiring messages whose time has passed (the hourly cron
/// job's clean-up, for any whose scheduled deletion did not happen).
#[internal_mutation]
pub async fn purge_expired(ctx: &MutationCtx) -> Result<f64, FunctionError> {
    let past = IndexRange::new().lt("expiresAt", ctx.now());
    let expired = ctx
        .db()
        .query::<Expiry>()
        .with_index("by_time", past)
        .take(1_000)
        .await?;
    for expiry in &expired {
        if ctx.db().get(expiry.fields.message).await?.is_some() {
            ctx.db().delete(expiry.fields.message).await?;
        }
        ctx.db().delete(expiry.id).await?;
    }
    Ok(expired.len() as f64)
}
// ANCHOR_END: send_expiring

// ANCHOR: recent
/// The latest `limit` messages, oldest first (for `GET /messages`).
#[internal_query]
pub async fn recent(ctx: &QueryCtx, limit: f64) -> Result<Vec<ListedMessage>, FunctionError> {
    let mut latest = ctx
        .db()
        .query::<Message>()
        .order(Order::Desc)
        .take(limit.clamp(0.0, 1000.0) as usize)
        .await?;
    latest.reverse();
    with_image_urls(ctx, latest).await
}
// ANCHOR_END: recent

// ANCHOR: upload
/// A URL the browser can `POST` an image to; it answers `{"storageId"}`.
#[mutation]
pub async fn generate_upload_url(ctx: &MutationCtx) -> Result<String, FunctionError> {
    ctx.storage().generate_upload_url().await
}

/// Sends a message whose content is an uploaded image.
#[mutation]
pub async fn send_image(
    ctx: &MutationCtx,
    storage_id: Id<StorageFile>,
    user: Id<User>,
) -> Result<Id<Message>, FunctionError> {
    if ctx.storage().metadata(storage_id).await?.is_none() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "UNKNOWN_FILE" })).into());
    }
    if ctx.db().get(user).await?.is_none() {
        return Err(ConvexError::from_json(serde_json::json!({ "code": "UNKNOWN_USER" })).into());
    }
    ctx.db()
        .insert(&Message {
            body: String::new(),
            user,
            image: Some(storage_id),
        })
        .await
}
// ANCHOR_END: upload
