//! Snapshot export and import, in the ZIP layout of Convex's snapshot
//! exports: `_tables/documents.jsonl`, `<table>/documents.jsonl` and
//! `generated_schema.jsonl`, `_storage/documents.jsonl` and `_storage/<id>`.
//!
//! An export reads every table at one commit timestamp straight from the
//! store's revision log, so it is a consistent snapshot whatever commits
//! meanwhile: on a live [`Backend`] ([`Backend::export_snapshot`], which
//! holds its snapshot so garbage collection waits for it) or on a database
//! opened read-only beside a running server ([`export_database`], which
//! must finish within the server's retention window, an hour by default,
//! after which the server may collect revisions it reads). User tables and
//! stored files are exported; system tables (scheduled functions, cron
//! jobs, the mutation log, used upload tokens) are not, as in Convex.
//!
//! An import ([`Backend::import_snapshot`]) inserts every document with its
//! own `_id` and `_creationTime` through ordinary commits (so indexes,
//! search and vector indexes are built as for any write), validated against
//! the app's schema, and restores stored files with their ids.

mod context;
mod export;
mod import;
mod layout;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use export::{ExportSummary, export_database};
pub use import::{ImportOptions, ImportSummary};

use crate::app::Backend;
use crate::store::{CommitError, StoreError};

/// Why an export or import failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Writing the ZIP file failed.
    #[error("cannot write the snapshot {}: {message}", path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file is not a readable ZIP archive, or an entry is damaged.
    #[error("cannot read the snapshot {}: {message}", path.display())]
    Read {
        /// The snapshot file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// A required entry is missing from the archive.
    #[error("the snapshot has no {entry}; is it a Convex snapshot export?")]
    MissingEntry {
        /// The entry's path inside the ZIP.
        entry: String,
    },
    /// A line of a `.jsonl` entry is not a valid document.
    #[error("{entry} line {line}: {message}")]
    BadLine {
        /// The entry's path inside the ZIP.
        entry: String,
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The snapshot has tables the app's schema does not declare.
    #[error(
        "the snapshot has tables the app's schema does not declare: {}; add them to the schema, \
         or remove their folders (and their lines in _tables/documents.jsonl) from the ZIP",
        .0.join(", ")
    )]
    UnknownTables(Vec<String>),
    /// A table's number differs between the snapshot and the deployment;
    /// ids embed it, so every id (and every reference) would change.
    #[error(
        "table {table} is number {snapshot} in the snapshot but {here} in this deployment; \
         document ids contain the table number, so they cannot be kept. Import into a deployment \
         whose schema declares the tables in the snapshot's order (a fresh data directory of the same app)"
    )]
    TableNumber {
        /// The table.
        table: String,
        /// Its number in the snapshot.
        snapshot: u32,
        /// Its number here.
        here: u32,
    },
    /// Tables of the snapshot already have documents here.
    #[error(
        "the deployment already has documents in {}; import with --replace to delete them and \
         load the snapshot's, or import into an empty deployment",
        .0.join(", ")
    )]
    NotEmpty(Vec<String>),
    /// A stored file listed in `_storage` is missing.
    #[error(
        "the bytes of stored file {id} are missing ({where_}); if the file was deleted while \
         exporting, run the export again"
    )]
    FileMissing {
        /// The storage id.
        id: String,
        /// Where it was looked for.
        where_: String,
    },
    /// A stored file's bytes do not match its `_storage` row.
    #[error("stored file {id}: {message}")]
    FileMismatch {
        /// The storage id.
        id: String,
        /// What differs.
        message: String,
    },
    /// The snapshot uses something convex-rs does not support.
    #[error("unsupported snapshot: {0}")]
    Unsupported(String),
    /// The backend has no file storage, but the snapshot has stored files.
    #[error("the snapshot has stored files but this backend has no file storage")]
    NoFileStorage,
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A batch of the import could not be committed.
    #[error("committing imported documents failed: {0}")]
    Commit(#[from] CommitError),
}

impl SnapshotError {
    fn write(path: &Path, error: impl std::fmt::Display) -> SnapshotError {
        SnapshotError::Write {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }

    fn read(path: &Path, error: impl std::fmt::Display) -> SnapshotError {
        SnapshotError::Read {
            path: path.to_path_buf(),
            message: error.to_string(),
        }
    }
}

impl Backend {
    /// Writes a snapshot of every user table and stored file, as of the
    /// latest commit, to the ZIP file `out` (written beside it as
    /// `out.partial` and renamed when complete). Runs alongside traffic:
    /// later commits are simply not in it.
    pub async fn export_snapshot(&self, out: &Path) -> Result<ExportSummary, SnapshotError> {
        let store = self.store();
        // Held open for the whole export: garbage collection never passes a
        // snapshot a transaction reads at, so a long export stays exact.
        let reader = store.begin_read();
        let source = export::Source {
            persistence: store.persistence().as_ref(),
            catalog: store.catalog(),
            ts: reader.snapshot_ts(),
            files_dir: self.runner().files().map(|f| f.files_dir()),
        };
        let exported = export::export(source, out).await;
        drop(reader);
        exported
    }

    /// Loads the snapshot ZIP at `path` (see [`ImportOptions`] for what
    /// happens to tables that already have documents).
    pub async fn import_snapshot(
        &self,
        path: &Path,
        options: ImportOptions,
    ) -> Result<ImportSummary, SnapshotError> {
        import::import(self, path, options).await
    }
}
