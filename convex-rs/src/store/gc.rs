//! Garbage collection of old revisions and index entry versions.
//!
//! Every write appends a revision; without collection a document patched a
//! million times keeps a million revisions. A revision (or index entry
//! version) is garbage once no snapshot that may still be read can see it:
//! it was replaced by a newer one, or is a deletion, at or before the
//! *floor*. The floor trails the newest commit by the retention window and
//! never passes a snapshot a live transaction reads at ([`Snapshots`]). Reads
//! asked for below the floor are refused with
//! [`StoreError::SnapshotExpired`] instead of answering wrongly.
//!
//! Collection walks the rows written since the last pass in short chunks on
//! the writer's connection, so a commit waits at most one chunk.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use super::persistence::GarbageCollected;
use super::{StoreError, StoreInner, wall_clock_nanos};

/// How long old revisions stay readable, and how often they are collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Snapshots this much older than the newest commit may be collected
    /// (reads at them are refused). Default: 1 hour.
    pub window: Duration,
    /// Time between collection passes. Default: 30 seconds.
    pub interval: Duration,
    /// Revisions examined per chunk (one short write transaction). Default: 2000.
    pub chunk: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            window: Duration::from_secs(3600),
            interval: Duration::from_secs(30),
            chunk: 2000,
        }
    }
}

/// What one collection pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// The floor after the pass: the oldest snapshot still readable.
    pub floor: u64,
    /// Document revisions deleted.
    pub revisions: u64,
    /// Index entry versions deleted.
    pub index_entries: u64,
    /// Chunks (write transactions) the pass took.
    pub chunks: u64,
}

/// The snapshots transactions are reading at, and the floor below which
/// nothing may be read any more.
#[derive(Debug)]
pub(crate) struct Snapshots {
    state: Mutex<SnapshotState>,
}

#[derive(Debug)]
struct SnapshotState {
    floor: u64,
    /// Snapshot timestamp → transactions reading at it.
    pinned: BTreeMap<u64, usize>,
}

/// Keeps a snapshot readable while it is held (dropped with its transaction).
#[derive(Debug)]
pub(crate) struct SnapshotPin {
    snapshots: Arc<Snapshots>,
    ts: u64,
}

impl Snapshots {
    pub(crate) fn new(floor: u64) -> Arc<Snapshots> {
        Arc::new(Snapshots {
            state: Mutex::new(SnapshotState {
                floor,
                pinned: BTreeMap::new(),
            }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SnapshotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The oldest snapshot that may be read.
    pub(crate) fn floor(&self) -> u64 {
        self.state().floor
    }

    /// Pins `ts` for reading, unless it is below the floor.
    pub(crate) fn pin(self: &Arc<Self>, ts: u64) -> Result<SnapshotPin, StoreError> {
        let mut state = self.state();
        if ts < state.floor {
            return Err(StoreError::SnapshotExpired {
                requested: ts,
                oldest: state.floor,
            });
        }
        *state.pinned.entry(ts).or_insert(0) += 1;
        Ok(SnapshotPin {
            snapshots: self.clone(),
            ts,
        })
    }

    /// Pins the newest snapshot, which is never below the floor (the floor
    /// trails the newest commit).
    pub(crate) fn pin_latest(self: &Arc<Self>, ts: u64) -> SnapshotPin {
        let mut state = self.state();
        *state.pinned.entry(ts).or_insert(0) += 1;
        SnapshotPin {
            snapshots: self.clone(),
            ts,
        }
    }

    /// Raises the floor towards `candidate`, but not past the oldest pinned
    /// snapshot; it never goes down. Returns the floor.
    pub(crate) fn raise_floor(&self, candidate: u64) -> u64 {
        let mut state = self.state();
        let limit = state
            .pinned
            .keys()
            .next()
            .map_or(candidate, |oldest| candidate.min(*oldest));
        state.floor = state.floor.max(limit);
        state.floor
    }
}

impl Drop for SnapshotPin {
    fn drop(&mut self) {
        let mut state = self.snapshots.state();
        if let Some(count) = state.pinned.get_mut(&self.ts) {
            *count -= 1;
            if *count == 0 {
                state.pinned.remove(&self.ts);
            }
        }
    }
}

/// A backend's statements for one collection chunk, in its SQL dialect.
/// Each takes its `i64` parameters in the order listed.
pub(super) struct GcSql {
    /// How far collection got (the stored `gc_ts`), if it ran before.
    pub(super) collected_through: &'static str,
    /// `(after, floor, offset)`: the timestamp of the revision `offset`
    /// places after `after`, at or below `floor`, if there is one.
    pub(super) revision_ts_after: &'static str,
    /// `(after, through)`: deletes the revisions that rows written in
    /// `(after, through]` make invisible from `through` on (each new
    /// revision's predecessor, and deletions).
    pub(super) delete_revisions: &'static str,
    /// `(after, through)`: the same for index entry versions (every older
    /// version of a key that got a new one in the range, and removals).
    pub(super) delete_index_entries: &'static str,
    /// `(through)`: stores `through` as how far collection got.
    pub(super) record: &'static str,
}

/// One write transaction of a backend, for [`collect_chunk`] (the backend
/// adds its own fencing: the lease on PostgreSQL).
#[async_trait::async_trait]
pub(super) trait GcTx: Send {
    /// Runs `sql` with `params` bound in order; the first column of the
    /// first row, if there is a row.
    async fn fetch_i64(
        &mut self,
        sql: &'static str,
        params: &[i64],
    ) -> Result<Option<i64>, StoreError>;
    /// Runs `sql` with `params` bound in order; the rows it changed.
    async fn execute(&mut self, sql: &'static str, params: &[i64]) -> Result<u64, StoreError>;
}

/// One chunk of [`Persistence::collect_garbage`](super::Persistence::collect_garbage),
/// the same on every backend: from where the last chunk stopped up to the
/// commit holding the `limit`-th revision after it (whole commits: they
/// share a timestamp), or up to `floor`.
pub(super) async fn collect_chunk(
    tx: &mut dyn GcTx,
    sql: &GcSql,
    floor: u64,
    limit: usize,
) -> Result<GarbageCollected, StoreError> {
    use super::catalog_sync::{ts_i64, ts_u64};
    let after = tx
        .fetch_i64(sql.collected_through, &[])
        .await?
        .map_or(0, ts_u64);
    if floor <= after {
        return Ok(GarbageCollected {
            through: after,
            ..GarbageCollected::default()
        });
    }
    let offset = i64::try_from(limit.max(1)).unwrap_or(i64::MAX);
    let through = tx
        .fetch_i64(
            sql.revision_ts_after,
            &[ts_i64(after), ts_i64(floor), offset],
        )
        .await?
        .map_or(floor, ts_u64);
    let range = [ts_i64(after), ts_i64(through)];
    let revisions = tx.execute(sql.delete_revisions, &range).await?;
    let index_entries = tx.execute(sql.delete_index_entries, &range).await?;
    tx.execute(sql.record, &[ts_i64(through)]).await?;
    Ok(GarbageCollected {
        through,
        revisions,
        index_entries,
    })
}

/// One collection pass: raises the floor to `window` before the newest
/// commit (or the oldest live snapshot, if older), then deletes what became
/// garbage below it, chunk by chunk.
pub(crate) async fn collect(
    inner: &StoreInner,
    window: Duration,
    chunk: usize,
) -> Result<GcReport, StoreError> {
    // Timestamps are wall-clock nanoseconds: the window is measured back
    // from now (never past the newest commit, which stays readable).
    let latest = *inner.durable_ts.borrow();
    let window = u64::try_from(window.as_nanos()).unwrap_or(u64::MAX);
    let candidate = wall_clock_nanos().saturating_sub(window).min(latest);
    let floor = inner.snapshots.raise_floor(candidate);
    let mut report = GcReport {
        floor,
        ..GcReport::default()
    };
    loop {
        let started = Instant::now();
        let GarbageCollected {
            through,
            revisions,
            index_entries,
        } = inner.persistence.collect_garbage(floor, chunk).await?;
        metrics::histogram!("convex_gc_chunk_seconds").record(started.elapsed().as_secs_f64());
        metrics::counter!("convex_gc_revisions_deleted_total").increment(revisions);
        metrics::counter!("convex_gc_index_entries_deleted_total").increment(index_entries);
        report.revisions += revisions;
        report.index_entries += index_entries;
        report.chunks += 1;
        if through >= floor {
            return Ok(report);
        }
        // Let queued commits have the writer between chunks.
        tokio::task::yield_now().await;
    }
}

/// Runs [`collect`] every `retention.interval` until the store is dropped or
/// closed (`closing` changes or errs).
pub(crate) fn spawn(
    store: Weak<StoreInner>,
    retention: Retention,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(retention.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = closing.changed() => return,
            }
            let Some(inner) = store.upgrade() else { return };
            match collect(&inner, retention.window, retention.chunk).await {
                Ok(report) if report.revisions + report.index_entries > 0 => tracing::debug!(
                    revisions = report.revisions,
                    index_entries = report.index_entries,
                    chunks = report.chunks,
                    "collected old revisions"
                ),
                Ok(_) => {}
                Err(StoreError::Closed) => return,
                Err(e) => tracing::warn!(error = %e, "garbage collection failed; retrying later"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_stops_at_the_oldest_pinned_snapshot_and_never_goes_down() {
        let snapshots = Snapshots::new(10);
        assert!(matches!(
            snapshots.pin(5),
            Err(StoreError::SnapshotExpired {
                requested: 5,
                oldest: 10
            })
        ));
        let old = snapshots.pin(20).expect("above the floor");
        let newer = snapshots.pin(30).expect("above the floor");
        assert_eq!(snapshots.raise_floor(100), 20);
        drop(old);
        assert_eq!(snapshots.raise_floor(100), 30);
        drop(newer);
        assert_eq!(snapshots.raise_floor(100), 100);
        assert_eq!(snapshots.raise_floor(50), 100);
        assert!(snapshots.pin(99).is_err());
        assert!(snapshots.pin(100).is_ok());
    }

    #[test]
    fn a_snapshot_pinned_twice_stays_pinned_until_both_are_dropped() {
        let snapshots = Snapshots::new(0);
        let a = snapshots.pin(7).expect("pinned");
        let b = snapshots.pin(7).expect("pinned");
        drop(a);
        assert_eq!(snapshots.raise_floor(50), 7);
        drop(b);
        assert_eq!(snapshots.raise_floor(50), 50);
    }
}
