//! The vector searches of subscribed queries, so a round can find the
//! subscriptions a commit's vector writes could change without re-running
//! anything: each written vector is compared with every subscribed search of
//! its index (a dot product per search; see the book's performance page for
//! the cost per commit).

use std::collections::{HashMap, HashSet};

use super::interval_index::SubscriptionId;
use crate::store::{IndexId, VectorRead, VectorWrite};

/// See the module documentation.
#[derive(Default)]
pub(crate) struct VectorWatch {
    by_index: HashMap<IndexId, HashMap<SubscriptionId, Vec<VectorRead>>>,
}

impl VectorWatch {
    /// Watches `reads` for subscription `id` (replacing nothing: remove the
    /// old reads first).
    pub(crate) fn insert(&mut self, id: SubscriptionId, reads: &[VectorRead]) {
        for read in reads {
            self.by_index
                .entry(read.index())
                .or_default()
                .entry(id)
                .or_default()
                .push(read.clone());
        }
    }

    /// Stops watching `reads` of subscription `id`.
    pub(crate) fn remove(&mut self, id: SubscriptionId, reads: &[VectorRead]) {
        for read in reads {
            if let Some(subs) = self.by_index.get_mut(&read.index()) {
                subs.remove(&id);
                if subs.is_empty() {
                    self.by_index.remove(&read.index());
                }
            }
        }
    }

    /// Adds to `out` every subscription whose result `write` could change.
    pub(crate) fn hits(&self, write: &VectorWrite, out: &mut HashSet<SubscriptionId>) {
        let Some(subs) = self.by_index.get(&write.index()) else {
            return;
        };
        for (id, reads) in subs {
            if !out.contains(id) && reads.iter().any(|r| r.is_hit_by(write)) {
                out.insert(*id);
            }
        }
    }
}
