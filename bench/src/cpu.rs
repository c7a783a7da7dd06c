//! CPU time used by other processes during a measurement (Linux only), so a
//! run disturbed by other work on the machine can be recognised.

use std::time::Instant;

/// Clock ticks per second of `/proc/stat` and `/proc/self/stat` (`USER_HZ`,
/// 100 on every mainstream Linux architecture).
const TICKS_PER_SEC: f64 = 100.0;

/// Busy ticks of the whole machine and of this process.
#[derive(Clone, Copy, Debug)]
struct Ticks {
    machine: u64,
    process: u64,
}

/// Reads the busy ticks now; `None` where `/proc` is unavailable.
fn read_ticks() -> Option<Ticks> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu = stat.lines().next()?.strip_prefix("cpu ")?;
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    let machine = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    let own = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &own[own.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 12th and 13th after the name.
    let process = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Ticks { machine, process })
}

/// Started at the beginning of a measurement.
#[derive(Debug)]
pub struct CpuWatch {
    started: Instant,
    ticks: Option<Ticks>,
}

impl CpuWatch {
    /// Starts watching.
    pub fn start() -> Self {
        CpuWatch {
            started: Instant::now(),
            ticks: read_ticks(),
        }
    }

    /// CPU used since the start by this process and by all others, each in
    /// percent of one core; `None` where `/proc` is unavailable.
    pub fn stop(&self) -> Option<CpuUse> {
        let (before, after) = (self.ticks?, read_ticks()?);
        let secs = self.started.elapsed().as_secs_f64();
        if secs <= 0.0 {
            return None;
        }
        let percent = |ticks: u64| ticks as f64 / TICKS_PER_SEC / secs * 100.0;
        let machine = after.machine.saturating_sub(before.machine);
        let own = after.process.saturating_sub(before.process);
        Some(CpuUse {
            own: percent(own),
            others: percent(machine.saturating_sub(own)),
        })
    }
}

/// CPU use over a measurement, in percent of one core.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuUse {
    /// By this process.
    pub own: f64,
    /// By everything else (other processes and the kernel on their behalf).
    pub others: f64,
}
