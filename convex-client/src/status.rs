//! Observable connection and authentication state.

/// Where the client's authentication stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthState {
    /// No token is set.
    #[default]
    Unauthenticated,
    /// A token was set (or re-sent after a reconnect) and the server has not
    /// confirmed it yet.
    Pending,
    /// The server accepted the token.
    Authenticated,
    /// The server rejected the token (the message says why). The token has
    /// been dropped and the client continues unauthenticated; call
    /// [`set_auth`](crate::ConvexClient::set_auth) with a fresh token.
    Rejected(String),
}

/// A snapshot of the client's connection, from
/// [`ConvexClient::connection_state`](crate::ConvexClient::connection_state).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionState {
    /// Whether a WebSocket to the deployment is open right now.
    pub is_connected: bool,
    /// How many WebSockets have been opened so far (1 after the initial
    /// connection, incremented on every successful reconnect).
    pub connection_count: u32,
    /// Consecutive reconnect attempts since the last fully successful sync;
    /// it drives the backoff.
    pub connection_retries: u32,
    /// Mutations sent (or queued) whose result has not been delivered yet.
    pub inflight_mutations: usize,
    /// Actions sent (or queued) whose result has not been delivered yet.
    pub inflight_actions: usize,
    /// Distinct queries the client is subscribed to.
    pub active_queries: usize,
    /// Authentication status.
    pub auth: AuthState,
    /// Whether the client has been closed (explicitly or by dropping all handles).
    pub is_closed: bool,
    /// The server's `FatalError` message, if the session was stopped by one.
    /// The client does not reconnect after a fatal error.
    pub fatal_error: Option<String>,
}
