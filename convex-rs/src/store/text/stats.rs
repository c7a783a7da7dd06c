//! Exact corpus statistics for BM25, and scoring of documents held in memory
//! with the very formula tantivy applies to the documents on disk.

use std::collections::{BTreeMap, HashMap};

use tantivy::fieldnorm::FieldNormReader;
use tantivy::query::{Bm25StatisticsProvider, Bm25Weight};
use tantivy::schema::Field;
use tantivy::{Score, Term};

use super::analyzer::IndexedDoc;

/// Document count, token count and per-term document frequency of an index's
/// live documents at one timestamp.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TermStats {
    pub(crate) docs: u64,
    pub(crate) tokens: u64,
    pub(crate) df: BTreeMap<String, u64>,
}

impl TermStats {
    pub(crate) fn add(&mut self, doc: &IndexedDoc) {
        self.docs += 1;
        self.tokens += u64::from(doc.length);
        for (term, _) in &doc.terms {
            match self.df.get_mut(term) {
                Some(n) => *n += 1,
                None => {
                    self.df.insert(term.clone(), 1);
                }
            }
        }
    }

    pub(crate) fn remove(&mut self, doc: &IndexedDoc) {
        self.docs = self.docs.saturating_sub(1);
        self.tokens = self.tokens.saturating_sub(u64::from(doc.length));
        for (term, _) in &doc.terms {
            if let Some(n) = self.df.get_mut(term) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.df.remove(term);
                }
            }
        }
    }

    /// Applies a change from `old` to `new`.
    pub(crate) fn apply(&mut self, old: Option<&IndexedDoc>, new: Option<&IndexedDoc>) {
        if let Some(old) = old {
            self.remove(old);
        }
        if let Some(new) = new {
            self.add(new);
        }
    }
}

/// The statistics one search scores with: the corpus at its snapshot (plus
/// the transaction's own writes), for the terms it searches.
#[derive(Clone, Debug, Default)]
pub(crate) struct QueryStats {
    pub(crate) docs: i64,
    pub(crate) tokens: i64,
    pub(crate) df: HashMap<String, i64>,
}

impl QueryStats {
    /// Adds (`sign` 1) or takes away (`sign` -1) one document's contribution.
    pub(crate) fn shift(&mut self, doc: &IndexedDoc, sign: i64) {
        self.docs += sign;
        self.tokens += sign * i64::from(doc.length);
        for (term, _) in &doc.terms {
            if let Some(n) = self.df.get_mut(term) {
                *n += sign;
            }
        }
    }

    fn count(n: i64) -> u64 {
        u64::try_from(n).unwrap_or(0)
    }

    pub(crate) fn doc_count(&self) -> u64 {
        Self::count(self.docs)
    }

    pub(crate) fn frequency(&self, term: &str) -> u64 {
        Self::count(self.df.get(term).copied().unwrap_or(0)).min(self.doc_count())
    }

    fn average_length(&self) -> Score {
        Self::count(self.tokens) as Score / self.doc_count().max(1) as Score
    }

    /// The BM25 weight of each term, as tantivy computes it.
    pub(crate) fn weights(&self, terms: &[String]) -> Vec<Bm25Weight> {
        let average = self.average_length();
        terms
            .iter()
            .map(|t| {
                Bm25Weight::for_one_term_without_explain(
                    self.frequency(t),
                    self.doc_count(),
                    average,
                )
            })
            .collect()
    }
}

/// The BM25 score of `doc` for `terms` (with their `weights`); `None` when
/// it contains none of them.
pub(crate) fn score(doc: &IndexedDoc, terms: &[String], weights: &[Bm25Weight]) -> Option<Score> {
    let norm = FieldNormReader::fieldnorm_to_id(doc.length);
    let mut total: Score = 0.0;
    let mut matched = false;
    for (term, weight) in terms.iter().zip(weights) {
        let tf = doc.frequency(term);
        if tf > 0 {
            matched = true;
            total += weight.score(norm, tf);
        }
    }
    matched.then_some(total)
}

impl Bm25StatisticsProvider for QueryStats {
    fn total_num_tokens(&self, _field: Field) -> tantivy::Result<u64> {
        Ok(Self::count(self.tokens))
    }

    fn total_num_docs(&self) -> tantivy::Result<u64> {
        Ok(self.doc_count())
    }

    fn doc_freq(&self, term: &Term) -> tantivy::Result<u64> {
        Ok(term.value().as_str().map_or(0, |t| self.frequency(t)))
    }
}
