//! The handler table every emit reads: built by subscribers, copied on write, never changed
//! once published, so emitting reads it without a lock.
//!
//! A media type with typed subscriptions gets a table typed by its event struct
//! ([`TypedStates`]), which calls every handler with `&E` and no check. An `emit::<E>`
//! reaches it by a [`Route`], found once per table copy ([`Table::route`]: by the `TypeId`
//! it knows statically, and one downcast of the `Arc`), so the emit itself neither
//! searches nor checks a type. Without typed subscriptions a media type's table holds
//! erased handlers only, and needs no check at all. [`Table::run`] is the general path:
//! for event types without a thread-local of their own, and for the rare routes that
//! need a search (a media type without slots, two types under one wire name).

use std::any::{Any, TypeId};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::media_type::{Event, MediaType};
use crate::registry::Registry;

use super::handler::{Call, Callback, Code, Entry, Handler, Meta};
use super::panic::{HandlerPanic, PanicHook};
use super::{Events, Shared, Subscription};

type ErasedHandler = Handler<Arc<dyn Callback>>;

/// One list per state of a media type. Each list already holds, in subscription order,
/// the state's own handlers, the media type's `all` handlers and the `on_any` handlers: an
/// emit walks exactly one list.
type States<H> = Box<[Box<[H]>]>;

/// Builds the typed table of one media type from the handlers: the one place that knows
/// the event struct when tables are built.
type BuildTyped = fn(&'static MediaTypeDescription, &[Entry]) -> Arc<dyn TypedTable>;

/// The typed table of `E`'s media type.
pub(crate) struct TypedStates<E> {
    states: States<Handler<Call<E>>>,
}

/// What a typed table does for an event whose type is not known statically.
trait TypedTable: Any + Send + Sync {
    /// Runs the handlers of the state at `state` for `event`: all of them when it is of the
    /// table's type (an `emit_any`), else the erased ones only (another Rust type
    /// registered under the same wire name).
    fn run_any(&self, emit: &Emit<'_>, state: usize, event: &AnyEvent);
}

impl<E: Event> TypedStates<E> {
    fn build(
        description: &'static MediaTypeDescription,
        handlers: &[Entry],
    ) -> Arc<dyn TypedTable> {
        Arc::new(TypedStates {
            states: states(description, handlers, Entry::typed::<E>),
        })
    }

    #[inline(always)]
    fn run(&self, emit: &Emit<'_>, state: usize, event: &E) {
        let Some(slot) = self.states.get(state) else {
            return emit.table.run_on_any(emit, event);
        };
        walk(emit, slot, event, |call| match call {
            Call::Typed(f) => f(event),
            Call::Erased(callback) => callback.call(event),
        });
    }
}

impl<E: Event> TypedTable for TypedStates<E> {
    fn run_any(&self, emit: &Emit<'_>, state: usize, event: &AnyEvent) {
        if let Some(event) = event.downcast_ref::<E>() {
            return self.run(emit, state, event);
        }
        let Some(slot) = self.states.get(state) else {
            return emit.table.run_on_any(emit, event);
        };
        walk(emit, slot, event, |call| {
            if let Call::Erased(callback) = call {
                callback.call(event);
            }
        });
    }
}

/// The handlers of one media type.
enum Slots {
    /// An `Arc`, so that a thread's copy for `emit::<E>` can hold `E`'s table itself
    /// ([`Route::Typed`]).
    Typed(Arc<dyn TypedTable>),
    Erased(States<ErasedHandler>),
}

struct MediaSlots {
    wire_name: &'static str,
    slots: Slots,
}

/// `states` of `description`: for each, the handlers that listen to it, as `slot` makes
/// them.
fn states<H>(
    description: &MediaTypeDescription,
    handlers: &[Entry],
    slot: impl Fn(&Entry) -> H,
) -> States<H> {
    (0..description.states.len())
        .map(|state| {
            handlers
                .iter()
                .filter(|h| h.listens_to(description, state))
                .map(&slot)
                .collect()
        })
        .collect()
}

/// One published version of a bus's subscriptions.
pub(crate) struct Table {
    /// The registered media types, by the `TypeId` of their event struct: found by it, an
    /// event needs no wire name comparison.
    media: Box<[(TypeId, MediaSlots)]>,
    /// Media types known only by their description (a `Topic` of a declaration never
    /// registered): found by wire name.
    unregistered: Box<[MediaSlots]>,
    /// For events of a media type that has no slots: only `on_any` handlers apply.
    any: Box<[ErasedHandler]>,
    hook: PanicHook,
}

/// One emit: the table it runs and the bus generation that table is, to notice changes
/// made while its handlers run.
pub(crate) struct Emit<'a> {
    pub(crate) events: &'a Events,
    pub(crate) shared: &'a Shared,
    pub(crate) table: &'a Table,
    pub(crate) generation: u64,
}

impl Emit<'_> {
    /// Whether the bus changed since this emit started: only then may a handler of its
    /// table have been removed.
    #[inline(always)]
    fn changed(&self) -> bool {
        self.shared.generation() != self.generation
    }
}

/// What an emit does with the table it found. A trait rather than a closure so that the
/// whole walk is inlined into the emit (a closure cannot be marked `#[inline(always)]`):
/// the call and the frame it saves are a good part of what the bus adds to a handler.
pub(crate) trait Run {
    fn run(&self, emit: &Emit<'_>);
}

/// `emit::<E>`: the event's type known statically.
pub(crate) struct EmitTyped<'a, E> {
    pub(crate) state: usize,
    pub(crate) event: &'a E,
}

impl<E: Event> Run for EmitTyped<'_, E> {
    #[inline(always)]
    fn run(&self, emit: &Emit<'_>) {
        emit.table.run(emit, self.state, self.event);
    }
}

/// `emit_any`.
pub(crate) struct EmitAny<'a>(pub(crate) &'a AnyEvent);

impl Run for EmitAny<'_> {
    #[inline]
    fn run(&self, emit: &Emit<'_>) {
        emit.table.run_any(emit, self.0);
    }
}

/// The way from a table to the handlers of `E`'s events, found once per table copy
/// ([`Table::route`]) so that `emit::<E>` needs neither the search nor the type check.
#[derive(Clone)]
pub(crate) enum Route<E> {
    /// `E`'s media type has typed subscriptions: its typed table.
    Typed(Arc<TypedStates<E>>),
    /// `E`'s media type has only erased handlers: its position in [`Table::media`].
    Erased(usize),
    /// Anything else (no slots, another type under the same wire name): the general
    /// path, [`Table::run`].
    General,
}

impl Table {
    /// How `emit::<E>` reaches `E`'s handlers in this table.
    pub(crate) fn route<E: Event>(&self) -> Route<E> {
        let Some(at) = self
            .media
            .iter()
            .position(|(id, _)| *id == TypeId::of::<E>())
        else {
            return Route::General;
        };
        match &self.media[at].1.slots {
            Slots::Typed(table) => {
                let table: Arc<dyn Any + Send + Sync> = Arc::clone(table) as _;
                table.downcast().map_or(Route::General, Route::Typed)
            }
            Slots::Erased(_) => Route::Erased(at),
        }
    }

    /// Runs every live handler for `event`, by `route` (this table's).
    #[inline(always)]
    pub(crate) fn run_routed<E: Event>(
        &self,
        route: &Route<E>,
        emit: &Emit<'_>,
        state: usize,
        event: &E,
    ) {
        match route {
            Route::Typed(table) => table.run(emit, state, event),
            Route::Erased(at) => match &self.media[*at].1.slots {
                Slots::Erased(states) => run_erased(emit, states, state, event),
                Slots::Typed(_) => self.run(emit, state, event),
            },
            Route::General => self.run(emit, state, event),
        }
    }

    /// The table for `handlers` (in subscription order) over the registered media types
    /// (by the `TypeId` of their event struct) and those known only by their description.
    fn build(
        registered: &[(TypeId, &'static MediaTypeDescription)],
        unregistered: &[&'static MediaTypeDescription],
        typed_tables: &[(TypeId, BuildTyped)],
        handlers: &[Entry],
        hook: PanicHook,
    ) -> Table {
        // Media types with handlers first: an emit finds its media type by a linear search,
        // and an event of a media type without handlers costs little either way.
        let mut registered = registered.to_vec();
        registered.sort_by_key(|(_, description)| {
            !handlers
                .iter()
                .any(|h| h.listens_to_media_type(description))
        });
        let media = registered
            .into_iter()
            .map(|(event_type, description)| {
                let has_typed = handlers.iter().any(
                    |h| matches!(&h.code, Code::Typed(typed) if typed.event_type == event_type),
                );
                let typed = typed_tables
                    .iter()
                    .find(|(id, _)| has_typed && *id == event_type)
                    .map(|&(_, table)| table);
                let slots = match typed {
                    Some(table) => Slots::Typed(table(description, handlers)),
                    None => Slots::Erased(states(description, handlers, Entry::erased)),
                };
                let wire_name = description.wire_name;
                (event_type, MediaSlots { wire_name, slots })
            })
            .collect();
        let unregistered = unregistered
            .iter()
            .map(|description| MediaSlots {
                wire_name: description.wire_name,
                slots: Slots::Erased(states(description, handlers, Entry::erased)),
            })
            .collect();
        let any = handlers
            .iter()
            .filter(|h| h.meta.topic.is_none())
            .map(Entry::erased)
            .collect();
        Table {
            media,
            unregistered,
            any,
            hook,
        }
    }

    #[inline(always)]
    fn media(&self, event_type: TypeId, wire_name: &str) -> Option<&MediaSlots> {
        match self.media.iter().find(|(id, _)| *id == event_type) {
            Some((_, media)) => Some(media),
            None => self.by_wire_name(wire_name),
        }
    }

    /// A media type the bus knows only by its description (from a `Topic`), or another
    /// Rust type registered under the same wire name.
    #[cold]
    #[inline(never)]
    fn by_wire_name(&self, wire_name: &str) -> Option<&MediaSlots> {
        let registered = self.media.iter().map(|(_, media)| media);
        registered
            .chain(&self.unregistered)
            .find(|media| media.wire_name == wire_name)
    }

    /// Runs every live handler for `event`, in subscription order.
    #[inline(always)]
    pub(crate) fn run<E: Event>(&self, emit: &Emit<'_>, state: usize, event: &E) {
        let media = self.media(TypeId::of::<E>(), E::MediaType::DESCRIPTION.wire_name);
        match media.map(|media| &media.slots) {
            Some(Slots::Typed(table)) => {
                // The one type check of the emit on this path (`table` is found by `E`'s
                // `TypeId`, so this holds unless another type shares the wire name).
                match (&**table as &dyn Any).downcast_ref::<TypedStates<E>>() {
                    Some(table) => table.run(emit, state, event),
                    None => table.run_any(emit, state, event),
                }
            }
            Some(Slots::Erased(states)) => run_erased(emit, states, state, event),
            None => self.run_on_any(emit, event),
        }
    }

    /// Runs every live handler for `event`, of a type not known statically.
    pub(crate) fn run_any(&self, emit: &Emit<'_>, event: &AnyEvent) {
        let state = event.state_index();
        let media = self.media(event.as_any().type_id(), event.media_type().wire_name);
        match media.map(|media| &media.slots) {
            Some(Slots::Typed(table)) => table.run_any(emit, state, event),
            Some(Slots::Erased(states)) => run_erased(emit, states, state, event),
            None => self.run_on_any(emit, event),
        }
    }

    /// An event of a media type without slots, or of a state its media type does not have.
    #[cold]
    fn run_on_any(&self, emit: &Emit<'_>, event: &AnyEvent) {
        walk(emit, &self.any, event, |callback| callback.call(event));
    }

    #[cold]
    #[inline(never)]
    fn report(&self, events: &Events, meta: &Meta, event: &AnyEvent, payload: Box<dyn Any + Send>) {
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(a panic payload that is not a string)");
        let report = HandlerPanic {
            subscription: Subscription {
                bus: events.id(),
                id: meta.id,
            },
            topic: meta.topic,
            event,
            message,
        };
        self.hook.report(&report);
    }
}

#[inline(always)]
fn run_erased(emit: &Emit<'_>, states: &States<ErasedHandler>, state: usize, event: &AnyEvent) {
    match states.get(state) {
        Some(slot) => walk(emit, slot, event, |callback| callback.call(event)),
        None => emit.table.run_on_any(emit, event),
    }
}

/// Calls the live handlers of `slot` in order, with `call`.
///
/// Which handlers are live: the table is the bus's state when the emit started, and every
/// removal (`off`, a `once` handler that ran) publishes a new generation after marking the
/// handler gone. So as long as the generation has not moved, every handler of the table is
/// live, and only then (a handler, or another thread, changed the bus meanwhile) are the
/// handlers' own marks read. A `once` handler is always claimed, so that exactly one emit
/// runs it.
#[inline(always)]
fn walk<C>(emit: &Emit<'_>, slot: &[Handler<C>], event: &AnyEvent, call: impl Fn(&C)) {
    let mut next = 0;
    while next < slot.len() {
        // One unwind guard for the whole walk, not one per handler; after a panic the walk
        // resumes with the handler after the one that panicked. The bus keeps no state a
        // panic could leave half-changed, hence `AssertUnwindSafe`.
        let walk = catch_unwind(AssertUnwindSafe(|| {
            while let Some(handler) = slot.get(next) {
                next += 1;
                if handler.once {
                    if !emit.events.fire_once(&handler.meta) {
                        continue;
                    }
                } else if next > 1 && emit.changed() && !handler.meta.is_live() {
                    continue;
                }
                call(&handler.call);
            }
        }));
        if let Err(payload) = walk {
            let meta = &slot[next - 1].meta;
            emit.table.report(emit.events, meta, event, payload);
        }
    }
}

/// What subscribing and unsubscribing change, behind the bus's one writer lock.
pub(crate) struct Writer {
    pub(crate) registry: Registry,
    /// Media types seen in subscriptions but not in `registry` (a `Topic` built from a
    /// declaration never registered).
    pub(crate) unregistered: Vec<&'static MediaTypeDescription>,
    /// How to build the typed table of each media type a typed subscription named.
    typed_tables: Vec<(TypeId, BuildTyped)>,
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
            typed_tables: Vec::new(),
            handlers: Vec::new(),
            next_id: 1,
            hook: hook.clone(),
            table: Arc::new(Table::build(&[], &[], &[], &[], hook)),
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

    /// Makes sure the media type of `E` gets a typed table while it has typed handlers.
    pub(crate) fn know_typed<E: Event>(&mut self) {
        let event_type = TypeId::of::<E>();
        if !self.typed_tables.iter().any(|(id, _)| *id == event_type) {
            self.typed_tables
                .push((event_type, TypedStates::<E>::build));
        }
    }

    pub(crate) fn build(&self) -> Table {
        let registered: Vec<_> = self
            .registry
            .iter()
            .map(|entry| (entry.event_type(), entry.description))
            .collect();
        let unregistered: Vec<_> = self
            .unregistered
            .iter()
            .copied()
            .filter(|d| self.registry.get(d.wire_name).is_none())
            .collect();
        Table::build(
            &registered,
            &unregistered,
            &self.typed_tables,
            &self.handlers,
            self.hook.clone(),
        )
    }
}
