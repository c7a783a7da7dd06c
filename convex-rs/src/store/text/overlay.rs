//! The changes a search index has seen since its oldest retained tantivy
//! generation: per document, in commit order, and by term, so a search finds
//! the few recently written documents that concern its terms.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
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
    fn distinct_terms(&self) -> impl Iterator<Item = &str> {
        let old = self.old.iter().flat_map(|d| d.terms.iter());
        let new = self.new.iter().flat_map(|d| d.terms.iter());
        let mut seen = HashSet::new();
        old.chain(new)
            .map(|(t, _)| t.as_str())
            .filter(move |t| seen.insert(*t))
    }
}

/// Recent changes, oldest first.
///
/// Invariant: `log`, `docs` and `by_term` describe the same changes: every
/// change in `log` is in its document's queue (in the same order), and
/// `by_term[t][id]` counts the changes of `id` whose old or new state has `t`.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    log: VecDeque<Arc<Change>>,
    docs: HashMap<InternalId, VecDeque<Arc<Change>>>,
    by_term: BTreeMap<String, HashMap<InternalId, u32>>,
}

impl Overlay {
    /// Appends a change (timestamps never decrease).
    pub(crate) fn push(&mut self, change: Change) {
        let change = Arc::new(change);
        for term in change.distinct_terms() {
            *self
                .by_term
                .entry(term.to_string())
                .or_default()
                .entry(change.id)
                .or_default() += 1;
        }
        self.docs
            .entry(change.id)
            .or_default()
            .push_back(change.clone());
        self.log.push_back(change);
    }

    /// Forgets every change at or before `ts`.
    pub(crate) fn prune_through(&mut self, ts: u64) {
        while self.log.front().is_some_and(|c| c.ts <= ts) {
            let Some(change) = self.log.pop_front() else {
                break;
            };
            if let Some(queue) = self.docs.get_mut(&change.id) {
                queue.pop_front();
                if queue.is_empty() {
                    self.docs.remove(&change.id);
                }
            }
            for term in change.distinct_terms() {
                let Some(ids) = self.by_term.get_mut(term) else {
                    continue;
                };
                if let Some(n) = ids.get_mut(&change.id) {
                    *n -= 1;
                    if *n == 0 {
                        ids.remove(&change.id);
                    }
                }
                if ids.is_empty() {
                    self.by_term.remove(term);
                }
            }
        }
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

    /// Documents with a held change whose old or new state has one of
    /// `terms` or a term starting with `prefix`.
    pub(crate) fn concerning(&self, terms: &[String], prefix: Option<&str>) -> HashSet<InternalId> {
        let mut out = HashSet::new();
        for term in terms {
            if let Some(ids) = self.by_term.get(term) {
                out.extend(ids.keys().copied());
            }
        }
        if let Some(prefix) = prefix {
            for (_, ids) in self
                .by_term
                .range::<str, _>((
                    std::ops::Bound::Included(prefix),
                    std::ops::Bound::Unbounded,
                ))
                .take_while(|(t, _)| t.starts_with(prefix))
            {
                out.extend(ids.keys().copied());
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
    fn finds_changes_by_term_and_forgets_them() {
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
        assert!(o.concerning(&["pie".into()], None).contains(&a));
        assert!(o.concerning(&[], Some("ban")).contains(&a));
        assert!(o.concerning(&["cherry".into()], Some("c")).is_empty());
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
        o.prune_through(10);
        assert_eq!(o.len(), 1);
        assert!(o.concerning(&[], Some("ban")).contains(&a));
        o.prune_through(20);
        assert_eq!(o.len(), 0);
        assert!(o.by_term.is_empty() && o.docs.is_empty());
    }
}
