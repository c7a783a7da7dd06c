use convex_rs::prelude::*;
use serde_json::json;

/// A fresh chat backend on a temporary database.
pub async fn chat() -> anyhow::Result<TestBackend> {
    Ok(TestBackend::new(chat::app()?).await?)
}

/// A fresh bank backend on a temporary database.
pub async fn bank() -> anyhow::Result<TestBackend> {
    Ok(TestBackend::new(bank::app()?).await?)
}

/// Creates a chat user and returns its id string.
pub async fn user(t: &TestBackend, name: &str) -> anyhow::Result<String> {
    Ok(t.mutation_path(
        "users:create",
        json!({ "name": name, "tokenIdentifier": format!("tok|{name}") }),
    )
    .await?)
}

/// Sends a message and returns its id string.
pub async fn send(t: &TestBackend, user: &str, body: &str) -> anyhow::Result<String> {
    Ok(
        t.mutation_path("messages:send", json!({ "body": body, "user": user }))
            .await?,
    )
}

/// The chat app plus the test-only `raw:*` functions.
pub async fn chat_with_raw() -> anyhow::Result<TestBackend> {
    let app = App::builder()
        .schema(chat::schema())
        .functions_from("chat")
        .register::<crate::raw::insert>()
        .register::<crate::raw::patch>()
        .register::<crate::raw::insert_many>()
        .register::<crate::raw::all>()
        .register::<crate::raw::by_index>()
        .register::<crate::raw::read_own_writes>()
        .build()?;
    Ok(TestBackend::new(app).await?)
}
