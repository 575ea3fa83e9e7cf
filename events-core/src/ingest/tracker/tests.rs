//! Unit tests of the live table and the ended memory, which need their internals.

use super::ended::*;
use super::table::*;
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

/// Full, the ended memory holds exactly its capacity in 36 bytes per action (and 4),
/// and forgets in the order the actions ended.
#[test]
fn the_ended_memory_is_exact_in_36_bytes_per_action() {
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
    assert_eq!(ended.memory_bytes(), 36 * capacity + 4);
}

/// With one bit left for the displacement, nearly every index entry's home comes from
/// the ring's key (the fallback of a saturated displacement): the memory stays exact,
/// through every removal's backward shift.
#[test]
fn the_ended_memory_is_exact_when_displacements_saturate() {
    assert_exact_with_entry_layout(31, EndedMemory::tag_bits(31));
}

/// Remembers 2,500 actions in a memory of 1,000 whose index entries hold positions in
/// `position_bits` and tags in `tag_bits` (the displacement takes the rest): the last
/// 1,000 are found, with their states, and no other.
fn assert_exact_with_entry_layout(position_bits: u32, tag_bits: u32) {
    let capacity = 1000;
    let mut ended = EndedMemory::new(capacity, [3, 5]);
    ended.position_bits = position_bits;
    ended.tag_bits = tag_bits;
    let keys: Vec<Key> = (0..2500u128).map(spread).collect();
    for (n, &key) in keys.iter().enumerate() {
        assert_eq!(ended.remember(key, 1, (n % 7) as u8), n >= capacity);
    }
    for (n, &key) in keys.iter().enumerate() {
        let found = ended.get(key);
        assert_eq!(found.is_some(), n >= 1500, "key {n}");
        if let Some(found) = found {
            assert_eq!(found.state, (n % 7) as u8);
        }
    }
}

/// With a full 8-bit tag beside a one-bit displacement, lookups pass over entries whose
/// tag differs and fall back on the ring's key for nearly every displacement, in the
/// same probe: the memory stays exact through every removal's backward shift, which
/// must carry each entry's tag along.
#[test]
fn the_ended_memory_is_exact_with_tags_and_saturated_displacements() {
    assert_exact_with_entry_layout(23, 8);
}

#[test]
fn a_slot_is_24_bytes() {
    assert_eq!(std::mem::size_of::<Slot>(), 24);
}

/// One cluster longer than a slot's saturated shift (255): removal must fall back on
/// the hash for the slots past that, and still keep every key findable.
#[test]
fn removal_in_a_cluster_longer_than_the_stored_shift() {
    let seed = [3, 5];
    let mut table = Table::new(320, seed, None);
    let slot_count = table.max_slots;
    let keys: Vec<Key> = (0u128..)
        .map(spread)
        .filter(|&key| home(key, seed, slot_count) < 3)
        .take(300)
        .collect();
    for &key in &keys {
        table.insert(live(key), 0);
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
    }
}

#[test]
fn removal_keeps_every_other_key_findable() {
    let mut table = Table::new(1000, [3, 5], None);
    let keys: Vec<Key> = (0..1000u128).map(spread).collect();
    for &key in &keys {
        table.insert(live(key), 0);
    }
    for (n, &key) in keys.iter().enumerate().step_by(3) {
        let at = table.find(key).unwrap();
        table.remove(at);
        assert!(table.find(key).is_err(), "removed key {n} still found");
    }
    for (n, &key) in keys.iter().enumerate() {
        assert_eq!(table.find(key).is_ok(), n % 3 != 0, "key {n}");
    }
}

/// With every action touched, the CLOCK hand clears every bit in one round and evicts in
/// the next; an untouched action is evicted before any touched one.
#[test]
fn the_clock_hand_always_evicts() {
    let mut table = Table::new(1000, [3, 5], None);
    let keys: Vec<Key> = (0..1000u128).map(spread).collect();
    for &key in &keys {
        table.insert(
            Slot {
                touched: true,
                ..live(key)
            },
            0,
        );
    }
    table.evict().unwrap();
    assert_eq!(table.len, 999);
    let untouched = table
        .slots
        .iter()
        .filter(|s| !s.is_empty() && !s.touched)
        .count();
    assert!(untouched >= 998, "one round cleared the bits");
    // Touch all but one: that one goes next, wherever it lies from the hand.
    let spared = keys
        .iter()
        .copied()
        .find(|&k| table.find(k).is_ok())
        .unwrap();
    for slot in table.slots.iter_mut().filter(|s| !s.is_empty()) {
        slot.touched = slot.key != spared;
    }
    table.evict().unwrap();
    assert!(table.find(spared).is_err());
    assert_eq!(table.len, 998);
    let mut empty = Table::new(10, [3, 5], None);
    assert!(empty.evict().is_none());
}

/// A large table and a timeout of a few ticks: each tick owes a third of a round of the
/// sweep, and every action idle past the timeout is gone by the first event after twice
/// it, never earlier, whatever the sweep's own removals shift back.
#[test]
fn the_sweep_covers_a_large_table_within_the_timeout() {
    let timeout = 3;
    let mut table = Table::new(50_000, [3, 5], Some(timeout));
    table.grow(table.max_slots, Some(10));
    let keys: Vec<Key> = (0..40_000u128).map(spread).collect();
    for &key in &keys[..20_000] {
        table.insert(
            Slot {
                last_seen: 10,
                ..live(key)
            },
            10,
        );
    }
    assert_eq!(table.sweep(13), 0, "idle 3 ticks: kept");
    for &key in &keys[20_000..] {
        table.insert(
            Slot {
                last_seen: 14,
                ..live(key)
            },
            14,
        );
    }
    let mut expired = 0;
    for now in 14..=17 {
        expired += table.sweep(now);
    }
    assert_eq!(expired, 20_000, "idle since 10: due from 14, gone by 17");
    assert_eq!(table.len, 20_000, "idle since 14: kept at 17");
    for now in 18..=21 {
        expired += table.sweep(now);
    }
    assert_eq!(expired, 40_000);
    assert_eq!(table.len, 0);
}

/// A removal that shifts a slot from ahead of the sweep to behind it moves the sweep
/// back, so the shifted slot is still visited in this round.
#[test]
fn a_slot_shifted_behind_the_sweep_is_still_visited() {
    let seed = [3, 5];
    let timeout = 10;
    let mut table = Table::new(64, seed, Some(timeout));
    table.grow(table.max_slots, Some(0));
    let slot_count = table.slots.len();
    // Three keys of one home: a cluster at h, h+1, h+2.
    let keys: Vec<Key> = (0u128..)
        .map(spread)
        .filter(|&key| home(key, seed, slot_count) == 5)
        .take(3)
        .collect();
    table.insert(
        Slot {
            last_seen: 11,
            ..live(keys[0])
        },
        0,
    );
    table.insert(
        Slot {
            last_seen: 11,
            ..live(keys[1])
        },
        0,
    );
    table.insert(
        Slot {
            last_seen: 0,
            ..live(keys[2])
        },
        0,
    );
    // The sweep stands at the last of the three; the first is removed, shifting the
    // others back across it.
    table.sweep.at = 7;
    table.sweep.until = 10;
    table.remove(table.find(keys[0]).unwrap());
    assert_eq!(table.find(keys[2]), Ok(6));
    assert_eq!((table.sweep.at, table.sweep.behind), (5, 2));
    // One tick's pace is a tenth of a round of 118 slots: 11 visits, plus the 2 owed,
    // from slot 5.
    assert_eq!(table.sweep(11), 1, "idle since 0, visited");
    assert!(table.find(keys[2]).is_err());
}
