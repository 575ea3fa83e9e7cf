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

/// With one bit left for the displacement, nearly every index entry's home comes from
/// the ring's key (the fallback of a saturated displacement): the memory stays exact,
/// through every removal's backward shift.
#[test]
fn the_ended_memory_is_exact_when_displacements_saturate() {
    let capacity = 1000;
    let mut ended = EndedMemory::new(capacity, [3, 5]);
    ended.position_bits = 31;
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
