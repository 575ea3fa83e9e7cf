//! The tracker's memory of ended actions: exact up to its capacity, whatever the hash
//! seed, and forgetting the oldest first past it.

use proptest::prelude::*;
use webaction_events::ingest::{Tracker, TrackerConfig, TransitionRule};
use webaction_events::{ContentOffer, MediaType, Registry, Uuid, WebChat};

const WEBCHAT: usize = 0;
const CONTENTOFFER: usize = 1;

/// One event: media type index, action, state index.
type Step = (usize, Uuid, usize);

fn tracker(remember_ended: usize) -> Tracker {
    let config = TrackerConfig {
        remember_ended,
        ..TrackerConfig::default()
    };
    Tracker::with_config(&Registry::builtin(), config)
}

/// `count` complete lifecycles, one after the other, alternating a four-event chat and a
/// two-event content offer, with random ids as browsers send them.
fn ended_lifecycles(count: usize) -> Vec<Step> {
    let chat = [
        WebChat::Offered,
        WebChat::Accepted,
        WebChat::Started,
        WebChat::Engaged,
    ];
    let offer = [ContentOffer::Offered, ContentOffer::Ignored];
    let mut steps = Vec::new();
    for n in 0..count {
        let id = Uuid::new_v4();
        if n % 2 == 0 {
            steps.extend(chat.iter().map(|s| (WEBCHAT, id, s.index())));
        } else {
            steps.extend(offer.iter().map(|s| (CONTENTOFFER, id, s.index())));
        }
    }
    steps
}

fn accepted(tracker: &mut Tracker, steps: &[Step]) -> usize {
    steps
        .iter()
        .filter(|&&(media, id, state)| tracker.track_state(media, id, state, 0).is_ok())
        .count()
}

/// Replaying ended lifecycles accepts none of their lines again, for every hash seed
/// (each tracker draws its own).
#[test]
fn replayed_ended_lifecycles_are_refused_line_by_line() {
    for count in [2_000, 20_000] {
        for _seed in 0..4 {
            let steps = ended_lifecycles(count);
            let mut t = tracker(count);
            assert_eq!(accepted(&mut t, &steps), steps.len());
            assert_eq!(t.ended_len(), count);
            assert_eq!(accepted(&mut t, &steps), 0, "{count} lifecycles replayed");
            assert_eq!(t.stats().ended_forgotten, 0);
            assert!(t.is_empty());
        }
    }
}

/// Past its capacity the memory forgets the oldest ended actions first, and counts them.
#[test]
fn past_capacity_the_oldest_ended_actions_are_forgotten_first() {
    let capacity = 100;
    let mut t = tracker(capacity);
    let ids: Vec<Uuid> = (0..250).map(|_| Uuid::new_v4()).collect();
    for &id in &ids {
        t.track_state(CONTENTOFFER, id, ContentOffer::Offered.index(), 0)
            .unwrap();
        t.track_state(CONTENTOFFER, id, ContentOffer::Rejected.index(), 0)
            .unwrap();
    }
    assert_eq!(t.ended_len(), capacity);
    assert_eq!(t.stats().ended, 250);
    assert_eq!(t.stats().ended_forgotten, 150);
    // The newest hundred are remembered: a late event names the state they ended in.
    for &id in &ids[150..] {
        let error = t
            .track_state(CONTENTOFFER, id, ContentOffer::Ignored.index(), 0)
            .unwrap_err();
        assert_eq!(error.rule, TransitionRule::AfterEnd);
        assert_eq!(error.from, Some("rejected"));
    }
    // The oldest are forgotten: their first state starts them again.
    for &id in &ids[..150] {
        t.track_state(CONTENTOFFER, id, ContentOffer::Offered.index(), 0)
            .unwrap();
    }
    assert_eq!(t.len(), 150);
}

/// A random walk of `M`'s declared graph from an initial state, as state indices; it
/// stops at an end state or when the choices run out (the action stays live).
fn walk<M: MediaType>(start: usize, choices: &[usize]) -> Vec<usize> {
    let initials: Vec<M> = M::ALL.iter().copied().filter(|s| s.is_initial()).collect();
    let mut state = initials[start % initials.len()];
    let mut states = vec![state.index()];
    for &choice in choices {
        let next = state.successors();
        if next.is_empty() {
            break;
        }
        state = next[choice % next.len()];
        states.push(state.index());
    }
    states
}

/// Lifecycles (walks of the webchat or contentoffer graph), interleaved as `order` picks
/// which lifecycle moves next.
fn interleave(walks: &[(usize, Vec<usize>)], order: &[usize]) -> Vec<Step> {
    let ids: Vec<Uuid> = walks.iter().map(|_| Uuid::new_v4()).collect();
    let mut next = vec![0; walks.len()];
    let mut steps = Vec::new();
    let mut picks = order.iter().cycle();
    while steps.len() < walks.iter().map(|(_, w)| w.len()).sum() {
        let mut n = *picks.next().unwrap() % walks.len();
        while next[n] == walks[n].1.len() {
            n = (n + 1) % walks.len();
        }
        steps.push((walks[n].0, ids[n], walks[n].1[next[n]]));
        next[n] += 1;
    }
    steps
}

fn lifecycle() -> impl Strategy<Value = (usize, Vec<usize>)> {
    (
        0usize..2,
        0usize..4,
        proptest::collection::vec(0usize..8, 0..6),
    )
        .prop_map(|(media, start, choices)| match media {
            0 => (WEBCHAT, walk::<WebChat>(start, &choices)),
            _ => (CONTENTOFFER, walk::<ContentOffer>(start, &choices)),
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Both built-in graphs are acyclic, so no line of a lifecycle may come again: with
    /// fewer ended actions than the memory holds, replaying any prefix of the stream
    /// refuses every line.
    #[test]
    fn replaying_any_prefix_refuses_every_repeated_line(
        walks in proptest::collection::vec(lifecycle(), 1..48),
        order in proptest::collection::vec(0usize..48, 1..64),
        capacity in 48usize..64,
        prefix in any::<prop::sample::Index>(),
    ) {
        let steps = interleave(&walks, &order);
        let mut t = tracker(capacity);
        for &(media, id, state) in &steps {
            prop_assert!(t.track_state(media, id, state, 0).is_ok());
        }
        prop_assert!(t.ended_len() < capacity);
        let replayed = &steps[..=prefix.index(steps.len())];
        for &(media, id, state) in replayed {
            prop_assert!(t.track_state(media, id, state, 0).is_err(), "{:?}", (media, id, state));
        }
        prop_assert_eq!(t.stats().ended_forgotten, 0);
    }
}
