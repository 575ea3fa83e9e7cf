//! [`Emitter`]: a handle for emitting one event type on one bus, holding its copy of the
//! bus's table itself.

use std::fmt;

use super::snapshot::TypedCopy;
use super::Events;
use crate::media_type::{Event, MediaType};

/// Emits events of type `E` on one bus, with the same semantics as
/// [`Events::emit`] — order, `once`, changes during an emit, panics — and less work per
/// emit: where `emit` finds this thread's copy of the bus's table in a thread-local (and
/// borrows it there), an `Emitter` holds its copy, so an emit is a check of the bus's
/// generation and the handlers. For a loop that emits many events of one type; `emit`
/// is the same thing for any event, anywhere.
///
/// It holds its copy of the table, and so the closures of handlers removed meanwhile,
/// until its next emit after the change, or until it is dropped (removed handlers are
/// never *called* again).
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use events_core::{Events, WebChat, WebChatEvent};
///
/// let events = Events::new();
/// let offers = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&offers);
/// events.on(WebChat::Offered, move |_: &WebChatEvent| {
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// let mut emitter = events.emitter::<WebChatEvent>();
/// # let json = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered","actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
/// # use events_core::Event;
/// let event = WebChatEvent::from_json_slice(json)??;
/// for _ in 0..3 {
///     emitter.emit(&event);
/// }
/// assert_eq!(offers.load(Ordering::Relaxed), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Emitter<E> {
    events: Events,
    generation: u64,
    copy: TypedCopy<E>,
}

impl Events {
    /// A handle that emits events of type `E` on this bus: see [`Emitter`].
    pub fn emitter<E: Event>(&self) -> Emitter<E> {
        let (generation, copy) = self.typed_copy();
        Emitter {
            events: self.clone(),
            generation,
            copy,
        }
    }

    /// The bus's current table and generation, with the way to `E`'s handlers in it.
    pub(super) fn typed_copy<E: Event>(&self) -> (u64, TypedCopy<E>) {
        let (generation, table) = self.current();
        let route = table.route::<E>();
        (generation, TypedCopy { table, route })
    }
}

impl<E: Event> Emitter<E> {
    /// Hands `event` to every handler of its topic, in subscription order, on this
    /// thread: [`Events::emit`].
    #[inline]
    pub fn emit(&mut self, event: &E) {
        let generation = self.events.shared.generation();
        if generation != self.generation {
            self.refresh();
        }
        let TypedCopy { table, route } = &self.copy;
        let emit = self.events.emit_of(table, self.generation);
        table.run_routed(route, &emit, event.state().index(), event);
    }

    #[cold]
    #[inline(never)]
    fn refresh(&mut self) {
        (self.generation, self.copy) = self.events.typed_copy();
    }

    /// The bus this emits on.
    pub fn events(&self) -> &Events {
        &self.events
    }
}

impl<E: Event> fmt::Debug for Emitter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emitter")
            .field("media_type", &E::MediaType::DESCRIPTION.wire_name)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

// An emitter may move to another thread (its copy is `Send`), and being `Sync` costs
// nothing: emitting takes `&mut self`.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Emitter<crate::WebChatEvent>>();
};
