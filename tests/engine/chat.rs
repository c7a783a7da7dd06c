use chat::messages::{self, ListArgs, SendArgs};
use chat::users::{self, CreateArgs};
use convex_rs::function::FailureKind;
use convex_rs::prelude::*;
use serde_json::{Value as Json, json};

use crate::common::{self, send, user};

#[tokio::test]
async fn users_create_and_by_token() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let id = t
        .mutation::<users::create>(CreateArgs {
            name: "Ada".into(),
            token_identifier: "x|1".into(),
        })
        .await?;
    let found: Json = t
        .query_path("users:byToken", json!({ "tokenIdentifier": "x|1" }))
        .await?;
    assert_eq!(found["_id"], json!(id.to_string()));
    assert_eq!(found["name"], json!("Ada"));
    assert!(found["_creationTime"].as_f64().unwrap() > 1.6e12);
    let missing: Json = t
        .query_path("users:byToken", json!({ "tokenIdentifier": "nobody" }))
        .await?;
    assert_eq!(missing, Json::Null);
    Ok(())
}

#[tokio::test]
async fn send_list_count_get_edit_remove() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let a = send(&t, &u, "first").await?;
    let b = send(&t, &u, "second").await?;
    let list: Vec<Json> = t.query_path("messages:list", json!({})).await?;
    let bodies: Vec<&str> = list.iter().map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["first", "second"], "oldest first");
    assert_eq!(list[0]["user"], json!(u));
    assert_eq!(t.query_path::<f64>("messages:count", json!({})).await?, 2.0);
    let got: Json = t.query_path("messages:get", json!({ "id": a })).await?;
    assert_eq!(got["body"], "first");
    let edited: Json = t
        .mutation_path("messages:edit", json!({ "id": a, "body": "changed" }))
        .await?;
    assert_eq!(edited, Json::Null);
    let got: Json = t.query_path("messages:get", json!({ "id": a })).await?;
    assert_eq!(got["body"], "changed");
    let removed: Json = t
        .mutation_path("messages:remove", json!({ "id": b }))
        .await?;
    assert_eq!(removed, Json::Null);
    assert_eq!(
        t.query_path::<Json>("messages:get", json!({ "id": b }))
            .await?,
        Json::Null
    );
    assert_eq!(t.query_path::<f64>("messages:count", json!({})).await?, 1.0);
    // Removing again is a clear error.
    let err = t
        .mutation_path::<Json>("messages:remove", json!({ "id": b }))
        .await
        .unwrap_err();
    let missing = format!("document {b} does not exist");
    assert!(err.message.contains(&missing), "{err}");
    // Editing (a patch) names the missing document the same way.
    let err = t
        .mutation_path::<Json>("messages:edit", json!({ "id": b, "body": "again" }))
        .await
        .unwrap_err();
    assert!(err.message.contains(&missing), "{err}");
    Ok(())
}

// ANCHOR: empty_body
#[tokio::test]
async fn empty_body_is_a_convex_error_with_data() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    for body in ["", "   \n\t"] {
        let err = t
            .mutation_path::<Json>("messages:send", json!({ "body": body, "user": u }))
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::User);
        assert_eq!(
            err.data.as_ref().map(Value::to_json),
            Some(json!({ "code": "EMPTY_BODY" }))
        );
    }
    assert_eq!(
        t.query_path::<f64>("messages:count", json!({})).await?,
        0.0,
        "nothing was written"
    );
    Ok(())
}
// ANCHOR_END: empty_body

// ANCHOR: typed_calls
#[tokio::test]
async fn typed_calls_through_the_harness() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = t
        .mutation::<users::create>(CreateArgs {
            name: "b".into(),
            token_identifier: "t".into(),
        })
        .await?;
    let id = t
        .mutation::<messages::send>(SendArgs {
            body: "typed".into(),
            user: u,
        })
        .await?;
    let all = t.query::<messages::list>(ListArgs {}).await?;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].message.id, id);
    assert_eq!(all[0].message.body, "typed");
    assert_eq!(all[0].message.user, u);
    assert_eq!(all[0].image_url, None);
    Ok(())
}
// ANCHOR_END: typed_calls

// ANCHOR: shout
#[tokio::test]
async fn shout_action_chains_query_and_mutation() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let id = send(&t, &u, "hello there").await?;
    let loud: String = t.action_path("messages:shout", json!({ "id": id })).await?;
    assert_eq!(loud, "HELLO THERE");
    let got: Json = t.query_path("messages:get", json!({ "id": id })).await?;
    assert_eq!(got["body"], "HELLO THERE");
    Ok(())
}
// ANCHOR_END: shout

// ANCHOR: internal
#[tokio::test]
async fn internal_functions_are_hidden_from_clients() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    send(&t, &u, "x").await?;
    let err = t
        .mutation_path::<Json>("messages:wipe", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::NotFound);
    assert!(
        err.message
            .contains("Could not find public function for 'messages:wipe'"),
        "{err}"
    );
    // Other functions (and the harness) may call it.
    t.mutation::<messages::wipe>(messages::WipeArgs {}).await?;
    assert_eq!(t.query_path::<f64>("messages:count", json!({})).await?, 0.0);
    Ok(())
}
// ANCHOR_END: internal

#[tokio::test]
async fn path_forms_and_kind_mismatch() -> anyhow::Result<()> {
    let t = common::chat().await?;
    for path in ["messages:count", "messages.js:count"] {
        assert_eq!(t.query_path::<f64>(path, json!({})).await?, 0.0);
    }
    let err = t
        .mutation_path::<Json>("messages:count", json!({}))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Trying to execute messages:count as Mutation, but it is defined as Query."
    );
    let err = t
        .query_path::<Json>("nope:nothing", json!({}))
        .await
        .unwrap_err();
    assert_eq!(err.kind, FailureKind::NotFound);
    Ok(())
}

// ANCHOR: argument_validation
#[tokio::test]
async fn argument_validation() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let cases = [
        (json!({ "body": 5.0, "user": u }), "body"),
        (json!({ "body": "x" }), "user"),
        (json!({ "body": "x", "user": u, "extra": true }), "extra"),
        (json!({ "body": "x", "user": "not-an-id" }), "user"),
    ];
    for (args, field) in cases {
        let err = t
            .mutation_path::<Json>("messages:send", args.clone())
            .await
            .unwrap_err();
        assert_eq!(err.kind, FailureKind::InvalidArguments, "{args}: {err}");
        assert!(
            err.message.contains("ArgumentValidationError") && err.message.contains(field),
            "{args}: {err}"
        );
    }
    // An id of the wrong table is rejected by the argument validator.
    let msg = send(&t, &u, "hi").await?;
    let err = t
        .mutation_path::<Json>("messages:send", json!({ "body": "x", "user": msg }))
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("expected Id<users>, found an id of table \"messages\""),
        "{err}"
    );
    Ok(())
}
// ANCHOR_END: argument_validation

#[tokio::test]
async fn document_validation_names_table_field_and_type() -> anyhow::Result<()> {
    let t = common::chat_with_raw().await?;
    let u = user(&t, "ada").await?;
    let bad = [
        (
            json!({ "body": 1.0, "user": u }),
            "messages.body: expected string, found float64 1",
        ),
        (json!({ "body": "x", "user": u, "x": 1.0 }), "messages.x"),
        (
            json!({ "body": "x" }),
            "messages.user: expected Id<users>, found nothing",
        ),
    ];
    for (doc, expected) in bad {
        let err = t
            .mutation_path::<Json>(
                "raw:insert",
                json!({ "table": "messages", "doc": doc.clone() }),
            )
            .await
            .unwrap_err();
        assert!(err.message.contains(expected), "{doc}: {err}");
    }
    Ok(())
}
