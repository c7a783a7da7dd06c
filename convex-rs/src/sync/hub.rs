//! The subscription hub: runs each distinct subscribed query once, keeps its
//! result current as commits land, and tells the sessions that care.
//!
//! The hub works in rounds. A round takes every commit received so far (up to
//! timestamp `T`), finds the subscriptions whose read sets contain a written
//! key (a stabbing lookup in the [`IntervalIndex`], not a scan of all
//! subscriptions), re-runs exactly those, plus any new subscriptions, at `T`,
//! and then publishes all results together as "valid at `T`".
//!
//! Architecture Invariant: after a round, every result in the hub is the
//! result of running its query at the hub's timestamp. Results not re-run are
//! still valid because no commit since their run wrote inside their read set.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::StreamExt;
use serde_json::Value as Json;
use tokio::sync::Notify;
use tokio::sync::broadcast::error::TryRecvError;

use super::interval_index::{IntervalIndex, SubscriptionId};
use super::vector_watch::VectorWatch;
use crate::function::{Caller, Identity, QueryOutcome, Runner};
use crate::store::{CommitInfo, IndexId, KeyInterval, VectorRead};
use crate::value::Value;

/// How many queries a round runs at once.
const ROUND_CONCURRENCY: usize = 32;

/// A query's result as clients see it.
#[derive(Debug, PartialEq)]
pub struct QueryResult {
    /// The encoded value, or the error message and ConvexError data.
    pub value: Result<Json, (String, Option<Json>)>,
    /// Log lines of the run.
    pub log_lines: Vec<String>,
    /// The journal for re-subscribing.
    pub journal: Option<String>,
    /// Hash of all of the above, to send only changed results.
    pub hash: u64,
}

impl QueryResult {
    /// Builds a result and its hash.
    pub fn new(
        value: Result<Json, (String, Option<Json>)>,
        log_lines: Vec<String>,
        journal: Option<String>,
    ) -> Self {
        let mut hasher = DefaultHasher::new();
        match &value {
            Ok(v) => (0u8, v.to_string()).hash(&mut hasher),
            Err((m, d)) => (1u8, m, d.as_ref().map(Json::to_string)).hash(&mut hasher),
        }
        log_lines.hash(&mut hasher);
        journal.hash(&mut hasher);
        QueryResult {
            value,
            log_lines,
            journal,
            hash: hasher.finish(),
        }
    }

    fn from_outcome(outcome: &QueryOutcome) -> Self {
        let value = match &outcome.outcome.result {
            Ok(v) => Ok(v.to_json()),
            Err(f) => Err((f.message.clone(), f.data.as_ref().map(Value::to_json))),
        };
        QueryResult::new(
            value,
            outcome.outcome.log_lines.clone(),
            outcome.journal.clone(),
        )
    }
}

/// What makes two subscriptions the same execution.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct QueryKey {
    path: String,
    args: String,
    identity: String,
    journal: Option<String>,
}

fn identity_key(identity: &Identity) -> String {
    match identity {
        Identity::Unauthenticated => String::new(),
        // Every claim counts: two tokens of one user with different claims
        // (a changed name) must not share a result that shows them.
        Identity::User(u) => format!("user:{}", u.to_value().to_json()),
        Identity::Admin => "admin".to_string(),
        Identity::ActingAs(u) => format!("admin-as:{}", u.to_value().to_json()),
    }
}

struct Subscription {
    key: QueryKey,
    args: Value,
    identity: Identity,
    /// The journal re-runs start from (the first run's output once known).
    journal: Option<String>,
    result: Option<Arc<QueryResult>>,
    intervals: Vec<(IndexId, KeyInterval)>,
    vectors: Vec<VectorRead>,
    watchers: Vec<Arc<Notify>>,
}

struct HubState {
    ts: u64,
    subscriptions: HashMap<SubscriptionId, Subscription>,
    by_key: HashMap<QueryKey, SubscriptionId>,
    intervals: IntervalIndex,
    vectors: VectorWatch,
    pending: HashSet<SubscriptionId>,
    ts_waiters: Vec<(u64, Arc<Notify>)>,
    next_id: SubscriptionId,
}

/// Statistics of the last round, for benchmarks and logs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RoundStats {
    /// Commits the round absorbed.
    pub commits: usize,
    /// Subscriptions it re-ran or ran for the first time.
    pub executed: usize,
    /// Subscriptions whose result changed.
    pub changed: usize,
    /// Time spent finding invalidated subscriptions, in nanoseconds.
    pub invalidation_nanos: u64,
}

struct HubInner {
    runner: Runner,
    state: Mutex<HubState>,
    wake: Notify,
    stop: Notify,
    last_round: Mutex<RoundStats>,
    /// Query executions since the hub started (first runs and re-runs).
    executions: std::sync::atomic::AtomicU64,
}

/// Handle to the hub. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

impl Hub {
    /// Starts a hub over `runner`'s store and spawns its round loop.
    pub fn start(runner: Runner) -> Hub {
        let commits = runner.store().subscribe_commits();
        let ts = runner.store().latest_ts();
        let hub = Hub {
            inner: Arc::new(HubInner {
                runner,
                state: Mutex::new(HubState {
                    ts,
                    subscriptions: HashMap::new(),
                    by_key: HashMap::new(),
                    intervals: IntervalIndex::new(),
                    vectors: VectorWatch::default(),
                    pending: HashSet::new(),
                    ts_waiters: Vec::new(),
                    next_id: 1,
                }),
                wake: Notify::new(),
                stop: Notify::new(),
                last_round: Mutex::new(RoundStats::default()),
                executions: std::sync::atomic::AtomicU64::new(0),
            }),
        };
        tokio::spawn(hub.clone().run(commits));
        hub
    }

    fn state(&self) -> MutexGuard<'_, HubState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the round loop and drops every subscription (at server shutdown).
    pub fn stop(&self) {
        self.inner.stop.notify_one();
        let mut state = self.state();
        state.subscriptions.clear();
        state.by_key.clear();
        state.pending.clear();
        state.intervals = IntervalIndex::new();
        state.vectors = VectorWatch::default();
        state.ts_waiters.clear();
    }

    /// The timestamp at which every result in the hub is valid.
    pub fn ts(&self) -> u64 {
        self.state().ts
    }

    /// Statistics of the last round.
    pub fn last_round(&self) -> RoundStats {
        *self
            .inner
            .last_round
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// How many query executions (first runs and re-runs) the hub has made
    /// since it started: what invalidation costs, for tests and metrics.
    pub fn executions(&self) -> u64 {
        self.inner
            .executions
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of distinct subscriptions (shared executions).
    pub fn subscription_count(&self) -> usize {
        self.state().subscriptions.len()
    }

    /// Subscribes `watcher` to the query; identical subscriptions share one
    /// execution. The result appears after the next round.
    pub fn subscribe(
        &self,
        path: &str,
        args: Value,
        identity: Identity,
        journal: Option<String>,
        watcher: &Arc<Notify>,
    ) -> SubscriptionId {
        let key = QueryKey {
            path: path.to_string(),
            args: args.to_json().to_string(),
            identity: identity_key(&identity),
            journal: journal.clone(),
        };
        let mut state = self.state();
        if let Some(&id) = state.by_key.get(&key)
            && let Some(sub) = state.subscriptions.get_mut(&id)
        {
            sub.watchers.push(watcher.clone());
            return id;
        }
        let id = state.next_id;
        state.next_id += 1;
        state.by_key.insert(key.clone(), id);
        state.subscriptions.insert(
            id,
            Subscription {
                key,
                args,
                identity,
                journal,
                result: None,
                intervals: Vec::new(),
                vectors: Vec::new(),
                watchers: vec![watcher.clone()],
            },
        );
        state.pending.insert(id);
        drop(state);
        self.inner.wake.notify_one();
        id
    }

    /// Drops one `watcher` reference to a subscription; the last one removes it.
    pub fn unsubscribe(&self, id: SubscriptionId, watcher: &Arc<Notify>) {
        let mut state = self.state();
        let Some(sub) = state.subscriptions.get_mut(&id) else {
            return;
        };
        if let Some(pos) = sub.watchers.iter().position(|w| Arc::ptr_eq(w, watcher)) {
            sub.watchers.swap_remove(pos);
        }
        if !sub.watchers.is_empty() {
            return;
        }
        if let Some(sub) = state.subscriptions.remove(&id) {
            if state.by_key.get(&sub.key) == Some(&id) {
                state.by_key.remove(&sub.key);
            }
            state.pending.remove(&id);
            for (index, interval) in &sub.intervals {
                state.intervals.remove(*index, interval, id);
            }
            state.vectors.remove(id);
        }
    }

    /// The hub timestamp and the current results of `ids` (`None` while a
    /// subscription has not run yet), read atomically.
    pub fn results(&self, ids: &[SubscriptionId]) -> (u64, Vec<Option<Arc<QueryResult>>>) {
        let state = self.state();
        let results = ids
            .iter()
            .map(|id| state.subscriptions.get(id).and_then(|s| s.result.clone()))
            .collect();
        (state.ts, results)
    }

    /// Wakes `watcher` once the hub timestamp reaches `ts` (immediately if it has).
    pub fn notify_at(&self, ts: u64, watcher: &Arc<Notify>) {
        let mut state = self.state();
        if state.ts >= ts {
            watcher.notify_one();
        } else {
            state.ts_waiters.push((ts, watcher.clone()));
        }
    }

    async fn run(self, mut commits: tokio::sync::broadcast::Receiver<Arc<CommitInfo>>) {
        loop {
            let mut received: Vec<Arc<CommitInfo>> = Vec::new();
            let mut lagged = false;
            tokio::select! {
                commit = commits.recv() => match commit {
                    Ok(c) => received.push(c),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => lagged = true,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                },
                () = self.inner.wake.notified() => {}
                () = self.inner.stop.notified() => return,
            }
            loop {
                match commits.try_recv() {
                    Ok(c) => received.push(c),
                    Err(TryRecvError::Lagged(_)) => lagged = true,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Closed) => return,
                }
            }
            self.round(&received, lagged).await;
        }
    }

    /// One round: invalidate, re-run at the new timestamp, publish.
    async fn round(&self, commits: &[Arc<CommitInfo>], lagged: bool) {
        let started = std::time::Instant::now();
        let (ts, to_run) = {
            let mut state = self.state();
            let mut invalidated = HashSet::new();
            let mut ts = state.ts;
            if lagged {
                // Commits were missed: everything may be stale.
                invalidated.extend(state.subscriptions.keys().copied());
                ts = ts.max(self.inner.runner.store().latest_ts());
            }
            for commit in commits {
                if commit.ts <= state.ts && !lagged {
                    continue;
                }
                ts = ts.max(commit.ts);
                for (index, key) in &commit.writes {
                    state.intervals.stab(*index, key, &mut invalidated);
                }
                for write in &commit.vectors {
                    state.vectors.hits(write, &mut invalidated);
                }
            }
            // `take`, not `drain`: a drained set keeps its peak capacity and
            // every later round would walk the empty slots.
            invalidated.extend(std::mem::take(&mut state.pending));
            let to_run: Vec<_> = invalidated
                .into_iter()
                .filter_map(|id| {
                    let s = state.subscriptions.get(&id)?;
                    Some((
                        id,
                        s.key.path.clone(),
                        s.args.clone(),
                        s.identity.clone(),
                        s.journal.clone(),
                    ))
                })
                .collect();
            (ts, to_run)
        };
        let invalidation_nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let runner = &self.inner.runner;
        // Results are encoded and hashed here, outside the hub's lock.
        let outcomes: Vec<(SubscriptionId, QueryOutcome, QueryResult)> =
            futures::stream::iter(to_run)
                .map(|(id, path, args, identity, journal)| async move {
                    let outcome = runner
                        .run_query_with_journal(
                            &path,
                            args,
                            identity,
                            Caller::Client,
                            Some(ts),
                            journal,
                        )
                        .await;
                    let result = QueryResult::from_outcome(&outcome);
                    (id, outcome, result)
                })
                .buffer_unordered(ROUND_CONCURRENCY)
                .collect()
                .await;
        let executed = outcomes.len();
        self.inner.executions.fetch_add(
            u64::try_from(executed).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut to_notify: Vec<Arc<Notify>> = Vec::new();
        let mut changed = 0;
        {
            let mut state = self.state();
            for (id, outcome, result) in outcomes {
                let HubState {
                    subscriptions,
                    intervals,
                    vectors,
                    by_key,
                    ..
                } = &mut *state;
                let Some(sub) = subscriptions.get_mut(&id) else {
                    continue;
                };
                for (index, interval) in sub.intervals.drain(..) {
                    intervals.remove(index, &interval, id);
                }
                for (index, interval) in outcome.read_set.iter() {
                    intervals.insert(index, &interval, id);
                    sub.intervals.push((index, interval));
                }
                vectors.remove(id);
                sub.vectors = outcome.read_set.vector_reads().to_vec();
                vectors.insert(id, &sub.vectors);
                if sub.journal.is_none() && outcome.journal.is_some() {
                    // The first run fixed the page's end. From now on this
                    // subscription is the one for that journal: a new subscriber
                    // without a journal must get a fresh page of its own, and a
                    // client re-subscribing with this journal may share it.
                    sub.journal = outcome.journal.clone();
                    if by_key.get(&sub.key) == Some(&id) {
                        by_key.remove(&sub.key);
                    }
                    sub.key.journal = outcome.journal.clone();
                    by_key.entry(sub.key.clone()).or_insert(id);
                }
                if sub
                    .result
                    .as_ref()
                    .is_none_or(|old| old.hash != result.hash)
                {
                    changed += 1;
                    to_notify.extend(sub.watchers.iter().cloned());
                }
                sub.result = Some(Arc::new(result));
            }
            state.ts = state.ts.max(ts);
            let now = state.ts;
            state.ts_waiters.retain(|(wanted, watcher)| {
                if *wanted <= now {
                    to_notify.push(watcher.clone());
                    false
                } else {
                    true
                }
            });
        }
        *self
            .inner
            .last_round
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = RoundStats {
            commits: commits.len(),
            executed,
            changed,
            invalidation_nanos,
        };
        for watcher in to_notify {
            watcher.notify_one();
        }
    }
}
