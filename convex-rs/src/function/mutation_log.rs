//! Expiry of the mutation log (`_mutation_log`): the record of each
//! websocket mutation's result, kept so a client that re-sends a mutation
//! after a reconnect gets its result instead of running it twice. Clients
//! re-send within seconds or minutes; entries older than the retention
//! window (7 days by default) are deleted in the background.

use std::time::Duration;

use futures::FutureExt;

use super::FunctionError;
use super::system::system_transaction;
use crate::query::{IndexRange, Query};
use crate::schema::{BY_CREATION_TIME, MUTATION_LOG_TABLE};
use crate::store::{CREATION_TIME_FIELD, Document, Store, wall_clock_millis};

/// How long a mutation's result is kept for re-sends, by default.
pub const DEFAULT_MUTATION_LOG_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Entries deleted per transaction.
const BATCH: usize = 500;
/// Time between expiry passes.
const INTERVAL: Duration = Duration::from_secs(60);

/// Deletes the mutation log entries created more than `retention` ago;
/// returns how many.
pub async fn expire_mutation_log(store: &Store, retention: Duration) -> Result<u64, FunctionError> {
    if store.catalog().table(MUTATION_LOG_TABLE).is_none() {
        return Ok(0);
    }
    let cutoff = wall_clock_millis() - retention.as_secs_f64() * 1000.0;
    let mut deleted = 0u64;
    loop {
        let batch = system_transaction(store, |tx| {
            async move {
                let old = Query::<Document>::new(tx, MUTATION_LOG_TABLE)
                    .with_index(
                        BY_CREATION_TIME,
                        IndexRange::new().lt(CREATION_TIME_FIELD, cutoff),
                    )
                    .take(BATCH)
                    .await?;
                for doc in &old {
                    tx.delete(doc.id).await?;
                }
                Ok(old.len())
            }
            .boxed()
        })
        .await?;
        deleted += batch as u64;
        if batch < BATCH {
            return Ok(deleted);
        }
    }
}

/// Runs [`expire_mutation_log`] every minute until the store is closed or dropped.
pub(crate) fn spawn_expiry(store: &Store, retention: Duration) {
    let mut closing = store.closing();
    let store = store.downgrade();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = closing.changed() => return,
            }
            let Some(store) = store.upgrade() else { return };
            if store.is_closed() || store.fatal_error().is_some() {
                return;
            }
            match expire_mutation_log(&store, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(entries = n, "expired old mutation log entries"),
                Err(e) => tracing::warn!(error = %e, "expiring the mutation log failed"),
            }
        }
    });
}
