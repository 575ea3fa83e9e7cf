//! The live table: open addressing with linear probing and backward-shift removal, and
//! the FIFO queue of records that orders eviction (see the [module docs](super)).

use std::collections::VecDeque;

use super::{distance, hash, home, reduce, Key, TrackerConfig};

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) key: Key,
    pub(super) last_seen: u32,
    /// The queue position of this slot's record.
    pub(super) qpos: u32,
    pub(super) state: u8,
    /// The media type's index plus one; 0 marks an empty slot.
    pub(super) media: u8,
    /// Seen since its record was queued: gets a second chance before eviction.
    pub(super) touched: bool,
    /// How far the slot lies past its home, saturated at `u8::MAX` (then the hash tells).
    /// Removal moves slots back by their distance from home: reading it here saves
    /// hashing every slot of the cluster again (about 8 % of removal's instructions). It
    /// takes the byte the slot's alignment would leave empty anyway.
    pub(super) shift: u8,
}

impl Slot {
    pub(super) fn is_empty(&self) -> bool {
        self.media == 0
    }
}

/// Open addressing with linear probing and backward-shift removal (no tombstones), at
/// most 5/7 full, plus the FIFO queue of records that orders eviction.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) slots: Vec<Slot>,
    pub(super) len: usize,
    /// The slot count this table grows to: `cap × 7/5`, rounded up.
    pub(super) max_slots: usize,
    pub(super) seed: [u64; 2],
    /// Eviction-order records: each the home index of a live action's slot.
    pub(super) queue: VecDeque<u32>,
    /// The position of `queue[0]`; positions only grow (wrapping).
    pub(super) head: u32,
}

impl Table {
    pub(super) fn new(cap: usize, seed: [u64; 2]) -> Self {
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

    pub(super) fn home(&self, key: Key) -> usize {
        home(key, self.seed, self.slots.len())
    }

    /// How far the occupied slot `at` lies past its home.
    pub(super) fn shift(&self, at: usize) -> usize {
        let slot = &self.slots[at];
        if slot.shift < u8::MAX {
            usize::from(slot.shift)
        } else {
            distance(self.home(slot.key), at, self.slots.len())
        }
    }

    /// The slot holding `key`, or the empty slot where it would go.
    pub(super) fn find(&self, key: Key) -> Result<usize, usize> {
        self.find_hashed(key, hash(key, self.seed))
    }

    /// [`find`](Self::find) for a key whose hash the caller has at hand.
    pub(super) fn find_hashed(&self, key: Key, hash: u64) -> Result<usize, usize> {
        if self.slots.is_empty() {
            return Err(usize::MAX);
        }
        self.probe(reduce(hash, self.slots.len()), |slot| slot.key == key)
    }

    /// Walks the probe sequence from `start` to the first slot that `matches` (`Ok`) or
    /// the first empty one (`Err`).
    pub(super) fn probe(
        &self,
        start: usize,
        matches: impl Fn(&Slot) -> bool,
    ) -> Result<usize, usize> {
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

    pub(super) fn needs_growth(&self) -> bool {
        // In u64: with up to 2³¹ slots, `× 7` would overflow a 32-bit usize.
        (self.len as u64 + 1) * 7 > self.slots.len() as u64 * 5 && self.slots.len() < self.max_slots
    }

    /// Inserts a key known to be absent.
    pub(super) fn insert(&mut self, slot: Slot) {
        match self.find(slot.key) {
            Err(vacant) => self.insert_at(vacant, slot),
            Ok(_) => unreachable!("insert of a key already present"),
        }
    }

    /// Inserts at the vacant slot `find` returned, growing first when needed.
    pub(super) fn insert_at(&mut self, mut vacant: usize, mut slot: Slot) {
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

    pub(super) fn grow(&mut self) {
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
    pub(super) fn locate(&self, position: u32, home: u32) -> Option<usize> {
        self.probe(home as usize, |slot| slot.qpos == position).ok()
    }

    /// Which records are current (their slot holds their position), found by reading the
    /// slots in index order: sequential reads, not one random access per record.
    pub(super) fn current_records(&self) -> CurrentRecords {
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
    pub(super) fn remove(&mut self, mut i: usize) {
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
    pub(super) fn evict_oldest(&mut self) -> Option<()> {
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
    pub(super) fn pop_front(&mut self) -> Option<(u32, u32)> {
        let home = self.queue.pop_front()?;
        let position = self.head;
        self.head = self.head.wrapping_add(1);
        Some((position, home))
    }

    pub(super) fn requeue(&mut self, at: usize) {
        self.slots[at].touched = false;
        self.enqueue(at);
    }

    /// Queues a record for the slot at `at`, at the back. The queue grows by a quarter of
    /// the live count at a time rather than letting `VecDeque` double it: compaction keeps
    /// at most `1.5 × live + 64` records, so at the cap its capacity stays under 1.75
    /// records (7 bytes) per live action, which with the slots' 39.2 keeps the tracker
    /// under 48.
    pub(super) fn enqueue(&mut self, at: usize) {
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
    pub(super) fn expire(&mut self, now: u32, timeout: u32) -> (u64, Option<u32>) {
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
    pub(super) fn compact_if_needed(&mut self) {
        if self.queue.len() > self.len + self.len / 2 + 64 {
            self.compact();
        }
    }

    pub(super) fn compact(&mut self) {
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

    pub(super) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.queue.capacity() * std::mem::size_of::<u32>()
    }

    pub(super) fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.queue.clear();
        self.len = 0;
    }
}

/// The current records of the queue, and each one's rank among them: its position once
/// the stale ones are dropped.
pub(super) struct CurrentRecords {
    pub(super) head: u32,
    pub(super) bits: Vec<u64>,
    pub(super) rank: Vec<usize>,
    pub(super) count: usize,
}

impl CurrentRecords {
    /// The offsets of the current records, in order.
    pub(super) fn offsets(&self) -> impl Iterator<Item = usize> + '_ {
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
    pub(super) fn renumber(&self, slot: &mut Slot) -> usize {
        let offset = slot.qpos.wrapping_sub(self.head) as usize;
        let below = self.bits[offset / 64] & ((1 << (offset % 64)) - 1);
        let new_offset = self.rank[offset / 64] + below.count_ones() as usize;
        slot.qpos = self.head.wrapping_add(new_offset as u32);
        new_offset
    }
}

pub(super) fn saturate(shift: usize) -> u8 {
    u8::try_from(shift).unwrap_or(u8::MAX)
}
