//! The command line every app binary gets.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use thiserror::Error;

use super::dev::{self, CargoTarget, DevError, DevOptions};
use super::{Server, ServerConfig, ServerError};
use crate::app::{App, Backend, BackendConfig, BackendError};
use crate::auth::AuthConfig;
use crate::codegen::CodegenError;
use crate::store::{Durability, PostgresConfig};

#[derive(Parser)]
#[command(version, about = "A convex-rs backend")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the app: websocket sync, HTTP API and static files on one origin.
    Serve(ServeArgs),
    /// Generates the TypeScript `api.js`, `api.d.ts` and `dataModel.d.ts`
    /// for front ends (the `convex/_generated` directory of a Convex app).
    Codegen(CodegenArgs),
    /// Serves the app and, whenever its sources change, rebuilds it,
    /// regenerates the TypeScript files and restarts the server on the same
    /// address and data (clients reconnect and resubscribe). Run it through
    /// cargo: `cargo run -p <package> -- dev`.
    Dev(DevArgs),
    /// Writes a consistent snapshot of every table and stored file to a ZIP
    /// file in Convex's snapshot layout. Safe while a server is running on
    /// the same data: the database is opened read-only.
    Export(ExportArgs),
    /// Loads a snapshot ZIP (from `export`, or Convex's) into the
    /// deployment, keeping every `_id` and `_creationTime`. Stop the
    /// server first.
    Import(ImportArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The ZIP file to write (written as FILE.partial, renamed when complete).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The snapshot ZIP file.
    #[arg(value_name = "FILE")]
    snapshot: PathBuf,
    /// Delete the documents of the snapshot's tables (and stored files, if
    /// it has any) before loading it; without it, tables that have
    /// documents are refused.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(clap::Args)]
struct DevArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Regenerate the TypeScript files into this directory after each build.
    #[arg(long, value_name = "DIR")]
    codegen_out: Option<PathBuf>,
    /// Also rebuild when this file or directory changes (repeatable). The
    /// package's sources, manifest, build script and path dependencies are
    /// always watched.
    #[arg(long = "watch", value_name = "PATH")]
    watch: Vec<PathBuf>,
    /// The cargo package to build (set by `cargo run`).
    #[arg(long, env = "CARGO_PKG_NAME")]
    package: Option<String>,
    /// The package's Cargo.toml [default: $CARGO_MANIFEST_DIR/Cargo.toml, set
    /// by `cargo run`].
    #[arg(long, value_name = "PATH")]
    manifest_path: Option<PathBuf>,
    /// The binary to build [default: the name of this executable].
    #[arg(long)]
    bin: Option<String>,
    /// Build with `--release`.
    #[arg(long)]
    release: bool,
}

#[derive(clap::Args)]
struct CodegenArgs {
    /// Directory to write the files into, e.g. `web/convex/_generated`.
    #[arg(long)]
    out: PathBuf,
    /// Write nothing; fail if the files in `--out` differ from the app (for CI).
    #[arg(long)]
    check: bool,
}

/// Why a command failed.
#[derive(Debug, Error)]
enum CliError {
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Server(#[from] ServerError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Codegen(#[from] CodegenError),
    #[error(transparent)]
    Dev(#[from] DevError),
    #[error(transparent)]
    Snapshot(#[from] crate::snapshot::SnapshotError),
}

/// How log lines are written to standard error.
#[derive(Clone, Copy, Default, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`), for log collectors.
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Normal,
    Full,
}

/// Where the data is: shared by `serve`, `export` and `import`.
#[derive(clap::Args)]
struct StorageArgs {
    /// Store the data in PostgreSQL (`postgres://USER[:PASSWORD]@HOST:PORT/DB`)
    /// instead of SQLite in `--data`, which then keeps only local files
    /// (search indexes, stored files).
    #[arg(
        long,
        env = "CONVEX_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    database: Option<String>,
    /// With `--database`: connections in the read pool.
    #[arg(long, env = "CONVEX_DATABASE_POOL", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    database_pool: u32,
    /// With `--database`: seconds to wait when connecting.
    #[arg(long, env = "CONVEX_DATABASE_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    database_timeout: u64,
    /// Directory for the database and stored files.
    #[arg(long, env = "CONVEX_DATA", default_value = "./convex-data")]
    data: PathBuf,
    /// SQLite durability: `normal` survives process crashes; `full` also power loss.
    #[arg(long, env = "CONVEX_DURABILITY", value_enum, default_value = "normal")]
    durability: DurabilityArg,
}

impl StorageArgs {
    /// The backend configuration for this data.
    fn backend_config(&self, standby: bool) -> BackendConfig {
        let durability = match self.durability {
            DurabilityArg::Normal => Durability::Normal,
            DurabilityArg::Full => Durability::Full,
        };
        let mut config = BackendConfig::in_dir(&self.data).durability(durability);
        config.postgres = self.postgres(standby);
        config
    }

    fn postgres(&self, standby: bool) -> Option<PostgresConfig> {
        self.database.as_ref().map(|url| PostgresConfig {
            url: url.clone(),
            max_connections: self.database_pool,
            connect_timeout: std::time::Duration::from_secs(self.database_timeout),
            standby,
        })
    }
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CONVEX_LISTEN", default_value = "127.0.0.1:3210")]
    listen: SocketAddr,
    /// Address the site origin (HTTP actions) listens on.
    #[arg(long, env = "CONVEX_SITE_LISTEN", default_value = "127.0.0.1:3211")]
    site_listen: SocketAddr,
    /// The deployment's public URL, on which upload URLs and the URLs of
    /// stored files are built (default: `http://` and the listen address).
    #[arg(long, env = "CONVEX_CLOUD_ORIGIN", value_name = "URL")]
    origin: Option<String>,
    /// The largest file an upload URL accepts, in bytes (default 1 GiB).
    #[arg(long, env = "CONVEX_MAX_UPLOAD_BYTES", default_value_t = crate::storage::DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    #[command(flatten)]
    storage: StorageArgs,
    /// With `--database`: when another server holds the database, wait and
    /// take over when it stops, instead of exiting.
    #[arg(long, requires = "database")]
    standby: bool,
    /// Directory of static files (the built front end) to serve at `/`.
    #[arg(long, env = "CONVEX_STATIC")]
    static_dir: Option<PathBuf>,
    /// A JSON file of trusted token issuers: `{"providers": [...]}` with the
    /// fields of Convex's `auth.config.ts` (added to those the app declares).
    #[arg(long, env = "CONVEX_AUTH_CONFIG", value_name = "PATH")]
    auth_config: Option<PathBuf>,
    /// The deployment's admin key (`Authorization: Convex <key>`, or
    /// `Authenticate{tokenType: "Admin"}`: may call internal functions and act
    /// as users). When unset, one is generated once and kept in
    /// `DIR/admin_key` (readable only by its owner).
    #[arg(long, env = "CONVEX_ADMIN_KEY", hide_env_values = true)]
    admin_key: Option<String>,
    /// The most scheduled functions (and cron runs) running at once.
    #[arg(long, env = "CONVEX_SCHEDULER_CONCURRENCY", default_value_t = crate::scheduler::DEFAULT_CONCURRENCY as u16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    scheduler_concurrency: u16,
    /// How log lines are written to standard error: `text` or `json` (one
    /// object per line).
    #[arg(long, env = "CONVEX_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Seconds old document revisions stay readable (snapshot reads such as
    /// `query_at_ts`) before they are garbage-collected.
    #[arg(
        long,
        env = "CONVEX_RETENTION",
        value_name = "SECONDS",
        default_value_t = 3600
    )]
    retention: u64,
    /// Seconds a websocket mutation's result is kept, so a client re-sending
    /// it after a reconnect gets the result instead of running it twice.
    #[arg(long, env = "CONVEX_MUTATION_LOG_RETENTION", value_name = "SECONDS", default_value_t = 7 * 24 * 3600, value_parser = clap::value_parser!(u64).range(60..))]
    mutation_log_retention: u64,
    /// The most websocket sessions at once; more are refused with 503 (the
    /// official clients retry with backoff).
    #[arg(long, env = "CONVEX_MAX_SESSIONS", default_value_t = super::DEFAULT_MAX_SESSIONS, value_parser = clap::value_parser!(u32).range(1..))]
    max_sessions: u32,
    /// The most websocket mutations waiting to run, across all sessions; past
    /// it a session is closed as overloaded (code 1013, reason `Busy`) and
    /// the client reconnects with backoff and re-sends.
    #[arg(long, env = "CONVEX_MAX_PENDING_MUTATIONS", default_value_t = super::DEFAULT_MAX_PENDING_MUTATIONS, value_parser = clap::value_parser!(u32).range(1..))]
    max_pending_mutations: u32,
    /// Shut down when standard input closes (used by `dev` for its server).
    #[arg(long, hide = true)]
    stop_on_stdin_eof: bool,
}

/// Parses the command line and runs it: the `main` of an app binary.
///
/// Commands: `serve` (see `--help`), `codegen --out DIR [--check]`, which
/// writes the TypeScript files for front ends (see [`crate::codegen`]) without
/// opening the database, `dev`, and `export --out FILE` / `import FILE
/// [--replace]` (snapshot ZIPs, see [`crate::snapshot`]).
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     convex_rs::server::run_cli(|| {
///         convex_rs::app::App::builder().functions_from(module_path!()).build()
///     })
/// }
/// ```
pub fn run_cli(app: impl FnOnce() -> Result<App, BackendError>) -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,hnsw_rs=warn"));
    let format = match &cli.command {
        Command::Serve(args) => args.log_format,
        Command::Dev(args) => args.serve.log_format,
        Command::Codegen(_) | Command::Export(_) | Command::Import(_) => LogFormat::Text,
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
    let result = match cli.command {
        Command::Serve(args) => runtime().and_then(|rt| Ok(rt.block_on(serve(app, args))?)),
        Command::Codegen(args) => codegen(app, &args),
        Command::Dev(args) => {
            dev_options(args).and_then(|options| Ok(runtime()?.block_on(dev::run(options))?))
        }
        Command::Export(args) => runtime().and_then(|rt| rt.block_on(export(app, args))),
        Command::Import(args) => runtime().and_then(|rt| rt.block_on(import(app, args))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

/// `dev`: resolves what to build (from the flags, or the variables `cargo
/// run` sets) and the arguments for the server it runs.
fn dev_options(args: DevArgs) -> Result<DevOptions, CliError> {
    let package = args.package.ok_or(DevError::NoPackage)?;
    let manifest_path = args.manifest_path.or_else(|| {
        std::env::var_os("CARGO_MANIFEST_DIR").map(|dir| PathBuf::from(dir).join("Cargo.toml"))
    });
    let bin = match args.bin {
        Some(bin) => bin,
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| exe.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .ok_or(DevError::NoPackage)?,
    };
    let serve = args.serve;
    let mut serve_args: Vec<OsString> = vec![
        "--data".into(),
        serve.storage.data.into(),
        "--durability".into(),
        serve
            .storage
            .durability
            .to_possible_value()
            .map_or_else(|| "normal".into(), |value| value.get_name().into()),
    ];
    if let Some(dir) = serve.static_dir {
        serve_args.extend(["--static-dir".into(), dir.into()]);
    }
    if let Some(format) = serve.log_format.to_possible_value() {
        serve_args.extend(["--log-format".into(), format.get_name().into()]);
    }
    serve_args.extend([
        "--site-listen".into(),
        serve.site_listen.to_string().into(),
        "--max-upload-bytes".into(),
        serve.max_upload_bytes.to_string().into(),
    ]);
    if let Some(origin) = serve.origin {
        serve_args.extend(["--origin".into(), origin.into()]);
    }
    // Not on the child's command line, where any local user could read it.
    let mut serve_env: Vec<(OsString, OsString)> = serve
        .admin_key
        .map(|key| ("CONVEX_ADMIN_KEY".into(), key.into()))
        .into_iter()
        .collect();
    if let Some(url) = serve.storage.database {
        serve_env.push(("CONVEX_DATABASE_URL".into(), url.into()));
        serve_args.extend([
            "--database-pool".into(),
            serve.storage.database_pool.to_string().into(),
            "--database-timeout".into(),
            serve.storage.database_timeout.to_string().into(),
        ]);
    }
    if let Some(path) = serve.auth_config {
        serve_args.extend(["--auth-config".into(), path.into()]);
    }
    serve_args.extend([
        "--scheduler-concurrency".into(),
        serve.scheduler_concurrency.to_string().into(),
    ]);
    Ok(DevOptions {
        target: CargoTarget {
            cargo: std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()),
            package,
            bin,
            manifest_path,
            release: args.release,
        },
        listen: serve.listen,
        serve_args,
        serve_env,
        codegen_out: args.codegen_out,
        watch: args.watch,
    })
}

/// `codegen`: generates (or with `--check`, verifies) the TypeScript files.
/// Builds the app but neither opens its database nor starts a runtime.
fn codegen(
    app: impl FnOnce() -> Result<App, BackendError>,
    args: &CodegenArgs,
) -> Result<(), CliError> {
    let files = crate::codegen::generate(&app()?);
    let dir = args.out.display();
    if args.check {
        files.check(&args.out)?;
        println!("the generated files in {dir} are up to date");
    } else {
        let written = files.write_to(&args.out)?;
        if written.is_empty() {
            println!("the generated files in {dir} are up to date");
        } else {
            println!("wrote {} to {dir}", written.join(", "));
        }
    }
    Ok(())
}

/// The admin key: `given`, else the one kept in `data/admin_key`, else a
/// new one written there (mode 0600). Its path is logged, never the key.
fn admin_key(data: &std::path::Path, given: Option<String>) -> std::io::Result<String> {
    if let Some(key) = given.filter(|k| !k.trim().is_empty()) {
        return Ok(key.trim().to_string());
    }
    let path = data.join("admin_key");
    match std::fs::read_to_string(&path) {
        Ok(key) if !key.trim().is_empty() => {
            #[cfg(unix)]
            if let Ok(meta) = std::fs::metadata(&path)
                && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o077 != 0
            {
                tracing::warn!(path = %path.display(), "the admin key file is readable by other users; chmod 600 it");
            }
            tracing::info!(path = %path.display(), "the admin key is in this file");
            return Ok(key.trim().to_string());
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    let key: String = std::iter::once("convex-rs-admin-".to_string())
        .chain(bytes.iter().map(|b| format!("{b:02x}")))
        .collect();
    std::fs::create_dir_all(data)?;
    // A fresh file (never one planted there), readable only by its owner,
    // renamed into place.
    let temporary = data.join(format!("admin_key.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temporary)?;
    std::io::Write::write_all(&mut file, format!("{key}\n").as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path)?;
    tracing::info!(path = %path.display(), "generated an admin key; it is in this file");
    Ok(key)
}

async fn serve(
    app: impl FnOnce() -> Result<App, BackendError>,
    args: ServeArgs,
) -> Result<(), ServerError> {
    let mut config = args.storage.backend_config(args.standby);
    config.scheduler.concurrency = usize::from(args.scheduler_concurrency);
    config.admin_key = Some(admin_key(&args.storage.data, args.admin_key.clone())?);
    let mut app = app()?;
    if let Some(path) = &args.auth_config {
        app = app.with_auth_providers(AuthConfig::from_file(path)?);
    }
    // A standby binds once it has the lease (and the old server its ports).
    let early = if args.standby {
        None
    } else {
        Some((bind(args.listen).await?, bind(args.site_listen).await?))
    };
    config.storage.origin = args.origin.clone();
    config.storage.max_upload_bytes = args.max_upload_bytes;
    config.retention.window = std::time::Duration::from_secs(args.retention);
    config.mutation_log_retention = std::time::Duration::from_secs(args.mutation_log_retention);
    let backend = Backend::open(app, config).await?;
    let (listener, site_listener) = match early {
        Some(bound) => bound,
        None => (bind(args.listen).await?, bind(args.site_listen).await?),
    };
    let config = ServerConfig {
        static_dir: args.static_dir,
        max_sessions: args.max_sessions as usize,
        session: crate::sync::SessionConfig {
            mutation_queue: crate::sync::MutationQueue::new(args.max_pending_mutations as usize),
            ..crate::sync::SessionConfig::default()
        },
    };
    let mut server = Server::start(backend, listener, config).await?;
    let site = server.serve_site(site_listener)?;
    println!("listening on http://{}", server.local_addr());
    println!("site listening on http://{site}");
    let data =
        std::path::absolute(&args.storage.data).unwrap_or_else(|_| args.storage.data.clone());
    println!("data in {}", data.display());
    tracing::info!(data = %args.storage.data.display(), "listening on http://{}", server.local_addr());
    let store = server.backend().store().clone();
    let fatal = async move {
        loop {
            if let Some(reason) = store.fatal_error() {
                return reason;
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    };
    let fatal = tokio::select! {
        _ = wait_for_signal() => None,
        _ = stdin_closed(), if args.stop_on_stdin_eof => None,
        reason = fatal => Some(reason),
    };
    tracing::info!("shutting down: finishing in-flight work");
    server.shutdown().await;
    tracing::info!("stopped");
    match fatal {
        Some(reason) => Err(ServerError::Stopped(reason)),
        None => Ok(()),
    }
}

/// `export`: a snapshot of the data, read-only (a server may be running on it).
async fn export(
    app: impl FnOnce() -> Result<App, BackendError>,
    args: ExportArgs,
) -> Result<(), CliError> {
    let schema = app()?.schema().clone().with_system_tables();
    let config = args.storage.backend_config(false);
    let sqlite = config.sqlite.path.unwrap_or_default();
    let files = config.storage.dir.map(|dir| dir.join("files"));
    let started = std::time::Instant::now();
    let summary =
        crate::snapshot::export_database(&sqlite, config.postgres, &schema, files, &args.out)
            .await?;
    println!(
        "exported {summary} to {} in {:.1?}",
        args.out.display(),
        started.elapsed()
    );
    Ok(())
}

/// `import`: loads a snapshot through an opened backend (scheduler off, so
/// no cron job or scheduled call runs on half-imported data).
async fn import(
    app: impl FnOnce() -> Result<App, BackendError>,
    args: ImportArgs,
) -> Result<(), CliError> {
    let mut config = args.storage.backend_config(false);
    config.scheduler.enabled = false;
    let backend = Backend::open(app()?, config).await?;
    let started = std::time::Instant::now();
    let options = crate::snapshot::ImportOptions {
        replace: args.replace,
    };
    let result = backend.import_snapshot(&args.snapshot, options).await;
    backend.shutdown().await;
    let summary = result?;
    println!(
        "imported {summary} from {} in {:.1?}",
        args.snapshot.display(),
        started.elapsed()
    );
    Ok(())
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Completes when standard input reaches its end (the dev loop closed it or
/// exited). Reads on a plain thread, which does not hold up process exit.
async fn stdin_closed() {
    let (closed, on_closed) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        drop(closed);
    });
    let _ = on_closed.await;
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub(super) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    /// Clap's own checks of every command (duplicate names, bad defaults),
    /// which otherwise run only when that command is parsed. A `--standby`
    /// declared twice once made `serve` panic on start.
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
