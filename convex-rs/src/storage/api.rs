//! `ctx.storage()`: upload URLs, file URLs, storing, reading and deleting
//! files from queries, mutations and actions; and the commit of an upload.

use std::ops::Deref;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use futures::future::BoxFuture;

use super::files::TempFile;
use super::token::{self, UploadToken};
use super::{BY_NONCE, STORAGE_TABLE, StorageError, StorageFile, UPLOADS_TABLE, UsedUpload};
use crate::function::{FunctionError, Runner, insert_row, system_transaction};
use crate::query::{IndexRange, Query};
use crate::storage::FileStore;
use crate::store::{Document, Transaction};
use crate::value::{DocumentId, Id, Value, from_value};

/// How many times an upload's transaction is attempted (it conflicts only
/// with a concurrent use of the same token).
const UPLOAD_TX_ATTEMPTS: u32 = 4;

/// Files a mutation deleted, removed from disk once it commits.
#[derive(Debug, Default)]
pub(crate) struct PendingDeletes(Mutex<Vec<DocumentId>>);

impl PendingDeletes {
    fn push(&self, id: DocumentId) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    /// Takes the ids (after the commit, or to forget them on a retry).
    pub(crate) fn take(&self) -> Vec<DocumentId> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A stored file's bytes and content type, from [`ActionStorage::get`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredBlob {
    /// The contents.
    pub bytes: Bytes,
    /// The `Content-Type` it was stored with, if any.
    pub content_type: Option<String>,
}

fn configured(files: Option<&FileStore>) -> Result<&FileStore, FunctionError> {
    files.ok_or_else(|| FunctionError::message(StorageError::NotConfigured.to_string()))
}

fn files(runner: &Runner) -> Result<&FileStore, FunctionError> {
    configured(runner.files())
}

fn storage_error(error: StorageError) -> FunctionError {
    FunctionError::message(error.to_string())
}

/// The `_storage` row of `id` in `tx`, if `id` is a live storage id.
async fn row_in(tx: &Transaction, id: DocumentId) -> Result<Option<StorageFile>, FunctionError> {
    if tx.store().catalog().table_name(id.table) != Some(STORAGE_TABLE) {
        return Ok(None);
    }
    match tx.get(id).await? {
        Some(doc) => Ok(Some(from_value(Value::Object(doc.fields))?)),
        None => Ok(None),
    }
}

fn url_of(files: &FileStore, id: DocumentId) -> String {
    format!("{}/api/storage/{id}", files.origin())
}

fn upload_url(runner: &Runner, files: &FileStore) -> String {
    let expires = runner.clock().now_ms() + super::UPLOAD_URL_LIFETIME_MS;
    let token = token::issue(files.secret(), expires.max(0.0) as u64);
    format!("{}/api/storage/upload?token={token}", files.origin())
}

/// Deletes the `_storage` row of `id` in `tx`; the file goes after the commit.
pub(crate) async fn delete_in_transaction(
    tx: &Transaction,
    id: DocumentId,
) -> Result<(), FunctionError> {
    if row_in(tx, id).await?.is_none() {
        return Err(FunctionError::message(format!(
            "storage id {id} does not exist (it was never stored or was deleted)"
        )));
    }
    Ok(tx.delete(id).await?)
}

/// `ctx.storage()` in a query: the URLs of stored files.
#[derive(Clone, Copy)]
pub struct StorageReader<'a> {
    pub(crate) tx: &'a Transaction,
    pub(crate) files: Option<&'a FileStore>,
}

impl StorageReader<'_> {
    /// The URL serving the file, or `None` if there is no such file. The
    /// read is part of the transaction: a query returning it is re-run
    /// when the file is deleted.
    pub async fn get_url(&self, id: Id<StorageFile>) -> Result<Option<String>, FunctionError> {
        let files = configured(self.files)?;
        Ok(row_in(self.tx, id.document_id())
            .await?
            .map(|_| url_of(files, id.document_id())))
    }

    /// The file's `_storage` row (`sha256`, `size`, `contentType`), if it exists.
    pub async fn metadata(
        &self,
        id: Id<StorageFile>,
    ) -> Result<Option<StorageFile>, FunctionError> {
        row_in(self.tx, id.document_id()).await
    }
}

/// `ctx.storage()` in a mutation: upload URLs, file URLs and deletes, as
/// part of the mutation's transaction. Derefs to [`StorageReader`].
pub struct StorageWriter<'a> {
    pub(crate) reader: StorageReader<'a>,
    pub(crate) runner: &'a Runner,
    pub(crate) deletes: &'a PendingDeletes,
}

impl<'a> Deref for StorageWriter<'a> {
    type Target = StorageReader<'a>;
    fn deref(&self) -> &StorageReader<'a> {
        &self.reader
    }
}

impl StorageWriter<'_> {
    /// A URL a client can `POST` one file to (the raw body, any content
    /// type) within an hour; it answers `{"storageId": "..."}`.
    pub async fn generate_upload_url(&self) -> Result<String, FunctionError> {
        Ok(upload_url(self.runner, files(self.runner)?))
    }

    /// Deletes the file: its `_storage` row now, its bytes once the
    /// mutation commits.
    pub async fn delete(&self, id: Id<StorageFile>) -> Result<(), FunctionError> {
        delete_in_transaction(self.tx, id.document_id()).await?;
        self.deletes.push(id.document_id());
        Ok(())
    }
}

/// `ctx.storage()` in an action: every storage operation, each committed at once.
pub struct ActionStorage<'a> {
    pub(crate) runner: &'a Runner,
}

impl ActionStorage<'_> {
    /// A URL a client can `POST` one file to within an hour.
    pub async fn generate_upload_url(&self) -> Result<String, FunctionError> {
        Ok(upload_url(self.runner, files(self.runner)?))
    }

    /// The URL serving the file (at the latest snapshot), or `None`.
    pub async fn get_url(&self, id: Id<StorageFile>) -> Result<Option<String>, FunctionError> {
        let tx = self.runner.store().begin_read();
        StorageReader {
            tx: &tx,
            files: self.runner.files(),
        }
        .get_url(id)
        .await
    }

    /// The file's `_storage` row (at the latest snapshot), if it exists.
    pub async fn metadata(
        &self,
        id: Id<StorageFile>,
    ) -> Result<Option<StorageFile>, FunctionError> {
        let tx = self.runner.store().begin_read();
        row_in(&tx, id.document_id()).await
    }

    /// Stores `bytes` as a new file and returns its id.
    pub async fn store(
        &self,
        bytes: impl Into<Bytes>,
        content_type: Option<&str>,
    ) -> Result<Id<StorageFile>, FunctionError> {
        let files = files(self.runner)?;
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(bytes.into())]);
        let temp = files
            .write_temp(body, content_type.map(str::to_string))
            .await
            .map_err(storage_error)?;
        let id = commit_upload(self.runner, temp, None)
            .await
            .map_err(storage_error)?;
        Ok(Id::new(id))
    }

    /// The file's bytes and content type, or `None` if there is no such file.
    pub async fn get(&self, id: Id<StorageFile>) -> Result<Option<StoredBlob>, FunctionError> {
        let Some(file) = open(self.runner, id.document_id())
            .await
            .map_err(storage_error)?
        else {
            return Ok(None);
        };
        match tokio::fs::read(&file.path).await {
            Ok(bytes) => Ok(Some(StoredBlob {
                bytes: bytes.into(),
                content_type: file.row.content_type,
            })),
            // Deleted between reading its row and opening it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage_error(e.into())),
        }
    }

    /// Deletes the file (its row, then its bytes).
    pub async fn delete(&self, id: Id<StorageFile>) -> Result<(), FunctionError> {
        let files = files(self.runner)?;
        let doc = id.document_id();
        system_transaction(self.runner.store(), move |tx| {
            Box::pin(delete_in_transaction(tx, doc))
        })
        .await?;
        files.remove(&[doc]).await;
        Ok(())
    }
}

/// The `_storage` row and path of a live file, at the latest snapshot.
pub(crate) async fn open(
    runner: &Runner,
    id: DocumentId,
) -> Result<Option<super::StoredFile>, StorageError> {
    let files = runner.files().ok_or(StorageError::NotConfigured)?;
    let tx = runner.store().begin_read();
    let row = row_in(&tx, id)
        .await
        .map_err(|e| StorageError::Store(e.to_string()))?;
    Ok(row.map(|row| super::StoredFile {
        row,
        path: files.path_of(id),
    }))
}

/// Checks an upload URL's token before its body is read: signed, not
/// expired and not used yet.
pub(crate) async fn check_token(runner: &Runner, token: &str) -> Result<UploadToken, StorageError> {
    let files = runner.files().ok_or(StorageError::NotConfigured)?;
    let now = runner.clock().now_ms().max(0.0) as u64;
    let token = token::verify(files.secret(), token, now)?;
    let tx = runner.store().begin_read();
    if token_used(&tx, &token.nonce)
        .await
        .map_err(|e| StorageError::Store(e.to_string()))?
    {
        return Err(StorageError::UsedToken);
    }
    Ok(token)
}

async fn token_used(tx: &Transaction, nonce: &str) -> Result<bool, FunctionError> {
    let used = Query::<Document>::new(tx, UPLOADS_TABLE)
        .with_index(BY_NONCE, IndexRange::new().eq("nonce", nonce))
        .first()
        .await?;
    Ok(used.is_some())
}

enum Attempt {
    Committed(DocumentId),
    /// The token was used by a concurrent upload that committed first.
    TokenUsed,
    Failed(FunctionError),
}

/// Records a complete temporary file: inserts its `_storage` row (and, for
/// an upload URL, the used token) and moves the file into place before the
/// commit, so a committed row always has its file. Files without a row
/// (a crash before the commit) are removed at the next open.
pub(crate) async fn commit_upload(
    runner: &Runner,
    temp: TempFile,
    token: Option<UploadToken>,
) -> Result<DocumentId, StorageError> {
    let files = runner.files().ok_or(StorageError::NotConfigured)?;
    let mut tries = 1;
    loop {
        let attempt = upload_attempt(runner, files, &temp, token.as_ref()).await;
        let error = match attempt {
            Attempt::Committed(id) => return Ok(id),
            Attempt::TokenUsed => StorageError::UsedToken,
            Attempt::Failed(error)
                if error.retry_hint().is_some() && tries < UPLOAD_TX_ATTEMPTS =>
            {
                tries += 1;
                continue;
            }
            Attempt::Failed(error) => StorageError::Store(error.to_string()),
        };
        files.discard(temp).await;
        return Err(error);
    }
}

async fn upload_attempt(
    runner: &Runner,
    files: &FileStore,
    temp: &TempFile,
    token: Option<&UploadToken>,
) -> Attempt {
    let tx = runner.store().begin();
    let inserted = async {
        if let Some(token) = token {
            if token_used(&tx, &token.nonce).await? {
                return Ok(None);
            }
            let used = UsedUpload {
                nonce: token.nonce.clone(),
                expires_at: token.expires_at_ms as f64,
            };
            insert_row(&tx, UPLOADS_TABLE, &used)?;
        }
        insert_row(&tx, STORAGE_TABLE, &temp.row).map(Some)
    }
    .await;
    let id = match inserted {
        Ok(Some(id)) => id,
        Ok(None) => return Attempt::TokenUsed,
        Err(error) => return Attempt::Failed(error),
    };
    if let Err(e) = files.install(temp, id).await {
        return Attempt::Failed(storage_error(e.into()));
    }
    match runner.store().commit(tx).await {
        Ok(_) => Attempt::Committed(id),
        Err(error) => {
            files.uninstall(temp, id).await;
            Attempt::Failed(error.into())
        }
    }
}

/// Removes what a crash left behind: files whose `_storage` row does not
/// exist (an upload that did not commit, a delete whose file was not
/// removed yet), and used-token rows past their expiry.
pub(crate) async fn sweep(runner: &Runner) -> Result<usize, StorageError> {
    let files = runner.files().ok_or(StorageError::NotConfigured)?;
    let tx = runner.store().begin_read();
    let mut orphans = Vec::new();
    for (id, _) in files.stored_ids().await? {
        let live = row_in(&tx, id)
            .await
            .map_err(|e| StorageError::Store(e.to_string()))?;
        if live.is_none() {
            orphans.push(id);
        }
    }
    files.remove(&orphans).await;
    let now = runner.clock().now_ms();
    system_transaction(runner.store(), move |tx| {
        Box::pin(purge_expired_tokens(tx, now))
    })
    .await
    .map_err(|e| StorageError::Store(e.to_string()))?;
    Ok(orphans.len())
}

fn purge_expired_tokens(tx: &Transaction, now: f64) -> BoxFuture<'_, Result<(), FunctionError>> {
    Box::pin(async move {
        let rows = Query::<Document>::new(tx, UPLOADS_TABLE).collect().await?;
        for row in rows {
            let used: UsedUpload = from_value(Value::Object(row.fields))?;
            if used.expires_at <= now {
                tx.delete(row.id).await?;
            }
        }
        Ok(())
    })
}
