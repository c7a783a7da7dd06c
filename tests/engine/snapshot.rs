//! Snapshot export and import: a consistent export of a backend that is
//! committing, an exact round trip (ids, creation times, stored files),
//! `--replace`, clear errors, and the `export`/`import` commands of an app
//! binary.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use convex_rs::app::BackendConfig;
use convex_rs::prelude::*;
use convex_rs::snapshot::{ImportOptions, SnapshotError};
use convex_rs::store::{Document, KeyInterval, Order};
use serde_json::json;

/// Test-only functions: storing a file.
pub mod fns {
    use convex_rs::prelude::*;

    /// Stores `text` as a file with `content_type`.
    #[action]
    pub async fn store_file(
        ctx: &ActionCtx,
        text: String,
        content_type: String,
    ) -> Result<Id<StorageFile>, FunctionError> {
        ctx.storage()
            .store(text.into_bytes(), Some(&content_type))
            .await
    }
}

fn app() -> anyhow::Result<App> {
    Ok(App::builder()
        .schema(chat::schema())
        .functions_from("chat")
        .register::<fns::store_file>()
        .build()?)
}

async fn open(dir: &Path) -> anyhow::Result<TestBackend> {
    Ok(TestBackend::with_config(app()?, BackendConfig::in_dir(dir)).await?)
}

/// Every document of the user tables and `_storage`, by table, at `ts`.
async fn documents_at(t: &TestBackend, ts: u64) -> anyhow::Result<BTreeMap<String, Vec<Document>>> {
    let store = t.backend().store();
    let tx = store.begin_read_at(ts)?;
    let mut out = BTreeMap::new();
    for table in store.catalog().tables() {
        if table.name.starts_with('_') && table.name != "_storage" {
            continue;
        }
        let index = store
            .catalog()
            .index(table.by_creation_time)
            .expect("by_creation_time");
        let mut scan = tx.scan(index, KeyInterval::all(), Order::Asc, 1024);
        let mut docs = Vec::new();
        while let Some(doc) = scan.next().await? {
            docs.push(doc);
        }
        drop(scan);
        out.insert(table.name.clone(), docs);
    }
    Ok(out)
}

async fn documents(t: &TestBackend) -> anyhow::Result<BTreeMap<String, Vec<Document>>> {
    documents_at(t, t.backend().store().latest_ts()).await
}

/// Fills a chat: users, `messages` messages, and one stored file.
async fn fill(t: &TestBackend, messages: usize) -> anyhow::Result<String> {
    let ada = crate::common::user(t, "ada").await?;
    let _bob = crate::common::user(t, "bob").await?;
    for i in 0..messages {
        crate::common::send(t, &ada, &format!("message {i} about snapshots")).await?;
    }
    let file = t
        .action::<fns::store_file>(fns::StoreFileArgs {
            text: "the bytes of a stored file".into(),
            content_type: "text/plain".into(),
        })
        .await?;
    Ok(file.to_string())
}

#[tokio::test]
async fn an_export_during_commits_round_trips_exactly() -> anyhow::Result<()> {
    let source_dir = tempfile::tempdir()?;
    let target_dir = tempfile::tempdir()?;
    let zip = source_dir.path().join("snapshot.zip");
    let source = Arc::new(open(source_dir.path()).await?);
    let file = fill(&source, 200).await?;
    let ada = crate::common::user(&source, "carol").await?;

    // Commits keep coming while the export runs.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = tokio::spawn({
        let (source, stop, ada) = (source.clone(), stop.clone(), ada.clone());
        async move {
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                crate::common::send(&source, &ada, &format!("concurrent {sent}")).await?;
                sent += 1;
            }
            anyhow::Ok(sent)
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let summary = source.backend().export_snapshot(&zip).await?;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let sent = writer.await??;
    assert!(sent > 0, "no commit ran during the export");
    assert!(!zip.with_extension("zip.partial").exists());

    let expected = documents_at(&source, summary.ts).await?;
    assert!(
        documents(&source).await?["messages"].len() > expected["messages"].len(),
        "later commits are not in the snapshot"
    );
    assert_eq!(summary.files, 1);

    let target = open(target_dir.path()).await?;
    let imported = target
        .backend()
        .import_snapshot(&zip, ImportOptions::default())
        .await?;
    assert_eq!(imported.files, 1);
    assert_eq!(
        documents(&target).await?,
        expected,
        "same ids, times, fields"
    );
    let bytes = std::fs::read(target_dir.path().join("storage/files").join(&file))?;
    assert_eq!(bytes, b"the bytes of a stored file");
    // Indexes were built: queries, including search, see the documents.
    let count: f64 = target.query_path("messages:count", json!({})).await?;
    assert_eq!(count as usize, expected["messages"].len());
    let found: Vec<serde_json::Value> = target
        .query_path("messages:search", json!({ "query": "snapshots" }))
        .await?;
    assert!(!found.is_empty());
    // New documents come after the imported ones.
    let carol = crate::common::user(&target, "dave").await?;
    crate::common::send(&target, &carol, "after the import").await?;
    Ok(())
}

#[tokio::test]
async fn import_refuses_occupied_tables_unless_replacing() -> anyhow::Result<()> {
    let source_dir = tempfile::tempdir()?;
    let target_dir = tempfile::tempdir()?;
    let zip = source_dir.path().join("snapshot.zip");
    let source = open(source_dir.path()).await?;
    fill(&source, 3).await?;
    source.backend().export_snapshot(&zip).await?;

    let target = open(target_dir.path()).await?;
    fill(&target, 5).await?;
    let before = documents(&target).await?;
    let error = target
        .backend()
        .import_snapshot(&zip, ImportOptions::default())
        .await
        .expect_err("occupied tables are refused");
    let message = error.to_string();
    assert!(matches!(error, SnapshotError::NotEmpty(_)), "{message}");
    assert!(
        message.contains("messages") && message.contains("--replace"),
        "{message}"
    );
    assert_eq!(documents(&target).await?, before, "nothing changed");

    let summary = target
        .backend()
        .import_snapshot(&zip, ImportOptions { replace: true })
        .await?;
    assert!(summary.replaced.contains(&"messages".to_string()));
    assert_eq!(documents(&target).await?, documents(&source).await?);
    let files = std::fs::read_dir(target_dir.path().join("storage/files"))?.count();
    assert_eq!(files, 1, "the replaced table's files are gone");
    Ok(())
}

/// Rewrites the entries of the ZIP at `path` with `edit(name, bytes)`.
fn rewrite_zip(
    path: &Path,
    out: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Vec<u8>,
) -> anyhow::Result<()> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path)?)?;
    let mut writer = zip::ZipWriter::new(std::fs::File::create(out)?);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i)?;
        let name = entry.name()?.into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        writer.start_file(name.clone(), zip::write::SimpleFileOptions::default())?;
        writer.write_all(&edit(&name, bytes))?;
    }
    writer.finish()?;
    Ok(())
}

#[tokio::test]
async fn bad_snapshots_are_refused_with_clear_errors() -> anyhow::Result<()> {
    let source_dir = tempfile::tempdir()?;
    let zip = source_dir.path().join("snapshot.zip");
    let source = open(source_dir.path()).await?;
    fill(&source, 2).await?;
    source.backend().export_snapshot(&zip).await?;
    let import = |path: PathBuf| async move {
        let dir = tempfile::tempdir()?;
        let target = open(dir.path()).await?;
        let result = target
            .backend()
            .import_snapshot(&path, ImportOptions::default())
            .await;
        anyhow::Ok((result.map(|_| ()), documents(&target).await?))
    };

    let garbage = source_dir.path().join("garbage.zip");
    std::fs::write(&garbage, b"not a zip at all")?;
    let (result, _) = import(garbage).await?;
    let message = result.expect_err("garbage").to_string();
    assert!(message.contains("not a valid ZIP file"), "{message}");

    // A line that does not match the schema: named by entry and line.
    let bad = source_dir.path().join("bad-line.zip");
    let user_id = documents(&source).await?["users"][0].id.encode();
    rewrite_zip(&zip, &bad, |name, mut bytes| {
        if name == "users/documents.jsonl" {
            let line = json!({"_id": user_id.clone(), "_creationTime": 1.0, "name": 5});
            bytes.extend(format!("{line}\n").into_bytes());
        }
        bytes
    })?;
    let (result, _) = import(bad).await?;
    let message = result.expect_err("bad line").to_string();
    assert!(
        message.contains("users/documents.jsonl line 3"),
        "{message}"
    );
    assert!(message.contains("schema"), "{message}");

    let bad = source_dir.path().join("not-json.zip");
    rewrite_zip(&zip, &bad, |name, mut bytes| {
        if name == "messages/documents.jsonl" {
            bytes.extend(b"{not json\n");
        }
        bytes
    })?;
    let (result, _) = import(bad).await?;
    let message = result.expect_err("not JSON").to_string();
    assert!(
        message.contains("messages/documents.jsonl line 3: not JSON"),
        "{message}"
    );

    // A table the app does not declare is named.
    let unknown = source_dir.path().join("unknown.zip");
    rewrite_zip(&zip, &unknown, |name, mut bytes| {
        if name == "_tables/documents.jsonl" {
            bytes.extend(b"{\"name\":\"ghosts\",\"id\":10099}\n");
        }
        bytes
    })?;
    let (result, after) = import(unknown).await?;
    let message = result.expect_err("unknown table").to_string();
    assert!(message.contains("ghosts"), "{message}");
    assert!(after.values().all(Vec::is_empty), "checked before writing");

    // A file whose bytes do not match its row.
    let tampered = source_dir.path().join("tampered.zip");
    rewrite_zip(&zip, &tampered, |name, bytes| {
        if name.starts_with("_storage/") && name != "_storage/documents.jsonl" {
            b"other bytes".to_vec()
        } else {
            bytes
        }
    })?;
    let (result, _) = import(tampered).await?;
    let message = result.expect_err("tampered file").to_string();
    assert!(message.contains("sha256"), "{message}");
    Ok(())
}

#[tokio::test]
async fn int64_bytes_and_special_floats_round_trip() -> anyhow::Result<()> {
    // A table without a validator: only the export contexts keep the types.
    let schema = Schema::new().table(TableDefinition::new("things"));
    let build = || {
        App::builder()
            .schema(schema.clone())
            .register::<crate::raw::insert>()
            .build()
    };
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let source = TestBackend::with_config(build()?, BackendConfig::in_dir(a.path())).await?;
    let value = Value::Object(BTreeMap::from([
        ("n".to_string(), Value::Int64(-42)),
        ("s".to_string(), Value::String("-42".into())),
        ("b".to_string(), Value::Bytes(vec![0, 255, 7])),
        (
            "floats".to_string(),
            Value::Array(vec![
                Value::Float64(f64::INFINITY),
                Value::Float64(f64::NEG_INFINITY),
                Value::Float64(-0.0),
                Value::Float64(0.1),
            ]),
        ),
    ]));
    let args = Value::Object(BTreeMap::from([
        ("table".to_string(), Value::String("things".into())),
        ("doc".to_string(), value),
    ]));
    source
        .call_raw(
            convex_rs::function::FunctionKind::Mutation,
            "raw:insert",
            args,
        )
        .await
        .result?;
    let zip = a.path().join("snapshot.zip");
    source.backend().export_snapshot(&zip).await?;
    let target = TestBackend::with_config(build()?, BackendConfig::in_dir(b.path())).await?;
    target
        .backend()
        .import_snapshot(&zip, ImportOptions::default())
        .await?;
    let imported = documents(&target).await?;
    assert_eq!(imported, documents(&source).await?);
    assert_eq!(imported["things"][0].fields["n"], Value::Int64(-42));
    assert_eq!(
        imported["things"][0].fields["s"],
        Value::String("-42".into())
    );
    Ok(())
}

/// The app binary `name` in the target directory, built first (a no-op
/// when it is up to date; the target directory may hold an older build).
fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .ok_or_else(|| anyhow::anyhow!("no target directory above {}", exe.display()))?;
    let path = dir.join(name);
    // `scripts/test` builds every binary before the tests; a bare `cargo
    // test` in a fresh checkout builds this one here (once). Building again
    // each run would, from inside `cargo test`, recompile dependencies.
    if !path.exists() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--workspace", "--bin", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()?;
        anyhow::ensure!(status.success(), "building {name} failed");
    }
    Ok(path)
}

#[tokio::test]
async fn the_export_and_import_commands_work_beside_a_running_backend() -> anyhow::Result<()> {
    let chat = binary("chat")?;
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let zip = a.path().join("cli.zip");
    // The backend stays open (as a server would) while the CLI exports.
    let source = TestBackend::with_config(chat::app()?, BackendConfig::in_dir(a.path())).await?;
    let ada = crate::common::user(&source, "ada").await?;
    for i in 0..20 {
        crate::common::send(&source, &ada, &format!("cli {i}")).await?;
    }
    let output = tokio::process::Command::new(&chat)
        .arg("export")
        .arg("--out")
        .arg(&zip)
        .args(storage_args(a.path()))
        .env_remove("CONVEX_DATABASE_URL")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(
        output.status.success(),
        "export failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("exported 21 documents"), "{stdout}");
    // The source still commits after the export.
    crate::common::send(&source, &ada, "after").await?;

    let import = |replace: bool| {
        let mut command = tokio::process::Command::new(&chat);
        command.arg("import").arg(&zip).args(storage_args(b.path()));
        if replace {
            command.arg("--replace");
        }
        command.env_remove("CONVEX_DATABASE_URL").output()
    };
    let output = import(false).await?;
    anyhow::ensure!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let output = import(false).await?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--replace"), "{stderr}");
    let output = import(true).await?;
    assert!(output.status.success());

    let target = TestBackend::with_config(chat::app()?, BackendConfig::in_dir(b.path())).await?;
    let imported = documents(&target).await?;
    assert_eq!(imported["messages"].len(), 20);
    assert_eq!(imported["users"], documents(&source).await?["users"]);
    Ok(())
}

/// The command-line options naming the data `TestBackend` keeps for `dir`:
/// `--data DIR`, plus, when the tests run on PostgreSQL, the same database.
fn storage_args(dir: &std::path::Path) -> Vec<std::ffi::OsString> {
    let mut args = vec!["--data".into(), dir.as_os_str().to_owned()];
    if let Some(server) = std::env::var(convex_rs::testing::TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())
    {
        let url = convex_rs::testing::test_database_url(&server, Some(&dir.join("convex.sqlite3")));
        args.extend(["--database".into(), url.into()]);
    }
    args
}

/// Export and import times for 10,000 messages (printed; run with
/// `--ignored --nocapture`).
#[tokio::test]
#[ignore]
async fn snapshot_timing_10k() -> anyhow::Result<()> {
    let schema = chat::schema();
    let build = || {
        App::builder()
            .schema(schema.clone())
            .functions_from("chat")
            .register::<crate::raw::insert_many>()
            .build()
    };
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let source = TestBackend::with_config(build()?, BackendConfig::in_dir(a.path())).await?;
    let user = crate::common::user(&source, "ada").await?;
    for _ in 0..10 {
        let _: serde_json::Value = source
            .mutation_path(
                "raw:insertMany",
                json!({ "table": "messages", "n": 1000.0,
                        "doc": { "body": "a message of some ordinary length, to be exported", "user": user } }),
            )
            .await?;
    }
    let zip = a.path().join("10k.zip");
    let started = Instant::now();
    let summary = source.backend().export_snapshot(&zip).await?;
    println!("export: {summary} in {:?}", started.elapsed());
    let target = TestBackend::with_config(build()?, BackendConfig::in_dir(b.path())).await?;
    let started = Instant::now();
    let summary = target
        .backend()
        .import_snapshot(&zip, ImportOptions::default())
        .await?;
    println!("import: {summary} in {:?}", started.elapsed());
    Ok(())
}
