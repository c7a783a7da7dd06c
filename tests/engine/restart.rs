use convex_rs::app::BackendConfig;
use convex_rs::prelude::*;
use convex_rs::schema::{Schema, TableDefinition};
use serde_json::{Value as Json, json};

use crate::common::{send, user};

#[tokio::test]
async fn data_and_timestamps_survive_a_restart() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (ids, ts_before) = {
        let t = TestBackend::with_config(chat::app()?, BackendConfig::in_dir(dir.path())).await?;
        let u = user(&t, "ada").await?;
        let mut ids = vec![u.clone()];
        for i in 0..5 {
            ids.push(send(&t, &u, &format!("m{i}")).await?);
        }
        let ts = t.backend().store().latest_ts();
        t.backend().shutdown().await;
        // Writes after shutdown fail cleanly.
        assert!(
            t.mutation_path::<Json>(
                "users:create",
                json!({ "name": "x", "tokenIdentifier": "y" })
            )
            .await
            .is_err()
        );
        (ids, ts)
    };
    let t = TestBackend::with_config(chat::app()?, BackendConfig::in_dir(dir.path())).await?;
    // The first snapshot is the later of the persisted last commit and the
    // wall clock, so never before what clients saw.
    assert!(
        t.backend().store().latest_ts() >= ts_before,
        "the snapshot after a restart is not before the last commit"
    );
    let list: Vec<Json> = t.query_path("messages:list", json!({})).await?;
    let got: Vec<&str> = list.iter().map(|m| m["_id"].as_str().unwrap()).collect();
    assert_eq!(got, ids[1..].iter().map(String::as_str).collect::<Vec<_>>());
    let user_again: Json = t
        .query_path("users:byToken", json!({ "tokenIdentifier": "tok|ada" }))
        .await?;
    assert_eq!(user_again["_id"], json!(ids[0]));
    // New commits get larger timestamps than any before the restart.
    send(&t, &ids[0], "after").await?;
    assert!(t.backend().store().latest_ts() > ts_before);
    Ok(())
}

#[tokio::test]
async fn an_index_added_later_is_backfilled() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let build = |schema: Schema| {
        App::builder()
            .schema(schema)
            .register::<crate::raw::insert>()
            .register::<crate::raw::patch>()
            .register::<crate::raw::by_index>()
            .build()
    };
    let plain = Schema::new().table(TableDefinition::new("notes"));
    let indexed = Schema::new().table(TableDefinition::new("notes").index("by_tag", &["tag"]));
    {
        let t = TestBackend::with_config(build(plain)?, BackendConfig::in_dir(dir.path())).await?;
        for (tag, text) in [("a", "1"), ("b", "2"), ("a", "3")] {
            t.mutation_path::<String>(
                "raw:insert",
                json!({ "table": "notes", "doc": { "tag": tag, "text": text } }),
            )
            .await?;
        }
        let moved: String = t
            .mutation_path(
                "raw:insert",
                json!({ "table": "notes", "doc": { "tag": "b", "text": "4" } }),
            )
            .await?;
        t.mutation_path::<Json>(
            "raw:patch",
            json!({ "id": moved, "field": "tag", "value": "a" }),
        )
        .await?;
        t.backend().shutdown().await;
    }
    let t = TestBackend::with_config(build(indexed)?, BackendConfig::in_dir(dir.path())).await?;
    let found: Vec<Json> = t
        .query_path(
            "raw:byIndex",
            json!({ "table": "notes", "index": "by_tag", "field": "tag", "value": "a" }),
        )
        .await?;
    let texts: Vec<&str> = found.iter().map(|d| d["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["1", "3", "4"]);
    Ok(())
}
