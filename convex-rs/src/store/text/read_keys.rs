//! The key space a search index exposes to read sets and commits, so that
//! OCC validation and the subscription hub treat a search like any other
//! read: a commit touches keys of the terms its documents had or have, a
//! search records intervals of the terms (and the prefix) it searched.
//!
//! Two forms of key, each unambiguous because terms contain no 0 byte and
//! filter values use the self-delimiting key encoding:
//!
//! * `TERM_FIRST ‖ term ‖ 0 ‖ filter values`: what a search for a whole
//!   term reads, narrowed by the values of the leading filter fields it fixes;
//!   without such filters, the prefix is read in this form too;
//! * `FILTERS_FIRST ‖ filter values ‖ term ‖ 0` (only for indexes with filter
//!   fields): what a prefix search reads when it fixes *every* filter field,
//!   so that `q.search("body", "hel").eq("tag", "a")` is not re-run for a
//!   `help` written under another tag.
//!
//! Architecture Invariant: for every document state `d` and search `q` such
//! that `d` could be in `q`'s result (a term of `d` is a term of `q` or
//! starts with its prefix, and `d` passes `q`'s filters), some key of `d`
//! lies in an interval `q` records.

use super::analyzer::IndexedDoc;
use super::{SearchIndexMeta, TextQuery};
use crate::store::KeyInterval;

const TERM_FIRST: u8 = 1;
const FILTERS_FIRST: u8 = 2;

/// The keys a change of `doc` touches: one or two per distinct term.
pub(crate) fn document_keys(doc: &IndexedDoc) -> impl Iterator<Item = Vec<u8>> + '_ {
    let filters: Vec<u8> = doc.filters.concat();
    let with_filters = !doc.filters.is_empty();
    doc.terms.iter().flat_map(move |(term, _)| {
        let mut term_first = vec![TERM_FIRST];
        term_first.extend_from_slice(term.as_bytes());
        term_first.push(0);
        term_first.extend_from_slice(&filters);
        let filters_first = with_filters.then(|| {
            let mut key = vec![FILTERS_FIRST];
            key.extend_from_slice(&filters);
            key.extend_from_slice(term.as_bytes());
            key.push(0);
            key
        });
        std::iter::once(term_first).chain(filters_first)
    })
}

/// The intervals `query` reads in `meta`'s key space.
pub(crate) fn query_intervals(query: &TextQuery, meta: &SearchIndexMeta) -> Vec<KeyInterval> {
    // The values of the leading run of filter fields the query fixes.
    let mut leading = Vec::new();
    let mut fixed = 0;
    for position in 0..meta.filter_fields.len() {
        match query.filters.iter().find(|(p, _)| *p == position) {
            Some((_, value)) => {
                leading.extend_from_slice(value);
                fixed += 1;
            }
            None => break,
        }
    }
    let mut out: Vec<KeyInterval> = query
        .terms
        .iter()
        .map(|term| {
            let mut key = vec![TERM_FIRST];
            key.extend_from_slice(term.as_bytes());
            key.push(0);
            key.extend_from_slice(&leading);
            KeyInterval::prefix(&key)
        })
        .collect();
    if let Some(prefix) = &query.prefix {
        let key = if fixed > 0 && fixed == meta.filter_fields.len() {
            let mut key = vec![FILTERS_FIRST];
            key.extend_from_slice(&leading);
            key.extend_from_slice(prefix.as_bytes());
            key
        } else {
            let mut key = vec![TERM_FIRST];
            key.extend_from_slice(prefix.as_bytes());
            key
        };
        out.push(KeyInterval::prefix(&key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IndexId;
    use crate::store::text::filter_value_key;
    use crate::value::{InternalId, TableNumber, Value};

    fn meta(filters: &[&str]) -> SearchIndexMeta {
        SearchIndexMeta {
            id: IndexId(9),
            table: TableNumber(1),
            table_name: "t".into(),
            name: "s".into(),
            search_field: "body".into(),
            filter_fields: filters.iter().map(|f| f.to_string()).collect(),
        }
    }

    fn doc(words: &[&str], filters: &[&str]) -> IndexedDoc {
        IndexedDoc {
            id: InternalId([1; 16]),
            creation_time: 1.0,
            text: words.join(" "),
            terms: words.iter().map(|w| (w.to_string(), 1)).collect(),
            length: words.len() as u32,
            filters: filters
                .iter()
                .map(|f| filter_value_key(Some(&Value::String(f.to_string()))))
                .collect(),
        }
    }

    fn query(terms: &[&str], prefix: &str, filters: &[(usize, &str)]) -> TextQuery {
        TextQuery {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            prefix: Some(prefix.to_string()),
            filters: filters
                .iter()
                .map(|(p, v)| (*p, filter_value_key(Some(&Value::String(v.to_string())))))
                .collect(),
        }
    }

    fn hits(query: &TextQuery, meta: &SearchIndexMeta, doc: &IndexedDoc) -> bool {
        let intervals = query_intervals(query, meta);
        document_keys(doc).any(|key| intervals.iter().any(|i| i.contains(&key)))
    }

    #[test]
    fn terms_and_prefixes_are_read_without_filters() {
        let m = meta(&[]);
        let q = query(&["apple"], "ba", &[]);
        assert!(hits(&q, &m, &doc(&["apple"], &[])));
        assert!(hits(&q, &m, &doc(&["banana"], &[])));
        assert!(hits(&q, &m, &doc(&["ba"], &[])));
        assert!(!hits(&q, &m, &doc(&["apples", "cherry"], &[])));
        assert!(!hits(&q, &m, &doc(&["b"], &[])));
    }

    #[test]
    fn filters_narrow_terms_by_leading_fields_and_prefixes_when_all_are_fixed() {
        let m = meta(&["tag", "kind"]);
        let both = query(&["apple"], "ba", &[(0, "red"), (1, "x")]);
        assert!(hits(&both, &m, &doc(&["apple"], &["red", "x"])));
        assert!(hits(&both, &m, &doc(&["banana"], &["red", "x"])));
        assert!(!hits(&both, &m, &doc(&["apple"], &["blue", "x"])));
        assert!(!hits(&both, &m, &doc(&["banana"], &["red", "y"])));
        // Only the leading field fixed: terms narrowed by it, the prefix not at all.
        let lead = query(&["apple"], "ba", &[(0, "red")]);
        assert!(!hits(&lead, &m, &doc(&["apple"], &["blue", "x"])));
        assert!(hits(&lead, &m, &doc(&["apple"], &["red", "y"])));
        assert!(hits(&lead, &m, &doc(&["banana"], &["blue", "y"])));
        // Only the second field fixed: nothing narrowed (still correct).
        let second = query(&["apple"], "ba", &[(1, "x")]);
        assert!(hits(&second, &m, &doc(&["apple"], &["blue", "y"])));
    }
}
