//! What the `convex-bench` binaries share: timing windows and latency
//! recording, printing and scratch directories, and the Zipf account
//! sampler of the bank workloads.

pub mod measure;
pub mod report;
pub mod zipf;
