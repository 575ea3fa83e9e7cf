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
//! Two kinds of thread-local hold copies: one for events whose type is not known
//! statically ([`ANY`], copies of the whole table), and one per event type declared with
//! `media_type!` ([`TypedLocal`], declared by the macro next to the type, its contents
//! given here by [`LocalCopies`]), whose copies
//! hold the table *and* the way to that type's handlers, found once when the copy is
//! taken. So `emit::<E>` runs `E`'s handlers with no type check and no search: a type
//! check through `dyn Any` is a virtual call returning the `TypeId` through memory, which
//! on some CPUs cost as much as the rest of the emit (BENCHMARKS.md, dispatch).
//!
//! The price: a thread keeps the table it last used, and with it the handlers' closures,
//! until it next emits on that bus (or on another bus: a refresh drops the copies of buses
//! that changed or are gone) or until it exits — for each event type it emitted. Removed
//! handlers are never *called* again (see `table::walk`); only dropping their closures
//! waits.

use std::cell::RefCell;
use std::sync::{Arc, Weak};
use std::thread::LocalKey;

use super::table::{Route, Table};
use super::Shared;
use crate::bus_local::{LocalCopies, TypedLocal};
use crate::media_type::Event;

/// A copy for `emit::<E>`: the table and the way to `E`'s handlers in it.
pub struct TypedCopy<E> {
    pub(crate) table: Arc<Table>,
    pub(crate) route: Route<E>,
}

impl<E> std::fmt::Debug for TypedCopy<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TypedCopy")
    }
}

#[derive(Debug)]
struct Snapshot<C> {
    bus: u64,
    generation: u64,
    copy: C,
    owner: Weak<Shared>,
}

impl<C> Snapshot<C> {
    /// Whether this is a copy of a bus that still exists, at its current generation.
    fn is_current(&self) -> bool {
        self.owner
            .upgrade()
            .is_some_and(|owner| owner.generation() == self.generation)
    }
}

/// One thread's copies of one kind.
#[derive(Debug)]
pub struct Snapshots<C> {
    /// The bus this thread refreshed its copy of last.
    recent: Option<Snapshot<C>>,
    /// Other buses this thread emitted on.
    others: Vec<Snapshot<C>>,
}

/// Where copies of one kind live: a thread-local `RefCell` of them.
pub(crate) trait Local<C> {
    fn cell(&self) -> &RefCell<Snapshots<C>>;
}

impl<C> Local<C> for RefCell<Snapshots<C>> {
    #[inline(always)]
    fn cell(&self) -> &RefCell<Snapshots<C>> {
        self
    }
}

impl<E: Event> LocalCopies for E {
    type Copies = Snapshots<TypedCopy<E>>;
    const EMPTY: Self::Copies = Snapshots {
        recent: None,
        others: Vec::new(),
    };
}

impl<E: Event> Local<TypedCopy<E>> for TypedLocal<E> {
    #[inline(always)]
    fn cell(&self) -> &RefCell<Snapshots<TypedCopy<E>>> {
        &self.0
    }
}

thread_local! {
    /// Copies for `emit_any`, and for `emit` of event types without a [`TypedLocal`].
    pub(crate) static ANY: RefCell<Snapshots<Arc<Table>>> = const {
        RefCell::new(Snapshots { recent: None, others: Vec::new() })
    };
}

/// Runs `run` with this thread's current copy of `shared`'s table in `key`, when it has
/// one and is not in the middle of replacing it. Returns `None` (and does not call `run`)
/// otherwise.
#[inline(always)]
pub(crate) fn with_current<C, L: Local<C>, R>(
    key: &'static LocalKey<L>,
    shared: &Shared,
    generation: u64,
    run: impl FnOnce(&C) -> R,
) -> Option<R> {
    key.try_with(|local| {
        // Borrowed mutably only while a refresh runs on this thread; a handler emitting
        // from inside an emit takes a second shared borrow, which is fine.
        let snapshots = local.cell().try_borrow().ok()?;
        let snapshot = match &snapshots.recent {
            Some(recent) if recent.bus == shared.id => recent,
            _ => snapshots.others.iter().find(|s| s.bus == shared.id)?,
        };
        (snapshot.generation == generation).then(|| run(&snapshot.copy))
    })
    .ok()
    .flatten()
}

/// Stores `copy` as this thread's copy of `shared`'s table at `generation` in `key`, and
/// drops the copies of other buses that are gone or out of date. Does nothing when the
/// thread's copies are in use (an emit further up this thread's stack is running
/// handlers).
pub(crate) fn store<C, L: Local<C>>(
    key: &'static LocalKey<L>,
    shared: &Arc<Shared>,
    generation: u64,
    copy: C,
) {
    let _ = key.try_with(|local| {
        let Ok(mut snapshots) = local.cell().try_borrow_mut() else {
            return;
        };
        let Snapshots { recent, others } = &mut *snapshots;
        let fresh = Snapshot {
            bus: shared.id,
            generation,
            copy,
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
