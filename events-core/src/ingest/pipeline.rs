//! The ingest entry point: bytes → decode → enrich → track → emit.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use crate::any::AnyEvent;
use crate::bus::Events;
use crate::ingest::decode::{Decoded, Decoder, DEFAULT_MAX_LINE_BYTES};
use crate::ingest::error::{ErrorKind, IllegalTransition, IngestError};
use crate::ingest::tracker::{
    Reader, RestoreError, Step, Tracker, TrackerConfig, TrackerStats, Writer,
};
use crate::registry::Registry;

/// Where accepted events go: the bus ([`Events`]), or any function of `&AnyEvent`.
pub trait Emit {
    /// Receives a valid event.
    fn emit(&mut self, event: &AnyEvent);

    /// Receives an event whose state does not follow its action's last accepted one, under
    /// [`IllegalPolicy::Deliver`]. By default it goes where valid events go.
    fn emit_flagged(&mut self, event: &AnyEvent, illegal: &IllegalTransition) {
        let _ = illegal;
        self.emit(event);
    }

    /// Whether [`emit_step`](Self::emit_step) needs the state each action was in before
    /// its event. Finding it costs one more tracker lookup per event, so it is only looked
    /// up for emitters that say so. Default: no.
    fn wants_steps(&self) -> bool {
        false
    }

    /// Receives a valid event with the state its action was in before it (`None` for an
    /// action's first event), when [`wants_steps`](Self::wants_steps) says so: what a
    /// report of the transitions taken needs, without remembering every live action
    /// itself (the tracker already does, within its cap). By default it goes to
    /// [`emit`](Self::emit).
    fn emit_step(&mut self, event: &AnyEvent, from: Option<&'static str>) {
        let _ = from;
        self.emit(event);
    }
}

impl<F: FnMut(&AnyEvent)> Emit for F {
    fn emit(&mut self, event: &AnyEvent) {
        self(event)
    }
}

/// The bus: accepted events go to its subscribers ([`Events::emit_any`]). The bus has no
/// flag for illegal transitions, so under [`IllegalPolicy::Deliver`] subscribers get them
/// like valid ones; the [`Outcome`] and [`IngestStats`] still tell them apart.
impl Emit for Events {
    fn emit(&mut self, event: &AnyEvent) {
        self.emit_any(event);
    }
}

/// A shared bus, as [`Events`].
impl Emit for &Events {
    fn emit(&mut self, event: &AnyEvent) {
        self.emit_any(event);
    }
}

/// Discards every event: for checking a stream without subscribers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl Emit for Discard {
    fn emit(&mut self, _: &AnyEvent) {}
}

/// What happens to a well-formed event whose state does not follow its action's last
/// accepted state. In every case it is counted, and the tracked state is not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IllegalPolicy {
    /// Emit it through [`Emit::emit_flagged`], with the transition it breaks.
    Deliver,
    /// Do not emit it; hand it back as [`Outcome::Rejected`] (with the decoded event) for
    /// the caller to keep, e.g. in a dead-letter file. The default.
    #[default]
    Quarantine,
    /// Do not emit it, and return [`Outcome::Dropped`]; it still counts in
    /// [`IngestStats`].
    Drop,
}

/// How long an action may stay idle before the tracker forgets it. An action idle for
/// longer is forgotten no earlier than that and, as long as lines keep arriving, by about
/// twice the timeout ([`TrackerConfig::idle_timeout`] has the exact bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleTimeout {
    /// Wall-clock time since the action's last accepted event, counted in whole seconds
    /// since ingest started, the timeout rounded up to a second: an action is forgotten
    /// only once it has been idle strictly longer than the timeout.
    Time(Duration),
    /// Lines ingested since the action's last accepted event: deterministic, for replays
    /// of files where wall-clock time means nothing. `Events(n)` keeps an action known
    /// while at most `n` other lines (of any kind, valid or not) come between two of its
    /// events: with `Events(1)`, back-to-back events and events one line apart pass, and
    /// two lines apart the action is forgotten.
    Events(u32),
}

/// What became of one line.
#[derive(Debug)]
#[must_use]
#[non_exhaustive]
pub enum Outcome {
    /// A valid event, emitted.
    Emitted,
    /// An illegal transition emitted flagged ([`IllegalPolicy::Deliver`]).
    Flagged(IllegalTransition),
    /// An illegal transition, not emitted ([`IllegalPolicy::Drop`]).
    Dropped(IllegalTransition),
    /// Not emitted: the line is not a valid event, or breaks its lifecycle under
    /// [`IllegalPolicy::Quarantine`].
    Rejected(Rejection),
}

impl Outcome {
    /// Whether the line was a valid event.
    pub fn is_valid(&self) -> bool {
        matches!(self, Outcome::Emitted)
    }

    /// The error, when the line was not a valid event.
    pub fn error(&self) -> Option<IngestError> {
        match self {
            Outcome::Emitted => None,
            Outcome::Flagged(illegal) | Outcome::Dropped(illegal) => {
                Some(IngestError::IllegalTransition(illegal.clone()))
            }
            Outcome::Rejected(rejection) => Some(rejection.error.clone()),
        }
    }
}

/// A line that was not emitted, and why.
#[derive(Debug)]
pub struct Rejection {
    /// Why.
    pub error: IngestError,
    /// The decoded (and enriched) event, when the line was a valid event that broke its
    /// lifecycle.
    pub event: Option<Box<AnyEvent>>,
}

/// Counts of everything ingest saw. Every line is in exactly one of `valid`, `flagged`,
/// `dropped` and `rejected`; every line with an error also counts in `by_kind`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Lines ingested.
    pub events: u64,
    /// Valid events, emitted.
    pub valid: u64,
    /// Illegal transitions emitted flagged.
    pub flagged: u64,
    /// Illegal transitions dropped.
    pub dropped: u64,
    /// Lines rejected (not events, or quarantined illegal transitions).
    pub rejected: u64,
    /// Lines with an error, by [`ErrorKind::index`].
    pub by_kind: [u64; 7],
}

impl IngestStats {
    /// How many lines had an error of `kind`.
    pub fn count(&self, kind: ErrorKind) -> u64 {
        self.by_kind[kind.index()]
    }
}

/// An enrichment function ([`IngestBuilder::enrich`]), boxed.
pub type Enrich = Box<dyn FnMut(&mut AnyEvent) + Send>;

/// Sets up an [`Ingest`]; from [`Ingest::builder`].
pub struct IngestBuilder {
    registry: Registry,
    max_line_bytes: usize,
    tracker: TrackerConfig,
    idle_timeout: Option<IdleTimeout>,
    policy: IllegalPolicy,
    enrich: Option<Enrich>,
}

impl fmt::Debug for IngestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestBuilder")
            .field("registry", &self.registry)
            .field("max_line_bytes", &self.max_line_bytes)
            .field("tracker", &self.tracker)
            .field("idle_timeout", &self.idle_timeout)
            .field("policy", &self.policy)
            .field("enrich", &self.enrich.is_some())
            .finish()
    }
}

impl IngestBuilder {
    /// The longest line accepted, in bytes (default 1 MiB); longer ones are `too_large`.
    pub fn max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max;
        self
    }

    /// The most actions tracked at once (default 1,000,000). A value above
    /// [`TrackerConfig::MAX_ACTIONS`] is clamped to it.
    pub fn max_actions(mut self, max: usize) -> Self {
        self.tracker.max_actions = max;
        self
    }

    /// How many ended actions are remembered to name the end state of a late event and
    /// refuse a replayed one (default 65,536): all of them up to that count, then the oldest
    /// are forgotten first. A value above [`TrackerConfig::MAX_REMEMBER_ENDED`] is clamped
    /// to it.
    pub fn remember_ended(mut self, count: usize) -> Self {
        self.tracker.remember_ended = count;
        self
    }

    /// When idle actions are forgotten (default: after 30 minutes), or `None` for never
    /// (the cap still bounds memory).
    pub fn idle_timeout(mut self, timeout: Option<IdleTimeout>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// What to do with illegal transitions (default: quarantine).
    pub fn illegal(mut self, policy: IllegalPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// A function that may add or change fields of every decoded event before it is
    /// tracked and emitted. It must be `Send`: a pipeline may be moved to another thread,
    /// and one that ingests on several threads (`webaction check --threads`, or a server
    /// with one `Ingest` per worker) runs it on those threads. Declared fields are changed on the typed event
    /// ([`downcast_mut`](crate::DynEvent#method.downcast_mut)); others through [`extra_mut`](crate::DynEvent::extra_mut).
    ///
    /// ```
    /// use events_core::ingest::Ingest;
    /// use events_core::{Registry, Uuid, WebChatEvent};
    ///
    /// let conversation = Uuid::from_u128(42); // e.g. from the chat widget
    /// let ingest = Ingest::builder(Registry::builtin())
    ///     .enrich(move |event| {
    ///         if let Some(chat) = event.downcast_mut::<WebChatEvent>() {
    ///             chat.conversation_id = Some(conversation);
    ///         }
    ///         event.extra_mut().insert("pipeline".into(), "web".into());
    ///     })
    ///     .build(|event: &events_core::AnyEvent| println!("{}", event.to_json()));
    /// # drop(ingest);
    /// ```
    pub fn enrich(mut self, enrich: impl FnMut(&mut AnyEvent) + Send + 'static) -> Self {
        self.enrich = Some(Box::new(enrich));
        self
    }

    /// Takes the enrichment out (the pipeline then enriches nothing), for a caller that
    /// decodes elsewhere and runs it there itself, on each decoded event before
    /// [`Ingest::ingest_decoded`]: the verdicts are the same, as the tracker sees the
    /// enriched event either way.
    pub fn take_enrich(&mut self) -> Option<Enrich> {
        self.enrich.take()
    }

    /// The decoder the pipeline will have (registry and line limit): clones of it
    /// decode for [`Ingest::ingest_decoded`] on other threads.
    pub fn decoder(&self) -> Decoder {
        Decoder::new(self.registry.clone()).with_max_line_bytes(self.max_line_bytes)
    }

    /// The pipeline, emitting accepted events to `emit`.
    pub fn build<E: Emit>(self, emit: E) -> Ingest<E> {
        let mut tracker_config = self.tracker;
        tracker_config.idle_timeout = self.idle_timeout.map(|timeout| match timeout {
            // A tick per line: `n` lines between two events of an action are `n + 1` ticks.
            IdleTimeout::Events(lines) => lines.saturating_add(1),
            // Rounded up: the tracker forgets only past the timeout, never before it.
            IdleTimeout::Time(time) => {
                u32::try_from(time.as_nanos().div_ceil(1_000_000_000)).unwrap_or(u32::MAX)
            }
        });
        let clock = match self.idle_timeout {
            Some(IdleTimeout::Time(_)) => Clock::Seconds {
                since: Instant::now(),
                at: 0,
            },
            _ => Clock::Events,
        };
        Ingest {
            tracker: Tracker::with_config(&self.registry, tracker_config),
            decoder: self.decoder(),
            enrich: self.enrich,
            policy: self.policy,
            stats: IngestStats::default(),
            clock,
            batch: Batch::default(),
            emit,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    /// A tick per line.
    Events,
    /// A tick per second: tick `at` at the instant `since` (the start, or a restore).
    Seconds {
        /// When the tick was `at`.
        since: Instant,
        /// The tick then.
        at: u32,
    },
}

/// The ingest pipeline: each line is decoded through the registry, enriched, checked
/// against its action's lifecycle, and emitted; anything else is counted and handed back.
///
/// ```
/// use events_core::ingest::{ErrorKind, Ingest, Outcome};
/// use events_core::{AnyEvent, Registry};
///
/// let mut topics = Vec::new();
/// let mut ingest = Ingest::builder(Registry::builtin())
///     .build(|event: &AnyEvent| topics.push(event.topic().to_string()));
/// let offered = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
///  "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
///  "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
///  "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
/// assert!(ingest.ingest(offered).is_valid());
/// // The same event again: a repeated state, quarantined by default.
/// let outcome = ingest.ingest(offered);
/// assert_eq!(outcome.error().unwrap().kind(), ErrorKind::IllegalTransition);
/// assert!(ingest.ingest(b"{not json").error().is_some());
/// assert_eq!((ingest.stats().valid, ingest.stats().rejected), (1, 2));
/// drop(ingest);
/// assert_eq!(topics, ["webchat:offered"]);
/// ```
pub struct Ingest<E> {
    decoder: Decoder,
    tracker: Tracker,
    enrich: Option<Enrich>,
    policy: IllegalPolicy,
    stats: IngestStats,
    clock: Clock,
    batch: Batch,
    emit: E,
}

impl<E: fmt::Debug> fmt::Debug for Ingest<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ingest")
            .field("decoder", &self.decoder)
            .field("tracker", &self.tracker)
            .field("enrich", &self.enrich.is_some())
            .field("policy", &self.policy)
            .field("stats", &self.stats)
            .field("emit", &self.emit)
            .finish()
    }
}

impl Ingest<Discard> {
    /// A builder with the defaults: 1 MiB lines, 1,000,000 live actions, idle actions
    /// forgotten after 30 minutes, illegal transitions quarantined, no enrichment.
    pub fn builder(registry: Registry) -> IngestBuilder {
        IngestBuilder {
            registry,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            tracker: TrackerConfig::default(),
            idle_timeout: Some(IdleTimeout::Time(Duration::from_secs(30 * 60))),
            policy: IllegalPolicy::default(),
            enrich: None,
        }
    }
}

impl<E: Emit> Ingest<E> {
    /// Ingests one line (one JSON object, without its line break).
    pub fn ingest(&mut self, line: &[u8]) -> Outcome {
        let decoded = self.decoder.decode(line);
        self.ingest_decoded(decoded)
    }

    /// Ingests one line that was decoded elsewhere with this pipeline's
    /// [`decoder`](IngestBuilder::decoder) (a clone of it, on another thread): the rest
    /// of [`ingest`](Self::ingest) — count, enrich, track, emit — with the same outcome.
    /// What lets a server decode on its request threads and keep only the tracking on
    /// the one thread that owns the tracker.
    pub fn ingest_decoded(&mut self, decoded: Result<Decoded, IngestError>) -> Outcome {
        self.stats.events += 1;
        let now = self.tick(self.stats.events);
        let Decoded {
            media_index,
            mut event,
        } = match decoded {
            Ok(decoded) => decoded,
            Err(error) => return reject(&mut self.stats, error),
        };
        if let Some(enrich) = &mut self.enrich {
            enrich(&mut *event);
        }
        let step = step_of(media_index, &*event, now);
        let judged = self.tracker.track_step(&step);
        settle(&mut self.stats, &mut self.emit, self.policy, event, judged).0
    }

    /// Ingests a batch of lines, with the same outcomes, emits and counts as
    /// [`ingest`](Self::ingest) line by line, and hands each line's outcome to `each` with
    /// its position in `lines`, in order.
    ///
    /// Faster when many lines are at hand: the lines are decoded first, then tracked
    /// together ([`Tracker::track_batch`]), so that the tracker's cache misses overlap.
    /// The one difference a caller can see is when enrichment runs: on every line of the
    /// batch before the first of them is emitted.
    ///
    /// ```
    /// use events_core::ingest::{Ingest, Outcome};
    /// use events_core::{AnyEvent, Registry};
    ///
    /// let offered = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
    ///  "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
    ///  "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    ///  "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
    /// let mut ingest = Ingest::builder(Registry::builtin()).build(|_: &AnyEvent| {});
    /// let mut valid = Vec::new();
    /// ingest.ingest_batch(&[&offered[..], b"{not json", &offered[..]], |i, outcome| {
    ///     valid.push((i, outcome.is_valid()));
    /// });
    /// assert_eq!(valid, [(0, true), (1, false), (2, false)]);
    /// ```
    pub fn ingest_batch<L: AsRef<[u8]>>(&mut self, lines: &[L], each: impl FnMut(usize, Outcome)) {
        self.ingest_batch_with(
            lines.len(),
            |decoder, i| decoder.decode(lines[i].as_ref()),
            |_, events| events,
            each,
            drop,
        );
    }

    /// [`ingest_batch`](Self::ingest_batch) of lines decoded elsewhere, as
    /// [`ingest_decoded`](Self::ingest_decoded) is to [`ingest`](Self::ingest): the
    /// same outcomes, emits and counts as the lines ingested one by one.
    pub fn ingest_decoded_batch(
        &mut self,
        lines: Vec<Result<Decoded, IngestError>>,
        each: impl FnMut(usize, Outcome),
    ) {
        self.ingest_decoded_lines(lines, each, drop);
    }

    /// [`ingest_decoded_batch`](Self::ingest_decoded_batch), giving the events back in
    /// `spent` once they are settled (all but those an [`Outcome`] holds): for a caller
    /// that decoded them on another thread, to drop them there. An allocator frees
    /// fastest on the thread that allocated (its per-thread cache); freed on the thread
    /// that tracks, each event is a free into another thread's heap, under that heap's
    /// lock, on the one thread every event goes through.
    pub fn ingest_decoded_batch_keeping(
        &mut self,
        lines: Vec<Result<Decoded, IngestError>>,
        spent: &mut Vec<Box<AnyEvent>>,
        each: impl FnMut(usize, Outcome),
    ) {
        self.ingest_decoded_lines(lines, each, |event| spent.push(event));
    }

    fn ingest_decoded_lines(
        &mut self,
        lines: Vec<Result<Decoded, IngestError>>,
        each: impl FnMut(usize, Outcome),
        spent: impl FnMut(Box<AnyEvent>),
    ) {
        let len = lines.len();
        let mut lines = lines.into_iter();
        self.ingest_batch_with(
            len,
            |_, _| lines.next().expect("a decoded line per position"),
            |_, events| events,
            each,
            spent,
        );
    }

    /// [`ingest_batch`](Self::ingest_batch) for a pipeline that sees only some lines of a
    /// stream (one worker of several): each line comes with its position in the stream
    /// (counting from 1 every line ingest would count: blank lines excluded), which is the
    /// tick of [`IdleTimeout::Events`]. So idleness is counted in the stream's lines, not
    /// in the lines this pipeline saw.
    pub fn ingest_batch_at<L: AsRef<[u8]>>(
        &mut self,
        lines: &[(u64, L)],
        each: impl FnMut(usize, Outcome),
    ) {
        self.ingest_batch_with(
            lines.len(),
            |decoder, i| decoder.decode(lines[i].1.as_ref()),
            |i, _| lines[i].0,
            each,
            drop,
        );
    }

    fn ingest_batch_with(
        &mut self,
        len: usize,
        mut decode: impl FnMut(&Decoder, usize) -> Result<Decoded, IngestError>,
        position: impl Fn(usize, u64) -> u64,
        mut each: impl FnMut(usize, Outcome),
        mut spent: impl FnMut(Box<AnyEvent>),
    ) {
        let mut decoded = std::mem::take(&mut self.batch.decoded);
        let mut steps = std::mem::take(&mut self.batch.steps);
        decoded.clear();
        steps.clear();
        for i in 0..len {
            self.stats.events += 1;
            let now = self.tick(position(i, self.stats.events));
            match decode(&self.decoder, i) {
                Ok(Decoded {
                    media_index,
                    mut event,
                }) => {
                    if let Some(enrich) = &mut self.enrich {
                        enrich(&mut *event);
                    }
                    steps.push(step_of(media_index, &*event, now));
                    decoded.push(Ok(event));
                }
                Err(error) => decoded.push(Err(error)),
            }
        }
        let (stats, emit, policy) = (&mut self.stats, &mut self.emit, self.policy);
        let mut lines = decoded.drain(..).enumerate();
        self.tracker.track_batch(&steps, |_, judged| {
            let (i, event) =
                settle_failed(&mut lines, stats, &mut each).expect("a decoded line per step");
            let (outcome, event) = settle(stats, emit, policy, event, judged);
            each(i, outcome);
            if let Some(event) = event {
                spent(event);
            }
        });
        let rest = settle_failed(&mut lines, stats, &mut each);
        debug_assert!(rest.is_none(), "a step per decoded line");
        drop(lines);
        self.batch = Batch { decoded, steps };
    }

    /// The tracker's tick for the line at `position` (1-based) in the stream.
    fn tick(&self, position: u64) -> u32 {
        match self.clock {
            Clock::Events => position as u32,
            Clock::Seconds { since, at } => at.wrapping_add(since.elapsed().as_secs() as u32),
        }
    }

    /// Counts a line that was never read whole because it exceeds the line limit (a
    /// reader that stops buffering at the limit reports it here), and returns its error.
    pub fn too_large(&mut self, len: usize) -> IngestError {
        self.stats.events += 1;
        let error = IngestError::TooLarge {
            len,
            max: self.decoder.max_line_bytes(),
        };
        self.stats.rejected += 1;
        self.stats.by_kind[error.kind().index()] += 1;
        error
    }

    /// Counts so far.
    pub fn stats(&self) -> &IngestStats {
        &self.stats
    }

    /// The decoder: the registry and the line limit.
    pub fn decoder(&self) -> &Decoder {
        &self.decoder
    }

    /// The lifecycle tracker.
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// What the tracker forgot so far (ended, expired, evicted actions).
    pub fn tracker_stats(&self) -> TrackerStats {
        self.tracker.stats()
    }

    /// Forgets every tracked action (counts are kept).
    pub fn reset_tracker(&mut self) {
        self.tracker.clear();
    }

    /// What this ingest knows — its counts, its idle clock and its tracker's whole state
    /// ([`Tracker::checkpoint`]) — as bytes for [`restore`](Self::restore): what a process
    /// that takes over a partition of the stream needs to judge the next lines exactly as
    /// this one would have.
    ///
    /// ```
    /// use events_core::ingest::Ingest;
    /// use events_core::{AnyEvent, Registry};
    ///
    /// let offered = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
    ///  "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
    ///  "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
    ///  "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
    /// let mut first = Ingest::builder(Registry::builtin()).build(|_: &AnyEvent| {});
    /// assert!(first.ingest(offered).is_valid());
    ///
    /// let mut next = Ingest::builder(Registry::builtin()).build(|_: &AnyEvent| {});
    /// next.restore(&first.checkpoint()).unwrap();
    /// assert_eq!(next.stats(), first.stats());
    /// // The same event again is a repeat, as it would have been for `first`.
    /// assert!(!next.ingest(offered).is_valid());
    /// ```
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut out = Writer(&mut bytes);
        out.0.extend_from_slice(INGEST_MAGIC);
        out.u8(INGEST_VERSION);
        match self.clock {
            Clock::Events => out.u8(0),
            Clock::Seconds { .. } => {
                out.u8(1);
                out.u32(self.tick(0));
                out.u64(unix_seconds());
            }
        }
        let IngestStats {
            events,
            valid,
            flagged,
            dropped,
            rejected,
            by_kind,
        } = self.stats;
        for count in [events, valid, flagged, dropped, rejected] {
            out.u64(count);
        }
        out.u8(by_kind.len() as u8);
        for count in by_kind {
            out.u64(count);
        }
        self.tracker.write_checkpoint(&mut bytes);
        bytes
    }

    /// Replaces this ingest's counts, idle clock and tracked actions with a
    /// [`checkpoint`](Self::checkpoint)'s; the limits, registry, enrichment and emitter
    /// stay this ingest's. On an error nothing changes.
    ///
    /// With [`IdleTimeout::Time`], the time between the checkpoint and the restore counts
    /// as idle time (by the wall clock, as the two may be different processes on different
    /// machines); both must use the same kind of idle timeout
    /// ([`RestoreError::ClockMismatch`]).
    pub fn restore(&mut self, checkpoint: &[u8]) -> Result<(), RestoreError> {
        let mut input = Reader::new(checkpoint);
        input.header("ingest", INGEST_MAGIC, INGEST_VERSION)?;
        let clock = match (input.u8("the idle clock")?, self.clock) {
            (0, Clock::Events) => Clock::Events,
            (1, Clock::Seconds { .. }) => {
                let tick = input.u32("the idle clock")?;
                let then = input.u64("the idle clock")?;
                let gap = unix_seconds().saturating_sub(then);
                Clock::Seconds {
                    since: Instant::now(),
                    at: tick.wrapping_add(gap as u32),
                }
            }
            (found @ (0 | 1), expected) => {
                let unit = |events: bool| if events { "lines" } else { "seconds" };
                return Err(RestoreError::ClockMismatch {
                    found: unit(found == 0),
                    expected: unit(matches!(expected, Clock::Events)),
                });
            }
            (other, _) => {
                return Err(RestoreError::Corrupt {
                    reason: format!("idle clock kind {other}"),
                })
            }
        };
        let mut stats = IngestStats::default();
        for count in [
            &mut stats.events,
            &mut stats.valid,
            &mut stats.flagged,
            &mut stats.dropped,
            &mut stats.rejected,
        ] {
            *count = input.u64("the counts")?;
        }
        let kinds = input.u8("the counts")?;
        if usize::from(kinds) != stats.by_kind.len() {
            return Err(RestoreError::Corrupt {
                reason: format!(
                    "{kinds} error kinds counted, this build has {}",
                    stats.by_kind.len()
                ),
            });
        }
        for count in &mut stats.by_kind {
            *count = input.u64("the counts")?;
        }
        let tracked = self.tracker.read_checkpoint(&mut input)?;
        input.finish()?;
        // Everything read and checked: only now does anything change.
        self.tracker.apply(tracked);
        self.stats = stats;
        self.clock = clock;
        Ok(())
    }

    /// Where accepted events go.
    pub fn emitter(&mut self) -> &mut E {
        &mut self.emit
    }

    /// Ends ingest, giving back where events went.
    pub fn into_emitter(self) -> E {
        self.emit
    }
}

const INGEST_MAGIC: &[u8; 4] = b"WAIG";
const INGEST_VERSION: u8 = 1;

/// Seconds since the Unix epoch by the wall clock; 0 if it is set before 1970.
fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// What the tracker needs of a decoded event.
fn step_of(media_index: usize, event: &AnyEvent, now: u32) -> Step {
    Step {
        media_index,
        action_id: event.action_id(),
        state_index: event.state_index(),
        now,
    }
}

/// Settles the lines of a batch that failed to decode, in order, up to the next decoded
/// one, which it returns with its position.
fn settle_failed(
    lines: &mut impl Iterator<Item = (usize, Result<Box<AnyEvent>, IngestError>)>,
    stats: &mut IngestStats,
    each: &mut impl FnMut(usize, Outcome),
) -> Option<(usize, Box<AnyEvent>)> {
    for (i, line) in lines {
        match line {
            Ok(event) => return Some((i, event)),
            Err(error) => each(i, reject(stats, error)),
        }
    }
    None
}

/// Counts a line that is not an event, and hands it back.
fn reject(stats: &mut IngestStats, error: IngestError) -> Outcome {
    stats.rejected += 1;
    stats.by_kind[error.kind().index()] += 1;
    Outcome::Rejected(Rejection { error, event: None })
}

/// Emits, or hands back, a decoded event as the tracker judged it (`Ok` with the state
/// its action was in before), and counts it; gives the event back unless the outcome
/// holds it.
fn settle<E: Emit>(
    stats: &mut IngestStats,
    emit: &mut E,
    policy: IllegalPolicy,
    event: Box<AnyEvent>,
    judged: Result<Option<&'static str>, IllegalTransition>,
) -> (Outcome, Option<Box<AnyEvent>>) {
    match judged {
        Ok(from) => {
            stats.valid += 1;
            if emit.wants_steps() {
                emit.emit_step(&*event, from);
            } else {
                emit.emit(&*event);
            }
            (Outcome::Emitted, Some(event))
        }
        Err(illegal) => {
            stats.by_kind[ErrorKind::IllegalTransition.index()] += 1;
            match policy {
                IllegalPolicy::Deliver => {
                    stats.flagged += 1;
                    emit.emit_flagged(&*event, &illegal);
                    (Outcome::Flagged(illegal), Some(event))
                }
                IllegalPolicy::Drop => {
                    stats.dropped += 1;
                    (Outcome::Dropped(illegal), Some(event))
                }
                IllegalPolicy::Quarantine => {
                    stats.rejected += 1;
                    let rejection = Rejection {
                        error: illegal.into(),
                        event: Some(event),
                    };
                    (Outcome::Rejected(rejection), None)
                }
            }
        }
    }
}

/// Buffers of [`Ingest::ingest_batch`], kept between batches so that a batch allocates
/// nothing but its events.
#[derive(Debug, Default)]
struct Batch {
    decoded: Vec<Result<Box<AnyEvent>, IngestError>>,
    steps: Vec<Step>,
}
