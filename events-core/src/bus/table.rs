//! The handler table every emit reads: built by subscribers, copied on write, never changed
//! once published, so emitting reads it without a lock.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::registry::Registry;

use super::handler::Handler;
use super::panic::{HandlerPanic, PanicHook};
use super::{Events, Subscription};

/// The handlers of one media type, one list per state. Each list already holds, in
/// subscription order, the state's own handlers, the media type's `all` handlers and the
/// `on_any` handlers: an emit walks exactly one list.
pub(crate) struct MediaSlots {
    wire_name: &'static str,
    states: Box<[Box<[Arc<Handler>]>]>,
}

/// One published version of a bus's subscriptions.
pub(crate) struct Table {
    media: Box<[MediaSlots]>,
    /// For events of a media type that has no slots: only `on_any` handlers apply.
    any: Box<[Arc<Handler>]>,
    hook: PanicHook,
}

impl Table {
    /// The table for `handlers` (in subscription order) over `media`.
    pub(crate) fn build(
        media: &[&'static MediaTypeDescription],
        handlers: &[Arc<Handler>],
        hook: PanicHook,
    ) -> Table {
        let media = media
            .iter()
            .map(|&description| MediaSlots {
                wire_name: description.wire_name,
                states: (0..description.states.len())
                    .map(|state| {
                        handlers
                            .iter()
                            .filter(|h| h.listens_to(description, state))
                            .cloned()
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        let any = handlers
            .iter()
            .filter(|h| h.topic.is_none())
            .cloned()
            .collect();
        Table { media, any, hook }
    }

    /// The handlers for the state at `state` of the media type `wire_name`.
    #[inline]
    fn slot(&self, wire_name: &str, state: usize) -> &[Arc<Handler>] {
        for media in self.media.iter() {
            if same_name(media.wire_name, wire_name) {
                return media.states.get(state).map_or(&self.any, |slot| slot);
            }
        }
        &self.any
    }

    /// Runs every live handler for the event, in subscription order.
    #[inline]
    pub(crate) fn run(
        &self,
        events: &Events,
        wire_name: &str,
        state: usize,
        event: &AnyEvent,
        any: &dyn Any,
    ) {
        for handler in self.slot(wire_name, state) {
            if !handler.is_live() {
                continue;
            }
            if handler.once && !events.fire_once(handler) {
                continue;
            }
            // The handler's state is its own business; the bus keeps none that a panic
            // could leave half-changed, so it is safe to go on with the next handler.
            let result = catch_unwind(AssertUnwindSafe(|| handler.callback.call(event, any)));
            if let Err(payload) = result {
                self.report(events, handler, event, payload);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn report(
        &self,
        events: &Events,
        handler: &Handler,
        event: &AnyEvent,
        payload: Box<dyn Any + Send>,
    ) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic payload that is not a string)");
        let report = HandlerPanic {
            subscription: Subscription {
                bus: events.id(),
                id: handler.id,
            },
            topic: handler.topic,
            event,
            message,
        };
        self.hook.report(&report);
    }
}

/// Wire names compared by address first: the emitting event and the table usually hold the
/// very same `&'static str`.
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a == b)
}

/// What subscribing and unsubscribing change, behind the bus's one writer lock.
pub(crate) struct Writer {
    pub(crate) registry: Registry,
    /// Media types seen in subscriptions but not in `registry` (a `Topic` built from a
    /// declaration never registered).
    pub(crate) unregistered: Vec<&'static MediaTypeDescription>,
    /// Every live handler, in subscription order.
    pub(crate) handlers: Vec<Arc<Handler>>,
    pub(crate) next_id: u64,
    pub(crate) hook: PanicHook,
    pub(crate) table: Arc<Table>,
}

impl Writer {
    pub(crate) fn new(registry: Registry) -> Self {
        let hook = PanicHook::default();
        let mut writer = Writer {
            registry,
            unregistered: Vec::new(),
            handlers: Vec::new(),
            next_id: 1,
            hook: hook.clone(),
            table: Arc::new(Table::build(&[], &[], hook)),
        };
        writer.table = Arc::new(writer.build());
        writer
    }

    /// Makes sure events of `description` get slots.
    pub(crate) fn know(&mut self, description: &'static MediaTypeDescription) {
        let wire_name = description.wire_name;
        if self.registry.get(wire_name).is_none()
            && !self.unregistered.iter().any(|d| d.wire_name == wire_name)
        {
            self.unregistered.push(description);
        }
    }

    pub(crate) fn build(&self) -> Table {
        let media: Vec<_> = self
            .registry
            .iter()
            .map(|entry| entry.description)
            .chain(
                self.unregistered
                    .iter()
                    .copied()
                    .filter(|d| self.registry.get(d.wire_name).is_none()),
            )
            .collect();
        Table::build(&media, &self.handlers, self.hook.clone())
    }
}
