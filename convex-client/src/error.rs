//! The client's error type.

use convex_rs::value::{Value, ValueError};

/// Everything that can go wrong when using a [`ConvexClient`](crate::ConvexClient).
///
/// The variants say whose fault a failure is: [`Function`](Self::Function)
/// comes from the backend function itself (and carries `ConvexError` data);
/// [`InvalidUrl`](Self::InvalidUrl), [`InvalidArgs`](Self::InvalidArgs) and
/// [`Decode`](Self::Decode) are problems in the calling code;
/// [`Connection`](Self::Connection), [`Fatal`](Self::Fatal) and
/// [`Closed`](Self::Closed) describe the state of the connection.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The deployment URL cannot be used.
    #[error("invalid deployment URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The backend function failed.
    ///
    /// `message` is the server's error message. When the function threw a
    /// `ConvexError`, `data` holds its (decoded) data; otherwise it is `None`.
    #[error("{message}")]
    Function {
        /// The error message sent by the server.
        message: String,
        /// The `ConvexError` data, if the function threw one.
        data: Option<Value>,
    },

    /// The client could not reach the deployment, or lost the connection
    /// while a request that cannot be retried safely (an action) was in
    /// flight.
    #[error("connection error: {0}")]
    Connection(String),

    /// The client has been closed (by [`ConvexClient::close`](crate::ConvexClient::close)
    /// or because every handle was dropped).
    #[error("the client is closed")]
    Closed,

    /// The server ended the session with a `FatalError` (a protocol
    /// violation or a forbidden request). The client does not reconnect
    /// after this; create a new client.
    #[error("the server stopped the session with a fatal error: {0}")]
    Fatal(String),

    /// A result from the server could not be decoded, either because it is
    /// not valid Convex JSON or because it does not fit the requested Rust
    /// type.
    #[error("could not decode the result: {0}")]
    Decode(#[source] ValueError),

    /// A client option is invalid (for example a client id that is not a
    /// valid HTTP header value).
    #[error("invalid client configuration: {0}")]
    InvalidConfig(String),

    /// The function arguments could not be encoded. Arguments must serialize
    /// to an object (a struct or a map with string keys) of Convex values,
    /// or to nothing (`()`), which means "no arguments".
    #[error("invalid function arguments: {0}")]
    InvalidArgs(String),

    /// The function path is malformed (checked before anything is sent).
    #[error(transparent)]
    InvalidPath(#[from] convex_rs::function::InvalidPath),
}

impl ClientError {
    /// The `ConvexError` data of a [`Function`](Self::Function) error, if any.
    pub fn data(&self) -> Option<&Value> {
        match self {
            ClientError::Function { data, .. } => data.as_ref(),
            _ => None,
        }
    }
}
