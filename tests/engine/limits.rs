use serde_json::{Value as Json, json};

use crate::common::{self, user};

async fn insert_error(t: &convex_rs::prelude::TestBackend, doc: Json) -> String {
    t.mutation_path::<String>("raw:insert", json!({ "table": "notes", "doc": doc }))
        .await
        .expect_err("the insert must fail")
        .message
}

async fn notes() -> anyhow::Result<convex_rs::prelude::TestBackend> {
    use convex_rs::prelude::*;
    let app = App::builder()
        .schema(Schema::new().table(TableDefinition::new("notes")))
        .register::<crate::raw::insert>()
        .register::<crate::raw::insert_many>()
        .register::<crate::raw::all>()
        .build()?;
    Ok(TestBackend::new(app).await?)
}

#[tokio::test]
async fn document_limits_are_enforced_with_clear_errors() -> anyhow::Result<()> {
    let t = notes().await?;
    let big = "x".repeat(1_100_000);
    let e = insert_error(&t, json!({ "text": big })).await;
    assert!(e.contains("1048576"), "{e}");
    let mut deep = json!(1.0);
    for _ in 0..17 {
        deep = json!({ "a": deep });
    }
    let e = insert_error(&t, json!({ "deep": deep })).await;
    assert!(
        e.contains("nested too deeply") && e.contains("limit of 16 levels"),
        "{e}"
    );
    let e = insert_error(&t, json!({ "list": vec![1.0; 8193] })).await;
    assert!(e.contains("8192"), "{e}");
    let e = insert_error(&t, json!({ "_secret": 1.0 })).await;
    assert!(e.contains("_secret"), "{e}");
    // `$`-prefixed names and control characters are rejected when the arguments are checked.
    let e = insert_error(&t, json!({ "a\u{1}b": 1.0 })).await;
    assert!(
        e.contains("invalid field name") && e.contains("printable ASCII"),
        "{e}"
    );
    let e = insert_error(&t, json!({ "$x": 1.0 })).await;
    assert!(
        e.contains("invalid field name \"$x\"") && e.contains("must not start with `$`"),
        "{e}"
    );
    let many: serde_json::Map<String, Json> =
        (0..1025).map(|i| (format!("f{i}"), json!(1.0))).collect();
    let e = insert_error(&t, Json::Object(many)).await;
    assert!(e.contains("1024"), "{e}");
    // Nothing was written.
    assert_eq!(
        t.query_path::<Vec<Json>>("raw:all", json!({ "table": "notes" }))
            .await?
            .len(),
        0
    );
    Ok(())
}

#[tokio::test]
async fn oversized_arguments_are_rejected() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let body = "y".repeat(17 << 20);
    let err = t
        .mutation_path::<String>("messages:send", json!({ "body": body, "user": u }))
        .await
        .unwrap_err();
    assert!(err.message.contains("16777216"), "{err}");
    Ok(())
}

#[tokio::test]
async fn transaction_write_and_read_limits() -> anyhow::Result<()> {
    let t = notes().await?;
    let err = t
        .mutation_path::<Json>(
            "raw:insertMany",
            json!({ "table": "notes", "doc": { "n": 1.0 }, "n": 16_001.0 }),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("16000 documents"), "{err}");
    for _ in 0..3 {
        t.mutation_path::<Json>(
            "raw:insertMany",
            json!({ "table": "notes", "doc": { "n": 1.0 }, "n": 11_000.0 }),
        )
        .await?;
    }
    let err = t
        .query_path::<Vec<Json>>("raw:all", json!({ "table": "notes" }))
        .await
        .unwrap_err();
    assert!(err.message.contains("32000 documents"), "{err}");
    Ok(())
}

mod long_names {
    use convex_rs::prelude::*;

    /// Its camelCase name is longer than the 64 characters a function name
    /// may have, so no client could call it.
    #[query]
    pub async fn a_query_whose_name_is_far_too_long_to_be_called_by_any_client_of_this_backend_at_all_ever(
        _ctx: &QueryCtx,
    ) -> Result<f64, FunctionError> {
        Ok(0.0)
    }
}

#[test]
fn a_function_clients_could_not_call_is_refused_when_the_app_is_built() {
    let err = convex_rs::prelude::App::builder()
        .register::<long_names::a_query_whose_name_is_far_too_long_to_be_called_by_any_client_of_this_backend_at_all_ever>()
        .build()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, convex_rs::app::BackendError::InvalidPath { .. }),
        "{message}"
    );
    assert!(
        message.contains("aQueryWhoseNameIsFarTooLong") && message.contains("identifier"),
        "{message}"
    );
}
