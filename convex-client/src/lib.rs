//! Rust client for convex-rs servers.
//!
//! The websocket sync client arrives with the sync server; this crate is a
//! placeholder so the workspace layout is stable.
