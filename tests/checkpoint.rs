//! Checkpoint and restore: a tracker (or an ingest) restored from another's checkpoint
//! judges every later event as the original would have, and ends in the same state.

use proptest::prelude::*;
use webaction_events::ingest::{
    IdleTimeout, Ingest, RestoreError, Tracker, TrackerConfig, TrackerStats,
};
use webaction_events::{AnyEvent, Registry, Uuid, WebChat};

/// One event: media type index, action number, state index, tick step.
type Step = (usize, u8, usize, u8);

/// Random events of a few actions of both media types (mostly declared steps, some not),
/// so that actions start, end, repeat and break their lifecycles.
fn steps() -> impl Strategy<Value = Vec<Step>> {
    let registry = Registry::builtin();
    let states: Vec<usize> = registry
        .iter()
        .map(|entry| entry.description.states.len())
        .collect();
    prop::collection::vec(
        (0..states.len())
            .prop_flat_map(move |media| (Just(media), 0..24u8, 0..states[media], 0..3u8)),
        0..400,
    )
}

fn id(action: u8) -> Uuid {
    // Spread over the hash, as browsers' random ids are.
    Uuid::from_u128(u128::from(action).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_u128) + 1)
}

fn config(max_actions: usize, remember_ended: usize, idle: Option<u32>) -> TrackerConfig {
    TrackerConfig {
        max_actions,
        idle_timeout: idle,
        remember_ended,
    }
}

/// Feeds `steps` from tick `start`, returning each verdict (`Ok` with nothing, or the
/// rule broken) and the last tick.
fn run(tracker: &mut Tracker, steps: &[Step], mut now: u32) -> (Vec<Result<(), String>>, u32) {
    let verdicts = steps
        .iter()
        .map(|&(media, action, state, gap)| {
            now += u32::from(gap);
            tracker
                .track_state(media, id(action), state, now)
                .map_err(|error| format!("{:?}", error.rule))
        })
        .collect();
    (verdicts, now)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Restore then continue = one uninterrupted run: the same verdicts after the
    /// handover, the same counts, and at the end the same checkpoint (live actions in the
    /// same slots, both hands in the same places, the same ended actions in the same
    /// order): the restored tracker takes the checkpoint's hash seed. Small caps make
    /// eviction, idle expiry and forgetting of ended actions happen.
    #[test]
    fn restore_then_continue_is_one_uninterrupted_run(
        steps in steps(),
        split in 0..=400usize,
        max_actions in 1..12usize,
        remember_ended in 0..8usize,
        idle in prop::option::of(1..20u32),
    ) {
        let registry = Registry::builtin();
        let config = config(max_actions, remember_ended, idle);
        let split = split.min(steps.len());
        let mut uninterrupted = Tracker::with_config(&registry, config);
        let (_, tick) = run(&mut uninterrupted, &steps[..split], 0);

        let mut taken_over = Tracker::with_config(&registry, config);
        taken_over.restore(&uninterrupted.checkpoint()).unwrap();
        prop_assert_eq!(taken_over.checkpoint(), uninterrupted.checkpoint());

        let (expected, _) = run(&mut uninterrupted, &steps[split..], tick);
        let (found, _) = run(&mut taken_over, &steps[split..], tick);
        prop_assert_eq!(found, expected);
        prop_assert_eq!(taken_over.stats(), uninterrupted.stats());
        prop_assert_eq!(taken_over.len(), uninterrupted.len());
        prop_assert_eq!(taken_over.checkpoint(), uninterrupted.checkpoint());
    }

    /// A checkpoint cut short anywhere, or with a byte changed, is refused or restores a
    /// tracker; it never panics, and a refused restore changes nothing.
    #[test]
    fn damaged_checkpoints_are_refused_without_change(
        steps in steps(),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let registry = Registry::builtin();
        let mut source = Tracker::new(&registry);
        run(&mut source, &steps, 0);
        let bytes = source.checkpoint();

        let mut target = Tracker::new(&registry);
        target.track_state(0, id(200), WebChat::Offered as usize, 0).unwrap();
        let before = target.checkpoint();
        let short = &bytes[..cut.index(bytes.len())];
        prop_assert!(target.restore(short).is_err());
        prop_assert_eq!(target.checkpoint(), before.clone());

        let mut flipped = bytes.clone();
        let at = flip.index(flipped.len());
        flipped[at] ^= xor;
        if target.restore(&flipped).is_err() {
            prop_assert_eq!(target.checkpoint(), before);
        }
    }
}

#[test]
fn what_is_not_a_checkpoint_says_why() {
    let registry = Registry::builtin();
    let mut tracker = Tracker::new(&registry);
    assert_eq!(
        tracker.restore(b"{\"live\":[]}").unwrap_err(),
        RestoreError::NotACheckpoint {
            what: "tracker",
            expected: "WATR"
        }
    );
    let mut newer = Tracker::new(&registry).checkpoint();
    newer[4] = Tracker::CHECKPOINT_VERSION + 1;
    assert_eq!(
        tracker.restore(&newer).unwrap_err().to_string(),
        format!(
            "tracker checkpoint version {}: this build reads version {}",
            Tracker::CHECKPOINT_VERSION + 1,
            Tracker::CHECKPOINT_VERSION
        )
    );
    // Version 1 wrote live actions in the order of an eviction queue the table no longer
    // keeps: refused, not guessed at.
    let mut older = Tracker::new(&registry).checkpoint();
    older[4] = 1;
    assert_eq!(
        tracker.restore(&older).unwrap_err(),
        RestoreError::Version {
            what: "tracker",
            found: 1,
            supported: 2
        }
    );
    assert_eq!(Tracker::CHECKPOINT_VERSION, 2);
    let mut longer = Tracker::new(&registry).checkpoint();
    longer.push(0);
    assert_eq!(
        tracker.restore(&longer).unwrap_err(),
        RestoreError::TrailingBytes { extra: 1 }
    );
}

/// A checkpoint names media types by wire name: a registry without one refuses it, naming
/// it; a registry in another order restores it.
#[test]
fn media_types_are_matched_by_name() {
    let both = Registry::builtin();
    let mut source = Tracker::new(&both);
    let contentoffer = both
        .iter()
        .position(|entry| entry.description.wire_name == "contentoffer")
        .unwrap();
    source.track_state(contentoffer, id(1), 0, 0).unwrap();
    let bytes = source.checkpoint();

    let only_chat = Registry::empty().with::<WebChat>();
    assert_eq!(
        Tracker::new(&only_chat)
            .restore(&bytes)
            .unwrap_err()
            .to_string(),
        "the checkpoint tracks media type `contentoffer`, which this registry does not know"
    );

    let reordered = Registry::empty()
        .with::<webaction_events::ContentOffer>()
        .with::<WebChat>();
    let mut restored = Tracker::new(&reordered);
    restored.restore(&bytes).unwrap();
    assert_eq!(
        restored.state_of(id(1)),
        Some((
            "contentoffer",
            webaction_events::ContentOffer::DESCRIPTION.states[0].wire_name
        ))
    );
}

/// A tracker restored with a smaller cap evicts as tracking would, and counts it.
#[test]
fn a_smaller_cap_evicts_the_least_recently_seen() {
    let registry = Registry::builtin();
    let mut source = Tracker::new(&registry);
    for action in 0..10 {
        source
            .track_state(0, id(action), WebChat::Offered as usize, u32::from(action))
            .unwrap();
    }
    let mut small = Tracker::with_config(&registry, config(4, 16, None));
    small.restore(&source.checkpoint()).unwrap();
    assert_eq!(small.len(), 4);
    assert_eq!(
        small.stats(),
        TrackerStats {
            evicted: 6,
            ..TrackerStats::default()
        }
    );
    assert_eq!(small.state_of(id(5)), None);
    assert!(small.state_of(id(6)).is_some() && small.state_of(id(9)).is_some());
}

/// The JSON line of one step: the same ids but the action's, as a page sends them.
fn line(registry: &Registry, &(media, action, state, _): &Step) -> String {
    let description = registry.iter().nth(media).unwrap().description;
    format!(
        r#"{{"actionId":"{}","actionState":"{}","actionMediaType":"{}","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}"#,
        id(action),
        description.states[state].wire_name,
        description.wire_name,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Ingest: counts, the line clock and the tracker carry over, so the lines after the
    /// handover get the outcomes they would have had, with the same errors.
    #[test]
    fn an_ingest_restored_mid_stream_gives_the_same_outcomes(
        steps in steps(),
        split in 0..=400usize,
        idle in 1..6u32,
    ) {
        let registry = Registry::builtin();
        let lines: Vec<String> = steps.iter().map(|step| line(&registry, step)).collect();
        let build = || {
            Ingest::builder(Registry::builtin())
                .max_actions(8)
                .idle_timeout(Some(IdleTimeout::Events(idle)))
                .build(|_: &AnyEvent| {})
        };
        let verdict = |ingest: &mut Ingest<_>, line: &String| {
            ingest.ingest(line.as_bytes()).error().map(|e| e.to_string())
        };
        let split = split.min(lines.len());
        let mut uninterrupted = build();
        for line in &lines[..split] {
            verdict(&mut uninterrupted, line);
        }
        let mut taken_over = build();
        taken_over.restore(&uninterrupted.checkpoint()).unwrap();
        prop_assert_eq!(taken_over.stats(), uninterrupted.stats());
        for line in &lines[split..] {
            prop_assert_eq!(verdict(&mut taken_over, line), verdict(&mut uninterrupted, line));
        }
        prop_assert_eq!(taken_over.stats(), uninterrupted.stats());
        prop_assert_eq!(taken_over.checkpoint(), uninterrupted.checkpoint());
    }
}

/// An ingest whose idle clock counts seconds refuses a checkpoint counted in lines, and
/// changes nothing.
#[test]
fn an_ingest_refuses_a_checkpoint_of_another_clock() {
    let by_lines = Ingest::builder(Registry::builtin())
        .idle_timeout(Some(IdleTimeout::Events(3)))
        .build(|_: &AnyEvent| {});
    let mut by_time = Ingest::builder(Registry::builtin()).build(|_: &AnyEvent| {});
    let before = by_time.checkpoint();
    assert_eq!(
        by_time
            .restore(&by_lines.checkpoint())
            .unwrap_err()
            .to_string(),
        "the checkpoint's idle clock counts lines, this ingest's counts seconds"
    );
    assert_eq!(by_time.checkpoint(), before);
}
