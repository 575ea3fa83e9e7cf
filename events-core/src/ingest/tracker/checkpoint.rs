//! A tracker's state as bytes, and back: what a process that takes over a partition of
//! the stream needs to judge the next events exactly as the process before it would have.
//!
//! # Format (version 1, little-endian)
//!
//! ```text
//! "WATR" version:u8
//! media types: count:u8, each: name, states: count:u16, each: name     (name: len:u16 bytes)
//! stats: ended expired evicted ended_forgotten: u64 × 4
//! next_expiry: u32
//! live actions, eviction order (front first): count:u32,
//!     each: id:[u8;16] media:u8 state:u8 last_seen:u32 touched:u8     (23 bytes)
//! ended actions, oldest first: count:u32, each: id:[u8;16] media:u8 state:u8  (18 bytes)
//! ```
//!
//! Media types and states are written by wire name and mapped back by wire name, so a
//! checkpoint survives a rebuild that reorders the registry or a declaration's states; a
//! name the restoring tracker does not know is an error, never a guess. The eviction
//! order is kept exactly (current queue records, front first, with their second-chance
//! bits), and so is the order in which ended actions are forgotten, so a restored tracker
//! evicts, expires and forgets what the original would have. Stale queue records and the
//! hash seed are not written: the restoring tracker keeps its own seed.

use uuid::Uuid;

use super::table::Slot;
use super::{Key, Tracker, TrackerStats};
use crate::description::MediaTypeDescription;

const MAGIC: &[u8; 4] = b"WATR";
const VERSION: u8 = 1;

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
    next_expiry: u32,
    /// Front of the eviction queue first.
    live: Vec<Live>,
    /// Oldest first: key, media index, state index.
    ended: Vec<(Key, u8, u8)>,
}

/// A live action as restored: everything but its place in the table.
struct Live {
    key: Key,
    media: u8,
    state: u8,
    last_seen: u32,
    touched: bool,
}

impl Tracker {
    /// Everything this tracker knows — live actions in eviction order, the ended actions it
    /// remembers, its counts — as bytes for [`restore`](Self::restore), in a format of its
    /// own ([`CHECKPOINT_VERSION`](Self::CHECKPOINT_VERSION); the layout is in the module
    /// source). 23 bytes per live action and 18 per remembered ended action, plus the media
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
            64 + self.live.len * 23 + self.ended.len() * 18 + self.media_types.len() * 128,
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
        out.u32(self.next_expiry);

        // Current records only, front first: a slot holds its record's position.
        let mut live: Vec<&Slot> = self.live.slots.iter().filter(|s| !s.is_empty()).collect();
        live.sort_unstable_by_key(|slot| slot.qpos.wrapping_sub(self.live.head));
        out.u32(live.len() as u32);
        for slot in live {
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
    /// its own limits and hash seed. On an error nothing changes.
    ///
    /// Media types and states are matched by wire name. When this tracker's limits are
    /// smaller than the checkpointed tracker's, what does not fit goes as it would have
    /// while tracking: the least recently seen live actions are evicted, the oldest ended
    /// ones forgotten, each counted in [`stats`](Self::stats).
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
        let next_expiry = input.u32("the idle clock")?;

        let live_count = input.u32("the live actions")? as usize;
        // Bounded by the bytes, not by the count a corrupt header claims.
        let mut live = Vec::with_capacity(live_count.min(input.rest().len() / 23));
        for _ in 0..live_count {
            let key = Key::from(Uuid::from_bytes(input.array("the live actions")?));
            let (media, state, ends) =
                resolve(input.u8("the live actions")?, input.u8("the live actions")?)?;
            if ends {
                return Err(RestoreError::Corrupt {
                    reason: format!("live action {} is in an end state", uuid_of(key)),
                });
            }
            live.push(Live {
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

        Ok(Restored {
            stats,
            next_expiry,
            live,
            ended,
        })
    }

    /// Replaces this tracker's state with a checked checkpoint's.
    pub(crate) fn apply(&mut self, restored: Restored) {
        let Restored {
            stats,
            next_expiry,
            live,
            ended,
        } = restored;
        self.clear();
        self.stats = stats;
        self.next_expiry = next_expiry;
        for action in live {
            if self.live.len >= self.config.max_actions {
                if self.live.evict_oldest().is_none() {
                    // `max_actions` is 0: nothing can be tracked.
                    continue;
                }
                self.stats.evicted += 1;
            }
            self.live.insert(Slot {
                key: action.key,
                last_seen: action.last_seen,
                qpos: 0,
                state: action.state,
                media: action.media + 1,
                touched: false,
                shift: 0,
            });
            if action.touched {
                let at = self.live.find(action.key).expect("just inserted");
                self.live.slots[at].touched = true;
            }
        }
        for (key, media, state) in ended {
            self.remember_end(key, usize::from(media), usize::from(state));
        }
    }
}
