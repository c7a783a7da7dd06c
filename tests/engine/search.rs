//! Full-text search indexes at the store level: ranking, prefixes, filters,
//! limits, snapshot consistency, own writes and rebuilding from the store.

use std::collections::BTreeMap;

use convex_rs::prelude::*;
use convex_rs::query::{IndexRange, Query, QueryError};
use convex_rs::schema::{Schema, SearchIndex, TableDefinition};
use convex_rs::store::{SqliteConfig, Store, Transaction};
use convex_rs::value::DocumentId;

fn schema() -> Schema {
    Schema::new().table(
        TableDefinition::new("notes")
            .index("by_tag", &["tag"])
            .search_index(
                "search_text",
                SearchIndex::new("text").filter_fields(&["tag", "meta.kind"]),
            ),
    )
}

fn note(text: &str, tag: &str) -> BTreeMap<String, Value> {
    let mut meta = BTreeMap::new();
    meta.insert("kind".to_string(), Value::String("plain".into()));
    [
        ("text".to_string(), Value::String(text.into())),
        ("tag".to_string(), Value::String(tag.into())),
        ("meta".to_string(), Value::Object(meta)),
    ]
    .into()
}

async fn open(path: Option<&std::path::Path>) -> anyhow::Result<Store> {
    let config = match path {
        Some(p) => SqliteConfig::file(p),
        None => SqliteConfig::temporary(),
    };
    Ok(Store::open_sqlite(config, &schema()).await?)
}

async fn insert(store: &Store, text: &str, tag: &str) -> anyhow::Result<DocumentId> {
    let table = store.catalog().table("notes").map(|t| t.number);
    let tx = store.begin();
    let id = tx.insert(
        table.ok_or_else(|| anyhow::anyhow!("no table"))?,
        note(text, tag),
    )?;
    store.commit(tx).await?;
    Ok(id)
}

fn text_of(doc: &Document) -> String {
    doc.get_path("text")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

async fn search(tx: &Transaction, text: &str) -> Result<Vec<String>, QueryError> {
    let docs = Query::<Document>::new(tx, "notes")
        .with_search_index("search_text", |q| q.search("text", text))
        .take(100)
        .await?;
    Ok(docs.iter().map(text_of).collect())
}

#[tokio::test]
async fn results_come_in_relevance_order_newer_first_on_ties() -> anyhow::Result<()> {
    let store = open(None).await?;
    for text in [
        "apple x y z",
        "apple apple apple x",
        "x y z w",
        "apple apple x y",
        "apple x",
        "apple x",
    ] {
        insert(&store, text, "a").await?;
    }
    let got = search(&store.begin_read(), "apple").await?;
    assert_eq!(
        got,
        [
            "apple apple apple x",
            "apple apple x y",
            "apple x",
            "apple x",
            "apple x y z"
        ]
    );
    // Ties go to the newer document.
    let docs = Query::<Document>::new(&store.begin_read(), "notes")
        .with_search_index("search_text", |q| q.search("text", "apple"))
        .take(10)
        .await?;
    assert!(docs[2].creation_time > docs[3].creation_time);
    // More matched terms rank higher.
    insert(&store, "apple pear q r", "a").await?;
    let got = search(&store.begin_read(), "pear apple").await?;
    assert_eq!(got[0], "apple pear q r");
    Ok(())
}

#[tokio::test]
async fn the_last_term_matches_as_a_prefix() -> anyhow::Result<()> {
    let store = open(None).await?;
    for text in ["hello world", "help me", "yellow", "HELIUM!"] {
        insert(&store, text, "a").await?;
    }
    let tx = store.begin_read();
    let mut got = search(&tx, "hel").await?;
    got.sort();
    assert_eq!(got, ["HELIUM!", "hello world", "help me"]);
    // Only the last term is a prefix.
    assert_eq!(search(&tx, "hel world").await?, ["hello world"]);
    let mut got = search(&tx, "world hel").await?;
    got.sort();
    assert_eq!(got, ["HELIUM!", "hello world", "help me"]);
    // A repeated last term is still the prefix.
    let mut got = search(&tx, "hel world hel").await?;
    got.sort();
    assert_eq!(got, ["HELIUM!", "hello world", "help me"]);
    assert!(search(&tx, "").await?.is_empty());
    assert!(search(&tx, "  !!  ").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn filters_are_equalities_and_combine_with_and() -> anyhow::Result<()> {
    let store = open(None).await?;
    insert(&store, "rust one", "a").await?;
    insert(&store, "rust two", "b").await?;
    let tx = store.begin_read();
    let run = |tag: &'static str, kind: &'static str| {
        Query::<Document>::new(&tx, "notes")
            .with_search_index("search_text", move |q| {
                q.search("text", "rust")
                    .eq("tag", tag)
                    .eq("meta.kind", kind)
            })
            .collect()
    };
    let a: Vec<String> = run("a", "plain").await?.iter().map(text_of).collect();
    assert_eq!(a, ["rust one"]);
    assert!(run("a", "other").await?.is_empty());
    assert!(run("c", "plain").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn limits_and_misuse_give_clear_errors() -> anyhow::Result<()> {
    let store = open(None).await?;
    insert(&store, "word", "a").await?;
    let tx = store.begin_read();
    let q = || Query::<Document>::new(&tx, "notes");
    let many: Vec<String> = (0..17).map(|i| format!("t{i}")).collect();
    let err = search(&tx, &many.join(" ")).await.unwrap_err().to_string();
    assert!(err.contains("at most 16"), "{err}");
    let err = q()
        .with_search_index("search_text", |q| {
            (0..9).fold(q.search("text", "word"), |q, _| q.eq("tag", "a"))
        })
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 8"), "{err}");
    let err = q()
        .with_search_index("search_text", |q| q.search("text", "word"))
        .take(1025)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("at most 1024"), "{err}");
    let err = q()
        .with_search_index("search_text", |q| q.search("tag", "word"))
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("search field is \"text\""), "{err}");
    let err = q()
        .with_search_index("search_text", |q| q.search("text", "word").eq("text", "x"))
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a filter field"), "{err}");
    let err = q()
        .with_search_index("nope", |q| q.search("text", "word"))
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no search index"), "{err}");
    let err = q()
        .with_index("by_tag", IndexRange::new().eq("tag", "a"))
        .with_search_index("search_text", |q| q.search("text", "word"))
        .collect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not both"), "{err}");
    Ok(())
}

#[tokio::test]
async fn commits_are_seen_by_the_next_search_and_own_writes_inside() -> anyhow::Result<()> {
    let store = open(None).await?;
    for i in 0..30 {
        let word = format!("fresh{i}");
        insert(&store, &word, "a").await?;
        assert_eq!(
            search(&store.begin_read(), &word).await?,
            std::slice::from_ref(&word)
        );
        if i % 10 == 9 {
            store.flush_search_indexes().await?;
        }
    }
    let table = store.catalog().table("notes").map(|t| t.number).unwrap();
    let kept = insert(&store, "kiwi old", "a").await?;
    let tx = store.begin();
    tx.insert(table, note("kiwi new", "a"))?;
    tx.replace(kept, note("mango", "a")).await?;
    assert_eq!(search(&tx, "kiwi").await?, ["kiwi new"]);
    assert_eq!(search(&tx, "mango").await?, ["mango"]);
    store.commit(tx).await?;
    assert_eq!(search(&store.begin_read(), "kiwi").await?, ["kiwi new"]);

    // Delete takes effect, before and after the background flush.
    let tx = store.begin();
    tx.delete(kept).await?;
    store.commit(tx).await?;
    assert!(search(&store.begin_read(), "mango").await?.is_empty());
    store.flush_search_indexes().await?;
    assert!(search(&store.begin_read(), "mango").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_old_snapshot_sees_the_old_match() -> anyhow::Result<()> {
    let store = open(None).await?;
    let id = insert(&store, "alpha", "a").await?;
    let old = store.begin_read();
    let tx = store.begin();
    tx.replace(id, note("beta", "a")).await?;
    store.commit(tx).await?;
    store.flush_search_indexes().await?;
    assert_eq!(search(&old, "alpha").await?, ["alpha"]);
    assert!(search(&old, "beta").await?.is_empty());
    let new = store.begin_read();
    assert!(search(&new, "alpha").await?.is_empty());
    assert_eq!(search(&new, "beta").await?, ["beta"]);
    Ok(())
}

#[tokio::test]
async fn pagination_pages_through_every_result() -> anyhow::Result<()> {
    let store = open(None).await?;
    for i in 0..25 {
        insert(&store, &format!("page {}", "x ".repeat(i)), "a").await?;
    }
    let tx = store.begin_read();
    let mut cursor = None;
    let mut seen = Vec::new();
    loop {
        let mut options = PaginationOptions::first(7);
        options.cursor = cursor.clone();
        let page = Query::<Document>::new(&tx, "notes")
            .with_search_index("search_text", |q| q.search("text", "page"))
            .paginate(&options)
            .await?;
        seen.extend(page.page.iter().map(|d| d.id));
        if page.is_done {
            break;
        }
        cursor = Some(page.continue_cursor);
    }
    let all: Vec<DocumentId> = Query::<Document>::new(&tx, "notes")
        .with_search_index("search_text", |q| q.search("text", "page"))
        .collect()
        .await?
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(seen, all);
    assert_eq!(all.len(), 25);
    Ok(())
}

#[tokio::test]
async fn deleted_or_stale_index_files_are_rebuilt_from_the_store() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite3");
    let expected = {
        let store = open(Some(&path)).await?;
        for i in 0..200 {
            insert(&store, &format!("doc {i} common word{}", i % 7), "a").await?;
        }
        store.flush_search_indexes().await?;
        // Unflushed commits after the last tantivy commit.
        insert(&store, "late common arrival", "a").await?;
        let got = search(&store.begin_read(), "common word3").await?;
        store.close().await;
        got
    };
    // Stale files (the late commit is not in them) are caught up.
    {
        let store = open(Some(&path)).await?;
        assert_eq!(search(&store.begin_read(), "common word3").await?, expected);
        store.close().await;
    }
    // Deleted files are rebuilt.
    std::fs::remove_dir_all(dir.path().join("db.sqlite3.search"))?;
    {
        let store = open(Some(&path)).await?;
        assert_eq!(search(&store.begin_read(), "common word3").await?, expected);
        store.close().await;
    }
    // Corrupt files are rebuilt.
    let index_dir = dir.path().join("db.sqlite3.search/notes.search_text");
    std::fs::write(index_dir.join("meta.json"), b"not json")?;
    let store = open(Some(&path)).await?;
    assert_eq!(search(&store.begin_read(), "common word3").await?, expected);
    Ok(())
}

/// A search page made at a later snapshot continues where the previous page
/// ended, although unrelated writes in between shifted every BM25 score (the
/// cursor's document is scored again with the new statistics).
#[tokio::test]
async fn pages_made_at_different_snapshots_neither_skip_nor_repeat() -> anyhow::Result<()> {
    let store = open(None).await?;
    let mut words = vec!["alpha"];
    for next in ["b", "c", "d", "e", "f"] {
        words.push(next);
        insert(&store, &words.join(" "), "a").await?;
    }
    let page = |cursor: Option<String>| {
        let store = store.clone();
        async move {
            let mut options = PaginationOptions::first(2);
            options.cursor = cursor;
            Query::<Document>::new(&store.begin_read(), "notes")
                .with_search_index("search_text", |q| q.search("text", "alpha").eq("tag", "a"))
                .paginate(&options)
                .await
        }
    };
    let first = page(None).await?;
    // Neither matches the search's filter, yet both change the statistics:
    // more documents, a longer average, and a higher frequency of "alpha".
    insert(
        &store,
        "zzz a very long note about nothing in particular at all",
        "b",
    )
    .await?;
    let second = page(Some(first.continue_cursor.clone())).await?;
    for _ in 0..3 {
        insert(&store, "alpha alpha", "b").await?;
    }
    let third = page(Some(second.continue_cursor.clone())).await?;
    assert!(third.is_done);
    let seen: Vec<String> = [first.page, second.page, third.page]
        .iter()
        .flatten()
        .map(text_of)
        .collect();
    assert_eq!(
        seen,
        [
            "alpha b",
            "alpha b c",
            "alpha b c d",
            "alpha b c d e",
            "alpha b c d e f"
        ]
    );
    Ok(())
}

/// The last word as typed is always searched, even when more than
/// `MAX_PREFIX_EXPANSIONS` more frequent words start with it.
#[tokio::test]
async fn the_typed_word_survives_a_crowd_of_completions() -> anyhow::Result<()> {
    let store = open(None).await?;
    let crowd = convex_rs::query::MAX_PREFIX_EXPANSIONS + 8;
    for i in 0..crowd {
        for _ in 0..2 {
            insert(&store, &format!("ab{i}x"), "a").await?;
        }
    }
    insert(&store, "ab", "a").await?;
    let got = Query::<Document>::new(&store.begin_read(), "notes")
        .with_search_index("search_text", |q| q.search("text", "ab"))
        .take(1024)
        .await?;
    assert!(got.iter().any(|d| text_of(d) == "ab"));
    // The completions kept are the most frequent (all have two documents here).
    assert_eq!(
        got.len(),
        1 + 2 * (convex_rs::query::MAX_PREFIX_EXPANSIONS - 1)
    );
    Ok(())
}

/// Every page of one pagination ranks with the statistics of its first page:
/// writes in between that change the average length would otherwise move a
/// short and a long document past each other across the page boundary.
#[tokio::test]
async fn a_pagination_keeps_its_first_pages_ranking() -> anyhow::Result<()> {
    let store = open(None).await?;
    insert(&store, "idea", "a").await?;
    insert(&store, "idea idea w w", "a").await?;
    insert(&store, "x y", "b").await?;
    let page = |cursor: Option<String>| {
        let store = store.clone();
        async move {
            let mut options = PaginationOptions::first(1);
            options.cursor = cursor;
            Query::<Document>::new(&store.begin_read(), "notes")
                .with_search_index("search_text", |q| q.search("text", "idea").eq("tag", "a"))
                .paginate(&options)
                .await
        }
    };
    let first = page(None).await?;
    // Long notes elsewhere raise the average length, which favours the long
    // matching note over the short one.
    for _ in 0..5 {
        insert(&store, &"long words without the term ".repeat(8), "b").await?;
    }
    let second = page(Some(first.continue_cursor.clone())).await?;
    let third = page(Some(second.continue_cursor.clone())).await?;
    let seen: Vec<String> = [&first.page, &second.page, &third.page]
        .into_iter()
        .flatten()
        .map(text_of)
        .collect();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ["idea", "idea idea w w"], "pages: {seen:?}");
    assert!(third.is_done || third.page.is_empty());
    Ok(())
}

/// A search index added to a table that already has documents is built from
/// them before the store opens; one removed from the schema loses its files.
#[tokio::test]
async fn an_index_added_later_is_backfilled_and_a_removed_one_deleted() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("db.sqlite3");
    let plain = || Schema::new().table(TableDefinition::new("notes").index("by_tag", &["tag"]));
    {
        let store = Store::open_sqlite(SqliteConfig::file(&path), &plain()).await?;
        for text in ["early bird", "early riser", "late night"] {
            insert(&store, text, "a").await?;
        }
        store.close().await;
    }
    {
        let store = open(Some(&path)).await?;
        let mut got = search(&store.begin_read(), "early").await?;
        got.sort();
        assert_eq!(got, ["early bird", "early riser"]);
        store.close().await;
    }
    let files = dir.path().join("db.sqlite3.search/notes.search_text");
    assert!(files.is_dir());
    let store = Store::open_sqlite(SqliteConfig::file(&path), &plain()).await?;
    assert!(!files.exists(), "the dropped index's files are removed");
    store.close().await;
    Ok(())
}

/// Optimistic concurrency covers searches: a mutation that searched commits
/// only if no document with one of its terms changed since its snapshot.
#[tokio::test]
async fn a_search_in_a_mutation_conflicts_only_with_matching_writes() -> anyhow::Result<()> {
    let store = open(None).await?;
    insert(&store, "apple tart", "a").await?;
    let table = store.catalog().table("notes").map(|t| t.number).unwrap();

    let tx = store.begin();
    assert_eq!(search(&tx, "apple").await?, ["apple tart"]);
    tx.insert(table, note("saw one apple", "a"))?;
    insert(&store, "pear crumble", "a").await?;
    store.commit(tx).await?;

    let tx = store.begin();
    assert_eq!(search(&tx, "pear").await?, ["pear crumble"]);
    tx.insert(table, note("saw one pear", "a"))?;
    insert(&store, "pear juice", "a").await?;
    let err = store.commit(tx).await.unwrap_err();
    assert!(
        matches!(err, convex_rs::store::CommitError::Conflict { .. }),
        "{err}"
    );
    Ok(())
}
