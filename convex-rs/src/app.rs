//! Assembling an app (schema + functions) and opening a backend for it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

use crate::auth::{AuthConfig, Authenticator};
use crate::function::{
    Caller, DEFAULT_MUTATION_LOG_RETENTION, FunctionEntry, FunctionInfo, FunctionKind,
    FunctionOutcome, FunctionPath, Identity, Registry, Runner, RunnerConfig,
};
use crate::http::HttpRouter;
use crate::scheduler::{CronError, CronJob, Crons, Executor, SchedulerConfig};
use crate::schema::Schema;
use crate::storage::{FileStore, StorageConfig, StorageError};
use crate::store::{Durability, PostgresConfig, Retention, SqliteConfig, Store, StoreError};
use crate::value::Value;

/// Problems assembling or opening an app.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BackendError {
    /// Two functions resolve to the same path.
    #[error("function path {path} is defined twice: at {first} and at {second}")]
    DuplicatePath {
        /// The path.
        path: String,
        /// Where the first definition is.
        first: String,
        /// Where the second definition is.
        second: String,
    },
    /// A function is defined at the root of the crate, where it has no module.
    #[error(
        "function {name} at {location} has no module; define functions in a module such as `messages`"
    )]
    NoModule {
        /// The function's name.
        name: String,
        /// Where it is defined.
        location: String,
    },
    /// A function's path is one clients could not call (for example a name
    /// longer than 64 characters), so it is refused when the app is built.
    #[error("function {name} at {location} cannot be called: {source}")]
    InvalidPath {
        /// The function's name.
        name: String,
        /// Where it is defined.
        location: String,
        /// What is wrong with the path.
        source: crate::function::InvalidPath,
    },
    /// A cron job is declared wrongly (an invalid expression, a function
    /// that is not registered, two jobs with one name...).
    #[error(transparent)]
    Cron(#[from] CronError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An HTTP route is malformed or defined twice.
    #[error(transparent)]
    HttpRoute(#[from] crate::http::RouteError),
    /// The directory of stored files could not be opened or cleaned up.
    #[error("cannot open file storage: {0}")]
    Storage(#[from] StorageError),
}

/// An app: its schema and its functions.
#[derive(Debug)]
pub struct App {
    schema: Schema,
    registry: Registry,
    crons: Vec<CronJob>,
    auth: AuthConfig,
    http: HttpRouter,
}

impl App {
    /// Starts building an app.
    pub fn builder() -> AppBuilder {
        AppBuilder::default()
    }

    /// The schema.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// The functions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The HTTP actions' routes.
    pub fn http(&self) -> &HttpRouter {
        &self.http
    }

    /// The trusted token issuers.
    pub fn auth(&self) -> &AuthConfig {
        &self.auth
    }

    /// Adds trusted token issuers (from `serve --auth-config`, say) to
    /// those the app declares.
    pub fn with_auth_providers(mut self, extra: AuthConfig) -> Self {
        self.auth.providers.extend(extra.providers);
        self
    }
}

/// Builds an [`App`].
#[derive(Default)]
pub struct AppBuilder {
    schema: Schema,
    entries: Vec<(Option<FunctionPath>, &'static FunctionEntry)>,
    crons: Crons,
    auth: AuthConfig,
    http: HttpRouter,
}

impl AppBuilder {
    /// Sets the schema.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// Registers every function defined (with the macros) under the module
    /// `root`, usually `module_path!()` at the app crate's root. Paths are
    /// relative to `root`: `chat::messages::list` under `chat` is `messages:list`.
    pub fn functions_from(mut self, root: &str) -> Self {
        for entry in crate::__private::FUNCTIONS.iter() {
            if entry.module_path == root || entry.module_path.starts_with(&format!("{root}::")) {
                self.entries.push((entry.path_relative_to(root), entry));
            }
        }
        self
    }

    /// Declares the issuers of user tokens the app trusts (Clerk, Auth0,
    /// any OIDC or custom JWT issuer).
    pub fn auth(mut self, auth: AuthConfig) -> Self {
        self.auth = auth;
        self
    }

    /// Routes HTTP requests on the site origin to HTTP actions.
    pub fn http(mut self, router: HttpRouter) -> Self {
        self.http = router;
        self
    }

    /// Declares the app's cron jobs (checked by [`build`](Self::build)).
    pub fn crons(mut self, crons: Crons) -> Self {
        self.crons = crons;
        self
    }

    /// Registers one function explicitly (its path is relative to its crate root).
    pub fn register<F: FunctionInfo>(mut self) -> Self {
        self.entries.push((F::ENTRY.default_path(), F::ENTRY));
        self
    }

    /// Checks for duplicate paths and builds the app.
    pub fn build(self) -> Result<App, BackendError> {
        let mut registry = Registry::default();
        for (path, entry) in self.entries {
            let Some(path) = path else {
                return Err(BackendError::NoModule {
                    name: entry.name.to_string(),
                    location: entry.location(),
                });
            };
            // The path must be one that clients' paths parse to.
            if let Err(source) = FunctionPath::parse(&path.to_string()) {
                return Err(BackendError::InvalidPath {
                    name: entry.name.to_string(),
                    location: entry.location(),
                    source,
                });
            }
            if let Err(existing) = registry.insert(path.clone(), entry) {
                if std::ptr::eq(existing, entry) {
                    continue; // registered twice by the same definition
                }
                return Err(BackendError::DuplicatePath {
                    path: path.to_string(),
                    first: existing.location(),
                    second: entry.location(),
                });
            }
        }
        let crons = self.crons.resolve(&registry)?;
        self.http.check()?;
        Ok(App {
            schema: self.schema,
            registry,
            crons,
            auth: self.auth,
            http: self.http,
        })
    }
}

/// Where and how a backend stores its data.
#[derive(Clone, Debug)]
pub struct BackendConfig {
    /// The SQLite settings (the database, unless `postgres` is set; its
    /// directory also holds search and vector index files).
    pub sqlite: SqliteConfig,
    /// Store the data in PostgreSQL instead of SQLite.
    pub postgres: Option<PostgresConfig>,
    /// Mutation retry settings.
    pub runner: RunnerConfig,
    /// Scheduled functions and cron jobs.
    pub scheduler: SchedulerConfig,
    /// Stored files.
    pub storage: StorageConfig,
    /// How long old document revisions stay readable before they are
    /// garbage-collected (snapshot reads older than this are refused).
    pub retention: Retention,
    /// How long a websocket mutation's result is kept so a re-send after a
    /// reconnect gets it instead of running again (default 7 days).
    pub mutation_log_retention: Duration,
    /// The deployment's admin key: `Authorization: Convex <key>` and
    /// `Authenticate{tokenType: "Admin"}` may call internal functions and
    /// act as users. `None`: no admin access.
    pub admin_key: Option<String>,
}

impl BackendConfig {
    /// Data in `dir/convex.sqlite3`, stored files in `dir/storage`.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        BackendConfig {
            sqlite: SqliteConfig::file(dir.join("convex.sqlite3")),
            postgres: None,
            runner: RunnerConfig::default(),
            scheduler: SchedulerConfig::default(),
            storage: StorageConfig::in_dir(dir.join("storage")),
            retention: Retention::default(),
            mutation_log_retention: DEFAULT_MUTATION_LOG_RETENTION,
            admin_key: None,
        }
    }

    /// Data in a temporary file, deleted on shutdown.
    pub fn temporary() -> Self {
        BackendConfig {
            sqlite: SqliteConfig::temporary(),
            postgres: None,
            runner: RunnerConfig::default(),
            scheduler: SchedulerConfig::default(),
            storage: StorageConfig::temporary(),
            retention: Retention::default(),
            mutation_log_retention: DEFAULT_MUTATION_LOG_RETENTION,
            admin_key: None,
        }
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.sqlite.durability = durability;
        self
    }
}

/// A running backend: the store, the function runner and the scheduler.
#[derive(Clone)]
pub struct Backend {
    runner: Runner,
    executor: Option<Arc<Executor>>,
    http: Arc<HttpRouter>,
}

impl Backend {
    /// Opens the store (creating it if needed) and prepares the functions.
    pub async fn open(app: App, config: BackendConfig) -> Result<Backend, BackendError> {
        let schema = app.schema.clone().with_system_tables();
        let store = match config.postgres {
            Some(postgres) => {
                let local = config
                    .sqlite
                    .path
                    .as_deref()
                    .and_then(std::path::Path::parent)
                    .map(std::path::Path::to_path_buf);
                Store::open_postgres(postgres, &schema, local).await?
            }
            None => Store::open_sqlite(config.sqlite, &schema).await?,
        };
        store.start_garbage_collection(config.retention);
        crate::function::spawn_mutation_log_expiry(&store, config.mutation_log_retention);
        let files = Arc::new(FileStore::open(config.storage).await?);
        let runner = Runner::with_services(
            store,
            app.registry,
            config.runner,
            config.scheduler.clock.clone(),
            Authenticator::with_options(
                &app.auth,
                config.admin_key.clone(),
                crate::auth::DEFAULT_MIN_KEY_REFETCH,
            ),
            Some(files),
        );
        let orphans = crate::storage::sweep(&runner).await?;
        if orphans > 0 {
            tracing::info!("removed {orphans} stored files without a _storage row");
        }
        let executor = if config.scheduler.enabled {
            let executor = Executor::start(runner.clone(), config.scheduler, app.crons).await;
            Some(Arc::new(executor))
        } else {
            None
        };
        Ok(Backend {
            runner,
            executor,
            http: Arc::new(app.http),
        })
    }

    /// The function runner.
    pub fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.runner.store()
    }

    /// The HTTP actions' routes.
    pub fn http(&self) -> &HttpRouter {
        &self.http
    }

    /// Stops the scheduler (letting running calls finish, a few seconds at
    /// most), finishes queued commits and closes the database.
    pub async fn shutdown(&self) {
        if let Some(executor) = &self.executor {
            executor.stop().await;
        }
        self.store().close().await;
    }

    /// Calls a function as a client would (public functions only).
    pub async fn call(
        &self,
        kind: FunctionKind,
        path: &str,
        args: Value,
        identity: Identity,
    ) -> FunctionOutcome {
        self.runner
            .run(kind, path, args, identity, Caller::Client)
            .await
    }
}
