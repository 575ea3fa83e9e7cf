//! The lifecycle tracker: each action's last accepted state, checked against the
//! declaration's transition table, in bounded memory.
//!
//! # Layout, and why
//!
//! Ingest sees every event, so the tracker's cost is per event and its memory per live
//! action. A general-purpose map (`HashMap<Uuid, _>`) rounds its buckets up to a power of
//! two and would need 52 to 69 bytes per action at one million; this table is sized to
//! the cap instead and keeps one 24-byte slot per action (id, last tick, state, media
//! type, a touched bit, the distance from home), in one allocation, so a lookup is one
//! probe sequence in one array. The load factor is the lever on speed: linear probing's
//! clusters grow quickly with it, and each lookup of a new action, and each removal,
//! walks the rest of its cluster. At 5/7 (the layout before this one, with 28-byte
//! slots and a FIFO eviction queue) a new action probed about 6 slots and a removal
//! walked about 6; the table is now at most 11/20 full, which the memory bound pays for
//! by keeping nothing outside the slots: 24 bytes at 20/11 slots per action are 43.6
//! bytes per action at the cap (BENCHMARKS.md has the counts).
//!
//! Why not `hashbrown::HashTable` with a compact entry: its bucket count is a power of
//! two at most 7/8 full, so one million actions take 2²¹ buckets, and the 24-byte slot
//! plus its control byte makes 25 bytes a bucket: 52 bytes per live action at one
//! million, past the 48 the tracker must stay within. Even the smallest entry that still
//! tells actions apart, the id and a state byte (`ingest/tracker_floor`: 17 bytes plus the
//! control byte), takes 37.7 bytes per live action at one million and leaves 10 for the
//! idle clock, the eviction order and the memory of ended actions. So this table is kept;
//! `tracker_floor` measures, in the same run, what such a map costs per event for the
//! same steps.
//!
//! Eviction is CLOCK over the table itself: touching an action sets its slot's touched
//! bit; at the cap, a hand walks the slots from where it last stopped, clearing the bits
//! it passes, and evicts the first action whose bit was clear: one not seen since the
//! hand last came by. Nothing moves while the hand walks, so it clears every bit within
//! one round and evicts within two; over many evictions its steps are paid for by the
//! touches that set the bits it clears, plus the empty slots it passes. A removal's backward shift may move a slot back
//! past the hand; that slot is then looked at a round later, which makes the
//! approximation of least-recently-seen order coarser, nothing worse. (The FIFO queue it
//! replaces kept insertion order among untouched actions, for 11 bytes per action.)
//!
//! Idle expiry ([`TrackerConfig::idle_timeout`]) has two parts. An event of an action idle
//! past the timeout finds it forgotten, at exactly the timeout (one comparison on the
//! slot the lookup read anyway). And a sweep forgets the others: before each event, it
//! visits the slots in index order at a pace of one round of the table per `timeout`
//! ticks, that is `slots × elapsed ÷ timeout` visits for the ticks elapsed since the
//! event before (the remainder carried), and forgets each visited action idle past the
//! timeout. A position is so visited once in every `timeout` ticks, at the first event
//! at or after its turn, and an action idle past the timeout at a visit goes: one last
//! seen at tick `t` is gone by the first event after `t + 2 × timeout`, as the docs of
//! `idle_timeout` promise. Two things move slots relative to the sweep, and each is made
//! good where it happens: a removal that shifts slots from ahead of the sweep to behind
//! it moves the sweep back to the hole and owes the visits it gave back; a growth of the
//! table moves every slot, so it forgets the idle actions while it rehashes them (it
//! reads every slot anyway) and starts the sweep's pace again from that tick.
//!
//! What the sweep costs: `slots ÷ timeout` visits per tick, amortised; each visit reads
//! one slot in a sequential walk. When ticks are coarse against the timeout (seconds
//! with a timeout of a few seconds, many events per second), the visits of a tick come
//! all at the first event of the tick: a third of the table per event with a timeout of
//! 3 ticks. After a gap of `timeout` ticks or more without events, the first event
//! visits the whole table once (every action is idle by then). An empty table is not
//! walked at all.
//!
//! Ended actions leave the live table for a memory of the last `remember_ended` of them,
//! which refuses a late or replayed event of an ended action and names the state it ended
//! in. It is exact, whatever the hash seed: a FIFO ring of entries in the order the actions
//! ended (20 bytes each), plus an index of ring positions keyed with the same hash as the
//! live table (open addressing, at most 1/4 full: 16 bytes per ended action), whose entries carry
//! their distance from home so that a lookup reads the ring only for a candidate of the
//! same home, and a removal none at all. It is read only when the live table does not
//! hold the action: an event of a live action, most events, costs one probe of the live
//! table and nothing else. Past capacity the oldest ended action is forgotten first, and counted
//! ([`TrackerStats::ended_forgotten`]). A direct-mapped cache was smaller, but collisions
//! made it forget ended actions long before it was full, and replays were accepted.

use std::hash::{BuildHasher, Hasher};

use uuid::Uuid;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::ingest::error::{IllegalTransition, TransitionRule};
use crate::registry::Registry;

mod checkpoint;
mod ended;
mod table;
#[cfg(test)]
mod tests;

pub use checkpoint::RestoreError;
pub(crate) use checkpoint::{Reader, Writer};
use ended::EndedMemory;
use table::{is_idle, Slot, Table};

/// How many steps ahead [`Tracker::track_batch`] asks for the memory a step will read.
/// Far enough that a step's misses are served while the steps before it are judged; a
/// core keeps 10 to 20 misses outstanding, and each step asks for about six lines, four
/// of them adjacent (BENCHMARKS.md has the distances measured).
const AHEAD: usize = 8;

/// One event as the tracker sees it, for [`Tracker::track_batch`]: the arguments of
/// [`Tracker::track_state`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The position of the event's media type in the registry.
    pub media_index: usize,
    /// The action.
    pub action_id: Uuid,
    /// The position of the reported state in its media type's states.
    pub state_index: usize,
    /// The tick of the event.
    pub now: u32,
}

/// Limits of a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The most actions tracked at once. When a new action arrives at the cap, one not
    /// seen since the eviction hand last came by is evicted (CLOCK, an approximation of
    /// the least recently seen: see the module docs). The live table grows with use up to
    /// 24 bytes a slot at 20/11 slots per action, 43.6 bytes per action at the cap, then
    /// keeps its size. At most [`MAX_ACTIONS`](Self::MAX_ACTIONS): a tracker clamps a
    /// larger value to it. Default: 1,000,000.
    pub max_actions: usize,
    /// How many ticks an action may stay idle, or `None` to keep it until the cap evicts
    /// it. An action is idle for `now − last` ticks, `last` being the tick of its last
    /// accepted event. It is kept while that is at most `idle_timeout`; once it is more,
    /// the action is forgotten: no earlier than that and, as long as events keep arriving,
    /// at the latest by the first event at which it has been idle more than
    /// `2 × idle_timeout` ticks; an event of the action itself finds it forgotten as soon
    /// as it has been idle more than `idle_timeout`. What a tick is (an event, a second)
    /// is the caller's choice: see [`Tracker::track_state`]. The sweep that forgets idle
    /// actions walks the live table once per `idle_timeout` ticks, spread over the events
    /// as the ticks pass (see the module docs for its cost with small timeouts and long
    /// gaps). Timeouts of 2³¹ ticks or more are not reliable (ticks wrap around, and are
    /// compared within half their range). Default: `None`.
    pub idle_timeout: Option<u32>,
    /// How many ended actions are remembered, so that an event after the end is reported
    /// with the state it ended in (and a repeated initial event is refused rather than
    /// starting the action again). The memory is exact: as long as fewer actions than this
    /// have ended, every one of them is remembered; past it, the oldest ended ones are
    /// forgotten first (FIFO), each counted in [`TrackerStats::ended_forgotten`]. It grows
    /// with use up to 36 bytes per remembered action, then keeps its size. At most
    /// [`MAX_REMEMBER_ENDED`](Self::MAX_REMEMBER_ENDED): a tracker clamps a larger value to
    /// it. Default: 65,536.
    pub remember_ended: usize,
}

impl TrackerConfig {
    /// The most actions a tracker can track at once: a larger
    /// [`max_actions`](Self::max_actions) is clamped to it. 2³¹ − 1.
    // A checkpoint stores slot positions as `u32`: the live table's slot count (20/11 of
    // the cap, plus one) must stay below 2³², which 2³¹ − 1 keeps.
    pub const MAX_ACTIONS: usize = (1 << 31) - 1;
    /// The most ended actions a tracker can remember: a larger
    /// [`remember_ended`](Self::remember_ended) is clamped to it. 2³¹ − 1.
    // The index of the ended memory stores a ring position plus one in a `u32`, with at
    // least one bit of the hash above it.
    pub const MAX_REMEMBER_ENDED: usize = (1 << 31) - 1;
}

impl Default for TrackerConfig {
    fn default() -> Self {
        TrackerConfig {
            max_actions: 1_000_000,
            idle_timeout: None,
            remember_ended: 1 << 16,
        }
    }
}

/// What the tracker forgot, and why: nothing leaves it without being counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Actions that reached an end state (and were moved to the ended memory).
    pub ended: u64,
    /// Actions forgotten after being idle for the configured time.
    pub expired: u64,
    /// Actions evicted because the cap was reached.
    pub evicted: u64,
    /// Ended actions forgotten to make room for a newly ended one, the oldest first.
    pub ended_forgotten: u64,
}

/// Checks each action's lifecycle against its media type's declaration.
///
/// The first event of an action must be in an initial state; each next one must be a
/// declared successor of the last accepted state. A refused event changes nothing: the
/// next event is judged against the last accepted state. Actions are keyed by `actionId`.
///
/// Memory is bounded: ended actions leave the live table (a bounded memory of ended ids
/// remains), idle ones expire ([`TrackerConfig::idle_timeout`]), and at
/// [`TrackerConfig::max_actions`] one not seen lately is evicted (CLOCK, an approximation
/// of the least recently seen).
///
/// ```
/// use events_core::ingest::{Tracker, TransitionRule};
/// use events_core::{Registry, Uuid, WebChat};
///
/// let mut tracker = Tracker::new(&Registry::builtin());
/// let id = Uuid::from_u128(7);
/// let webchat = 0; // position of `webchat` in the registry
/// tracker.track_state(webchat, id, WebChat::Offered as usize, 0).unwrap();
/// let error = tracker.track_state(webchat, id, WebChat::Engaged as usize, 1).unwrap_err();
/// assert_eq!(error.rule, TransitionRule::NotASuccessor);
/// assert_eq!((error.from, error.to), (Some("offered"), "engaged"));
/// tracker.track_state(webchat, id, WebChat::Accepted as usize, 2).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Tracker {
    media_types: Vec<&'static MediaTypeDescription>,
    live: Table,
    ended: EndedMemory,
    config: TrackerConfig,
    stats: TrackerStats,
}

impl Tracker {
    /// A tracker for the media types of `registry` (in its order), with the default
    /// limits.
    pub fn new(registry: &Registry) -> Self {
        Tracker::with_config(registry, TrackerConfig::default())
    }

    /// A tracker with the given limits; a `max_actions` or `remember_ended` past what a
    /// tracker can serve ([`TrackerConfig::MAX_ACTIONS`],
    /// [`TrackerConfig::MAX_REMEMBER_ENDED`]) is clamped to it. Memory is taken as actions
    /// come, not for the limits up front.
    ///
    /// # Panics
    /// When `registry` holds more than 255 media types, or a media type more than 256
    /// states (a slot stores each in one byte).
    pub fn with_config(registry: &Registry, mut config: TrackerConfig) -> Self {
        config.max_actions = config.max_actions.min(TrackerConfig::MAX_ACTIONS);
        config.remember_ended = config.remember_ended.min(TrackerConfig::MAX_REMEMBER_ENDED);
        let media_types: Vec<_> = registry.iter().map(|entry| entry.description).collect();
        assert!(media_types.len() < 256, "at most 255 media types");
        assert!(
            media_types.iter().all(|m| m.states.len() <= 256),
            "at most 256 states per media type"
        );
        let seed = random_seed();
        Tracker {
            media_types,
            live: Table::new(config.max_actions, seed, config.idle_timeout),
            ended: EndedMemory::new(config.remember_ended, seed),
            config,
            stats: TrackerStats::default(),
        }
    }

    /// The limits this tracker was built with, as clamped.
    pub fn config(&self) -> TrackerConfig {
        self.config
    }

    /// Checks and records a type-erased event at tick `now`.
    ///
    /// A media type that was not in the registry the tracker was built from is added on
    /// its first event (its description travels with the event), so any event can be
    /// tracked.
    ///
    /// # Panics
    /// When that would make more than 255 media types (a slot stores the index in one
    /// byte).
    pub fn track(&mut self, event: &AnyEvent, now: u32) -> Result<(), IllegalTransition> {
        let wire_name = event.media_type_name();
        let media_index = match self
            .media_types
            .iter()
            .position(|m| m.wire_name == wire_name)
        {
            Some(index) => index,
            None => {
                let media = event.media_type();
                assert!(self.media_types.len() < 255, "at most 255 media types");
                assert!(
                    media.states.len() <= 256,
                    "at most 256 states per media type"
                );
                self.media_types.push(media);
                self.media_types.len() - 1
            }
        };
        self.track_state(media_index, event.action_id(), event.state_index(), now)
    }

    /// Checks and records that action `action_id`, of the media type at `media_index` in
    /// the registry, reported the state at `state_index` at tick `now`.
    ///
    /// Ticks only measure idleness: pass an event counter, or seconds since some start.
    /// They may wrap around.
    pub fn track_state(
        &mut self,
        media_index: usize,
        action_id: Uuid,
        state_index: usize,
        now: u32,
    ) -> Result<(), IllegalTransition> {
        self.judge(media_index, action_id, state_index, now)
            .map(|_| ())
    }

    /// Checks and records a batch of steps, in order, exactly as
    /// [`track_state`](Self::track_state) would one by one, and hands each result to `judged` with the
    /// step's position in `steps`, before the next step is judged. An accepted step comes
    /// with the state its action was in before it (`None` for an action's first event).
    ///
    /// What a batch gains is memory-level parallelism: with a million live actions, the
    /// slot of each action is a cache miss, and one by one every miss waits for the one
    /// before. Here, while a step is judged, the memory of a step a few places further
    /// on is asked for (the live table's slots from its action's home on, and the ended
    /// memory's entries it may read or forget), so that its misses are served in the
    /// meantime.
    ///
    /// ```
    /// use events_core::ingest::{Step, Tracker};
    /// use events_core::{Registry, Uuid, WebChat};
    ///
    /// let mut tracker = Tracker::new(&Registry::builtin());
    /// let id = Uuid::from_u128(7);
    /// let step = |state: WebChat| Step { media_index: 0, action_id: id, state_index: state as usize, now: 0 };
    /// let mut results = Vec::new();
    /// tracker.track_batch(
    ///     &[step(WebChat::Offered), step(WebChat::Engaged), step(WebChat::Accepted)],
    ///     |i, result| results.push((i, result.map_err(|e| e.rule))),
    /// );
    /// assert_eq!(results[0], (0, Ok(None)));
    /// assert!(results[1].1.is_err());
    /// assert_eq!(results[2], (2, Ok(Some("offered"))));
    /// ```
    pub fn track_batch(
        &mut self,
        steps: &[Step],
        mut judged: impl FnMut(usize, Result<Option<&'static str>, IllegalTransition>),
    ) {
        for step in steps.iter().take(AHEAD) {
            self.touch(step.action_id);
        }
        for (i, step) in steps.iter().enumerate() {
            if let Some(next) = steps.get(i + AHEAD) {
                self.touch(next.action_id);
            }
            if i % AHEAD == 0 {
                // At most `AHEAD` actions end before the next call: twice that many
                // oldest are asked for, the second half ahead of their turn.
                self.ended.touch_oldest(2 * AHEAD);
            }
            judged(i, self.track_step(step));
        }
    }

    /// [`track_state`](Self::track_state), giving back on success the state the action
    /// was in before, by wire name.
    #[inline]
    pub(crate) fn track_step(
        &mut self,
        step: &Step,
    ) -> Result<Option<&'static str>, IllegalTransition> {
        let media = self.media_types[step.media_index];
        self.judge(step.media_index, step.action_id, step.state_index, step.now)
            .map(|from| from.map(|state| media.states[usize::from(state)].wire_name))
    }

    /// Asks for the memory that judging `action_id` will read first: the live table's
    /// slots from the home of its probe sequence on, and the home entry of its probe
    /// sequence in the ended memory's index, which an action's first event and its end
    /// read too (the index is far smaller than the live table, but not small enough for
    /// the core's L1).
    ///
    /// Four lines of slots, not only the home's: a slot is 24 bytes, and the slot a lookup
    /// stops at, the empty one an insert fills and the rest of the cluster a removal
    /// shifts back often lie on the lines after the home's. Fewer lines left misses, more
    /// gained nothing, and finding exactly the slots needed by walking the probe ahead
    /// (over a byte of tags per slot) was slower: its loops' branches mispredict
    /// (BENCHMARKS.md, sixteenth session, has the figures).
    #[inline]
    fn touch(&self, action_id: Uuid) {
        let hashed = hash(Key::from(action_id), self.live.seed);
        let slots = &self.live.slots;
        if !slots.is_empty() {
            let home = reduce(hashed, slots.len());
            // Three slots are 72 bytes: one ask for each line.
            for at in [home, home + 3, home + 6, home + 9] {
                if let Some(slot) = slots.get(at) {
                    prefetch(slot);
                }
            }
        }
        if !self.ended.index.is_empty() {
            prefetch(&self.ended.index[reduce(hashed, self.ended.index.len())]);
        }
    }

    /// [`track_state`](Self::track_state), giving back on success the state the action
    /// was in before (`None` when it starts here).
    #[inline]
    fn judge(
        &mut self,
        media_index: usize,
        action_id: Uuid,
        state_index: usize,
        now: u32,
    ) -> Result<Option<u8>, IllegalTransition> {
        let media = self.media_types[media_index];
        let state = &media.states[state_index];
        let key = Key::from(action_id);
        self.stats.expired += self.live.sweep(now);
        // One hash for both tables: they share the seed.
        let hashed = hash(key, self.live.seed);
        let mut found = self.live.find_hashed(key, hashed);
        if let (Ok(slot), Some(timeout)) = (found, self.config.idle_timeout) {
            if is_idle(now, self.live.slots[slot].last_seen, timeout) {
                // Idle past the timeout, and the sweep has not come by yet: its own event
                // finds it forgotten all the same, at exactly the timeout.
                self.live.remove(slot);
                self.stats.expired += 1;
                found = self.live.find_hashed(key, hashed);
            }
        }
        match found {
            Ok(slot) => {
                let found = self.live.slots[slot];
                let from_media = self.media_types[usize::from(found.media - 1)];
                if usize::from(found.media - 1) != media_index {
                    return Err(self.illegal(
                        action_id,
                        media,
                        Some(from_media),
                        found.state,
                        state_index,
                        TransitionRule::MediaTypeChanged,
                    ));
                }
                let from = &media.states[usize::from(found.state)];
                if !from.next.contains(&state_index) {
                    let rule = if usize::from(found.state) == state_index {
                        TransitionRule::Repeated
                    } else {
                        TransitionRule::NotASuccessor
                    };
                    return Err(self.illegal(
                        action_id,
                        media,
                        None,
                        found.state,
                        state_index,
                        rule,
                    ));
                }
                if state.kind.ends_lifecycle() {
                    self.live.remove(slot);
                    self.stats.ended += 1;
                    self.remember_end(key, hashed, media_index, state_index);
                } else {
                    let entry = &mut self.live.slots[slot];
                    entry.state = state_index as u8;
                    entry.last_seen = now;
                    entry.touched = true;
                }
                Ok(Some(found.state))
            }
            Err(vacant) => {
                // Only an action the live table does not hold can have ended: most events
                // find theirs live and never read the ended memory.
                if let Some(found) = self.ended.get_hashed(key, hashed) {
                    let from_media = self.media_types[usize::from(found.media - 1)];
                    return Err(self.illegal(
                        action_id,
                        media,
                        (usize::from(found.media - 1) != media_index).then_some(from_media),
                        found.state,
                        state_index,
                        TransitionRule::AfterEnd,
                    ));
                }
                if !state.initial {
                    return Err(IllegalTransition {
                        action_id,
                        media_type: media.wire_name,
                        from: None,
                        from_media_type: None,
                        to: state.wire_name,
                        rule: TransitionRule::NotInitial,
                        expected: media
                            .states
                            .iter()
                            .filter(|s| s.initial)
                            .map(|s| s.wire_name)
                            .collect(),
                    });
                }
                if state.kind.ends_lifecycle() {
                    // A lifecycle of one event: it starts and ends here.
                    self.stats.ended += 1;
                    self.remember_end(key, hashed, media_index, state_index);
                    return Ok(None);
                }
                let slot = Slot {
                    key,
                    last_seen: now,
                    state: state_index as u8,
                    media: media_index as u8 + 1,
                    touched: false,
                    shift: 0,
                };
                self.stats.expired += if self.live.len >= self.config.max_actions {
                    if self.live.evict().is_none() {
                        // `max_actions` is 0: nothing can be tracked.
                        return Ok(None);
                    }
                    self.stats.evicted += 1;
                    self.live.insert(slot, now)
                } else {
                    self.live.insert_at(vacant, slot, hashed, now)
                };
                Ok(None)
            }
        }
    }

    fn remember_end(&mut self, key: Key, hashed: u64, media_index: usize, state_index: usize) {
        if self
            .ended
            .remember_hashed(key, hashed, media_index as u8 + 1, state_index as u8)
        {
            self.stats.ended_forgotten += 1;
        }
    }

    fn illegal(
        &self,
        action_id: Uuid,
        media: &'static MediaTypeDescription,
        from_media: Option<&'static MediaTypeDescription>,
        from_state: u8,
        to_state: usize,
        rule: TransitionRule,
    ) -> IllegalTransition {
        let from_description = from_media.unwrap_or(media);
        let from = &from_description.states[usize::from(from_state)];
        let expected = if from_media.is_some() {
            Vec::new()
        } else {
            from.next
                .iter()
                .map(|&i| media.states[i].wire_name)
                .collect()
        };
        IllegalTransition {
            action_id,
            media_type: media.wire_name,
            from: Some(from.wire_name),
            from_media_type: from_media.map(|m| m.wire_name),
            to: media.states[to_state].wire_name,
            rule,
            expected,
        }
    }

    /// The last accepted state of a live action, as `(media type, state)` wire names.
    pub fn state_of(&self, action_id: Uuid) -> Option<(&'static str, &'static str)> {
        let slot = self.live.slots[self.live.find(Key::from(action_id)).ok()?];
        let media = self.media_types[usize::from(slot.media - 1)];
        Some((
            media.wire_name,
            media.states[usize::from(slot.state)].wire_name,
        ))
    }

    /// How many actions are live (started, not ended, not expired or evicted).
    pub fn len(&self) -> usize {
        self.live.len
    }

    /// Whether no action is live.
    pub fn is_empty(&self) -> bool {
        self.live.len == 0
    }

    /// How many ended actions are remembered.
    pub fn ended_len(&self) -> usize {
        self.ended.len()
    }

    /// The heap memory the tracker holds, in bytes: the live table and the ended memory,
    /// counted by capacity.
    pub fn memory_bytes(&self) -> usize {
        self.live.memory_bytes() + self.ended.memory_bytes()
    }

    /// What the tracker forgot so far, and why.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    /// Forgets every action, keeping the allocated memory.
    pub fn clear(&mut self) {
        self.live.clear();
        self.ended.clear();
    }
}

/// Asks for the cache line holding `value`, for a read a few steps later.
///
/// On x86 a prefetch instruction: it does not wait for the line, so the judging of the
/// steps before goes on while the miss is served. Elsewhere a plain load, which holds its
/// place in the core's reorder buffer until the line comes: the misses of a few loads
/// issued close together still overlap, the judging after them waits.
#[inline(always)]
fn prefetch<T: Copy>(value: &T) {
    #[cfg(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    ))]
    safe_arch::prefetch_t0(value);
    #[cfg(not(all(
        any(target_arch = "x86", target_arch = "x86_64"),
        target_feature = "sse"
    )))]
    std::hint::black_box(*value);
}

fn random_seed() -> [u64; 2] {
    // `RandomState` is the standard library's per-process random key: ids come from
    // browsers, and a fixed hash would let a sender pick ids that all collide.
    let state = std::collections::hash_map::RandomState::new();
    let mut a = state.build_hasher();
    a.write_u64(0x9e37_79b9_7f4a_7c15);
    let mut b = state.build_hasher();
    b.write_u64(0x243f_6a88_85a3_08d3);
    [a.finish() | 1, b.finish() | 1]
}

/// An action id as stored: four `u32` keep the slot 4-byte aligned (24 bytes, not 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Key(pub(super) [u32; 4]);

impl From<Uuid> for Key {
    fn from(id: Uuid) -> Self {
        let v = id.as_u128();
        Key([
            v as u32,
            (v >> 32) as u32,
            (v >> 64) as u32,
            (v >> 96) as u32,
        ])
    }
}

impl Key {
    fn halves(self) -> (u64, u64) {
        let [a, b, c, d] = self.0;
        (
            u64::from(a) | u64::from(b) << 32,
            u64::from(c) | u64::from(d) << 32,
        )
    }
}

/// Where `key`'s probe sequence starts in a table of `len` slots.
fn home(key: Key, seed: [u64; 2], len: usize) -> usize {
    reduce(hash(key, seed), len)
}

/// How many steps forward from `from` to `to`, in a cyclic table of `len` slots.
fn distance(from: usize, to: usize, len: usize) -> usize {
    if from <= to {
        to - from
    } else {
        // `len - from` first: `to + len` could overflow a 32-bit usize.
        len - from + to
    }
}

/// The tracker's one hash function: seeded, so that ids chosen by a sender cannot be made
/// to collide.
fn hash(key: Key, seed: [u64; 2]) -> u64 {
    let (lo, hi) = key.halves();
    folded_multiply(lo ^ seed[0], hi ^ seed[1])
}

/// Maps a hash onto any table size, not only powers of two (Lemire's reduction). It reads
/// the high bits of the hash, which leaves the low ones free for a tag.
fn reduce(hash: u64, len: usize) -> usize {
    ((u128::from(hash) * len as u128) >> 64) as usize
}

fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}
