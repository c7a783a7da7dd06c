//! HTTP actions: handlers for plain HTTP requests (webhooks, custom
//! endpoints), served on the deployment's second origin (`serve
//! --site-listen`, port 3211 by default), as Convex serves them on
//! `.convex.site`.
//!
//! A handler is an `async fn` marked [`#[http_action]`](crate::http_action)
//! that receives an [`ActionCtx`] and the request and returns a response.
//! An [`HttpRouter`] maps methods and paths to handlers:
//!
//! ```
//! use convex_rs::http::{Body, HttpRequest, HttpResponse, HttpRouter, Method};
//! use convex_rs::prelude::*;
//!
//! /// Answers `pong`.
//! #[http_action]
//! async fn ping(_ctx: &ActionCtx, _request: HttpRequest) -> Result<HttpResponse, FunctionError> {
//!     Ok(HttpResponse::new(Body::from("pong")))
//! }
//!
//! let router = HttpRouter::new()
//!     .route(Method::GET, "/ping", ping)
//!     .route_prefix(Method::POST, "/hooks/", ping);
//! let app = App::builder().http(router).build().unwrap();
//! # let _ = app;
//! ```
//!
//! Requests and responses are limited to [`MAX_HTTP_BODY_BYTES`] (20 MiB);
//! a larger request is answered with 413. A handler's error is answered
//! with 500 and a JSON body, and logged. CORS headers are the app's
//! choice: add them to responses and route `OPTIONS` for preflights.

mod body;

use std::collections::BTreeMap;
use std::fmt;

use futures::future::BoxFuture;
use thiserror::Error;

pub(crate) use body::drain;
pub use body::{Body, BodyError};
pub use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::function::{ActionCtx, FunctionError};

/// The largest request or response body of an HTTP action: 20 MiB.
pub const MAX_HTTP_BODY_BYTES: usize = 20 << 20;

/// The request an HTTP action receives.
pub type HttpRequest = http::Request<Body>;
/// The response an HTTP action returns.
pub type HttpResponse = http::Response<Body>;

/// The signature [`#[http_action]`](crate::http_action) adapts a handler to.
pub type HttpHandlerFn =
    fn(ActionCtx, HttpRequest) -> BoxFuture<'static, Result<HttpResponse, FunctionError>>;

/// An HTTP action: what [`#[http_action]`](crate::http_action) defines in
/// place of the function, to be routed with [`HttpRouter`].
#[derive(Clone, Copy)]
pub struct HttpAction {
    name: &'static str,
    handler: HttpHandlerFn,
}

impl HttpAction {
    /// An HTTP action named `name` (for logs) running `handler`.
    pub const fn new(name: &'static str, handler: HttpHandlerFn) -> Self {
        HttpAction { name, handler }
    }

    /// The handler's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Runs the handler.
    pub(crate) fn call(
        &self,
        ctx: ActionCtx,
        request: HttpRequest,
    ) -> BoxFuture<'static, Result<HttpResponse, FunctionError>> {
        (self.handler)(ctx, request)
    }
}

impl fmt::Debug for HttpAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpAction({})", self.name)
    }
}

/// A route that cannot be added.
#[derive(Clone, Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum RouteError {
    /// The path does not start with `/` (or a prefix does not end with one).
    #[error("HTTP route {path:?}: {reason}")]
    InvalidPath {
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The method and path are routed twice.
    #[error("HTTP route {method} {path} is defined twice")]
    Duplicate {
        /// The method.
        method: String,
        /// The path or prefix.
        path: String,
    },
}

/// Maps requests to [`HttpAction`]s by method and exact path, or by
/// method and path prefix (the longest matching prefix wins; an exact path
/// wins over any prefix).
#[derive(Clone, Debug, Default)]
pub struct HttpRouter {
    exact: BTreeMap<(String, String), HttpAction>,
    prefixes: Vec<(Method, String, HttpAction)>,
    errors: Vec<RouteError>,
}

impl HttpRouter {
    /// No routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `method` requests for exactly `path` (which starts with `/`).
    pub fn route(mut self, method: Method, path: &str, action: HttpAction) -> Self {
        if !path.starts_with('/') {
            self.errors.push(RouteError::InvalidPath {
                path: path.to_string(),
                reason: "a path must start with '/'",
            });
            return self;
        }
        let key = (method.to_string(), path.to_string());
        if self.exact.insert(key, action).is_some() {
            self.errors.push(RouteError::Duplicate {
                method: method.to_string(),
                path: path.to_string(),
            });
        }
        self
    }

    /// Routes `method` requests for every path starting with `prefix`
    /// (which starts and ends with `/`).
    pub fn route_prefix(mut self, method: Method, prefix: &str, action: HttpAction) -> Self {
        if !prefix.starts_with('/') || !prefix.ends_with('/') {
            self.errors.push(RouteError::InvalidPath {
                path: prefix.to_string(),
                reason: "a prefix must start and end with '/'",
            });
            return self;
        }
        if self
            .prefixes
            .iter()
            .any(|(m, p, _)| *m == method && p == prefix)
        {
            self.errors.push(RouteError::Duplicate {
                method: method.to_string(),
                path: format!("{prefix}*"),
            });
            return self;
        }
        self.prefixes.push((method, prefix.to_string(), action));
        self
    }

    /// The first mistake in the routes, if any (reported when the app is built).
    pub(crate) fn check(&self) -> Result<(), RouteError> {
        match self.errors.first() {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    /// Whether no route is defined.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }

    /// The action for a request, if a route matches.
    pub fn lookup(&self, method: &Method, path: &str) -> Option<HttpAction> {
        // HEAD is served by the GET route, as for any HTTP server.
        let method = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        if let Some(action) = self.exact.get(&(method.to_string(), path.to_string())) {
            return Some(*action);
        }
        self.prefixes
            .iter()
            .filter(|(m, prefix, _)| m == method && path.starts_with(prefix.as_str()))
            .max_by_key(|(_, prefix, _)| prefix.len())
            .map(|(_, _, action)| *action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &'static str) -> HttpAction {
        HttpAction::new(name, |_, _| {
            Box::pin(async { Ok(HttpResponse::new(Body::empty())) })
        })
    }

    #[test]
    fn exact_routes_win_over_prefixes_and_the_longest_prefix_wins() {
        let router = HttpRouter::new()
            .route(Method::GET, "/files/special", named("exact"))
            .route_prefix(Method::GET, "/files/", named("short"))
            .route_prefix(Method::GET, "/files/deep/", named("long"));
        let name = |path| router.lookup(&Method::GET, path).map(|a| a.name());
        assert_eq!(name("/files/special"), Some("exact"));
        assert_eq!(name("/files/a"), Some("short"));
        assert_eq!(name("/files/deep/x"), Some("long"));
        assert_eq!(name("/other"), None);
        assert_eq!(
            router.lookup(&Method::POST, "/files/a").map(|a| a.name()),
            None
        );
        assert_eq!(
            router.lookup(&Method::HEAD, "/files/a").map(|a| a.name()),
            Some("short")
        );
    }

    #[test]
    fn bad_and_duplicate_routes_are_reported() {
        let bad = HttpRouter::new().route(Method::GET, "nope", named("a"));
        assert!(matches!(bad.check(), Err(RouteError::InvalidPath { .. })));
        let bad = HttpRouter::new().route_prefix(Method::GET, "/no-slash", named("a"));
        assert!(matches!(bad.check(), Err(RouteError::InvalidPath { .. })));
        let twice = HttpRouter::new()
            .route(Method::GET, "/a", named("a"))
            .route(Method::GET, "/a", named("b"));
        assert!(matches!(twice.check(), Err(RouteError::Duplicate { .. })));
        let fine = HttpRouter::new()
            .route(Method::GET, "/a", named("a"))
            .route(Method::POST, "/a", named("b"));
        assert_eq!(fine.check(), Ok(()));
    }
}
