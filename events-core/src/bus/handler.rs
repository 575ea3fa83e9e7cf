//! One subscribed handler: its callback, what it listens to, and whether it still runs.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::media_type::Event;
use crate::topic::Topic;

/// A handler's code, called with the event twice over: as [`AnyEvent`] for handlers that
/// take any media type, and as `dyn Any` so a typed handler gets its `&E` back with one
/// type check and no call through the event's vtable.
pub(crate) trait Callback: Send + Sync + 'static {
    fn call(&self, event: &AnyEvent, any: &dyn Any);

    /// The bus is gone: no event will come again. Only streams care.
    fn close(&self) {}
}

/// `Fn(&E)`, for `on(WebChat::Offered, ..)` and `on_all::<WebChat>(..)`.
pub(crate) struct Typed<E, F> {
    f: F,
    // `fn(&E)`: the callback neither owns nor shares an `E`, so it stays Send + Sync.
    event: PhantomData<fn(&E)>,
}

impl<E, F> Typed<E, F> {
    pub(crate) fn new(f: F) -> Self {
        Typed {
            f,
            event: PhantomData,
        }
    }
}

impl<E: Event, F: Fn(&E) + Send + Sync + 'static> Callback for Typed<E, F> {
    #[inline]
    fn call(&self, _: &AnyEvent, any: &dyn Any) {
        // Another Rust type may have been registered under the same wire name; its events
        // are not `E`, and a typed handler only ever sees `E`.
        if let Some(event) = any.downcast_ref::<E>() {
            (self.f)(event);
        }
    }
}

/// `Fn(&AnyEvent)`, for topic strings and `on_any`.
pub(crate) struct Erased<F>(pub(crate) F);

impl<F: Fn(&AnyEvent) + Send + Sync + 'static> Callback for Erased<F> {
    #[inline]
    fn call(&self, event: &AnyEvent, _: &dyn Any) {
        (self.0)(event);
    }
}

const GONE: u8 = 0;
const ON: u8 = 1;
const ONCE: u8 = 2;

/// What a subscribed handler listens to, and whether it still runs. Shared by every slot
/// the handler sits in (each state of its media type for `all`, every slot for `on_any`),
/// so removing it is one store.
pub(crate) struct Meta {
    /// Subscription order: handlers run in increasing `id`.
    pub(crate) id: u64,
    /// What it listens to; `None` is every event (`on_any`).
    pub(crate) topic: Option<Topic>,
    /// `ON`, `ONCE`, or `GONE` once removed by `off` or run by its one emit. Checked before
    /// every call, so a handler removed during an emit is not called by it afterwards.
    state: AtomicU8,
}

/// What an emit should do with a handler.
pub(crate) enum Turn {
    Call,
    CallOnce,
    Skip,
}

/// A subscribed handler, as the writer keeps it and every slot holds it. The callback is
/// its own allocation so an emit reaches it in one load from the slot.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) meta: Arc<Meta>,
    pub(crate) callback: Arc<dyn Callback>,
}

impl Entry {
    pub(crate) fn new(id: u64, topic: Option<Topic>, once: bool, callback: impl Callback) -> Self {
        Entry {
            meta: Arc::new(Meta {
                id,
                topic,
                state: AtomicU8::new(if once { ONCE } else { ON }),
            }),
            callback: Arc::new(callback),
        }
    }

    /// Whether this handler listens to the state at `state` of `description`.
    pub(crate) fn listens_to(&self, description: &MediaTypeDescription, state: usize) -> bool {
        self.meta
            .topic
            .is_none_or(|topic| topic.matches(description, state))
    }

    #[inline]
    pub(crate) fn turn(&self) -> Turn {
        match self.meta.state.load(Ordering::Acquire) {
            ON => Turn::Call,
            ONCE => Turn::CallOnce,
            _ => Turn::Skip,
        }
    }

    /// Marks the handler removed (by `off`).
    pub(crate) fn retire(&self) {
        self.meta.state.store(GONE, Ordering::Release);
    }

    /// For a `once` handler: true for the one emit that gets to run it.
    pub(crate) fn claim_once(&self) -> bool {
        self.meta
            .state
            .compare_exchange(ONCE, GONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}
