//! Running cargo for the dev loop: building the app binary and finding the
//! source paths to watch.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::DevError;
use super::watch::WatchSet;

/// A successful build's binary.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Built {
    /// The executable's path.
    pub(crate) executable: PathBuf,
    /// Whether cargo found it up to date (nothing was recompiled).
    pub(crate) fresh: bool,
}

/// The package whose binary the dev loop builds and runs.
#[derive(Clone, Debug)]
pub(crate) struct CargoTarget {
    /// The cargo executable (`$CARGO` when run through `cargo run`).
    pub(crate) cargo: OsString,
    /// The package name (`-p`).
    pub(crate) package: String,
    /// The binary target name (`--bin`).
    pub(crate) bin: String,
    /// The package's manifest, when known (`--manifest-path`).
    pub(crate) manifest_path: Option<PathBuf>,
    /// Build with `--release`.
    pub(crate) release: bool,
}

impl CargoTarget {
    fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(&self.cargo);
        command.arg(subcommand);
        if let Some(manifest) = &self.manifest_path {
            command.arg("--manifest-path").arg(manifest);
        }
        command.kill_on_drop(true);
        command
    }

    fn display(&self) -> String {
        self.cargo.to_string_lossy().into_owned()
    }

    /// Builds the binary. Compiler messages go to the terminal as cargo renders
    /// them. Returns the binary, or `None` when the build failed.
    pub(crate) async fn build(&self) -> Result<Option<Built>, DevError> {
        let mut command = self.command("build");
        command
            .args(["-p", &self.package, "--bin", &self.bin])
            .arg("--message-format=json-render-diagnostics")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if self.release {
            command.arg("--release");
        }
        let mut child = command.spawn().map_err(|source| DevError::Spawn {
            program: self.display(),
            source,
        })?;
        let mut executable = None;
        if let Some(stdout) = child.stdout.take() {
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await.map_err(DevError::Io)? {
                if let Some(built) = built_binary(&line, &self.bin) {
                    executable = Some(built);
                }
            }
        }
        let status = child.wait().await.map_err(DevError::Io)?;
        if !status.success() {
            return Ok(None);
        }
        executable.map(Some).ok_or_else(|| DevError::NoExecutable {
            package: self.package.clone(),
            bin: self.bin.clone(),
        })
    }

    /// The paths whose changes call for a rebuild, from `cargo metadata`: the
    /// source directories of the package's library and binary targets, its
    /// manifest and build script, the same for each of its path dependencies
    /// (transitively, within the workspace), and the workspace manifest.
    pub(crate) async fn watch_set(&self) -> Result<WatchSet, DevError> {
        let output = self
            .command("metadata")
            .args(["--format-version", "1", "--no-deps"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .await
            .map_err(|source| DevError::Spawn {
                program: self.display(),
                source,
            })?;
        if !output.status.success() {
            return Err(DevError::Metadata(format!(
                "`cargo metadata` exited with {}",
                output.status
            )));
        }
        let metadata: Metadata = serde_json::from_slice(&output.stdout)
            .map_err(|e| DevError::Metadata(format!("unreadable `cargo metadata` output: {e}")))?;
        metadata.watch_set(&self.package, self.manifest_path.as_deref())
    }
}

/// The binary `bin` from a `compiler-artifact` message, if it is one.
fn built_binary(line: &str, bin: &str) -> Option<Built> {
    #[derive(Deserialize)]
    struct Artifact {
        reason: String,
        target: Option<ArtifactTarget>,
        executable: Option<PathBuf>,
        #[serde(default)]
        fresh: bool,
    }
    #[derive(Deserialize)]
    struct ArtifactTarget {
        name: String,
        kind: Vec<String>,
    }
    let artifact: Artifact = serde_json::from_str(line).ok()?;
    let target = artifact.target?;
    (artifact.reason == "compiler-artifact"
        && target.name == bin
        && target.kind.iter().any(|kind| kind == "bin"))
    .then_some(artifact.executable)
    .flatten()
    .map(|executable| Built {
        executable,
        fresh: artifact.fresh,
    })
}

/// The parts of `cargo metadata --no-deps` the dev loop reads.
#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default)]
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Dependency {
    path: Option<PathBuf>,
    kind: Option<String>,
}

#[derive(Deserialize)]
struct Target {
    kind: Vec<String>,
    src_path: PathBuf,
}

impl Metadata {
    fn watch_set(&self, package: &str, manifest: Option<&Path>) -> Result<WatchSet, DevError> {
        let root = self
            .packages
            .iter()
            .find(|p| p.name == package && manifest.is_none_or(|m| same_file(m, &p.manifest_path)))
            .ok_or_else(|| {
                DevError::Metadata(format!(
                    "no package named `{package}` in the workspace at {}",
                    self.workspace_root.display()
                ))
            })?;
        let mut set = WatchSet::default();
        set.add_file(self.workspace_root.join("Cargo.toml"));
        let mut visited = BTreeSet::new();
        let mut pending = vec![root.manifest_path.clone()];
        while let Some(manifest) = pending.pop() {
            if !visited.insert(manifest.clone()) {
                continue;
            }
            let dir = manifest.parent().unwrap_or(Path::new(".")).to_path_buf();
            match self.packages.iter().find(|p| p.manifest_path == manifest) {
                Some(package) => {
                    set.add_file(manifest.clone());
                    for target in &package.targets {
                        if target.kind.iter().any(|k| k == "custom-build") {
                            set.add_file(target.src_path.clone());
                        } else if target
                            .kind
                            .iter()
                            .any(|k| !matches!(k.as_str(), "test" | "bench" | "example"))
                            && let Some(src_dir) = target.src_path.parent()
                        {
                            set.add_dir(src_dir.to_path_buf());
                        }
                    }
                    for dependency in &package.dependencies {
                        if dependency.kind.as_deref() == Some("dev") {
                            continue;
                        }
                        if let Some(path) = &dependency.path {
                            pending.push(path.join("Cargo.toml"));
                        }
                    }
                }
                // A path dependency outside the workspace: its conventional layout.
                None => {
                    set.add_file(manifest.clone());
                    set.add_dir(dir.join("src"));
                }
            }
        }
        Ok(set)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_executable_of_the_named_binary() {
        let line = r#"{"reason":"compiler-artifact","target":{"name":"chat","kind":["bin"]},"executable":"/t/debug/chat","fresh":false}"#;
        assert_eq!(
            built_binary(line, "chat"),
            Some(Built {
                executable: PathBuf::from("/t/debug/chat"),
                fresh: false
            })
        );
        let fresh = line.replace(r#""fresh":false"#, r#""fresh":true"#);
        assert_eq!(built_binary(&fresh, "chat").map(|b| b.fresh), Some(true));
        assert_eq!(built_binary(line, "bank"), None);
        let lib = r#"{"reason":"compiler-artifact","target":{"name":"chat","kind":["lib"]},"executable":null}"#;
        assert_eq!(built_binary(lib, "chat"), None);
        assert_eq!(built_binary("not json", "chat"), None);
        let done = r#"{"reason":"build-finished","success":true}"#;
        assert_eq!(built_binary(done, "chat"), None);
    }

    #[test]
    fn watches_the_package_and_its_path_dependencies() {
        let metadata: Metadata = serde_json::from_value(serde_json::json!({
            "workspace_root": "/w",
            "packages": [
                {
                    "name": "chat",
                    "manifest_path": "/w/chat/Cargo.toml",
                    "dependencies": [
                        {"name": "engine", "path": "/w/engine", "kind": null},
                        {"name": "helpers", "path": "/w/helpers", "kind": "dev"},
                        {"name": "outside", "path": "/elsewhere/outside", "kind": null},
                        {"name": "serde", "kind": null}
                    ],
                    "targets": [
                        {"kind": ["lib"], "src_path": "/w/chat/src/lib.rs"},
                        {"kind": ["bin"], "src_path": "/w/chat/src/bin/main.rs"},
                        {"kind": ["test"], "src_path": "/w/chat/tests/it.rs"},
                        {"kind": ["custom-build"], "src_path": "/w/chat/build.rs"}
                    ]
                },
                {
                    "name": "engine",
                    "manifest_path": "/w/engine/Cargo.toml",
                    "dependencies": [{"name": "chat", "path": "/w/chat", "kind": null}],
                    "targets": [{"kind": ["lib"], "src_path": "/w/engine/src/lib.rs"}]
                },
                {
                    "name": "helpers",
                    "manifest_path": "/w/helpers/Cargo.toml",
                    "targets": [{"kind": ["lib"], "src_path": "/w/helpers/src/lib.rs"}]
                }
            ]
        }))
        .unwrap();
        let set = metadata.watch_set("chat", None).unwrap();
        let dirs: Vec<_> = set.dirs().iter().map(|p| p.display().to_string()).collect();
        assert_eq!(
            dirs,
            ["/elsewhere/outside/src", "/w/chat/src", "/w/engine/src"]
        );
        let files: Vec<_> = set
            .files()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            files,
            [
                "/elsewhere/outside/Cargo.toml",
                "/w/Cargo.toml",
                "/w/chat/Cargo.toml",
                "/w/chat/build.rs",
                "/w/engine/Cargo.toml"
            ]
        );
        assert!(matches!(
            metadata.watch_set("nope", None),
            Err(DevError::Metadata(m)) if m.contains("no package named `nope`")
        ));
    }
}
