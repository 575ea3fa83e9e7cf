//! How a sink that delivers in the background queues and batches: plain settings, known
//! to every build (the machinery behind them, `pipeline.rs`, comes with the `http` or
//! `nats` feature).

use std::time::Duration;

use crate::RetryPolicy;

/// What [`Sink::send`](crate::Sink::send) does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FullQueuePolicy {
    /// Wait until the sink has room: the producer slows to the receiver's pace, and
    /// nothing is given up while the receiver is down.
    #[default]
    Block,
    /// Write the event to the dead letter (reason `queue_full`) and return at once: the
    /// producer never waits, and the dead letter keeps what the receiver could not take.
    Spill,
}

/// The queue and batching of a sink that delivers in the background.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueConfig {
    /// Events accepted and not yet delivered or dead-lettered, in flight included: the
    /// memory bound. At this many, [`full_queue`](Self::full_queue) applies.
    pub capacity: usize,
    /// Events per batch (per HTTP request; per group of JetStream publishes).
    pub batch_size: usize,
    /// A batch smaller than `batch_size` goes out once its oldest event is this old.
    pub max_batch_age: Duration,
    /// Batches being delivered (or waiting to retry) at once. Above 1, batches can land
    /// out of order (a retried batch lands after later ones); receivers order by their own
    /// means or set 1.
    pub max_in_flight: usize,
    /// What a send does when the queue is full.
    pub full_queue: FullQueuePolicy,
    /// When and how often to retry.
    pub retry: RetryPolicy,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            capacity: 10_000,
            batch_size: 500,
            max_batch_age: Duration::from_millis(500),
            max_in_flight: 4,
            full_queue: FullQueuePolicy::Block,
            retry: RetryPolicy::default(),
        }
    }
}
