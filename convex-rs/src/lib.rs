//! # convex-rs
//!
//! A reactive backend framework whose backend functions are plain Rust.
//!
//! Application code is written as `async fn`s marked with [`query`],
//! [`mutation`] or [`action`]:
//!
//! * **queries** read the database; they are deterministic, so their results
//!   can be cached and kept live for subscribed clients;
//! * **mutations** are serializable transactions over a multi-version document
//!   store, validated with optimistic concurrency control and retried
//!   automatically on conflict;
//! * **actions** perform side effects and call queries and mutations.
//!
//! The layers, lowest first: [`value`] (the value model and its encodings),
//! [`schema`] (tables, validators, indexes), [`store`] (the MVCC revision log on
//! SQLite and the committer), [`query`] (index ranges, filters, pagination),
//! [`function`] (registry, contexts, the runner) and [`testing`] (an in-process
//! backend for application tests). See `ARCHITECTURE.md` for the map.
//!
//! ```
//! use convex_rs::prelude::*;
//! use serde::{Deserialize, Serialize};
//! use schemars::JsonSchema;
//!
//! #[derive(Serialize, Deserialize, JsonSchema, Clone, Debug)]
//! pub struct Note {
//!     pub text: String,
//! }
//! impl TableType for Note {
//!     const TABLE_NAME: &'static str = "notes";
//! }
//!
//! mod notes {
//!     use super::Note;
//!     use convex_rs::prelude::*;
//!
//!     /// Adds a note and returns its id.
//!     #[mutation]
//!     pub async fn add(ctx: &MutationCtx, text: String) -> Result<Id<Note>, FunctionError> {
//!         Ok(ctx.db().insert(&Note { text }).await?)
//!     }
//!
//!     /// All notes, oldest first.
//!     #[query]
//!     pub async fn all(ctx: &QueryCtx) -> Result<Vec<Doc<Note>>, FunctionError> {
//!         Ok(ctx.db().query::<Note>().collect().await?)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let schema = Schema::new().table(TableDefinition::of::<Note>());
//! let app = App::builder().schema(schema).register::<notes::add>().register::<notes::all>().build()?;
//! let t = TestBackend::new(app).await?;
//! t.mutation::<notes::add>(notes::AddArgs { text: "hello".into() }).await?;
//! let all = t.query::<notes::all>(notes::AllArgs {}).await?;
//! assert_eq!(all[0].text, "hello");
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs, unreachable_pub)]
#![warn(clippy::unwrap_used)]

pub mod app;
pub mod auth;
pub mod codegen;
pub mod function;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod query;
pub mod scheduler;
pub mod schema;
pub mod server;
pub mod snapshot;
pub mod storage;
pub mod store;
pub mod sync;
mod telemetry;
pub mod testing;
pub mod value;

pub use convex_macros::{
    action, http_action, internal_action, internal_mutation, internal_query, mutation, query,
};

/// Everything an application author needs, in one import.
pub mod prelude {
    pub use crate::app::{App, Backend, BackendConfig};
    pub use crate::function::{
        ActionCtx, ConvexError, Doc, Document, FunctionError, FunctionInfo, Identity, MutationCtx,
        Patch, QueryCtx,
    };
    pub use crate::query::{
        Order, PaginationOptions, PaginationResult, Scored, VectorQuery, VectorResult, field,
    };
    pub use crate::scheduler::{Crons, JobState, ScheduledFunction};
    pub use crate::schema::{Schema, SearchIndex, TableDefinition, VectorIndex, v};
    pub use crate::storage::StorageFile;
    pub use crate::store::Durability;
    pub use crate::testing::TestBackend;
    pub use crate::value::{DocumentId, Id, TableType, Value};
    pub use crate::{
        action, http_action, internal_action, internal_mutation, internal_query, mutation, query,
    };
}

/// Items used by the code that the macros generate. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use futures::future::BoxFuture;
    pub use linkme;
    pub use schemars;
    pub use serde;

    use crate::function::{FunctionEntry, FunctionError, IntoFunctionOutput};
    use crate::value::Value;

    /// Every function registered by a macro in any crate linked into the binary.
    #[linkme::distributed_slice]
    pub static FUNCTIONS: [FunctionEntry];

    /// An HTTP action's return value as the router expects it.
    pub fn into_http_result<E: Into<FunctionError>>(
        result: Result<crate::http::HttpResponse, E>,
    ) -> Result<crate::http::HttpResponse, FunctionError> {
        result.map_err(Into::into)
    }

    /// The JSON schema of `T`, as a plain function pointer for [`FunctionEntry`].
    pub fn schema_for<T: schemars::JsonSchema>() -> schemars::Schema {
        schemars::SchemaGenerator::default().into_root_schema_for::<T>()
    }

    /// The JSON schema of what `T` serializes to (a function's return value):
    /// unlike [`schema_for`], which describes what `T` accepts, an `Option`
    /// field is always present (as `null` when `None`) unless it is skipped.
    pub fn output_schema_for<T: schemars::JsonSchema>() -> schemars::Schema {
        schemars::generate::SchemaSettings::default()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>()
    }

    /// Compile-time check that an argument type can cross the wire.
    pub fn assert_arg<T: serde::Serialize + serde::de::DeserializeOwned + schemars::JsonSchema>() {}

    /// Decodes a function's argument object into its generated argument struct.
    pub fn decode_args<T: serde::de::DeserializeOwned>(args: Value) -> Result<T, FunctionError> {
        crate::value::from_value(args).map_err(|e| FunctionError::invalid_arguments(e.to_string()))
    }

    /// Encodes a function's return value.
    pub fn encode_output<R: IntoFunctionOutput>(result: R) -> Result<Value, FunctionError> {
        result.into_function_output()
    }
}
