//! The paths inside a snapshot ZIP (Convex's layout).
//!
//! ```text
//! README.md
//! _tables/documents.jsonl            {"name": "messages", "id": 10001} per user table
//! <table>/documents.jsonl            one document per line (clean JSON, with _id and _creationTime)
//! <table>/generated_schema.jsonl     "unknown", then {"<_id>": <export context>} per document that needs one
//! _storage/documents.jsonl           {"_id", "_creationTime", "sha256", "size", "contentType"} per stored file
//! _storage/<_id><.ext>               each stored file's bytes (the extension from its content type, if known)
//! ```

/// The README at the top.
pub(super) const README_PATH: &str = "README.md";
/// The list of tables.
pub(super) const TABLES: &str = "_tables/documents.jsonl";
/// The stored files' metadata.
pub(super) const STORAGE_DOCUMENTS: &str = "_storage/documents.jsonl";
/// The folder of stored files' bytes.
pub(super) const STORAGE_DIR: &str = "_storage/";
/// Components (Convex only): refused on import.
pub(super) const COMPONENTS_DIR: &str = "_components/";
/// The shape written on the first line of `generated_schema.jsonl`: every
/// string is ambiguous, so each document that needs a hint carries one.
pub(super) const UNKNOWN_SHAPE: &str = "unknown";

/// A table's documents.
pub(super) fn documents(table: &str) -> String {
    format!("{table}/documents.jsonl")
}

/// A table's shape and per-document export contexts.
pub(super) fn generated_schema(table: &str) -> String {
    format!("{table}/generated_schema.jsonl")
}

/// The entry of a stored file: `_storage/<id>` plus an extension guessed
/// from the content type (only to make the file easy to open; import
/// ignores it).
pub(super) fn storage_file(id: &str, content_type: Option<&str>) -> String {
    let essence = content_type
        .and_then(|t| t.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase());
    let extension = match essence.as_deref() {
        Some("image/png") => ".png",
        Some("image/jpeg") => ".jpg",
        Some("image/gif") => ".gif",
        Some("image/webp") => ".webp",
        Some("image/svg+xml") => ".svg",
        Some("text/plain") => ".txt",
        Some("text/html") => ".html",
        Some("text/csv") => ".csv",
        Some("application/json") => ".json",
        Some("application/pdf") => ".pdf",
        Some("application/zip") => ".zip",
        Some("audio/mpeg") => ".mp3",
        Some("video/mp4") => ".mp4",
        _ => "",
    };
    format!("{STORAGE_DIR}{id}{extension}")
}

/// The storage id a `_storage/...` entry holds the bytes of, if it is one.
pub(super) fn storage_id_of(entry: &str) -> Option<&str> {
    let name = entry.strip_prefix(STORAGE_DIR)?;
    if name.is_empty() || name.contains('/') || entry == STORAGE_DOCUMENTS {
        return None;
    }
    Some(name.split_once('.').map_or(name, |(id, _)| id))
}

/// The README at the top of an export.
pub(super) const README: &str = "# A convex-rs snapshot export\n\n\
This ZIP file is a consistent snapshot of the tables of a convex-rs deployment,\n\
in the layout of Convex's snapshot exports.\n\n\
- `_tables/documents.jsonl`: the tables, one `{\"name\", \"id\"}` per line.\n\
- `<table>/documents.jsonl`: the documents of a table, one JSON object per line.\n\
- `<table>/generated_schema.jsonl`: how to read back values that JSON cannot type\n  \
(int64, bytes, infinities, NaN).\n\
- `_storage/documents.jsonl` and `_storage/<id>`: stored files and their bytes.\n\n\
Restore it with `APP import FILE.zip` (see `--help`), or `npx convex import`.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_entries_name_their_ids() {
        assert_eq!(
            storage_file("abc", Some("text/plain; charset=utf-8")),
            "_storage/abc.txt"
        );
        assert_eq!(storage_file("abc", None), "_storage/abc");
        assert_eq!(storage_id_of("_storage/abc.txt"), Some("abc"));
        assert_eq!(storage_id_of("_storage/abc"), Some("abc"));
        assert_eq!(storage_id_of(STORAGE_DOCUMENTS), None);
        assert_eq!(storage_id_of("messages/documents.jsonl"), None);
    }
}
