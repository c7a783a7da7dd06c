//! The bank example: accounts and transfers, used to exercise OCC.
//!
//! Public function paths: `bank:seed`, `bank:transfer`, `bank:transferLater`,
//! `bank:balance`, `bank:total`.

use convex_rs::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub mod bank;

/// An account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Account {
    /// The owner's number (0..accounts).
    pub owner: f64,
    /// The balance.
    pub balance: f64,
}

impl TableType for Account {
    const TABLE_NAME: &'static str = "accounts";
}

/// The bank schema.
pub fn schema() -> Schema {
    Schema::new().table(TableDefinition::of::<Account>().index("by_owner", &["owner"]))
}

/// The bank app.
pub fn app() -> Result<App, convex_rs::app::BackendError> {
    App::builder()
        .schema(schema())
        .functions_from(module_path!())
        .build()
}
