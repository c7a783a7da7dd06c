//! Test-only functions that write untyped documents, so the schema (not serde)
//! is what accepts or rejects them.

use convex_rs::prelude::*;

/// Inserts `doc` into `table`.
#[mutation]
pub async fn insert(ctx: &MutationCtx, table: String, doc: Value) -> Result<String, FunctionError> {
    Ok(ctx.db().insert_value(&table, doc).await?.to_string())
}

/// Sets `field` of the document `id` to `value`.
#[mutation]
pub async fn patch(
    ctx: &MutationCtx,
    id: String,
    field: String,
    value: Value,
) -> Result<(), FunctionError> {
    let id = DocumentId::decode(&id)?;
    ctx.db()
        .patch_document(id, Patch::new().set(&field, value))
        .await
}

/// Inserts `n` copies of `doc` into `table`.
#[mutation]
pub async fn insert_many(
    ctx: &MutationCtx,
    table: String,
    doc: Value,
    n: f64,
) -> Result<(), FunctionError> {
    for _ in 0..n as u64 {
        ctx.db().insert_value(&table, doc.clone()).await?;
    }
    Ok(())
}

/// Every document of `table`.
#[query]
pub async fn all(ctx: &QueryCtx, table: String) -> Result<Vec<Value>, FunctionError> {
    Ok(ctx
        .db()
        .query_table(&table)
        .collect()
        .await?
        .into_iter()
        .map(Document::into_value)
        .collect())
}

/// Documents of `table` whose `field` equals `value`, through `index`.
#[query]
pub async fn by_index(
    ctx: &QueryCtx,
    table: String,
    index: String,
    field: String,
    value: Value,
) -> Result<Vec<Value>, FunctionError> {
    let range = convex_rs::query::IndexRange::new().eq(&field, value);
    Ok(ctx
        .db()
        .query_table(&table)
        .with_index(&index, range)
        .collect()
        .await?
        .into_iter()
        .map(Document::into_value)
        .collect())
}

/// Inserts, patches and deletes in one transaction, reading after each step;
/// returns what each read saw: [count after insert, body after patch, count after delete].
#[mutation]
pub async fn read_own_writes(ctx: &MutationCtx, user: String) -> Result<Vec<Value>, FunctionError> {
    let db = ctx.db();
    let before = db.query_table("messages").collect().await?.len();
    let id = db
        .insert_value(
            "messages",
            Value::Object(
                [
                    ("body".to_string(), Value::from("a")),
                    ("user".to_string(), Value::from(user)),
                ]
                .into(),
            ),
        )
        .await?;
    let after_insert = db.query_table("messages").collect().await?.len();
    db.patch_document(id, Patch::new().set("body", "b")).await?;
    let by_get = db
        .get_document(id)
        .await?
        .and_then(|d| d.fields.get("body").cloned())
        .unwrap_or(Value::Null);
    let by_scan = db
        .query_table("messages")
        .filter(convex_rs::query::field("body").eq("b"))
        .first()
        .await?
        .map(|d| d.id == id)
        .unwrap_or(false);
    db.delete_document(id).await?;
    let after_delete = db.query_table("messages").collect().await?.len();
    let gone = db.get_document(id).await?.is_none();
    Ok(vec![
        Value::Float64((after_insert - before) as f64),
        by_get,
        Value::Boolean(by_scan),
        Value::Float64((after_delete - before) as f64),
        Value::Boolean(gone),
    ])
}
