//! # convex-client
//!
//! A Rust client for convex-rs deployments (and other servers speaking the
//! Convex sync protocol): live queries as [`Stream`](futures::Stream)s,
//! one-shot queries, mutations and actions over one WebSocket.
//!
//! ```no_run
//! use convex_client::ConvexClient;
//! use futures::StreamExt;
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! #[derive(Deserialize, Debug)]
//! struct Message {
//!     author: String,
//!     body: String,
//! }
//!
//! # async fn run() -> Result<(), convex_client::ClientError> {
//! let client = ConvexClient::connect("http://127.0.0.1:3210").await?;
//! let mut messages = client.subscribe::<Vec<Message>>("messages:list", json!({})).await?;
//! let id: String = client
//!     .mutation("messages:send", json!({ "author": "ada", "body": "hi" }))
//!     .await?;
//! // The mutation has resolved, so the subscription already reflects it.
//! while let Some(result) = messages.next().await {
//!     println!("{:?}", result?);
//! }
//! # let _ = id;
//! client.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! ## Behaviour
//!
//! * One background task owns the socket; [`ConvexClient`] is a cheap
//!   handle to it. The task stops, closing the socket cleanly, when
//!   [`close`](ConvexClient::close) is called or every handle is dropped.
//!   Subscriptions do not keep the client alive; their streams end then.
//! * Lost connections are re-established automatically with exponential
//!   backoff and jitter (100 ms doubling up to 15 s by default; reset once
//!   the client has fully caught up). A server silent for 30 s counts as
//!   lost. On every new socket the client re-authenticates, re-subscribes
//!   every live query and re-sends every unresolved mutation with its
//!   original request id, under the same session id, so the server can
//!   de-duplicate them. Actions in flight fail instead, because they may
//!   have run.
//! * A mutation resolves once the server has both answered it and sent the
//!   query results at (or after) its commit, so every subscription already
//!   shows its effects, as in the official clients.
//! * A `FatalError` from the server stops the client for good: every
//!   pending call and stream ends with [`ClientError::Fatal`].
//!
//! TLS is not compiled in: use `http://` (or `ws://`) deployment URLs.

#![deny(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used)]

mod backoff;
mod error;
mod state;
mod status;
mod subscription;
mod url;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The longest backoff or timeout the builder keeps (a year): longer ones,
/// such as `Duration::MAX` for "never", would overflow deadline arithmetic.
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

use convex_rs::function::FunctionPath;
use convex_rs::value::{Value, from_value, to_value};
use futures::StreamExt;
use rand::RngExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::http::HeaderValue;

pub use crate::error::ClientError;
pub use crate::status::{AuthState, ConnectionState};
pub use crate::subscription::Subscription;

use crate::state::RequestKind;
use crate::subscription::Slot;
use crate::worker::{Command, Config, Worker};

/// Capacity of the command channel from handles to the background task.
const COMMAND_BUFFER: usize = 256;

/// Options for a [`ConvexClient`], from [`ConvexClient::builder`].
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `connect` is called"]
pub struct ClientBuilder {
    deployment_url: String,
    client_id: String,
    initial_backoff: Duration,
    max_backoff: Duration,
    inactivity_timeout: Duration,
    auth_token: Option<String>,
}

impl ClientBuilder {
    fn new(deployment_url: &str) -> Self {
        ClientBuilder {
            deployment_url: deployment_url.to_owned(),
            client_id: format!("convex-rs-client-{}", env!("CARGO_PKG_VERSION")),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(15),
            inactivity_timeout: Duration::from_secs(30),
            auth_token: None,
        }
    }

    /// Sets the `Convex-Client` header sent when connecting (default
    /// `convex-rs-client-<crate version>`). It must be a valid HTTP header
    /// value.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Sets the reconnect backoff: the first retry waits about `initial`,
    /// each further consecutive retry twice as long, never more than `max`
    /// (defaults: 100 ms and 15 s). Each delay is jittered down by up to
    /// half. `initial` is at least 1 ms.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial.clamp(Duration::from_millis(1), MAX_DURATION);
        self.max_backoff = max.min(MAX_DURATION);
        self
    }

    /// Sets how long the server may stay silent before the connection is
    /// considered dead and re-established (default 30 s; servers send a
    /// `Ping` after 15 s of silence). It also bounds the WebSocket
    /// handshake and each write. At least 1 ms.
    pub fn server_inactivity_timeout(mut self, timeout: Duration) -> Self {
        self.inactivity_timeout = timeout.clamp(Duration::from_millis(1), MAX_DURATION);
        self
    }

    /// Authenticates with this user token (JWT) from the first message on,
    /// like calling [`ConvexClient::set_auth`] right after connecting.
    pub fn auth_token(mut self, token: impl Into<String>) -> Self {
        self.auth_token = Some(token.into());
        self
    }

    /// Connects to the deployment and starts the background task.
    ///
    /// Fails with [`ClientError::InvalidUrl`] for an unusable URL and with
    /// [`ClientError::Connection`] if the first connection attempt fails
    /// (later connection losses are retried automatically).
    pub async fn connect(self) -> Result<ConvexClient, ClientError> {
        let ws_url = url::deployment_to_ws_url(&self.deployment_url)?;
        let client_id = HeaderValue::from_str(&self.client_id).map_err(|_| {
            ClientError::InvalidConfig(format!(
                "client id {:?} is not a valid HTTP header value",
                self.client_id
            ))
        })?;
        let config = Arc::new(Config {
            ws_url,
            client_id,
            initial_backoff: self.initial_backoff,
            max_backoff: self.max_backoff,
            inactivity_timeout: self.inactivity_timeout,
        });
        let ws = worker::open_socket(config.clone()).await.map_err(|error| {
            ClientError::Connection(format!("could not connect to {}: {error}", config.ws_url))
        })?;

        let (commands_tx, commands_rx) = mpsc::channel(COMMAND_BUFFER);
        let (unsubscribe_tx, unsubscribe_rx) = mpsc::unbounded_channel();
        // The first socket is open already; the worker keeps this current.
        let (status_tx, status_rx) = watch::channel(ConnectionState {
            is_connected: true,
            connection_count: 1,
            auth: match self.auth_token {
                Some(_) => AuthState::Pending,
                None => AuthState::Unauthenticated,
            },
            ..ConnectionState::default()
        });
        let session_id = backoff::new_session_id(rand::rng().random::<u128>().to_le_bytes());
        tracing::debug!("convex client session {session_id}");
        let mut worker = Worker::new(config, session_id, commands_rx, unsubscribe_rx, status_tx);
        if let Some(token) = self.auth_token {
            worker.set_auth_before_start(token);
        }
        tokio::spawn(worker.run(ws));

        Ok(ConvexClient {
            inner: Arc::new(Inner {
                commands: commands_tx,
                unsubscribe: unsubscribe_tx,
                next_subscriber_id: AtomicU64::new(0),
                status: status_rx,
            }),
        })
    }
}

/// A connection to a deployment.
///
/// Cloning is cheap: every clone talks to the same background task, which
/// owns the WebSocket. See the [crate documentation](crate) for the
/// connection behaviour.
#[derive(Clone)]
pub struct ConvexClient {
    inner: Arc<Inner>,
}

struct Inner {
    commands: mpsc::Sender<Command>,
    unsubscribe: mpsc::UnboundedSender<u64>,
    /// Subscriber ids are chosen here, so that a `Subscription` (whose drop
    /// unsubscribes) exists before the background task registers it.
    next_subscriber_id: AtomicU64,
    status: watch::Receiver<ConnectionState>,
}

impl fmt::Debug for ConvexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvexClient")
            .field("state", &*self.inner.status.borrow())
            .finish()
    }
}

impl ConvexClient {
    /// Connects to a deployment with the default options.
    ///
    /// `deployment_url` is the deployment's HTTP address, such as
    /// `http://127.0.0.1:3210`; the client connects to
    /// `ws://127.0.0.1:3210/api/sync`. `ws://` URLs are accepted too;
    /// `https://`/`wss://` are rejected because TLS is not compiled in.
    pub async fn connect(deployment_url: &str) -> Result<Self, ClientError> {
        Self::builder(deployment_url).connect().await
    }

    /// A builder to set options before connecting.
    pub fn builder(deployment_url: &str) -> ClientBuilder {
        ClientBuilder::new(deployment_url)
    }

    async fn send(&self, command: Command) -> Result<(), ClientError> {
        self.inner
            .commands
            .send(command)
            .await
            .map_err(|_| ClientError::Closed)
    }

    /// Subscribes to the query `path` (`"module:function"`) with `args`
    /// (any [`Serialize`] value that encodes to an object, or `()` for no
    /// arguments).
    ///
    /// The returned stream yields the first result and every later change;
    /// see [`Subscription`]. Identical subscriptions share one server-side
    /// query. Dropping the stream unsubscribes.
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<Subscription<T>, ClientError> {
        let args = encode_args(&args)?;
        self.subscribe_json(path, args).await
    }

    /// Like [`subscribe`](Self::subscribe) with untyped arguments and
    /// results. `args` must be an object (or `Null` for no arguments).
    pub async fn subscribe_value(
        &self,
        path: &str,
        args: Value,
    ) -> Result<Subscription<Value>, ClientError> {
        let args = encode_args(&args)?;
        self.subscribe_json(path, args).await
    }

    async fn subscribe_json<T>(
        &self,
        path: &str,
        args: Json,
    ) -> Result<Subscription<T>, ClientError> {
        let path = canonical_path(path)?;
        let slot = Arc::new(Slot::default());
        let subscriber_id = self
            .inner
            .next_subscriber_id
            .fetch_add(1, Ordering::Relaxed);
        // Created first: if this future is dropped at any later point, the
        // subscription's drop unsubscribes.
        let subscription =
            Subscription::new(slot.clone(), subscriber_id, self.inner.unsubscribe.clone());
        let (reply, response) = oneshot::channel();
        self.send(Command::Subscribe {
            subscriber_id,
            path,
            args,
            slot,
            reply,
        })
        .await?;
        response.await.map_err(|_| ClientError::Closed)??;
        Ok(subscription)
    }

    /// Runs the query `path` once: subscribes, waits for the first result
    /// and unsubscribes. A failed query gives [`ClientError::Function`].
    pub async fn query<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, ClientError> {
        let mut subscription = self.subscribe::<T>(path, args).await?;
        subscription
            .next()
            .await
            .unwrap_or(Err(ClientError::Closed))
    }

    /// Runs the mutation `path` with `args`.
    ///
    /// Resolves once the server has answered and has sent query results at
    /// or after the mutation's commit, so subscriptions already reflect it.
    /// If the connection drops, the mutation is re-sent (with the same
    /// request id, so the server can de-duplicate it) after reconnecting.
    /// A failed mutation gives [`ClientError::Function`], with the
    /// `ConvexError` data if any.
    pub async fn mutation<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, ClientError> {
        let value = self.request(RequestKind::Mutation, path, &args).await?;
        from_value(value).map_err(ClientError::Decode)
    }

    /// Runs the action `path` with `args`.
    ///
    /// Actions are not retried: if the connection drops while one is in
    /// flight it fails with [`ClientError::Connection`] (it may or may not
    /// have run). A failed action gives [`ClientError::Function`].
    pub async fn action<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, ClientError> {
        let value = self.request(RequestKind::Action, path, &args).await?;
        from_value(value).map_err(ClientError::Decode)
    }

    async fn request<A: Serialize + ?Sized>(
        &self,
        kind: RequestKind,
        path: &str,
        args: &A,
    ) -> Result<Value, ClientError> {
        let path = canonical_path(path)?;
        let args = encode_args(args)?;
        let (reply, response) = oneshot::channel();
        self.send(Command::Request {
            kind,
            path,
            args,
            reply,
        })
        .await?;
        response.await.map_err(|_| ClientError::Closed)?
    }

    /// Sets the user token (a JWT) sent to the server, or clears it with
    /// `None`. The token is re-sent after every reconnect. Whether the
    /// server accepted it shows in [`ConnectionState::auth`]; a rejected
    /// token is dropped.
    ///
    /// Returns once the change has been handed to the connection (it does
    /// not wait for the server's verdict). Does nothing on a closed client.
    pub async fn set_auth(&self, token: Option<String>) {
        let (reply, done) = oneshot::channel();
        if self.send(Command::SetAuth { token, reply }).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Closes the client: closes the WebSocket cleanly and ends the
    /// background task. Calls still pending on other handles fail with
    /// [`ClientError::Closed`], and every subscription stream ends.
    pub async fn close(self) {
        let (reply, done) = oneshot::channel();
        if self.send(Command::Close { reply }).await.is_ok() {
            let _ = done.await;
        }
    }

    /// The current state of the connection.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.status.borrow().clone()
    }
}

/// A function path in the form the official clients send: `messages` is
/// `messages:default`, `messages.js:list` is `messages:list`. A malformed
/// path fails here, before anything is sent.
fn canonical_path(path: &str) -> Result<String, ClientError> {
    Ok(FunctionPath::parse(path)?.to_string())
}

/// Encodes function arguments as the wire's arguments object.
fn encode_args<A: Serialize + ?Sized>(args: &A) -> Result<Json, ClientError> {
    match to_value(args).map_err(|e| ClientError::InvalidArgs(e.to_string()))? {
        object @ Value::Object(_) => Ok(object.to_json()),
        Value::Null => Ok(Json::Object(serde_json::Map::new())),
        other => Err(ClientError::InvalidArgs(format!(
            "arguments must be an object (a struct or a map with string keys), not {}",
            other.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[derive(Serialize)]
    struct Args {
        n: i64,
        name: &'static str,
    }

    #[test]
    fn encodes_arguments_as_convex_json_objects() {
        let encoded = encode_args(&Args { n: 5, name: "x" }).ok();
        assert_eq!(
            encoded,
            Some(json!({"n": {"$integer": "BQAAAAAAAAA="}, "name": "x"}))
        );
        assert_eq!(encode_args(&()).ok(), Some(json!({})));
        assert_eq!(encode_args(&json!({"a": 1})).ok(), Some(json!({"a": 1.0})));
        let empty: BTreeMap<String, f64> = BTreeMap::new();
        assert_eq!(encode_args(&empty).ok(), Some(json!({})));
        for bad in [json!([1]), json!("s"), json!(1)] {
            assert!(
                matches!(encode_args(&bad), Err(ClientError::InvalidArgs(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn canonicalises_function_paths() {
        for (input, canonical) in [
            ("messages:list", "messages:list"),
            ("messages", "messages:default"),
            ("messages.js:list", "messages:list"),
            ("dir/file:fn", "dir/file:fn"),
        ] {
            assert_eq!(canonical_path(input).ok().as_deref(), Some(canonical));
        }
        for bad in ["", ":list", "messages:", "mes sages:list"] {
            assert!(
                matches!(canonical_path(bad), Err(ClientError::InvalidPath(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn builder_defaults_match_the_protocol() {
        let b = ConvexClient::builder("http://127.0.0.1:3210");
        assert_eq!(b.initial_backoff, Duration::from_millis(100));
        assert_eq!(b.max_backoff, Duration::from_secs(15));
        assert_eq!(b.inactivity_timeout, Duration::from_secs(30));
        assert!(b.client_id.starts_with("convex-rs-client-"));
    }

    #[tokio::test]
    async fn connect_rejects_bad_urls_and_config_before_connecting() {
        let err = ConvexClient::connect("https://x.convex.cloud").await.err();
        assert!(
            matches!(err, Some(ClientError::InvalidUrl { .. })),
            "{err:?}"
        );
        let err = ConvexClient::builder("http://127.0.0.1:1")
            .client_id("bad\nid")
            .connect()
            .await
            .err();
        assert!(
            matches!(err, Some(ClientError::InvalidConfig(_))),
            "{err:?}"
        );
    }
}
