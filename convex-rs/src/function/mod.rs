//! Functions: the registry the macros fill, the contexts function bodies
//! receive, and the runner that executes them (with OCC retries for mutations).
//!
//! Queries and mutations must be deterministic: a mutation is re-run when it
//! conflicts, and a query is re-run whenever something it read changes, and
//! both must give the same answer for the same database state. So their
//! contexts offer [`QueryCtx::now`] (fixed for the whole transaction) and a
//! seeded [`QueryCtx::rng`]; calling `SystemTime::now()` or an unseeded RNG
//! inside them makes cached results and retries disagree with each other.
//! Actions may do anything, including I/O.

mod args;
mod context;
mod error;
mod identity;
mod mutation_log;
mod path;
mod registry;
mod runner;
mod system;

pub use crate::query::{Doc, FromDocument};
pub use crate::store::Document;
pub(crate) use args::args_from_wire;
pub(crate) use context::LogLines;
pub use context::{
    ActionCtx, DatabaseReader, DatabaseWriter, LogLevel, MutationCtx, Patch, QueryCtx, SystemReader,
};
pub use error::{ConvexError, FailureKind, FunctionError, FunctionFailure};
pub use identity::{Identity, UserIdentity};
pub(crate) use mutation_log::spawn_expiry as spawn_mutation_log_expiry;
pub use mutation_log::{DEFAULT_MUTATION_LOG_RETENTION, expire_mutation_log};
pub use path::{FunctionPath, InvalidPath};
pub use registry::{
    FunctionEntry, FunctionInfo, FunctionKind, IntoFunctionOutput, Invoker, RegisteredFunction,
    Registry, Visibility,
};
pub use runner::{Caller, FunctionOutcome, QueryOutcome, RequestKey, Runner, RunnerConfig};
pub(crate) use system::{insert_row, row_fields, system_transaction, table_number};
