//! The background task: owns the WebSocket, reconnects, and moves messages
//! between the socket, the [`SyncState`] and the client handles.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convex_rs::sync::protocol::{ClientMessage, ServerMessage};
use futures::{SinkExt, StreamExt};
use rand::RngExt;
use serde_json::Value as Json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

use crate::backoff::Backoff;
use crate::error::ClientError;
use crate::state::{Outcome, Reply, RequestKind, SyncState};
use crate::status::ConnectionState;
use crate::subscription::Slot;

/// The client's WebSocket.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a graceful close may take before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// Connection settings, fixed when the client is built.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) ws_url: String,
    pub(crate) client_id: HeaderValue,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) inactivity_timeout: Duration,
}

/// Requests from client handles to the worker.
#[derive(Debug)]
pub(crate) enum Command {
    Subscribe {
        subscriber_id: u64,
        path: String,
        args: Json,
        slot: Arc<Slot>,
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    Request {
        kind: RequestKind,
        path: String,
        args: Json,
        reply: Reply,
    },
    SetAuth {
        token: Option<String>,
        reply: oneshot::Sender<()>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

/// Opens a WebSocket to the deployment (bounded by the inactivity timeout).
pub(crate) async fn open_socket(config: Arc<Config>) -> Result<Ws, String> {
    let mut request = config
        .ws_url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request
        .headers_mut()
        .insert("Convex-Client", config.client_id.clone());
    let (ws, response) = timeout(
        config.inactivity_timeout,
        // `true` disables Nagle's algorithm: small frames leave at once
        // instead of waiting for the server's delayed ACK.
        connect_async_with_config(request, None, true),
    )
    .await
    .map_err(|_| format!("timed out after {:?}", config.inactivity_timeout))?
    .map_err(|e| e.to_string())?;
    let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok());
    if let (Some(state), Some(message)) = (
        header("x-convex-deprecation-state"),
        header("x-convex-deprecation-message"),
    ) {
        tracing::warn!("deployment reports client deprecation ({state}): {message}");
    }
    Ok(ws)
}

struct Connection {
    ws: Ws,
    last_received: Instant,
}

type Connecting = Pin<Box<dyn Future<Output = Result<Ws, String>> + Send>>;

enum Phase {
    Connected(Box<Connection>),
    /// Waiting for the backoff delay to pass.
    Waiting(Instant),
    Connecting(Connecting),
    /// Stopped by a fatal error; answers commands with it until closed.
    Stopped,
}

enum Event {
    Command(Option<Command>),
    Unsubscribe(u64),
    Frame(Option<Result<Message, WsError>>),
    Inactive,
    RetryNow,
    Opened(Result<Box<Ws>, String>),
}

/// The background task's state.
pub(crate) struct Worker {
    config: Arc<Config>,
    session_id: String,
    state: SyncState,
    commands: mpsc::Receiver<Command>,
    /// Subscriptions dropped by their owners. (If every sender is gone the
    /// `Some(..)` pattern below just disables the branch.)
    unsubscribes: mpsc::UnboundedReceiver<u64>,
    status: watch::Sender<ConnectionState>,
    backoff: Backoff,
    sockets_opened: u32,
    last_close_reason: Option<String>,
    fatal: Option<String>,
}

impl Worker {
    pub(crate) fn new(
        config: Arc<Config>,
        session_id: String,
        commands: mpsc::Receiver<Command>,
        unsubscribes: mpsc::UnboundedReceiver<u64>,
        status: watch::Sender<ConnectionState>,
    ) -> Self {
        Worker {
            backoff: Backoff::new(config.initial_backoff, config.max_backoff),
            config,
            session_id,
            state: SyncState::default(),
            commands,
            unsubscribes,
            status,
            sockets_opened: 0,
            last_close_reason: None,
            fatal: None,
        }
    }

    /// Sets the user token before the first socket is opened.
    pub(crate) fn set_auth_before_start(&mut self, token: String) {
        // Offline, so this only records the token; `open` sends it.
        let _ = self.state.set_auth(Some(token));
    }

    /// Runs until the client is closed or every handle is dropped, starting
    /// from the already opened first socket.
    pub(crate) async fn run(mut self, ws: Ws) {
        let mut phase = self.open(ws).await;
        loop {
            self.publish_status(&phase);
            phase = match self.next_event(&mut phase).await {
                Event::Command(None) => {
                    tracing::debug!("all client handles dropped; closing");
                    self.shutdown(phase).await;
                    return;
                }
                Event::Command(Some(Command::Close { reply })) => {
                    self.shutdown(phase).await;
                    let _ = reply.send(());
                    return;
                }
                Event::Command(Some(command)) => {
                    let messages = self.handle_command(command);
                    self.send_all(phase, messages).await
                }
                Event::Unsubscribe(subscriber_id) => {
                    let messages = self.state.unsubscribe(subscriber_id).into_iter().collect();
                    self.send_all(phase, messages).await
                }
                Event::Frame(frame) => self.handle_frame(phase, frame).await,
                Event::Inactive => {
                    tracing::warn!(
                        "no message from the server for {:?}; reconnecting",
                        self.config.inactivity_timeout
                    );
                    self.disconnect(phase, "InactiveServer".to_owned())
                }
                Event::RetryNow => Phase::Connecting(Box::pin(open_socket(self.config.clone()))),
                Event::Opened(Ok(ws)) => self.open(*ws).await,
                Event::Opened(Err(error)) => {
                    tracing::warn!("could not connect to {}: {error}", self.config.ws_url);
                    self.schedule_retry()
                }
            };
        }
    }

    async fn next_event(&mut self, phase: &mut Phase) -> Event {
        let commands = &mut self.commands;
        let unsubscribes = &mut self.unsubscribes;
        match phase {
            Phase::Connected(connection) => {
                let deadline = connection.last_received + self.config.inactivity_timeout;
                tokio::select! {
                    frame = connection.ws.next() => Event::Frame(frame),
                    command = commands.recv() => Event::Command(command),
                    Some(id) = unsubscribes.recv() => Event::Unsubscribe(id),
                    () = sleep_until(deadline) => Event::Inactive,
                }
            }
            Phase::Waiting(at) => tokio::select! {
                command = commands.recv() => Event::Command(command),
                Some(id) = unsubscribes.recv() => Event::Unsubscribe(id),
                () = sleep_until(*at) => Event::RetryNow,
            },
            Phase::Connecting(connecting) => tokio::select! {
                result = connecting.as_mut() => Event::Opened(result.map(Box::new)),
                command = commands.recv() => Event::Command(command),
                Some(id) = unsubscribes.recv() => Event::Unsubscribe(id),
            },
            Phase::Stopped => tokio::select! {
                command = commands.recv() => Event::Command(command),
                Some(id) = unsubscribes.recv() => Event::Unsubscribe(id),
            },
        }
    }

    fn handle_command(&mut self, command: Command) -> Vec<ClientMessage> {
        let fatal = self.fatal.clone().map(ClientError::Fatal);
        match command {
            Command::Subscribe {
                subscriber_id,
                path,
                args,
                slot,
                reply,
            } => {
                if let Some(error) = fatal {
                    let _ = reply.send(Err(error));
                    return Vec::new();
                }
                // A closed slot means the `Subscription` was already dropped
                // (the caller gave up waiting); its unsubscribe may have been
                // handled before this command, so registering would leak.
                if slot.is_closed() {
                    return Vec::new();
                }
                let message = self.state.subscribe(subscriber_id, &path, args, slot);
                let _ = reply.send(Ok(()));
                message.into_iter().collect()
            }
            Command::Request {
                kind,
                path,
                args,
                reply,
            } => {
                if let Some(error) = fatal {
                    let _ = reply.send(Err(error));
                    return Vec::new();
                }
                self.state
                    .request(kind, &path, args, reply)
                    .into_iter()
                    .collect()
            }
            Command::SetAuth { token, reply } => {
                let _ = reply.send(());
                self.state.set_auth(token).into_iter().collect()
            }
            Command::Close { reply } => {
                // Not reached: `run` handles Close itself before calling this.
                let _ = reply.send(());
                Vec::new()
            }
        }
    }

    /// Sends `Connect` and the state's resync messages on a new socket.
    async fn open(&mut self, ws: Ws) -> Phase {
        tracing::debug!(
            "connected to {} (connection {})",
            self.config.ws_url,
            self.sockets_opened
        );
        let client_ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_millis() as f64);
        let connect = ClientMessage::Connect {
            session_id: self.session_id.clone(),
            connection_count: self.sockets_opened,
            last_close_reason: Some(
                self.last_close_reason
                    .clone()
                    .unwrap_or_else(|| "InitialConnect".to_owned()),
            ),
            max_observed_timestamp: self.state.max_observed_ts(),
            client_ts: Some(client_ts),
        };
        self.sockets_opened = self.sockets_opened.saturating_add(1);
        let mut messages = vec![connect];
        messages.extend(self.state.on_open());
        let connection = Connection {
            ws,
            last_received: Instant::now(),
        };
        self.send_all(Phase::Connected(Box::new(connection)), messages)
            .await
    }

    /// Sends `messages` if connected (when not, the state re-sends what
    /// matters on the next socket).
    async fn send_all(&mut self, phase: Phase, messages: Vec<ClientMessage>) -> Phase {
        let Phase::Connected(mut connection) = phase else {
            return phase;
        };
        if messages.is_empty() {
            return Phase::Connected(connection);
        }
        let sent = timeout(
            self.config.inactivity_timeout,
            send_messages(&mut connection.ws, &messages),
        )
        .await;
        match sent {
            Ok(Ok(())) => Phase::Connected(connection),
            Ok(Err(error)) => {
                tracing::warn!("failed to send to the server: {error}");
                self.disconnect(
                    Phase::Connected(connection),
                    "FailedToSendMessage".to_owned(),
                )
            }
            Err(_) => {
                tracing::warn!("sending to the server timed out");
                self.disconnect(
                    Phase::Connected(connection),
                    "FailedToSendMessage".to_owned(),
                )
            }
        }
    }

    async fn handle_frame(
        &mut self,
        phase: Phase,
        frame: Option<Result<Message, WsError>>,
    ) -> Phase {
        let Phase::Connected(mut connection) = phase else {
            return phase;
        };
        connection.last_received = Instant::now();
        let phase = Phase::Connected(connection);
        match frame {
            Some(Ok(Message::Text(text))) => match self.handle_text(text.as_str()) {
                Outcome::Continue => phase,
                Outcome::Synced => {
                    self.backoff.reset();
                    phase
                }
                Outcome::Reconnect(reason) => self.disconnect(phase, reason),
                Outcome::Fatal(error) => self.stop_fatally(phase, error),
            },
            Some(Ok(Message::Close(frame))) => {
                let reason = match frame {
                    Some(frame) if !frame.reason.is_empty() => frame.reason.as_str().to_owned(),
                    Some(frame) => format!("closed with code {}", u16::from(frame.code)),
                    None => "closed with code 1005".to_owned(),
                };
                tracing::info!("the server closed the connection: {reason}");
                self.disconnect(phase, reason)
            }
            Some(Ok(Message::Binary(_))) => {
                tracing::warn!("ignoring an unexpected binary frame from the server");
                phase
            }
            // Pings are answered by tungstenite; they only count as activity.
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => phase,
            Some(Err(error)) => {
                tracing::warn!("connection error: {error}");
                self.disconnect(phase, "closed with code 1006".to_owned())
            }
            None => {
                tracing::warn!("the connection ended without a close frame");
                self.disconnect(phase, "closed with code 1006".to_owned())
            }
        }
    }

    fn handle_text(&mut self, text: &str) -> Outcome {
        match serde_json::from_str::<ServerMessage>(text) {
            Ok(message) => self.state.receive(message),
            Err(error) => {
                let kind = serde_json::from_str::<Json>(text)
                    .ok()
                    .and_then(|json| json.get("type")?.as_str().map(str::to_owned));
                const KNOWN: [&str; 6] = [
                    "Transition",
                    "MutationResponse",
                    "ActionResponse",
                    "AuthError",
                    "FatalError",
                    "Ping",
                ];
                match kind {
                    Some(kind) if kind == "TransitionChunk" => {
                        tracing::warn!("chunked transitions are not supported; reconnecting");
                        Outcome::Reconnect("TransitionChunkUnsupported".to_owned())
                    }
                    Some(kind) if !KNOWN.contains(&kind.as_str()) => {
                        tracing::warn!("ignoring server message of unknown type {kind:?}");
                        Outcome::Continue
                    }
                    _ => {
                        tracing::warn!("invalid message from the server ({error}); reconnecting");
                        Outcome::Reconnect("InvalidServerMessage".to_owned())
                    }
                }
            }
        }
    }

    /// Abandons the current socket (closing it in the background) and
    /// schedules a reconnect.
    fn disconnect(&mut self, phase: Phase, reason: String) -> Phase {
        if let Phase::Connected(connection) = phase {
            tokio::spawn(close_gracefully(connection.ws));
        }
        self.state.on_close();
        self.last_close_reason = Some(reason);
        self.schedule_retry()
    }

    fn schedule_retry(&mut self) -> Phase {
        let delay = self.backoff.next_delay(rand::rng().random::<f64>());
        tracing::debug!("reconnecting in {delay:?}");
        Phase::Waiting(Instant::now() + delay)
    }

    fn stop_fatally(&mut self, phase: Phase, error: String) -> Phase {
        tracing::error!("the server sent a fatal error; the client stops: {error}");
        if let Phase::Connected(connection) = phase {
            tokio::spawn(close_gracefully(connection.ws));
        }
        self.state.fail_all(Some(ClientError::Fatal(error.clone())));
        self.fatal = Some(error);
        Phase::Stopped
    }

    async fn shutdown(&mut self, phase: Phase) {
        self.state.fail_all(None);
        self.status.send_modify(|status| {
            status.is_connected = false;
            status.is_closed = true;
            status.inflight_mutations = 0;
            status.inflight_actions = 0;
            status.active_queries = 0;
        });
        if let Phase::Connected(connection) = phase {
            close_gracefully(connection.ws).await;
        }
    }

    fn publish_status(&self, phase: &Phase) {
        let stats = self.state.stats();
        let new = ConnectionState {
            is_connected: matches!(phase, Phase::Connected(_)),
            connection_count: self.sockets_opened,
            connection_retries: self.backoff.retries(),
            inflight_mutations: stats.inflight_mutations,
            inflight_actions: stats.inflight_actions,
            active_queries: stats.active_queries,
            auth: stats.auth,
            is_closed: false,
            fatal_error: self.fatal.clone(),
        };
        self.status.send_if_modified(|status| {
            let changed = *status != new;
            if changed {
                *status = new;
            }
            changed
        });
    }
}

async fn send_messages(ws: &mut Ws, messages: &[ClientMessage]) -> Result<(), String> {
    for message in messages {
        let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
        ws.feed(Message::text(text))
            .await
            .map_err(|e| e.to_string())?;
    }
    ws.flush().await.map_err(|e| e.to_string())
}

/// Sends a normal close frame and waits (briefly) for the server's answer.
async fn close_gracefully(mut ws: Ws) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = timeout(CLOSE_TIMEOUT, async {
        if ws.close(Some(frame)).await.is_ok() {
            while let Some(Ok(_)) = ws.next().await {}
        }
    })
    .await;
}
