//! The server: one origin serving the websocket sync endpoint, the HTTP API
//! and (optionally) the app's static front end; and the command line every
//! app binary gets (`APP serve --listen ADDR --data DIR`).

mod cli;
mod dev;
pub(crate) mod http_api;
mod site;
mod storage;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, Uri};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::serve::{ListenerExt, TapIo};
use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tower::ServiceExt;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

pub use cli::run_cli;

use crate::app::{Backend, BackendError};
use crate::sync::{Hub, SessionConfig};

/// The version reported by `/instance_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Largest HTTP request body.
const MAX_BODY: usize = (16 << 20) + 2000;

/// Errors starting or running the server.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// The backend failed to open.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The auth config (`--auth-config`) could not be read.
    #[error(transparent)]
    AuthConfig(#[from] crate::auth::AuthConfigError),
    /// Serving failed.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
    /// The server stopped because it can no longer commit (it lost the
    /// writer's lease on a shared database, or its committing connection).
    #[error("stopped: {0}")]
    Stopped(String),
}

/// Server settings.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Session tuning and per-session limits.
    pub session: SessionConfig,
    /// A directory of static files (the built front end) served at `/`.
    pub static_dir: Option<PathBuf>,
    /// The most websocket sessions at once; more are refused with 503.
    pub max_sessions: usize,
}

/// Default of [`ServerConfig::max_sessions`].
pub const DEFAULT_MAX_SESSIONS: u32 = 10_000;
/// Default bound of the mutations queued across sessions (see [`crate::sync::MutationQueue`]).
pub const DEFAULT_MAX_PENDING_MUTATIONS: u32 = crate::sync::DEFAULT_MAX_PENDING_MUTATIONS as u32;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            session: SessionConfig::default(),
            static_dir: None,
            max_sessions: DEFAULT_MAX_SESSIONS as usize,
        }
    }
}

/// Counts live sessions so shutdown can wait for them.
#[derive(Clone, Default)]
struct SessionTracker {
    live: Arc<(AtomicUsize, Notify)>,
}

struct SessionGuard(SessionTracker);

impl SessionTracker {
    /// Sessions open now.
    fn live(&self) -> usize {
        self.live.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> SessionGuard {
        self.live.0.fetch_add(1, Ordering::SeqCst);
        SessionGuard(self.clone())
    }

    async fn wait_idle(&self, timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before the check, so a session ending in between
            // still wakes us (`notify_waiters` keeps no permit).
            let ended = self.live.1.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            if self.live.0.load(Ordering::SeqCst) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                tracing::warn!(
                    sessions = self.live.0.load(Ordering::SeqCst),
                    "sessions still open at shutdown"
                );
                return;
            }
        }
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.0.live.0.fetch_sub(1, Ordering::SeqCst);
        self.0.live.1.notify_waiters();
    }
}

#[derive(Clone)]
struct AppState {
    backend: Backend,
    hub: Hub,
    session: SessionConfig,
    max_sessions: usize,
    shutdown: watch::Receiver<bool>,
    sessions: SessionTracker,
}

/// A running server.
pub struct Server {
    addr: SocketAddr,
    backend: Backend,
    hub: Hub,
    shutdown: watch::Sender<bool>,
    sessions: SessionTracker,
    /// Taken by `shutdown`.
    task: Option<ServingTask>,
    /// The site origin's address and task, once [`serve_site`](Self::serve_site) ran.
    site: Option<(SocketAddr, ServingTask)>,
}

/// Collapses repeated slashes (`//api/query`), which clients produce from a
/// deployment URL with a trailing slash.
fn normalize_path(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.contains("//") {
        let mut collapsed = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{collapsed}?{q}"),
            None => collapsed,
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    request
}

fn router(state: AppState, config: &ServerConfig) -> Router {
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_headers(AllowHeaders::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .max_age(Duration::from_secs(86_400));
    let api = Router::new()
        .route("/api/sync", any(ws::sync_handler))
        .route("/api/{version}/sync", any(ws::sync_handler))
        .route("/api/query", post(http_api::query).get(http_api::get_query))
        .route("/api/mutation", post(http_api::mutation))
        .route("/api/action", post(http_api::action))
        .route("/api/query_ts", post(http_api::query_ts))
        .route("/api/query_at_ts", post(http_api::query_at_ts))
        .route("/api/query_batch", post(http_api::query_batch))
        .route("/api/run/{*path}", post(http_api::run))
        .route("/instance_name", get(|| async { "convex-rs" }))
        .route("/instance_version", get(|| async { VERSION }))
        .route("/echo", post(http_api::echo))
        .route("/metrics", get(metrics_handler))
        .route("/api/storage/upload", post(storage::upload))
        .route("/api/storage/{id}", get(storage::serve))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(cors)
        .with_state(state);
    match &config.static_dir {
        Some(dir) => api.fallback_service(
            tower_http::services::ServeDir::new(dir).append_index_html_on_directories(true),
        ),
        None => api.route(
            "/",
            get(|| async {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("text/plain"),
                    )],
                    "This convex-rs deployment is running.",
                )
            }),
        ),
    }
}

/// `GET /metrics`: the Prometheus text format, with the live gauges
/// sampled at the scrape.
async fn metrics_handler(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    use axum::response::IntoResponse;
    let Some(recorder) = crate::telemetry::recorder() else {
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "metrics are off: another metrics recorder was installed in this process",
        )
            .into_response();
    };
    metrics::gauge!("convex_sync_sessions").set(state.sessions.live() as f64);
    metrics::gauge!("convex_sync_subscriptions").set(state.hub.subscription_count() as f64);
    metrics::gauge!("convex_pending_mutations").set(state.session.mutation_queue.len() as f64);
    metrics::gauge!("convex_commit_queue_depth")
        .set(state.backend.store().commit_queue_len() as f64);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        recorder.render(),
    )
        .into_response()
}

/// Sets `TCP_NODELAY` on every accepted socket. The sync protocol is small
/// request/response frames; with Nagle's algorithm a frame written while an
/// earlier one is unacknowledged waits for the peer's delayed ACK (~40 ms on
/// Linux loopback), which put a 44 ms floor under every mutation.
fn without_nagle(listener: TcpListener) -> TapIo<TcpListener, fn(&mut TcpStream)> {
    fn set_nodelay(socket: &mut TcpStream) {
        if let Err(e) = socket.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY on an accepted socket");
        }
    }
    listener.tap_io(set_nodelay)
}

type ServingTask = tokio::task::JoinHandle<std::io::Result<()>>;

/// The origin file URLs default to: the listen address, with an unspecified
/// one (`0.0.0.0`, `::`) read as loopback, which at least works on this
/// machine and through a container's port mapping. Anything else wants
/// `--origin`.
fn listen_origin(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
        tracing::info!(
            "file URLs are built on http://{addr}; pass --origin with the deployment's public URL \
             for clients on other machines"
        );
    }
    format!("http://{addr}")
}

/// Serves `app` on `listener` in a task, until `stop` turns true.
fn spawn_serving<S>(listener: TcpListener, app: S, mut stop: watch::Receiver<bool>) -> ServingTask
where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    tokio::spawn(async move {
        axum::serve(
            without_nagle(listener),
            axum::ServiceExt::<Request>::into_make_service(app),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    })
}

/// Waits (10 s at most) for a serving task that was told to stop.
async fn join_serving(task: ServingTask, what: &str) {
    match tokio::time::timeout(Duration::from_secs(10), task).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "{what} stopped with an error"),
        Ok(Err(e)) => tracing::warn!(error = %e, "{what} task failed"),
        Err(_) => tracing::warn!("{what}: connections still open at shutdown"),
    }
}

impl Server {
    /// Serves `backend` on `listener` until [`shutdown`](Self::shutdown).
    pub async fn start(
        backend: Backend,
        listener: TcpListener,
        config: ServerConfig,
    ) -> Result<Server, ServerError> {
        let addr = listener.local_addr()?;
        if let Some(files) = backend.runner().files() {
            files.set_listen_origin(listen_origin(addr));
        }
        let hub = Hub::start(backend.runner().clone());
        let (shutdown, shutdown_rx) = watch::channel(false);
        crate::telemetry::spawn_upkeep(shutdown_rx.clone());
        let sessions = SessionTracker::default();
        let state = AppState {
            backend: backend.clone(),
            hub: hub.clone(),
            session: config.session.clone(),
            max_sessions: config.max_sessions.max(1),
            shutdown: shutdown_rx.clone(),
            sessions: sessions.clone(),
        };
        let app = router(state, &config).map_request(normalize_path);
        let task = spawn_serving(listener, app, shutdown_rx);
        Ok(Server {
            addr,
            backend,
            hub,
            shutdown,
            sessions,
            task: Some(task),
            site: None,
        })
    }

    /// Serves the app's HTTP actions on `listener` (the site origin, as
    /// Convex serves them on `.convex.site`) until shutdown.
    pub fn serve_site(&mut self, listener: TcpListener) -> Result<SocketAddr, ServerError> {
        let addr = listener.local_addr()?;
        let app = Router::new()
            .fallback(site::dispatch)
            .with_state(self.backend.clone())
            .map_request(normalize_path);
        let task = spawn_serving(listener, app, self.shutdown.subscribe());
        self.site = Some((addr, task));
        Ok(addr)
    }

    /// The site origin's address, if it is served.
    pub fn site_addr(&self) -> Option<SocketAddr> {
        self.site.as_ref().map(|(addr, _)| *addr)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The backend.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The subscription hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stops accepting connections, lets sessions finish their queued
    /// mutations and close, then closes the store after in-flight commits.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        self.sessions.wait_idle(Duration::from_secs(10)).await;
        if let Some(task) = self.task.take() {
            join_serving(task, "the server").await;
        }
        if let Some((_, task)) = self.site.take() {
            join_serving(task, "the site server").await;
        }
        self.hub.stop();
        self.backend.shutdown().await;
    }
}

/// A server dropped without [`Server::shutdown`] still stops: it stops
/// accepting connections, its sessions close, and the subscription hub's
/// task ends (it would otherwise live as long as the runtime). Queued work
/// is not waited for; call `shutdown` for that.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.hub.stop();
    }
}

#[cfg(test)]
mod origin_tests {
    use super::listen_origin;

    #[test]
    fn unspecified_listen_addresses_become_loopback_origins() {
        let origin = |addr: &str| listen_origin(addr.parse().expect("an address"));
        assert_eq!(origin("0.0.0.0:3210"), "http://127.0.0.1:3210");
        assert_eq!(origin("[::]:3210"), "http://[::1]:3210");
        assert_eq!(origin("10.1.2.3:80"), "http://10.1.2.3:80");
    }
}
