//! The window of answered batches: a client resending a batch (same `batchId`) it got no
//! answer for gets the first answer again, marked `"duplicate": true`, and nothing is
//! delivered twice.
//!
//! The window is memory only and bounded: the oldest batches are forgotten first, and a
//! restart forgets them all. A batch resent after that is ingested again; its events are
//! then delivered again, each carrying the same idempotency key (`<actionId>:<state>`)
//! for the receiver to drop (NATS JetStream does, within its duplicate window).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use bytes::Bytes;

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

#[derive(Debug)]
enum Entry {
    /// Being ingested now.
    InFlight,
    /// Answered `200`: the body to answer a resend with.
    Answered(Bytes),
}

#[derive(Debug)]
struct Window {
    entries: HashMap<Arc<str>, Entry>,
    /// Answered ids, oldest first.
    order: VecDeque<Arc<str>>,
    capacity: usize,
}

/// The answered batches, shared by every request.
#[derive(Debug, Clone)]
pub(crate) struct Batches {
    window: Arc<Mutex<Window>>,
}

/// What a request with a batch id may do.
#[derive(Debug)]
pub(crate) enum Claim {
    /// A new batch: ingest it, then [`Guard::answered`].
    New(Guard),
    /// Already answered: this is the answer (`"duplicate": true`).
    Answered(Bytes),
    /// The same batch is being ingested by another request right now.
    InFlight,
}

/// A batch being ingested. Dropped without [`answered`](Self::answered) (the request
/// failed), the batch is forgotten, so that a resend is ingested.
#[derive(Debug)]
pub(crate) struct Guard {
    window: Arc<Mutex<Window>>,
    id: Arc<str>,
    done: bool,
}

impl Batches {
    pub(crate) fn new(capacity: usize) -> Self {
        Batches {
            window: Arc::new(Mutex::new(Window {
                entries: HashMap::new(),
                order: VecDeque::new(),
                capacity,
            })),
        }
    }

    pub(crate) fn claim(&self, id: &str) -> Claim {
        let mut window = lock(&self.window);
        match window.entries.get(id) {
            Some(Entry::Answered(body)) => return Claim::Answered(body.clone()),
            Some(Entry::InFlight) => return Claim::InFlight,
            None => {}
        }
        let id: Arc<str> = id.into();
        window.entries.insert(Arc::clone(&id), Entry::InFlight);
        Claim::New(Guard {
            window: Arc::clone(&self.window),
            id,
            done: false,
        })
    }
}

impl Guard {
    /// The batch was answered `200`; a resend gets `duplicate`.
    pub(crate) fn answered(mut self, duplicate: Bytes) {
        self.done = true;
        let mut window = lock(&self.window);
        window
            .entries
            .insert(Arc::clone(&self.id), Entry::Answered(duplicate));
        window.order.push_back(Arc::clone(&self.id));
        while window.order.len() > window.capacity {
            if let Some(oldest) = window.order.pop_front() {
                window.entries.remove(&oldest);
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.window).entries.remove(&self.id);
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
        let batches = Batches::new(2);
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

    #[test]
    fn the_window_forgets_the_oldest_batches_first() {
        let batches = Batches::new(2);
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
