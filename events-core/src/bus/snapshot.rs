//! Each thread's copy of the handler table of each bus it emits on.
//!
//! Why not a lock, or `arc-swap`: both cost one or two atomic read-modify-write
//! instructions per emit (a lock and an unlock; a debt slot taken and paid back), each as
//! dear as the whole of a hand-written dispatch (see BENCHMARKS.md). Here an emit reads the
//! bus's generation with a plain load and, when the thread's copy is current, runs it; the
//! `RefCell` borrow that keeps the copy alive while handlers run is a non-atomic counter.
//!
//! The copy of the bus the thread refreshed last sits in the thread-local itself, so the
//! usual emit (one bus, or one bus at a time) reads its id, generation and table at fixed
//! places, without walking a list; the copies of other buses follow in a list.
//!
//! The price: a thread keeps the table it last used, and with it the handlers' closures,
//! until it next emits on that bus (or on another bus: a refresh drops the copies of buses
//! that changed or are gone) or until it exits. Removed handlers are never *called* again
//! (see `table::walk`); only dropping their closures waits.

use std::cell::RefCell;
use std::sync::{Arc, Weak};

use super::table::Table;
use super::Shared;

struct Snapshot {
    bus: u64,
    generation: u64,
    table: Arc<Table>,
    owner: Weak<Shared>,
}

impl Snapshot {
    /// Whether this is a copy of a bus that still exists, at its current generation.
    fn is_current(&self) -> bool {
        self.owner
            .upgrade()
            .is_some_and(|owner| owner.generation() == self.generation)
    }
}

struct Snapshots {
    /// The bus this thread refreshed its copy of last.
    recent: Option<Snapshot>,
    /// Other buses this thread emitted on.
    others: Vec<Snapshot>,
}

thread_local! {
    static SNAPSHOTS: RefCell<Snapshots> = const {
        RefCell::new(Snapshots { recent: None, others: Vec::new() })
    };
}

/// Runs `run` with this thread's current copy of `shared`'s table, when it has one and is
/// not in the middle of replacing it. Returns `None` (and does not call `run`) otherwise.
#[inline]
pub(crate) fn with_current<R>(
    shared: &Shared,
    generation: u64,
    run: impl FnOnce(&Table) -> R,
) -> Option<R> {
    SNAPSHOTS
        .try_with(|cell| {
            // Borrowed mutably only while a refresh runs on this thread; a handler emitting
            // from inside an emit takes a second shared borrow, which is fine.
            let snapshots = cell.try_borrow().ok()?;
            let snapshot = match &snapshots.recent {
                Some(recent) if recent.bus == shared.id => recent,
                _ => snapshots.others.iter().find(|s| s.bus == shared.id)?,
            };
            (snapshot.generation == generation).then(|| run(&snapshot.table))
        })
        .ok()
        .flatten()
}

/// Stores `table` as this thread's copy of `shared`'s table at `generation`, and drops the
/// copies of other buses that are gone or out of date. Does nothing when the thread's
/// copies are in use (an emit further up this thread's stack is running handlers).
pub(crate) fn store(shared: &Arc<Shared>, generation: u64, table: &Arc<Table>) {
    let _ = SNAPSHOTS.try_with(|cell| {
        let Ok(mut snapshots) = cell.try_borrow_mut() else {
            return;
        };
        let Snapshots { recent, others } = &mut *snapshots;
        let fresh = Snapshot {
            bus: shared.id,
            generation,
            table: Arc::clone(table),
            owner: Arc::downgrade(shared),
        };
        // Never more than one copy per bus: this bus's old one goes, whether it was the
        // recent one or in the list.
        others.retain(|s| s.bus != shared.id && s.is_current());
        if let Some(previous) = recent.replace(fresh) {
            if previous.bus != shared.id && previous.is_current() {
                others.push(previous);
            }
        }
    });
}
