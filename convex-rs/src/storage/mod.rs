//! File storage: uploaded and stored files, their `_storage` rows, and the
//! URLs that upload and serve them.
//!
//! A file's bytes live under the data directory, named by the id of its
//! `_storage` row; the row (`sha256`, `size`, `contentType`) is an ordinary
//! system-table document, so queries read it reactively. Files are written
//! to a temporary file, fsynced and renamed into place before their row
//! commits, and files without a row (a crash between the two, or after a
//! delete committed) are removed when the backend opens.

mod api;
mod files;
mod token;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::schema::TableDefinition;
use crate::value::TableType;

pub use api::{ActionStorage, StorageReader, StorageWriter, StoredBlob};
pub(crate) use api::{PendingDeletes, check_token, commit_upload, open, sweep};
pub use files::{FileStore, StorageConfig, StoredFile};

/// The system table of stored files.
pub const STORAGE_TABLE: &str = "_storage";
/// The system table of consumed upload tokens (so each is used once).
pub(crate) const UPLOADS_TABLE: &str = "_storage_uploads";
/// Index of [`UPLOADS_TABLE`] by token nonce.
const BY_NONCE: &str = "by_nonce";
/// The default largest upload: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;
/// How long an upload URL stays valid: one hour, as in Convex.
pub const UPLOAD_URL_LIFETIME_MS: f64 = 60.0 * 60.0 * 1000.0;

/// A row of `_storage`: one stored file, as Convex describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageFile {
    /// The SHA-256 digest of the contents, base64-encoded (as Convex encodes it).
    pub sha256: String,
    /// The size in bytes.
    pub size: f64,
    /// The `Content-Type` it was uploaded or stored with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
}

impl TableType for StorageFile {
    const TABLE_NAME: &'static str = STORAGE_TABLE;
}

/// A row of `_storage_uploads`: an upload token that has been used.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
struct UsedUpload {
    /// The token's nonce (base64url).
    nonce: String,
    /// When the token expires (after which the row may go).
    expires_at: f64,
}

/// The definitions of the storage system tables.
pub(crate) fn system_tables() -> [TableDefinition; 2] {
    [
        TableDefinition::of::<StorageFile>(),
        TableDefinition::new(UPLOADS_TABLE).index(BY_NONCE, &["nonce"]),
    ]
}

/// Why a file could not be uploaded, stored, read or deleted.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The upload URL's token is malformed or was not issued by this deployment.
    #[error("invalid upload token; get a fresh URL from generate_upload_url()")]
    InvalidToken,
    /// The upload URL is older than its one-hour lifetime.
    #[error("the upload URL has expired; get a fresh one from generate_upload_url()")]
    ExpiredToken,
    /// The upload URL was used already (each uploads one file).
    #[error("the upload URL was used already; get a fresh one for each file")]
    UsedToken,
    /// The file is larger than the deployment allows.
    #[error("the file is larger than the maximum upload size of {max} bytes")]
    TooLarge {
        /// The limit, in bytes.
        max: u64,
    },
    /// The request body could not be read to the end.
    #[error("the upload was interrupted: {0}")]
    Interrupted(String),
    /// The backend has no file storage (a runner built without one).
    #[error("file storage is not configured for this backend")]
    NotConfigured,
    /// Reading or writing the file failed.
    #[error("file storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// Recording the file in `_storage` failed.
    #[error("recording the file failed: {0}")]
    Store(String),
}
