//! The sync layer: the Convex websocket protocol, per-socket sessions and
//! the subscription hub that keeps every subscribed query up to date.

mod hub;
mod interval_index;
pub mod protocol;
mod session;
mod vector_watch;

pub use hub::{Hub, QueryResult, RoundStats};
pub use interval_index::{IntervalIndex, SubscriptionId};
pub use session::{
    DEFAULT_MAX_OUTGOING_BYTES, DEFAULT_MAX_PENDING_MUTATIONS, DEFAULT_MAX_SUBSCRIPTIONS, Incoming,
    MutationQueue, Outgoing, OutgoingBudget, SessionConfig, run_session,
};
