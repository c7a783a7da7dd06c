//! How text becomes terms, and what of a document a search index keeps.
//!
//! Text is split on every character that is not alphanumeric, lower-cased,
//! and terms longer than [`MAX_TERM_BYTES`] are dropped. The same analyzer
//! tokenizes documents (in memory and inside tantivy) and search strings.

use std::cell::RefCell;
use std::collections::BTreeMap;

use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};

use crate::store::index_key::MISSING_FIELD;
use crate::store::{Document, SearchIndexMeta};
use crate::value::{InternalId, Value, encode_value};

/// Terms longer than this many bytes (UTF-8) are not indexed or searched.
pub const MAX_TERM_BYTES: usize = 32;

/// The name the analyzer is registered under in every tantivy index.
pub(crate) const TOKENIZER_NAME: &str = "convex_words";

/// A new analyzer: split on non-alphanumerics, lower-case, drop long terms.
pub(crate) fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(LowerCaser)
        .filter(RemoveLongFilter::limit(MAX_TERM_BYTES + 1))
        .build()
}

thread_local! {
    static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(analyzer());
}

/// The terms of `text`, in order, with repetitions.
pub(crate) fn terms(text: &str) -> Vec<String> {
    ANALYZER.with(|cell| {
        let mut analyzer = cell.borrow_mut();
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    })
}

/// What a search index holds of one document.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct IndexedDoc {
    /// The document.
    pub(crate) id: InternalId,
    /// Its `_creationTime` (ties in score: newer first).
    pub(crate) creation_time: f64,
    /// The searched text (tantivy tokenizes it with the same analyzer).
    pub(crate) text: String,
    /// Distinct terms, sorted, with their frequency in the text.
    pub(crate) terms: Vec<(String, u32)>,
    /// The number of terms in the text, repetitions included.
    pub(crate) length: u32,
    /// The key encoding of each filter field's value, in declared order.
    pub(crate) filters: Vec<Vec<u8>>,
}

impl IndexedDoc {
    /// The document as `index` sees it; `None` when its search field is not a string.
    pub(crate) fn of(index: &SearchIndexMeta, doc: &Document) -> Option<IndexedDoc> {
        let Some(Value::String(text)) = doc.get_path(&index.search_field) else {
            return None;
        };
        let all = terms(&text);
        let length = u32::try_from(all.len()).unwrap_or(u32::MAX);
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for term in all {
            *counts.entry(term).or_default() += 1;
        }
        let filters = index
            .filter_fields
            .iter()
            .map(|field| filter_value_key(doc.get_path(field).as_ref()))
            .collect();
        Some(IndexedDoc {
            id: doc.id.internal,
            creation_time: doc.creation_time,
            text,
            terms: counts.into_iter().collect(),
            length,
            filters,
        })
    }

    /// The frequency of `term` in the text (0 when absent).
    pub(crate) fn frequency(&self, term: &str) -> u32 {
        self.terms
            .binary_search_by(|(t, _)| t.as_str().cmp(term))
            .map_or(0, |i| self.terms[i].1)
    }
}

/// The key encoding of a filter field's value (`None`: the field is missing).
pub(crate) fn filter_value_key(value: Option<&Value>) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Some(v) => encode_value(v, &mut out),
        None => out.push(MISSING_FIELD),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lowercases_and_drops_long_terms() {
        let long = "x".repeat(33);
        let ok = "y".repeat(32);
        let text = format!("Hello, WORLD! it's {long} {ok} café-au-lait 42");
        assert_eq!(
            terms(&text),
            [
                "hello",
                "world",
                "it",
                "s",
                ok.as_str(),
                "café",
                "au",
                "lait",
                "42"
            ]
        );
        assert!(terms("  ,.;  ").is_empty());
    }
}
