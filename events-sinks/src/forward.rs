use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use events_core::{AnyEvent, Events, Subscription};

use crate::lock;
use crate::{DeadLetter, DeadLetterReason, Sink, SinkError};

/// Feeds a sink from the bus: a subscription like any other, which hands each event to
/// the sink and, when the sink refuses one, writes it to the dead letter.
///
/// A bus handler has nobody to return an error to, so the forwarder keeps the first
/// failure for the owner to [`take`](Self::take_error) (a replay stops on it).
///
/// ```
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
/// use events_core::{Events, WebChatEvent};
/// use events_sinks::{DeadLetter, Forwarder, NdjsonSink, Sink};
///
/// let events = Events::new();
/// let sink = Arc::new(NdjsonSink::to_writer(Vec::new()));
/// let forwarder = Forwarder::new(sink.clone(), DeadLetter::memory());
/// let _subscription = forwarder.subscribe(&events);
/// let event: WebChatEvent = serde_json::from_str(r#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d",
///   "actionState":"offered","actionMediaType":"webchat",
///   "actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,
///   "customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie",
///   "sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#).unwrap();
/// events.emit(&event);
/// assert_eq!(sink.close(Instant::now() + Duration::from_secs(1)).unwrap().delivered, 1);
/// ```
pub struct Forwarder {
    sink: Arc<dyn Sink>,
    dead_letter: DeadLetter,
    refused: AtomicU64,
    lost: AtomicU64,
    error: Mutex<Option<SinkError>>,
}

impl Forwarder {
    /// A forwarder to `sink`; refused events go to `dead_letter`.
    pub fn new(sink: Arc<dyn Sink>, dead_letter: DeadLetter) -> Arc<Self> {
        Arc::new(Forwarder {
            sink,
            dead_letter,
            refused: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            error: Mutex::new(None),
        })
    }

    /// Subscribes to every event on `events`.
    pub fn subscribe(self: &Arc<Self>, events: &Events) -> Subscription {
        let forwarder = Arc::clone(self);
        events.on_any(move |event| forwarder.forward(event))
    }

    /// Hands one event to the sink; on refusal, dead-letters it and keeps the error.
    pub fn forward(&self, event: &AnyEvent) {
        let Err(error) = self.sink.send(event) else {
            return;
        };
        let reason = DeadLetterReason::SendFailed {
            error: error.to_string(),
        };
        let kept = match self.dead_letter.write_event("forward", &reason, event) {
            Ok(()) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                error
            }
            // Neither the sink nor the dead letter took it: that is the error to report,
            // and the event is lost.
            Err(dead) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                dead
            }
        };
        lock(&self.error).get_or_insert(kept);
    }

    /// Events the sink refused (and the dead letter took).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Events the sink refused and the dead letter could not take either.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Whether a refusal happened and has not been taken.
    pub fn failed(&self) -> bool {
        lock(&self.error).is_some()
    }

    /// The first refusal since the last call, if any.
    pub fn take_error(&self) -> Option<SinkError> {
        lock(&self.error).take()
    }
}

impl fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forwarder")
            .field("sink", &self.sink)
            .field("refused", &self.refused())
            .finish_non_exhaustive()
    }
}
