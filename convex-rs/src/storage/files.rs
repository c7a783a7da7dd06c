//! The files on disk: `DIR/files/<storage id>` for stored files and
//! `DIR/tmp/` for files being written, plus the secret upload tokens are
//! signed with (`DIR/secret`).

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use super::token::Secret;
use super::{DEFAULT_MAX_UPLOAD_BYTES, StorageError, StorageFile};
use crate::value::DocumentId;

/// Where and how files are stored.
#[derive(Clone, Debug)]
pub struct StorageConfig {
    /// The directory files live in; `None`: a temporary directory removed
    /// when the backend is dropped.
    pub dir: Option<PathBuf>,
    /// The largest file an upload URL or `store` accepts, in bytes.
    pub max_upload_bytes: u64,
    /// The origin URLs are built on (`https://files.example.com`): upload
    /// URLs and the URLs of stored files. No trailing slash. `None`: the
    /// address the server listens on (`http://127.0.0.1:3210`).
    pub origin: Option<String>,
}

impl StorageConfig {
    /// Files in `dir`, the default limit, and the default local origin.
    pub fn in_dir(dir: impl Into<PathBuf>) -> Self {
        StorageConfig {
            dir: Some(dir.into()),
            ..Self::temporary()
        }
    }

    /// Files in a temporary directory.
    pub fn temporary() -> Self {
        StorageConfig {
            dir: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            origin: None,
        }
    }
}

/// A stored file's metadata and where its bytes are.
#[derive(Clone, Debug)]
pub struct StoredFile {
    /// The `_storage` row.
    pub row: StorageFile,
    /// The file holding the bytes.
    pub path: PathBuf,
}

/// A file written to the temporary directory, complete and fsynced.
#[derive(Debug)]
pub(crate) struct TempFile {
    pub(crate) path: PathBuf,
    pub(crate) row: StorageFile,
}

/// The directory of stored files.
#[derive(Debug)]
pub struct FileStore {
    root: PathBuf,
    /// Holds a temporary root alive.
    _temporary: Option<tempfile::TempDir>,
    secret: Secret,
    config: StorageConfig,
    /// The server's address, when no origin is configured.
    listen_origin: std::sync::OnceLock<String>,
}

impl FileStore {
    /// Opens (creating) the directory of `config`, removing leftover
    /// temporary files of interrupted uploads.
    pub async fn open(config: StorageConfig) -> Result<FileStore, StorageError> {
        let (root, temporary) = match &config.dir {
            Some(dir) => (dir.clone(), None),
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("convex-rs-files-")
                    .tempdir()?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let files = root.join("files");
        let tmp = root.join("tmp");
        tokio::fs::create_dir_all(&files).await?;
        // Nothing in tmp/ belongs to a committed file: uploads in progress
        // when the process stopped.
        if tokio::fs::try_exists(&tmp).await? {
            tokio::fs::remove_dir_all(&tmp).await?;
        }
        tokio::fs::create_dir_all(&tmp).await?;
        let secret = load_secret(&root.join("secret")).await?;
        Ok(FileStore {
            root,
            _temporary: temporary,
            secret,
            config,
            listen_origin: std::sync::OnceLock::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &StorageConfig {
        &self.config
    }

    /// The origin of upload and file URLs (no trailing slash).
    pub fn origin(&self) -> &str {
        match &self.config.origin {
            Some(origin) => origin.trim_end_matches('/'),
            None => self
                .listen_origin
                .get()
                .map_or("http://127.0.0.1:3210", String::as_str),
        }
    }

    /// Sets the origin used when none is configured: the first server
    /// serving this backend calls it with its address.
    pub(crate) fn set_listen_origin(&self, origin: String) {
        let _ = self.listen_origin.set(origin);
    }

    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }

    /// Where the bytes of the file with this id are (or would be).
    pub(crate) fn path_of(&self, id: DocumentId) -> PathBuf {
        self.files_dir().join(id.encode())
    }

    /// The directory of stored files, each named by its storage id.
    pub(crate) fn files_dir(&self) -> PathBuf {
        self.root.join("files")
    }

    /// The directory of files being written (emptied at open).
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Writes `body` to a new temporary file, hashing it as it goes, and
    /// fsyncs it. Stops (removing the file) once it grows past the limit.
    pub(crate) async fn write_temp<S, E>(
        &self,
        mut body: S,
        content_type: Option<String>,
    ) -> Result<TempFile, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let name: u128 = rand::random();
        let path = self.root.join("tmp").join(format!("{name:032x}"));
        let written = async {
            let mut file = tokio::fs::File::create(&path).await?;
            let mut digest = Sha256::new();
            let mut size: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StorageError::Interrupted(e.to_string()))?;
                size += chunk.len() as u64;
                if size > self.config.max_upload_bytes {
                    crate::http::drain(&mut body).await;
                    return Err(StorageError::TooLarge {
                        max: self.config.max_upload_bytes,
                    });
                }
                digest.update(&chunk);
                file.write_all(&chunk).await?;
            }
            file.sync_all().await?;
            Ok(StorageFile {
                sha256: STANDARD.encode(digest.finalize()),
                size: size as f64,
                content_type,
            })
        }
        .await;
        match written {
            Ok(row) => Ok(TempFile { path, row }),
            Err(error) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(error)
            }
        }
    }

    /// Moves a complete temporary file to the place of `id` and makes the
    /// rename durable.
    pub(crate) async fn install(&self, temp: &TempFile, id: DocumentId) -> std::io::Result<()> {
        tokio::fs::rename(&temp.path, self.path_of(id)).await?;
        let dir = self.root.join("files");
        tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(std::io::Error::other)?
    }

    /// Undoes [`install`](Self::install) (its transaction did not commit).
    pub(crate) async fn uninstall(&self, temp: &TempFile, id: DocumentId) {
        let _ = tokio::fs::rename(self.path_of(id), &temp.path).await;
    }

    /// Removes a temporary file that will not be installed.
    pub(crate) async fn discard(&self, temp: TempFile) {
        let _ = tokio::fs::remove_file(&temp.path).await;
    }

    /// Removes the files of deleted `_storage` rows. Failures are logged:
    /// the next open removes what is left.
    pub(crate) async fn remove(&self, ids: &[DocumentId]) {
        for id in ids {
            let path = self.path_of(*id);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("could not remove {}: {e}", path.display()),
            }
        }
    }

    /// The ids of every file on disk (names that are not ids are skipped).
    pub(crate) async fn stored_ids(&self) -> std::io::Result<Vec<(DocumentId, PathBuf)>> {
        let mut entries = tokio::fs::read_dir(self.root.join("files")).await?;
        let mut ids = Vec::new();
        while let Some(entry) = entries.next_entry().await? {
            if let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|name| DocumentId::decode(name).ok())
            {
                ids.push((id, entry.path()));
            }
        }
        Ok(ids)
    }
}

/// Reads the deployment's storage secret, creating it (owner-only) if missing.
async fn load_secret(path: &Path) -> std::io::Result<Secret> {
    match tokio::fs::read(path).await {
        Ok(bytes) if bytes.len() == 32 => {
            let mut secret = [0; 32];
            secret.copy_from_slice(&bytes);
            return Ok(secret);
        }
        Ok(_) => {
            return Err(std::io::Error::other(format!(
                "{} is not a 32-byte storage secret; delete it to make a new one \
                 (upload URLs handed out before then stop working)",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let secret: Secret = rand::random();
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path)?;
        file.write_all(&secret)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(secret)
}
