//! The live table: open addressing with linear probing and backward-shift removal, and
//! the two hands that walk it: the CLOCK hand that picks an action to evict at the cap,
//! and the idle sweep (see the [module docs](super)).

use super::{distance, hash, home, reduce, Key, TrackerConfig};

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Slot {
    pub(super) key: Key,
    pub(super) last_seen: u32,
    pub(super) state: u8,
    /// The media type's index plus one; 0 marks an empty slot.
    pub(super) media: u8,
    /// Seen since the CLOCK hand last passed it: the hand passes it once more (clearing
    /// this) before it can be evicted.
    pub(super) touched: bool,
    /// How far the slot lies past its home, saturated at `u8::MAX` (then the hash tells).
    /// Removal moves slots back by their distance from home: reading it here saves
    /// hashing every slot of the cluster again. It takes the byte the slot's alignment
    /// would leave empty anyway.
    pub(super) shift: u8,
}

impl Slot {
    pub(super) fn is_empty(&self) -> bool {
        self.media == 0
    }
}

/// Whether an action last seen at `last_seen` has been idle for more than `timeout` at
/// `now`: the one rule both the sweep and a lookup apply.
pub(super) fn is_idle(now: u32, last_seen: u32, timeout: u32) -> bool {
    now.wrapping_sub(last_seen) > timeout
}

/// Where the idle sweep stands. The sweep visits the slots in index order, wrapping
/// around, at a pace of `slots.len()` visits per `timeout` ticks, so that every slot is
/// visited at least once in any `timeout` consecutive ticks (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Sweep {
    /// The next slot to visit.
    pub(super) at: usize,
    /// Visits owed beyond the pace: a removal that shifted slots back across `at` moved
    /// `at` back over them, and the sweep walks that stretch again.
    pub(super) behind: usize,
    /// The tick the visits so far were paced up to.
    pub(super) until: u32,
    /// What the pace owes short of a whole visit, in 1/`timeout` visits.
    pub(super) carry: u32,
}

/// Open addressing with linear probing and backward-shift removal (no tombstones), at
/// most 11/20 full, walked by the CLOCK hand and the idle sweep.
#[derive(Debug, Clone)]
pub(super) struct Table {
    pub(super) slots: Vec<Slot>,
    pub(super) len: usize,
    /// The slot count this table grows to: `cap × 20/11`, rounded up, plus one.
    pub(super) max_slots: usize,
    pub(super) seed: [u64; 2],
    /// Where the CLOCK hand looks next for an action to evict.
    pub(super) hand: usize,
    pub(super) idle_timeout: Option<u32>,
    pub(super) sweep: Sweep,
}

impl Table {
    pub(super) fn new(cap: usize, seed: [u64; 2], idle_timeout: Option<u32>) -> Self {
        debug_assert!(cap <= TrackerConfig::MAX_ACTIONS);
        // More slots than the cap: one stays empty even at the cap, so probes end. In
        // u64: `cap × 20` would overflow a 32-bit usize.
        let max_slots = usize::try_from((cap as u64 * 20).div_ceil(11) + 1)
            .ok()
            .filter(|&slots| u32::try_from(slots).is_ok())
            .expect("MAX_ACTIONS keeps the slot count within u32");
        Table {
            slots: Vec::new(),
            len: 0,
            max_slots,
            seed,
            hand: 0,
            idle_timeout,
            sweep: Sweep::default(),
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

    fn next(&self, i: usize) -> usize {
        if i + 1 == self.slots.len() {
            0
        } else {
            i + 1
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
        let mut i = reduce(hash, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot.is_empty() {
                return Err(i);
            }
            if slot.key == key {
                return Ok(i);
            }
            i = self.next(i);
        }
    }

    /// The slot count after the next growth: the table doubles from 16 up to
    /// `max_slots`.
    pub(super) fn grown_size(&self, len: usize) -> usize {
        len.saturating_mul(2).max(16).min(self.max_slots)
    }

    /// Whether this table takes `len` slots at some point of its growth.
    pub(super) fn takes_size(&self, len: usize) -> bool {
        let mut size = 0;
        loop {
            if size == len {
                return true;
            }
            if size == self.max_slots {
                return false;
            }
            size = self.grown_size(size);
        }
    }

    pub(super) fn needs_growth(&self) -> bool {
        // In u64: with up to 2³² slots, `× 20` would overflow a 32-bit usize.
        (self.len as u64 + 1) * 20 > self.slots.len() as u64 * 11
            && self.slots.len() < self.max_slots
    }

    /// Inserts a key known to be absent; returns how many idle actions a growth of the
    /// table forgot on the way (see [`grow`](Self::grow)).
    pub(super) fn insert(&mut self, slot: Slot, now: u32) -> u64 {
        match self.find(slot.key) {
            Err(vacant) => self.insert_at(vacant, slot, hash(slot.key, self.seed), now),
            Ok(_) => unreachable!("insert of a key already present"),
        }
    }

    /// Inserts at the vacant slot `find` returned for a key of this `hash`, growing first
    /// when needed; returns how many idle actions the growth forgot.
    pub(super) fn insert_at(
        &mut self,
        mut vacant: usize,
        mut slot: Slot,
        hash: u64,
        now: u32,
    ) -> u64 {
        let mut expired = 0;
        if self.needs_growth() {
            expired = self.grow(self.grown_size(self.slots.len()), Some(now));
            vacant = self.find_hashed(slot.key, hash).expect_err("key is absent");
        }
        // Probes end at an empty slot: one must be left after this insert.
        assert!(self.len + 1 < self.slots.len(), "the table is never full");
        let home = reduce(hash, self.slots.len());
        slot.shift = saturate(distance(home, vacant, self.slots.len()));
        self.slots[vacant] = slot;
        self.len += 1;
        expired
    }

    /// Moves every action into a table of `new_len` slots. Every position changes, so
    /// both hands start again at slot 0; at `now` (given while tracking), the actions
    /// idle past the timeout are forgotten on the way, and the count is returned: every
    /// slot was visited at `now`, which restarts the sweep's pace from there.
    pub(super) fn grow(&mut self, new_len: usize, now: Option<u32>) -> u64 {
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); new_len]);
        let due = |slot: &Slot| match (now, self.idle_timeout) {
            (Some(now), Some(timeout)) => is_idle(now, slot.last_seen, timeout),
            _ => false,
        };
        let mut expired = 0;
        self.len = 0;
        for mut slot in old.into_iter().filter(|s| !s.is_empty()) {
            if due(&slot) {
                expired += 1;
                continue;
            }
            let at = self.find(slot.key).expect_err("keys are unique");
            slot.shift = saturate(distance(self.home(slot.key), at, new_len));
            self.slots[at] = slot;
            self.len += 1;
        }
        self.hand = 0;
        self.sweep = Sweep {
            until: now.unwrap_or(self.sweep.until),
            ..Sweep::default()
        };
        expired
    }

    /// Empties slot `i`, shifting back the slots after it that probed past it, so that
    /// lookups never need tombstones (Knuth, TAOCP vol. 3, algorithm 6.4R).
    pub(super) fn remove(&mut self, mut i: usize) {
        let (start, n) = (i, self.slots.len());
        let mut j = i;
        loop {
            j = self.next(j);
            let slot = self.slots[j];
            if slot.is_empty() {
                break;
            }
            // The slot at `j` may fill the hole at `i` unless its home lies cyclically in
            // (i, j], i.e. it lies less than `gap` past its home: then it would move
            // before its home and lookups would miss it.
            let shift = self.shift(j);
            let gap = distance(i, j, n);
            let moves = shift >= gap;
            // Without a branch: whether a slot moves is the hash's whim, and a branch on
            // it was mispredicted about once a removal (BENCHMARKS.md, seventeenth
            // session). A slot that stays is written back where it is, unchanged.
            let shift = if moves {
                saturate(shift - gap)
            } else {
                slot.shift
            };
            let to = std::hint::select_unpredictable(moves, i, j);
            self.slots[to] = Slot { shift, ..slot };
            i = std::hint::select_unpredictable(moves, j, i);
        }
        self.slots[i] = Slot::default();
        self.len -= 1;
        // A slot shifted from at or past the sweep to before it would miss this round's
        // visit: the sweep goes back to the start of the shifted stretch, and owes the
        // visits it gave back. (The CLOCK hand is not moved back: a slot that slips past
        // it is only looked at a round later, a coarser approximation, nothing broken.)
        if self.idle_timeout.is_some() {
            let back = distance(start, self.sweep.at, n);
            if back > 0 && back < distance(start, j, n) {
                self.sweep.at = start;
                self.sweep.behind = (self.sweep.behind + back).min(n);
            }
        }
    }

    /// Evicts the first action the CLOCK hand finds untouched, clearing the touched bits
    /// it passes; `None` when the table is empty. Nothing moves while the hand walks, so
    /// within one round it has cleared every bit, and within two it evicts.
    pub(super) fn evict(&mut self) -> Option<()> {
        if self.len == 0 {
            return None;
        }
        loop {
            let at = self.hand;
            let slot = &mut self.slots[at];
            if !slot.is_empty() {
                if !slot.touched {
                    // The hand stays: the slot shifted into `at` has not been looked at.
                    self.remove(at);
                    return Some(());
                }
                slot.touched = false;
            }
            self.hand = self.next(at);
        }
    }

    /// Paces the idle sweep up to `now` and forgets the idle actions it visits; returns
    /// how many. Called before each event is judged: when the clock has not moved, it
    /// does nothing.
    #[inline]
    pub(super) fn sweep(&mut self, now: u32) -> u64 {
        match self.idle_timeout {
            // Ticks compared within half their range: a clock that went back waits.
            Some(timeout) if (now.wrapping_sub(self.sweep.until) as i32) > 0 => {
                self.sweep_to(now, timeout)
            }
            _ => 0,
        }
    }

    #[inline(never)]
    fn sweep_to(&mut self, now: u32, timeout: u32) -> u64 {
        let elapsed = now.wrapping_sub(self.sweep.until);
        let n = self.slots.len();
        let visits = if self.len == 0 {
            // Nothing to forget: the pace starts again from here.
            self.sweep.carry = 0;
            0
        } else if elapsed >= timeout {
            // A whole round is due (a long gap, or a timeout of a few ticks).
            self.sweep.carry = 0;
            n
        } else {
            // `elapsed < timeout < 2³²` and `n < 2³²`: the product fits.
            let owed = u64::from(self.sweep.carry) + u64::from(elapsed) * n as u64;
            self.sweep.carry = (owed % u64::from(timeout)) as u32;
            ((owed / u64::from(timeout)) as usize + self.sweep.behind).min(n)
        };
        self.sweep.until = now;
        self.sweep.behind = 0;
        let mut expired = 0;
        let mut left = visits;
        while left > 0 && self.len > 0 {
            let at = self.sweep.at;
            let slot = &self.slots[at];
            if !slot.is_empty() && is_idle(now, slot.last_seen, timeout) {
                // The slot shifted into `at` is visited next, without a step forward.
                self.remove(at);
                expired += 1;
            } else {
                self.sweep.at = self.next(at);
                left -= 1;
            }
        }
        expired
    }

    pub(super) fn memory_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
    }

    pub(super) fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.len = 0;
        self.hand = 0;
        self.sweep = Sweep::default();
    }
}

pub(super) fn saturate(shift: usize) -> u8 {
    u8::try_from(shift).unwrap_or(u8::MAX)
}
