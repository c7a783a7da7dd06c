//! The command line every app binary gets.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use thiserror::Error;

use super::{Server, ServerConfig, ServerError};
use crate::app::{App, Backend, BackendConfig, BackendError};
use crate::codegen::CodegenError;
use crate::store::Durability;

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
}

#[derive(Clone, Copy, ValueEnum)]
enum DurabilityArg {
    Normal,
    Full,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CONVEX_LISTEN", default_value = "127.0.0.1:3210")]
    listen: SocketAddr,
    /// Directory for the database.
    #[arg(long, env = "CONVEX_DATA", default_value = "./convex-data")]
    data: PathBuf,
    /// SQLite durability: `normal` survives process crashes; `full` also power loss.
    #[arg(long, env = "CONVEX_DURABILITY", value_enum, default_value = "normal")]
    durability: DurabilityArg,
    /// Directory of static files (the built front end) to serve at `/`.
    #[arg(long, env = "CONVEX_STATIC")]
    static_dir: Option<PathBuf>,
}

/// Parses the command line and runs it: the `main` of an app binary.
///
/// Commands: `serve` (see `--help`) and `codegen --out DIR [--check]`, which
/// writes the TypeScript files for front ends (see [`crate::codegen`]) without
/// opening the database.
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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let result = match cli.command {
        Command::Serve(args) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)
            .and_then(|runtime| Ok(runtime.block_on(serve(app, args))?)),
        Command::Codegen(args) => codegen(app, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
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

async fn serve(
    app: impl FnOnce() -> Result<App, BackendError>,
    args: ServeArgs,
) -> Result<(), ServerError> {
    let durability = match args.durability {
        DurabilityArg::Normal => Durability::Normal,
        DurabilityArg::Full => Durability::Full,
    };
    let backend = Backend::open(
        app()?,
        BackendConfig::in_dir(&args.data).durability(durability),
    )
    .await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: args.listen,
            source,
        })?;
    let config = ServerConfig {
        static_dir: args.static_dir,
        ..ServerConfig::default()
    };
    let server = Server::start(backend, listener, config).await?;
    println!("listening on http://{}", server.local_addr());
    tracing::info!(data = %args.data.display(), "listening on http://{}", server.local_addr());
    wait_for_signal().await;
    tracing::info!("shutting down: finishing in-flight work");
    server.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal() {
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
