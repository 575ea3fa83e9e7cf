use std::time::Duration;

/// When to try a failed delivery again: exponential backoff with jitter.
///
/// The n-th retry waits a random time in `[b/2, b]` where
/// `b = min(initial * 2^(n-1), max)` ("equal jitter": senders that failed together do
/// not retry together, and the wait still grows). A receiver's `Retry-After` replaces
/// the computed wait when it is longer, up to [`max_retry_after`](Self::max_retry_after):
/// a collector saying "come back in an hour" (or in `u64::MAX` seconds) must not stall a
/// replay for that long. A capped wait still counts as a retry, and the retry limit still
/// applies.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The first retry's upper bound.
    pub initial_backoff: Duration,
    /// No computed wait is longer than this (a longer `Retry-After` is obeyed up to
    /// [`max_retry_after`](Self::max_retry_after)).
    pub max_backoff: Duration,
    /// Retries after the first attempt before an event goes to the dead letter; `None`
    /// retries until the sink is closed and its deadline passes.
    pub max_retries: Option<u32>,
    /// One attempt's time limit: connecting, sending, and reading the answer.
    pub timeout: Duration,
    /// The longest wait a receiver's `Retry-After` can impose; a longer one waits this
    /// long, then retries. Default: 60 s.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            max_retries: Some(8),
            timeout: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
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

    /// The wait before retry number `retry` when the receiver asked for `retry_after`:
    /// the longer of the backoff and the request, the request capped at
    /// [`max_retry_after`](Self::max_retry_after).
    pub fn wait(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        let asked = retry_after.unwrap_or_default().min(self.max_retry_after);
        self.backoff(retry, rng).max(asked)
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
    fn retry_after_is_obeyed_up_to_the_cap() {
        let policy = RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            max_retry_after: Duration::from_secs(60),
            ..RetryPolicy::default()
        };
        let mut rng = fastrand::Rng::with_seed(7);
        let wait = |after: Option<u64>, rng: &mut fastrand::Rng| {
            policy.wait(1, after.map(Duration::from_secs), rng)
        };
        assert!(wait(None, &mut rng) <= Duration::from_millis(10));
        assert_eq!(wait(Some(3), &mut rng), Duration::from_secs(3));
        assert_eq!(wait(Some(3600), &mut rng), Duration::from_secs(60));
        assert_eq!(wait(Some(u64::MAX), &mut rng), Duration::from_secs(60));
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
