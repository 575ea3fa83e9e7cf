//! One subscribed handler: its callback, what it listens to, and whether it still runs.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::any::AnyEvent;
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

/// A subscribed handler. The same `Arc<Handler>` sits in every slot it listens to (each
/// state of its media type for `all`, every slot for `on_any`), so `live` is one flag.
pub(crate) struct Handler<C: ?Sized = dyn Callback> {
    /// Subscription order: handlers run in increasing `id`.
    pub(crate) id: u64,
    /// What it listens to; `None` is every event (`on_any`).
    pub(crate) topic: Option<Topic>,
    pub(crate) once: bool,
    /// Cleared by `off`, or by the first call of a `once` handler. Checked before every
    /// call, so a handler removed during an emit is not called by that emit afterwards.
    pub(crate) live: AtomicBool,
    pub(crate) callback: C,
}

impl<C: Callback> Handler<C> {
    pub(crate) fn new(id: u64, topic: Option<Topic>, once: bool, callback: C) -> Self {
        Handler {
            id,
            topic,
            once,
            live: AtomicBool::new(true),
            callback,
        }
    }
}

impl Handler {
    /// Whether this handler listens to the state at `state` of `wire_name`.
    pub(crate) fn listens_to(
        &self,
        description: &crate::MediaTypeDescription,
        state: usize,
    ) -> bool {
        self.topic
            .is_none_or(|topic| topic.matches(description, state))
    }

    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    /// Marks the handler removed; true for the one caller that removed it. For a `once`
    /// handler, that caller is the one emit that runs it.
    pub(crate) fn retire(&self) -> bool {
        self.live.swap(false, Ordering::AcqRel)
    }
}
