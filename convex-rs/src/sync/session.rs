//! One websocket session: the protocol state machine between a client and
//! the hub.
//!
//! The session owns the client's view: its query set (with versions), its
//! identity (with a version) and the timestamp of its last Transition. It
//! sends a Transition whenever something in that view can move forward: new
//! query results, applied query-set or identity changes, or a mutation that
//! needs a Transition at or after its commit timestamp (protocol §2.4).
//!
//! Invariants:
//! * each Transition's `startVersion` equals the previous one's `endVersion`;
//! * all results in a Transition are valid at its `endVersion.ts` (they come
//!   from one atomic read of the hub);
//! * query-set changes are applied in order, each only once every query it
//!   adds has a result;
//! * mutations of one session run one at a time, in arrival order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::sync::{Notify, mpsc};

use super::hub::{Hub, QueryResult};
use super::interval_index::SubscriptionId;
use super::protocol::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, TokenType,
    Ts,
};
use crate::function::{Caller, FunctionOutcome, Identity, RequestKey, Runner, args_from_wire};
use crate::value::Value;

/// A frame from the client, as the transport delivers it.
#[derive(Debug)]
pub enum Incoming {
    /// A text frame.
    Text(String),
    /// Any other frame (binary): a protocol violation.
    Binary,
}

/// What the session asks the transport to do.
#[derive(Debug, PartialEq)]
pub enum Outgoing {
    /// Send these text frames, in order, and flush them together: frames one
    /// step of the session produced (a `MutationResponse` and its
    /// `Transition`) leave in as few TCP segments as possible.
    Frames(Vec<String>),
    /// Close the socket; `None` closes without a status code.
    Close(Option<(u16, String)>),
}

/// Session settings.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// Send a `Ping` after this long without any other message.
    pub ping_interval: Duration,
    /// Most actions running at once per session.
    pub max_concurrent_actions: usize,
    /// Most mutations queued per session; one more closes the session as
    /// overloaded (code 1013, `TooManyConcurrentMutations`).
    pub max_queued_mutations: usize,
    /// Most queries one session may subscribe to; past it, a new query's
    /// result is an error (`TooManySubscriptions`).
    pub max_subscriptions: usize,
    /// Most bytes of frames waiting to be written to one client. When the
    /// client reads too slowly for longer than `slow_consumer_timeout`, the
    /// session is closed (`SlowConsumer`) rather than buffering more.
    pub max_outgoing_bytes: usize,
    /// How long a session waits for a slow client to make room.
    pub slow_consumer_timeout: Duration,
    /// The bound on sessions with websocket mutations queued or running
    /// (shared by every session of a server).
    pub mutation_queue: MutationQueue,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            ping_interval: Duration::from_secs(15),
            max_concurrent_actions: 1000,
            max_queued_mutations: 1000,
            max_subscriptions: DEFAULT_MAX_SUBSCRIPTIONS,
            max_outgoing_bytes: DEFAULT_MAX_OUTGOING_BYTES,
            slow_consumer_timeout: Duration::from_secs(30),
            mutation_queue: MutationQueue::new(DEFAULT_MAX_PENDING_MUTATIONS),
        }
    }
}

/// Default of [`SessionConfig::max_subscriptions`].
pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 10_000;
/// Default of [`SessionConfig::max_outgoing_bytes`]: 64 MiB.
pub const DEFAULT_MAX_OUTGOING_BYTES: usize = 64 << 20;
/// Default bound of the server-wide [`MutationQueue`].
pub const DEFAULT_MAX_PENDING_MUTATIONS: usize = 10_000;

/// A bound on the sessions with websocket mutations queued or running
/// (each session's mutations run one after another, at most
/// [`SessionConfig::max_queued_mutations`] queued). Past it, a session that
/// sends a mutation is closed as overloaded (code 1013, reason `Busy`); the
/// official clients reconnect with backoff and re-send, so load waits at the
/// clients instead of in server memory. Clones share the count.
#[derive(Clone, Debug)]
pub struct MutationQueue {
    inner: Arc<QueueCount>,
}

#[derive(Debug)]
struct QueueCount {
    limit: usize,
    queued: AtomicUsize,
}

/// One mutation's place in the [`MutationQueue`], given back when dropped.
#[derive(Debug)]
struct QueuePlace(Arc<QueueCount>);

impl MutationQueue {
    /// A queue of at most `limit` sessions' mutations.
    pub fn new(limit: usize) -> Self {
        MutationQueue {
            inner: Arc::new(QueueCount {
                limit: limit.max(1),
                queued: AtomicUsize::new(0),
            }),
        }
    }

    /// Sessions with mutations queued or running now.
    pub fn len(&self) -> usize {
        self.inner.queued.load(Ordering::Relaxed)
    }

    /// Whether no session has a mutation queued or running.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound.
    pub fn limit(&self) -> usize {
        self.inner.limit
    }

    fn enter(&self) -> Option<QueuePlace> {
        let count = &self.inner;
        count
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < count.limit).then_some(n + 1)
            })
            .ok()
            .map(|_| QueuePlace(count.clone()))
    }
}

impl Drop for QueuePlace {
    fn drop(&mut self) {
        self.0.queued.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Bytes handed to a session's socket writer and not yet written: the
/// session adds, the writer subtracts, and a session over
/// [`SessionConfig::max_outgoing_bytes`] waits for room.
#[derive(Debug, Default)]
pub struct OutgoingBudget {
    queued: AtomicUsize,
    drained: Notify,
    slow: std::sync::atomic::AtomicBool,
}

impl OutgoingBudget {
    /// Records that the client was too slow (the session's wait for room,
    /// or the socket writer's wait for a write, ran out), counting it once
    /// per session whichever notices first.
    pub fn closing_slow_consumer(&self) {
        if !self.slow.swap(true, Ordering::AcqRel) {
            tracing::info!(
                queued_bytes = self.queued(),
                "closing a sync session whose client reads too slowly"
            );
            metrics::counter!("convex_sessions_refused_total", "reason" => "slow_consumer")
                .increment(1);
        }
    }

    /// Gives back `bytes` once they are written.
    pub fn written(&self, bytes: usize) {
        // Saturating: the last frames of a session (an error before the
        // close) are sent without being counted.
        let _ = self
            .queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
                Some(queued.saturating_sub(bytes))
            });
        self.drained.notify_waiters();
    }

    /// Bytes waiting to be written.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Waits until `bytes` more fit under `limit` (a batch larger than the
    /// whole limit waits for an empty queue), then counts them; false after
    /// `timeout`.
    async fn reserve(&self, bytes: usize, limit: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let drained = self.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            let queued = self.queued();
            if queued == 0 || queued + bytes <= limit {
                self.queued.fetch_add(bytes, Ordering::AcqRel);
                return true;
            }
            if tokio::time::timeout_at(deadline, drained).await.is_err() {
                return false;
            }
        }
    }
}

enum Subscribed {
    Hub(SubscriptionId),
    /// A query that failed before reaching the hub (e.g. malformed arguments).
    Failed(Arc<QueryResult>),
}

struct ActiveQuery {
    path: String,
    args: Option<Value>,
    journal: Option<String>,
    sub: Subscribed,
    last_hash: Option<u64>,
}

enum PendingChange {
    QuerySet {
        version: u32,
        adds: Vec<(u32, ActiveQuery)>,
        removes: Vec<u32>,
    },
    Identity {
        version: u32,
        resubscribed: Vec<(u32, Subscribed)>,
    },
}

enum Completion {
    Mutation {
        request_id: u32,
        outcome: FunctionOutcome,
    },
    Action {
        request_id: u32,
        outcome: FunctionOutcome,
    },
}

struct MutationJob {
    /// The session's place in the server's queue, held until its last
    /// queued mutation has run.
    _place: Arc<QueuePlace>,
    request_id: u32,
    path: String,
    args: Result<Value, String>,
    identity: Identity,
    key: Option<RequestKey>,
}

/// Why the session ends.
enum End {
    ClientGone,
    Fatal(String),
    Internal(String),
    /// A load limit: closed with code 1013 ("try again later") and this reason.
    Overloaded(String),
    /// The client reads too slowly; its frames are dropped with the socket.
    SlowConsumer,
    /// A token was refused (`attempted`: in answer to an Authenticate) or
    /// expired mid-session.
    Auth {
        error: String,
        base_version: u32,
        attempted: bool,
    },
}

struct Session {
    hub: Hub,
    runner: Runner,
    out: mpsc::Sender<Outgoing>,
    /// Bytes handed to the socket writer and not yet written.
    budget: Arc<OutgoingBudget>,
    notify: Arc<Notify>,
    config: SessionConfig,
    connected: bool,
    /// The client said this is not its session's first socket
    /// (`connectionCount > 0`), so it may re-send earlier mutations.
    reconnected: bool,
    session_id: String,
    clock_skew: i64,
    sent: StateVersion,
    received_query_set: u32,
    identity: Identity,
    identity_version: u32,
    /// When the current user token expires (seconds since the epoch).
    token_expires_at: Option<u64>,
    queries: HashMap<u32, ActiveQuery>,
    pending: VecDeque<PendingChange>,
    /// Query ids added (possibly still pending) and not removed.
    known_ids: HashSet<u32>,
    transition_due: Option<u64>,
    /// Mutations queued or running. While any is, no Transition is sent: one
    /// could carry the mutation's own write before its MutationResponse, and
    /// the client would then apply its optimistic update on top of the real
    /// write (protocol §8).
    mutations_in_flight: usize,
    last_sent: Instant,
    /// Frames produced by the current step, delivered together at its end.
    outbox: Vec<String>,
    mutations: mpsc::Sender<MutationJob>,
    /// This session's place in the server's mutation queue while it has
    /// mutations queued (each queued job holds it too).
    queue_place: Option<Arc<QueuePlace>>,
    completions_tx: mpsc::Sender<Completion>,
    actions: Arc<tokio::sync::Semaphore>,
}

fn now_ms() -> f64 {
    crate::store::wall_clock_millis()
}

fn failed_result(message: String) -> Arc<QueryResult> {
    Arc::new(QueryResult::new(Err((message, None)), Vec::new(), None))
}

/// Runs a socket's session until the client goes away or the session fails.
///
/// `incoming` yields the client's frames; `out` receives what to send. When
/// `shutdown` resolves, the session lets queued mutations finish and closes
/// the socket with code 1001 so clients reconnect elsewhere or later.
pub async fn run_session(
    hub: Hub,
    runner: Runner,
    config: SessionConfig,
    mut incoming: mpsc::Receiver<Incoming>,
    out: mpsc::Sender<Outgoing>,
    budget: Arc<OutgoingBudget>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let (mutations, mutation_jobs) = mpsc::channel(config.max_queued_mutations.max(1));
    let (completions_tx, mut completions) = mpsc::channel(256);
    let worker = tokio::spawn(mutation_worker(
        runner.clone(),
        mutation_jobs,
        completions_tx.clone(),
    ));
    let mut session = Session {
        hub,
        runner,
        out,
        budget,
        notify: Arc::new(Notify::new()),
        actions: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_actions)),
        config,
        connected: false,
        reconnected: false,
        session_id: String::new(),
        clock_skew: 0,
        sent: StateVersion::default(),
        received_query_set: 0,
        identity: Identity::Unauthenticated,
        identity_version: 0,
        token_expires_at: None,
        queries: HashMap::new(),
        pending: VecDeque::new(),
        known_ids: HashSet::new(),
        transition_due: None,
        mutations_in_flight: 0,
        last_sent: Instant::now(),
        outbox: Vec::new(),
        mutations,
        queue_place: None,
        completions_tx,
    };
    let mut ping = tokio::time::interval(Duration::from_secs(1));
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let notify = session.notify.clone();
    let end = loop {
        let step = tokio::select! {
            frame = incoming.recv() => match frame {
                // Awaited here: a token is verified before later messages are handled.
                Some(Incoming::Text(text)) => session.handle_text(&text).await,
                Some(Incoming::Binary) => Err(End::Fatal("binary frames are not part of the protocol".into())),
                None => Err(End::ClientGone),
            },
            Some(completion) = completions.recv() => session.complete(completion),
            () = notify.notified() => session.flush(),
            _ = ping.tick() => session.keep_alive(),
            _ = shutdown.changed() => break None,
        };
        let delivered = session.deliver().await;
        if let Err(end) = step.and(delivered) {
            break Some(end);
        }
    };
    session.unsubscribe_all();
    // Let queued mutations finish (they commit even if nobody hears back).
    drop(session.mutations);
    // Nobody reads completions any more: without this, a worker with more
    // finished jobs than the channel holds would wait forever to report one.
    drop(completions);
    let _ = worker.await;
    let close = match end {
        None => Some(Outgoing::Close(Some((1001, "ServerShutdown".into())))),
        Some(End::ClientGone) => None,
        Some(End::Fatal(error)) => {
            let _ = session
                .out
                .send(Outgoing::Frames(vec![text(&ServerMessage::FatalError {
                    error,
                })]))
                .await;
            Some(Outgoing::Close(None))
        }
        Some(End::Internal(reason)) => {
            tracing::warn!(%reason, "closing a sync session after an internal error");
            Some(Outgoing::Close(Some((1011, "InternalServerError".into()))))
        }
        Some(End::Overloaded(reason)) => {
            tracing::debug!(%reason, "closing an overloaded sync session");
            metrics::counter!("convex_sessions_refused_total", "reason" => "overloaded")
                .increment(1);
            Some(Outgoing::Close(Some((1013, close_reason(&reason)))))
        }
        Some(End::SlowConsumer) => {
            session.budget.closing_slow_consumer();
            Some(Outgoing::Close(Some((
                1008,
                "SlowConsumer: the client did not read its updates in time".into(),
            ))))
        }
        Some(End::Auth {
            error,
            base_version,
            attempted,
        }) => {
            let message = ServerMessage::AuthError {
                error,
                base_version,
                auth_update_attempted: attempted,
            };
            let _ = session
                .out
                .send(Outgoing::Frames(vec![text(&message)]))
                .await;
            Some(Outgoing::Close(None))
        }
    };
    if let Some(close) = close {
        // Bounded: a client that stopped reading must not hold the session.
        let _ = tokio::time::timeout(Duration::from_secs(1), session.out.send(close)).await;
    }
}

/// A close frame's reason: at most 123 bytes (RFC 6455), cut at a character.
fn close_reason(reason: &str) -> String {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}

fn text(message: &ServerMessage) -> String {
    serde_json::to_string(message).unwrap_or_else(|e| {
        format!(r#"{{"type":"FatalError","error":"could not encode a message: {e}"}}"#)
    })
}

async fn mutation_worker(
    runner: Runner,
    mut jobs: mpsc::Receiver<MutationJob>,
    done: mpsc::Sender<Completion>,
) {
    while let Some(job) = jobs.recv().await {
        let outcome = match job.args {
            Ok(args) => {
                runner
                    .run_mutation_once(&job.path, args, job.identity, Caller::Client, job.key)
                    .await
            }
            Err(message) => FunctionOutcome::failed(
                crate::function::FunctionError::invalid_arguments(message).into_failure(),
            ),
        };
        let _ = done
            .send(Completion::Mutation {
                request_id: job.request_id,
                outcome,
            })
            .await;
    }
}

impl Session {
    /// Queues a message; it leaves with the rest of this step's frames.
    fn send(&mut self, message: &ServerMessage) {
        tracing::trace!(?message, "sync message to client");
        self.last_sent = Instant::now();
        self.outbox.push(text(message));
    }

    /// Hands this step's frames to the transport as one batch.
    async fn deliver(&mut self) -> Result<(), End> {
        if self.outbox.is_empty() {
            return Ok(());
        }
        let frames = std::mem::take(&mut self.outbox);
        let bytes = frames.iter().map(String::len).sum();
        let timeout = self.config.slow_consumer_timeout;
        if !self
            .budget
            .reserve(bytes, self.config.max_outgoing_bytes, timeout)
            .await
        {
            return Err(End::SlowConsumer);
        }
        match tokio::time::timeout(timeout, self.out.send(Outgoing::Frames(frames))).await {
            Err(_) => Err(End::SlowConsumer),
            Ok(Err(_)) => Err(End::ClientGone),
            Ok(Ok(())) => Ok(()),
        }
    }

    fn keep_alive(&mut self) -> Result<(), End> {
        self.check_token()?;
        if self.last_sent.elapsed() >= self.config.ping_interval {
            self.send(&ServerMessage::Ping);
        }
        Ok(())
    }

    /// Ends the session when the user's token has expired (the client then
    /// fetches a fresh one and reconnects with it).
    fn check_token(&self) -> Result<(), End> {
        let now = (now_ms() / 1000.0) as u64;
        match self.token_expires_at {
            Some(exp) if now > exp.saturating_add(crate::auth::CLOCK_SKEW_LEEWAY.as_secs()) => Err(End::Auth {
                error:
                    "TokenExpired: the user's token expired during the session; fetch a fresh token"
                        .into(),
                base_version: self.identity_version,
                attempted: false,
            }),
            _ => Ok(()),
        }
    }

    async fn handle_text(&mut self, text: &str) -> Result<(), End> {
        if text.contains("\"Authenticate\"") {
            // Its token or admin key is a secret: not logged.
            tracing::trace!("sync message from client: Authenticate");
        } else {
            tracing::trace!(message = %text, "sync message from client");
        }
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|e| End::Fatal(format!("could not parse the client message: {e}")))?;
        if !self.connected && !matches!(message, ClientMessage::Connect { .. }) {
            return Err(End::Fatal(
                "the first message on a socket must be Connect".into(),
            ));
        }
        match message {
            ClientMessage::Connect {
                session_id,
                connection_count,
                max_observed_timestamp,
                client_ts,
                ..
            } => {
                if self.connected {
                    return Err(End::Fatal("Connect was sent twice on one socket".into()));
                }
                let latest = self.runner.store().latest_ts();
                if let Some(Ts(observed)) = max_observed_timestamp
                    && observed > latest
                {
                    return Err(End::Internal(format!(
                        "client observed timestamp {observed}, newer than the latest commit {latest}"
                    )));
                }
                self.connected = true;
                self.reconnected = connection_count > 0;
                self.session_id = session_id;
                if let Some(client_ts) = client_ts {
                    self.clock_skew = (client_ts - now_ms()) as i64;
                }
                Ok(())
            }
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => {
                self.modify_query_set(base_version, new_version, modifications)?;
                self.flush()
            }
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
                ..
            } => {
                self.check_token()?;
                // A session's mutations run one after another, so a session
                // takes one place while it has any queued (it could not
                // otherwise make progress past a limit its own burst fills).
                let place = match &self.queue_place {
                    Some(place) => place.clone(),
                    None => {
                        let Some(place) = self.config.mutation_queue.enter() else {
                            return Err(End::Overloaded(format!(
                                "Busy: {} sessions have mutations waiting on this server; retry later",
                                self.config.mutation_queue.limit()
                            )));
                        };
                        let place = Arc::new(place);
                        self.queue_place = Some(place.clone());
                        place
                    }
                };
                let job = MutationJob {
                    _place: place,
                    request_id,
                    path: udf_path,
                    args: args_from_wire(args),
                    identity: self.identity.clone(),
                    key: Some(RequestKey {
                        session: self.session_id.clone(),
                        request: request_id,
                        may_be_resent: self.reconnected,
                    }),
                };
                match self.mutations.try_send(job) {
                    Ok(()) => {
                        self.mutations_in_flight += 1;
                        Ok(())
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => Err(End::Overloaded(format!(
                        "TooManyConcurrentMutations: this session has {} queued mutations",
                        self.config.max_queued_mutations
                    ))),
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(End::ClientGone),
                }
            }
            ClientMessage::Action {
                request_id,
                udf_path,
                args,
                ..
            } => {
                self.check_token()?;
                let Ok(permit) = self.actions.clone().try_acquire_owned() else {
                    return Err(End::Internal(
                        "TooManyConcurrentRequests: too many actions in flight".into(),
                    ));
                };
                let runner = self.runner.clone();
                let identity = self.identity.clone();
                let done = self.completions_tx.clone();
                tokio::spawn(async move {
                    let outcome = match args_from_wire(args) {
                        Ok(args) => {
                            runner
                                .run_action(&udf_path, args, identity, Caller::Client)
                                .await
                        }
                        Err(m) => FunctionOutcome::failed(
                            crate::function::FunctionError::invalid_arguments(m).into_failure(),
                        ),
                    };
                    drop(permit);
                    let _ = done
                        .send(Completion::Action {
                            request_id,
                            outcome,
                        })
                        .await;
                });
                Ok(())
            }
            ClientMessage::Authenticate {
                base_version,
                token_type,
                value,
                impersonating,
                acting_as,
            } => {
                if base_version != self.identity_version {
                    return Err(End::Internal(format!(
                        "Authenticate baseVersion {base_version} does not match identity version {}",
                        self.identity_version
                    )));
                }
                match token_type {
                    TokenType::None => {
                        self.token_expires_at = None;
                        self.change_identity(Identity::Unauthenticated);
                        self.flush()
                    }
                    TokenType::User => {
                        let token = value.unwrap_or_default();
                        let now = (now_ms() / 1000.0) as u64;
                        match self.runner.auth().verify(&token, now).await {
                            Ok(verified) => {
                                self.token_expires_at = verified.expires_at;
                                self.change_identity(Identity::User(Box::new(verified.identity)));
                                self.flush()
                            }
                            Err(e) => Err(End::Auth {
                                error: e.to_string(),
                                base_version: self.identity_version,
                                attempted: true,
                            }),
                        }
                    }
                    TokenType::Admin => {
                        let key = value.unwrap_or_default();
                        let acting_as = impersonating.or(acting_as);
                        match self.runner.auth().verify_admin(&key, acting_as.as_ref()) {
                            Ok(identity) => {
                                self.token_expires_at = None;
                                self.change_identity(identity);
                                self.flush()
                            }
                            Err(e) => Err(End::Auth {
                                error: e.to_string(),
                                base_version: self.identity_version,
                                attempted: true,
                            }),
                        }
                    }
                }
            }
            ClientMessage::Event { .. } => Ok(()),
        }
    }

    fn modify_query_set(
        &mut self,
        base: u32,
        new: u32,
        modifications: Vec<QuerySetModification>,
    ) -> Result<(), End> {
        if base != self.received_query_set {
            return Err(End::Fatal(format!(
                "BaseVersionMismatch: ModifyQuerySet baseVersion {base} but the query set is at version {}",
                self.received_query_set
            )));
        }
        if new <= base {
            return Err(End::Internal(format!(
                "ModifyQuerySet newVersion {new} is not greater than baseVersion {base}"
            )));
        }
        self.received_query_set = new;
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        for modification in modifications {
            match modification {
                QuerySetModification::Add {
                    query_id,
                    udf_path,
                    args,
                    journal,
                    ..
                } => {
                    if !self.known_ids.insert(query_id) {
                        return Err(End::Internal(format!("query {query_id} was added twice")));
                    }
                    let args = args_from_wire(args);
                    let over_limit = self.known_ids.len() > self.config.max_subscriptions;
                    let sub = match &args {
                        _ if over_limit => Subscribed::Failed(failed_result(format!(
                            "TooManySubscriptions: a session may subscribe to at most {} queries",
                            self.config.max_subscriptions
                        ))),
                        Ok(args) => Subscribed::Hub(self.hub.subscribe(
                            &udf_path,
                            args.clone(),
                            self.identity.clone(),
                            journal.clone(),
                            &self.notify,
                        )),
                        Err(message) => Subscribed::Failed(failed_result(message.clone())),
                    };
                    adds.push((
                        query_id,
                        ActiveQuery {
                            path: udf_path,
                            args: args.ok(),
                            journal,
                            sub,
                            last_hash: None,
                        },
                    ));
                }
                QuerySetModification::Remove { query_id } => {
                    if !self.known_ids.remove(&query_id) {
                        return Err(End::Internal(format!(
                            "query {query_id} was removed but never added"
                        )));
                    }
                    removes.push(query_id);
                }
            }
        }
        self.pending.push_back(PendingChange::QuerySet {
            version: new,
            adds,
            removes,
        });
        Ok(())
    }

    fn change_identity(&mut self, identity: Identity) {
        self.identity_version += 1;
        self.identity = identity;
        // Every query, including ones still pending, runs again as the new identity.
        let mut resubscribed = Vec::new();
        let ids: Vec<u32> = self.queries.keys().copied().collect();
        for id in ids {
            if let Some(q) = self.queries.get(&id)
                && let Some(args) = &q.args
            {
                let sub = self.hub.subscribe(
                    &q.path,
                    args.clone(),
                    self.identity.clone(),
                    q.journal.clone(),
                    &self.notify,
                );
                resubscribed.push((id, Subscribed::Hub(sub)));
            }
        }
        for change in &mut self.pending {
            if let PendingChange::QuerySet { adds, .. } = change {
                for (_, q) in adds.iter_mut() {
                    if let (Subscribed::Hub(old), Some(args)) = (&q.sub, &q.args) {
                        let new = self.hub.subscribe(
                            &q.path,
                            args.clone(),
                            self.identity.clone(),
                            q.journal.clone(),
                            &self.notify,
                        );
                        self.hub.unsubscribe(*old, &self.notify);
                        q.sub = Subscribed::Hub(new);
                    }
                }
            }
        }
        self.pending.push_back(PendingChange::Identity {
            version: self.identity_version,
            resubscribed,
        });
    }

    fn complete(&mut self, completion: Completion) -> Result<(), End> {
        let (request_id, outcome, is_mutation) = match completion {
            Completion::Mutation {
                request_id,
                outcome,
            } => (request_id, outcome, true),
            Completion::Action {
                request_id,
                outcome,
            } => (request_id, outcome, false),
        };
        let (success, result, error_data) = match outcome.result {
            Ok(value) => (true, value.to_json(), None),
            Err(f) => (
                false,
                Json::String(f.message),
                f.data.as_ref().map(Value::to_json),
            ),
        };
        let log_lines = outcome.log_lines;
        if is_mutation {
            self.mutations_in_flight = self.mutations_in_flight.saturating_sub(1);
            if self.mutations_in_flight == 0 {
                self.queue_place = None;
            }
            let ts = if success { outcome.ts.map(Ts) } else { None };
            self.send(&ServerMessage::MutationResponse {
                request_id,
                success,
                result,
                ts,
                log_lines,
                error_data,
            });
            // Every mutation is followed by a Transition (an empty one if
            // nothing changed): the JS client resolves a successful mutation on
            // the first Transition at or after its timestamp, and the official
            // Rust client completes even failed ones only on a Transition.
            let due = ts.map_or(self.sent.ts.0, |Ts(ts)| ts);
            self.transition_due = Some(self.transition_due.map_or(due, |t| t.max(due)));
            self.hub.notify_at(due, &self.notify);
            self.flush()
        } else {
            self.send(&ServerMessage::ActionResponse {
                request_id,
                success,
                result,
                log_lines,
                error_data,
            });
            Ok(())
        }
    }

    fn hub_ids(&self) -> Vec<SubscriptionId> {
        let mut ids: Vec<SubscriptionId> = self
            .queries
            .values()
            .filter_map(|q| {
                if let Subscribed::Hub(id) = q.sub {
                    Some(id)
                } else {
                    None
                }
            })
            .collect();
        for change in &self.pending {
            match change {
                PendingChange::QuerySet { adds, .. } => {
                    ids.extend(adds.iter().filter_map(|(_, q)| {
                        if let Subscribed::Hub(id) = q.sub {
                            Some(id)
                        } else {
                            None
                        }
                    }));
                }
                PendingChange::Identity { resubscribed, .. } => {
                    ids.extend(resubscribed.iter().filter_map(|(_, s)| {
                        if let Subscribed::Hub(id) = s {
                            Some(*id)
                        } else {
                            None
                        }
                    }));
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// Sends a Transition if the client's view can move forward.
    fn flush(&mut self) -> Result<(), End> {
        if !self.connected || self.mutations_in_flight > 0 {
            return Ok(());
        }
        let ids = self.hub_ids();
        let (hub_ts, results) = self.hub.results(&ids);
        let results: HashMap<SubscriptionId, Arc<QueryResult>> = ids
            .iter()
            .zip(results)
            .filter_map(|(id, r)| r.map(|r| (*id, r)))
            .collect();
        let ready = |sub: &Subscribed| match sub {
            Subscribed::Hub(id) => results.get(id).cloned(),
            Subscribed::Failed(r) => Some(r.clone()),
        };
        let mut modifications = Vec::new();
        let mut query_set = self.sent.query_set;
        let mut identity = self.sent.identity;
        // Apply pending changes in order while every query they need has a result.
        while let Some(change) = self.pending.front() {
            let all_ready = match change {
                PendingChange::QuerySet { adds, .. } => {
                    adds.iter().all(|(_, q)| ready(&q.sub).is_some())
                }
                PendingChange::Identity { resubscribed, .. } => {
                    resubscribed.iter().all(|(_, s)| ready(s).is_some())
                }
            };
            if !all_ready {
                break;
            }
            let Some(change) = self.pending.pop_front() else {
                break;
            };
            match change {
                PendingChange::QuerySet {
                    version,
                    adds,
                    removes,
                } => {
                    for (id, q) in adds {
                        if let Some(old) = self.queries.insert(id, q) {
                            self.release(&old.sub);
                        }
                    }
                    for id in removes {
                        if let Some(old) = self.queries.remove(&id) {
                            self.release(&old.sub);
                        }
                        modifications.push(StateModification::QueryRemoved { query_id: id });
                    }
                    query_set = version;
                }
                PendingChange::Identity {
                    version,
                    resubscribed,
                } => {
                    for (id, sub) in resubscribed {
                        match self.queries.get_mut(&id) {
                            Some(q) => {
                                let old = std::mem::replace(&mut q.sub, sub);
                                self.release(&old);
                            }
                            None => self.release(&sub),
                        }
                    }
                    identity = version;
                }
            }
        }
        let mut ids: Vec<u32> = self.queries.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(q) = self.queries.get_mut(&id) else {
                continue;
            };
            let Some(result) = ready(&q.sub) else {
                continue;
            };
            if q.last_hash == Some(result.hash) {
                continue;
            }
            q.last_hash = Some(result.hash);
            modifications.push(match &result.value {
                Ok(value) => StateModification::QueryUpdated {
                    query_id: id,
                    value: value.clone(),
                    log_lines: result.log_lines.clone(),
                    journal: result.journal.clone(),
                },
                Err((message, data)) => StateModification::QueryFailed {
                    query_id: id,
                    error_message: message.clone(),
                    log_lines: result.log_lines.clone(),
                    journal: result.journal.clone(),
                    error_data: data.clone(),
                },
            });
        }
        let ts = hub_ts.max(self.sent.ts.0);
        let due = self.transition_due.is_some_and(|due| ts >= due);
        tracing::trace!(hub_ts, ?self.transition_due, modifications = modifications.len(), pending = self.pending.len(), "flush");
        let moved = query_set != self.sent.query_set || identity != self.sent.identity;
        if modifications.is_empty() && !moved && !due {
            return Ok(());
        }
        if due {
            self.transition_due = None;
        }
        let end = StateVersion {
            query_set,
            identity,
            ts: Ts(ts),
        };
        let message = ServerMessage::Transition {
            start_version: self.sent,
            end_version: end,
            modifications,
            client_clock_skew: self.clock_skew,
            server_ts: crate::store::wall_clock_nanos(),
        };
        self.sent = end;
        self.send(&message);
        Ok(())
    }

    fn release(&self, sub: &Subscribed) {
        if let Subscribed::Hub(id) = sub {
            self.hub.unsubscribe(*id, &self.notify);
        }
    }

    fn unsubscribe_all(&mut self) {
        for q in std::mem::take(&mut self.queries).into_values() {
            self.release(&q.sub);
        }
        for change in std::mem::take(&mut self.pending) {
            match change {
                PendingChange::QuerySet { adds, .. } => {
                    for (_, q) in adds {
                        self.release(&q.sub);
                    }
                }
                PendingChange::Identity { resubscribed, .. } => {
                    for (_, s) in resubscribed {
                        self.release(&s);
                    }
                }
            }
        }
    }
}
