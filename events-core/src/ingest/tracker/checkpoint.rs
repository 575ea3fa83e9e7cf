//! A tracker's state as bytes, and back: what a process that takes over a partition of
//! the stream needs to judge the next events exactly as the process before it would have.
//!
//! # Format (version 2, little-endian)
//!
//! ```text
//! "WATR" version:u8
//! media types: count:u8, each: name, states: count:u16, each: name     (name: len:u16 bytes)
//! stats: ended expired evicted ended_forgotten: u64 × 4
//! hash seed: u64 × 2
//! live table: slots:u32 hand:u32, idle sweep: at:u32 behind:u32 until:u32 carry:u32
//! live actions, in slot order: count:u32,
//!     each: slot:u32 id:[u8;16] media:u8 state:u8 last_seen:u32 touched:u8  (27 bytes)
//! ended actions, oldest first: count:u32, each: id:[u8;16] media:u8 state:u8  (18 bytes)
//! ```
//!
//! Media types and states are written by wire name and mapped back by wire name, so a
//! checkpoint survives a rebuild that reorders the registry or a declaration's states; a
//! name the restoring tracker does not know is an error, never a guess.
//!
//! Which action the CLOCK hand evicts next, and when the idle sweep comes by an action,
//! follow from the actions' places in the live table, and those from the hash seed. So
//! the seed travels with the checkpoint (it is as secret as the checkpoint, which holds
//! every id anyway), and a restoring tracker whose table takes the same slot count (the
//! same `max_actions`) puts every action back in its slot, with both hands where they
//! were: it then evicts, expires and forgets exactly what the original would have. The
//! order in which ended actions are forgotten is kept too. A tracker with other limits
//! keeps the seed but lays the actions out for its own table, both hands from slot 0;
//! if it has room for fewer, the least recently seen go first (by last tick, oldest
//! first), counted as evicted.
//!
//! Version 1 (live actions in the order of an eviction queue the table no longer has) is
//! refused with [`RestoreError::Version`].

use uuid::Uuid;

use super::table::saturate;
use super::table::{Slot, Sweep};
use super::{distance, hash, home, Key, Tracker, TrackerStats};
use crate::description::MediaTypeDescription;

const MAGIC: &[u8; 4] = b"WATR";
const VERSION: u8 = 2;

/// Why bytes could not be restored as a tracker's (or an ingest's) state. The tracker is
/// left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The bytes do not start like a checkpoint.
    #[error("not a {what} checkpoint (the first bytes are not `{expected}`)")]
    NotACheckpoint {
        /// `tracker` or `ingest`.
        what: &'static str,
        /// The magic bytes expected.
        expected: &'static str,
    },
    /// A checkpoint of a format version this build does not read.
    #[error("{what} checkpoint version {found}: this build reads version {supported}")]
    Version {
        /// `tracker` or `ingest`.
        what: &'static str,
        /// The version in the bytes.
        found: u8,
        /// The version this build reads and writes.
        supported: u8,
    },
    /// The bytes end before the checkpoint does.
    #[error("the checkpoint ends at byte {at}, in the middle of {section}")]
    Truncated {
        /// How many bytes there are.
        at: usize,
        /// What was being read.
        section: &'static str,
    },
    /// Bytes after the end of the checkpoint.
    #[error("{extra} bytes after the end of the checkpoint")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The checkpoint names a media type the restoring tracker's registry does not hold.
    #[error("the checkpoint tracks media type `{media_type}`, which this registry does not know")]
    UnknownMediaType {
        /// Its wire name.
        media_type: String,
    },
    /// The checkpoint names a state its media type does not declare here.
    #[error("the checkpoint has `{media_type}` actions in state `{state}`, which `{media_type}` does not declare here")]
    UnknownState {
        /// The media type's wire name.
        media_type: String,
        /// The state's wire name.
        state: String,
    },
    /// The bytes are shaped like a checkpoint but contradict themselves.
    #[error("corrupt checkpoint: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: String,
    },
    /// The checkpoint counts ticks in other units than the restoring ingest.
    #[error("the checkpoint's idle clock counts {found}, this ingest's counts {expected}")]
    ClockMismatch {
        /// The checkpoint's unit.
        found: &'static str,
        /// This ingest's unit.
        expected: &'static str,
    },
}

/// Appends little-endian values.
pub(crate) struct Writer<'a>(pub(crate) &'a mut Vec<u8>);

impl Writer<'_> {
    pub(crate) fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    pub(crate) fn u16(&mut self, value: u16) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    fn name(&mut self, name: &str) {
        // Wire names are identifiers of a declaration: far below 64 KiB.
        let len = u16::try_from(name.len()).expect("a wire name is shorter than 64 KiB");
        self.u16(len);
        self.0.extend_from_slice(name.as_bytes());
    }
    fn id(&mut self, key: Key) {
        self.0.extend_from_slice(uuid_of(key).as_bytes());
    }
}

/// Reads little-endian values, naming the section a short read falls in.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }
    fn take(&mut self, n: usize, section: &'static str) -> Result<&'a [u8], RestoreError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(RestoreError::Truncated {
                at: self.bytes.len(),
                section,
            })?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }
    fn array<const N: usize>(&mut self, section: &'static str) -> Result<[u8; N], RestoreError> {
        Ok(self.take(N, section)?.try_into().expect("N bytes taken"))
    }
    pub(crate) fn u8(&mut self, section: &'static str) -> Result<u8, RestoreError> {
        Ok(self.array::<1>(section)?[0])
    }
    pub(crate) fn u16(&mut self, section: &'static str) -> Result<u16, RestoreError> {
        self.array(section).map(u16::from_le_bytes)
    }
    pub(crate) fn u32(&mut self, section: &'static str) -> Result<u32, RestoreError> {
        self.array(section).map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self, section: &'static str) -> Result<u64, RestoreError> {
        self.array(section).map(u64::from_le_bytes)
    }
    fn name(&mut self, section: &'static str) -> Result<&'a str, RestoreError> {
        let len = self.u16(section)?;
        let bytes = self.take(usize::from(len), section)?;
        std::str::from_utf8(bytes).map_err(|_| RestoreError::Corrupt {
            reason: format!("a name in {section} is not UTF-8"),
        })
    }
    /// Checks the magic bytes and the version.
    pub(crate) fn header(
        &mut self,
        what: &'static str,
        magic: &'static [u8; 4],
        version: u8,
    ) -> Result<(), RestoreError> {
        let expected = std::str::from_utf8(magic).expect("ASCII magic");
        if self.rest().get(..4) != Some(&magic[..]) {
            return Err(RestoreError::NotACheckpoint { what, expected });
        }
        self.at += 4;
        let found = self.u8("the header")?;
        if found != version {
            return Err(RestoreError::Version {
                what,
                found,
                supported: version,
            });
        }
        Ok(())
    }
    /// The bytes from here on.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at..]
    }
    /// Checks that nothing is left.
    pub(crate) fn finish(&self) -> Result<(), RestoreError> {
        match self.bytes.len() - self.at {
            0 => Ok(()),
            extra => Err(RestoreError::TrailingBytes { extra }),
        }
    }
}

fn uuid_of(key: Key) -> Uuid {
    let [a, b, c, d] = key.0;
    Uuid::from_u128(u128::from(a) | u128::from(b) << 32 | u128::from(c) << 64 | u128::from(d) << 96)
}

/// A checkpoint read and checked, in this tracker's media and state indices.
pub(crate) struct Restored {
    stats: TrackerStats,
    seed: [u64; 2],
    table: Layout,
    /// Whether this tracker's table takes the checkpointed slot count too, and the live
    /// actions fit: then they go back into their slots, both hands where they were.
    exact: bool,
    /// In slot order.
    live: Vec<Live>,
    /// Oldest first: key, media index, state index.
    ended: Vec<(Key, u8, u8)>,
}

/// Where the checkpointed table stood.
struct Layout {
    slots: usize,
    hand: usize,
    sweep: Sweep,
}

/// A live action as restored.
struct Live {
    /// Its slot in the checkpointed table.
    slot: usize,
    key: Key,
    media: u8,
    state: u8,
    last_seen: u32,
    touched: bool,
}

impl Tracker {
    /// Everything this tracker knows — live actions in their slots, where the eviction
    /// hand and the idle sweep stand, the ended actions it remembers, its counts, its hash
    /// seed — as bytes for [`restore`](Self::restore), in a format of its own
    /// ([`CHECKPOINT_VERSION`](Self::CHECKPOINT_VERSION); the layout is in the module
    /// source). 27 bytes per live action and 18 per remembered ended action, plus the media
    /// types' names.
    ///
    /// ```
    /// use events_core::ingest::Tracker;
    /// use events_core::{Registry, Uuid, WebChat};
    ///
    /// let registry = Registry::builtin();
    /// let mut tracker = Tracker::new(&registry);
    /// let id = Uuid::from_u128(7);
    /// tracker.track_state(0, id, WebChat::Offered as usize, 1).unwrap();
    ///
    /// let mut taken_over = Tracker::new(&registry);
    /// taken_over.restore(&tracker.checkpoint()).unwrap();
    /// assert_eq!(taken_over.state_of(id), Some(("webchat", "offered")));
    /// // It judges the next event as the first tracker would have.
    /// assert!(taken_over.track_state(0, id, WebChat::Engaged as usize, 2).is_err());
    /// ```
    pub fn checkpoint(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(
            96 + self.live.len * 27 + self.ended.len() * 18 + self.media_types.len() * 128,
        );
        self.write_checkpoint(&mut bytes);
        bytes
    }

    /// The version of the format [`checkpoint`](Self::checkpoint) writes and
    /// [`restore`](Self::restore) reads.
    pub const CHECKPOINT_VERSION: u8 = VERSION;

    pub(crate) fn write_checkpoint(&self, bytes: &mut Vec<u8>) {
        let mut out = Writer(bytes);
        out.0.extend_from_slice(MAGIC);
        out.u8(VERSION);
        out.u8(self.media_types.len() as u8);
        for media in &self.media_types {
            out.name(media.wire_name);
            out.u16(media.states.len() as u16);
            for state in media.states {
                out.name(state.wire_name);
            }
        }
        let TrackerStats {
            ended,
            expired,
            evicted,
            ended_forgotten,
        } = self.stats;
        for count in [ended, expired, evicted, ended_forgotten] {
            out.u64(count);
        }
        let table = &self.live;
        out.u64(table.seed[0]);
        out.u64(table.seed[1]);
        // Slot counts, and so positions, fit in u32 (`Table::new`).
        out.u32(table.slots.len() as u32);
        out.u32(table.hand as u32);
        let Sweep {
            at,
            behind,
            until,
            carry,
        } = table.sweep;
        out.u32(at as u32);
        out.u32(behind as u32);
        out.u32(until);
        out.u32(carry);
        out.u32(table.len as u32);
        for (at, slot) in table
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_empty())
        {
            out.u32(at as u32);
            out.id(slot.key);
            out.u8(slot.media - 1);
            out.u8(slot.state);
            out.u32(slot.last_seen);
            out.u8(u8::from(slot.touched));
        }

        let ring = &self.ended.ring;
        // Before the ring is full, it is in the order the actions ended; after, `oldest`
        // is where that order starts.
        let start = if ring.len() == self.ended.capacity {
            self.ended.oldest
        } else {
            0
        };
        out.u32(ring.len() as u32);
        for ended in ring[start..].iter().chain(&ring[..start]) {
            out.id(ended.key);
            out.u8(ended.media - 1);
            out.u8(ended.state);
        }
    }

    /// Replaces what this tracker knows with a [`checkpoint`](Self::checkpoint)'s, keeping
    /// its own limits and taking the checkpoint's hash seed (which action is evicted
    /// next, and when the idle sweep comes by, follow from it: see the module source).
    /// On an error nothing changes.
    ///
    /// Media types and states are matched by wire name. When this tracker's limits are
    /// smaller than the checkpointed tracker's, what does not fit goes: the least recently
    /// seen live actions are evicted (by their last tick), the oldest ended ones
    /// forgotten, each counted in [`stats`](Self::stats).
    pub fn restore(&mut self, checkpoint: &[u8]) -> Result<(), RestoreError> {
        let mut input = Reader::new(checkpoint);
        let restored = self.read_checkpoint(&mut input)?;
        input.finish()?;
        self.apply(restored);
        Ok(())
    }

    /// Reads and checks a checkpoint against this tracker's media types, changing nothing.
    pub(crate) fn read_checkpoint(&self, input: &mut Reader<'_>) -> Result<Restored, RestoreError> {
        input.header("tracker", MAGIC, VERSION)?;
        // Each checkpointed media type (and its states) by this tracker's indices.
        let media_count = input.u8("the media types")?;
        let mut media_map: Vec<(u8, Vec<u8>, &'static MediaTypeDescription)> = Vec::new();
        for _ in 0..media_count {
            let name = input.name("the media types")?;
            let (index, media) = self
                .media_types
                .iter()
                .enumerate()
                .find(|(_, m)| m.wire_name == name)
                .ok_or_else(|| RestoreError::UnknownMediaType {
                    media_type: name.to_owned(),
                })?;
            let state_count = input.u16("the states")?;
            let mut states = Vec::with_capacity(usize::from(state_count));
            for _ in 0..state_count {
                let state = input.name("the states")?;
                let position = media
                    .states
                    .iter()
                    .position(|s| s.wire_name == state)
                    .ok_or_else(|| RestoreError::UnknownState {
                        media_type: name.to_owned(),
                        state: state.to_owned(),
                    })?;
                // At most 256 states per media type (`with_config`).
                states.push(position as u8);
            }
            // At most 255 media types (`with_config`).
            media_map.push((index as u8, states, media));
        }
        let resolve = |media: u8, state: u8| -> Result<(u8, u8, bool), RestoreError> {
            let (index, states, description) =
                media_map
                    .get(usize::from(media))
                    .ok_or_else(|| RestoreError::Corrupt {
                        reason: format!("media type number {media} of {media_count}"),
                    })?;
            let state = *states
                .get(usize::from(state))
                .ok_or_else(|| RestoreError::Corrupt {
                    reason: format!(
                        "state number {state} of {} in `{}`",
                        states.len(),
                        description.wire_name
                    ),
                })?;
            let ends = description.states[usize::from(state)].kind.ends_lifecycle();
            Ok((*index, state, ends))
        };

        let mut stats = TrackerStats::default();
        for count in [
            &mut stats.ended,
            &mut stats.expired,
            &mut stats.evicted,
            &mut stats.ended_forgotten,
        ] {
            *count = input.u64("the counts")?;
        }
        let seed = [input.u64("the hash seed")?, input.u64("the hash seed")?];
        let slots = input.u32("the live table")? as usize;
        let hand = input.u32("the live table")? as usize;
        let sweep = Sweep {
            at: input.u32("the idle sweep")? as usize,
            behind: input.u32("the idle sweep")? as usize,
            until: input.u32("the idle sweep")?,
            carry: input.u32("the idle sweep")?,
        };
        let within = |at: usize| at < slots || (slots == 0 && at == 0);
        if !within(hand) || !within(sweep.at) || sweep.behind > slots {
            return Err(RestoreError::Corrupt {
                reason: format!("a hand past the live table's {slots} slots"),
            });
        }

        let live_count = input.u32("the live actions")? as usize;
        // Bounded by the bytes, not by the count a corrupt header claims.
        let mut live: Vec<Live> = Vec::with_capacity(live_count.min(input.rest().len() / 27));
        for _ in 0..live_count {
            let slot = input.u32("the live actions")? as usize;
            if slot >= slots || live.last().is_some_and(|before| before.slot >= slot) {
                return Err(RestoreError::Corrupt {
                    reason: format!("live action in slot {slot} of {slots}, out of order"),
                });
            }
            let key = Key::from(Uuid::from_bytes(input.array("the live actions")?));
            let (media, state, ends) =
                resolve(input.u8("the live actions")?, input.u8("the live actions")?)?;
            if ends {
                return Err(RestoreError::Corrupt {
                    reason: format!("live action {} is in an end state", uuid_of(key)),
                });
            }
            live.push(Live {
                slot,
                key,
                media,
                state,
                last_seen: input.u32("the live actions")?,
                touched: input.u8("the live actions")? != 0,
            });
        }
        let ended_count = input.u32("the ended actions")? as usize;
        let mut ended = Vec::with_capacity(ended_count.min(input.rest().len() / 18));
        for _ in 0..ended_count {
            let key = Key::from(Uuid::from_bytes(input.array("the ended actions")?));
            let (media, state, _) = resolve(
                input.u8("the ended actions")?,
                input.u8("the ended actions")?,
            )?;
            ended.push((key, media, state));
        }
        let mut ids = std::collections::HashSet::with_capacity(live.len() + ended.len());
        for key in live.iter().map(|l| l.key).chain(ended.iter().map(|e| e.0)) {
            if !ids.insert(key.0) {
                return Err(RestoreError::Corrupt {
                    reason: format!("action {} appears twice", uuid_of(key)),
                });
            }
        }

        // The actions go back into their slots only if this table takes that slot count,
        // holds them all, and finds each: its probe sequence, from its home to its slot,
        // must not cross an empty slot.
        // (A table that never grew has no slots, and no actions.)
        let exact = live.len() <= self.config.max_actions
            && (live.len() < slots || slots == 0)
            && self.live.takes_size(slots);
        if exact && !reachable(&live, slots, seed) {
            return Err(RestoreError::Corrupt {
                reason: "a live action out of reach of its probe sequence".to_owned(),
            });
        }

        Ok(Restored {
            stats,
            seed,
            table: Layout { slots, hand, sweep },
            exact,
            live,
            ended,
        })
    }

    /// Replaces this tracker's state with a checked checkpoint's.
    pub(crate) fn apply(&mut self, restored: Restored) {
        let Restored {
            stats,
            seed,
            table: layout,
            exact,
            mut live,
            ended,
        } = restored;
        self.clear();
        self.stats = stats;
        self.live.seed = seed;
        self.ended.seed = seed;
        let slot_of = |action: &Live| Slot {
            key: action.key,
            last_seen: action.last_seen,
            state: action.state,
            media: action.media + 1,
            touched: action.touched,
            shift: 0,
        };
        let table = &mut self.live;
        if exact {
            let Layout { slots, hand, sweep } = layout;
            table.slots = vec![Slot::default(); slots];
            for action in &live {
                let mut slot = slot_of(action);
                slot.shift = saturate(distance(home(action.key, seed, slots), action.slot, slots));
                table.slots[action.slot] = slot;
            }
            table.len = live.len();
            table.hand = hand;
            table.sweep = sweep;
        } else {
            let excess = live.len().saturating_sub(self.config.max_actions);
            if excess > 0 {
                // Oldest first: by ticks before the newest action's last one (ticks wrap,
                // and are compared within half their range).
                let first = live[0].last_seen;
                let newest = live
                    .iter()
                    .map(|action| action.last_seen)
                    .max_by_key(|&tick| tick.wrapping_sub(first) as i32)
                    .unwrap_or(first);
                live.sort_by_key(|action| std::cmp::Reverse(newest.wrapping_sub(action.last_seen)));
                live.drain(..excess);
                self.stats.evicted += excess as u64;
            }
            let mut size = 0;
            while (live.len() as u64 + 1) * 20 > size as u64 * 11 && size < table.max_slots {
                size = table.grown_size(size);
            }
            table.grow(size, None);
            table.sweep.until = layout.sweep.until;
            for action in &live {
                let hashed = hash(action.key, seed);
                let vacant = table
                    .find_hashed(action.key, hashed)
                    .expect_err("ids are unique");
                table.insert_at(vacant, slot_of(action), hashed, 0);
            }
        }
        for (key, media, state) in ended {
            let hashed = hash(key, seed);
            self.remember_end(key, hashed, usize::from(media), usize::from(state));
        }
    }
}

/// Whether every live action lies within reach of its home in a table of `slots` slots
/// hashed with `seed`: no empty slot between its home and its slot (cyclically). One
/// pass: the run of occupied slots ending at each must be longer than its distance from
/// home.
fn reachable(live: &[Live], slots: usize, seed: [u64; 2]) -> bool {
    if live.is_empty() {
        return true;
    }
    // The run ending at each action, counted from the first action after an empty slot;
    // a run that wraps past the end continues from the last slots (at least one slot is
    // empty, so some run starts after a gap).
    let wrapped = {
        let mut run = 0;
        let mut expected = slots - 1;
        for action in live.iter().rev() {
            if action.slot != expected {
                break;
            }
            run += 1;
            expected = expected.wrapping_sub(1);
        }
        run
    };
    let mut run = if live[0].slot == 0 { wrapped } else { 0 };
    let mut previous: Option<usize> = None;
    for action in live {
        run = match previous {
            Some(before) if before + 1 == action.slot => run + 1,
            None if action.slot == 0 => run + 1,
            _ => 1,
        };
        previous = Some(action.slot);
        if distance(home(action.key, seed, slots), action.slot, slots) >= run {
            return false;
        }
    }
    true
}
