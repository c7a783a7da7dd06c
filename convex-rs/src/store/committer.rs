//! The single committer: validates transactions (OCC), assigns commit
//! timestamps and writes each batch of transactions in one durable SQLite
//! transaction (group commit). Its publisher task makes each durable batch
//! visible, in order, while the committer writes the next one.
//!
//! Invariant: commit timestamps are strictly increasing, never below the last
//! persisted one, and a caller is answered only after its batch is durable and
//! the durable timestamp has been published to readers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::index_key::index_key;
use super::persistence::{CommitWrites, DocumentWrite, IndexWrite};
use super::text::{TextChange, TextIndexes};
use super::transaction::{PendingCommit, PendingWrite};
use super::vector::VectorIndexes;
use super::write_log::{Invalid, WriteLog};
use super::{Catalog, CommitError, CommitInfo, Persistence, ReadCaches, wall_clock_nanos};

/// A commit's change to one vector index: the document and its new vector.
type VectorChange = (
    super::IndexId,
    crate::value::InternalId,
    Option<Arc<super::vector::IndexedVector>>,
);

/// Most transactions written in one batch.
const MAX_BATCH: usize = 1024;
/// Most commits remembered for validation.
const WRITE_LOG_ENTRIES: usize = 200_000;
/// How long commits are remembered for validation; a transaction running longer is retried.
const WRITE_LOG_WINDOW: Duration = Duration::from_secs(120);

/// What the committer is asked to do.
pub(crate) enum CommitterMessage {
    /// Commit a transaction.
    Commit(CommitRequest),
    /// Finish what is queued before this, close the persistence and stop.
    Close(oneshot::Sender<()>),
}

/// A transaction waiting to be committed.
pub(crate) struct CommitRequest {
    pub(crate) writes: PendingCommit,
    pub(crate) reply: Reply,
}

/// Where a transaction's commit timestamp (or why it failed) goes.
pub(crate) type Reply = oneshot::Sender<Result<u64, CommitError>>;

/// What the committer has written since the store was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Transactions committed.
    pub transactions: u64,
    /// Group commits (one SQLite transaction each) that wrote them.
    pub batches: u64,
}

/// The committer's running [`CommitStats`], readable from any thread.
#[derive(Debug, Default)]
pub(crate) struct CommitCounters {
    transactions: AtomicU64,
    batches: AtomicU64,
}

impl CommitCounters {
    pub(crate) fn get(&self) -> CommitStats {
        CommitStats {
            transactions: self.transactions.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }
}

/// State derived from the documents that the committer brings up to date
/// with each batch after it is durable and before its timestamp is published,
/// so a reader at any visible snapshot finds it current.
pub(crate) struct Derived {
    /// The read caches (revisions, small index ranges).
    pub(crate) caches: Arc<ReadCaches>,
    /// The full-text search indexes.
    pub(crate) text: Arc<TextIndexes>,
    /// The vector indexes.
    pub(crate) vectors: Arc<VectorIndexes>,
}

pub(crate) struct Committer {
    counters: Arc<CommitCounters>,
    persistence: Arc<dyn Persistence>,
    catalog: Arc<Catalog>,
    last_ts: u64,
    log: WriteLog,
    /// Written batches, oldest first, to the publisher task.
    to_publish: mpsc::Sender<WrittenBatch>,
    /// The publisher task; it ends once `to_publish` is dropped.
    publishing: JoinHandle<()>,
    /// Closed when the committer stops, after the last batch is published.
    text: Arc<TextIndexes>,
    vectors: Arc<VectorIndexes>,
}

/// Written batches waiting for the publisher besides the one it is
/// publishing: the committer writes the next batch while one is published,
/// and waits if the publisher falls further behind.
const PUBLISH_QUEUE: usize = 1;

/// A durable batch on its way to readers and callers.
struct WrittenBatch {
    writes: Vec<CommitWrites>,
    /// Each commit's text and vector index changes, in `writes` order.
    derived: Vec<(Vec<TextChange>, Vec<VectorChange>)>,
    accepted: Vec<(Reply, Arc<CommitInfo>)>,
    /// The batch's newest commit timestamp.
    last_ts: u64,
}

/// Publishes durable batches in commit order, on its own task so the
/// committer can write the next batch meanwhile: brings the derived state
/// up to date, then advances the durable timestamp, then tells the
/// subscription hub and the callers.
struct Publisher {
    durable: watch::Sender<u64>,
    published: broadcast::Sender<Arc<CommitInfo>>,
    caches: Arc<ReadCaches>,
    text: Arc<TextIndexes>,
    vectors: Arc<VectorIndexes>,
}

impl Publisher {
    async fn run(self, mut batches: mpsc::Receiver<WrittenBatch>) {
        while let Some(batch) = batches.recv().await {
            self.publish(batch);
        }
    }

    fn publish(&self, batch: WrittenBatch) {
        // Before the timestamp is published: no reader's snapshot may
        // include a write the caches and indexes do not show.
        for commit in &batch.writes {
            for d in &commit.documents {
                self.caches
                    .revisions
                    .record_commit(d.id, commit.ts, d.document.as_ref());
            }
            for entry in &commit.index {
                self.caches
                    .ranges
                    .record_change(entry.index, &entry.key, commit.ts);
            }
        }
        for (commit, (text, vectors)) in batch.writes.iter().zip(batch.derived) {
            if !text.is_empty() {
                self.text.record(commit.ts, text);
            }
            self.vectors.record(commit.ts, vectors);
        }
        self.durable.send_replace(batch.last_ts);
        for (reply, info) in batch.accepted {
            let ts = info.ts;
            let _ = self.published.send(info);
            let _ = reply.send(Ok(ts));
        }
    }
}

impl Committer {
    /// A committer, with its publisher task already started (so this runs
    /// inside a Tokio runtime).
    pub(crate) fn new(
        persistence: Arc<dyn Persistence>,
        catalog: Arc<Catalog>,
        last_ts: u64,
        durable: watch::Sender<u64>,
        published: broadcast::Sender<Arc<CommitInfo>>,
        counters: Arc<CommitCounters>,
        derived: Derived,
    ) -> Self {
        let (to_publish, batches) = mpsc::channel(PUBLISH_QUEUE);
        let publisher = Publisher {
            durable,
            published,
            caches: derived.caches,
            text: derived.text.clone(),
            vectors: derived.vectors.clone(),
        };
        let publishing = tokio::spawn(publisher.run(batches));
        Committer {
            counters,
            persistence,
            catalog,
            last_ts,
            log: WriteLog::new(last_ts, WRITE_LOG_ENTRIES),
            to_publish,
            publishing,
            text: derived.text,
            vectors: derived.vectors,
        }
    }

    /// Runs until asked to close or until every sender is gone, then closes the persistence.
    pub(crate) async fn run(mut self, mut requests: mpsc::Receiver<CommitterMessage>) {
        let mut messages = Vec::with_capacity(64);
        let mut closed = None;
        'outer: while requests.recv_many(&mut messages, MAX_BATCH).await > 0 {
            let mut batch = Vec::with_capacity(messages.len());
            for message in messages.drain(..) {
                match message {
                    CommitterMessage::Commit(request) => batch.push(request),
                    CommitterMessage::Close(done) => {
                        self.process(batch).await;
                        closed = Some(done);
                        break 'outer;
                    }
                }
            }
            self.process(batch).await;
        }
        requests.close();
        while let Ok(message) = requests.try_recv() {
            match message {
                CommitterMessage::Commit(request) => {
                    let _ = request.reply.send(Err(CommitError::Closed));
                }
                CommitterMessage::Close(done) => {
                    let _ = done.send(());
                }
            }
        }
        // Everything written is published before the indexes close.
        let Committer {
            to_publish,
            publishing,
            text,
            vectors,
            persistence,
            ..
        } = self;
        drop(to_publish);
        if let Err(e) = publishing.await {
            tracing::error!(error = %e, "the commit publisher stopped");
        }
        text.close().await;
        vectors.close().await;
        persistence.close().await;
        if let Some(done) = closed {
            let _ = done.send(());
        }
    }

    fn next_ts(&mut self) -> u64 {
        self.last_ts = wall_clock_nanos().max(self.last_ts + 1);
        self.last_ts
    }

    async fn process(&mut self, batch: Vec<CommitRequest>) {
        let window = u64::try_from(WRITE_LOG_WINDOW.as_nanos()).unwrap_or(u64::MAX);
        self.log
            .forget_through(wall_clock_nanos().saturating_sub(window));
        let mut writes = Vec::with_capacity(batch.len());
        let mut accepted = Vec::with_capacity(batch.len());
        let mut texts = Vec::with_capacity(batch.len());
        for mut request in batch {
            let text = std::mem::take(&mut request.writes.text);
            let vectors = std::mem::take(&mut request.writes.vectors);
            let pending = &request.writes;
            if let Err(invalid) = self.log.validate(pending.snapshot, &pending.reads) {
                metrics::counter!("convex_occ_conflicts_total").increment(1);
                let error = match invalid {
                    Invalid::Conflict { index, ts } => CommitError::Conflict {
                        table: self.catalog.table_name_of_index(index).to_string(),
                        conflicting_ts: ts,
                    },
                    Invalid::TooOld { oldest } => CommitError::SnapshotTooOld { oldest },
                };
                let _ = request.reply.send(Err(error));
                continue;
            }
            let ts = self.next_ts();
            let (commit, mut info) = self.plan(ts, &pending.writes);
            info.writes.extend(text.keys);
            info.vectors = vectors.writes;
            let info = Arc::new(info);
            self.log.push(info.clone());
            writes.push(commit);
            texts.push((text.changes, vectors.changes));
            accepted.push((request.reply, info));
        }
        let Some((_, first)) = accepted.first() else {
            return;
        };
        let first_ts = first.ts;
        let started = std::time::Instant::now();
        let written = self.persistence.write(&writes).await;
        let elapsed = started.elapsed();
        let span = tracing::debug_span!(
            "commit",
            transactions = accepted.len(),
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            ok = written.is_ok()
        );
        span.in_scope(|| tracing::trace!("group commit written"));
        metrics::histogram!("convex_commit_duration_seconds").record(elapsed.as_secs_f64());
        metrics::histogram!("convex_commit_batch_size").record(accepted.len() as f64);
        match written {
            Ok(()) => {
                metrics::counter!("convex_commits_total").increment(accepted.len() as u64);
                self.counters.batches.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .transactions
                    .fetch_add(accepted.len() as u64, Ordering::Relaxed);
                let batch = WrittenBatch {
                    writes,
                    derived: texts,
                    accepted,
                    last_ts: self.last_ts,
                };
                if let Err(unsent) = self.to_publish.send(batch).await {
                    // Only if the publisher panicked: the batch is durable,
                    // but nobody can be told.
                    tracing::error!("the commit publisher is gone; a durable batch is unpublished");
                    for (reply, _) in unsent.0.accepted {
                        let _ = reply.send(Err(CommitError::Closed));
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "group commit failed");
                self.log.remove_from(first_ts);
                for (reply, _) in accepted {
                    let _ = reply.send(Err(CommitError::Storage(e.to_string())));
                }
            }
        }
    }

    /// Turns a transaction's pending writes into rows and touched keys.
    fn plan(
        &self,
        ts: u64,
        pending: &[(crate::value::DocumentId, PendingWrite)],
    ) -> (CommitWrites, CommitInfo) {
        let mut documents = Vec::with_capacity(pending.len());
        let mut index = Vec::new();
        let mut touched = Vec::new();
        for (id, write) in pending {
            let Some(table) = self.catalog.table_by_number(id.table) else {
                continue;
            };
            let old = write.old.as_ref();
            let new = write.new.as_ref();
            if old.is_none() && new.is_none() {
                continue;
            }
            documents.push(DocumentWrite {
                id: *id,
                prev_ts: old.map(|(ts, _)| *ts),
                document: new.cloned(),
            });
            let by_id = id.internal.0.to_vec();
            touched.push((table.by_id, by_id));
            for index_id in &table.indexes {
                let Some(meta) = self.catalog.index(*index_id) else {
                    continue;
                };
                let old_key = old.map(|(_, doc)| index_key(meta, doc));
                let new_key = new.map(|doc| index_key(meta, doc));
                if old_key == new_key {
                    if let Some(key) = new_key {
                        touched.push((meta.id, key));
                    }
                    continue;
                }
                if let Some(key) = old_key {
                    index.push(IndexWrite {
                        index: meta.id,
                        key: key.clone(),
                        deleted: true,
                        doc: id.internal,
                    });
                    touched.push((meta.id, key));
                }
                if let Some(key) = new_key {
                    index.push(IndexWrite {
                        index: meta.id,
                        key: key.clone(),
                        deleted: false,
                        doc: id.internal,
                    });
                    touched.push((meta.id, key));
                }
            }
        }
        (
            CommitWrites {
                ts,
                documents,
                index,
            },
            CommitInfo {
                ts,
                writes: touched,
                vectors: Vec::new(),
            },
        )
    }
}
