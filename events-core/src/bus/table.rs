//! The handler table every emit reads: built by subscribers, copied on write, never changed
//! once published, so emitting reads it without a lock.

use std::any::{Any, TypeId};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::registry::Registry;

use super::handler::{Entry, Turn};
use super::panic::{HandlerPanic, PanicHook};
use super::{Events, Subscription};

/// The handlers of one media type, one list per state. Each list already holds, in
/// subscription order, the state's own handlers, the media type's `all` handlers and the
/// `on_any` handlers: an emit walks exactly one list.
struct MediaSlots {
    /// The `TypeId` of the media type's event struct, when the bus knows it (every
    /// registered media type); found by it, an event needs no wire name comparison.
    event_type: Option<TypeId>,
    wire_name: &'static str,
    states: Box<[Box<[Entry]>]>,
}

/// One published version of a bus's subscriptions.
pub(crate) struct Table {
    media: Box<[MediaSlots]>,
    /// For events of a media type that has no slots: only `on_any` handlers apply.
    any: Box<[Entry]>,
    hook: PanicHook,
}

impl Table {
    /// The table for `handlers` (in subscription order) over `media`.
    fn build(
        media: &[(Option<TypeId>, &'static MediaTypeDescription)],
        handlers: &[Entry],
        hook: PanicHook,
    ) -> Table {
        let media = media
            .iter()
            .map(|&(event_type, description)| MediaSlots {
                event_type,
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
            .filter(|h| h.meta.topic.is_none())
            .cloned()
            .collect();
        Table { media, any, hook }
    }

    /// The handlers for `event`, in the state at `state` of the media type whose event
    /// struct is `event_type`.
    #[inline]
    fn slot(&self, event_type: TypeId, state: usize, event: &AnyEvent) -> &[Entry] {
        let media = match self
            .media
            .iter()
            .find(|media| media.event_type == Some(event_type))
        {
            Some(media) => media,
            None => match self.by_wire_name(event) {
                Some(media) => media,
                None => return &self.any,
            },
        };
        media.states.get(state).map_or(&self.any, |slot| slot)
    }

    /// A media type the bus knows only by its description (from a `Topic`), or another
    /// Rust type registered under the same wire name.
    #[cold]
    #[inline(never)]
    fn by_wire_name(&self, event: &AnyEvent) -> Option<&MediaSlots> {
        let wire_name = event.media_type().wire_name;
        self.media.iter().find(|media| media.wire_name == wire_name)
    }

    /// Runs every live handler for the event, in subscription order.
    #[inline]
    pub(crate) fn run(
        &self,
        events: &Events,
        event_type: TypeId,
        state: usize,
        event: &AnyEvent,
        any: &dyn Any,
    ) {
        let slot = self.slot(event_type, state, event);
        let mut next = 0;
        while next < slot.len() {
            // One unwind guard for the whole walk, not one per handler; after a panic the
            // walk resumes with the handler after the one that panicked. The bus keeps no
            // state a panic could leave half-changed, hence `AssertUnwindSafe`.
            let walk = catch_unwind(AssertUnwindSafe(|| {
                while let Some(entry) = slot.get(next) {
                    next += 1;
                    match entry.turn() {
                        Turn::Call => {}
                        Turn::CallOnce if events.fire_once(entry) => {}
                        Turn::CallOnce | Turn::Skip => continue,
                    }
                    entry.callback.call(event, any);
                }
            }));
            if let Err(payload) = walk {
                self.report(events, &slot[next - 1], event, payload);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn report(
        &self,
        events: &Events,
        entry: &Entry,
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
                id: entry.meta.id,
            },
            topic: entry.meta.topic,
            event,
            message,
        };
        self.hook.report(&report);
    }
}

/// What subscribing and unsubscribing change, behind the bus's one writer lock.
pub(crate) struct Writer {
    pub(crate) registry: Registry,
    /// Media types seen in subscriptions but not in `registry` (a `Topic` built from a
    /// declaration never registered).
    pub(crate) unregistered: Vec<&'static MediaTypeDescription>,
    /// Every live handler, in subscription order.
    pub(crate) handlers: Vec<Entry>,
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
            .map(|entry| (Some(entry.event_type()), entry.description))
            .chain(
                self.unregistered
                    .iter()
                    .filter(|d| self.registry.get(d.wire_name).is_none())
                    .map(|&d| (None, d)),
            )
            .collect();
        Table::build(&media, &self.handlers, self.hook.clone())
    }
}
