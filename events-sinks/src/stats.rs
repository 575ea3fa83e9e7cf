use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a sink has done so far.
///
/// `retried` counts event deliveries attempted again (an event in a batch sent three
/// times counts two); `queued*` are the events accepted but not yet delivered or
/// dead-lettered, and their bytes (serialized JSON plus idempotency key), with the
/// highest values seen. A sink that writes synchronously never has anything queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Events the receiver acknowledged (or that were written).
    pub delivered: u64,
    /// Event deliveries attempted again after a failure.
    pub retried: u64,
    /// Events written to the dead letter.
    pub dead_lettered: u64,
    /// Events the sink took and then could neither deliver nor dead-letter: written into
    /// a buffer whose write then failed (a closed pipe, a full disk), or refused by a
    /// dead letter that could not be written either. Never silent: the write's error is
    /// returned too.
    pub lost: u64,
    /// Events accepted and not yet resolved, now.
    pub queued: usize,
    /// Their bytes, now.
    pub queued_bytes: usize,
    /// The most events ever pending at once.
    pub peak_queued: usize,
    /// The most bytes ever pending at once.
    pub peak_queued_bytes: usize,
}

impl fmt::Display for SinkStats {
    /// The replay command's final line: `delivered N, retried N, dead-lettered N`, and
    /// `, lost N` when something was lost.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "delivered {}, retried {}, dead-lettered {}",
            self.delivered, self.retried, self.dead_lettered
        )?;
        if self.lost > 0 {
            write!(f, ", lost {}", self.lost)?;
        }
        Ok(())
    }
}

/// The counters every sink keeps, shared with its worker.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) delivered: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) lost: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SinkStats {
        SinkStats {
            delivered: self.delivered.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            lost: self.lost.load(Ordering::Relaxed),
            ..SinkStats::default()
        }
    }
}
