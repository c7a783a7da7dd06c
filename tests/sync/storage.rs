//! File storage through the server: upload URLs, served files, the
//! `_storage` table, deletes after commit, limits, restarts and crashes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use base64::Engine;
use convex_rs::app::{Backend, BackendConfig};
use convex_rs::prelude::*;
use convex_rs::scheduler::{ManualClock, SchedulerConfig, SharedClock};
use convex_rs::server::{Server, ServerConfig};
use futures::StreamExt;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};

use crate::common::{call, call_outcome, streamed};

/// The functions these tests call.
pub mod files {
    use convex_rs::prelude::*;
    use convex_rs::storage::StoredBlob;

    /// An upload URL.
    #[mutation]
    pub async fn upload_url(ctx: &MutationCtx) -> Result<String, FunctionError> {
        ctx.storage().generate_upload_url().await
    }

    /// The `_storage` row of a file, read through `ctx.db().system()`.
    #[query]
    pub async fn metadata(
        ctx: &QueryCtx,
        id: Id<StorageFile>,
    ) -> Result<Option<Doc<StorageFile>>, FunctionError> {
        ctx.db().system().get(id).await
    }

    /// Every `_storage` row.
    #[query]
    pub async fn all(ctx: &QueryCtx) -> Result<Vec<Doc<StorageFile>>, FunctionError> {
        Ok(ctx.db().system().query::<StorageFile>().collect().await?)
    }

    /// The URL of a file (a live query).
    #[query]
    pub async fn url(ctx: &QueryCtx, id: Id<StorageFile>) -> Result<Option<String>, FunctionError> {
        ctx.storage().get_url(id).await
    }

    /// Deletes a file.
    #[mutation]
    pub async fn delete(ctx: &MutationCtx, id: Id<StorageFile>) -> Result<(), FunctionError> {
        ctx.storage().delete(id).await
    }

    /// Deletes a file, then fails: neither the row nor the file may go.
    #[mutation]
    pub async fn delete_then_fail(
        ctx: &MutationCtx,
        id: Id<StorageFile>,
    ) -> Result<(), FunctionError> {
        ctx.storage().delete(id).await?;
        Err(FunctionError::message("failing after the delete"))
    }

    /// Stores `text` from an action, reads it back, and returns the id.
    #[action]
    pub async fn store_text(
        ctx: &ActionCtx,
        text: String,
    ) -> Result<Id<StorageFile>, FunctionError> {
        let id = ctx
            .storage()
            .store(text.clone().into_bytes(), Some("text/plain"))
            .await?;
        let read = ctx.storage().get(id).await?;
        let expected = StoredBlob {
            bytes: text.into_bytes().into(),
            content_type: Some("text/plain".into()),
        };
        if read != Some(expected) {
            return Err(FunctionError::message(format!("read back {read:?}")));
        }
        if ctx.storage().get_url(id).await?.is_none() {
            return Err(FunctionError::message("no URL for a stored file"));
        }
        Ok(id)
    }

    /// Deletes a file from an action; then `get` finds nothing.
    #[action]
    pub async fn delete_from_action(
        ctx: &ActionCtx,
        id: Id<StorageFile>,
    ) -> Result<bool, FunctionError> {
        ctx.storage().delete(id).await?;
        Ok(ctx.storage().get(id).await?.is_none())
    }
}

fn app() -> anyhow::Result<App> {
    Ok(App::builder().functions_from(module_path!()).build()?)
}

struct Files {
    server: Server,
    clock: ManualClock,
}

async fn start(dir: &Path, configure: impl FnOnce(&mut BackendConfig)) -> anyhow::Result<Files> {
    let clock = ManualClock::new(wall_ms());
    let mut config = BackendConfig {
        scheduler: SchedulerConfig {
            clock: SharedClock::new(clock.clone()),
            ..SchedulerConfig::default()
        },
        ..BackendConfig::in_dir(dir)
    };
    configure(&mut config);
    let backend = Backend::open(app()?, config).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = Server::start(backend, listener, ServerConfig::default()).await?;
    Ok(Files { server, clock })
}

fn wall_ms() -> f64 {
    convex_rs::store::wall_clock_millis()
}

fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn random_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|_| rand::random::<u8>()).collect()
}

async fn upload_url(files: &Files) -> anyhow::Result<String> {
    let url = call(&files.server, "mutation", "files:uploadUrl", json!({})).await?;
    Ok(url.as_str().unwrap_or_default().to_string())
}

async fn post(url: &str, body: impl Into<reqwest::Body>) -> anyhow::Result<(u16, Json)> {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await?;
    Ok((response.status().as_u16(), response.json().await?))
}

async fn upload(files: &Files, bytes: &[u8]) -> anyhow::Result<String> {
    let (status, body) = post(&upload_url(files).await?, bytes.to_vec()).await?;
    anyhow::ensure!(status == 200, "upload answered {status}: {body}");
    Ok(body["storageId"].as_str().unwrap_or_default().to_string())
}

async fn get(url: &str) -> anyhow::Result<(u16, Vec<u8>)> {
    let response = reqwest::get(url).await?;
    Ok((response.status().as_u16(), response.bytes().await?.to_vec()))
}

fn file_url(files: &Files, id: &str) -> String {
    format!("http://{}/api/storage/{id}", files.server.local_addr())
}

/// The names in `dir` (none if it does not exist).
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_has_its_storage_row_and_serves_identical_bytes() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;
    let bytes = random_bytes(300_000);
    let id = upload(&files, &bytes).await?;

    let row = call(
        &files.server,
        "query",
        "files:metadata",
        json!({ "id": id }),
    )
    .await?;
    assert_eq!(row["_id"], json!(id));
    assert_eq!(row["sha256"], json!(sha256_base64(&bytes)));
    assert_eq!(row["size"], json!(300_000.0));
    assert_eq!(row["contentType"], json!("application/octet-stream"));
    assert!(row["_creationTime"].as_f64().is_some());

    let url = call(&files.server, "query", "files:url", json!({ "id": id })).await?;
    assert_eq!(url, json!(file_url(&files, &id)));
    let (status, served) = get(&file_url(&files, &id)).await?;
    assert_eq!(status, 200);
    assert!(
        served == bytes,
        "the served bytes differ from the uploaded ones"
    );
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_reused_and_forged_upload_urls_are_refused() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;

    let url = upload_url(&files).await?;
    files
        .clock
        .advance(Duration::from_secs(3600) + Duration::from_millis(1));
    let (status, body) = post(&url, "late").await?;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("ExpiredUploadToken"))
    );

    let url = upload_url(&files).await?;
    let (status, _) = post(&url, "first").await?;
    assert_eq!(status, 200);
    let (status, body) = post(&url, "second").await?;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("UsedUploadToken"))
    );

    let forged = format!("{}x", url);
    let (status, body) = post(&forged, "forged").await?;
    assert_eq!(
        (status, body["code"].clone()),
        (401, json!("InvalidUploadToken"))
    );
    let all = call(&files.server, "query", "files:all", json!({})).await?;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_with_one_url_store_one_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;
    let url = upload_url(&files).await?;
    let attempts = (0..8).map(|i| post(&url, format!("attempt {i}")));
    let statuses: Vec<u16> = futures::future::try_join_all(attempts)
        .await?
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let all = call(&files.server, "query", "files:all", json!({})).await?;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    assert_eq!(names(&dir.path().join("storage/files")).len(), 1);
    assert!(names(&dir.path().join("storage/tmp")).is_empty());
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_upload_is_refused_without_writing_a_file() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |c| c.storage.max_upload_bytes = 1000).await?;

    // Declared too large: refused before the body is read.
    let (status, body) = post(&upload_url(&files).await?, vec![0u8; 1001]).await?;
    assert_eq!((status, body["code"].clone()), (413, json!("FileTooLarge")));
    // Streamed (no Content-Length) past the limit: stopped as it grows.
    let chunks = futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(vec![1u8; 100])));
    let (status, _) = post(&upload_url(&files).await?, streamed(chunks)).await?;
    assert_eq!(status, 413);
    assert!(names(&dir.path().join("storage/files")).is_empty());
    assert!(names(&dir.path().join("storage/tmp")).is_empty());
    let all = call(&files.server, "query", "files:all", json!({})).await?;
    assert_eq!(all, json!([]));

    upload(&files, &[7u8; 1000]).await?;
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_file_is_gone_after_the_commit_and_not_before() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;
    let id = upload(&files, b"keep me a while").await?;
    let url = file_url(&files, &id);
    let mut client =
        convex::ConvexClient::new(&format!("http://{}", files.server.local_addr())).await?;
    let mut args = BTreeMap::new();
    args.insert("id".to_string(), convex::Value::String(id.clone()));
    let mut live = client.subscribe("files:url", args).await?;
    assert_eq!(
        next(&mut live).await,
        Some(convex::FunctionResult::Value(convex::Value::String(
            url.clone()
        )))
    );

    // A mutation that fails after deleting keeps the row and the file.
    let failed = call_outcome(
        &files.server,
        "mutation",
        "files:deleteThenFail",
        json!({ "id": id }),
    )
    .await?;
    assert_eq!(failed["status"], "error");
    assert_eq!(get(&url).await?.0, 200);

    call(
        &files.server,
        "mutation",
        "files:delete",
        json!({ "id": id }),
    )
    .await?;
    assert_eq!(
        next(&mut live).await,
        Some(convex::FunctionResult::Value(convex::Value::Null)),
        "the live URL query follows the delete"
    );
    let (status, _) = get(&url).await?;
    assert_eq!(status, 404);
    assert!(names(&dir.path().join("storage/files")).is_empty());
    let again = call_outcome(
        &files.server,
        "mutation",
        "files:delete",
        json!({ "id": id }),
    )
    .await?;
    assert!(
        again["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("does not exist")),
        "{again}"
    );
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_store_read_and_delete_files() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;
    let id = call(
        &files.server,
        "action",
        "files:storeText",
        json!({ "text": "from an action" }),
    )
    .await?;
    let row = call(
        &files.server,
        "query",
        "files:metadata",
        json!({ "id": id }),
    )
    .await?;
    assert_eq!(row["sha256"], json!(sha256_base64(b"from an action")));
    assert_eq!(row["contentType"], json!("text/plain"));
    let id = id.as_str().unwrap_or_default().to_string();
    let (status, bytes) = get(&file_url(&files, &id)).await?;
    assert_eq!(
        (status, bytes.as_slice()),
        (200, b"from an action".as_slice())
    );
    let gone = call(
        &files.server,
        "action",
        "files:deleteFromAction",
        json!({ "id": id }),
    )
    .await?;
    assert_eq!(gone, json!(true));
    assert_eq!(get(&file_url(&files, &id)).await?.0, 404);
    files.server.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_survive_a_restart_and_crash_leftovers_are_removed_at_open() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let files = start(dir.path(), |_| {}).await?;
    let bytes = random_bytes(50_000);
    let id = upload(&files, &bytes).await?;
    // A file whose row is deleted: its bytes, kept aside.
    let deleted = upload(&files, b"deleted").await?;
    let storage = dir.path().join("storage");
    let kept = std::fs::read(storage.join("files").join(&deleted))?;
    call(
        &files.server,
        "mutation",
        "files:delete",
        json!({ "id": deleted }),
    )
    .await?;
    // An upload cut off mid-body leaves no row and no file.
    let cut = futures::stream::iter([
        Ok(vec![1u8; 1000]),
        Err(std::io::Error::other("the client went away")),
    ]);
    let url = upload_url(&files).await?;
    let _ = reqwest::Client::new()
        .post(&url)
        .body(streamed(cut))
        .send()
        .await;
    files.server.shutdown().await;

    // What a crash can leave: a half-written temporary file, and a file
    // without a row (moved into place before a commit that did not happen,
    // or deleted by a commit before the file was removed).
    std::fs::write(storage.join("tmp/0123abcd"), b"half an upload")?;
    std::fs::write(storage.join("files").join(&deleted), kept)?;

    let files = start(dir.path(), |_| {}).await?;
    let (status, served) = get(&file_url(&files, &id)).await?;
    assert_eq!(status, 200);
    assert!(served == bytes, "the file changed across the restart");
    assert!(
        names(&storage.join("tmp")).is_empty(),
        "temporary files remain"
    );
    assert_eq!(names(&storage.join("files")), vec![id.clone()]);
    let all = call(&files.server, "query", "files:all", json!({})).await?;
    assert_eq!(all.as_array().map(Vec::len), Some(1), "{all}");
    files.server.shutdown().await;
    Ok(())
}

async fn next(live: &mut convex::QuerySubscription) -> Option<convex::FunctionResult> {
    tokio::time::timeout(Duration::from_secs(10), live.next())
        .await
        .ok()
        .flatten()
}
