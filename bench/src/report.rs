//! What the benchmark binaries print and where they keep their databases.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

/// `PASS` or `MISS` for a target.
pub fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "MISS" }
}

/// Latencies sorted, in whole microseconds, for [`crate::measure::percentile`].
pub fn sorted_us(mut latencies: Vec<Duration>) -> Vec<u32> {
    latencies.sort();
    latencies
        .iter()
        .map(|d| u32::try_from(d.as_micros()).unwrap_or(u32::MAX))
        .collect()
}

/// Where benchmark databases go: `dir` if given (created), else `./target`
/// when it exists (a disk, not a tmpfs), else the system's temporary directory.
pub fn bench_root(dir: Option<&Path>) -> std::io::Result<PathBuf> {
    let root = match dir {
        Some(dir) => dir.to_path_buf(),
        None if Path::new("target").is_dir() => PathBuf::from("target"),
        None => std::env::temp_dir(),
    };
    std::fs::create_dir_all(&root)?;
    Ok(root)
}

/// A fresh directory named `prefix…` under [`bench_root`], removed when dropped.
pub fn scratch_dir(dir: Option<&Path>, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let root = bench_root(dir)?;
    tempfile::Builder::new().prefix(prefix).tempdir_in(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_and_sorting() {
        assert_eq!(ms(Duration::from_micros(1_234)), "1.234");
        assert_eq!((verdict(true), verdict(false)), ("PASS", "MISS"));
        let sorted = sorted_us(vec![Duration::from_micros(30), Duration::from_micros(10)]);
        assert_eq!(sorted, [10, 30]);
    }
}
