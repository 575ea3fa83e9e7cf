//! The lifecycle tracker: each action's last accepted state, checked against the
//! declaration's transition table, in bounded memory.
//!
//! # Layout, and why
//!
//! Ingest sees every event, so the tracker's cost is per event and its memory per live
//! action. A general-purpose map (`HashMap<Uuid, _>`) rounds its buckets up to a power of
//! two and would need 52 to 69 bytes per action at one million; this table is sized to
//! the cap instead (load factor at most 5/7) and keeps one 28-byte slot per action, in one
//! allocation, so a lookup is one probe sequence in one array. The load factor is the
//! lever on speed: linear probing's clusters grow quickly with it, and each lookup of a
//! new action, and each removal, walks the rest of its cluster. At 4/5 an event cost about
//! 25 % more instructions and 40 % more cache misses than at 5/7 (BENCHMARKS.md); the
//! queue below is kept tight to pay for the extra slots within 48 bytes per action.
//!
//! Eviction needs an order. Each action gets one 4-byte record in a FIFO queue when first
//! seen: the *home* index of its slot (where its probe sequence starts), not the slot
//! index. Linear probing shifts slots back on removal, but never before their home, so a
//! record stays valid however its slot moves, and a removal writes nothing outside the
//! cluster it shifts (keeping the slot index instead cost a random write into the queue
//! per shifted slot: about 10 % of `tracker_1m`). A slot remembers the position of its
//! record (`qpos`): the front record's slot is the one on the probe sequence from the
//! home that holds that position, and a record whose action is gone finds none (stale).
//! Touching an action only sets a bit in its slot: the queue is not written on the hot
//! path. When the front of the queue is needed (cap reached, or idle actions due), a
//! touched action is given a second chance: re-queued at the back, bit cleared. This is
//! the CLOCK approximation of least-recently-seen order.
//!
//! Ended actions leave the live table for a memory of the last `remember_ended` of them,
//! which refuses a late or replayed event of an ended action and names the state it ended
//! in. It is exact, whatever the hash seed: a FIFO ring of entries in the order the actions
//! ended (20 bytes each), plus an index of ring positions keyed with the same hash as the
//! live table (open addressing, at most 2/3 full: 6 bytes per entry), whose entries carry
//! tag bits of the hash so that looking up a live action, most lookups, rarely reads the
//! ring. Past capacity the oldest ended action is forgotten first, and counted
//! ([`TrackerStats::ended_forgotten`]). A direct-mapped cache was smaller, but collisions
//! made it forget ended actions long before it was full, and replays were accepted.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

use uuid::Uuid;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::ingest::error::{IllegalTransition, TransitionRule};
use crate::registry::Registry;

/// Limits of a [`Tracker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackerConfig {
    /// The most actions tracked at once. When a new action arrives at the cap, the least
    /// recently seen action (approximately: see the module docs) is evicted. At most
    /// [`MAX_ACTIONS`](Self::MAX_ACTIONS): a tracker clamps a larger value to it.
    /// Default: 1,000,000.
    pub max_actions: usize,
    /// How many ticks an action may stay idle, or `None` to keep it until the cap evicts
    /// it. An action is idle for `now − last` ticks, `last` being the tick of its last
    /// accepted event. It is kept while that is at most `idle_timeout`; once it is more,
    /// the action is forgotten: no earlier than that and, as long as events keep arriving,
    /// at the latest by the first event at which it has been idle more than
    /// `2 × idle_timeout` ticks. What a tick is (an event, a second) is the caller's
    /// choice: see [`Tracker::track_state`]. Timeouts of 2³¹ ticks or more are not
    /// reliable (ticks wrap around, and are compared within half their range). Default:
    /// `None`.
    pub idle_timeout: Option<u32>,
    /// How many ended actions are remembered, so that an event after the end is reported
    /// with the state it ended in (and a repeated initial event is refused rather than
    /// starting the action again). The memory is exact: as long as fewer actions than this
    /// have ended, every one of them is remembered; past it, the oldest ended ones are
    /// forgotten first (FIFO), each counted in [`TrackerStats::ended_forgotten`]. It grows
    /// with use up to 26 bytes per remembered action, then keeps its size. At most
    /// [`MAX_REMEMBER_ENDED`](Self::MAX_REMEMBER_ENDED): a tracker clamps a larger value to
    /// it. Default: 65,536.
    pub remember_ended: usize,
}

impl TrackerConfig {
    /// The most actions a tracker can track at once: a larger
    /// [`max_actions`](Self::max_actions) is clamped to it. 2³¹ − 1.
    // The live table stores slot homes and queue positions as `u32`: its slot count
    // (7/5 of the cap, plus one) and the queue's length (at most 3/2 of the live count
    // plus 64) must both stay below 2³², which 2³¹ − 1 keeps with a margin.
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
/// [`TrackerConfig::max_actions`] the least recently seen one is evicted.
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
    /// No idle action is due before this tick; saves a look at the queue per event.
    next_expiry: u32,
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
            live: Table::new(config.max_actions, seed),
            ended: EndedMemory::new(config.remember_ended, seed),
            config,
            next_expiry: 0,
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
        let media = self.media_types[media_index];
        let state = &media.states[state_index];
        let key = Key::from(action_id);
        if let Some(timeout) = self.config.idle_timeout {
            if self.live.len == 0 {
                // Nothing is due, whatever `next_expiry` says: it may be stale by more than
                // the half of the tick range its comparison covers.
                self.next_expiry = now.wrapping_add(timeout).wrapping_add(1);
            } else if now.wrapping_sub(self.next_expiry) as i32 >= 0 {
                self.expire(now, timeout);
            }
        }
        // Loaded before the lookup, not after it fails: both are cache misses in a large
        // table, and this way they overlap.
        let ended = self.ended.get(key);
        match self.live.find(key) {
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
                    self.remember_end(key, media_index, state_index);
                } else {
                    let entry = &mut self.live.slots[slot];
                    entry.state = state_index as u8;
                    entry.last_seen = now;
                    entry.touched = true;
                }
                Ok(())
            }
            Err(vacant) => {
                if let Some(found) = ended {
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
                    self.remember_end(key, media_index, state_index);
                    return Ok(());
                }
                let slot = Slot {
                    key,
                    last_seen: now,
                    qpos: 0,
                    state: state_index as u8,
                    media: media_index as u8 + 1,
                    touched: false,
                    shift: 0,
                };
                if self.live.len >= self.config.max_actions {
                    if self.live.evict_oldest().is_none() {
                        // `max_actions` is 0: nothing can be tracked.
                        return Ok(());
                    }
                    self.stats.evicted += 1;
                    self.live.insert(slot);
                } else {
                    self.live.insert_at(vacant, slot);
                }
                Ok(())
            }
        }
    }

    fn remember_end(&mut self, key: Key, media_index: usize, state_index: usize) {
        if self
            .ended
            .remember(key, media_index as u8 + 1, state_index as u8)
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

    /// Forgets the actions idle for more than `timeout` ticks, as far as the queue shows
    /// them due, and notes when to look again.
    fn expire(&mut self, now: u32, timeout: u32) {
        let (expired, next) = self.live.expire(now, timeout);
        self.stats.expired += expired;
        self.next_expiry = next.unwrap_or(now.wrapping_add(timeout).wrapping_add(1));
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

    /// The heap memory the tracker holds, in bytes: both tables and their queues, counted
    /// by capacity.
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
        self.next_expiry = 0;
    }
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

/// An action id as stored: four `u32` keep the slot 4-byte aligned (28 bytes, not 32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Key([u32; 4]);

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

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    key: Key,
    last_seen: u32,
    /// The queue position of this slot's record.
    qpos: u32,
    state: u8,
    /// The media type's index plus one; 0 marks an empty slot.
    media: u8,
    /// Seen since its record was queued: gets a second chance before eviction.
    touched: bool,
    /// How far the slot lies past its home, saturated at `u8::MAX` (then the hash tells).
    /// Removal moves slots back by their distance from home: reading it here saves
    /// hashing every slot of the cluster again (about 8 % of removal's instructions). It
    /// takes the byte the slot's alignment would leave empty anyway.
    shift: u8,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.media == 0
    }
}

/// Open addressing with linear probing and backward-shift removal (no tombstones), at
/// most 5/7 full, plus the FIFO queue of records that orders eviction.
#[derive(Debug, Clone)]
struct Table {
    slots: Vec<Slot>,
    len: usize,
    /// The slot count this table grows to: `cap × 7/5`, rounded up.
    max_slots: usize,
    seed: [u64; 2],
    /// Eviction-order records: each the home index of a live action's slot.
    queue: VecDeque<u32>,
    /// The position of `queue[0]`; positions only grow (wrapping).
    head: u32,
}

impl Table {
    fn new(cap: usize, seed: [u64; 2]) -> Self {
        debug_assert!(cap <= TrackerConfig::MAX_ACTIONS);
        // More slots than the cap: one stays empty even at the cap, so probes end.
        let max_slots = cap
            .checked_mul(2)
            .map(|extra| extra.div_ceil(5))
            .and_then(|extra| cap.checked_add(extra))
            .and_then(|slots| slots.checked_add(1))
            .filter(|&slots| u32::try_from(slots).is_ok())
            .expect("MAX_ACTIONS keeps the slot count within u32");
        Table {
            slots: Vec::new(),
            len: 0,
            max_slots,
            seed,
            queue: VecDeque::new(),
            head: 0,
        }
    }

    fn home(&self, key: Key) -> usize {
        home(key, self.seed, self.slots.len())
    }

    /// How far the occupied slot `at` lies past its home.
    fn shift(&self, at: usize) -> usize {
        let slot = &self.slots[at];
        if slot.shift < u8::MAX {
            usize::from(slot.shift)
        } else {
            distance(self.home(slot.key), at, self.slots.len())
        }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: Key) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(usize::MAX);
        }
        self.probe(self.home(key), |slot| slot.key == key)
    }

    /// Walks the probe sequence from `start` to the first slot that `matches` (`Ok`) or
    /// the first empty one (`Err`).
    fn probe(&self, start: usize, matches: impl Fn(&Slot) -> bool) -> Result<usize, usize> {
        let mut i = start;
        loop {
            let slot = &self.slots[i];
            if slot.is_empty() {
                return Err(i);
            }
            if matches(slot) {
                return Ok(i);
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    fn needs_growth(&self) -> bool {
        // In u64: with up to 2³¹ slots, `× 7` would overflow a 32-bit usize.
        (self.len as u64 + 1) * 7 > self.slots.len() as u64 * 5 && self.slots.len() < self.max_slots
    }

    /// Inserts a key known to be absent.
    fn insert(&mut self, slot: Slot) {
        match self.find(slot.key) {
            Err(vacant) => self.insert_at(vacant, slot),
            Ok(_) => unreachable!("insert of a key already present"),
        }
    }

    /// Inserts at the vacant slot `find` returned, growing first when needed.
    fn insert_at(&mut self, mut vacant: usize, mut slot: Slot) {
        if self.needs_growth() {
            self.grow();
            vacant = self.find(slot.key).expect_err("key is absent");
        }
        // Probes end at an empty slot: one must be left after this insert.
        assert!(self.len + 1 < self.slots.len(), "the table is never full");
        slot.touched = false;
        slot.shift = saturate(distance(self.home(slot.key), vacant, self.slots.len()));
        self.slots[vacant] = slot;
        self.len += 1;
        self.enqueue(vacant);
        self.compact_if_needed();
    }

    fn grow(&mut self) {
        let new_len = self
            .slots
            .len()
            .saturating_mul(2)
            .max(16)
            .min(self.max_slots);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); new_len]);
        for mut slot in old.into_iter().filter(|s| !s.is_empty()) {
            let at = self.find(slot.key).expect_err("keys are unique");
            slot.shift = saturate(distance(self.home(slot.key), at, new_len));
            self.slots[at] = slot;
        }
        // Every home changed: rewrite the queue, in the same order.
        let current = self.current_records();
        let (seed, len) = (self.seed, self.slots.len());
        let mut records = VecDeque::with_capacity(current.count + current.count / 4 + 64);
        records.resize(current.count, 0);
        for slot in self.slots.iter_mut().filter(|s| !s.is_empty()) {
            records[current.renumber(slot)] = home(slot.key, seed, len) as u32;
        }
        self.queue = records;
    }

    /// The slot whose record is at `position`, found from the record's `home`; `None`
    /// when the record is stale (its action ended or was removed, or was queued again).
    fn locate(&self, position: u32, home: u32) -> Option<usize> {
        self.probe(home as usize, |slot| slot.qpos == position).ok()
    }

    /// Which records are current (their slot holds their position), found by reading the
    /// slots in index order: sequential reads, not one random access per record.
    fn current_records(&self) -> CurrentRecords {
        let mut bits = vec![0u64; self.queue.len().div_ceil(64)];
        for slot in self.slots.iter().filter(|s| !s.is_empty()) {
            let offset = slot.qpos.wrapping_sub(self.head) as usize;
            bits[offset / 64] |= 1 << (offset % 64);
        }
        let mut rank = Vec::with_capacity(bits.len());
        let mut count = 0;
        for word in &bits {
            rank.push(count);
            count += word.count_ones() as usize;
        }
        CurrentRecords {
            head: self.head,
            bits,
            rank,
            count,
        }
    }

    /// Empties slot `i`, shifting back the slots after it that probed past it, so that
    /// lookups never need tombstones (Knuth, TAOCP vol. 3, algorithm 6.4R).
    fn remove(&mut self, mut i: usize) {
        let n = self.slots.len();
        let mut j = i;
        loop {
            j += 1;
            if j == n {
                j = 0;
            }
            if self.slots[j].is_empty() {
                break;
            }
            // The slot at `j` may fill the hole at `i` unless its home lies cyclically in
            // (i, j], i.e. it lies less than `gap` past its home: then it would move
            // before its home and lookups would miss it.
            let shift = self.shift(j);
            let gap = distance(i, j, n);
            if shift < gap {
                continue;
            }
            let mut moved = self.slots[j];
            moved.shift = saturate(shift - gap);
            self.slots[i] = moved;
            i = j;
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
    }

    /// Evicts the first action in the queue not touched since it was queued (the touched
    /// ones ahead of it get a second chance); `None` when the table is empty.
    fn evict_oldest(&mut self) -> Option<()> {
        while let Some((position, home)) = self.pop_front() {
            let Some(at) = self.locate(position, home) else {
                continue;
            };
            if self.slots[at].touched {
                self.requeue(at);
                continue;
            }
            self.remove(at);
            return Some(());
        }
        None
    }

    /// Takes the front record, as its position and home.
    fn pop_front(&mut self) -> Option<(u32, u32)> {
        let home = self.queue.pop_front()?;
        let position = self.head;
        self.head = self.head.wrapping_add(1);
        Some((position, home))
    }

    fn requeue(&mut self, at: usize) {
        self.slots[at].touched = false;
        self.enqueue(at);
    }

    /// Queues a record for the slot at `at`, at the back. The queue grows by a quarter of
    /// the live count at a time rather than letting `VecDeque` double it: compaction keeps
    /// at most `1.5 × live + 64` records, so at the cap its capacity stays under 1.75
    /// records (7 bytes) per live action, which with the slots' 39.2 keeps the tracker
    /// under 48.
    fn enqueue(&mut self, at: usize) {
        if self.queue.len() == self.queue.capacity() {
            self.queue.reserve_exact(self.len / 4 + 64);
        }
        self.slots[at].qpos = self.head.wrapping_add(self.queue.len() as u32);
        let (shift, len) = (self.shift(at), self.slots.len());
        let home = if shift <= at {
            at - shift
        } else {
            at + (len - shift)
        };
        // The slot count fits in u32 (`Table::new`), so does a home.
        self.queue.push_back(home as u32);
    }

    /// Removes the actions idle for more than `timeout` ticks from the front of the queue;
    /// returns how many, and the tick at which the new front falls due (`None` when
    /// empty).
    fn expire(&mut self, now: u32, timeout: u32) -> (u64, Option<u32>) {
        let mut expired = 0;
        while let Some(&home) = self.queue.front() {
            let Some(at) = self.locate(self.head, home) else {
                self.pop_front();
                continue;
            };
            let entry = self.slots[at];
            if now.wrapping_sub(entry.last_seen) > timeout {
                self.pop_front();
                self.remove(at);
                expired += 1;
            } else if entry.touched {
                self.pop_front();
                self.requeue(at);
            } else {
                // Everything behind an untouched front was queued later, and last seen no
                // earlier than the front's last sight: nothing behind is due before it.
                let due = entry.last_seen.wrapping_add(timeout).wrapping_add(1);
                return (expired, Some(due));
            }
        }
        (expired, None)
    }

    /// Drops stale records once they are half as many as the live ones, keeping the order
    /// of the others. Homes have not changed, so the kept records are copied as they are
    /// (one sequential pass over the queue) and only the slots' positions are renumbered
    /// (one over the slots).
    fn compact_if_needed(&mut self) {
        if self.queue.len() > self.len + self.len / 2 + 64 {
            self.compact();
        }
    }

    fn compact(&mut self) {
        let current = self.current_records();
        for slot in self.slots.iter_mut().filter(|s| !s.is_empty()) {
            current.renumber(slot);
        }
        // In place, in order: the kept records only move towards the front.
        let records = self.queue.make_contiguous();
        let mut kept = 0;
        for offset in current.offsets() {
            records[kept] = records[offset];
            kept += 1;
        }
        self.queue.truncate(kept);
        // Gives back what a burst of stale records made the queue take.
        self.queue.shrink_to(self.len + self.len / 4 + 64);
    }

    fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.queue.capacity() * std::mem::size_of::<u32>()
    }

    fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.queue.clear();
        self.len = 0;
    }
}

/// The current records of the queue, and each one's rank among them: its position once
/// the stale ones are dropped.
struct CurrentRecords {
    head: u32,
    bits: Vec<u64>,
    rank: Vec<usize>,
    count: usize,
}

impl CurrentRecords {
    /// The offsets of the current records, in order.
    fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
        self.bits
            .iter()
            .enumerate()
            .flat_map(|(word_index, &word)| {
                std::iter::successors((word != 0).then_some(word), |&w| {
                    let rest = w & (w - 1);
                    (rest != 0).then_some(rest)
                })
                .map(move |w| word_index * 64 + w.trailing_zeros() as usize)
            })
    }

    /// Gives `slot` the position its record will have once the stale ones are dropped,
    /// and returns that position's offset from the front.
    fn renumber(&self, slot: &mut Slot) -> usize {
        let offset = slot.qpos.wrapping_sub(self.head) as usize;
        let below = self.bits[offset / 64] & ((1 << (offset % 64)) - 1);
        let new_offset = self.rank[offset / 64] + below.count_ones() as usize;
        slot.qpos = self.head.wrapping_add(new_offset as u32);
        new_offset
    }
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

fn saturate(shift: usize) -> u8 {
    u8::try_from(shift).unwrap_or(u8::MAX)
}

/// Where `key`'s probe sequence starts in a table of `len` slots.
fn home(key: Key, seed: [u64; 2], len: usize) -> usize {
    reduce(hash(key, seed), len)
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

/// A remembered ended action.
#[derive(Debug, Clone, Copy, Default)]
struct Ended {
    key: Key,
    /// The media type's index plus one.
    media: u8,
    state: u8,
}

/// The ended actions, the last `capacity` of them exactly: a FIFO ring of entries in the
/// order they ended, and an open-addressing index into it (linear probing, at most 2/3
/// full, backward-shift removal) keyed with the live table's hash. Once the ring is full,
/// a newly ended action takes the place of the oldest.
///
/// An index entry is a ring position plus one (0: empty) with tag bits of the hash above
/// it, so that a lookup of a live action, which is most lookups, reads the ring only when
/// a tag matches. Both grow with use up to the capacity, then keep their size.
#[derive(Debug, Clone)]
struct EndedMemory {
    ring: Vec<Ended>,
    /// Where the next ended action goes once the ring is full: its oldest entry.
    oldest: usize,
    index: Vec<u32>,
    capacity: usize,
    /// How many low bits of an index entry hold the position; the tag takes the rest.
    position_bits: u32,
    seed: [u64; 2],
}

impl EndedMemory {
    fn new(capacity: usize, seed: [u64; 2]) -> Self {
        debug_assert!(capacity <= TrackerConfig::MAX_REMEMBER_ENDED);
        EndedMemory {
            ring: Vec::new(),
            oldest: 0,
            index: Vec::new(),
            capacity,
            // Positions plus one go up to `capacity`; at most 31 bits, so a tag bit is left.
            position_bits: usize::BITS - capacity.leading_zeros(),
            seed,
        }
    }

    fn len(&self) -> usize {
        self.ring.len()
    }

    fn tag(&self, hash: u64) -> u32 {
        (hash as u32) << self.position_bits
    }

    fn position(&self, entry: u32) -> usize {
        (entry & !(u32::MAX << self.position_bits)) as usize - 1
    }

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.index.len() {
            0
        } else {
            i + 1
        }
    }

    /// Walks the probe sequence of `hash` to the first entry whose tag matches and whose
    /// ring position `matches` (`Ok`), or to the first empty slot (`Err`).
    fn probe(&self, hash: u64, matches: impl Fn(usize) -> bool) -> Result<usize, usize> {
        let tag = self.tag(hash);
        let mask = u32::MAX << self.position_bits;
        let mut i = reduce(hash, self.index.len());
        // Ends: the index always has more slots than the ring has entries.
        loop {
            let entry = self.index[i];
            if entry == 0 {
                return Err(i);
            }
            if entry & mask == tag && matches(self.position(entry)) {
                return Ok(i);
            }
            i = self.next(i);
        }
    }

    fn get(&self, key: Key) -> Option<Ended> {
        if self.index.is_empty() {
            return None;
        }
        let i = self
            .probe(hash(key, self.seed), |at| self.ring[at].key == key)
            .ok()?;
        Some(self.ring[self.position(self.index[i])])
    }

    /// Remembers `key`, which must not be remembered already; returns whether the oldest
    /// ended action was forgotten for it.
    fn remember(&mut self, key: Key, media: u8, state: u8) -> bool {
        if self.capacity == 0 {
            return false;
        }
        debug_assert!(self.get(key).is_none(), "an action ends once");
        let ended = Ended { key, media, state };
        let forgot = self.ring.len() == self.capacity;
        let position = if forgot {
            let position = self.oldest;
            self.forget(position);
            self.ring[position] = ended;
            self.oldest = if position + 1 == self.capacity {
                0
            } else {
                position + 1
            };
            position
        } else {
            if self.ring.len() == self.ring.capacity() {
                self.grow();
            }
            self.ring.push(ended);
            self.ring.len() - 1
        };
        self.index_entry(position);
        forgot
    }

    /// Indexes ring position `position`.
    fn index_entry(&mut self, position: usize) {
        let hash = hash(self.ring[position].key, self.seed);
        let Err(vacant) = self.probe(hash, |_| false) else {
            unreachable!("nothing matches");
        };
        // `position` < `capacity` ≤ 2³¹ − 1: plus one, it fits below the tag.
        self.index[vacant] = self.tag(hash) | (position as u32 + 1);
    }

    /// Doubles the ring (up to the capacity) and rebuilds the index for its new size.
    fn grow(&mut self) {
        let len = self.ring.len();
        let target = len.saturating_mul(2).max(64).min(self.capacity);
        self.ring.reserve_exact(target - len);
        // At most 2/3 full once the ring is.
        let slots = target
            .checked_add(target / 2 + 1)
            .expect("MAX_REMEMBER_ENDED keeps the index size in range");
        self.index = vec![0; slots];
        for position in 0..len {
            self.index_entry(position);
        }
    }

    /// Removes the index entry of ring position `position`, shifting back the entries
    /// after it that probed past it, as [`Table::remove`] does.
    fn forget(&mut self, position: usize) {
        let hash = hash(self.ring[position].key, self.seed);
        let Ok(mut i) = self.probe(hash, |at| at == position) else {
            unreachable!("every ring entry is indexed");
        };
        let n = self.index.len();
        let mut j = i;
        loop {
            j = self.next(j);
            let entry = self.index[j];
            if entry == 0 {
                break;
            }
            // The entry at `j` may fill the hole at `i` unless its home lies cyclically
            // in (i, j].
            let home = home(self.ring[self.position(entry)].key, self.seed, n);
            if distance(home, j, n) < distance(i, j, n) {
                continue;
            }
            self.index[i] = entry;
            i = j;
        }
        self.index[i] = 0;
    }

    fn memory_bytes(&self) -> usize {
        self.ring.capacity() * std::mem::size_of::<Ended>()
            + self.index.capacity() * std::mem::size_of::<u32>()
    }

    fn clear(&mut self) {
        self.ring.clear();
        self.index.fill(0);
        self.oldest = 0;
    }
}

fn folded_multiply(a: u64, b: u64) -> u64 {
    let full = u128::from(a) * u128::from(b);
    (full as u64) ^ ((full >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WebChat;

    /// A live slot for `key`.
    fn live(key: Key) -> Slot {
        Slot {
            key,
            media: 1,
            ..Slot::default()
        }
    }

    /// Distinct keys spread over the hash (small integers would all share one home).
    fn spread(i: u128) -> Key {
        Key::from(Uuid::from_u128(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c)))
    }

    /// Caps past what the tracker can serve, up to `usize::MAX` and a value whose slot
    /// count once overflowed into a table of a dozen slots, are clamped: a few thousand
    /// actions are tracked, ended and remembered without hanging.
    #[test]
    fn caps_past_the_limits_are_clamped() {
        let crafted = 15_811_494_920_322_472_824_u64 as usize;
        for cap in [usize::MAX, crafted, TrackerConfig::MAX_ACTIONS + 1] {
            let config = TrackerConfig {
                max_actions: cap,
                remember_ended: cap,
                ..TrackerConfig::default()
            };
            let mut tracker = Tracker::with_config(&crate::Registry::builtin(), config);
            assert_eq!(tracker.config().max_actions, TrackerConfig::MAX_ACTIONS);
            assert_eq!(
                tracker.config().remember_ended,
                TrackerConfig::MAX_REMEMBER_ENDED
            );
            let (offered, ignored) = (WebChat::Offered as usize, WebChat::Ignored as usize);
            for n in 0..5_000u128 {
                let id = Uuid::from_u128(n.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c));
                tracker.track_state(0, id, offered, 0).unwrap();
                if n % 2 == 0 {
                    tracker.track_state(0, id, ignored, 0).unwrap();
                }
            }
            assert_eq!((tracker.len(), tracker.ended_len()), (2_500, 2_500));
            assert!(
                tracker.memory_bytes() < 1 << 20,
                "grows with use, not with the cap"
            );
        }
    }

    /// Full, the ended memory holds exactly its capacity in 26 bytes per action (and 4),
    /// and forgets in the order the actions ended.
    #[test]
    fn the_ended_memory_is_exact_in_26_bytes_per_action() {
        let capacity = 1000;
        let mut ended = EndedMemory::new(capacity, [3, 5]);
        let keys: Vec<Key> = (0..2500u128).map(spread).collect();
        for (n, &key) in keys.iter().enumerate() {
            assert_eq!(ended.remember(key, 1, 2), n >= capacity);
        }
        assert_eq!(ended.len(), capacity);
        for (n, &key) in keys.iter().enumerate() {
            assert_eq!(ended.get(key).is_some(), n >= 1500, "key {n}");
        }
        assert_eq!(ended.memory_bytes(), 26 * capacity + 4);
    }

    #[test]
    fn a_slot_is_28_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 28);
    }

    /// One cluster longer than a slot's saturated shift (255): removal must fall back on
    /// the hash for the slots past that, and still keep every key findable and every
    /// record pointing at its slot.
    #[test]
    fn removal_in_a_cluster_longer_than_the_stored_shift() {
        let seed = [3, 5];
        let mut table = Table::new(320, seed);
        let slot_count = table.max_slots;
        let keys: Vec<Key> = (0u128..)
            .map(spread)
            .filter(|&key| home(key, seed, slot_count) < 3)
            .take(300)
            .collect();
        for &key in &keys {
            table.insert(live(key));
        }
        assert_eq!(table.slots.len(), slot_count);
        assert!(table.slots.iter().any(|s| s.shift == u8::MAX));
        for &key in keys.iter().step_by(3) {
            let at = table.find(key).unwrap();
            table.remove(at);
        }
        for (n, &key) in keys.iter().enumerate() {
            assert_eq!(table.find(key).is_ok(), n % 3 != 0, "key {n}");
        }
        for (at, slot) in table
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
        {
            let home = home(slot.key, seed, slot_count);
            assert_eq!(table.shift(at), distance(home, at, slot_count));
            let record = table.queue[slot.qpos.wrapping_sub(table.head) as usize];
            assert_eq!(table.locate(slot.qpos, record), Some(at));
        }
    }

    /// After a burst, compaction gives the queue's memory back: it follows the live
    /// count, not the most there ever were.
    #[test]
    fn the_queue_shrinks_after_a_burst() {
        let mut table = Table::new(10_000, [3, 5]);
        let keys: Vec<Key> = (0..10_000u128).map(spread).collect();
        for &key in &keys {
            table.insert(live(key));
        }
        assert!(table.queue.capacity() >= 10_000);
        for &key in &keys {
            let at = table.find(key).unwrap();
            table.remove(at);
        }
        table.insert(live(Key::from(Uuid::from_u128(u128::MAX))));
        assert_eq!(table.queue.len(), 1);
        assert!(table.queue.capacity() < 1_000, "{}", table.queue.capacity());
    }

    #[test]
    fn removal_keeps_every_other_key_findable() {
        let mut table = Table::new(1000, [3, 5]);
        let keys: Vec<Key> = (0..1000u128).map(spread).collect();
        for &key in &keys {
            table.insert(live(key));
        }
        for (n, &key) in keys.iter().enumerate().step_by(3) {
            let at = table.find(key).unwrap();
            table.remove(at);
            assert!(table.find(key).is_err(), "removed key {n} still found");
        }
        for (n, &key) in keys.iter().enumerate() {
            assert_eq!(table.find(key).is_ok(), n % 3 != 0, "key {n}");
        }
        // Every live slot is found from its record, however the removals shifted it.
        let every_slot_found_from_its_record = |table: &Table| {
            for (at, slot) in table
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
            {
                let home = table.queue[slot.qpos.wrapping_sub(table.head) as usize];
                assert_eq!(table.locate(slot.qpos, home), Some(at));
            }
        };
        every_slot_found_from_its_record(&table);
        // Compaction drops the stale records and keeps the order of the others.
        let order = |table: &Table| {
            let mut slots: Vec<Slot> = table
                .slots
                .iter()
                .copied()
                .filter(|s| !s.is_empty())
                .collect();
            slots.sort_by_key(|s| s.qpos.wrapping_sub(table.head));
            slots.iter().map(|s| s.key).collect::<Vec<_>>()
        };
        let before = order(&table);
        assert_eq!(table.queue.len(), 1000);
        table.compact();
        assert_eq!(table.queue.len(), 666);
        assert_eq!(order(&table), before);
        every_slot_found_from_its_record(&table);
    }
}
