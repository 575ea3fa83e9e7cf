//! The window of batches taken: a client resending a batch (same `batchId`) it got no
//! answer for gets the first answer again, marked `"duplicate": true`, and nothing is
//! delivered twice; a client resending a batch that was answered `503` after its events
//! were tracked (the sinks could not confirm them) gets them delivered again under the
//! first verdicts, not judged a second time (which would refuse every one as a repeat).
//!
//! The window is memory only and bounded: the oldest batches are forgotten first, and a
//! restart forgets them all, as it forgets the tracker. A batch resent after that is a
//! new batch: while the tracker still knows its actions (a batch forgotten by the window
//! alone), its events are refused as repeats and dead-lettered, never delivered twice;
//! after a restart, its events in an initial state are accepted and delivered again,
//! each carrying the same idempotency key `<actionId>:<state>` for the receiver to drop
//! (NATS JetStream does, within its duplicate window), and the others are refused as
//! `not_initial` unless the batch brings their action's earlier events.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::ingestor::Processed;

/// The longest `batchId` taken.
pub const MAX_BATCH_ID_LEN: usize = 128;

/// Whether `id` can be a batch id: 1 to [`MAX_BATCH_ID_LEN`] ASCII letters, digits, `-`
/// and `_` (a UUID, as the browser script sends, or a client's own key).
pub(crate) fn valid_batch_id(id: &str) -> bool {
    (1..=MAX_BATCH_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A batch whose events were tracked and whose delivery was not confirmed: what its
/// resend delivers again, with the verdicts it got.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    /// The request that tracked it: the dead letter names its rejected events by it.
    pub(crate) request_id: String,
    /// The body as it came the first time, and where each event is in it.
    pub(crate) body: Bytes,
    pub(crate) spans: Arc<[Range<usize>]>,
    pub(crate) verdicts: Arc<Processed>,
    /// The sinks did not confirm every accepted event.
    pub(crate) sinks_pending: bool,
    /// The dead letter did not confirm the rejected ones.
    pub(crate) letter_pending: bool,
}

#[derive(Debug)]
enum Entry {
    /// Being ingested (or delivered again) now.
    InFlight,
    /// Answered `200`: the body to answer a resend with.
    Answered(Bytes),
    /// Tracked, answered `503`: its resend delivers it again.
    Unconfirmed(Held),
}

#[derive(Debug)]
struct Window {
    /// Each id with the generation of its entry: an id's place in `order` or `held`
    /// counts only while its entry is of that generation.
    entries: HashMap<Arc<str>, (u64, Entry)>,
    /// Answered and unconfirmed ids, oldest first.
    order: VecDeque<(Arc<str>, u64)>,
    /// Unconfirmed ids, oldest first: the first forgotten beyond `max_held_bytes`.
    held: VecDeque<(Arc<str>, u64)>,
    generation: u64,
    capacity: usize,
    held_bytes: usize,
    max_held_bytes: usize,
}

impl Window {
    fn insert(&mut self, id: &Arc<str>, entry: Entry) -> u64 {
        self.generation += 1;
        let generation = self.generation;
        if let Entry::Unconfirmed(held) = &entry {
            self.held_bytes += held.body.len();
        }
        if let Some((_, Entry::Unconfirmed(old))) =
            self.entries.insert(Arc::clone(id), (generation, entry))
        {
            self.held_bytes -= old.body.len();
        }
        generation
    }

    /// Whether `id`'s entry is still the one of `generation`.
    fn holds(&self, id: &str, generation: u64) -> bool {
        self.entries.get(id).is_some_and(|(g, _)| *g == generation)
    }

    fn remove(&mut self, id: &str, generation: u64) {
        if self.holds(id, generation) {
            if let Some((_, Entry::Unconfirmed(held))) = self.entries.remove(id) {
                self.held_bytes -= held.body.len();
                tracing::warn!(
                    batch = id,
                    "forgetting a batch that awaits its resend: a resend is judged again"
                );
            }
        }
    }

    /// Forgets the oldest batches beyond the bounds.
    fn trim(&mut self) {
        while self.order.len() > self.capacity {
            let Some((id, generation)) = self.order.pop_front() else {
                break;
            };
            self.remove(&id, generation);
        }
        while self.held_bytes > self.max_held_bytes {
            let Some((id, generation)) = self.held.pop_front() else {
                break;
            };
            self.remove(&id, generation);
        }
    }
}

/// The batches taken, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct Batches {
    window: Arc<Mutex<Window>>,
}

/// What a request with a batch id may do.
#[derive(Debug)]
pub(crate) enum Claim {
    /// A new batch: ingest it, then [`Guard::answered`] or [`Guard::unconfirmed`].
    New(Guard),
    /// Already answered: this is the answer (`"duplicate": true`).
    Answered(Bytes),
    /// Tracked before and not confirmed: deliver it again.
    Unconfirmed(Guard, Held),
    /// The same batch is being ingested by another request right now.
    InFlight,
}

/// A batch being ingested or delivered again. Dropped without
/// [`answered`](Self::answered) or [`unconfirmed`](Self::unconfirmed) (the request
/// failed before its events reached ingest), a new batch is forgotten, so that a resend
/// is ingested, and a held one is held again.
#[derive(Debug)]
pub(crate) struct Guard {
    window: Arc<Mutex<Window>>,
    id: Arc<str>,
    generation: u64,
    held: Option<Held>,
    done: bool,
}

impl Batches {
    /// A window of `capacity` batches, holding at most `max_held_bytes` of bodies that
    /// await their resend.
    pub(crate) fn new(capacity: usize, max_held_bytes: usize) -> Self {
        Batches {
            window: Arc::new(Mutex::new(Window {
                entries: HashMap::new(),
                order: VecDeque::new(),
                held: VecDeque::new(),
                generation: 0,
                capacity,
                held_bytes: 0,
                max_held_bytes,
            })),
        }
    }

    pub(crate) fn claim(&self, id: &str) -> Claim {
        let mut window = lock(&self.window);
        let id: Arc<str> = match window.entries.get_key_value(id) {
            Some((_, (_, Entry::Answered(body)))) => return Claim::Answered(body.clone()),
            Some((_, (_, Entry::InFlight))) => return Claim::InFlight,
            Some((id, (_, Entry::Unconfirmed(_)))) => Arc::clone(id),
            None => id.into(),
        };
        let held = match window.entries.remove(&id) {
            Some((_, Entry::Unconfirmed(held))) => {
                window.held_bytes -= held.body.len();
                Some(held)
            }
            _ => None,
        };
        let generation = window.insert(&id, Entry::InFlight);
        let guard = Guard {
            window: Arc::clone(&self.window),
            id,
            generation,
            held: held.clone(),
            done: false,
        };
        match held {
            Some(held) => Claim::Unconfirmed(guard, held),
            None => Claim::New(guard),
        }
    }
}

impl Guard {
    /// The batch was answered `200`; a resend gets `duplicate`.
    pub(crate) fn answered(mut self, duplicate: Bytes) {
        self.done = true;
        let mut window = lock(&self.window);
        if !window.holds(&self.id, self.generation) {
            return;
        }
        let generation = window.insert(&self.id, Entry::Answered(duplicate));
        window.order.push_back((Arc::clone(&self.id), generation));
        window.trim();
    }

    /// The batch's events were tracked and not all confirmed: its resend delivers
    /// `held` again.
    pub(crate) fn unconfirmed(mut self, held: Held) {
        self.done = true;
        self.hold(held);
    }

    fn hold(&self, held: Held) {
        let mut window = lock(&self.window);
        if !window.holds(&self.id, self.generation) {
            return;
        }
        let generation = window.insert(&self.id, Entry::Unconfirmed(held));
        window.order.push_back((Arc::clone(&self.id), generation));
        window.held.push_back((Arc::clone(&self.id), generation));
        window.trim();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        match self.held.take() {
            Some(held) => self.hold(held),
            None => lock(&self.window).remove(&self.id, self.generation),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answered_batch_is_a_duplicate_and_a_failed_one_is_forgotten() {
        let batches = Batches::new(2, 1 << 20);
        let Claim::New(guard) = batches.claim("a") else {
            panic!("new")
        };
        assert!(matches!(batches.claim("a"), Claim::InFlight));
        guard.answered(Bytes::from_static(b"first"));
        assert!(matches!(batches.claim("a"), Claim::Answered(body) if body == "first"));
        let Claim::New(failed) = batches.claim("b") else {
            panic!("new")
        };
        drop(failed);
        assert!(matches!(batches.claim("b"), Claim::New(_)));
    }

    fn held(body: &'static [u8]) -> Held {
        Held {
            request_id: "r".to_owned(),
            body: Bytes::from_static(body),
            spans: std::iter::once(0..body.len()).collect(),
            verdicts: Arc::new(Processed::default()),
            sinks_pending: true,
            letter_pending: false,
        }
    }

    #[test]
    fn an_unconfirmed_batch_is_held_for_its_resend_and_held_again_if_that_fails_early() {
        let batches = Batches::new(10, 1 << 20);
        let Claim::New(guard) = batches.claim("a") else {
            panic!("new")
        };
        guard.unconfirmed(held(b"{}"));
        let Claim::Unconfirmed(resend, kept) = batches.claim("a") else {
            panic!("held")
        };
        assert_eq!(kept.body, "{}");
        assert!(matches!(batches.claim("a"), Claim::InFlight));
        // The resend never reached ingest: still held.
        drop(resend);
        let Claim::Unconfirmed(resend, _) = batches.claim("a") else {
            panic!("held again")
        };
        resend.answered(Bytes::from_static(b"ok"));
        assert!(matches!(batches.claim("a"), Claim::Answered(_)));
    }

    #[test]
    fn held_bodies_beyond_the_bound_are_forgotten_oldest_first() {
        let batches = Batches::new(10, 5);
        for id in ["a", "b"] {
            let Claim::New(guard) = batches.claim(id) else {
                panic!("new")
            };
            guard.unconfirmed(held(b"{ab}"));
        }
        assert!(matches!(batches.claim("a"), Claim::New(_)));
        assert!(matches!(batches.claim("b"), Claim::Unconfirmed(..)));
    }

    #[test]
    fn the_window_forgets_the_oldest_batches_first() {
        let batches = Batches::new(2, 1 << 20);
        for id in ["a", "b", "c"] {
            let Claim::New(guard) = batches.claim(id) else {
                panic!("new")
            };
            guard.answered(Bytes::from_static(b"ok"));
        }
        assert!(matches!(batches.claim("a"), Claim::New(_)));
        assert!(matches!(batches.claim("c"), Claim::Answered(_)));
        assert!(valid_batch_id("6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d"));
        assert!(!valid_batch_id("") && !valid_batch_id("a b"));
    }
}
