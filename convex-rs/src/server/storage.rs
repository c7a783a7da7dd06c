//! File storage over HTTP on the deployment origin: `POST
//! /api/storage/upload?token=...` (an upload URL) and `GET
//! /api/storage/{id}` (a file URL), with single-range requests.

use axum::body::Body as AxumBody;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::AppState;
use super::http_api::HttpError;
use crate::storage::{self, StorageError};
use crate::value::DocumentId;

/// The query string of an upload URL.
#[derive(Deserialize)]
pub(super) struct UploadParams {
    token: Option<String>,
}

fn storage_error(error: StorageError) -> HttpError {
    let (status, code) = match &error {
        StorageError::InvalidToken => (StatusCode::UNAUTHORIZED, "InvalidUploadToken"),
        StorageError::ExpiredToken => (StatusCode::UNAUTHORIZED, "ExpiredUploadToken"),
        StorageError::UsedToken => (StatusCode::UNAUTHORIZED, "UsedUploadToken"),
        StorageError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "FileTooLarge"),
        StorageError::Interrupted(_) => (StatusCode::BAD_REQUEST, "UploadInterrupted"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "StorageError"),
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!("file storage failed: {error}");
    }
    HttpError::new(status, code, error.to_string())
}

/// `POST /api/storage/upload?token=...`: streams the body to a file and
/// answers `{"storageId": "..."}`.
pub(super) async fn upload(
    State(state): State<AppState>,
    Query(params): Query<UploadParams>,
    request: Request,
) -> Result<Response, HttpError> {
    let runner = state.backend.runner();
    let token = params.token.ok_or_else(|| {
        HttpError::new(
            StatusCode::UNAUTHORIZED,
            "InvalidUploadToken",
            "the upload URL has no token; get one from generate_upload_url()",
        )
    })?;
    // Refused before any byte is written: a bad token, or a declared size
    // over the limit.
    let token = storage::check_token(runner, &token)
        .await
        .map_err(storage_error)?;
    let files = runner
        .files()
        .ok_or(StorageError::NotConfigured)
        .map_err(storage_error)?;
    let max = files.config().max_upload_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max) {
        crate::http::drain(&mut request.into_body().into_data_stream()).await;
        return Err(storage_error(StorageError::TooLarge { max }));
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = request.into_body().into_data_stream();
    let temp = files
        .write_temp(body, content_type)
        .await
        .map_err(storage_error)?;
    let id = storage::commit_upload(runner, temp, Some(token))
        .await
        .map_err(storage_error)?;
    Ok(axum::Json(json!({ "storageId": id.to_string() })).into_response())
}

/// A single byte range of a file of `size` bytes.
#[derive(Debug, PartialEq)]
enum Range {
    /// No (usable) `Range` header: the whole file.
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// A range that selects nothing (416).
    Unsatisfiable,
}

/// Parses a `Range` header. Several ranges, or a header that is not a
/// byte range, are ignored (the whole file is sent), as HTTP allows.
fn parse_range(header: Option<&str>, size: u64) -> Range {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (first.is_empty(), last.is_empty()) {
        // `bytes=-N`: the last N bytes.
        (true, false) => match parse(last) {
            Some(0) => Range::Unsatisfiable,
            Some(n) if size > 0 => Range::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
            Some(_) => Range::Unsatisfiable,
            None => Range::Whole,
        },
        // `bytes=N-`: from N to the end.
        (false, true) => match parse(first) {
            Some(start) if start < size => Range::Part {
                start,
                end: size - 1,
            },
            Some(_) => Range::Unsatisfiable,
            None => Range::Whole,
        },
        (false, false) => match (parse(first), parse(last)) {
            (Some(start), Some(end)) if start > end => Range::Whole,
            (Some(start), Some(end)) if start < size => Range::Part {
                start,
                end: end.min(size - 1),
            },
            (Some(_), Some(_)) => Range::Unsatisfiable,
            _ => Range::Whole,
        },
        (true, true) => Range::Whole,
    }
}

fn not_found(id: &str) -> HttpError {
    HttpError::new(
        StatusCode::NOT_FOUND,
        "FileNotFound",
        format!("there is no stored file {id:?}"),
    )
}

/// `GET /api/storage/{id}`: the file's bytes.
pub(super) async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let Ok(document) = DocumentId::decode(&id) else {
        return Err(not_found(&id));
    };
    let file = storage::open(state.backend.runner(), document)
        .await
        .map_err(storage_error)?
        .ok_or_else(|| not_found(&id))?;
    let etag = format!("\"{}\"", file.row.sha256);
    let size = file.row.size as u64;
    let mut response = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "public, max-age=31536000, immutable")
        .header(header::ACCEPT_RANGES, "bytes");
    if let Some(content_type) = &file.row.content_type {
        response = response.header(header::CONTENT_TYPE, content_type);
    }
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    if cached {
        return build(response.status(StatusCode::NOT_MODIFIED), AxumBody::empty());
    }
    let mut handle = match tokio::fs::File::open(&file.path).await {
        Ok(handle) => handle,
        // Deleted since its row was read.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(not_found(&id)),
        Err(e) => return Err(storage_error(e.into())),
    };
    let range = parse_range(
        headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
        size,
    );
    match range {
        Range::Whole => build(
            response
                .status(StatusCode::OK)
                .header(header::CONTENT_LENGTH, size),
            AxumBody::from_stream(ReaderStream::new(handle)),
        ),
        Range::Part { start, end } => {
            handle
                .seek(std::io::SeekFrom::Start(start))
                .await
                .map_err(|e| storage_error(e.into()))?;
            let length = end - start + 1;
            build(
                response
                    .status(StatusCode::PARTIAL_CONTENT)
                    .header(header::CONTENT_LENGTH, length)
                    .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}")),
                AxumBody::from_stream(ReaderStream::new(handle.take(length))),
            )
        }
        Range::Unsatisfiable => build(
            response
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}")),
            AxumBody::empty(),
        ),
    }
}

fn build(response: axum::http::response::Builder, body: AxumBody) -> Result<Response, HttpError> {
    response.body(body).map_err(|e| {
        HttpError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "StorageError",
            format!("could not build the response: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let part = |start, end| Range::Part { start, end };
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-3"), 10), part(0, 3));
        assert_eq!(parse_range(Some("bytes=5-"), 10), part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), part(0, 9));
        assert_eq!(parse_range(Some("bytes=8-100"), 10), part(8, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=10-12"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 10), Range::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-"), 0), Range::Unsatisfiable);
        // Ignored: several ranges, other units, nonsense, reversed.
        assert_eq!(parse_range(Some("bytes=0-1,3-4"), 10), Range::Whole);
        assert_eq!(parse_range(Some("items=0-1"), 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=a-b"), 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=5-2"), 10), Range::Whole);
    }
}
