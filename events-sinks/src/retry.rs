use std::time::Duration;

/// When to try a failed delivery again: exponential backoff with jitter.
///
/// The n-th retry waits a random time in `[b/2, b]` where
/// `b = min(initial * 2^(n-1), max)` ("equal jitter": senders that failed together do
/// not retry together, and the wait still grows). A receiver's `Retry-After` replaces
/// the computed wait when it is longer.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The first retry's upper bound.
    pub initial_backoff: Duration,
    /// No wait is longer than this (except a longer `Retry-After`).
    pub max_backoff: Duration,
    /// Retries after the first attempt before an event goes to the dead letter; `None`
    /// retries until the sink is closed and its deadline passes.
    pub max_retries: Option<u32>,
    /// One attempt's time limit: connecting, sending, and reading the answer.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_retries: Some(8),
            timeout: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first), with jitter from `rng`.
    pub fn backoff(&self, retry: u32, rng: &mut fastrand::Rng) -> Duration {
        let doublings = retry.saturating_sub(1).min(30);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff);
        let half = ceiling / 2;
        let jitter = rng.u64(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter)
    }

    /// Whether retry number `retry` may happen.
    pub fn allows(&self, retry: u32) -> bool {
        self.max_retries.is_none_or(|max| retry <= max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_stops_at_the_maximum() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for (retry, ceiling) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            for _ in 0..100 {
                let wait = policy.backoff(retry, &mut rng);
                let ceiling = Duration::from_millis(ceiling);
                assert!(wait >= ceiling / 2 && wait <= ceiling, "{retry}: {wait:?}");
            }
        }
    }

    #[test]
    fn max_retries_bounds_the_attempts() {
        let policy = RetryPolicy {
            max_retries: Some(2),
            ..RetryPolicy::default()
        };
        assert!(policy.allows(1) && policy.allows(2) && !policy.allows(3));
        let forever = RetryPolicy {
            max_retries: None,
            ..RetryPolicy::default()
        };
        assert!(forever.allows(u32::MAX));
    }
}
