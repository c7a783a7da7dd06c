//! `APP dev`: serve the app, and on every source change rebuild it,
//! regenerate the TypeScript types and restart the server.
//!
//! The dev loop is a supervisor process. It builds the app's package with
//! cargo, runs `APP serve` as a child on a fixed address and data directory,
//! and watches the package's sources (and its path dependencies'). After a
//! change it rebuilds while the old server keeps serving; only a build that
//! compiles *and* whose app starts (checked by running `APP codegen`, which
//! builds the app without opening the database) replaces the running server.
//! The old server then shuts down gracefully, closing its websockets as "going
//! away": clients reconnect to the new one, resubscribe, and re-send
//! unconfirmed mutations, which the server runs exactly once.

mod cargo;
mod server_process;
mod watch;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::process::Command;

pub(crate) use cargo::CargoTarget;
use server_process::ServerProcess;
use watch::Watcher;

/// How long the sources must be quiet before a rebuild starts.
const QUIET: Duration = Duration::from_millis(200);
/// How long a server may take to shut down gracefully before it is killed.
const GRACE: Duration = Duration::from_secs(30);

/// Why the dev loop cannot run.
#[derive(Debug, Error)]
pub(crate) enum DevError {
    #[error(
        "cannot tell which package to build: start the dev loop with \
         `cargo run -p <package> -- dev`, or pass --package <name> \
         (and --manifest-path when outside the workspace)"
    )]
    NoPackage,
    #[error("cannot run `{program}`: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("cannot read the cargo workspace: {0}")]
    Metadata(String),
    #[error(
        "cargo built package `{package}` but reported no binary named `{bin}`; \
         pass --bin with the name of the app's binary"
    )]
    NoExecutable { package: String, bin: String },
    #[error("cannot watch {}: {source}", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("cannot start watching files: {0}")]
    Watcher(notify::Error),
    #[error("the server exited before it was ready ({0}); its errors are above")]
    ServerExited(ExitStatus),
    #[error("dev loop: {0}")]
    Io(std::io::Error),
}

/// What the dev loop runs.
pub(crate) struct DevOptions {
    /// The package and binary to build.
    pub(crate) target: CargoTarget,
    /// The address for the first server; later ones reuse the bound address
    /// (so port 0 picks a free port once).
    pub(crate) listen: SocketAddr,
    /// Further `serve` arguments (`--data`, `--durability`, `--static-dir`).
    pub(crate) serve_args: Vec<OsString>,
    /// Environment variables for the `serve` child (secrets such as the
    /// admin key go here, not on its command line).
    pub(crate) serve_env: Vec<(OsString, OsString)>,
    /// Where to write the TypeScript files after each build.
    pub(crate) codegen_out: Option<PathBuf>,
    /// Extra files or directories to watch.
    pub(crate) watch: Vec<PathBuf>,
}

/// Prints a dev-loop status line.
fn say(message: impl std::fmt::Display) {
    println!("dev: {message}");
}

/// Runs the dev loop until SIGINT/SIGTERM, then stops the server gracefully.
pub(crate) async fn run(options: DevOptions) -> Result<(), DevError> {
    let mut set = options.target.watch_set().await?;
    for path in &options.watch {
        set.add_path(path)?;
    }
    let mut watcher = Watcher::start(set)?;
    say(format_args!(
        "watching {}",
        describe_paths(watcher.set().dirs().iter().chain(watcher.set().files()))
    ));
    // Without --codegen-out the app is still checked by generating into a
    // scratch directory.
    let scratch = tempfile::tempdir().map_err(DevError::Io)?;
    let codegen_dir = options
        .codegen_out
        .clone()
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let mut dev = DevLoop {
        options,
        codegen_dir,
        listen: None,
        server: None,
    };
    let shutdown = super::cli::wait_for_signal();
    tokio::pin!(shutdown);
    let mut build_needed = true;
    loop {
        if build_needed {
            build_needed = false;
            tokio::select! {
                result = dev.rebuild() => result?,
                _ = &mut shutdown => break,
            }
        }
        tokio::select! {
            change = watcher.next_change(QUIET) => {
                let Some(path) = change else { break };
                say(format_args!("{} changed", path.display()));
                build_needed = true;
            }
            status = wait_for(&mut dev.server) => {
                dev.server = None;
                say(format_args!(
                    "the server stopped ({}); it restarts after the next change",
                    describe_status(status)
                ));
            }
            _ = &mut shutdown => break,
        }
    }
    if let Some(server) = dev.server.take() {
        say("stopping the server");
        server.stop(GRACE).await.map_err(DevError::Io)?;
    }
    Ok(())
}

/// The dev loop's state between changes.
struct DevLoop {
    options: DevOptions,
    codegen_dir: PathBuf,
    /// The address servers listen on once the first one has bound.
    listen: Option<SocketAddr>,
    server: Option<ServerProcess>,
}

impl DevLoop {
    /// Builds, checks and (if both succeed) restarts the server. Errors are
    /// only those that make the dev loop itself unable to go on; a failed
    /// build or an app that does not start is reported and waited out.
    async fn rebuild(&mut self) -> Result<(), DevError> {
        let started = Instant::now();
        let serving = self.server.is_some();
        say(format_args!("building {}", self.options.target.package));
        let Some(built) = self.options.target.build().await? else {
            say(if serving {
                "build failed; still serving the previous build"
            } else {
                "build failed; fix the errors above and save"
            });
            return Ok(());
        };
        if built.fresh && self.server.is_some() {
            say("the binary is unchanged; the server keeps running");
            return Ok(());
        }
        let executable = built.executable;
        let built = started.elapsed();
        if !self.codegen(&executable).await? {
            say(if serving {
                "the new build cannot start its app (error above); still serving the previous build"
            } else {
                "the app cannot start (error above); fix it and save"
            });
            return Ok(());
        }
        let restart = Instant::now();
        if let Some(old) = self.server.take() {
            self.listen = Some(old.addr());
            old.stop(GRACE).await.map_err(DevError::Io)?;
        }
        let listen = self.listen.unwrap_or(self.options.listen);
        match ServerProcess::start(
            &executable,
            listen,
            &self.options.serve_args,
            &self.options.serve_env,
        )
        .await
        {
            Ok(server) => {
                self.listen = Some(server.addr());
                self.server = Some(server);
                say(format_args!(
                    "{} in {} ms (build {} ms, restart {} ms)",
                    if serving { "restarted" } else { "started" },
                    started.elapsed().as_millis(),
                    built.as_millis(),
                    restart.elapsed().as_millis()
                ));
            }
            Err(DevError::ServerExited(status)) => say(format_args!(
                "the server did not start ({status}); it restarts after the next change"
            )),
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Runs `APP codegen --out DIR`; false if the app failed to build.
    async fn codegen(&self, executable: &Path) -> Result<bool, DevError> {
        let status = Command::new(executable)
            .arg("codegen")
            .arg("--out")
            .arg(&self.codegen_dir)
            .stdin(Stdio::null())
            .stdout(if self.options.codegen_out.is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::inherit())
            .status()
            .await
            .map_err(|source| DevError::Spawn {
                program: executable.display().to_string(),
                source,
            })?;
        Ok(status.success())
    }
}

/// Waits for the server to exit; never completes without one.
async fn wait_for(server: &mut Option<ServerProcess>) -> std::io::Result<ExitStatus> {
    match server {
        Some(server) => server.wait().await,
        None => std::future::pending().await,
    }
}

fn describe_status(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => status.to_string(),
        Err(e) => e.to_string(),
    }
}

fn describe_paths<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    paths
        .map(|p| p.strip_prefix(&cwd).unwrap_or(p).display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}
