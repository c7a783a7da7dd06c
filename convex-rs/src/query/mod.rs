//! The query builder: index ranges, filters, ordering and pagination over a
//! transaction, recording precisely what each query examined.
//!
//! ```no_run
//! # use convex_rs::prelude::*;
//! # use convex_rs::query::IndexRange;
//! # #[derive(serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
//! # struct User { name: String, #[serde(rename = "tokenIdentifier")] token_identifier: String }
//! # impl TableType for User { const TABLE_NAME: &'static str = "users"; }
//! # async fn demo(ctx: &QueryCtx) -> Result<(), FunctionError> {
//! let user: Option<Doc<User>> = ctx
//!     .db()
//!     .query::<User>()
//!     .with_index("by_token", IndexRange::new().eq("tokenIdentifier", "abc"))
//!     .unique()
//!     .await?;
//! let recent = ctx.db().query::<User>().order(Order::Desc).filter(field("name").neq("bot")).take(10).await?;
//! # Ok(()) }
//! ```

mod builder;
mod cursor;
mod doc;
mod error;
mod filter;
mod pagination;
mod range;
mod search;
mod vector;

pub use crate::store::Order;
pub use crate::store::text::{
    MAX_PREFIX_EXPANSIONS, MAX_SEARCH_FILTERS, MAX_SEARCH_RESULTS, MAX_SEARCH_TERMS, MAX_TERM_BYTES,
};
pub use crate::store::vector::{
    DEFAULT_VECTOR_RESULTS, MAX_VECTOR_FILTER_CLAUSES, MAX_VECTOR_RESULTS,
};
pub use builder::Query;
pub use cursor::Cursor;
pub use doc::{Doc, FromDocument};
pub use error::QueryError;
pub use filter::{Expr, IntoExpr, field, not};
pub use pagination::{MAX_PAGE_ITEMS, PaginationOptions, PaginationResult};
pub use range::IndexRange;
pub use search::{SearchFilter, SearchIndexBuilder, SearchQuery};
pub(crate) use vector::search_ids as vector_search_ids;
pub use vector::{
    Scored, VectorFilter, VectorFilterBuilder, VectorQuery, VectorResult, VectorSearchQuery,
};
