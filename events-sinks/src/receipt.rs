//! Delivery receipts: how the sender of a group of events learns that every one of them
//! is resolved — durable at the receiver, in the dead letter, or lost — without waiting
//! for the whole sink to drain (which, under steady load, it never does).

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::lock;

/// What became of the events sent with one [`Receipt`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Durable at the receiver: written and flushed (and synced, when the file sink's
    /// [`Fsync`](crate::Fsync) says so), acknowledged by JetStream, accepted by the
    /// collector.
    pub delivered: u64,
    /// Not delivered, and written to the sink's dead letter with the reason.
    pub dead_lettered: u64,
    /// Neither: a write failed after the sink took the event (see
    /// [`SinkStats::lost`](crate::SinkStats::lost)).
    pub lost: u64,
}

impl Confirmation {
    /// Whether every event was delivered.
    pub fn all_delivered(&self) -> bool {
        self.dead_lettered == 0 && self.lost == 0
    }
}

/// A receipt for a group of events (one HTTP request's, say), resolved once each event
/// sent with it ([`Sink::send_confirmed`](crate::Sink::send_confirmed)) is delivered,
/// dead-lettered or lost, and the sender said no more will come ([`seal`](Self::seal)).
/// Then its callback runs once, with the [`Confirmation`], on whichever thread resolved
/// the last event: a sink's worker, or the caller of [`Sink::commit`](crate::Sink::commit).
///
/// Clones are handles to the same receipt. A sink implemented outside this crate calls
/// [`expect`](Self::expect) when it takes an event and [`resolve`](Self::resolve) when it
/// knows its fate.
///
/// ```
/// use std::sync::mpsc;
/// use events_sinks::{Confirmation, Fate, Receipt};
///
/// let (tx, rx) = mpsc::channel();
/// let receipt = Receipt::new(move |confirmation| tx.send(confirmation).unwrap());
/// receipt.expect(2);
/// receipt.resolve(Fate::Delivered, 2);
/// assert!(rx.try_recv().is_err(), "not sealed yet");
/// receipt.seal();
/// assert_eq!(rx.recv().unwrap(), Confirmation { delivered: 2, ..Confirmation::default() });
/// ```
#[derive(Clone)]
pub struct Receipt {
    inner: Arc<Mutex<State>>,
}

/// The fate of events sent with a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Durable at the receiver.
    Delivered,
    /// In the dead letter.
    DeadLettered,
    /// Neither.
    Lost,
}

type Callback = Box<dyn FnOnce(Confirmation) + Send>;

struct State {
    pending: u64,
    sealed: bool,
    confirmation: Confirmation,
    callback: Option<Callback>,
}

impl Receipt {
    /// A receipt whose `callback` runs once every event sent with it is resolved.
    pub fn new(callback: impl FnOnce(Confirmation) + Send + 'static) -> Self {
        Receipt {
            inner: Arc::new(Mutex::new(State {
                pending: 0,
                sealed: false,
                confirmation: Confirmation::default(),
                callback: Some(Box::new(callback)),
            })),
        }
    }

    /// `n` more events are on their way.
    pub fn expect(&self, n: u64) {
        lock(&self.inner).pending += n;
    }

    /// `n` events met `outcome`.
    pub fn resolve(&self, outcome: Fate, n: u64) {
        self.resolve_expected(outcome, n, n);
    }

    /// `n` events met `outcome`, for which `expected` were [`expect`](Self::expect)ed: a
    /// run of events held together counts as one until it is resolved, so that taking
    /// each next event of the run costs no lock.
    fn resolve_expected(&self, outcome: Fate, n: u64, expected: u64) {
        if n == 0 {
            return;
        }
        let mut state = lock(&self.inner);
        debug_assert!(
            state.pending >= expected,
            "resolved more events than expected"
        );
        state.pending = state.pending.saturating_sub(expected);
        let count = match outcome {
            Fate::Delivered => &mut state.confirmation.delivered,
            Fate::DeadLettered => &mut state.confirmation.dead_lettered,
            Fate::Lost => &mut state.confirmation.lost,
        };
        *count += n;
        Receipt::fire(state);
    }

    /// No more events will be sent with this receipt: once those sent are resolved (at
    /// once if they are), the callback runs.
    pub fn seal(&self) {
        let mut state = lock(&self.inner);
        state.sealed = true;
        Receipt::fire(state);
    }

    /// Whether `self` and `other` are handles to the same receipt.
    pub fn same(&self, other: &Receipt) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn fire(mut state: std::sync::MutexGuard<'_, State>) {
        if !state.sealed || state.pending > 0 {
            return;
        }
        let Some(callback) = state.callback.take() else {
            return;
        };
        let confirmation = state.confirmation;
        // The callback may take locks of its own: not under this one.
        drop(state);
        callback(confirmation);
    }
}

impl fmt::Debug for Receipt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.inner);
        f.debug_struct("Receipt")
            .field("pending", &state.pending)
            .field("sealed", &state.sealed)
            .field("confirmation", &state.confirmation)
            .finish()
    }
}

/// Receipts of the events a synchronous sink holds in its buffer, in order, runs of the
/// same receipt kept as one entry: resolved together when the buffer is made durable.
/// A run is expected as one event when it starts (which keeps its receipt from firing)
/// and resolved as all of its events: the events after the first take no lock.
#[derive(Debug, Default)]
pub(crate) struct Unconfirmed {
    runs: Vec<(Receipt, u64)>,
}

impl Unconfirmed {
    pub(crate) fn push(&mut self, receipt: &Receipt) {
        match self.runs.last_mut() {
            Some((last, n)) if last.same(receipt) => *n += 1,
            _ => {
                receipt.expect(1);
                self.runs.push((receipt.clone(), 1));
            }
        }
    }

    /// Resolves every receipt held.
    pub(crate) fn resolve(&mut self, outcome: Fate) {
        for (receipt, n) in self.runs.drain(..) {
            receipt.resolve_expected(outcome, n, 1);
        }
    }
}
