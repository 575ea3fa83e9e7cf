//! The bounded queue and delivery loop behind the HTTP and NATS sinks: producers enqueue
//! serialized events on their own threads; one worker thread batches them by size and
//! age and hands batches to a [`Transport`], retrying and dead-lettering per event.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use events_core::{AnyEvent, Uuid};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::lock;
use crate::ndjson::write_event;
use crate::queue::{FullQueuePolicy, QueueConfig};
use crate::receipt::{Fate, Receipt};
use crate::stats::Counters;
use crate::{idempotency_key, DeadLetter, DeadLetterReason, Sink, SinkError, SinkStats};

/// One event, ready to send: its JSON, key and what subjects and shapes need. Each
/// transport reads what it needs, so a build with one of them leaves some fields unread.
#[derive(Debug)]
#[cfg_attr(not(all(feature = "http", feature = "nats")), allow(dead_code))]
pub(crate) struct Queued {
    pub(crate) key: Box<str>,
    pub(crate) json: Bytes,
    pub(crate) media_type: &'static str,
    pub(crate) state: &'static str,
    pub(crate) customer_id: Uuid,
    pub(crate) action_id: Uuid,
    /// Unique to this event in this process (see [`Queued::publish_id`]).
    pub(crate) ordinal: u64,
    enqueued: Instant,
    /// Told the event's fate, when it was sent with one.
    receipt: Option<Receipt>,
}

impl Queued {
    /// The event ready to send, with its JSON when the caller wrote it already.
    pub(crate) fn new(event: &AnyEvent, json: Option<&[u8]>) -> Result<Self, SinkError> {
        let json = match json {
            Some(json) => json.to_vec(),
            None => {
                let mut json = Vec::with_capacity(512);
                write_event(&mut json, event)?;
                json
            }
        };
        Ok(Queued {
            key: idempotency_key(event).into_boxed_str(),
            json: Bytes::from(json),
            media_type: event.media_type_name(),
            state: event.state_name(),
            customer_id: event.customer_id(),
            action_id: event.action_id(),
            ordinal: NEXT_ORDINAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            enqueued: Instant::now(),
            receipt: None,
        })
    }

    /// An id for this one hand-over to the sink, the same through its retries but not
    /// shared with another event of the same key: `<key>:<process>-<ordinal>`. A
    /// partitioned stream needs it as `Nats-Msg-Id`: an invalid copy of an event (a
    /// repeated state, a first event that is not initial) has the same idempotency key as
    /// the valid one, and JetStream would drop whichever came second, so the consumer's
    /// tracker would judge other events than the input's.
    pub(crate) fn publish_id(&self) -> String {
        static PROCESS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let process = PROCESS.get_or_init(|| fastrand::u64(..));
        format!("{}:{process:016x}-{}", self.key, self.ordinal)
    }

    /// What this event holds in the queue: the figure the memory bound counts.
    pub(crate) fn size(&self) -> usize {
        self.key.len() + self.json.len()
    }
}

/// Numbers every event handed to a queue, for [`Queued::publish_id`].
static NEXT_ORDINAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The outcome of one attempt to deliver one event. `Refused` and per-event outcomes are
/// the NATS sink's; `Rejected` the HTTP sink's.
#[derive(Debug, Clone)]
#[cfg_attr(not(all(feature = "http", feature = "nats")), allow(dead_code))]
pub(crate) enum Attempt {
    Delivered,
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    Rejected {
        status: u16,
        body: String,
    },
    Refused {
        error: String,
    },
}

/// The outcome of one attempt to deliver a batch: one for all, or one per event.
#[derive(Debug)]
#[cfg_attr(not(feature = "nats"), allow(dead_code))]
pub(crate) enum Delivery {
    Batch(Attempt),
    PerEvent(Vec<Attempt>),
}

/// How batches reach the receiver.
pub(crate) trait Transport: Send + Sync + 'static {
    /// The name written as `sink` in the dead letter.
    const NAME: &'static str;

    /// One attempt at `batch`, bounded by `timeout`.
    fn deliver(&self, batch: &[Queued], timeout: Duration)
        -> impl Future<Output = Delivery> + Send;
}

/// A sink whose events go through a [`Pipeline`] (a bounded queue, batches, retries):
/// the HTTP and NATS sinks. [`Sink`] is implemented once for all of them, below.
pub(crate) trait Pipelined: Send + Sync + std::fmt::Debug {
    /// The sink's pipeline.
    fn pipeline(&self) -> &Pipeline;

    /// [`Sink::ready`]: whether the receiver is reachable now. Default: ready.
    fn ready(&self, timeout: Duration) -> Result<(), SinkError> {
        let _ = timeout;
        Ok(())
    }
}

impl<P: Pipelined> Sink for P {
    fn send(&self, event: &AnyEvent) -> Result<(), SinkError> {
        self.pipeline().send(event, None, None)
    }
    fn send_confirmed(&self, event: &AnyEvent, receipt: &Receipt) -> Result<(), SinkError> {
        self.pipeline().send(event, None, Some(receipt))
    }
    fn send_confirmed_json(
        &self,
        event: &AnyEvent,
        json: &[u8],
        receipt: &Receipt,
    ) -> Result<(), SinkError> {
        self.pipeline().send(event, Some(json), Some(receipt))
    }
    fn commit(&self) -> Result<(), SinkError> {
        self.pipeline().commit();
        Ok(())
    }
    fn flush(&self, deadline: Instant) -> Result<(), SinkError> {
        self.pipeline().flush(deadline)
    }
    fn close(&self, deadline: Instant) -> Result<SinkStats, SinkError> {
        self.pipeline().close(deadline)
    }
    fn shut_down(&self, deadline: Instant) {
        self.pipeline().shut_down(deadline)
    }
    fn ready(&self, timeout: Duration) -> Result<(), SinkError> {
        Pipelined::ready(self, timeout)
    }
    fn stats(&self) -> SinkStats {
        self.pipeline().stats()
    }
}

/// The producer side, owned by a sink.
#[derive(Debug)]
pub(crate) struct Pipeline {
    shared: Arc<Shared>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Debug)]
struct Shared {
    name: &'static str,
    config: QueueConfig,
    state: Mutex<State>,
    /// Signalled when events are resolved (room in the queue, maybe idle) or on close.
    resolved: Condvar,
    /// Wakes the worker: a batch may be ready, a flush or close was asked.
    work: Notify,
    /// The close deadline, once closing; in-flight batches watch it.
    closing: watch::Sender<Option<Instant>>,
    counters: Counters,
    dead_letter: DeadLetter,
}

#[derive(Debug, Default)]
struct State {
    items: VecDeque<Queued>,
    pending: usize,
    pending_bytes: usize,
    peak_pending: usize,
    peak_bytes: usize,
    flushing: usize,
    /// Events queued before the last [`Pipeline::commit`] still waiting to be batched:
    /// they go out now, without waiting for their batch to fill or age.
    committed: usize,
    closed: bool,
    /// Shut down by [`Pipeline::shut_down`]: sends dead-letter their event (`shutdown`).
    interrupted: bool,
}

impl Pipeline {
    /// Starts the worker thread, which runs `runtime` until the pipeline is closed.
    pub(crate) fn start<T: Transport>(
        transport: T,
        config: QueueConfig,
        dead_letter: DeadLetter,
        runtime: tokio::runtime::Runtime,
    ) -> Result<Self, SinkError> {
        if config.capacity == 0 || config.batch_size == 0 || config.max_in_flight == 0 {
            return Err(SinkError::Config(
                "capacity, batch_size and max_in_flight must be at least 1".to_owned(),
            ));
        }
        let shared = Arc::new(Shared {
            name: T::NAME,
            config,
            state: Mutex::new(State::default()),
            resolved: Condvar::new(),
            work: Notify::new(),
            closing: watch::channel(None).0,
            counters: Counters::default(),
            dead_letter,
        });
        let worker_shared = Arc::clone(&shared);
        let worker = std::thread::Builder::new()
            .name(format!("events-sinks-{}", T::NAME))
            .spawn(move || runtime.block_on(run(worker_shared, Arc::new(transport))))
            .map_err(SinkError::Worker)?;
        Ok(Pipeline {
            shared,
            worker: Mutex::new(Some(worker)),
        })
    }

    pub(crate) fn send(
        &self,
        event: &AnyEvent,
        json: Option<&[u8]>,
        receipt: Option<&Receipt>,
    ) -> Result<(), SinkError> {
        let mut queued = Queued::new(event, json)?;
        if let Some(receipt) = receipt {
            receipt.expect(1);
            queued.receipt = Some(receipt.clone());
        }
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        loop {
            if state.interrupted {
                drop(state);
                let reason = DeadLetterReason::Shutdown { last_error: None };
                return shared.dead_letter_one(&reason, &queued);
            }
            if state.closed {
                return Err(SinkError::Closed);
            }
            if state.pending < shared.config.capacity {
                break;
            }
            match shared.config.full_queue {
                FullQueuePolicy::Block => {
                    state = shared
                        .resolved
                        .wait(state)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                FullQueuePolicy::Spill => {
                    drop(state);
                    let reason = DeadLetterReason::QueueFull {
                        capacity: shared.config.capacity,
                    };
                    return shared.dead_letter_one(&reason, &queued);
                }
            }
        }
        state.pending += 1;
        state.pending_bytes += queued.size();
        state.peak_pending = state.peak_pending.max(state.pending);
        state.peak_bytes = state.peak_bytes.max(state.pending_bytes);
        state.items.push_back(queued);
        let len = state.items.len();
        drop(state);
        // The worker needs waking when a batch starts (to time its age) and when it is
        // full; waking it for every event would only cost.
        if len == 1 || len >= shared.config.batch_size {
            shared.work.notify_one();
        }
        Ok(())
    }

    pub(crate) fn flush(&self, deadline: Instant) -> Result<(), SinkError> {
        let shared = &*self.shared;
        let mut state = lock(&shared.state);
        state.flushing += 1;
        shared.work.notify_one();
        let result = loop {
            if state.pending == 0 {
                break Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                break Err(SinkError::FlushTimeout {
                    pending: state.pending,
                });
            }
            state = shared
                .resolved
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        };
        state.flushing -= 1;
        drop(state);
        result.and_then(|()| shared.dead_letter.check())
    }

    /// Sends what is queued now without waiting for batches to fill or age.
    pub(crate) fn commit(&self) {
        let mut state = lock(&self.shared.state);
        state.committed = state.items.len();
        drop(state);
        self.shared.work.notify_one();
    }

    pub(crate) fn shut_down(&self, deadline: Instant) {
        self.shared.begin_close(deadline, true);
    }

    pub(crate) fn close(&self, deadline: Instant) -> Result<SinkStats, SinkError> {
        let shared = &*self.shared;
        shared.begin_close(deadline, false);
        if let Some(worker) = lock(&self.worker).take() {
            if worker.join().is_err() {
                return Err(SinkError::Worker(std::io::Error::other(
                    "the sink's worker thread panicked",
                )));
            }
        }
        let stats = self.stats();
        if stats.queued != 0 {
            return Err(SinkError::FlushTimeout {
                pending: stats.queued,
            });
        }
        shared.dead_letter.check()?;
        Ok(stats)
    }

    pub(crate) fn stats(&self) -> SinkStats {
        let state = lock(&self.shared.state);
        SinkStats {
            queued: state.pending,
            queued_bytes: state.pending_bytes,
            peak_queued: state.peak_pending,
            peak_queued_bytes: state.peak_bytes,
            ..self.shared.counters.snapshot()
        }
    }
}

impl Drop for Pipeline {
    /// A sink dropped without [`close`](crate::Sink::close) still flushes, for up to ten
    /// seconds, and dead-letters the rest: dropping must not lose events either.
    fn drop(&mut self) {
        if lock(&self.worker).is_some() {
            if let Err(error) = self.close(Instant::now() + Duration::from_secs(10)) {
                tracing::error!(%error, sink = self.shared.name, "closing a dropped sink");
            }
        }
    }
}

enum Next {
    Batch(Vec<Queued>),
    Expired(Vec<Queued>),
    Wait(Option<Instant>),
    Done,
}

impl Shared {
    /// Closes the queue (and with `interrupt`, makes sends dead-letter); the deadline
    /// only ever moves earlier, so a close after a shutdown keeps the shutdown's.
    fn begin_close(&self, deadline: Instant, interrupt: bool) {
        {
            let mut state = lock(&self.state);
            state.closed = true;
            state.interrupted |= interrupt;
        }
        // Producers blocked on a full queue must learn that it closed.
        self.resolved.notify_all();
        self.closing.send_modify(|current| {
            *current = Some(current.map_or(deadline, |current| current.min(deadline)));
        });
        self.work.notify_one();
    }

    /// Dead-letters one event a send could not queue; an error if even that failed (the
    /// caller still holds the event).
    fn dead_letter_one(&self, reason: &DeadLetterReason, queued: &Queued) -> Result<(), SinkError> {
        let written = self
            .dead_letter
            .write(self.name, reason, &queued.key, &queued.json);
        if let Some(receipt) = &queued.receipt {
            // On an error the caller still holds the event; the receipt must not wait
            // for it.
            receipt.resolve(
                if written.is_ok() {
                    Fate::DeadLettered
                } else {
                    Fate::Lost
                },
                1,
            );
        }
        written?;
        Counters::add(&self.counters.dead_lettered, 1);
        Ok(())
    }

    fn next(&self) -> Next {
        let mut state = lock(&self.state);
        let deadline = *self.closing.borrow();
        let now = Instant::now();
        if deadline.is_some_and(|deadline| now >= deadline) && !state.items.is_empty() {
            return Next::Expired(state.items.drain(..).collect());
        }
        let Some(oldest) = state.items.front() else {
            return if state.closed {
                Next::Done
            } else {
                Next::Wait(None)
            };
        };
        let due = oldest.enqueued + self.config.max_batch_age;
        let urgent = state.flushing > 0 || state.closed || state.committed > 0;
        if state.items.len() >= self.config.batch_size || urgent || now >= due {
            let n = state.items.len().min(self.config.batch_size);
            state.committed = state.committed.saturating_sub(n);
            Next::Batch(state.items.drain(..n).collect())
        } else {
            Next::Wait(Some(due))
        }
    }

    /// Marks events as resolved: frees their room in the queue, and tells their
    /// receipts their `fate`.
    fn resolve(&self, events: &[Queued], fate: Fate) {
        if events.is_empty() {
            return;
        }
        for event in events {
            if let Some(receipt) = &event.receipt {
                receipt.resolve(fate, 1);
            }
        }
        let bytes: usize = events.iter().map(Queued::size).sum();
        let mut state = lock(&self.state);
        state.pending -= events.len();
        state.pending_bytes -= bytes;
        drop(state);
        self.resolved.notify_all();
    }

    fn dead_letter(&self, events: &[Queued], reason: &DeadLetterReason) {
        if events.is_empty() {
            return;
        }
        let records = events.iter().map(|q| (&*q.key, &q.json[..]));
        // A failed write is remembered by the dead letter and reported by flush and
        // close; the worker has no caller to return it to, so the events count as lost.
        let (counter, fate) = match self.dead_letter.write_all(self.name, reason, records) {
            Ok(()) => (&self.counters.dead_lettered, Fate::DeadLettered),
            Err(_) => (&self.counters.lost, Fate::Lost),
        };
        Counters::add(counter, events.len());
        self.resolve(events, fate);
    }
}

async fn run<T: Transport>(shared: Arc<Shared>, transport: Arc<T>) {
    let permits = Arc::new(Semaphore::new(shared.config.max_in_flight));
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.try_join_next().is_some() {}
        match shared.next() {
            Next::Batch(batch) => {
                let permit = Arc::clone(&permits)
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                in_flight.spawn(deliver(
                    Arc::clone(&shared),
                    Arc::clone(&transport),
                    batch,
                    permit,
                ));
            }
            Next::Expired(events) => {
                shared.dead_letter(&events, &DeadLetterReason::Shutdown { last_error: None })
            }
            Next::Wait(until) => {
                let sleep = async {
                    match until {
                        Some(until) => tokio::time::sleep_until(until.into()).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = shared.work.notified() => {}
                    () = sleep => {}
                }
            }
            Next::Done => {
                while in_flight.join_next().await.is_some() {}
                return;
            }
        }
    }
}

/// Delivers one batch: attempts, retries with backoff, dead letters; resolves every event.
async fn deliver<T: Transport>(
    shared: Arc<Shared>,
    transport: Arc<T>,
    mut batch: Vec<Queued>,
    _permit: OwnedSemaphorePermit,
) {
    let policy = &shared.config.retry;
    let mut closing = shared.closing.subscribe();
    let mut rng = fastrand::Rng::new();
    let mut retries = 0u32;
    let mut last_error = None;
    loop {
        let now = Instant::now();
        let deadline = *closing.borrow_and_update();
        if deadline.is_some_and(|deadline| now >= deadline) {
            shared.dead_letter(&batch, &DeadLetterReason::Shutdown { last_error });
            return;
        }
        if retries > 0 {
            Counters::add(&shared.counters.retried, batch.len());
        }
        let outcome = tokio::select! {
            outcome = transport.deliver(&batch, policy.timeout) => outcome,
            () = deadline_passes(closing.clone()) => Delivery::Batch(Attempt::Retry {
                error: "the sink was closed and its deadline passed mid-attempt".to_owned(),
                retry_after: None,
            }),
        };
        let attempts = match outcome {
            Delivery::Batch(attempt) => vec![attempt; batch.len()],
            Delivery::PerEvent(attempts) => attempts,
        };
        debug_assert_eq!(attempts.len(), batch.len());
        let mut delivered = Vec::new();
        let mut again = Vec::new();
        let mut rejected: Vec<(DeadLetterReason, Vec<Queued>)> = Vec::new();
        let mut retry_after = None;
        for (event, attempt) in batch.into_iter().zip(attempts) {
            match attempt {
                Attempt::Delivered => delivered.push(event),
                Attempt::Rejected { .. } | Attempt::Refused { .. } => {
                    let reason = match attempt {
                        Attempt::Rejected { status, body } => {
                            DeadLetterReason::Rejected { status, body }
                        }
                        Attempt::Refused { error } => DeadLetterReason::Refused { error },
                        _ => unreachable!("matched above"),
                    };
                    match rejected.last_mut() {
                        Some((last, events)) if *last == reason => events.push(event),
                        _ => rejected.push((reason, vec![event])),
                    }
                }
                Attempt::Retry {
                    error,
                    retry_after: after,
                } => {
                    last_error = Some(error);
                    retry_after = retry_after.max(after);
                    again.push(event);
                }
            }
        }
        Counters::add(&shared.counters.delivered, delivered.len());
        shared.resolve(&delivered, Fate::Delivered);
        for (reason, events) in &rejected {
            shared.dead_letter(events, reason);
        }
        if again.is_empty() {
            return;
        }
        retries += 1;
        if !policy.allows(retries) {
            let reason = DeadLetterReason::RetriesExhausted {
                attempts: retries,
                last_error: last_error.unwrap_or_default(),
            };
            shared.dead_letter(&again, &reason);
            return;
        }
        batch = again;
        let wait = policy.wait(retries, retry_after, &mut rng);
        tracing::debug!(sink = shared.name, events = batch.len(), ?wait, error = ?last_error, "retrying");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = deadline_passes(closing.clone()) => {}
        }
    }
}

/// Completes once the sink is closing and its deadline has passed; a deadline moved
/// earlier (a second signal) is noticed while waiting.
async fn deadline_passes(mut closing: watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *closing.borrow_and_update();
        let passes = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = passes => return,
            changed = closing.changed() => {
                if changed.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}
