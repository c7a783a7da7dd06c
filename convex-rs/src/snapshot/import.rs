//! Loading a snapshot: checks first (tables, numbers, existing documents),
//! then each table's documents in batches of ordinary commits, then the
//! stored files.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::ZipArchive;
use zip::result::ZipError;

use super::SnapshotError;
use super::context::{Hint, decode_fields};
use super::layout;
use crate::app::Backend;
use crate::schema::Validator;
use crate::storage::STORAGE_TABLE;
use crate::store::{
    Catalog, Document, KeyInterval, Order, Store, StoreError, TableMeta, Transaction,
};
use crate::value::{DocumentId, Value};

/// Documents per import commit, at most.
const BATCH_DOCUMENTS: usize = 1000;
/// Bytes per import commit, about (the store's limit is 16 MiB).
const BATCH_BYTES: usize = 4 << 20;
/// Lines sent from the reading thread at a time.
const LINES_PER_CHUNK: usize = 512;

/// How to import.
#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    /// Delete the documents (and stored files) of every table in the
    /// snapshot before loading it. Without it, an import into tables that
    /// have documents is refused. Tables not in the snapshot are untouched.
    pub replace: bool,
}

/// What an import loaded.
#[derive(Clone, Debug, Default)]
pub struct ImportSummary {
    /// Each imported table with its number of documents.
    pub tables: Vec<(String, usize)>,
    /// Stored files restored.
    pub files: usize,
    /// Tables whose earlier documents were deleted (`--replace`).
    pub replaced: Vec<String>,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let documents: usize = self.tables.iter().map(|(_, n)| n).sum();
        write!(
            f,
            "{documents} documents in {} tables and {} stored files",
            self.tables.len(),
            self.files
        )?;
        if !self.replaced.is_empty() {
            write!(f, " (replaced {})", self.replaced.join(", "))?;
        }
        Ok(())
    }
}

/// The parts of the archive read before anything is written.
struct Manifest {
    entries: Vec<String>,
    /// `_tables/documents.jsonl`: names and numbers.
    tables: Vec<(String, u32)>,
    /// `_storage/documents.jsonl`, if present: its lines.
    storage: Option<Vec<(usize, String)>>,
}

pub(super) async fn import(
    backend: &Backend,
    path: &Path,
    options: ImportOptions,
) -> Result<ImportSummary, SnapshotError> {
    let store = backend.store();
    let catalog = store.catalog().clone();
    let manifest = blocking({
        let path = path.to_path_buf();
        move || read_manifest(&path)
    })
    .await?;
    let targets = check(&catalog, &manifest)?;
    let mut summary = ImportSummary::default();

    // Tables that already have documents: refused, or emptied.
    let mut occupied = Vec::new();
    for table in &targets {
        if has_documents(store, &catalog, table).await? {
            occupied.push(table.name.clone());
        }
    }
    if !occupied.is_empty() {
        if !options.replace {
            return Err(SnapshotError::NotEmpty(occupied));
        }
        for table in targets.iter().filter(|t| occupied.contains(&t.name)) {
            clear_table(backend, &catalog, table).await?;
        }
        summary.replaced = occupied;
    }

    for (name, _) in &manifest.tables {
        let table = catalog
            .table(name)
            .ok_or_else(|| SnapshotError::UnknownTables(vec![name.clone()]))?;
        let count = import_table(store, &catalog, table, path).await?;
        summary.tables.push((name.clone(), count));
    }
    if let Some(lines) = manifest.storage {
        let table = catalog
            .table(STORAGE_TABLE)
            .ok_or_else(|| StoreError::UnknownTable(STORAGE_TABLE.into()))?;
        summary.files = import_storage(backend, table, path, &manifest.entries, lines).await?;
    }
    Ok(summary)
}

/// Runs blocking archive work off the runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SnapshotError> + Send + 'static,
) -> Result<T, SnapshotError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| SnapshotError::Read {
            path: PathBuf::new(),
            message: format!("the reading thread failed: {e}"),
        })?
}

fn open_archive(path: &Path) -> Result<ZipArchive<BufReader<File>>, SnapshotError> {
    let file = File::open(path).map_err(|e| SnapshotError::read(path, e))?;
    ZipArchive::new(BufReader::new(file))
        .map_err(|e| SnapshotError::read(path, format!("not a valid ZIP file ({e})")))
}

/// The lines of `entry`, or `None` when the archive has no such entry.
fn read_lines(
    archive: &mut ZipArchive<BufReader<File>>,
    path: &Path,
    entry: &str,
) -> Result<Option<Vec<(usize, String)>>, SnapshotError> {
    let file = match archive.by_name(entry) {
        Ok(file) => file,
        Err(ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(SnapshotError::read(path, format!("{entry}: {e}"))),
    };
    let mut lines = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| line_error(path, entry, i + 1, &e))?;
        lines.push((i + 1, line));
    }
    Ok(Some(lines))
}

/// A read error on a line: bad UTF-8 is the line's fault, anything else
/// (a damaged entry) the archive's.
fn line_error(path: &Path, entry: &str, line: usize, error: &std::io::Error) -> SnapshotError {
    if error.kind() == std::io::ErrorKind::InvalidData && error.to_string().contains("UTF-8") {
        SnapshotError::BadLine {
            entry: entry.to_string(),
            line,
            message: "not valid UTF-8".into(),
        }
    } else {
        SnapshotError::read(path, format!("{entry}: {error}"))
    }
}

fn bad_line(entry: &str, line: usize, message: impl Into<String>) -> SnapshotError {
    SnapshotError::BadLine {
        entry: entry.to_string(),
        line,
        message: message.into(),
    }
}

fn read_manifest(path: &Path) -> Result<Manifest, SnapshotError> {
    let mut archive = open_archive(path)?;
    let entries: Vec<String> = archive
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| SnapshotError::read(path, format!("a damaged entry name ({e})")))?;
    let lines = read_lines(&mut archive, path, layout::TABLES)?.ok_or_else(|| {
        SnapshotError::MissingEntry {
            entry: layout::TABLES.into(),
        }
    })?;
    let mut tables = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| bad_line(layout::TABLES, line, format!("not JSON: {e}")))?;
        let (Some(name), Some(id)) = (
            json.get("name").and_then(Json::as_str),
            json.get("id").and_then(Json::as_u64),
        ) else {
            return Err(bad_line(
                layout::TABLES,
                line,
                "expected {\"name\": <table>, \"id\": <table number>}",
            ));
        };
        let id = u32::try_from(id).map_err(|_| {
            bad_line(
                layout::TABLES,
                line,
                format!("table number {id} is too large"),
            )
        })?;
        tables.push((name.to_string(), id));
    }
    let storage = read_lines(&mut archive, path, layout::STORAGE_DOCUMENTS)?;
    Ok(Manifest {
        entries,
        tables,
        storage,
    })
}

/// Checks the snapshot against the deployment; returns the tables it loads
/// (its user tables, and `_storage` if it has stored files).
fn check<'c>(
    catalog: &'c Catalog,
    manifest: &Manifest,
) -> Result<Vec<&'c TableMeta>, SnapshotError> {
    if manifest
        .entries
        .iter()
        .any(|e| e.starts_with(layout::COMPONENTS_DIR))
    {
        return Err(SnapshotError::Unsupported(
            "it has components (_components/...), which convex-rs does not have".into(),
        ));
    }
    let listed: Vec<&str> = manifest.tables.iter().map(|(n, _)| n.as_str()).collect();
    for entry in &manifest.entries {
        if let Some(folder) = entry.strip_suffix("/documents.jsonl")
            && !folder.starts_with('_')
            && !listed.contains(&folder)
        {
            return Err(SnapshotError::Unsupported(format!(
                "{entry} is not listed in {}",
                layout::TABLES
            )));
        }
    }
    let unknown: Vec<String> = manifest
        .tables
        .iter()
        .filter(|(name, _)| name.starts_with('_') || catalog.table(name).is_none())
        .map(|(name, _)| name.clone())
        .collect();
    if !unknown.is_empty() {
        return Err(SnapshotError::UnknownTables(unknown));
    }
    let mut targets = Vec::new();
    for (name, number) in &manifest.tables {
        let Some(table) = catalog.table(name) else {
            continue;
        };
        if table.number.0 != *number {
            return Err(SnapshotError::TableNumber {
                table: name.clone(),
                snapshot: *number,
                here: table.number.0,
            });
        }
        targets.push(table);
    }
    if manifest.storage.is_some()
        && let Some(storage) = catalog.table(STORAGE_TABLE)
    {
        targets.push(storage);
    }
    Ok(targets)
}

fn by_creation_time<'c>(
    catalog: &'c Catalog,
    table: &TableMeta,
) -> Result<&'c crate::store::IndexMeta, StoreError> {
    catalog.index(table.by_creation_time).ok_or_else(|| {
        StoreError::Catalog(format!(
            "table {} has no by_creation_time index",
            table.name
        ))
    })
}

async fn has_documents(
    store: &Store,
    catalog: &Catalog,
    table: &TableMeta,
) -> Result<bool, SnapshotError> {
    let index = by_creation_time(catalog, table)?;
    let first = store
        .persistence()
        .scan(index, &KeyInterval::all(), store.latest_ts(), Order::Asc, 1)
        .await?;
    Ok(!first.is_empty())
}

/// Deletes every document of `table` (and, for `_storage`, the files),
/// a batch per commit.
async fn clear_table(
    backend: &Backend,
    catalog: &Catalog,
    table: &TableMeta,
) -> Result<(), SnapshotError> {
    let store = backend.store();
    let index = by_creation_time(catalog, table)?;
    loop {
        let tx = store.begin();
        let mut ids = Vec::new();
        {
            let mut scan = tx.scan(index, KeyInterval::all(), Order::Asc, BATCH_DOCUMENTS);
            while ids.len() < BATCH_DOCUMENTS {
                match scan.next().await? {
                    Some(doc) => ids.push(doc.id),
                    None => break,
                }
            }
        }
        if ids.is_empty() {
            return Ok(());
        }
        for id in &ids {
            tx.delete(*id).await?;
        }
        store.commit(tx).await?;
        if table.name == STORAGE_TABLE
            && let Some(files) = backend.runner().files()
        {
            files.remove(&ids).await;
        }
    }
}

/// The transaction being filled with imported documents.
struct Batch<'s> {
    store: &'s Store,
    tx: Option<Transaction>,
    documents: usize,
    bytes: usize,
}

impl<'s> Batch<'s> {
    fn new(store: &'s Store) -> Self {
        Batch {
            store,
            tx: None,
            documents: 0,
            bytes: 0,
        }
    }

    /// Adds `doc` (from `entry` line `line`), committing first when the
    /// batch is full.
    async fn add(&mut self, doc: Document, entry: &str, line: usize) -> Result<(), SnapshotError> {
        let size = doc.size();
        if self.documents >= BATCH_DOCUMENTS || self.bytes + size > BATCH_BYTES {
            self.flush().await?;
        }
        let tx = self.tx.get_or_insert_with(|| self.store.begin());
        tx.insert_with_id(doc).await.map_err(|e| match e {
            StoreError::AlreadyExists(id) => bad_line(
                entry,
                line,
                format!("document {id} is in the snapshot twice"),
            ),
            other => bad_line(entry, line, other.to_string()),
        })?;
        self.documents += 1;
        self.bytes += size;
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), SnapshotError> {
        if let Some(tx) = self.tx.take() {
            self.store.commit(tx).await?;
        }
        self.documents = 0;
        self.bytes = 0;
        Ok(())
    }
}

/// Reads the per-document export contexts of `table`'s `generated_schema.jsonl`.
fn read_hints(path: &Path, table: &str) -> Result<HashMap<String, Hint>, SnapshotError> {
    let entry = layout::generated_schema(table);
    let mut archive = open_archive(path)?;
    let Some(lines) = read_lines(&mut archive, path, &entry)? else {
        return Ok(HashMap::new());
    };
    let mut hints = HashMap::new();
    // The first line is the table's shape; the app's schema stands in for it.
    for (line, text) in lines.into_iter().skip(1) {
        if text.trim().is_empty() {
            continue;
        }
        let json: Json = serde_json::from_str(&text)
            .map_err(|e| bad_line(&entry, line, format!("not JSON: {e}")))?;
        let Json::Object(map) = json else {
            return Err(bad_line(
                &entry,
                line,
                "expected {\"<_id>\": <export context>}",
            ));
        };
        for (id, hint) in map {
            let hint = Hint::from_json(&hint).map_err(|e| bad_line(&entry, line, e))?;
            hints.insert(id, hint);
        }
    }
    Ok(hints)
}

/// Streams the lines of `entry` from a blocking thread.
fn stream_lines(
    path: &Path,
    entry: String,
) -> mpsc::Receiver<Result<Vec<(usize, String)>, SnapshotError>> {
    let (sender, receiver) = mpsc::channel(4);
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let read = || -> Result<(), SnapshotError> {
            let mut archive = open_archive(&path)?;
            let file = match archive.by_name(&entry) {
                Ok(file) => file,
                Err(ZipError::FileNotFound) => return Ok(()),
                Err(e) => return Err(SnapshotError::read(&path, format!("{entry}: {e}"))),
            };
            let mut chunk = Vec::with_capacity(LINES_PER_CHUNK);
            for (i, line) in BufReader::new(file).lines().enumerate() {
                let line = line.map_err(|e| line_error(&path, &entry, i + 1, &e))?;
                chunk.push((i + 1, line));
                if chunk.len() == LINES_PER_CHUNK
                    && sender
                        .blocking_send(Ok(std::mem::take(&mut chunk)))
                        .is_err()
                {
                    return Ok(()); // the import stopped
                }
            }
            if !chunk.is_empty() {
                let _ = sender.blocking_send(Ok(chunk));
            }
            Ok(())
        };
        if let Err(e) = read() {
            let _ = sender.blocking_send(Err(e));
        }
    });
    receiver
}

/// Parses one line of a table's `documents.jsonl`.
fn parse_document(
    text: &str,
    table: &TableMeta,
    catalog: &Catalog,
    hints: &mut HashMap<String, Hint>,
) -> Result<Document, String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Json::Object(mut map) = json else {
        return Err("a document must be a JSON object".into());
    };
    let id_text = match map.remove("_id") {
        Some(Json::String(id)) => id,
        _ => return Err("the document has no _id string".into()),
    };
    let id = DocumentId::decode(&id_text)
        .map_err(|e| format!("_id {id_text:?} is not a document id: {e}"))?;
    if id.table != table.number {
        return Err(format!(
            "_id {id_text} is an id of table number {}, not of {} (number {})",
            id.table.0, table.name, table.number.0
        ));
    }
    let creation_time = match map.remove("_creationTime") {
        Some(Json::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        _ => return Err("the document has no _creationTime number".into()),
    };
    if !creation_time.is_finite() || creation_time < 0.0 {
        return Err(format!("_creationTime {creation_time} is not a time"));
    }
    let hint = hints.remove(&id_text).unwrap_or(Hint::Infer);
    let shape: Vec<&Validator> = table.definition.document.iter().collect();
    let fields = decode_fields(map, hint, &shape)?;
    if let Some(validator) = &table.definition.document {
        let result = match validator {
            Validator::Object(object) => object.validate_fields(&fields, catalog),
            other => other.validate(&Value::Object(fields.clone()), catalog),
        };
        result.map_err(|e| format!("does not match the schema: {}", e.in_table(&table.name)))?;
    }
    Ok(Document {
        id,
        creation_time,
        fields,
    })
}

async fn import_table(
    store: &Store,
    catalog: &Catalog,
    table: &TableMeta,
    path: &Path,
) -> Result<usize, SnapshotError> {
    let mut hints = blocking({
        let path = path.to_path_buf();
        let name = table.name.clone();
        move || read_hints(&path, &name)
    })
    .await?;
    let entry = layout::documents(&table.name);
    let mut lines = stream_lines(path, entry.clone());
    let mut batch = Batch::new(store);
    let mut count = 0;
    while let Some(chunk) = lines.recv().await {
        for (line, text) in chunk? {
            if text.trim().is_empty() {
                continue;
            }
            let doc = parse_document(&text, table, catalog, &mut hints)
                .map_err(|e| bad_line(&entry, line, e))?;
            batch.add(doc, &entry, line).await?;
            count += 1;
        }
    }
    batch.flush().await?;
    Ok(count)
}

/// One stored file to restore.
struct FileToRestore {
    line: usize,
    doc: Document,
    entry: String,
    sha256: String,
    size: u64,
}

/// Parses a line of `_storage/documents.jsonl` (Convex's file metadata).
fn parse_storage_row(text: &str, table: &TableMeta) -> Result<(Document, String, u64), String> {
    let json: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let id_text = json
        .get("_id")
        .and_then(Json::as_str)
        .ok_or("the row has no _id string")?;
    let id = DocumentId::decode(id_text)
        .map_err(|e| format!("_id {id_text:?} is not a storage id: {e}"))?;
    if id.table != table.number {
        return Err(format!(
            "_id {id_text} is an id of table number {}, not of _storage (number {}); \
             files from another deployment kind cannot keep their ids",
            id.table.0, table.number.0
        ));
    }
    let creation_time = json
        .get("_creationTime")
        .and_then(Json::as_f64)
        .ok_or("the row has no _creationTime number")?;
    let sha256 = json
        .get("sha256")
        .and_then(Json::as_str)
        .ok_or("the row has no sha256")?
        .to_string();
    let size = json
        .get("size")
        .and_then(Json::as_f64)
        .filter(|s| *s >= 0.0 && s.fract() == 0.0)
        .ok_or("the row has no size in bytes")?;
    let mut fields = BTreeMap::from([
        ("sha256".to_string(), Value::String(sha256.clone())),
        ("size".to_string(), Value::Float64(size)),
    ]);
    if let Some(content_type) = json.get("contentType").and_then(Json::as_str) {
        fields.insert(
            "contentType".to_string(),
            Value::String(content_type.to_string()),
        );
    }
    Ok((
        Document {
            id,
            creation_time,
            fields,
        },
        sha256,
        size as u64,
    ))
}

async fn import_storage(
    backend: &Backend,
    table: &TableMeta,
    path: &Path,
    entries: &[String],
    lines: Vec<(usize, String)>,
) -> Result<usize, SnapshotError> {
    let entry_of: HashMap<&str, &str> = entries
        .iter()
        .filter_map(|e| layout::storage_id_of(e).map(|id| (id, e.as_str())))
        .collect();
    let mut files = Vec::new();
    for (line, text) in lines {
        if text.trim().is_empty() {
            continue;
        }
        let (doc, sha256, size) = parse_storage_row(&text, table)
            .map_err(|e| bad_line(layout::STORAGE_DOCUMENTS, line, e))?;
        let id = doc.id.encode();
        let entry = entry_of
            .get(id.as_str())
            .ok_or_else(|| SnapshotError::FileMissing {
                id: id.clone(),
                where_: format!("the snapshot has no {}{id} entry", layout::STORAGE_DIR),
            })?
            .to_string();
        files.push(FileToRestore {
            line,
            doc,
            entry,
            sha256,
            size,
        });
    }
    if files.is_empty() {
        return Ok(0);
    }
    let store_files = backend
        .runner()
        .files()
        .ok_or(SnapshotError::NoFileStorage)?;
    let (files_dir, tmp_dir) = (store_files.files_dir(), store_files.tmp_dir());
    let files = blocking({
        let path = path.to_path_buf();
        move || {
            restore_files(&path, &files, &files_dir, &tmp_dir)?;
            Ok(files)
        }
    })
    .await?;
    let count = files.len();
    let mut batch = Batch::new(backend.store());
    for file in files {
        batch
            .add(file.doc, layout::STORAGE_DOCUMENTS, file.line)
            .await?;
    }
    batch.flush().await?;
    Ok(count)
}

/// Copies each file out of the archive into `files_dir` under its id
/// (through `tmp_dir`, checking size and digest, fsynced), before the rows
/// commit: a row never lacks its file, and files whose rows never commit
/// are removed at the next open.
fn restore_files(
    path: &Path,
    files: &[FileToRestore],
    files_dir: &Path,
    tmp_dir: &Path,
) -> Result<(), SnapshotError> {
    let mut archive = open_archive(path)?;
    let io = |e: std::io::Error| SnapshotError::Write {
        path: files_dir.to_path_buf(),
        message: e.to_string(),
    };
    for file in files {
        let id = file.doc.id.encode();
        let mut source = archive
            .by_name(&file.entry)
            .map_err(|e| SnapshotError::read(path, format!("{}: {e}", file.entry)))?;
        let temporary = tmp_dir.join(format!("import-{id}"));
        let mut out = File::create(&temporary).map_err(io)?;
        let mut digest = Sha256::new();
        let mut size: u64 = 0;
        let mut buffer = vec![0u8; 256 << 10];
        loop {
            let n = source
                .read(&mut buffer)
                .map_err(|e| SnapshotError::read(path, format!("{}: {e}", file.entry)))?;
            if n == 0 {
                break;
            }
            digest.update(&buffer[..n]);
            out.write_all(&buffer[..n]).map_err(io)?;
            size += n as u64;
        }
        let sha256 = STANDARD.encode(digest.finalize());
        if sha256 != file.sha256 || size != file.size {
            let _ = std::fs::remove_file(&temporary);
            return Err(SnapshotError::FileMismatch {
                id,
                message: format!(
                    "the bytes in {} are {size} bytes with sha256 {sha256}, but its row says {} bytes with sha256 {}",
                    file.entry, file.size, file.sha256
                ),
            });
        }
        out.sync_all().map_err(io)?;
        std::fs::rename(&temporary, files_dir.join(&id)).map_err(io)?;
    }
    File::open(files_dir)
        .and_then(|dir| dir.sync_all())
        .map_err(io)
}
