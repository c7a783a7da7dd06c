//! The app server as a child process of the dev loop.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;

use super::DevError;

/// The line `serve` prints once it accepts connections.
const LISTENING: &str = "listening on http://";

/// A running `APP serve`. It stops gracefully when its standard input closes
/// (`--stop-on-stdin-eof`), which also happens if the dev loop dies.
pub(crate) struct ServerProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `executable serve --listen listen ARGS` and waits until it
    /// listens. Its output is passed through.
    pub(crate) async fn start(
        executable: &Path,
        listen: SocketAddr,
        args: &[OsString],
        envs: &[(OsString, OsString)],
    ) -> Result<Self, DevError> {
        let mut child = Command::new(executable)
            .envs(envs.iter().map(|(k, v)| (k, v)))
            .arg("serve")
            .arg("--listen")
            .arg(listen.to_string())
            .args(args)
            .arg("--stop-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| DevError::Spawn {
                program: executable.display().to_string(),
                source,
            })?;
        let stdin = child.stdin.take();
        let (listening, addr) = oneshot::channel();
        if let Some(stdout) = child.stdout.take() {
            tokio::spawn(forward_output(stdout, listening));
        }
        let addr = tokio::select! {
            addr = addr => addr.ok(),
            status = child.wait() => {
                return Err(DevError::ServerExited(status.map_err(DevError::Io)?));
            }
        };
        match addr {
            Some(addr) => Ok(ServerProcess { child, stdin, addr }),
            None => {
                let status = child.wait().await.map_err(DevError::Io)?;
                Err(DevError::ServerExited(status))
            }
        }
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits for it to exit on its own. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait().await
    }

    /// Stops it gracefully (queued mutations commit, sockets close with
    /// "going away" so clients reconnect), killing it after `grace`.
    pub(crate) async fn stop(mut self, grace: Duration) -> std::io::Result<ExitStatus> {
        drop(self.stdin.take());
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => {
                self.child.kill().await?;
                self.child.wait().await
            }
        }
    }
}

/// Copies the server's output to ours, reporting the address from its
/// `listening on` line.
async fn forward_output(
    stdout: tokio::process::ChildStdout,
    listening: oneshot::Sender<SocketAddr>,
) {
    let mut listening = Some(listening);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        println!("{line}");
        if let Some(addr) = line
            .strip_prefix(LISTENING)
            .and_then(|addr| addr.trim().parse().ok())
            && let Some(sender) = listening.take()
        {
            let _ = sender.send(addr);
        }
    }
}
