//! Convex values: the [`Value`] data model and everything needed to move
//! values across the wire, into storage and in and out of Rust types.
//!
//! This is the lowest layer of the crate and depends on no other module.
//!
//! * [`Value`] — the eight Convex types with their total order, size metric
//!   and accessors.
//! * JSON — [`Value::to_json`] / [`Value::from_json`] implement the exact
//!   wire encoding ("convex encoded JSON"), [`Value::to_clean_json`] the lossy
//!   `json` format of the HTTP API, and [`encode_ts`] / [`decode_ts`] the
//!   base64 encoding of u64 timestamps.
//! * Keys — [`encode_value`] / [`decode_value`] form an order-preserving,
//!   self-delimiting byte encoding used for indexes and storage.
//! * Limits — the constants and `check_*` functions enforcing field-name,
//!   nesting, length and size rules.
//! * Ids — [`DocumentId`] with its IDv6 string form, and the typed [`Id<T>`].
//! * Serde — [`to_value`] / [`from_value`] convert user types; `i64` maps to
//!   `Int64` and every other number to `Float64`.

mod de;
mod de_access;
mod error;
mod id;
mod json;
mod key;
mod limits;
mod ser;
#[cfg(test)]
mod serde_tests;
#[cfg(test)]
mod testing;
#[allow(clippy::module_inception)]
mod value;

pub use de::from_value;
pub use error::ValueError;
pub use id::{DocumentId, Id, InternalId, TableNumber, TableType};
pub use json::{decode_ts, encode_ts};
pub use key::{decode_value, decode_values, encode_value, encode_values, prefix_successor};
pub use limits::{
    MAX_ARGS_SIZE, MAX_ARRAY_LEN, MAX_DOCUMENT_NESTING, MAX_DOCUMENT_SIZE, MAX_FIELD_NAME_LEN,
    MAX_IDENTIFIER_LEN, MAX_OBJECT_FIELDS, MAX_VALUE_NESTING, MAX_VALUE_SIZE, check_document,
    check_field_name, check_identifier, check_value,
};
pub use ser::to_value;
pub use value::Value;
