//! The scheduler's notion of time, injectable so tests can move it forward
//! instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::sync::watch;

/// Where the scheduler reads the time (milliseconds since the Unix epoch)
/// and how it waits for a moment to come.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> f64;

    /// Resolves at `deadline_ms` or soon after (callers re-check
    /// [`now_ms`](Self::now_ms), so waking early is harmless).
    fn sleep_until(&self, deadline_ms: f64) -> BoxFuture<'static, ()>;
}

/// A shared [`Clock`].
#[derive(Clone)]
pub struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    /// Wraps a clock.
    pub fn new(clock: impl Clock) -> Self {
        SharedClock(Arc::new(clock))
    }

    /// The wall clock.
    pub fn system() -> Self {
        SharedClock::new(SystemClock)
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> f64 {
        self.0.now_ms()
    }

    /// Resolves at `deadline_ms` or soon after.
    pub fn sleep_until(&self, deadline_ms: f64) -> BoxFuture<'static, ()> {
        self.0.sleep_until(deadline_ms)
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock::system()
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedClock({} ms)", self.now_ms())
    }
}

/// The wall clock, waiting with tokio's timer.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> f64 {
        crate::store::wall_clock_millis()
    }

    fn sleep_until(&self, deadline_ms: f64) -> BoxFuture<'static, ()> {
        let wait_ms = (deadline_ms - self.now_ms()).clamp(0.0, 1e12);
        Box::pin(tokio::time::sleep(Duration::from_secs_f64(
            wait_ms / 1000.0,
        )))
    }
}

/// A clock that only moves when told to: for tests of time-based behavior
/// (delays, cron schedules, retention) without real waiting.
///
/// ```
/// use std::time::Duration;
/// use convex_rs::scheduler::{Clock, ManualClock};
///
/// let clock = ManualClock::new(1_000.0);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000.0);
/// ```
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<f64>>,
}

impl ManualClock {
    /// A clock standing at `now_ms` milliseconds since the Unix epoch.
    pub fn new(now_ms: f64) -> Self {
        ManualClock {
            now: Arc::new(watch::Sender::new(now_ms)),
        }
    }

    /// Moves the clock forward by `by`, waking whatever waits for a moment up
    /// to the new time.
    pub fn advance(&self, by: Duration) {
        self.now
            .send_modify(|now| *now += by.as_secs_f64() * 1000.0);
    }

    /// Sets the clock to `now_ms` (it may move backwards, as wall clocks do).
    pub fn set(&self, now_ms: f64) {
        self.now.send_replace(now_ms);
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock({} ms)", self.now_ms())
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> f64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, deadline_ms: f64) -> BoxFuture<'static, ()> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone nothing
            // will ever move the time, so wait forever rather than spin.
            if now.wait_for(|now| *now >= deadline_ms).await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_advanced_past_their_deadline() {
        let clock = ManualClock::new(0.0);
        let sleeper = tokio::spawn(clock.sleep_until(1_500.0));
        clock.advance(Duration::from_secs(1));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woken")
            .expect("no panic");
    }

    #[tokio::test]
    async fn the_system_clock_sleeps_until_the_deadline() {
        let clock = SystemClock;
        let start = clock.now_ms();
        clock.sleep_until(start + 20.0).await;
        assert!(clock.now_ms() >= start + 19.0);
    }
}
