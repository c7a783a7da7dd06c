use std::collections::HashSet;

use serde_json::{Value as Json, json};

use crate::common::{self, send, user};

async fn page(
    t: &convex_rs::prelude::TestBackend,
    opts: Json,
) -> anyhow::Result<(Vec<String>, bool, String)> {
    let r: Json = t
        .query_path("messages:page", json!({ "paginationOpts": opts }))
        .await?;
    let ids = r["page"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["_id"].as_str().unwrap().to_string())
        .collect();
    Ok((
        ids,
        r["isDone"].as_bool().unwrap(),
        r["continueCursor"].as_str().unwrap().to_string(),
    ))
}

#[tokio::test]
async fn pages_cover_every_message_once_newest_first() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let mut sent = Vec::new();
    for i in 0..50 {
        sent.push(send(&t, &u, &format!("m{i}")).await?);
    }
    let mut cursor = Json::Null;
    let mut seen = Vec::new();
    loop {
        let (ids, done, next) = page(&t, json!({ "numItems": 7.0, "cursor": cursor })).await?;
        assert!(ids.len() <= 7);
        seen.extend(ids);
        if done {
            break;
        }
        cursor = json!(next);
    }
    sent.reverse();
    assert_eq!(seen, sent, "every message exactly once, newest first");
    Ok(())
}

#[tokio::test]
async fn pagination_survives_inserts_and_deletes_between_pages() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    let mut sent = Vec::new();
    for i in 0..30 {
        sent.push(send(&t, &u, &format!("m{i}")).await?);
    }
    let (first, done, cursor) = page(&t, json!({ "numItems": 10.0, "cursor": null })).await?;
    assert!(!done);
    // A new message (newest: before the first page) and a deleted one further down.
    send(&t, &u, "late").await?;
    let deleted = sent[5].clone();
    t.mutation_path::<Json>("messages:remove", json!({ "id": deleted }))
        .await?;
    let mut seen: Vec<String> = first.clone();
    let mut cursor = json!(cursor);
    loop {
        let (ids, done, next) = page(&t, json!({ "numItems": 10.0, "cursor": cursor })).await?;
        seen.extend(ids);
        if done {
            break;
        }
        cursor = json!(next);
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    let expected: Vec<String> = sent
        .iter()
        .rev()
        .filter(|id| **id != deleted)
        .cloned()
        .collect();
    assert_eq!(seen, expected);
    Ok(())
}

#[tokio::test]
async fn re_running_a_page_with_its_end_cursor_covers_the_same_range() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let u = user(&t, "ada").await?;
    for i in 0..12 {
        send(&t, &u, &format!("m{i}")).await?;
    }
    let (first, _, c1) = page(&t, json!({ "numItems": 5.0, "cursor": null })).await?;
    let (second, _, c2) = page(&t, json!({ "numItems": 5.0, "cursor": c1 })).await?;
    // A message arrives: newest, so inside the first page's range.
    let late = send(&t, &u, "late").await?;
    let (again, done, end) = page(
        &t,
        json!({ "numItems": 5.0, "cursor": null, "endCursor": c1 }),
    )
    .await?;
    assert!(!done);
    assert_eq!(end, c1, "the page keeps its end");
    assert_eq!(again.len(), 6, "the page grew by the new message");
    assert_eq!(again[0], late);
    assert_eq!(&again[1..], &first[..]);
    let (second_again, _, _) = page(
        &t,
        json!({ "numItems": 5.0, "cursor": c1, "endCursor": c2 }),
    )
    .await?;
    assert_eq!(second_again, second);
    Ok(())
}

#[tokio::test]
async fn bad_pagination_options_are_clear_errors() -> anyhow::Result<()> {
    let t = common::chat().await?;
    let err = t
        .query_path::<Json>(
            "messages:page",
            json!({ "paginationOpts": { "numItems": 0.0, "cursor": null } }),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("numItems"), "{err}");
    let err = t
        .query_path::<Json>(
            "messages:page",
            json!({ "paginationOpts": { "numItems": 5.0, "cursor": "garbage!" } }),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("InvalidCursor"), "{err}");
    let (ids, done, _) = page(&t, json!({ "numItems": 5.0, "cursor": null, "id": 3.0 })).await?;
    assert!(ids.is_empty() && done);
    Ok(())
}
