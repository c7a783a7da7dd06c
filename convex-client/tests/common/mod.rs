//! A scripted fake sync server for the client's integration tests: the test
//! accepts sockets, reads the client's messages and sends server messages
//! by hand.

#![allow(dead_code)]

use std::time::Duration;

use anyhow::{Context, Result, bail};
use convex_client::{ClientBuilder, ConvexClient};
use convex_rs::sync::protocol::{
    ClientMessage, QuerySetModification, ServerMessage, StateModification, StateVersion, Ts,
};
use futures::{SinkExt, StreamExt};
use serde_json::Value as Json;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{WebSocketStream, accept_async};

/// Upper bound for anything a test waits for.
pub const STEP: Duration = Duration::from_secs(10);

/// A listening fake deployment.
pub struct FakeServer {
    listener: TcpListener,
    /// The deployment URL to give the client (`http://127.0.0.1:<port>`).
    pub url: String,
}

impl FakeServer {
    pub async fn start() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        Ok(FakeServer { listener, url })
    }

    /// Accepts the next WebSocket.
    pub async fn accept(&self) -> Result<Conn> {
        self.accept_within(STEP).await
    }

    pub async fn accept_within(&self, limit: Duration) -> Result<Conn> {
        let (tcp, _) = timeout(limit, self.listener.accept())
            .await
            .context("no connection arrived")??;
        let ws = accept_async(tcp).await?;
        Ok(Conn { ws })
    }

    /// Connects a client built by `builder` and returns it with the
    /// server's end of the socket, after checking the `Connect` and the
    /// empty initial `ModifyQuerySet`.
    pub async fn connect(&self, builder: ClientBuilder) -> Result<(ConvexClient, Conn, String)> {
        let (client, conn) = tokio::join!(builder.connect(), self.accept());
        let (client, mut conn) = (client?, conn?);
        let connect = conn.expect_connect().await?;
        if connect.connection_count != 0
            || connect.last_close_reason.as_deref() != Some("InitialConnect")
        {
            bail!("unexpected first Connect: {connect:?}");
        }
        if connect.max_observed_timestamp.is_some() {
            bail!("first Connect must not carry maxObservedTimestamp");
        }
        let (base, new, mods) = conn.expect_modify().await?;
        if (base, new) != (0, 1) || !mods.is_empty() {
            bail!("unexpected initial query set {base}->{new} {mods:?}");
        }
        Ok((client, conn, connect.session_id))
    }
}

/// The fields of a `Connect` message.
#[derive(Debug)]
pub struct Connect {
    pub session_id: String,
    pub connection_count: u32,
    pub last_close_reason: Option<String>,
    pub max_observed_timestamp: Option<Ts>,
}

/// The server's end of one client socket.
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
}

impl Conn {
    /// The next client message (control frames are skipped).
    pub async fn recv(&mut self) -> Result<ClientMessage> {
        loop {
            let frame = timeout(STEP, self.ws.next())
                .await
                .context("timed out waiting for a client message")?
                .context("the client closed the socket")??;
            match frame {
                Message::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                Message::Close(frame) => bail!("the client closed the socket: {frame:?}"),
                _ => continue,
            }
        }
    }

    pub async fn send(&mut self, message: ServerMessage) -> Result<()> {
        self.ws
            .send(Message::text(serde_json::to_string(&message)?))
            .await?;
        Ok(())
    }

    /// Sends a close frame with `reason`.
    pub async fn close_with(&mut self, reason: &str) -> Result<()> {
        let frame = CloseFrame {
            code: 1011.into(),
            reason: reason.into(),
        };
        self.ws.close(Some(frame)).await?;
        Ok(())
    }

    pub async fn expect_connect(&mut self) -> Result<Connect> {
        match self.recv().await? {
            ClientMessage::Connect {
                session_id,
                connection_count,
                last_close_reason,
                max_observed_timestamp,
                client_ts,
            } => {
                if client_ts.is_none() {
                    bail!("Connect without clientTs");
                }
                Ok(Connect {
                    session_id,
                    connection_count,
                    last_close_reason,
                    max_observed_timestamp,
                })
            }
            other => bail!("expected Connect, got {other:?}"),
        }
    }

    pub async fn expect_modify(&mut self) -> Result<(u32, u32, Vec<QuerySetModification>)> {
        match self.recv().await? {
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => Ok((base_version, new_version, modifications)),
            other => bail!("expected ModifyQuerySet, got {other:?}"),
        }
    }

    /// Expects the client to close the socket (close frame or end of stream).
    pub async fn expect_closed(&mut self) -> Result<()> {
        loop {
            match timeout(STEP, self.ws.next())
                .await
                .context("the client did not close")?
            {
                None | Some(Ok(Message::Close(_))) | Some(Err(_)) => return Ok(()),
                Some(Ok(Message::Text(text))) => bail!("expected close, got {text}"),
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Expects no client message for `period`.
    pub async fn expect_silence(&mut self, period: Duration) -> Result<()> {
        match timeout(period, self.ws.next()).await {
            Err(_) => Ok(()),
            Ok(Some(Ok(Message::Text(text)))) => bail!("unexpected client message {text}"),
            Ok(other) => bail!("unexpected socket event {other:?}"),
        }
    }
}

pub fn version(query_set: u32, identity: u32, ts: u64) -> StateVersion {
    StateVersion {
        query_set,
        identity,
        ts: Ts(ts),
    }
}

pub fn transition(
    start: StateVersion,
    end: StateVersion,
    modifications: Vec<StateModification>,
) -> ServerMessage {
    ServerMessage::Transition {
        start_version: start,
        end_version: end,
        modifications,
        client_clock_skew: 0,
        server_ts: 0,
    }
}

pub fn updated(query_id: u32, value: Json, journal: Option<&str>) -> StateModification {
    StateModification::QueryUpdated {
        query_id,
        value,
        log_lines: vec!["[LOG] 'ran'".to_owned()],
        journal: journal.map(str::to_owned),
    }
}

pub fn mutation_ok(request_id: u32, result: Json, ts: u64) -> ServerMessage {
    ServerMessage::MutationResponse {
        request_id,
        success: true,
        result,
        ts: Some(Ts(ts)),
        log_lines: vec![],
        error_data: None,
    }
}

/// Waits until `check` holds for the client's connection state.
pub async fn wait_for_state(
    client: &ConvexClient,
    what: &str,
    check: impl Fn(&convex_client::ConnectionState) -> bool,
) -> Result<()> {
    let deadline = tokio::time::Instant::now() + STEP;
    while !check(&client.connection_state()) {
        if tokio::time::Instant::now() > deadline {
            bail!(
                "timed out waiting for {what}: {:?}",
                client.connection_state()
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
