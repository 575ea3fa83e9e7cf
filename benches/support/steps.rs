//! The step sequence of the tracker benchmarks (`benches/ingest.rs`, `tracker_*`, and
//! `benches/tracker_steps.rs`): one million actions started, then random declared steps of
//! live ones, each ended action replaced at once by a new one.

use webaction_events::ingest::Step;
use webaction_events::{ContentOffer, MediaTypeDescription, Uuid, WebChat};

/// One event of the step sequence, compact (18 bytes) so that millions of them fit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TrackedStep {
    pub(crate) media: u8,
    pub(crate) state: u8,
    pub(crate) id: Uuid,
}

impl TrackedStep {
    pub(crate) fn step(&self) -> Step {
        Step {
            media_index: usize::from(self.media),
            action_id: self.id,
            state_index: usize::from(self.state),
            now: 0,
        }
    }
}

/// The events the tracker benchmarks are fed: `start` brings one million actions to
/// life, `steps` then advance random live ones (see [`LiveActions`]).
pub(crate) struct StepSequence {
    pub(crate) start: Vec<TrackedStep>,
    pub(crate) steps: Vec<TrackedStep>,
    /// Whether each media type's state ends a lifecycle, by `[media][state]`.
    pub(crate) ends: [Vec<bool>; 2],
}

impl StepSequence {
    /// `actions` actions started, then `steps` more events.
    pub(crate) fn generate(actions: usize, steps: usize) -> Self {
        let mut live = LiveActions::new(actions);
        let mut start = Vec::with_capacity(actions);
        for i in 0..actions {
            live.step(i, &mut start);
        }
        let mut sequence = Vec::with_capacity(steps + 1);
        live.next_events(steps, &mut sequence);
        let ends = live.media.map(|media| {
            media
                .states
                .iter()
                .map(|s| s.kind.ends_lifecycle())
                .collect()
        });
        StepSequence {
            start: start.iter().map(compact).collect(),
            steps: sequence.iter().map(compact).collect(),
            ends,
        }
    }
}

fn compact(&(media, id, state): &(usize, Uuid, usize)) -> TrackedStep {
    TrackedStep {
        media: media as u8,
        state: state as u8,
        id,
    }
}

/// One million actions in progress, each advanced by a random declared step; an action
/// that ends is replaced at once by a new one (its initial event follows), so a million
/// stay live.
struct LiveActions {
    slots: Vec<(usize, Uuid, Option<usize>)>,
    media: [&'static MediaTypeDescription; 2],
    rng: u64,
    next_id: u128,
}

impl LiveActions {
    fn new(n: usize) -> Self {
        let mut live = LiveActions {
            slots: Vec::with_capacity(n),
            media: [WebChat::DESCRIPTION, ContentOffer::DESCRIPTION],
            rng: 0x243f_6a88_85a3_08d3,
            next_id: 0,
        };
        for i in 0..n {
            let id = live.fresh_id();
            live.slots.push((i % 2, id, None));
        }
        live
    }

    fn random(&mut self, n: usize) -> usize {
        // xorshift64*: cheap, and outside the timed part anyway.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        ((u128::from(self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)) * n as u128) >> 64) as usize
    }

    fn fresh_id(&mut self) -> Uuid {
        self.next_id += 1;
        // Spread the ids like v4 UUIDs (random bits), not a counter.
        Uuid::from_u128(
            self.next_id
                .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
        )
    }

    fn step(&mut self, i: usize, out: &mut Vec<(usize, Uuid, usize)>) {
        let (media_index, id, state) = self.slots[i];
        let media = self.media[media_index];
        let next = match state {
            None => 0, // `offered`, the initial state of both
            Some(current) => {
                let successors = media.states[current].next;
                successors[self.random(successors.len())]
            }
        };
        out.push((media_index, id, next));
        self.slots[i] = if media.states[next].kind.ends_lifecycle() {
            let id = self.fresh_id();
            out.push((media_index, id, 0));
            (media_index, id, Some(0))
        } else {
            (media_index, id, Some(next))
        };
    }

    fn next_events(&mut self, n: usize, out: &mut Vec<(usize, Uuid, usize)>) {
        out.clear();
        while out.len() < n {
            let i = self.random(self.slots.len());
            self.step(i, out);
        }
    }
}

/// `tracker_floor`: a general-purpose hash map doing the same steps as the tracker: insert
/// on an action's first event, update on each next one, remove when it ends. No check of
/// the transition, no idle expiry, no cap, no memory of ended actions.
#[derive(Default)]
pub(crate) struct FloorMap {
    pub(crate) live: hashbrown::HashMap<Uuid, u8, foldhash::fast::RandomState>,
    ends: [Vec<bool>; 2],
}

impl FloorMap {
    pub(crate) fn step(&mut self, step: &TrackedStep) {
        let ends = self.ends[usize::from(step.media)][usize::from(step.state)];
        match self.live.entry(step.id) {
            hashbrown::hash_map::Entry::Occupied(entry) if ends => {
                entry.remove();
            }
            hashbrown::hash_map::Entry::Occupied(mut entry) => {
                *entry.get_mut() = step.state;
            }
            hashbrown::hash_map::Entry::Vacant(entry) => {
                if !ends {
                    entry.insert(step.state);
                }
            }
        }
    }

    /// Forgets everything, then starts every action of `sequence`.
    pub(crate) fn start(&mut self, sequence: &StepSequence) {
        self.live.clear();
        self.ends = sequence.ends.clone();
        for step in &sequence.start {
            self.step(step);
        }
        assert_eq!(self.live.len(), sequence.start.len());
    }
}
