//! `items:*` functions: the insert workload of the benchmark.
//!
//! An insert writes one document and two index entries (`by_creation_time`
//! and `by_n`), which is the write amplification the raw SQLite baseline in
//! [`crate::raw`] reproduces.

use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The path of [`insert`] as callers name it.
pub const INSERT_PATH: &str = "items:insert";

/// A small document: a short string and a number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Item {
    /// A short text, about a dozen bytes.
    pub body: String,
    /// An indexed number.
    pub n: f64,
}

impl TableType for Item {
    const TABLE_NAME: &'static str = "items";
}

/// The name of the user index on `n`.
pub const BY_N: &str = "by_n";

/// The benchmark schema: `items` with an index on `n`.
pub fn schema() -> Schema {
    Schema::new().table(TableDefinition::of::<Item>().index(BY_N, &["n"]))
}

/// The benchmark app: the schema and [`insert`].
pub fn app() -> Result<App, convex_rs::app::BackendError> {
    App::builder().schema(schema()).register::<insert>().build()
}

/// Inserts one item and returns its id.
#[mutation]
pub async fn insert(ctx: &MutationCtx, body: String, n: f64) -> Result<Id<Item>, FunctionError> {
    ctx.db().insert(&Item { body, n }).await
}
