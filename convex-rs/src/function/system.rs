//! Small transactions the backend runs on its own behalf (scheduling from an
//! action, storing a file) and helpers for the rows of system tables.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;

use super::FunctionError;
use crate::store::{Store, Transaction};
use crate::value::{DocumentId, Value, to_value};

/// How many times a small system transaction is attempted before a
/// conflict is reported.
const SYSTEM_TX_ATTEMPTS: u32 = 8;

/// Runs `attempt` in a fresh transaction and commits it, again after a
/// conflict (a few times, with a short pause).
pub(crate) async fn system_transaction<T>(
    store: &Store,
    mut attempt: impl for<'t> FnMut(&'t Transaction) -> BoxFuture<'t, Result<T, FunctionError>>,
) -> Result<T, FunctionError> {
    let mut pause = Duration::from_millis(1);
    let mut tries = 1;
    loop {
        let tx = store.begin();
        let value = attempt(&tx).await?;
        let error = match store.commit(tx).await {
            Ok(_) => return Ok(value),
            Err(e) => FunctionError::from(e),
        };
        if error.retry_hint().is_none() || tries >= SYSTEM_TX_ATTEMPTS {
            return Err(error);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
        tries += 1;
    }
}

/// The fields of a system row (a struct serializing to an object).
pub(crate) fn row_fields(row: &impl Serialize) -> Result<BTreeMap<String, Value>, FunctionError> {
    match to_value(row)? {
        Value::Object(fields) => Ok(fields),
        other => Err(FunctionError::system(format!(
            "a system row encoded as {}",
            other.type_name()
        ))),
    }
}

/// The number of a system table.
pub(crate) fn table_number(
    tx: &Transaction,
    name: &str,
) -> Result<crate::value::TableNumber, FunctionError> {
    tx.store()
        .catalog()
        .table(name)
        .map(|t| t.number)
        .ok_or_else(|| {
            FunctionError::system(format!(
                "the system table {name} is missing (the backend was opened without system tables)"
            ))
        })
}

/// Inserts `row` into the system table `table`.
pub(crate) fn insert_row(
    tx: &Transaction,
    table: &str,
    row: &impl Serialize,
) -> Result<DocumentId, FunctionError> {
    Ok(tx.insert(table_number(tx, table)?, row_fields(row)?)?)
}
