//! The chat example: users and messages.
//!
//! Public function paths (a contract other test suites rely on):
//! `users:create`, `users:byToken`, `users:store`, `users:me`,
//! `users:identity`, `messages:sendAsMe`, `messages:send`, `messages:list`,
//! `messages:count`, `messages:get`, `messages:edit`, `messages:remove`,
//! `messages:page`, `messages:search`, `messages:shout` (action),
//! `messages:sendLater`, `messages:cancelScheduled`, `messages:scheduled`,
//! `messages:sendExpiring`, `messages:generateUploadUrl`,
//! `messages:sendImage`, and the internal functions `messages:wipe`,
//! `messages:deliver`, `messages:expire`, `messages:purgeExpired` (run
//! hourly by the cron job `purge expired messages`) and `messages:recent`.
//!
//! HTTP routes on the site origin: `GET /messages`, `POST /messages`,
//! `OPTIONS /messages` (CORS preflight) and `POST /upload`.

// ANCHOR: modules
use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod http;
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
    /// An attached image, in file storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Id<StorageFile>>,
}

impl TableType for Message {
    const TABLE_NAME: &'static str = "messages";
}
// ANCHOR_END: message

// ANCHOR: listed_message
/// A message as `messages:list` returns it: the document, and the URL of
/// its image when it has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListedMessage {
    /// The message.
    #[serde(flatten)]
    pub message: Doc<Message>,
    /// Where the image is served, if the message has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
}

/// A listed message reads as the message it lists (`listed.body`).
impl std::ops::Deref for ListedMessage {
    type Target = Doc<Message>;
    fn deref(&self) -> &Doc<Message> {
        &self.message
    }
}
// ANCHOR_END: listed_message

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
        .http(http::router())
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
