//! Where a search result stands in its ranking, and what a page of search
//! results hands to the next: the last result and the ranking it was part of.
//!
//! BM25 scores depend on statistics of the whole index (document count,
//! average length, each term's document frequency), which every write
//! changes. A pagination whose pages are made at different snapshots must
//! still split *one* ranking, or documents of different lengths could swap
//! places across a page boundary and be skipped or repeated. So the first
//! page fixes the ranking — the terms searched (the words and the prefix's
//! expansions) and their statistics — and every later page, and every re-run
//! of a page, ranks with it. Which documents match is still decided at each
//! page's own snapshot.

use std::cmp::Ordering;
use std::collections::HashMap;

use tantivy::Score;

use super::stats::QueryStats;
use crate::value::InternalId;

/// One search result: its score, creation time and id. Ordered by score,
/// then creation time, then id; a search returns them greatest first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Ranked {
    /// The BM25 score.
    pub(crate) score: Score,
    /// The document's `_creationTime`.
    pub(crate) creation_time: f64,
    /// The document.
    pub(crate) id: InternalId,
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(self.creation_time.total_cmp(&other.creation_time))
            .then(self.id.cmp(&other.id))
    }
}

/// The terms a search ranked by and the statistics it scored them with.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Ranking {
    pub(crate) docs: u64,
    pub(crate) tokens: u64,
    /// Each term searched, sorted, with its document frequency.
    pub(crate) terms: Vec<(String, u64)>,
}

impl Ranking {
    /// The ranking of a search over `terms` with `stats`.
    pub(crate) fn new(terms: &[String], stats: &QueryStats) -> Ranking {
        Ranking {
            docs: stats.doc_count(),
            tokens: u64::try_from(stats.tokens).unwrap_or(0),
            terms: terms
                .iter()
                .map(|t| (t.clone(), stats.frequency(t)))
                .collect(),
        }
    }

    /// The terms and statistics to search with.
    pub(crate) fn terms_and_stats(&self) -> (Vec<String>, QueryStats) {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let stats = QueryStats {
            docs: count(self.docs),
            tokens: count(self.tokens),
            df: self
                .terms
                .iter()
                .map(|(t, n)| (t.clone(), count(*n)))
                .collect::<HashMap<_, _>>(),
        };
        (self.terms.iter().map(|(t, _)| t.clone()).collect(), stats)
    }
}

/// What a search returned: its results, best first, and the ranking.
#[derive(Debug, Default)]
pub(crate) struct Searched {
    pub(crate) ranked: Vec<Ranked>,
    pub(crate) ranking: Ranking,
}

/// A position in a search's ranking: a page's last result and the ranking.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SearchCursor {
    pub(crate) last: Ranked,
    pub(crate) ranking: Ranking,
}

/// The first byte of an encoded cursor, so a format change is detected.
const CURSOR_VERSION: u8 = 1;

impl SearchCursor {
    /// The cursor's bytes: version, score, creation time, id, then the
    /// ranking (document count, token count, and each term with its length
    /// and document frequency).
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            46 + self
                .ranking
                .terms
                .iter()
                .map(|(t, _)| t.len() + 9)
                .sum::<usize>(),
        );
        out.push(CURSOR_VERSION);
        out.extend_from_slice(&self.last.score.to_bits().to_be_bytes());
        out.extend_from_slice(&self.last.creation_time.to_bits().to_be_bytes());
        out.extend_from_slice(&self.last.id.0);
        out.extend_from_slice(&self.ranking.docs.to_be_bytes());
        out.extend_from_slice(&self.ranking.tokens.to_be_bytes());
        out.push(u8::try_from(self.ranking.terms.len()).unwrap_or(u8::MAX));
        for (term, df) in self.ranking.terms.iter().take(usize::from(u8::MAX)) {
            // Terms are at most 32 bytes (longer ones are never indexed).
            out.push(u8::try_from(term.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(&term.as_bytes()[..term.len().min(usize::from(u8::MAX))]);
            out.extend_from_slice(&df.to_be_bytes());
        }
        out
    }

    /// Reads bytes made by [`encode`](SearchCursor::encode); `None` for
    /// anything else.
    pub(crate) fn decode(bytes: &[u8]) -> Option<SearchCursor> {
        let mut input = Reader(bytes);
        if input.take(1)? != [CURSOR_VERSION] {
            return None;
        }
        let score = f32::from_bits(u32::from_be_bytes(input.take(4)?.try_into().ok()?));
        let creation_time = f64::from_bits(input.u64()?);
        let id = InternalId(input.take(16)?.try_into().ok()?);
        let docs = input.u64()?;
        let tokens = input.u64()?;
        let count = usize::from(input.take(1)?[0]);
        let mut terms = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(input.take(1)?[0]);
            let term = std::str::from_utf8(input.take(len)?).ok()?.to_string();
            terms.push((term, input.u64()?));
        }
        if !input.0.is_empty() {
            return None;
        }
        Some(SearchCursor {
            last: Ranked {
                score,
                creation_time,
                id,
            },
            ranking: Ranking {
                docs,
                tokens,
                terms,
            },
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn cursors_round_trip(
            score in any::<f32>(),
            creation_time in any::<f64>(),
            id in any::<[u8; 16]>(),
            docs in any::<u64>(),
            tokens in any::<u64>(),
            terms in prop::collection::vec(("[a-z0-9]{1,32}", any::<u64>()), 0..48),
        ) {
            let cursor = SearchCursor {
                last: Ranked { score, creation_time, id: InternalId(id) },
                ranking: Ranking { docs, tokens, terms },
            };
            let decoded = SearchCursor::decode(&cursor.encode()).expect("decodes");
            prop_assert_eq!(decoded.last.score.to_bits(), score.to_bits());
            prop_assert_eq!(decoded.last.creation_time.to_bits(), creation_time.to_bits());
            prop_assert_eq!(decoded.last.id, cursor.last.id);
            prop_assert_eq!(decoded.ranking, cursor.ranking);
        }

        #[test]
        fn garbage_is_refused_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = SearchCursor::decode(&bytes);
        }
    }

    #[test]
    fn truncated_or_extended_cursors_are_refused() {
        let cursor = SearchCursor {
            last: Ranked {
                score: 1.5,
                creation_time: 2.0,
                id: InternalId([7; 16]),
            },
            ranking: Ranking {
                docs: 3,
                tokens: 9,
                terms: vec![("hello".into(), 2)],
            },
        };
        let bytes = cursor.encode();
        assert!(SearchCursor::decode(&bytes[..bytes.len() - 1]).is_none());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(SearchCursor::decode(&longer).is_none());
        assert_eq!(SearchCursor::decode(&bytes), Some(cursor));
    }
}
