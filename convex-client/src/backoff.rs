//! Reconnect backoff and session ids.

use std::time::Duration;

/// Exponential backoff with jitter: the n-th consecutive retry waits between
/// half and all of `min(initial × 2ⁿ, max)`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    initial: Duration,
    max: Duration,
    retries: u32,
}

impl Backoff {
    pub(crate) fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max: max.max(initial),
            retries: 0,
        }
    }

    /// Number of retries since the last [`reset`](Self::reset).
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// Forgets past failures (after a successful sync).
    pub(crate) fn reset(&mut self) {
        self.retries = 0;
    }

    /// The delay before the next attempt, given `jitter` uniform in `[0, 1)`,
    /// and counts the attempt.
    pub(crate) fn next_delay(&mut self, jitter: f64) -> Duration {
        let exponent = self.retries.min(32);
        self.retries = self.retries.saturating_add(1);
        let base = self
            .initial
            .checked_mul(1u32 << exponent.min(31))
            .map_or(self.max, |d| d.min(self.max));
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        base.mul_f64(0.5 + 0.5 * jitter)
    }
}

/// A random UUID v4 in its hyphenated lowercase form.
pub(crate) fn new_session_id(bytes: [u8; 16]) -> String {
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = b.iter().map(|byte| format!("{byte:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(15));
        let full: Vec<u128> = (0..10).map(|_| b.next_delay(1.0).as_millis()).collect();
        assert_eq!(
            full,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 15000, 15000]
        );
        assert_eq!(b.retries(), 10);
        b.reset();
        assert_eq!(b.next_delay(0.0), Duration::from_millis(50));
        assert_eq!(b.next_delay(0.5), Duration::from_millis(150));
        for _ in 0..100 {
            assert!(b.next_delay(f64::NAN) <= Duration::from_secs(15));
        }
    }

    #[test]
    fn session_ids_are_uuid_v4() {
        let id = new_session_id([0xff; 16]);
        assert_eq!(id, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        let id = new_session_id([0; 16]);
        assert_eq!(id, "00000000-0000-4000-8000-000000000000");
    }
}
