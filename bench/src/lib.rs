//! What the `convex-bench` binaries share: timing windows and latency
//! recording, and the Zipf account sampler of the bank workloads.

pub mod measure;
pub mod zipf;
