use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use convex_rs::app::{Backend, BackendConfig};
use convex_rs::server::{Server, ServerConfig};
use futures::{SinkExt, StreamExt};
use serde_json::{Value as Json, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Starts the chat app on `addr` (use port 0 for any) with data in `dir`.
pub async fn start_chat_at(dir: &Path, addr: SocketAddr) -> anyhow::Result<Server> {
    let backend = Backend::open(chat::app()?, BackendConfig::in_dir(dir)).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(Server::start(backend, listener, ServerConfig::default()).await?)
}

/// Starts the chat app on a free port with data in `dir`.
pub async fn start_chat(dir: &Path) -> anyhow::Result<Server> {
    start_chat_at(dir, "127.0.0.1:0".parse()?).await
}

/// The chat app on a free port with data in a temporary directory (removed
/// with it). Derefs to its [`Server`].
pub struct ChatServer {
    server: Option<Server>,
    _dir: tempfile::TempDir,
}

impl ChatServer {
    pub async fn start() -> anyhow::Result<ChatServer> {
        let dir = tempfile::tempdir()?;
        let server = start_chat(dir.path()).await?;
        Ok(ChatServer {
            server: Some(server),
            _dir: dir,
        })
    }

    /// Shuts the server down cleanly (then removes the data).
    pub async fn shutdown(mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }
}

impl std::ops::Deref for ChatServer {
    type Target = Server;
    fn deref(&self) -> &Server {
        self.server
            .as_ref()
            .expect("a ChatServer holds its server until shutdown")
    }
}

/// Calls `path` through `POST /api/<endpoint>` and returns its value.
pub async fn call(server: &Server, endpoint: &str, path: &str, args: Json) -> anyhow::Result<Json> {
    let body = call_outcome(server, endpoint, path, args).await?;
    anyhow::ensure!(body["status"] == "success", "{body}");
    Ok(body["value"].clone())
}

/// Calls `path` through `POST /api/<endpoint>` and returns the whole
/// outcome (`{status, value}` or `{status, errorMessage}`).
pub async fn call_outcome(
    server: &Server,
    endpoint: &str,
    path: &str,
    args: Json,
) -> anyhow::Result<Json> {
    let response = reqwest::Client::new()
        .post(format!("http://{}/api/{endpoint}", server.local_addr()))
        .json(&json!({ "path": path, "args": [args], "format": "convex_encoded_json" }))
        .send()
        .await?;
    Ok(response.json().await?)
}

/// Creates a chat user (over HTTP) and returns its id.
pub async fn create_user(server: &Server, token: &str) -> anyhow::Result<Json> {
    call(
        server,
        "mutation",
        "users:create",
        json!({ "name": "user", "tokenIdentifier": token }),
    )
    .await
}

pub fn url(server: &Server) -> String {
    format!("http://{}", server.local_addr())
}

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw protocol connection.
pub struct Raw {
    pub socket: Socket,
}

impl Raw {
    pub async fn connect(server: &Server) -> anyhow::Result<Raw> {
        let (socket, _) = tokio_tungstenite::connect_async(format!(
            "ws://{}/api/1.48.0/sync",
            server.local_addr()
        ))
        .await?;
        Ok(Raw { socket })
    }

    /// The first socket of `session`.
    pub async fn connect_session(server: &Server, session: &str) -> anyhow::Result<Raw> {
        Raw::reconnect_session(server, session, 0).await
    }

    /// A later socket of `session`, as clients reconnect: `connectionCount`
    /// counts the sockets opened before (protocol §2), which tells the server
    /// that earlier mutations may be re-sent.
    pub async fn reconnect_session(
        server: &Server,
        session: &str,
        connection_count: u32,
    ) -> anyhow::Result<Raw> {
        let reason = if connection_count == 0 {
            "InitialConnect"
        } else {
            "ClosedByClient"
        };
        let mut raw = Raw::connect(server).await?;
        raw.send(json!({"type":"Connect","sessionId":session,"connectionCount":connection_count,"lastCloseReason":reason,"clientTs":0})).await?;
        Ok(raw)
    }

    pub async fn send(&mut self, message: Json) -> anyhow::Result<()> {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await?;
        Ok(())
    }

    /// The next protocol message (skipping Pings), or `Err` on close/timeout.
    pub async fn recv(&mut self) -> anyhow::Result<Json> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await? {
                Some(Ok(Message::Text(text))) => {
                    let json: Json = serde_json::from_str(&text)?;
                    if json["type"] != "Ping" {
                        return Ok(json);
                    }
                }
                Some(Ok(Message::Close(frame))) => anyhow::bail!("closed: {frame:?}"),
                Some(Ok(_)) => continue,
                Some(Err(e)) => anyhow::bail!("socket error: {e}"),
                None => anyhow::bail!("socket ended"),
            }
        }
    }

    /// Waits for the close frame, returning its code (None for no code).
    pub async fn closed(&mut self) -> anyhow::Result<Option<u16>> {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.socket.next()).await? {
                Some(Ok(Message::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Ok(None),
            }
        }
    }
}

/// Installs a log subscriber for debugging (`RUST_LOG=convex_rs::sync=trace`).
#[allow(dead_code)]
pub fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// The string field `field` of each object in a query result that is an
/// array of objects (panics, naming what it found, otherwise).
pub fn string_fields(result: convex::FunctionResult, field: &str) -> Vec<String> {
    let convex::FunctionResult::Value(convex::Value::Array(items)) = result else {
        panic!("expected an array, got {result:?}");
    };
    items
        .into_iter()
        .map(|item| match item {
            convex::Value::Object(fields) => match fields.get(field) {
                Some(convex::Value::String(value)) => value.clone(),
                other => panic!("an item without a string {field}: {other:?}"),
            },
            other => panic!("expected an object, got {other:?}"),
        })
        .collect()
}

/// The next update of a subscription (10 s at most), as [`string_fields`].
pub async fn next_string_fields(sub: &mut convex::QuerySubscription, field: &str) -> Vec<String> {
    let update = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .expect("an update within 10 s")
        .expect("the subscription is open");
    string_fields(update, field)
}

/// Waits (2 s at most) until the hub has absorbed every commit so far.
pub async fn hub_caught_up(server: &Server) {
    let latest = server.backend().store().latest_ts();
    for _ in 0..1000 {
        if server.hub().ts() >= latest {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    panic!("the hub did not reach the latest commit within 2 s");
}

/// A request body sent in chunks, without a `Content-Length`.
pub fn streamed<S>(chunks: S) -> reqwest::Body
where
    S: futures::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static,
{
    let frames =
        chunks.map(|chunk| chunk.map(|bytes| http_body::Frame::data(bytes::Bytes::from(bytes))));
    reqwest::Body::wrap(http_body_util::StreamBody::new(frames))
}
