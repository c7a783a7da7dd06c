//! The websocket endpoint: upgrades, then pumps frames between the socket and
//! a [`run_session`] task, with transport-level pings and an idle timeout.

use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::AppState;
use crate::sync::{Incoming, Outgoing, run_session};

/// Transport ping frames every this often.
const WS_PING_INTERVAL: Duration = Duration::from_secs(5);
/// Close the socket if the client sends nothing (not even a pong) for this long.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest message a client may send.
const MAX_MESSAGE_BYTES: usize = (16 << 20) + (64 << 10);

/// `GET /api/sync` and `GET /api/{version}/sync`.
pub(super) async fn sync_handler(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |socket| serve_socket(state, socket))
}

async fn serve_socket(state: AppState, socket: WebSocket) {
    let _guard = state.sessions.enter();
    let (mut sink, mut stream) = socket.split();
    let (incoming_tx, incoming_rx) = mpsc::channel::<Incoming>(64);
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(256);
    let session = tokio::spawn(run_session(
        state.hub.clone(),
        state.backend.runner().clone(),
        state.session.clone(),
        incoming_rx,
        out_tx,
        state.shutdown.clone(),
    ));
    let reader = async move {
        loop {
            let frame = match tokio::time::timeout(CLIENT_TIMEOUT, stream.next()).await {
                Err(_) => {
                    tracing::debug!("closing an idle websocket");
                    break;
                }
                Ok(None | Some(Err(_))) => break,
                Ok(Some(Ok(frame))) => frame,
            };
            let incoming = match frame {
                Message::Text(text) => Incoming::Text(text.to_string()),
                Message::Binary(_) => Incoming::Binary,
                Message::Ping(_) | Message::Pong(_) => continue,
                Message::Close(_) => break,
            };
            if incoming_tx.send(incoming).await.is_err() {
                break;
            }
        }
        // Dropping `incoming_tx` tells the session the client is gone.
    };
    let writer = async move {
        let mut ping = tokio::time::interval(WS_PING_INTERVAL);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = out_rx.recv() => match message {
                    Some(Outgoing::Frames(frames)) => {
                        // Stop after a write error or a Close sent from the queue.
                        if !matches!(send_frames(&mut sink, frames, &mut out_rx).await, Ok(false)) {
                            break;
                        }
                    }
                    Some(Outgoing::Close(frame)) => {
                        let _ = sink.send(close_message(frame)).await;
                        break;
                    }
                    None => {
                        let _ = sink.close().await;
                        break;
                    }
                },
                _ = ping.tick() => {
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let reader = tokio::spawn(reader);
    writer.await;
    reader.abort();
    let _ = session.await;
}

fn close_message(frame: Option<(u16, String)>) -> Message {
    Message::Close(frame.map(|(code, reason)| CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Writes `frames` and every batch already waiting behind them, then flushes
/// once: frames produced together leave together instead of as separate
/// small writes. Returns whether a Close was among them.
async fn send_frames<S>(
    sink: &mut S,
    frames: Vec<String>,
    queue: &mut mpsc::Receiver<Outgoing>,
) -> Result<bool, axum::Error>
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let mut next = Some(Outgoing::Frames(frames));
    let mut closed = false;
    while let Some(outgoing) = next.take() {
        match outgoing {
            Outgoing::Frames(frames) => {
                for frame in frames {
                    sink.feed(Message::Text(frame.into())).await?;
                }
            }
            Outgoing::Close(frame) => {
                sink.feed(close_message(frame)).await?;
                closed = true;
                break;
            }
        }
        next = queue.try_recv().ok();
    }
    sink.flush().await?;
    Ok(closed)
}
