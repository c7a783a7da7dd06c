//! The websocket endpoint: upgrades, then pumps frames between the socket and
//! a [`run_session`] task, with transport-level pings and an idle timeout.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use super::AppState;
use crate::sync::{Incoming, Outgoing, OutgoingBudget, run_session};

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
    if state.sessions.live() >= state.max_sessions {
        metrics::counter!("convex_sessions_refused_total", "reason" => "max_sessions").increment(1);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            format!(
                "TooManySessions: this server has its maximum of {} websocket sessions; retry later",
                state.max_sessions
            ),
        )
            .into_response();
    }
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
    let budget = Arc::new(OutgoingBudget::default());
    let slow_consumer_timeout = state.session.slow_consumer_timeout;
    let session = tokio::spawn(run_session(
        state.hub.clone(),
        state.backend.runner().clone(),
        state.session.clone(),
        incoming_rx,
        out_tx,
        budget.clone(),
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
                        // Stop after a write error, a Close sent from the
                        // queue, or a client that does not read in time.
                        let sent = tokio::time::timeout(
                            slow_consumer_timeout,
                            send_frames(&mut sink, frames, &mut out_rx, &budget),
                        )
                        .await;
                        if sent.is_err() {
                            budget.closing_slow_consumer();
                        }
                        if !matches!(sent, Ok(Ok(false))) {
                            break;
                        }
                    }
                    Some(Outgoing::Close(frame)) => {
                        let _ = tokio::time::timeout(
                            slow_consumer_timeout,
                            sink.send(close_message(frame)),
                        )
                        .await;
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
    budget: &OutgoingBudget,
) -> Result<bool, axum::Error>
where
    S: futures::Sink<Message, Error = axum::Error> + Unpin,
{
    let mut next = Some(Outgoing::Frames(frames));
    let mut closed = false;
    let mut bytes = 0;
    while let Some(outgoing) = next.take() {
        match outgoing {
            Outgoing::Frames(frames) => {
                for frame in frames {
                    bytes += frame.len();
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
    budget.written(bytes);
    Ok(closed)
}
