//! Watching source files for the dev loop: which paths matter, and waiting
//! for a burst of changes to settle.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use super::DevError;

/// Directories watched recursively and single files, each stored once.
#[derive(Clone, Debug, Default)]
pub(crate) struct WatchSet {
    dirs: BTreeSet<PathBuf>,
    files: BTreeSet<PathBuf>,
}

impl WatchSet {
    /// Adds a directory and everything under it.
    pub(crate) fn add_dir(&mut self, dir: PathBuf) {
        if self.dirs.iter().any(|d| dir.starts_with(d)) {
            return;
        }
        self.dirs.retain(|d| !d.starts_with(&dir));
        self.dirs.insert(dir);
    }

    /// Adds one file (watched through its directory, so that editors which
    /// save by renaming a new file over the old one are seen).
    pub(crate) fn add_file(&mut self, file: PathBuf) {
        self.files.insert(file);
    }

    /// Adds a path given on the command line: a directory or a file.
    pub(crate) fn add_path(&mut self, path: &Path) -> Result<(), DevError> {
        let path = path.canonicalize().map_err(|source| DevError::Watch {
            path: path.to_path_buf(),
            source: notify::Error::io(source),
        })?;
        if path.is_dir() {
            self.add_dir(path);
        } else {
            self.add_file(path);
        }
        Ok(())
    }

    /// The directories watched recursively.
    pub(crate) fn dirs(&self) -> &BTreeSet<PathBuf> {
        &self.dirs
    }

    /// The single files watched.
    pub(crate) fn files(&self) -> &BTreeSet<PathBuf> {
        &self.files
    }

    /// Whether a change to `path` calls for a rebuild.
    pub(crate) fn is_relevant(&self, path: &Path) -> bool {
        let scratch = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(is_editor_scratch);
        !scratch && (self.files.contains(path) || self.dirs.iter().any(|d| path.starts_with(d)))
    }
}

/// Editors' swap, backup and probe files, whose changes are not edits.
fn is_editor_scratch(name: &str) -> bool {
    name.starts_with(".#")
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
}

/// A running file watcher over a [`WatchSet`].
pub(crate) struct Watcher {
    set: WatchSet,
    changes: mpsc::UnboundedReceiver<PathBuf>,
    // Dropping it stops the notifications.
    _watcher: notify::RecommendedWatcher,
}

impl Watcher {
    /// Starts watching. Paths that do not exist (a package without a build
    /// script, say) are skipped.
    pub(crate) fn start(set: WatchSet) -> Result<Self, DevError> {
        let (sender, changes) = mpsc::unbounded_channel();
        // Filtered here, on notify's thread: events in the watched files'
        // directories that concern other files are neither queued nor allowed
        // to extend the quiet period.
        let relevant = set.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_)) {
                    return;
                }
                for path in event.paths {
                    if relevant.is_relevant(&path) {
                        let _ = sender.send(path);
                    }
                }
            })
            .map_err(DevError::Watcher)?;
        let mut parents = BTreeSet::new();
        for file in &set.files {
            if let Some(parent) = file.parent()
                && !set.dirs.iter().any(|d| parent.starts_with(d))
            {
                parents.insert(parent.to_path_buf());
            }
        }
        let targets = set
            .dirs
            .iter()
            .map(|d| (d, RecursiveMode::Recursive))
            .chain(parents.iter().map(|p| (p, RecursiveMode::NonRecursive)));
        for (path, mode) in targets {
            if !path.exists() {
                continue;
            }
            watcher
                .watch(path, mode)
                .map_err(|source| DevError::Watch {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Watcher {
            set,
            changes,
            _watcher: watcher,
        })
    }

    /// The watched set.
    pub(crate) fn set(&self) -> &WatchSet {
        &self.set
    }

    /// Waits for a relevant change, then for `quiet` without further changes
    /// (an editor's save or a `git checkout` is a burst of events). Returns the
    /// first changed path.
    pub(crate) async fn next_change(&mut self, quiet: Duration) -> Option<PathBuf> {
        let first = self.changes.recv().await?;
        while let Ok(Some(_)) = tokio::time::timeout(quiet, self.changes.recv()).await {}
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_directories_are_stored_once() {
        let mut set = WatchSet::default();
        set.add_dir("/w/a/src/bin".into());
        set.add_dir("/w/a/src".into());
        set.add_dir("/w/a/src/other".into());
        set.add_dir("/w/b".into());
        let dirs: Vec<_> = set.dirs().iter().map(|d| d.display().to_string()).collect();
        assert_eq!(dirs, ["/w/a/src", "/w/b"]);
    }

    #[test]
    fn relevance() {
        let mut set = WatchSet::default();
        set.add_dir("/w/a/src".into());
        set.add_file("/w/a/Cargo.toml".into());
        assert!(set.is_relevant(Path::new("/w/a/src/lib.rs")));
        assert!(set.is_relevant(Path::new("/w/a/src/deep/mod.rs")));
        assert!(set.is_relevant(Path::new("/w/a/Cargo.toml")));
        assert!(!set.is_relevant(Path::new("/w/a/Cargo.lock")));
        assert!(!set.is_relevant(Path::new("/w/a/web/index.html")));
        assert!(!set.is_relevant(Path::new("/w/a/src/.lib.rs.swp")));
        assert!(!set.is_relevant(Path::new("/w/a/src/lib.rs~")));
        assert!(!set.is_relevant(Path::new("/w/a/src/4913")));
    }

    #[tokio::test]
    async fn reports_a_burst_of_changes_once() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().canonicalize().unwrap().join("src");
        std::fs::create_dir(&src).unwrap();
        let mut set = WatchSet::default();
        set.add_dir(src.clone());
        let mut watcher = Watcher::start(set).unwrap();
        // An ignored file, then three quick writes to a source file.
        std::fs::write(dir.path().join("README"), "x").unwrap();
        for i in 0..3 {
            std::fs::write(src.join("lib.rs"), format!("// {i}")).unwrap();
        }
        let change = tokio::time::timeout(
            Duration::from_secs(10),
            watcher.next_change(Duration::from_millis(200)),
        )
        .await
        .expect("a change is reported");
        assert_eq!(change, Some(src.join("lib.rs")));
        // The burst was consumed: nothing more arrives.
        let more = tokio::time::timeout(
            Duration::from_millis(300),
            watcher.next_change(Duration::from_millis(50)),
        )
        .await;
        assert!(more.is_err(), "one report per burst, got {more:?}");
    }
}
