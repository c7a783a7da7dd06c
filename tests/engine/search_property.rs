//! Property test of full-text search against a brute-force model: random
//! corpora and edits (in transactions of a few writes, with background-style
//! flushes in between), searched inside the writing transaction (own writes),
//! at the latest snapshot, and at older snapshots kept along the way. The
//! results must be the model's matches as a set of ids, in the order of the
//! model's BM25 scores wherever those differ.

use std::collections::{BTreeMap, BTreeSet};

use convex_rs::prelude::*;
use convex_rs::query::Query;
use convex_rs::schema::{Schema, SearchIndex, TableDefinition};
use convex_rs::store::{SqliteConfig, Store, Transaction};
use convex_rs::value::DocumentId;
use proptest::prelude::*;

/// Few words, so that documents share terms and prefixes.
const WORDS: &[&str] = &[
    "apple", "apricot", "banana", "band", "bandit", "cherry", "chess", "date", "fig", "grape",
];
const TAGS: &[&str] = &["red", "blue"];

#[derive(Clone, Debug)]
enum Write {
    Insert {
        words: Vec<u8>,
        tag: u8,
    },
    /// Replace the n-th live document (modulo their count).
    Replace {
        nth: u8,
        words: Vec<u8>,
        tag: u8,
    },
    /// Delete the n-th live document (modulo their count).
    Delete {
        nth: u8,
    },
}

#[derive(Clone, Debug)]
struct Search {
    /// Word indexes; the last is searched as a prefix of its first `cut` bytes.
    words: Vec<u8>,
    cut: u8,
    tag: Option<u8>,
}

#[derive(Clone, Debug)]
enum Step {
    /// One transaction: its writes, then a search inside it, then commit.
    Commit(Vec<Write>, Search),
    /// Write the search index's recent changes into tantivy.
    Flush,
    /// Keep a read snapshot (and the model at that point) for the end.
    KeepSnapshot,
}

fn words() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(0..WORDS.len() as u8, 1..6)
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        3 => (words(), 0..TAGS.len() as u8).prop_map(|(words, tag)| Write::Insert { words, tag }),
        2 => (any::<u8>(), words(), 0..TAGS.len() as u8)
            .prop_map(|(nth, words, tag)| Write::Replace { nth, words, tag }),
        1 => any::<u8>().prop_map(|nth| Write::Delete { nth }),
    ]
}

fn search() -> impl Strategy<Value = Search> {
    (
        prop::collection::vec(0..WORDS.len() as u8, 1..4),
        1..6u8,
        prop::option::of(0..TAGS.len() as u8),
    )
        .prop_map(|(words, cut, tag)| Search { words, cut, tag })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (prop::collection::vec(write(), 1..4), search()).prop_map(|(w, s)| Step::Commit(w, s)),
        1 => Just(Step::Flush),
        1 => Just(Step::KeepSnapshot),
    ]
}

/// The model: live documents by id, each its words and tag.
type Model = BTreeMap<DocumentId, (Vec<String>, String)>;

fn text(words: &[u8]) -> Vec<String> {
    words
        .iter()
        .map(|w| WORDS[usize::from(*w)].to_string())
        .collect()
}

impl Search {
    fn text(&self) -> String {
        let mut words = text(&self.words);
        if let Some(last) = words.last_mut() {
            let cut = usize::from(self.cut).min(last.len());
            last.truncate(cut);
        }
        words.join(" ")
    }
}

/// BM25 as tantivy computes it (k1 = 1.2, b = 0.75, in f32), over the terms
/// a search expands to: its words plus every live word starting with the last.
fn model_scores(model: &Model, search: &Search) -> BTreeMap<DocumentId, f32> {
    let query = search.text();
    let mut terms: Vec<String> = query.split(' ').map(str::to_string).collect();
    let prefix = terms.pop().unwrap_or_default();
    let vocabulary: BTreeSet<&String> = model.values().flat_map(|(w, _)| w.iter()).collect();
    terms.extend(
        vocabulary
            .into_iter()
            .filter(|w| w.starts_with(&prefix))
            .cloned(),
    );
    terms.sort();
    terms.dedup();
    let docs = model.len() as f32;
    let tokens: usize = model.values().map(|(w, _)| w.len()).sum();
    let average = tokens as f32 / docs.max(1.0);
    let mut out = BTreeMap::new();
    for (id, (words, tag)) in model {
        if let Some(want) = search.tag
            && TAGS[usize::from(want)] != tag
        {
            continue;
        }
        let mut score = 0f32;
        let mut matched = false;
        for term in &terms {
            let tf = words.iter().filter(|w| *w == term).count() as f32;
            if tf == 0.0 {
                continue;
            }
            matched = true;
            let df = model.values().filter(|(w, _)| w.contains(term)).count() as f32;
            let idf = (1.0 + (docs - df + 0.5) / (df + 0.5)).ln();
            let norm = 1.2 * (1.0 - 0.75 + 0.75 * words.len() as f32 / average);
            score += idf * 2.2 * tf / (tf + norm);
        }
        if matched {
            out.insert(*id, score);
        }
    }
    out
}

async fn run_search(tx: &Transaction, search: &Search) -> anyhow::Result<Vec<DocumentId>> {
    let text = search.text();
    let tag = search.tag.map(|t| TAGS[usize::from(t)]);
    let docs = Query::<Document>::new(tx, "docs")
        .with_search_index("search_text", move |q| {
            let q = q.search("text", text);
            match tag {
                Some(tag) => q.eq("tag", tag),
                None => q,
            }
        })
        .collect()
        .await?;
    Ok(docs.iter().map(|d| d.id).collect())
}

fn check(got: &[DocumentId], model: &Model, search: &Search) -> Result<(), TestCaseError> {
    let scores = model_scores(model, search);
    let got_set: BTreeSet<DocumentId> = got.iter().copied().collect();
    let want_set: BTreeSet<DocumentId> = scores.keys().copied().collect();
    prop_assert_eq!(got.len(), got_set.len(), "a document came twice");
    prop_assert_eq!(&got_set, &want_set, "search {:?}", search.text());
    for pair in got.windows(2) {
        let (a, b) = (scores[&pair[0]], scores[&pair[1]]);
        prop_assert!(
            a >= b - 1e-4 * a.abs().max(1.0),
            "search {:?}: a result scored {} ranks before one scored {}",
            search.text(),
            a,
            b
        );
    }
    Ok(())
}

fn fields(words: &[u8], tag: u8) -> BTreeMap<String, Value> {
    [
        ("text".to_string(), Value::String(text(words).join(" "))),
        (
            "tag".to_string(),
            Value::String(TAGS[usize::from(tag)].into()),
        ),
    ]
    .into()
}

fn nth_live(model: &Model, nth: u8) -> Option<DocumentId> {
    if model.is_empty() {
        return None;
    }
    model.keys().nth(usize::from(nth) % model.len()).copied()
}

async fn run_case(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let schema = Schema::new().table(TableDefinition::new("docs").search_index(
        "search_text",
        SearchIndex::new("text").filter_fields(&["tag"]),
    ));
    let fail = |e: anyhow::Error| TestCaseError::fail(format!("{e:#}"));
    let store = Store::open_sqlite(SqliteConfig::temporary(), &schema)
        .await
        .map_err(|e| fail(e.into()))?;
    let table = store
        .catalog()
        .table("docs")
        .map(|t| t.number)
        .expect("table");
    let mut model = Model::new();
    let mut kept: Vec<(Transaction, Model)> = Vec::new();
    for step in steps {
        match step {
            Step::Flush => store
                .flush_search_indexes()
                .await
                .map_err(|e| fail(e.into()))?,
            Step::KeepSnapshot => kept.push((store.begin_read(), model.clone())),
            Step::Commit(writes, search) => {
                let tx = store.begin();
                let mut pending = model.clone();
                for write in writes {
                    match write {
                        Write::Insert { words, tag } => {
                            let id = tx
                                .insert(table, fields(&words, tag))
                                .map_err(|e| fail(e.into()))?;
                            pending.insert(id, (text(&words), TAGS[usize::from(tag)].into()));
                        }
                        Write::Replace { nth, words, tag } => {
                            if let Some(id) = nth_live(&pending, nth) {
                                tx.replace(id, fields(&words, tag))
                                    .await
                                    .map_err(|e| fail(e.into()))?;
                                pending.insert(id, (text(&words), TAGS[usize::from(tag)].into()));
                            }
                        }
                        Write::Delete { nth } => {
                            if let Some(id) = nth_live(&pending, nth) {
                                tx.delete(id).await.map_err(|e| fail(e.into()))?;
                                pending.remove(&id);
                            }
                        }
                    }
                }
                let inside = run_search(&tx, &search).await.map_err(fail)?;
                check(&inside, &pending, &search)?;
                store.commit(tx).await.map_err(|e| fail(e.into()))?;
                model = pending;
                let after = run_search(&store.begin_read(), &search)
                    .await
                    .map_err(fail)?;
                check(&after, &model, &search)?;
            }
        }
    }
    // Older snapshots still see their own past, whatever was flushed since.
    store
        .flush_search_indexes()
        .await
        .map_err(|e| fail(e.into()))?;
    for (tx, then) in &kept {
        for word in 0..WORDS.len() as u8 {
            let search = Search {
                words: vec![word],
                cut: 3,
                tag: None,
            };
            let got = run_search(tx, &search).await.map_err(fail)?;
            check(&got, then, &search)?;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn search_agrees_with_a_brute_force_model(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        runtime.block_on(run_case(steps))?;
    }
}
