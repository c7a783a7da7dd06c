//! The changes a search index has seen since its oldest retained tantivy
//! generation: per document, in commit order, and by term, so a search finds
//! the few recently written documents that concern its terms.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use super::analyzer::IndexedDoc;
use crate::value::InternalId;

/// One committed change of one document.
#[derive(Debug)]
pub(crate) struct Change {
    pub(crate) ts: u64,
    pub(crate) id: InternalId,
    pub(crate) old: Option<Arc<IndexedDoc>>,
    pub(crate) new: Option<Arc<IndexedDoc>>,
}

impl Change {
    /// The terms of the old and new states, each once, in order (both term
    /// lists are sorted, so this is a merge).
    fn distinct_terms(&self) -> impl Iterator<Item = &str> {
        let mut old = self
            .old
            .iter()
            .flat_map(|d| d.terms.iter())
            .map(|(t, _)| t.as_str())
            .peekable();
        let mut new = self
            .new
            .iter()
            .flat_map(|d| d.terms.iter())
            .map(|(t, _)| t.as_str())
            .peekable();
        std::iter::from_fn(move || match (old.peek(), new.peek()) {
            (Some(a), Some(b)) if a == b => {
                new.next();
                old.next()
            }
            (Some(a), Some(b)) if a < b => old.next(),
            (Some(_), Some(_)) | (None, Some(_)) => new.next(),
            (Some(_), None) => old.next(),
            (None, None) => None,
        })
    }
}

/// Recent changes, oldest first.
///
/// Invariant: `log`, `docs` and `by_term` describe the same changes: every
/// change in `log` is in its document's queue (in the same order), and
/// `by_term[t]` holds `(ts, id)` of exactly the changes whose old or new
/// state has `t`, in commit order, so a search finds the changes of its
/// terms without looking at any other.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    log: VecDeque<Arc<Change>>,
    docs: HashMap<InternalId, VecDeque<Arc<Change>>>,
    by_term: HashMap<String, Vec<(u64, InternalId)>>,
}

impl Overlay {
    /// Appends a change (timestamps never decrease).
    pub(crate) fn push(&mut self, change: Change) {
        let change = Arc::new(change);
        for term in change.distinct_terms() {
            let key = (change.ts, change.id);
            match self.by_term.get_mut(term) {
                Some(changes) => changes.push(key),
                None => {
                    self.by_term.insert(term.to_string(), vec![key]);
                }
            }
        }
        self.docs
            .entry(change.id)
            .or_default()
            .push_back(change.clone());
        self.log.push_back(change);
    }

    /// How many changes are held.
    pub(crate) fn len(&self) -> usize {
        self.log.len()
    }

    /// Changes after `ts`, newest first.
    pub(crate) fn newer_than(&self, ts: u64) -> impl Iterator<Item = &Change> {
        self.log
            .iter()
            .rev()
            .take_while(move |c| c.ts > ts)
            .map(|c| &**c)
    }

    /// Changes in `(after, through]`, oldest first.
    pub(crate) fn between(&self, after: u64, through: u64) -> impl Iterator<Item = &Change> {
        let start = self.log.partition_point(|c| c.ts <= after);
        self.log
            .range(start..)
            .take_while(move |c| c.ts <= through)
            .map(|c| &**c)
    }

    /// Documents with a change in `(after, through]` whose old or new state
    /// has one of `terms`.
    pub(crate) fn concerning(
        &self,
        terms: &[String],
        after: u64,
        through: u64,
    ) -> HashSet<InternalId> {
        let mut out = HashSet::new();
        for term in terms {
            if let Some(changes) = self.by_term.get(term) {
                let start = changes.partition_point(|(ts, _)| *ts <= after);
                out.extend(
                    changes[start..]
                        .iter()
                        .take_while(|(ts, _)| *ts <= through)
                        .map(|(_, id)| *id),
                );
            }
        }
        out
    }

    /// The state of `id` after its last change in `(after, through]`;
    /// `None` when it has no change there (it is as it was at `after`).
    pub(crate) fn state_between(
        &self,
        id: &InternalId,
        after: u64,
        through: u64,
    ) -> Option<Option<Arc<IndexedDoc>>> {
        self.docs
            .get(id)?
            .iter()
            .rev()
            .find(|c| c.ts > after && c.ts <= through)
            .map(|c| c.new.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(n: u8, words: &[&str]) -> Arc<IndexedDoc> {
        Arc::new(IndexedDoc {
            id: InternalId([n; 16]),
            creation_time: f64::from(n),
            text: words.join(" "),
            terms: words.iter().map(|w| (w.to_string(), 1)).collect(),
            length: words.len() as u32,
            filters: Vec::new(),
        })
    }

    #[test]
    fn distinct_terms_merge_old_and_new() {
        let change = Change {
            ts: 1,
            id: InternalId([1; 16]),
            old: Some(doc(1, &["a", "c", "d"])),
            new: Some(doc(1, &["b", "c", "e"])),
        };
        assert_eq!(
            change.distinct_terms().collect::<Vec<_>>(),
            ["a", "b", "c", "d", "e"]
        );
        let insert = Change {
            old: None,
            ..change
        };
        assert_eq!(insert.distinct_terms().collect::<Vec<_>>(), ["b", "c", "e"]);
    }

    #[test]
    fn finds_changes_by_term_and_splits_them_by_time() {
        let mut o = Overlay::default();
        let a = InternalId([1; 16]);
        o.push(Change {
            ts: 10,
            id: a,
            old: None,
            new: Some(doc(1, &["apple", "pie"])),
        });
        o.push(Change {
            ts: 20,
            id: a,
            old: Some(doc(1, &["apple", "pie"])),
            new: Some(doc(1, &["banana"])),
        });
        assert!(o.concerning(&["pie".into()], 0, 25).contains(&a));
        assert!(o.concerning(&["banana".into()], 0, 25).contains(&a));
        assert!(o.concerning(&["cherry".into()], 0, 25).is_empty());
        // Only changes inside the window count.
        assert!(o.concerning(&["apple".into()], 0, 9).is_empty());
        assert!(o.concerning(&["banana".into()], 0, 19).is_empty());
        assert!(o.concerning(&["apple".into()], 10, 25).contains(&a));
        assert!(o.concerning(&["apple".into()], 20, 25).is_empty());
        assert_eq!(
            o.state_between(&a, 0, 15).flatten().map(|d| d.text.clone()),
            Some("apple pie".into())
        );
        assert_eq!(
            o.state_between(&a, 0, 25).flatten().map(|d| d.text.clone()),
            Some("banana".into())
        );
        assert!(o.state_between(&a, 20, 25).is_none());
        assert_eq!(o.newer_than(15).count(), 1);
        assert_eq!(o.between(5, 15).count(), 1);
        assert_eq!(o.len(), 2);
    }
}
