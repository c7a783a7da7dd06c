//! Writing a snapshot: every table read at one timestamp, streamed to a
//! ZIP writer on a blocking thread.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value as Json, json};
use tokio::sync::mpsc;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use super::SnapshotError;
use super::context::Hint;
use super::layout;
use crate::schema::Schema;
use crate::storage::STORAGE_TABLE;
use crate::store::{
    Catalog, Document, LiveDocuments, Persistence, PostgresConfig, TableMeta,
    postgres::PostgresPersistence, sqlite::SqlitePersistence,
};
use crate::value::Value;

/// Bytes of JSON lines buffered before they go to the ZIP writer.
const CHUNK: usize = 256 << 10;

/// What an export wrote.
#[derive(Clone, Debug, Default)]
pub struct ExportSummary {
    /// The commit timestamp the snapshot is of (nanoseconds since the epoch).
    pub ts: u64,
    /// Each exported table with its number of documents, in table order.
    pub tables: Vec<(String, usize)>,
    /// Stored files written.
    pub files: usize,
    /// The size of the ZIP file in bytes.
    pub bytes: u64,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let documents: usize = self.tables.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{documents} documents in {} tables and {} stored files as of timestamp {} ({} bytes)",
            self.tables.len(),
            self.files,
            self.ts,
            self.bytes
        )
    }
}

/// What to export: the store's persistence and catalog at one timestamp.
pub(super) struct Source<'a> {
    pub(super) persistence: &'a dyn Persistence,
    pub(super) catalog: &'a Catalog,
    pub(super) ts: u64,
    /// The directory of stored files (`None`: the backend has none).
    pub(super) files_dir: Option<PathBuf>,
}

/// Exports the database of a deployment that may be serving: SQLite at
/// `sqlite` (or PostgreSQL when `postgres` is set) is opened read-only, so
/// the running server keeps its writer role (and, on PostgreSQL, its
/// lease); the snapshot is of the last commit when the export starts.
/// `schema` is the app's (with its system tables), `files_dir` the
/// directory of stored files.
pub async fn export_database(
    sqlite: &Path,
    postgres: Option<PostgresConfig>,
    schema: &Schema,
    files_dir: Option<PathBuf>,
    out: &Path,
) -> Result<ExportSummary, SnapshotError> {
    let persistence: Arc<dyn Persistence> = match postgres {
        Some(config) => Arc::new(PostgresPersistence::open_read_only(config).await?),
        None => Arc::new(SqlitePersistence::open_read_only(sqlite).await?),
    };
    let result = async {
        let (catalog, max_ts) = persistence.sync_catalog(schema).await?;
        let source = Source {
            persistence: persistence.as_ref(),
            catalog: &catalog,
            ts: max_ts,
            files_dir,
        };
        export(source, out).await
    }
    .await;
    persistence.close().await;
    result
}

/// Writes the snapshot of `source` to `out`.
pub(super) async fn export(source: Source<'_>, out: &Path) -> Result<ExportSummary, SnapshotError> {
    let mut zip = ZipSink::create(out);
    let mut summary = ExportSummary {
        ts: source.ts,
        ..ExportSummary::default()
    };
    zip.start(layout::README_PATH).await?;
    zip.write(layout::README.as_bytes().to_vec()).await?;
    let mut tables: Vec<&TableMeta> = source
        .catalog
        .tables()
        .iter()
        .filter(|t| !t.name.starts_with('_'))
        .collect();
    tables.sort_by_key(|t| t.number);
    zip.start(layout::TABLES).await?;
    let mut lines = Vec::new();
    for table in &tables {
        json_line(
            &mut lines,
            &json!({ "name": table.name, "id": table.number.0 }),
        );
    }
    zip.write(lines).await?;
    for table in &tables {
        let count = export_table(&source, table, &mut zip).await?;
        summary.tables.push((table.name.clone(), count));
    }
    if let Some(storage) = source.catalog.table(STORAGE_TABLE) {
        summary.files = export_storage(&source, storage, &mut zip).await?;
    }
    summary.bytes = zip.finish().await?;
    Ok(summary)
}

/// Calls `visit` with every live document of `table` at the snapshot,
/// oldest first, a page at a time.
async fn for_each_page(
    source: &Source<'_>,
    table: &TableMeta,
    mut visit: impl AsyncPageVisitor,
) -> Result<(), SnapshotError> {
    let mut pages = LiveDocuments::of(source.catalog, source.persistence, table, source.ts)?;
    while let Some(page) = pages.next_page().await? {
        visit
            .visit(page.into_iter().map(|e| e.document).collect())
            .await?;
    }
    Ok(())
}

/// Receives the pages of [`for_each_page`].
trait AsyncPageVisitor {
    async fn visit(&mut self, page: Vec<Document>) -> Result<(), SnapshotError>;
}

/// Writes a user table's documents and hints.
struct TableWriter<'z> {
    zip: &'z mut ZipSink,
    buffer: Vec<u8>,
    hints: Vec<u8>,
    count: usize,
}

impl AsyncPageVisitor for &mut TableWriter<'_> {
    async fn visit(&mut self, page: Vec<Document>) -> Result<(), SnapshotError> {
        for doc in page {
            let hint = Hint::of_fields(&doc.fields);
            if hint != Hint::Infer {
                let mut line = serde_json::Map::new();
                line.insert(doc.id.encode(), hint.to_json());
                json_line(&mut self.hints, &Json::Object(line));
            }
            json_line(&mut self.buffer, &doc.into_value().to_clean_json());
            self.count += 1;
        }
        if self.buffer.len() >= CHUNK {
            self.zip.write(std::mem::take(&mut self.buffer)).await?;
        }
        Ok(())
    }
}

async fn export_table(
    source: &Source<'_>,
    table: &TableMeta,
    zip: &mut ZipSink,
) -> Result<usize, SnapshotError> {
    zip.start(&layout::documents(&table.name)).await?;
    let mut writer = TableWriter {
        zip,
        buffer: Vec::new(),
        hints: Vec::new(),
        count: 0,
    };
    for_each_page(source, table, &mut writer).await?;
    let TableWriter {
        zip,
        buffer,
        hints,
        count,
    } = writer;
    zip.write(buffer).await?;
    zip.start(&layout::generated_schema(&table.name)).await?;
    let mut schema = Vec::new();
    json_line(&mut schema, &Json::String(layout::UNKNOWN_SHAPE.into()));
    schema.extend(hints);
    zip.write(schema).await?;
    Ok(count)
}

/// The `_storage` rows of one page, for the files written after them.
struct StorageRows {
    lines: Vec<u8>,
    files: Vec<(String, Option<String>)>,
}

impl AsyncPageVisitor for &mut StorageRows {
    async fn visit(&mut self, page: Vec<Document>) -> Result<(), SnapshotError> {
        for doc in page {
            let id = doc.id.encode();
            let content_type = match doc.fields.get("contentType") {
                Some(Value::String(t)) => Some(t.clone()),
                _ => None,
            };
            let mut row = BTreeMap::from([
                ("_id".to_string(), json!(id)),
                ("_creationTime".to_string(), json!(doc.creation_time)),
            ]);
            if let Some(Value::String(sha)) = doc.fields.get("sha256") {
                row.insert("sha256".into(), json!(sha));
            }
            if let Some(Value::Float64(size)) = doc.fields.get("size") {
                // Convex reads the size as an integer.
                row.insert("size".into(), json!(*size as u64));
            }
            if let Some(t) = &content_type {
                row.insert("contentType".into(), json!(t));
            }
            json_line(&mut self.lines, &json!(row));
            self.files.push((id, content_type));
        }
        Ok(())
    }
}

async fn export_storage(
    source: &Source<'_>,
    table: &TableMeta,
    zip: &mut ZipSink,
) -> Result<usize, SnapshotError> {
    let mut rows = StorageRows {
        lines: Vec::new(),
        files: Vec::new(),
    };
    for_each_page(source, table, &mut rows).await?;
    zip.start(layout::STORAGE_DOCUMENTS).await?;
    zip.write(rows.lines).await?;
    if !rows.files.is_empty() {
        let Some(dir) = &source.files_dir else {
            return Err(SnapshotError::FileMissing {
                id: rows.files[0].0.clone(),
                where_: "this backend has no file storage directory".into(),
            });
        };
        for (id, content_type) in &rows.files {
            zip.copy_file(
                layout::storage_file(id, content_type.as_deref()),
                dir.join(id),
                id.clone(),
            )
            .await?;
        }
    }
    Ok(rows.files.len())
}

/// Appends `value` and a newline.
fn json_line(out: &mut Vec<u8>, value: &Json) {
    // Serializing a `serde_json::Value` into memory cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.push(b'\n');
}

/// What the ZIP writer thread is asked to do.
enum ZipMessage {
    /// Begin a new entry.
    Start(String),
    /// Append to the current entry.
    Data(Vec<u8>),
    /// Add the file at `path` as entry `name` (the stored file `id`).
    File {
        name: String,
        path: PathBuf,
        id: String,
    },
    /// Finish the archive and rename it into place.
    Finish,
}

/// The ZIP writer: a blocking thread fed over a bounded channel, so the
/// store reads and the compression overlap and neither blocks the runtime.
struct ZipSink {
    sender: mpsc::Sender<ZipMessage>,
    task: Option<tokio::task::JoinHandle<Result<u64, SnapshotError>>>,
}

impl ZipSink {
    fn create(out: &Path) -> ZipSink {
        let (sender, receiver) = mpsc::channel(16);
        let out = out.to_path_buf();
        let task = tokio::task::spawn_blocking(move || write_zip(&out, receiver));
        ZipSink {
            sender,
            task: Some(task),
        }
    }

    async fn send(&mut self, message: ZipMessage) -> Result<(), SnapshotError> {
        if self.sender.send(message).await.is_ok() {
            return Ok(());
        }
        // The writer stopped: its error says why.
        match self.task.take() {
            Some(task) => match task.await {
                Ok(Err(e)) => Err(e),
                Ok(Ok(_)) | Err(_) => Err(SnapshotError::Write {
                    path: PathBuf::new(),
                    message: "the ZIP writer stopped".into(),
                }),
            },
            None => Err(SnapshotError::Write {
                path: PathBuf::new(),
                message: "the ZIP writer stopped".into(),
            }),
        }
    }

    async fn start(&mut self, name: &str) -> Result<(), SnapshotError> {
        self.send(ZipMessage::Start(name.to_string())).await
    }

    async fn write(&mut self, data: Vec<u8>) -> Result<(), SnapshotError> {
        if data.is_empty() {
            return Ok(());
        }
        self.send(ZipMessage::Data(data)).await
    }

    async fn copy_file(
        &mut self,
        name: String,
        path: PathBuf,
        id: String,
    ) -> Result<(), SnapshotError> {
        self.send(ZipMessage::File { name, path, id }).await
    }

    /// Completes the archive; returns its size.
    async fn finish(mut self) -> Result<u64, SnapshotError> {
        self.send(ZipMessage::Finish).await?;
        drop(self.sender);
        match self.task.take() {
            Some(task) => task.await.map_err(|e| SnapshotError::Write {
                path: PathBuf::new(),
                message: format!("the ZIP writer panicked: {e}"),
            })?,
            None => Err(SnapshotError::Write {
                path: PathBuf::new(),
                message: "the ZIP writer stopped".into(),
            }),
        }
    }
}

/// The writer thread: builds `out.partial`, and renames it to `out` only
/// after [`ZipMessage::Finish`] (an export that fails or is dropped leaves
/// no file that looks complete).
fn write_zip(out: &Path, mut receiver: mpsc::Receiver<ZipMessage>) -> Result<u64, SnapshotError> {
    let mut partial = out.as_os_str().to_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = write_entries(&partial, out, &mut receiver);
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn write_entries(
    partial: &Path,
    out: &Path,
    receiver: &mut mpsc::Receiver<ZipMessage>,
) -> Result<u64, SnapshotError> {
    let fail = |e: &dyn std::fmt::Display| SnapshotError::write(out, e);
    let file = std::fs::File::create(partial).map_err(|e| fail(&e))?;
    let mut zip = ZipWriter::new(std::io::BufWriter::with_capacity(1 << 20, file));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    loop {
        match receiver.blocking_recv() {
            Some(ZipMessage::Start(name)) => zip
                .start_file(name, options.large_file(true))
                .map_err(|e| fail(&e))?,
            Some(ZipMessage::Data(data)) => zip.write_all(&data).map_err(|e| fail(&e))?,
            Some(ZipMessage::File { name, path, id }) => {
                let mut file = match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                        return Err(SnapshotError::FileMissing {
                            id,
                            where_: path.display().to_string(),
                        });
                    }
                    Err(e) => return Err(fail(&format!("{}: {e}", path.display()))),
                };
                zip.start_file(name, options.large_file(true))
                    .map_err(|e| fail(&e))?;
                std::io::copy(&mut file, &mut zip).map_err(|e| fail(&e))?;
            }
            Some(ZipMessage::Finish) => break,
            None => return Err(fail(&"the export stopped before it was complete")),
        }
    }
    let writer = zip.finish().map_err(|e| fail(&e))?;
    let file = writer.into_inner().map_err(|e| fail(&e.error()))?;
    file.sync_all().map_err(|e| fail(&e))?;
    let bytes = file.metadata().map_err(|e| fail(&e))?.len();
    std::fs::rename(partial, out).map_err(|e| fail(&e))?;
    Ok(bytes)
}
