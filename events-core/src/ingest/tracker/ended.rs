//! The memory of ended actions: exact up to its capacity, oldest forgotten first (see the
//! [module docs](super)).

use super::{distance, hash, home, prefetch, reduce, Key, TrackerConfig};

/// The fewest bits an index entry keeps for the displacement before it gives any to the
/// tag: with up to 255 stored, the ring's key is read for a displacement only in clusters
/// that long.
const DISPLACEMENT_BITS: u32 = 8;

/// A remembered ended action.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ended {
    pub(super) key: Key,
    /// The media type's index plus one.
    pub(super) media: u8,
    pub(super) state: u8,
}

/// The ended actions, the last `capacity` of them exactly: a FIFO ring of entries in the
/// order they ended, and an open-addressing index into it (linear probing, at most 1/4
/// full, backward-shift removal) keyed with the live table's hash. Once the ring is full,
/// a newly ended action takes the place of the oldest.
///
/// An index entry is a ring position plus one (0: empty) with, above it, a tag of the
/// key's hash (its low bits, which the home does not use) and how far the entry lies past
/// its home (saturated; then the ring's key tells, as the live table's `shift` does). A
/// lookup reads the ring only for an entry whose home and tag are the key's own, and a
/// removal shifts entries back without reading the ring at all: the ring is 20 bytes an
/// entry, scattered, and each read of it there was a cache miss — most lookups are of
/// actions that did not end (each action's first event), and with the default capacity
/// the 7-bit tag turns away all but 1 in 128 of the entries of the same home they meet.
/// Both grow with use up to the capacity, then keep their size.
#[derive(Debug, Clone)]
pub(super) struct EndedMemory {
    pub(super) ring: Vec<Ended>,
    /// Where the next ended action goes once the ring is full: its oldest entry.
    pub(super) oldest: usize,
    /// How many of the oldest entries, from `oldest` on, [`touch_oldest`](Self::touch_oldest)
    /// has asked for already: each is asked for once. Only a hint: nothing else reads it.
    asked: usize,
    pub(super) index: Vec<u32>,
    pub(super) capacity: usize,
    /// How many low bits of an index entry hold the position; the tag and the
    /// displacement take the rest.
    pub(super) position_bits: u32,
    /// How many bits above the position hold the tag: what is left once the
    /// displacement has [`DISPLACEMENT_BITS`], up to 8.
    pub(super) tag_bits: u32,
    pub(super) seed: [u64; 2],
}

impl EndedMemory {
    pub(super) fn new(capacity: usize, seed: [u64; 2]) -> Self {
        debug_assert!(capacity <= TrackerConfig::MAX_REMEMBER_ENDED);
        // Positions plus one go up to `capacity`; at most 31 bits, so at least one bit
        // is left for the displacement.
        let position_bits = usize::BITS - capacity.leading_zeros();
        EndedMemory {
            ring: Vec::new(),
            oldest: 0,
            asked: 0,
            index: Vec::new(),
            capacity,
            position_bits,
            tag_bits: Self::tag_bits(position_bits),
            seed,
        }
    }

    /// The tag's width for positions of `position_bits`.
    pub(super) fn tag_bits(position_bits: u32) -> u32 {
        (u32::BITS - position_bits)
            .saturating_sub(DISPLACEMENT_BITS)
            .min(8)
    }

    pub(super) fn len(&self) -> usize {
        self.ring.len()
    }

    pub(super) fn position(&self, entry: u32) -> usize {
        (entry & !(u32::MAX << self.position_bits)) as usize - 1
    }

    /// The largest displacement an entry stores; from it on, the ring's key tells.
    fn max_displacement(&self) -> usize {
        (u32::MAX >> (self.position_bits + self.tag_bits)) as usize
    }

    /// The tag of a key of this hash.
    fn tag(&self, hash: u64) -> u32 {
        (hash as u32) & !(u32::MAX << self.tag_bits)
    }

    /// The tag stored in `entry`.
    fn tag_of(&self, entry: u32) -> u32 {
        (entry >> self.position_bits) & !(u32::MAX << self.tag_bits)
    }

    /// The index entry for ring position `position` of a key with this `tag`,
    /// `displacement` slots past its home.
    fn entry(&self, position: usize, tag: u32, displacement: usize) -> u32 {
        // `position` < `capacity` ≤ 2³¹ − 1: plus one, it fits below the tag.
        let stored = displacement.min(self.max_displacement()) as u32;
        // `position_bits + tag_bits` ≤ 31 (`MAX_REMEMBER_ENDED`, at least one
        // displacement bit): the shifts are in range.
        (position as u32 + 1)
            | tag << self.position_bits
            | stored << (self.position_bits + self.tag_bits)
    }

    /// How far the occupied entry at `at` lies past its home.
    #[inline]
    pub(super) fn displacement(&self, at: usize) -> usize {
        let entry = self.index[at];
        let stored = (entry >> (self.position_bits + self.tag_bits)) as usize;
        if stored < self.max_displacement() {
            stored
        } else {
            let key = self.ring[self.position(entry)].key;
            distance(home(key, self.seed, self.index.len()), at, self.index.len())
        }
    }

    pub(super) fn next(&self, i: usize) -> usize {
        if i + 1 == self.index.len() {
            0
        } else {
            i + 1
        }
    }

    /// Walks the probe sequence of `hash` to the first entry of the same home and tag
    /// whose ring position `matches` (`Ok`), or to the first empty slot (`Err`) and how
    /// far that lies past the home.
    pub(super) fn probe(
        &self,
        hash: u64,
        matches: impl Fn(usize) -> bool,
    ) -> Result<usize, (usize, usize)> {
        let mut i = reduce(hash, self.index.len());
        let tag = self.tag(hash);
        // Ends: the index always has more slots than the ring has entries.
        for walked in 0.. {
            let entry = self.index[i];
            if entry == 0 {
                return Err((i, walked));
            }
            if self.tag_of(entry) == tag
                && self.displacement(i) == walked
                && matches(self.position(entry))
            {
                return Ok(i);
            }
            i = self.next(i);
        }
        unreachable!("the index has an empty slot")
    }

    pub(super) fn get(&self, key: Key) -> Option<Ended> {
        self.get_hashed(key, hash(key, self.seed))
    }

    /// [`get`](Self::get) for a key whose hash the caller has at hand.
    ///
    /// Inlined up to the home entry: most lookups are of actions that did not end (each
    /// action's first event), and with the index at most 1/4 full most of those find
    /// their home entry empty, and stop there without a call.
    #[inline]
    pub(super) fn get_hashed(&self, key: Key, hash: u64) -> Option<Ended> {
        if self.index.is_empty() || self.index[reduce(hash, self.index.len())] == 0 {
            return None;
        }
        self.get_probed(key, hash)
    }

    /// [`get_hashed`](Self::get_hashed) past an occupied home entry.
    #[inline(never)]
    fn get_probed(&self, key: Key, hash: u64) -> Option<Ended> {
        let i = self.probe(hash, |at| self.ring[at].key == key).ok()?;
        Some(self.ring[self.position(self.index[i])])
    }

    /// Asks for the index entries that the next `n` actions to end will forget, once the
    /// ring is full: the home entries of the ring's `n` oldest. They are scattered over the
    /// index, and each forget would otherwise wait for its own miss (see
    /// [`Tracker::track_batch`](super::Tracker::track_batch)).
    pub(super) fn touch_oldest(&mut self, n: usize) {
        let n = n.min(self.capacity);
        if self.ring.len() < self.capacity || self.asked >= n {
            return;
        }
        let mut at = (self.oldest + self.asked) % self.capacity;
        for _ in self.asked..n {
            let hash = hash(self.ring[at].key, self.seed);
            prefetch(&self.index[reduce(hash, self.index.len())]);
            at = self.next_in_ring(at);
        }
        self.asked = n;
    }

    /// The ring position after `at`, once the ring is full.
    fn next_in_ring(&self, at: usize) -> usize {
        if at + 1 == self.capacity {
            0
        } else {
            at + 1
        }
    }

    /// Remembers `key`, which must not be remembered already; returns whether the oldest
    /// ended action was forgotten for it.
    #[cfg(test)]
    pub(super) fn remember(&mut self, key: Key, media: u8, state: u8) -> bool {
        self.remember_hashed(key, hash(key, self.seed), media, state)
    }

    /// [`remember`](Self::remember) for a key whose hash the caller has at hand.
    pub(super) fn remember_hashed(&mut self, key: Key, hash: u64, media: u8, state: u8) -> bool {
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
            self.oldest = self.next_in_ring(position);
            self.asked = self.asked.saturating_sub(1);
            position
        } else {
            if self.ring.len() == self.ring.capacity() {
                self.grow();
            }
            self.ring.push(ended);
            self.ring.len() - 1
        };
        self.index_entry(position, hash);
        forgot
    }

    /// Indexes ring position `position`, whose key has this hash.
    pub(super) fn index_entry(&mut self, position: usize, hash: u64) {
        let home = reduce(hash, self.index.len());
        if self.index[home] == 0 {
            // The usual case, the index being at most 1/4 full: no walk.
            self.index[home] = self.entry(position, self.tag(hash), 0);
            return;
        }
        let Err((vacant, displacement)) = self.probe(hash, |_| false) else {
            unreachable!("nothing matches");
        };
        self.index[vacant] = self.entry(position, self.tag(hash), displacement);
    }

    /// Doubles the ring (up to the capacity) and rebuilds the index for its new size.
    pub(super) fn grow(&mut self) {
        let len = self.ring.len();
        let target = len.saturating_mul(2).max(64).min(self.capacity);
        self.ring.reserve_exact(target - len);
        // At most 1/4 full once the ring is: each action's first event looks up a key that
        // is not here, and each end inserts one entry and removes another, so nearly every
        // event walks a cluster of this index, whose length grows quickly with the load
        // (BENCHMARKS.md, fifteenth session, has the instructions saved against 2/3). The
        // entries are 4 bytes, small next to the ring's 20 and the live table's slots.
        let slots = target
            .checked_mul(4)
            .and_then(|slots| slots.checked_add(1))
            .expect("MAX_REMEMBER_ENDED keeps the index size in range");
        // Written, not `vec![0; slots]`: that takes zeroed pages from the kernel, which
        // maps each to the shared zero page on its first read, here the probe before an
        // insert, and on the write after must copy it and flush that page from the TLB
        // of every core the process runs on: one interrupt of each other worker per
        // page. Writing every entry now takes each page at its first touch, alone.
        self.index = Vec::with_capacity(slots);
        self.index.resize(slots, 0);
        for position in 0..len {
            self.index_entry(position, hash(self.ring[position].key, self.seed));
        }
    }

    /// Removes the index entry of ring position `position`, shifting back the entries
    /// after it that probed past it, as [`Table::remove`] does.
    pub(super) fn forget(&mut self, position: usize) {
        let hash = hash(self.ring[position].key, self.seed);
        let home = reduce(hash, self.index.len());
        let entry = self.index[home];
        // A ring position is in one entry only: found at its home (the usual case, the
        // index being at most 1/4 full), it needs no walk.
        let mut i = if entry != 0 && self.position(entry) == position {
            home
        } else {
            let Ok(i) = self.probe(hash, |at| at == position) else {
                unreachable!("every ring entry is indexed");
            };
            i
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
            // in (i, j]; chosen without a branch, as `Table::remove` does.
            let (displacement, gap) = (self.displacement(j), distance(i, j, n));
            let moves = displacement >= gap;
            let moved = self.entry(
                self.position(entry),
                self.tag_of(entry),
                displacement.saturating_sub(gap),
            );
            let to = std::hint::select_unpredictable(moves, i, j);
            self.index[to] = std::hint::select_unpredictable(moves, moved, entry);
            i = std::hint::select_unpredictable(moves, j, i);
        }
        self.index[i] = 0;
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.ring.capacity() * std::mem::size_of::<Ended>()
            + self.index.capacity() * std::mem::size_of::<u32>()
    }

    pub(super) fn clear(&mut self) {
        self.ring.clear();
        self.index.fill(0);
        self.oldest = 0;
        self.asked = 0;
    }
}
