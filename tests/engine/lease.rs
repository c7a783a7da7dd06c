//! The single-writer lease on PostgreSQL: a second server on a database is
//! refused, or waits as a standby and takes over when the first stops or
//! loses its connection; a server whose lease was taken commits nothing.
//!
//! These run when `CONVEX_TEST_DATABASE_URL` names a PostgreSQL server (CI
//! runs the engine tests a second time with one); on SQLite they have
//! nothing to test and return at once.

use std::time::{Duration, Instant};

use convex_rs::app::{Backend, BackendConfig};
use convex_rs::prelude::*;
use convex_rs::store::PostgresConfig;
use convex_rs::testing::{TEST_DATABASE_URL_VAR, test_database_url};
use serde_json::{Value as Json, json};
use sqlx::Connection;

/// The URL of a fresh database on the test server, or `None` on SQLite.
fn fresh_database() -> Option<String> {
    let server = std::env::var(TEST_DATABASE_URL_VAR)
        .ok()
        .filter(|url| !url.is_empty())?;
    Some(test_database_url(&server, None))
}

/// The database name of a URL made by [`fresh_database`].
fn database_name(url: &str) -> String {
    let path = url.split('?').next().unwrap_or_default();
    path.rsplit('/').next().unwrap_or_default().to_string()
}

async fn open(url: &str, standby: bool) -> anyhow::Result<TestBackend> {
    let config = BackendConfig {
        postgres: Some(PostgresConfig {
            standby,
            ..PostgresConfig::new(url)
        }),
        ..BackendConfig::temporary()
    };
    Ok(TestBackend::with_config(chat::app()?, config).await?)
}

async fn create_user(t: &TestBackend, name: &str) -> Result<Json, String> {
    t.mutation_path::<Json>(
        "users:create",
        json!({ "name": name, "tokenIdentifier": format!("tok|{name}") }),
    )
    .await
    .map_err(|e| e.to_string())
}

async fn document_count(url: &str) -> anyhow::Result<i64> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let count = sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok(count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_is_refused_while_the_first_serves() -> anyhow::Result<()> {
    let Some(url) = fresh_database() else {
        return Ok(());
    };
    let first = open(&url, false).await?;
    let refused = open(&url, false).await.map(|_| ()).unwrap_err().to_string();
    assert!(
        refused.contains("holds the writer's lease") && refused.contains("--standby"),
        "{refused}"
    );
    create_user(&first, "ada")
        .await
        .map_err(anyhow::Error::msg)?;
    first.backend().shutdown().await;
    // Once it stopped, the database is free.
    let second = open(&url, false).await?;
    let users: Json = second
        .query_path("users:byToken", json!({ "tokenIdentifier": "tok|ada" }))
        .await?;
    assert_eq!(users["name"], "ada");
    second.backend().shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_lease_was_taken_commits_nothing() -> anyhow::Result<()> {
    let Some(url) = fresh_database() else {
        return Ok(());
    };
    let leader = open(&url, false).await?;
    create_user(&leader, "before")
        .await
        .map_err(anyhow::Error::msg)?;
    let before = document_count(&url).await?;
    // Another server took over (as after this one's lock connection died
    // while the process was paused): the epoch moved on.
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    sqlx::query("UPDATE convex_lease SET epoch = epoch + 1")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let error = create_user(&leader, "after").await.unwrap_err();
    assert!(error.contains("lost the writer's lease"), "{error}");
    assert_eq!(document_count(&url).await?, before, "a fenced commit wrote");
    leader.backend().shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_takes_over_when_the_leader_stops_or_its_connection_dies() -> anyhow::Result<()> {
    let Some(url) = fresh_database() else {
        return Ok(());
    };
    let leader = open(&url, false).await?;
    create_user(&leader, "ada")
        .await
        .map_err(anyhow::Error::msg)?;

    let standby = tokio::spawn({
        let url = url.clone();
        async move { open(&url, true).await }
    });
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !standby.is_finished(),
        "the standby did not wait for the lease"
    );

    // The leader's lock connection dies (a crash, a partition): the
    // standby takes the lease within a few seconds.
    let killed_at = Instant::now();
    let mut conn = sqlx::PgConnection::connect(&url).await?;
    let name = database_name(&url);
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_locks \
         WHERE locktype = 'advisory' AND granted AND database = \
         (SELECT oid FROM pg_database WHERE datname = $1)",
    )
    .bind(&name)
    .execute(&mut conn)
    .await?;
    conn.close().await?;
    let standby = tokio::time::timeout(Duration::from_secs(10), standby).await???;
    let took = killed_at.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "the standby took {took:?} to take over"
    );

    // It serves the leader's data and commits; the old leader is fenced.
    let ada: Json = standby
        .query_path("users:byToken", json!({ "tokenIdentifier": "tok|ada" }))
        .await?;
    assert_eq!(ada["name"], "ada");
    create_user(&standby, "bob")
        .await
        .map_err(anyhow::Error::msg)?;
    let error = create_user(&leader, "carl").await.unwrap_err();
    assert!(error.contains("writer's lease"), "{error}");
    leader.backend().shutdown().await;
    standby.backend().shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_databases_are_clear_errors() -> anyhow::Result<()> {
    // A port nothing listens on (no PostgreSQL needed).
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let config = BackendConfig {
        postgres: Some(PostgresConfig {
            connect_timeout: Duration::from_secs(2),
            ..PostgresConfig::new(format!("postgres://nobody:secret@127.0.0.1:{port}/x"))
        }),
        ..BackendConfig::temporary()
    };
    let error = Backend::open(chat::app()?, config)
        .await
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot connect to PostgreSQL"), "{error}");
    assert!(!error.contains("secret"), "the password leaked: {error}");
    Ok(())
}
