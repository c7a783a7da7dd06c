//! The chat example: users and messages.
//!
//! Public function paths (a contract other test suites rely on):
//! `users:create`, `users:byToken`, `users:store`, `users:me`,
//! `users:identity`, `messages:sendAsMe`, `messages:send`, `messages:list`,
//! `messages:count`, `messages:get`, `messages:edit`, `messages:remove`,
//! `messages:page`, `messages:search`, `messages:shout` (action),
//! `messages:sendLater`, `messages:cancelScheduled`, `messages:scheduled`,
//! `messages:sendExpiring`, and the internal mutations `messages:wipe`,
//! `messages:deliver`, `messages:expire` and `messages:purgeExpired` (run
//! hourly by the cron job `purge expired messages`).

// ANCHOR: modules
use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod messages;
pub mod users;
// ANCHOR_END: modules

// ANCHOR: user
/// A user of the chat.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Display name.
    pub name: String,
    /// The auth provider's stable identifier for the user.
    pub token_identifier: String,
}

impl TableType for User {
    const TABLE_NAME: &'static str = "users";
}
// ANCHOR_END: user

// ANCHOR: message
/// A chat message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Message {
    /// The text.
    pub body: String,
    /// Who sent it.
    pub user: Id<User>,
}

impl TableType for Message {
    const TABLE_NAME: &'static str = "messages";
}
// ANCHOR_END: message

// ANCHOR: expiry
/// When a message sent with `messages:sendExpiring` is to be deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expiry {
    /// The message.
    pub message: Id<Message>,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at: f64,
}

impl TableType for Expiry {
    const TABLE_NAME: &'static str = "expiries";
}
// ANCHOR_END: expiry

// ANCHOR: schema
/// The chat schema.
pub fn schema() -> Schema {
    Schema::new()
        .table(TableDefinition::of::<User>().index("by_token", &["tokenIdentifier"]))
        .table(
            TableDefinition::of::<Message>().search_index("search_body", SearchIndex::new("body")),
        )
        .table(
            TableDefinition::of::<Expiry>()
                .index("by_message", &["message"])
                .index("by_time", &["expiresAt"]),
        )
}
// ANCHOR_END: schema

// ANCHOR: app
/// The chat app: its schema and every function in this crate.
pub fn app() -> Result<App, convex_rs::app::BackendError> {
    App::builder()
        .schema(schema())
        .functions_from(module_path!())
        .crons(crons())
        .build()
}
// ANCHOR_END: app

// ANCHOR: crons
/// The chat's cron job: every hour, remove expiring messages whose time
/// has passed (those whose scheduled deletion did not happen).
pub fn crons() -> Crons {
    Crons::new().hourly::<messages::purge_expired>(
        "purge expired messages",
        0,
        messages::PurgeExpiredArgs {},
    )
}
// ANCHOR_END: crons
