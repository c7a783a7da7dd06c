//! The client side of the sync protocol as a state machine without I/O.
//!
//! [`SyncState`] keeps the query set, the identity, the server's state
//! version and the requests in flight. Its methods take user operations and
//! server messages and return the client messages to send; the worker only
//! moves those over the socket. Delivery to users happens through
//! [`Slot`]s (subscriptions) and oneshot replies (requests).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use convex_rs::sync::protocol::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, TokenType,
    Ts,
};
use convex_rs::value::Value;
use serde_json::Value as Json;
use tokio::sync::oneshot;

use crate::error::ClientError;
use crate::status::AuthState;
use crate::subscription::{QueryResult, Slot};

/// Where a request's result goes.
pub(crate) type Reply = oneshot::Sender<Result<Value, ClientError>>;

/// Mutation or action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    /// Resolved after its MutationResponse and a covering Transition;
    /// re-sent after reconnects.
    Mutation,
    /// Resolved by its ActionResponse; failed if the connection drops
    /// while it is in flight.
    Action,
}

/// What the connection should do after a server message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Keep going.
    Continue,
    /// Keep going; the client has fully caught up after the latest
    /// (re)connect, so the reconnect backoff can be reset.
    Synced,
    /// Drop the socket and reconnect; the string becomes the next
    /// `lastCloseReason`.
    Reconnect(String),
    /// The server sent `FatalError`: stop for good.
    Fatal(String),
}

/// One subscribed query (shared by every subscriber with the same
/// canonical path and encoded arguments).
#[derive(Debug)]
struct Query {
    key: (String, String),
    path: String,
    args: Json,
    journal: Option<String>,
    result: Option<QueryResult>,
    subscribers: BTreeMap<u64, Arc<Slot>>,
}

#[derive(Debug)]
struct Request {
    kind: RequestKind,
    path: String,
    args: Json,
    sent: bool,
    /// A successful mutation's result, waiting for a Transition at or past
    /// its commit timestamp.
    parked: Option<(Ts, Result<Value, ClientError>)>,
    reply: Reply,
}

impl Request {
    fn message(&self, request_id: u32) -> ClientMessage {
        let (udf_path, args) = (self.path.clone(), vec![self.args.clone()]);
        match self.kind {
            RequestKind::Mutation => ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
                component_path: None,
            },
            RequestKind::Action => ClientMessage::Action {
                request_id,
                udf_path,
                args,
                component_path: None,
            },
        }
    }
}

/// What must happen before a (re)connected socket counts as synced.
#[derive(Debug)]
struct SyncTarget {
    query_set: u32,
    identity: u32,
    requests: BTreeSet<u32>,
}

/// Counts reported in [`ConnectionState`](crate::ConnectionState).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stats {
    pub(crate) inflight_mutations: usize,
    pub(crate) inflight_actions: usize,
    pub(crate) active_queries: usize,
    pub(crate) auth: AuthState,
}

/// The protocol state of one client instance, across sockets.
#[derive(Debug, Default)]
pub(crate) struct SyncState {
    connected: bool,

    next_query_id: u32,
    queries: BTreeMap<u32, Query>,
    query_ids: HashMap<(String, String), u32>,
    subscribers: HashMap<u64, u32>,
    /// `newVersion` of the last ModifyQuerySet sent on this socket.
    query_set_version: u32,

    token: Option<String>,
    auth: AuthState,
    /// Authenticate messages sent on this socket.
    identity_version: u32,

    /// The server's state version on this socket (end of the last Transition).
    version: StateVersion,
    max_observed_ts: Option<Ts>,

    next_request_id: u32,
    requests: BTreeMap<u32, Request>,
    sync_target: Option<SyncTarget>,
}

impl SyncState {
    /// The highest timestamp seen in a Transition or successful
    /// MutationResponse (sent in `Connect`).
    pub(crate) fn max_observed_ts(&self) -> Option<Ts> {
        self.max_observed_ts
    }

    /// Counts for the connection state.
    pub(crate) fn stats(&self) -> Stats {
        let mutations = self
            .requests
            .values()
            .filter(|r| r.kind == RequestKind::Mutation)
            .count();
        Stats {
            inflight_mutations: mutations,
            inflight_actions: self.requests.len() - mutations,
            active_queries: self.queries.len(),
            auth: self.auth.clone(),
        }
    }

    fn modify(&mut self, modifications: Vec<QuerySetModification>) -> ClientMessage {
        let base_version = self.query_set_version;
        self.query_set_version = base_version.wrapping_add(1);
        ClientMessage::ModifyQuerySet {
            base_version,
            new_version: self.query_set_version,
            modifications,
        }
    }

    /// Adds the subscriber `subscriber_id` (unique, chosen by the client
    /// handle) for `path(args)`; returns the message to send, if any (none
    /// when offline or when the query is already subscribed, in which case
    /// its latest result is delivered at once).
    pub(crate) fn subscribe(
        &mut self,
        subscriber_id: u64,
        path: &str,
        args: Json,
        slot: Arc<Slot>,
    ) -> Option<ClientMessage> {
        let path = path.to_owned();
        let key = (path.clone(), args.to_string());

        if let Some(query_id) = self.query_ids.get(&key).copied()
            && let Some(query) = self.queries.get_mut(&query_id)
        {
            if let Some(result) = &query.result {
                slot.push(result.clone());
            }
            query.subscribers.insert(subscriber_id, slot);
            self.subscribers.insert(subscriber_id, query_id);
            return None;
        }

        let query_id = self.next_query_id;
        self.next_query_id = self.next_query_id.wrapping_add(1);
        let add = QuerySetModification::Add {
            query_id,
            udf_path: path.clone(),
            args: vec![args.clone()],
            journal: None,
            component_path: None,
        };
        self.query_ids.insert(key.clone(), query_id);
        self.subscribers.insert(subscriber_id, query_id);
        self.queries.insert(
            query_id,
            Query {
                key,
                path,
                args,
                journal: None,
                result: None,
                subscribers: BTreeMap::from([(subscriber_id, slot)]),
            },
        );
        self.connected.then(|| self.modify(vec![add]))
    }

    /// Removes a subscriber; when it was the query's last one the query is
    /// removed too and, if online, a `Remove` is returned.
    pub(crate) fn unsubscribe(&mut self, subscriber_id: u64) -> Option<ClientMessage> {
        let query_id = self.subscribers.remove(&subscriber_id)?;
        let query = self.queries.get_mut(&query_id)?;
        query.subscribers.remove(&subscriber_id);
        if !query.subscribers.is_empty() {
            return None;
        }
        if let Some(query) = self.queries.remove(&query_id) {
            self.query_ids.remove(&query.key);
        }
        self.connected
            .then(|| self.modify(vec![QuerySetModification::Remove { query_id }]))
    }

    /// Queues a mutation or action; returns the message if online (when
    /// offline it is sent after the next connect).
    pub(crate) fn request(
        &mut self,
        kind: RequestKind,
        path: &str,
        args: Json,
        reply: Reply,
    ) -> Option<ClientMessage> {
        let request_id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1);
        let request = Request {
            kind,
            path: path.to_owned(),
            args,
            sent: self.connected,
            parked: None,
            reply,
        };
        let message = self.connected.then(|| request.message(request_id));
        self.requests.insert(request_id, request);
        message
    }

    /// Sets (`Some`) or clears (`None`) the user token; returns the
    /// `Authenticate` message if online.
    pub(crate) fn set_auth(&mut self, token: Option<String>) -> Option<ClientMessage> {
        self.auth = match token {
            Some(_) => AuthState::Pending,
            None => AuthState::Unauthenticated,
        };
        self.token = token;
        if !self.connected {
            return None;
        }
        Some(self.authenticate())
    }

    fn authenticate(&mut self) -> ClientMessage {
        let base_version = self.identity_version;
        self.identity_version += 1;
        ClientMessage::Authenticate {
            base_version,
            token_type: if self.token.is_some() {
                TokenType::User
            } else {
                TokenType::None
            },
            value: self.token.clone(),
            impersonating: None,
            acting_as: None,
        }
    }

    /// A new socket is open (after `Connect` was queued): returns what must
    /// follow it, in order: the token (identity base 0), every live query
    /// in one ModifyQuerySet 0 → 1 with its journal, then every unresolved
    /// mutation and every not yet sent action with its original request id.
    pub(crate) fn on_open(&mut self) -> Vec<ClientMessage> {
        self.connected = true;
        self.version = StateVersion::default();
        self.query_set_version = 0;
        self.identity_version = 0;

        let mut out = Vec::new();
        if self.token.is_some() {
            self.auth = AuthState::Pending;
            out.push(self.authenticate());
        }
        let adds = self
            .queries
            .iter()
            .map(|(&query_id, query)| QuerySetModification::Add {
                query_id,
                udf_path: query.path.clone(),
                args: vec![query.args.clone()],
                journal: query.journal.clone(),
                component_path: None,
            })
            .collect();
        out.push(self.modify(adds));
        for (&request_id, request) in &mut self.requests {
            request.sent = true;
            out.push(request.message(request_id));
        }
        self.sync_target = Some(SyncTarget {
            query_set: self.query_set_version,
            identity: self.identity_version,
            requests: self.requests.keys().copied().collect(),
        });
        out
    }

    /// The socket is gone. Actions that were sent fail (they are not
    /// idempotent, so they are not re-sent); mutations stay and are re-sent
    /// on the next socket.
    pub(crate) fn on_close(&mut self) {
        self.connected = false;
        let lost: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, r)| r.kind == RequestKind::Action && r.sent)
            .map(|(&id, _)| id)
            .collect();
        for request_id in lost {
            if let Some(request) = self.requests.remove(&request_id) {
                let message = format!(
                    "connection lost while action `{}` was in flight; it may or may not have run",
                    request.path
                );
                let _ = request.reply.send(Err(ClientError::Connection(message)));
            }
        }
    }

    /// Ends everything: fails every request with `error` (or
    /// [`ClientError::Closed`]) and ends every subscription stream (with
    /// `error` as its last item, if given).
    pub(crate) fn fail_all(&mut self, error: Option<ClientError>) {
        self.connected = false;
        for (_, request) in std::mem::take(&mut self.requests) {
            let error = error.clone().unwrap_or(ClientError::Closed);
            let _ = request.reply.send(Err(error));
        }
        for (_, query) in std::mem::take(&mut self.queries) {
            for slot in query.subscribers.values() {
                slot.close(error.clone());
            }
        }
        self.query_ids.clear();
        self.subscribers.clear();
        self.sync_target = None;
    }

    fn observe_ts(&mut self, ts: Ts) {
        if self.max_observed_ts.is_none_or(|max| ts > max) {
            self.max_observed_ts = Some(ts);
        }
    }

    fn request_done(&mut self, request_id: u32) {
        if let Some(target) = &mut self.sync_target {
            target.requests.remove(&request_id);
        }
    }

    /// Applies one server message.
    pub(crate) fn receive(&mut self, message: ServerMessage) -> Outcome {
        match message {
            ServerMessage::Transition {
                start_version,
                end_version,
                modifications,
                ..
            } => self.transition(start_version, end_version, modifications),
            ServerMessage::MutationResponse {
                request_id,
                success,
                result,
                ts,
                log_lines,
                error_data,
            } => {
                let Some(request) = self.requests.get_mut(&request_id) else {
                    return Outcome::Continue; // unknown or already resolved
                };
                if request.kind != RequestKind::Mutation || request.parked.is_some() {
                    return Outcome::Continue; // duplicate answer to a re-sent mutation
                }
                log_function_lines('M', &request.path, &log_lines);
                if success {
                    let ts = ts.unwrap_or_default();
                    request.parked =
                        Some((ts, Value::from_json(result).map_err(ClientError::Decode)));
                    self.observe_ts(ts);
                } else if let Some(request) = self.requests.remove(&request_id) {
                    let _ = request.reply.send(Err(function_error(result, error_data)));
                    self.request_done(request_id);
                }
                self.synced_outcome()
            }
            ServerMessage::ActionResponse {
                request_id,
                success,
                result,
                log_lines,
                error_data,
            } => {
                let is_action = self
                    .requests
                    .get(&request_id)
                    .is_some_and(|r| r.kind == RequestKind::Action);
                if !is_action {
                    return Outcome::Continue;
                }
                if let Some(request) = self.requests.remove(&request_id) {
                    log_function_lines('A', &request.path, &log_lines);
                    let outcome = if success {
                        Value::from_json(result).map_err(ClientError::Decode)
                    } else {
                        Err(function_error(result, error_data))
                    };
                    let _ = request.reply.send(outcome);
                    self.request_done(request_id);
                }
                self.synced_outcome()
            }
            ServerMessage::AuthError {
                error,
                base_version,
                auth_update_attempted,
            } => {
                if !auth_update_attempted && self.auth == AuthState::Pending {
                    // About an older token; the server closes the socket and
                    // the pending token is re-sent on the next one.
                    return Outcome::Continue;
                }
                if base_version.saturating_add(1) < self.identity_version {
                    return Outcome::Continue; // stale
                }
                tracing::warn!("the server rejected the auth token: {error}");
                self.token = None;
                self.auth = AuthState::Rejected(error);
                Outcome::Reconnect("AuthError".to_owned())
            }
            ServerMessage::FatalError { error } => Outcome::Fatal(error),
            ServerMessage::Ping => Outcome::Continue,
        }
    }

    fn transition(
        &mut self,
        start: StateVersion,
        end: StateVersion,
        modifications: Vec<StateModification>,
    ) -> Outcome {
        if start != self.version {
            tracing::warn!(
                "transition starts at {start:?} but the client is at {:?}; reconnecting",
                self.version
            );
            return Outcome::Reconnect("StartVersionMismatch".to_owned());
        }
        for modification in modifications {
            self.apply(modification);
        }
        self.version = end;
        self.observe_ts(end.ts);
        if self.auth == AuthState::Pending
            && end.identity > start.identity
            && end.identity >= self.identity_version
        {
            self.auth = AuthState::Authenticated;
        }

        let covered: Vec<u32> = self
            .requests
            .iter()
            .filter(|(_, r)| r.parked.as_ref().is_some_and(|(ts, _)| *ts <= end.ts))
            .map(|(&id, _)| id)
            .collect();
        for request_id in covered {
            if let Some(Request {
                parked: Some((_, result)),
                reply,
                ..
            }) = self.requests.remove(&request_id)
            {
                let _ = reply.send(result);
            }
            self.request_done(request_id);
        }
        self.synced_outcome()
    }

    fn apply(&mut self, modification: StateModification) {
        let (query_id, result, journal, log_lines) = match modification {
            StateModification::QueryUpdated {
                query_id,
                value,
                log_lines,
                journal,
            } => (
                query_id,
                Value::from_json(value).map_err(ClientError::Decode),
                journal,
                log_lines,
            ),
            StateModification::QueryFailed {
                query_id,
                error_message,
                log_lines,
                journal,
                error_data,
            } => (
                query_id,
                Err(function_error(Json::String(error_message), error_data)),
                journal,
                log_lines,
            ),
            StateModification::QueryRemoved { .. } => return,
        };
        // Results for queries removed locally in the meantime are dropped.
        let Some(query) = self.queries.get_mut(&query_id) else {
            return;
        };
        log_function_lines('Q', &query.path, &log_lines);
        query.journal = journal;
        for slot in query.subscribers.values() {
            slot.push(result.clone());
        }
        query.result = Some(result);
    }

    /// Checks (and clears) the sync target of the current socket.
    fn synced_outcome(&mut self) -> Outcome {
        let synced = self.sync_target.as_ref().is_some_and(|target| {
            self.version.query_set >= target.query_set
                && self.version.identity >= target.identity
                && target.requests.is_empty()
        });
        if synced {
            self.sync_target = None;
            Outcome::Synced
        } else {
            Outcome::Continue
        }
    }
}

/// A function failure: `result` holds the message, `error_data` the
/// `ConvexError` data.
fn function_error(result: Json, error_data: Option<Json>) -> ClientError {
    let message = match result {
        Json::String(message) => message,
        other => other.to_string(),
    };
    let data = error_data.and_then(|json| match Value::from_json(json) {
        Ok(value) => Some(value),
        Err(e) => {
            tracing::warn!("dropping undecodable ConvexError data: {e}");
            None
        }
    });
    ClientError::Function { message, data }
}

/// Forwards a function's `console.log` lines to `tracing`.
fn log_function_lines(kind: char, path: &str, lines: &[String]) {
    for line in lines {
        tracing::info!(target: "convex_client::function_logs", "[CONVEX {kind}({path})] {line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::task::{Context, Poll};

    fn version(query_set: u32, identity: u32, ts: u64) -> StateVersion {
        StateVersion {
            query_set,
            identity,
            ts: Ts(ts),
        }
    }

    fn transition(
        start: StateVersion,
        end: StateVersion,
        mods: Vec<StateModification>,
    ) -> ServerMessage {
        ServerMessage::Transition {
            start_version: start,
            end_version: end,
            modifications: mods,
            client_clock_skew: 0,
            server_ts: 0,
        }
    }

    fn updated(query_id: u32, value: Json, journal: Option<&str>) -> StateModification {
        StateModification::QueryUpdated {
            query_id,
            value,
            log_lines: vec![],
            journal: journal.map(str::to_owned),
        }
    }

    fn take(slot: &Slot) -> Option<QueryResult> {
        let waker = futures::task::noop_waker_ref();
        let mut cx = Context::from_waker(waker);
        match slot.poll_take(&mut cx) {
            Poll::Ready(Some(r)) => Some(r),
            _ => None,
        }
    }

    fn versions(message: &ClientMessage) -> (u32, u32) {
        match message {
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                ..
            } => (*base_version, *new_version),
            other => panic!("expected ModifyQuerySet, got {other:?}"),
        }
    }

    #[test]
    fn chains_query_set_versions_and_shares_identical_queries() {
        let mut s = SyncState::default();
        let open = s.on_open();
        assert_eq!(open.len(), 1);
        assert_eq!(versions(&open[0]), (0, 1));

        let a = Arc::new(Slot::default());
        let (sub_a, sub_b, sub_c) = (1, 2, 3);
        let msg = s.subscribe(sub_a, "messages:list", json!({"n": 1.0}), a.clone());
        let msg = msg.expect("online subscribe sends Add");
        assert_eq!(versions(&msg), (1, 2));
        let ClientMessage::ModifyQuerySet { modifications, .. } = msg else {
            unreachable!()
        };
        assert!(matches!(&modifications[0],
            QuerySetModification::Add { query_id: 0, udf_path, .. } if udf_path == "messages:list"));

        // Same path and args: shares query 0, no message.
        let b = Arc::new(Slot::default());
        let msg = s.subscribe(sub_b, "messages:list", json!({"n": 1.0}), b.clone());
        assert!(msg.is_none());
        assert_eq!(s.stats().active_queries, 1);

        assert_eq!(
            s.receive(transition(
                version(0, 0, 0),
                version(2, 0, 5),
                vec![updated(0, json!(7.0), None)]
            )),
            Outcome::Synced
        );
        assert!(matches!(take(&a), Some(Ok(Value::Float64(x))) if x == 7.0));
        assert!(matches!(take(&b), Some(Ok(Value::Float64(x))) if x == 7.0));

        // A late subscriber gets the current result immediately.
        let c = Arc::new(Slot::default());
        s.subscribe(sub_c, "messages:list", json!({"n": 1.0}), c.clone());
        assert!(matches!(take(&c), Some(Ok(_))));

        assert!(s.unsubscribe(sub_a).is_none());
        assert!(s.unsubscribe(sub_b).is_none());
        let remove = s
            .unsubscribe(sub_c)
            .expect("last subscriber removes the query");
        assert_eq!(versions(&remove), (2, 3));
        assert!(s.unsubscribe(sub_c).is_none());
        assert_eq!(s.stats().active_queries, 0);
    }

    #[test]
    fn reconnect_re_adds_queries_with_journals_after_auth() {
        let mut s = SyncState::default();
        let slot = Arc::new(Slot::default());
        // Subscribed while offline: nothing to send yet.
        let msg = s.subscribe(1, "q:page", json!({}), slot.clone());
        assert!(msg.is_none());
        assert!(s.set_auth(Some("jwt".into())).is_none());
        let open = s.on_open();
        assert!(matches!(
            &open[0],
            ClientMessage::Authenticate {
                base_version: 0,
                token_type: TokenType::User,
                ..
            }
        ));
        assert_eq!(versions(&open[1]), (0, 1));

        s.receive(transition(
            version(0, 0, 0),
            version(1, 1, 3),
            vec![updated(0, json!([]), Some("j1"))],
        ));
        assert_eq!(s.stats().auth, AuthState::Authenticated);
        // A later auth change uses the next identity base version.
        assert!(matches!(
            s.set_auth(Some("jwt2".into())),
            Some(ClientMessage::Authenticate {
                base_version: 1,
                ..
            })
        ));

        s.on_close();
        let open = s.on_open();
        assert!(
            matches!(&open[0], ClientMessage::Authenticate { base_version: 0, value: Some(v), .. } if v == "jwt2")
        );
        let ClientMessage::ModifyQuerySet {
            base_version: 0,
            new_version: 1,
            modifications,
        } = &open[1]
        else {
            panic!("{:?}", open[1]);
        };
        assert!(matches!(&modifications[0],
            QuerySetModification::Add { query_id: 0, journal: Some(j), .. } if j == "j1"));
        // The version restarted: a Transition from the old version is a mismatch.
        assert_eq!(
            s.receive(transition(version(1, 1, 3), version(1, 1, 4), vec![])),
            Outcome::Reconnect("StartVersionMismatch".into())
        );
    }

    #[test]
    fn mutation_resolves_only_after_covering_transition() {
        let mut s = SyncState::default();
        s.on_open();
        s.receive(transition(version(0, 0, 0), version(1, 0, 10), vec![]));
        let (tx, mut rx) = oneshot::channel();
        let msg = s.request(RequestKind::Mutation, "m:send", json!({}), tx);
        assert!(matches!(
            msg,
            Some(ClientMessage::Mutation { request_id: 0, .. })
        ));
        s.receive(ServerMessage::MutationResponse {
            request_id: 0,
            success: true,
            result: json!("id"),
            ts: Some(Ts(20)),
            log_lines: vec![],
            error_data: None,
        });
        assert!(rx.try_recv().is_err());
        assert_eq!(s.max_observed_ts(), Some(Ts(20)));
        s.receive(transition(version(1, 0, 10), version(1, 0, 15), vec![]));
        assert!(rx.try_recv().is_err());
        s.receive(transition(version(1, 0, 15), version(1, 0, 20), vec![]));
        assert!(matches!(rx.try_recv(), Ok(Ok(Value::String(id))) if id == "id"));
        assert_eq!(s.stats().inflight_mutations, 0);
    }

    #[test]
    fn failed_mutation_resolves_immediately_with_data() {
        let mut s = SyncState::default();
        s.on_open();
        let (tx, mut rx) = oneshot::channel();
        s.request(RequestKind::Mutation, "m:send", json!({}), tx);
        s.receive(ServerMessage::MutationResponse {
            request_id: 0,
            success: false,
            result: json!("boom"),
            ts: None,
            log_lines: vec![],
            error_data: Some(json!({"code": "X"})),
        });
        match rx.try_recv() {
            Ok(Err(ClientError::Function {
                message,
                data: Some(Value::Object(o)),
            })) => {
                assert_eq!(message, "boom");
                assert_eq!(o.get("code"), Some(&Value::from("X")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn close_fails_sent_actions_and_resends_mutations() {
        let mut s = SyncState::default();
        s.on_open();
        let (m_tx, mut m_rx) = oneshot::channel();
        let (a_tx, mut a_rx) = oneshot::channel();
        s.request(RequestKind::Mutation, "m:one", json!({}), m_tx);
        s.request(RequestKind::Action, "a:one", json!({}), a_tx);
        // The mutation got its response but no Transition yet.
        s.receive(ServerMessage::MutationResponse {
            request_id: 0,
            success: true,
            result: json!(null),
            ts: Some(Ts(9)),
            log_lines: vec![],
            error_data: None,
        });
        s.on_close();
        assert!(matches!(
            a_rx.try_recv(),
            Ok(Err(ClientError::Connection(_)))
        ));
        assert!(m_rx.try_recv().is_err());

        // Queued while offline, sent after reconnect.
        let (a2_tx, _a2_rx) = oneshot::channel();
        assert!(
            s.request(RequestKind::Action, "a:two", json!({}), a2_tx)
                .is_none()
        );
        let open = s.on_open();
        let ids: Vec<_> = open
            .iter()
            .filter_map(|m| match m {
                ClientMessage::Mutation { request_id, .. } => Some(("M", *request_id)),
                ClientMessage::Action { request_id, .. } => Some(("A", *request_id)),
                _ => None,
            })
            .collect();
        assert_eq!(ids, [("M", 0), ("A", 2)]);
        // The duplicate response is ignored; the Transition resolves it.
        s.receive(ServerMessage::MutationResponse {
            request_id: 0,
            success: true,
            result: json!(null),
            ts: Some(Ts(9)),
            log_lines: vec![],
            error_data: None,
        });
        assert_eq!(
            s.receive(transition(version(0, 0, 0), version(1, 0, 9), vec![])),
            Outcome::Continue
        );
        assert!(matches!(m_rx.try_recv(), Ok(Ok(Value::Null))));
        s.receive(ServerMessage::ActionResponse {
            request_id: 2,
            success: true,
            result: json!(1.0),
            log_lines: vec![],
            error_data: None,
        });
        assert_eq!(s.stats().inflight_actions, 0);
    }

    #[test]
    fn sync_waits_for_requests_in_flight_at_reconnect() {
        let mut s = SyncState::default();
        let (tx, _rx) = oneshot::channel();
        s.request(RequestKind::Mutation, "m:x", json!({}), tx);
        s.on_open();
        assert_eq!(
            s.receive(transition(version(0, 0, 0), version(1, 0, 1), vec![])),
            Outcome::Continue
        );
        s.receive(ServerMessage::MutationResponse {
            request_id: 0,
            success: true,
            result: json!(null),
            ts: Some(Ts(2)),
            log_lines: vec![],
            error_data: None,
        });
        assert_eq!(
            s.receive(transition(version(1, 0, 1), version(1, 0, 2), vec![])),
            Outcome::Synced
        );
    }

    #[test]
    fn auth_errors_clear_the_token_unless_stale() {
        let mut s = SyncState::default();
        s.set_auth(Some("t".into()));
        s.on_open();
        // Not about the update we are waiting for: ignored.
        let expired = ServerMessage::AuthError {
            error: "old".into(),
            base_version: 0,
            auth_update_attempted: false,
        };
        assert_eq!(s.receive(expired), Outcome::Continue);
        let rejected = ServerMessage::AuthError {
            error: "bad token".into(),
            base_version: 0,
            auth_update_attempted: true,
        };
        assert_eq!(s.receive(rejected), Outcome::Reconnect("AuthError".into()));
        assert_eq!(s.stats().auth, AuthState::Rejected("bad token".into()));
        s.on_close();
        // A newer token replaces one still being checked: the verdict on the
        // older one (base 0, while the newer one has base 1) is stale.
        s.set_auth(Some("first".into()));
        s.on_open();
        assert!(s.set_auth(Some("second".into())).is_some());
        let stale = ServerMessage::AuthError {
            error: "first was bad".into(),
            base_version: 0,
            auth_update_attempted: true,
        };
        assert_eq!(s.receive(stale), Outcome::Continue);
        assert_ne!(s.stats().auth, AuthState::Rejected("first was bad".into()));
        let current = ServerMessage::AuthError {
            error: "second was bad".into(),
            base_version: 1,
            auth_update_attempted: true,
        };
        assert_eq!(s.receive(current), Outcome::Reconnect("AuthError".into()));
        assert_eq!(s.stats().auth, AuthState::Rejected("second was bad".into()));
        s.on_close();
        assert!(
            s.on_open()
                .iter()
                .all(|m| !matches!(m, ClientMessage::Authenticate { .. }))
        );
    }

    #[test]
    fn query_failures_and_fatal_shutdown_reach_subscribers() {
        let mut s = SyncState::default();
        s.on_open();
        let slot = Arc::new(Slot::default());
        s.subscribe(1, "q:x", json!({}), slot.clone());
        s.receive(transition(
            version(0, 0, 0),
            version(2, 0, 1),
            vec![StateModification::QueryFailed {
                query_id: 0,
                error_message: "nope".into(),
                log_lines: vec![],
                journal: None,
                error_data: Some(json!(null)),
            }],
        ));
        assert!(matches!(
            take(&slot),
            Some(Err(ClientError::Function {
                data: Some(Value::Null),
                ..
            }))
        ));
        assert_eq!(
            s.receive(ServerMessage::FatalError {
                error: "bad".into()
            }),
            Outcome::Fatal("bad".into())
        );
        s.fail_all(Some(ClientError::Fatal("bad".into())));
        assert!(matches!(take(&slot), Some(Err(ClientError::Fatal(_)))));
        assert_eq!(s.stats().active_queries, 0);
    }
}
