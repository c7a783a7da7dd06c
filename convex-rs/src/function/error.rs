use std::fmt;

use thiserror::Error;

use crate::query::QueryError;
use crate::store::{CommitError, StoreError};
use crate::value::{Value, ValueError};

/// An error carrying structured data to the caller, like Convex's `ConvexError`.
///
/// The data reaches clients intact (`errorData` on the wire; `.data` of the
/// JavaScript client's `ConvexError`).
///
/// ```
/// use convex_rs::prelude::*;
/// let e = ConvexError::from_json(serde_json::json!({ "code": "EMPTY_BODY" }));
/// assert_eq!(e.message, r#"{"code":"EMPTY_BODY"}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct ConvexError {
    /// A human-readable message (the data itself when it is a string, else its JSON).
    pub message: String,
    /// The data.
    pub data: Value,
}

impl ConvexError {
    /// An error carrying `data`.
    pub fn new(data: impl Into<Value>) -> Self {
        let data = data.into();
        let message = match &data {
            Value::String(s) => s.clone(),
            other => other.to_json().to_string(),
        };
        ConvexError { message, data }
    }

    /// An error carrying plain JSON (numbers become float64, like JavaScript numbers).
    pub fn from_json(data: serde_json::Value) -> Self {
        ConvexError::new(plain_json_to_value(&data))
    }
}

fn plain_json_to_value(json: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match json {
        J::Null => Value::Null,
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Float64(n.as_f64().unwrap_or(f64::NAN)),
        J::String(s) => Value::String(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(plain_json_to_value).collect()),
        J::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), plain_json_to_value(v)))
                .collect(),
        ),
    }
}

/// How a failed call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// The function returned an error (possibly a [`ConvexError`] with data).
    User,
    /// The arguments did not match the function's validator.
    InvalidArguments,
    /// No such (public) function, or it is of another kind.
    NotFound,
    /// A mutation kept conflicting with concurrent writes after every retry.
    Conflict,
    /// The backend failed (storage, shutdown, a bug).
    System,
}

/// The error a function body returns.
///
/// Any `std::error::Error` converts into it with `?`, so function bodies can
/// use `?` on database calls, serde, HTTP clients and so on. A
/// [`ConvexError`] keeps its data; everything else becomes a message.
pub struct FunctionError {
    failure: FunctionFailure,
    retry: Option<RetryHint>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum RetryHint {
    /// A conflict at this commit timestamp: retry once it is visible.
    Conflict(u64),
    /// The snapshot was too old: retry at a new one.
    Fresh,
}

impl FunctionError {
    /// An error with a message and no data.
    pub fn message(message: impl fmt::Display) -> Self {
        FunctionError::of(FailureKind::User, message.to_string(), None)
    }

    /// An argument validation error.
    pub fn invalid_arguments(message: impl fmt::Display) -> Self {
        FunctionError::of(
            FailureKind::InvalidArguments,
            format!("ArgumentValidationError: {message}"),
            None,
        )
    }

    pub(crate) fn of(kind: FailureKind, message: String, data: Option<Value>) -> Self {
        FunctionError {
            failure: FunctionFailure {
                kind,
                message,
                data,
            },
            retry: None,
        }
    }

    pub(crate) fn system(message: impl fmt::Display) -> Self {
        FunctionError::of(FailureKind::System, message.to_string(), None)
    }

    /// The data of a [`ConvexError`], if this is one.
    pub fn data(&self) -> Option<&Value> {
        self.failure.data.as_ref()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> FailureKind {
        self.failure.kind
    }

    pub(crate) fn retry_hint(&self) -> Option<RetryHint> {
        self.retry
    }

    /// The failure as reported to callers.
    pub fn into_failure(self) -> FunctionFailure {
        self.failure
    }

    fn from_store(e: StoreError) -> Self {
        match e {
            // A mutation that outlived its search index's retained versions
            // runs again at a new snapshot, like one whose snapshot expired.
            StoreError::SearchSnapshotTooOld { .. } => FunctionError {
                failure: FunctionFailure {
                    kind: FailureKind::Conflict,
                    message: e.to_string(),
                    data: None,
                },
                retry: Some(RetryHint::Fresh),
            },
            StoreError::Sqlite(_)
            | StoreError::Corrupt(_)
            | StoreError::Closed
            | StoreError::Catalog(_)
            | StoreError::Search(_) => FunctionError::system(e),
            other => FunctionError::message(other),
        }
    }

    fn from_commit(e: CommitError) -> Self {
        let retry = match &e {
            CommitError::Conflict { conflicting_ts, .. } => {
                Some(RetryHint::Conflict(*conflicting_ts))
            }
            CommitError::SnapshotTooOld { .. } => Some(RetryHint::Fresh),
            _ => None,
        };
        let kind = if retry.is_some() {
            FailureKind::Conflict
        } else {
            FailureKind::System
        };
        FunctionError {
            failure: FunctionFailure {
                kind,
                message: e.to_string(),
                data: None,
            },
            retry,
        }
    }
}

impl fmt::Debug for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.failure, f)
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.failure, f)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for FunctionError {
    fn from(error: E) -> Self {
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
        let boxed = match boxed.downcast::<ConvexError>() {
            Ok(c) => return FunctionError::of(FailureKind::User, c.message, Some(c.data)),
            Err(b) => b,
        };
        let boxed = match boxed.downcast::<StoreError>() {
            Ok(s) => return FunctionError::from_store(*s),
            Err(b) => b,
        };
        let boxed = match boxed.downcast::<QueryError>() {
            Ok(q) => {
                return match *q {
                    QueryError::Store(s) => FunctionError::from_store(s),
                    other => FunctionError::message(other),
                };
            }
            Err(b) => b,
        };
        let boxed = match boxed.downcast::<CommitError>() {
            Ok(c) => return FunctionError::from_commit(*c),
            Err(b) => b,
        };
        let boxed = match boxed.downcast::<FunctionFailure>() {
            Ok(f) => {
                return FunctionError {
                    failure: *f,
                    retry: None,
                };
            }
            Err(b) => b,
        };
        match boxed.downcast::<ValueError>() {
            Ok(v) => FunctionError::message(v),
            Err(other) => FunctionError::message(other),
        }
    }
}

/// A failed call, as reported to whoever called the function.
#[derive(Debug, Clone, PartialEq, Error)]
#[error("{message}")]
pub struct FunctionFailure {
    /// How it failed.
    pub kind: FailureKind,
    /// The message.
    pub message: String,
    /// The data of a [`ConvexError`].
    pub data: Option<Value>,
}

impl FunctionFailure {
    /// Whether this is a [`ConvexError`] carrying data.
    pub fn is_convex_error(&self) -> bool {
        self.data.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn convex_error_keeps_its_data() {
        fn body() -> Result<(), FunctionError> {
            Err(ConvexError::from_json(
                serde_json::json!({"code": "EMPTY_BODY"}),
            ))?
        }
        let e = body().unwrap_err();
        assert_eq!(e.kind(), FailureKind::User);
        let data = e.data().unwrap();
        assert_eq!(data.to_json(), serde_json::json!({"code": "EMPTY_BODY"}));
    }

    #[test]
    fn other_errors_become_messages_and_store_failures_are_system() {
        let e: FunctionError = std::io::Error::other("boom").into();
        assert_eq!(
            (e.kind(), e.to_string().as_str()),
            (FailureKind::User, "boom")
        );
        let e: FunctionError = StoreError::Closed.into();
        assert_eq!(e.kind(), FailureKind::System);
        let e: FunctionError = CommitError::Conflict {
            table: "t".into(),
            conflicting_ts: 5,
        }
        .into();
        assert_eq!(e.kind(), FailureKind::Conflict);
        assert!(matches!(e.retry_hint(), Some(RetryHint::Conflict(5))));
    }

    #[test]
    fn search_failures_are_system_and_an_expired_search_snapshot_is_retried() {
        let e: FunctionError = QueryError::Store(StoreError::Search("disk".into())).into();
        assert_eq!(e.kind(), FailureKind::System);
        let e: FunctionError =
            QueryError::Store(StoreError::SearchSnapshotTooOld { oldest: 7 }).into();
        assert_eq!(e.kind(), FailureKind::Conflict);
        assert!(matches!(e.retry_hint(), Some(RetryHint::Fresh)));
    }
}
