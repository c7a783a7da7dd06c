//! Integration tests of the engine, mostly through the example apps.

mod bank_concurrency;
mod chat;
mod codegen;
mod common;
mod gc;
mod lease;
mod limits;
mod mvcc;
mod occ;
mod occ_property;
mod pagination;
mod persistence;
mod raw;
mod restart;
mod scheduler;
mod search;
mod search_property;
mod snapshot;
mod vector;
