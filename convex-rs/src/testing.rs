//! An in-process backend for application tests, in the spirit of
//! `convex-test`, but running the real engine on a temporary SQLite file.
//!
//! With `CONVEX_TEST_DATABASE_URL=postgres://USER@HOST:PORT` set, the same
//! tests run on that PostgreSQL server instead: each temporary backend gets
//! a fresh database, and a backend in a directory gets a database named
//! after the directory (so reopening it finds its data).
//!
//! ```no_run
//! # use convex_rs::prelude::*;
//! # async fn demo(app: App) -> Result<(), Box<dyn std::error::Error>> {
//! let t = TestBackend::new(app).await?;
//! let count: f64 = t.query_path("messages:count", serde_json::json!({})).await?;
//! # Ok(()) }
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::app::{App, Backend, BackendConfig, BackendError};
use crate::function::{
    Caller, FunctionFailure, FunctionInfo, FunctionKind, FunctionOutcome, Identity,
};
use crate::store::PostgresConfig;
use crate::value::{Value, from_value, to_value};

/// The variable naming a PostgreSQL server to run tests on.
pub const TEST_DATABASE_URL_VAR: &str = "CONVEX_TEST_DATABASE_URL";

/// The URL of the test database on `server` (a PostgreSQL URL, with or
/// without a database) for a backend whose SQLite file would be `path`:
/// named after the path, or fresh when there is none.
pub fn test_database_url(server: &str, path: Option<&std::path::Path>) -> String {
    use std::hash::{Hash, Hasher};
    let name = match path {
        Some(path) => {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            path.hash(&mut hasher);
            format!("convex_test_{:016x}", hasher.finish())
        }
        None => format!("convex_test_{:016x}", rand::random::<u64>()),
    };
    let (base, query) = match server.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (server, None),
    };
    // Replace the database part of the URL, if any.
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// A backend on a temporary database, for tests.
#[derive(Clone)]
pub struct TestBackend {
    backend: Backend,
    identity: Identity,
}

impl TestBackend {
    /// Opens `app` on a fresh temporary database.
    pub async fn new(app: App) -> Result<Self, BackendError> {
        Self::with_config(app, BackendConfig::temporary()).await
    }

    /// Opens `app` with explicit settings (for example a file that survives a restart).
    pub async fn with_config(app: App, mut config: BackendConfig) -> Result<Self, BackendError> {
        if config.postgres.is_none()
            && let Some(server) = std::env::var(TEST_DATABASE_URL_VAR)
                .ok()
                .filter(|url| !url.is_empty())
        {
            config.postgres = Some(PostgresConfig::new(test_database_url(
                &server,
                config.sqlite.path.as_deref(),
            )));
        }
        Ok(TestBackend {
            backend: Backend::open(app, config).await?,
            identity: Identity::Unauthenticated,
        })
    }

    /// The same backend, calling as `identity`.
    pub fn with_identity(&self, identity: Identity) -> Self {
        TestBackend {
            backend: self.backend.clone(),
            identity,
        }
    }

    /// The backend underneath.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    async fn call_typed<F: FunctionInfo>(
        &self,
        kind: FunctionKind,
        args: F::Args,
    ) -> Result<F::Output, FunctionFailure> {
        let runner = self.backend.runner();
        let path = runner
            .registry()
            .path_of(F::ENTRY)
            .map(ToString::to_string)
            .ok_or_else(|| FunctionFailure {
                kind: crate::function::FailureKind::NotFound,
                message: format!("{} is not registered in this app", F::ENTRY.name),
                data: None,
            })?;
        let args = to_value(&args).map_err(|e| failure(e.to_string()))?;
        let outcome = runner
            .run(kind, &path, args, self.identity.clone(), Caller::Function)
            .await;
        decode(outcome)
    }

    /// Runs a query (internal ones too), typed by its marker: `t.query::<messages::list>(ListArgs {})`.
    pub async fn query<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionFailure> {
        self.call_typed::<F>(FunctionKind::Query, args).await
    }

    /// Runs a mutation (internal ones too) and waits for its commit.
    pub async fn mutation<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionFailure> {
        self.call_typed::<F>(FunctionKind::Mutation, args).await
    }

    /// Runs an action (internal ones too).
    pub async fn action<F: FunctionInfo>(
        &self,
        args: F::Args,
    ) -> Result<F::Output, FunctionFailure> {
        self.call_typed::<F>(FunctionKind::Action, args).await
    }

    /// Runs a function by path with any serializable arguments, as a client
    /// would (public functions only).
    pub async fn call_path<T: DeserializeOwned>(
        &self,
        kind: FunctionKind,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, FunctionFailure> {
        let args = to_value(&args).map_err(|e| failure(e.to_string()))?;
        decode(
            self.backend
                .runner()
                .run(kind, path, args, self.identity.clone(), Caller::Client)
                .await,
        )
    }

    /// [`call_path`](Self::call_path) for a query.
    pub async fn query_path<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, FunctionFailure> {
        self.call_path(FunctionKind::Query, path, args).await
    }

    /// [`call_path`](Self::call_path) for a mutation.
    pub async fn mutation_path<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, FunctionFailure> {
        self.call_path(FunctionKind::Mutation, path, args).await
    }

    /// [`call_path`](Self::call_path) for an action.
    pub async fn action_path<T: DeserializeOwned>(
        &self,
        path: &str,
        args: impl Serialize,
    ) -> Result<T, FunctionFailure> {
        self.call_path(FunctionKind::Action, path, args).await
    }

    /// Calls a function as a client with an already-encoded argument value,
    /// returning the full outcome (value or failure, log lines, timestamp).
    pub async fn call_raw(&self, kind: FunctionKind, path: &str, args: Value) -> FunctionOutcome {
        self.backend
            .runner()
            .run(kind, path, args, self.identity.clone(), Caller::Client)
            .await
    }
}

fn failure(message: String) -> FunctionFailure {
    FunctionFailure {
        kind: crate::function::FailureKind::InvalidArguments,
        message,
        data: None,
    }
}

fn decode<T: DeserializeOwned>(outcome: FunctionOutcome) -> Result<T, FunctionFailure> {
    let value = outcome.result?;
    from_value(value).map_err(|e| FunctionFailure {
        kind: crate::function::FailureKind::System,
        message: format!("cannot decode the result: {e}"),
        data: None,
    })
}

#[cfg(test)]
mod database_url_tests {
    use super::test_database_url;

    #[test]
    fn test_databases_replace_the_url_database() {
        let fresh = test_database_url("postgres://u@localhost:5433", None);
        assert!(
            fresh.starts_with("postgres://u@localhost:5433/convex_test_"),
            "{fresh}"
        );
        let a = test_database_url(
            "postgres://u@h/postgres?sslmode=disable",
            Some("/d/a".as_ref()),
        );
        let again = test_database_url(
            "postgres://u@h/other?sslmode=disable",
            Some("/d/a".as_ref()),
        );
        assert_eq!(a, again);
        assert!(a.ends_with("?sslmode=disable"), "{a}");
        assert_ne!(
            a,
            test_database_url("postgres://u@h", Some("/d/b".as_ref()))
        );
    }
}
