//! Tests of the sync server and HTTP API: the official Rust client, raw
//! protocol sessions, bad input, exactly-once re-sent mutations.

mod auth;
mod bad_input;
mod common;
mod http;
mod http_actions;
mod latency;
mod limits;
mod official_client;
mod our_client;
mod raw_protocol;
mod search;
mod storage;
mod vector;
