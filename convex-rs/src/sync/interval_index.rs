//! Finds the subscriptions whose read intervals contain a written key.
//!
//! Per index, point intervals (a `get`, or a unique-key lookup) live in a hash
//! map keyed by the exact key; every other interval lives in a treap ordered
//! by start key and augmented with the largest end in each subtree, so a
//! stabbing lookup costs `O(log n + matches)` however many subscriptions exist.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::store::{IndexId, KeyInterval};

/// Identifies a subscription (a shared query execution) in the hub.
pub type SubscriptionId = u64;

/// An upper bound; `Unbounded` sorts after every key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Bounded(Vec<u8>),
    Unbounded,
}

impl End {
    fn from(end: &Option<Vec<u8>>) -> End {
        match end {
            Some(e) => End::Bounded(e.clone()),
            None => End::Unbounded,
        }
    }

    /// Whether the end lies strictly after `key`.
    fn after(&self, key: &[u8]) -> bool {
        match self {
            End::Bounded(e) => e.as_slice() > key,
            End::Unbounded => true,
        }
    }
}

struct Node {
    start: Vec<u8>,
    id: SubscriptionId,
    end: End,
    max_end: End,
    priority: u64,
    left: Option<Box<Node>>,
    right: Option<Box<Node>>,
}

impl Node {
    fn update(&mut self) {
        let mut max = self.end.clone();
        for child in [&self.left, &self.right].into_iter().flatten() {
            if child.max_end > max {
                max = child.max_end.clone();
            }
        }
        self.max_end = max;
    }

    fn key(&self) -> (&[u8], SubscriptionId) {
        (&self.start, self.id)
    }
}

fn rotate_right(mut node: Box<Node>) -> Box<Node> {
    let Some(mut left) = node.left.take() else {
        return node;
    };
    node.left = left.right.take();
    node.update();
    left.right = Some(node);
    left.update();
    left
}

fn rotate_left(mut node: Box<Node>) -> Box<Node> {
    let Some(mut right) = node.right.take() else {
        return node;
    };
    node.right = right.left.take();
    node.update();
    right.left = Some(node);
    right.update();
    right
}

fn insert(node: Option<Box<Node>>, new: Box<Node>) -> Box<Node> {
    let Some(mut node) = node else { return new };
    if new.key() < node.key() {
        let child = insert(node.left.take(), new);
        let rotate = child.priority > node.priority;
        node.left = Some(child);
        node.update();
        if rotate { rotate_right(node) } else { node }
    } else {
        let child = insert(node.right.take(), new);
        let rotate = child.priority > node.priority;
        node.right = Some(child);
        node.update();
        if rotate { rotate_left(node) } else { node }
    }
}

fn merge(left: Option<Box<Node>>, right: Option<Box<Node>>) -> Option<Box<Node>> {
    match (left, right) {
        (None, r) => r,
        (l, None) => l,
        (Some(mut l), Some(mut r)) => {
            if l.priority > r.priority {
                l.right = merge(l.right.take(), Some(r));
                l.update();
                Some(l)
            } else {
                r.left = merge(Some(l), r.left.take());
                r.update();
                Some(r)
            }
        }
    }
}

fn remove(node: Option<Box<Node>>, key: (&[u8], SubscriptionId)) -> Option<Box<Node>> {
    let mut node = node?;
    match key.cmp(&node.key()) {
        std::cmp::Ordering::Less => {
            node.left = remove(node.left.take(), key);
            node.update();
            Some(node)
        }
        std::cmp::Ordering::Greater => {
            node.right = remove(node.right.take(), key);
            node.update();
            Some(node)
        }
        std::cmp::Ordering::Equal => merge(node.left.take(), node.right.take()),
    }
}

fn stab(node: &Option<Box<Node>>, key: &[u8], out: &mut HashSet<SubscriptionId>) {
    let Some(node) = node else { return };
    if !node.max_end.after(key) {
        return;
    }
    stab(&node.left, key, out);
    if node.start.as_slice() <= key {
        if node.end.after(key) {
            out.insert(node.id);
        }
        stab(&node.right, key, out);
    }
}

#[derive(Default)]
struct PerIndex {
    points: HashMap<Vec<u8>, HashSet<SubscriptionId>>,
    /// Intervals that are "every key starting with P" (an equality on an
    /// index prefix, e.g. `unique()` on `by_token`), keyed by P.
    prefixes: HashMap<Vec<u8>, HashSet<SubscriptionId>>,
    /// How many prefixes of each length exist, so a lookup probes only those lengths.
    prefix_lengths: BTreeMap<usize, usize>,
    ranges: Option<Box<Node>>,
    range_count: usize,
}

impl PerIndex {
    fn is_empty(&self) -> bool {
        self.points.is_empty() && self.prefixes.is_empty() && self.ranges.is_none()
    }
}

/// Read intervals of every subscription, per index, for stabbing lookups.
#[derive(Default)]
pub struct IntervalIndex {
    indexes: HashMap<IndexId, PerIndex>,
    /// A cheap xorshift state for treap priorities (no need for real randomness).
    seed: u64,
}

fn is_prefix(interval: &KeyInterval) -> bool {
    !interval.start.is_empty()
        && interval.end.is_some()
        && crate::value::prefix_successor(&interval.start) == interval.end
}

fn is_point(interval: &KeyInterval) -> bool {
    match &interval.end {
        Some(end) => {
            end.len() == interval.start.len() + 1
                && end.starts_with(&interval.start)
                && end.last() == Some(&0)
        }
        None => false,
    }
}

impl IntervalIndex {
    /// An empty index.
    pub fn new() -> Self {
        IntervalIndex {
            indexes: HashMap::new(),
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }

    fn next_priority(&mut self) -> u64 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        x
    }

    /// Adds `interval` of `index` for subscription `id`.
    pub fn insert(&mut self, index: IndexId, interval: &KeyInterval, id: SubscriptionId) {
        let priority = self.next_priority();
        let per = self.indexes.entry(index).or_default();
        if is_point(interval) {
            per.points
                .entry(interval.start.clone())
                .or_default()
                .insert(id);
            return;
        }
        if is_prefix(interval) {
            if per
                .prefixes
                .entry(interval.start.clone())
                .or_default()
                .insert(id)
            {
                *per.prefix_lengths.entry(interval.start.len()).or_default() += 1;
            }
            return;
        }
        let end = End::from(&interval.end);
        let node = Box::new(Node {
            start: interval.start.clone(),
            id,
            max_end: end.clone(),
            end,
            priority,
            left: None,
            right: None,
        });
        per.ranges = Some(insert(per.ranges.take(), node));
        per.range_count += 1;
    }

    /// Removes an interval previously added with [`insert`](Self::insert).
    pub fn remove(&mut self, index: IndexId, interval: &KeyInterval, id: SubscriptionId) {
        let Some(per) = self.indexes.get_mut(&index) else {
            return;
        };
        if is_point(interval) {
            if let Some(ids) = per.points.get_mut(&interval.start) {
                ids.remove(&id);
                if ids.is_empty() {
                    per.points.remove(&interval.start);
                }
            }
        } else if is_prefix(interval) {
            if let Some(ids) = per.prefixes.get_mut(&interval.start)
                && ids.remove(&id)
            {
                if ids.is_empty() {
                    per.prefixes.remove(&interval.start);
                }
                let len = interval.start.len();
                if let Some(count) = per.prefix_lengths.get_mut(&len) {
                    *count -= 1;
                    if *count == 0 {
                        per.prefix_lengths.remove(&len);
                    }
                }
            }
        } else {
            per.ranges = remove(per.ranges.take(), (&interval.start, id));
            per.range_count = per.range_count.saturating_sub(1);
        }
        if per.is_empty() {
            self.indexes.remove(&index);
        }
    }

    /// Adds every subscription whose intervals of `index` contain `key` to `out`.
    pub fn stab(&self, index: IndexId, key: &[u8], out: &mut HashSet<SubscriptionId>) {
        let Some(per) = self.indexes.get(&index) else {
            return;
        };
        if let Some(ids) = per.points.get(key) {
            out.extend(ids);
        }
        for &len in per.prefix_lengths.keys() {
            if len > key.len() {
                break;
            }
            if let Some(ids) = per.prefixes.get(&key[..len]) {
                out.extend(ids);
            }
        }
        stab(&per.ranges, key, out);
    }

    /// Number of intervals stored.
    pub fn len(&self) -> usize {
        self.indexes
            .values()
            .map(|p| {
                p.points.values().map(HashSet::len).sum::<usize>()
                    + p.prefixes.values().map(HashSet::len).sum::<usize>()
                    + p.range_count
            })
            .sum()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.indexes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0u8..4, 0..3)
    }

    fn interval() -> impl Strategy<Value = KeyInterval> {
        prop_oneof![
            key().prop_map(|k| KeyInterval::point(&k)),
            key().prop_map(|k| KeyInterval::prefix(&k)),
            (key(), proptest::option::of(key()))
                .prop_map(|(start, end)| KeyInterval { start, end }),
        ]
    }

    proptest! {
        #[test]
        fn stabbing_matches_a_linear_scan(
            entries in proptest::collection::vec((0u32..3, interval()), 0..40),
            removals in proptest::collection::vec(any::<proptest::sample::Index>(), 0..15),
            probes in proptest::collection::vec((0u32..3, key()), 1..30),
        ) {
            let mut index = IntervalIndex::new();
            let mut live: Vec<(IndexId, KeyInterval, SubscriptionId)> = Vec::new();
            for (i, (ix, interval)) in entries.into_iter().enumerate() {
                let id = i as SubscriptionId;
                index.insert(IndexId(ix), &interval, id);
                live.push((IndexId(ix), interval, id));
            }
            for r in removals {
                if live.is_empty() { break; }
                let (ix, interval, id) = live.remove(r.index(live.len()));
                index.remove(ix, &interval, id);
            }
            prop_assert_eq!(index.len(), live.len());
            for (ix, probe) in probes {
                let mut got = HashSet::new();
                index.stab(IndexId(ix), &probe, &mut got);
                let want: HashSet<SubscriptionId> = live
                    .iter()
                    .filter(|(i, interval, _)| *i == IndexId(ix) && interval.contains(&probe))
                    .map(|(_, _, id)| *id)
                    .collect();
                prop_assert_eq!(got, want);
            }
        }
    }
}
