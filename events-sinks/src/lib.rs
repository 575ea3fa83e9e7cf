//! Sinks for web-action events: where events go after the bus, without losing one.
//!
//! - [`NdjsonSink`]: one event per line to a file or stdout, unknown and enriched fields
//!   included. Needs nothing running.
//! - [`DataLayerSink`]: objects shaped for a tag manager's data layer,
//!   `{"event": "webchat_offered", ...the event's fields}`, as NDJSON or a JSON array.
//! - [`HttpSink`]: batches to a collector URL, by size and age, with retries (exponential
//!   backoff with jitter, `Retry-After` honoured up to [`RetryPolicy::max_retry_after`]), a
//!   bounded queue whose full-queue policy the caller picks, and a [`DeadLetter`] for what
//!   the collector refuses.
//! - [`NatsSink`]: JetStream publishes to `<prefix>.<mediaType>.<state>`, each with the
//!   event's [idempotency key](idempotency_key) as `Nats-Msg-Id`, acknowledged one by one.
//!
//! Cargo features, all on by default: `http` (the HTTP sink: hyper and tokio), `tls`
//! (`https://` collectors: rustls with ring and the system's root certificates; implies
//! `http`), `nats` (the NATS JetStream sink: async-nats, with its own TLS for `tls://`).
//! `nats` also brings [`cluster`]: partition leases and checkpoints in JetStream
//! key-value buckets, the foundation for splitting a stream between processes.
//! Without them the crate is the file sinks and the dead letter, on serde_json alone; a
//! spec naming a sink left out is refused with [`SpecError::NotCompiled`], naming the
//! feature.
//!
//! Every sink implements [`Sink`], and a [`Forwarder`] feeds one from the bus
//! ([`events_core::Events`]) like any other subscription. The rule they share: an event handed to
//! [`Sink::send`] is delivered, or written to the dead letter with the reason, or the
//! call returns an error. Nothing is dropped silently: when even the dead letter cannot be
//! written, or a buffered write fails, the events count as [`SinkStats::lost`] and the
//! error is reported.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use events_core::{WebChatEvent, AnyEvent};
//! use events_sinks::{NdjsonSink, Sink};
//!
//! let event: WebChatEvent = serde_json::from_str(r#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d",
//!   "actionState":"offered","actionMediaType":"webchat",
//!   "actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,
//!   "customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie",
//!   "sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d","pageTitle":"Checkout"}"#).unwrap();
//! let sink = NdjsonSink::to_writer(Vec::new());
//! sink.send(&event as &AnyEvent).unwrap();
//! let stats = sink.close(Instant::now() + Duration::from_secs(1)).unwrap();
//! assert_eq!(stats.delivered, 1);
//! ```
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[cfg(feature = "nats")]
pub mod cluster;
mod datalayer;
mod dead_letter;
mod forward;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "nats")]
mod nats;
mod ndjson;
#[cfg(any(feature = "http", feature = "nats"))]
mod pipeline;
mod queue;
mod receipt;
pub mod rejected;
mod retry;
mod spec;
mod stats;

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use events_core::AnyEvent;

pub use datalayer::{datalayer_field_name, original_field_name, DataLayerFormat, DataLayerSink};
pub use dead_letter::{DeadLetter, DeadLetterReason};
pub use forward::Forwarder;
#[cfg(feature = "http")]
pub use http::{HttpConfig, HttpSink};
#[cfg(feature = "nats")]
pub use nats::{NatsConfig, NatsSink, StreamSetup};
pub use ndjson::{FileOptions, Fsync, NdjsonSink};
pub use queue::{FullQueuePolicy, QueueConfig};
pub use receipt::{Confirmation, Fate, Receipt};
pub use rejected::RejectedLines;
pub use retry::RetryPolicy;
pub use spec::{open, BodyShape, Output, SinkOptions, SinkSpec, SpecError};
pub use stats::SinkStats;

/// Where events go: a file, a collector, a broker.
///
/// Implementations are shared between threads (`&self` everywhere), so one sink can be
/// fed from several bus subscriptions at once.
pub trait Sink: Send + Sync + std::fmt::Debug {
    /// Hands one event to the sink. `Ok` means the sink has taken responsibility for it:
    /// written, queued for delivery, or put in the dead letter with the reason. An error
    /// means it did not, and the caller still holds the event.
    fn send(&self, event: &AnyEvent) -> Result<(), SinkError>;

    /// Hands one event to the sink, like [`send`](Self::send), and tells `receipt` once
    /// the event is durable at the receiver, dead-lettered or lost: what a collector
    /// waits for before it acknowledges a request. `Ok` means as for `send`; on an error
    /// the receipt was not told about the event.
    ///
    /// Sinks that buffer resolve their receipts at the next [`commit`](Self::commit),
    /// so that many senders share one write and flush (group commit); sinks that deliver
    /// in the background resolve them as their receiver acknowledges. The default, for a
    /// sink that does neither, sends and flushes each event on its own.
    fn send_confirmed(&self, event: &AnyEvent, receipt: &Receipt) -> Result<(), SinkError> {
        self.send(event)?;
        receipt.expect(1);
        match self.flush(Instant::now() + DEFAULT_CONFIRM_TIMEOUT) {
            Ok(()) => receipt.resolve(Fate::Delivered, 1),
            Err(error) => {
                receipt.resolve(Fate::Lost, 1);
                tracing::error!(%error, "flushing a confirmed event");
            }
        }
        Ok(())
    }

    /// [`send_confirmed`](Self::send_confirmed) of an event whose JSON a caller already
    /// wrote ([`DynEvent::write_json`](events_core::DynEvent::write_json), on another
    /// thread): a sink that sends that JSON takes it rather than writing it again. The
    /// default ignores it.
    fn send_confirmed_json(
        &self,
        event: &AnyEvent,
        json: &[u8],
        receipt: &Receipt,
    ) -> Result<(), SinkError> {
        let _ = json;
        self.send_confirmed(event, receipt)
    }

    /// Makes the events sent so far with [`send_confirmed`](Self::send_confirmed)
    /// durable and resolves their receipts (a file sink: writes, flushes, syncs per its
    /// [`Fsync`]), or, for a sink that delivers in the background, sends a partial batch
    /// now instead of waiting for it to fill or age. It does not wait for background
    /// deliveries. An error means the buffered events were lost (their receipts say so).
    fn commit(&self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Waits until every event sent so far is delivered or dead-lettered, sending partial
    /// batches at once. Fails with [`SinkError::FlushTimeout`] if `deadline` passes first;
    /// the events still pending stay queued.
    fn flush(&self, deadline: Instant) -> Result<(), SinkError>;

    /// Shuts the sink down: flushes until `deadline`, then puts whatever is still pending
    /// (queued or in flight) into the dead letter, and stops. Later sends fail with
    /// [`SinkError::Closed`]. Returns the final counts.
    fn close(&self, deadline: Instant) -> Result<SinkStats, SinkError>;

    /// Starts shutting down without waiting, from any thread (a signal handler's, say):
    /// the sink stops taking events, and a [`send`](Self::send) blocked on a full queue
    /// returns at once. That send, and every later one, puts its event in the dead letter
    /// with reason `shutdown` and returns `Ok`. Pending deliveries get until `deadline`,
    /// then go to the dead letter with reason `shutdown` too; [`close`](Self::close)
    /// waits for that and returns the counts. Calling it again with an earlier deadline
    /// shortens the wait (a second Ctrl-C: dead-letter what is pending now).
    ///
    /// The default does nothing: a sink that writes synchronously has nothing pending
    /// and never blocks a send for room.
    fn shut_down(&self, deadline: Instant) {
        let _ = deadline;
    }

    /// Whether the sink can deliver now, for a readiness probe (`webaction serve`'s
    /// `GET /readyz`): an error says why not — its receiver cannot be reached, its
    /// connection is down. A network sink may try to connect, for up to `timeout`, so
    /// call it off an async runtime's workers. The default, for a sink that writes
    /// locally: ready (a failed write shows in [`SinkStats::lost`] instead).
    fn ready(&self, timeout: Duration) -> Result<(), SinkError> {
        let _ = timeout;
        Ok(())
    }

    /// The counts so far.
    fn stats(&self) -> SinkStats;
}

/// How long the default [`Sink::send_confirmed`] waits for its flush.
const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(30);

/// Locks a sink's shared state. A poisoned lock only means another thread panicked
/// mid-write; the data (a file handle, counters) is still usable, and losing events or
/// dead letters over it would be worse.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The key a receiver uses to drop duplicates of one event: `"<actionId>:<state>"`.
///
/// One action reports each state at most once, so the pair names one event; a retried
/// delivery carries the same key. The HTTP sink sends it as `messageId` (track batches),
/// the NATS sink as the `Nats-Msg-Id` header.
pub fn idempotency_key(event: &AnyEvent) -> String {
    let mut key = String::with_capacity(36 + 1 + event.state_name().len());
    key.push_str(
        event
            .action_id()
            .hyphenated()
            .encode_lower(&mut events_core::Uuid::encode_buffer()),
    );
    key.push(':');
    key.push_str(event.state_name());
    key
}

/// Why a sink could not take an event, flush, or start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing to a file, stdout or the dead letter failed.
    #[error("cannot write to {target}: {source}")]
    Io {
        /// The file's path, or `stdout`.
        target: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// An event could not be written as JSON (a custom field that does not serialize).
    #[error("event {key} cannot be written as JSON: {source}")]
    Json {
        /// The event's idempotency key.
        key: String,
        /// What serde said.
        source: serde_json::Error,
    },
    /// The sink was closed; the event was not taken.
    #[error("the sink is closed")]
    Closed,
    /// The deadline passed while events were still pending.
    #[error("flush deadline passed with {pending} event(s) still pending")]
    FlushTimeout {
        /// Events queued or in flight when the deadline passed.
        pending: usize,
    },
    /// The sink's background worker could not start.
    #[error("cannot start the sink's worker: {0}")]
    Worker(std::io::Error),
    /// The NATS server could not be reached or the stream could not be set up.
    #[error("NATS at {url}: {reason}")]
    Nats {
        /// The server URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The receiver cannot be reached now (a readiness probe's answer).
    #[error("{target} cannot be reached: {source}")]
    Unreachable {
        /// The receiver's address.
        target: String,
        /// Why the connection failed.
        source: std::io::Error,
    },
    /// The configuration is unusable, e.g. a URL the HTTP sink cannot send to.
    #[error("invalid sink configuration: {0}")]
    Config(String),
}
