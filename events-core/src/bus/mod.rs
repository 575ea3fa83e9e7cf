//! The event bus: `on` / `once` / `off`, typed and by topic string, and `emit`.

mod emitter;
mod handler;
mod panic;
mod snapshot;
mod stream;
mod table;
mod typed_stream;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::thread::LocalKey;

use crate::any::AnyEvent;
use crate::media_type::{Event, MediaType};
use crate::registry::IntoTopic;
use crate::registry::Registry;
use crate::topic::{Topic, TopicError};

use crate::bus_local::TypedLocal;
use handler::{Code, Entry, Erased};
use snapshot::TypedCopy;
use table::{Emit, Run, Table, Writer};

pub use emitter::Emitter;
pub use panic::HandlerPanic;
pub use stream::{EventStream, Lagged};
pub use typed_stream::TypedStream;

/// The event bus: handlers subscribe to a media type's states, by type or by the JavaScript
/// SDK's topic strings, and every emitted event is handed to the handlers of its topic.
///
/// | JavaScript | Rust |
/// | --- | --- |
/// | `ac('on', 'webchat:offered', cb)` | [`on(WebChat::Offered, cb)`](Self::on) or [`on_topic("webchat:offered", cb)`](Self::on_topic) |
/// | `ac('on', 'webchat:all', cb)` | [`on_all::<WebChat>(cb)`](Self::on_all) or [`on_topic("webchat:all", cb)`](Self::on_topic) |
/// | `ac('once', topic, cb)` | [`once`](Self::once), [`once_all`](Self::once_all), [`once_topic`](Self::once_topic) |
/// | `ac('off', topic, cb)` | [`off(subscription)`](Self::off) |
/// | `ac('off', topic)` | [`off_topic(topic)`](Self::off_topic) |
///
/// `Events` is `Send + Sync`, and cloning it gives another handle to the same bus (like
/// an `Arc`); share it by reference, by clone, or in an `Arc`.
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
/// use events_core::{Events, WebChat, WebChatEvent};
///
/// let events = Events::new();
/// let offers = Arc::new(AtomicUsize::new(0));
/// let counter = Arc::clone(&offers);
/// let subscription = events.on(WebChat::Offered, move |event: &WebChatEvent| {
///     assert_eq!(event.action_state, WebChat::Offered);
///     counter.fetch_add(1, Ordering::Relaxed);
/// });
/// # let json = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered","actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
/// # use events_core::Event;
/// let event = WebChatEvent::from_json_slice(json)??;
/// events.emit(&event);
/// assert!(events.off(subscription));
/// events.emit(&event);
/// assert_eq!(offers.load(Ordering::Relaxed), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Semantics
///
/// - **Order and thread.** An emit calls the handlers of the event's topic on the emitting
///   thread, before it returns, in the order they were subscribed — whatever the method
///   used: a state's own handlers, its media type's `all` handlers and the `on_any`
///   handlers are interleaved by subscription time. Emits from several threads run
///   concurrently; a handler must be `Send + Sync`.
/// - **Subscribing or unsubscribing during an emit** (from a handler, itself included, or
///   from another thread) never deadlocks. As in Node's `EventEmitter`, the set of
///   handlers is fixed when the emit starts: a handler added while it runs is first called
///   by the next emit. Unlike Node, a handler removed while it runs (by [`off`](Self::off)
///   or [`off_topic`](Self::off_topic)) is not called by it any more if it had not been
///   yet: once `off` returns on a thread, that thread calls the handler no more. (Another
///   thread's emit that had already started the call finishes it.)
/// - **`once`** handlers run at most once, even when several threads emit at the same
///   moment: the first emit to reach the handler removes it and runs it; the others skip it.
/// - **Panics.** A handler that panics does not stop the handlers after it, nor the
///   emitting thread, nor the bus. The panic is given to the hook set with
///   [`set_panic_hook`](Self::set_panic_hook), by default logged through
///   `tracing::error!`. (Rust's own panic hook still prints the panic to stderr first,
///   as for any caught panic.)
/// - **Handles.** Each subscription returns a [`Subscription`]; dropping it does not
///   unsubscribe (as in JavaScript, a subscription lives until `off`). For a handler that
///   should go with a scope, use [`Subscription::guard`].
/// - **Cost.** Emitting takes no lock, no atomic read-modify-write (but for a `once`
///   handler) and allocates nothing: each change (subscribe, unsubscribe, a `once` handler
///   that ran) publishes a new handler table, and each thread keeps a copy (one `Arc`) of
///   the table it last used, checked against the bus's generation with a plain load. The
///   first emit of a thread after a change takes the writer lock briefly to pick the new
///   table up; the first emit of a thread on a bus also allocates that thread's place for
///   it. A thread keeps its copy, and so the closures of handlers removed meanwhile, until
///   its next emit on that bus or another one, or until it exits (removed handlers are
///   never *called* again); [`emit`](Self::emit) keeps one per event type, until the
///   thread's next `emit` of that type. [`emit`](Self::emit) checks no type at all: a media type with
///   typed subscriptions has a handler table typed by its event struct, and each event
///   type declared with `media_type!` has its own thread-local of copies, which hold the
///   way to that type's handlers. For a loop emitting many events of one type, an
///   [`Emitter`] holds its copy itself and skips the thread-local too.
#[derive(Clone)]
pub struct Events {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    /// Unique among buses for the life of the process; tells apart the thread-local copies
    /// and the subscriptions of different buses.
    id: u64,
    /// Bumped, under the writer lock, each time `table` is replaced.
    generation: AtomicU64,
    writer: Mutex<Writer>,
}

impl Shared {
    #[inline]
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // No user code runs under this lock, so a poisoned lock holds consistent data.
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for entry in &writer.handlers {
            entry.code.close();
        }
    }
}

static NEXT_BUS: AtomicU64 = AtomicU64::new(1);

impl Events {
    /// A bus that knows every media type declared in the program ([`Registry::all`]):
    /// the built-in `webchat` and `contentoffer` and the user's own, with no registration
    /// call.
    pub fn new() -> Self {
        Events::with_registry(Registry::all())
    }

    /// A bus whose topic strings name the media types of `registry`. Typed subscriptions
    /// ([`on`](Self::on), [`on_all`](Self::on_all), ...) add their media type to it.
    pub fn with_registry(registry: Registry) -> Self {
        Events {
            shared: Arc::new(Shared {
                id: NEXT_BUS.fetch_add(1, Ordering::Relaxed),
                generation: AtomicU64::new(1),
                writer: Mutex::new(Writer::new(registry)),
            }),
        }
    }

    /// The media types topic strings may name.
    pub fn registry(&self) -> Registry {
        self.shared.lock().registry.clone()
    }

    /// Lets topic strings name media type `M`.
    pub fn register<M: MediaType>(&self) {
        self.change(|writer| {
            writer.registry.register::<M>();
        });
    }

    fn id(&self) -> u64 {
        self.shared.id
    }

    // --- typed ------------------------------------------------------------------------

    /// Calls `handler` with every event of media type `M` in `state`:
    /// `ac('on', 'webchat:offered', cb)` is `events.on(WebChat::Offered, cb)`.
    pub fn on<M: MediaType>(
        &self,
        state: M,
        handler: impl Fn(&M::Event) + Send + Sync + 'static,
    ) -> Subscription {
        self.subscribe_typed::<M>(Some(state), false, Code::typed(handler))
    }

    /// Like [`on`](Self::on), for the first such event only.
    pub fn once<M: MediaType>(
        &self,
        state: M,
        handler: impl Fn(&M::Event) + Send + Sync + 'static,
    ) -> Subscription {
        self.subscribe_typed::<M>(Some(state), true, Code::typed(handler))
    }

    /// Calls `handler` with every event of media type `M`, whatever its state:
    /// `ac('on', 'webchat:all', cb)` is `events.on_all::<WebChat>(cb)`.
    pub fn on_all<M: MediaType>(
        &self,
        handler: impl Fn(&M::Event) + Send + Sync + 'static,
    ) -> Subscription {
        self.subscribe_typed::<M>(None, false, Code::typed(handler))
    }

    /// Like [`on_all`](Self::on_all), for the first such event only.
    pub fn once_all<M: MediaType>(
        &self,
        handler: impl Fn(&M::Event) + Send + Sync + 'static,
    ) -> Subscription {
        self.subscribe_typed::<M>(None, true, Code::typed(handler))
    }

    fn subscribe_typed<M: MediaType>(
        &self,
        state: Option<M>,
        once: bool,
        code: Code,
    ) -> Subscription {
        let topic = state.map_or_else(|| Topic::all(M::DESCRIPTION), M::topic_of);
        self.subscribe(Some(topic), once, code, |writer| {
            writer.know_typed::<M::Event>();
            if writer.registry.get(M::DESCRIPTION.wire_name).is_none() {
                writer.registry.register::<M>();
            }
        })
    }

    // --- every media type -------------------------------------------------------------

    /// Calls `handler` with every event, of every media type, in every state.
    pub fn on_any(&self, handler: impl Fn(&AnyEvent) + Send + Sync + 'static) -> Subscription {
        self.subscribe(None, false, Code::erased(Erased(handler)), |_| {})
    }

    /// Like [`on_any`](Self::on_any), for the first event only.
    pub fn once_any(&self, handler: impl Fn(&AnyEvent) + Send + Sync + 'static) -> Subscription {
        self.subscribe(None, true, Code::erased(Erased(handler)), |_| {})
    }

    // --- topic strings ----------------------------------------------------------------

    /// Calls `handler` with every event on `topic`: `"<mediaType>:<state>"`,
    /// `"<mediaType>:all"`, or a [`Topic`]. A string is checked now, against the bus's
    /// [`registry`](Self::registry): an unknown media type or state is an error naming
    /// which, with the closest valid spelling.
    ///
    /// ```
    /// use events_core::{Events, TopicError};
    /// let events = Events::new();
    /// events.on_topic("webchat:offered", |event| println!("{}", event.action_id()))?;
    /// let error = events.on_topic("webchat:offred", |_| {}).unwrap_err();
    /// assert!(matches!(error, TopicError::UnknownState { suggestion: Some("offered"), .. }));
    /// # Ok::<(), TopicError>(())
    /// ```
    pub fn on_topic(
        &self,
        topic: impl IntoTopic,
        handler: impl Fn(&AnyEvent) + Send + Sync + 'static,
    ) -> Result<Subscription, TopicError> {
        self.subscribe_topic(topic, false, Code::erased(Erased(handler)))
    }

    /// Like [`on_topic`](Self::on_topic), for the first such event only.
    pub fn once_topic(
        &self,
        topic: impl IntoTopic,
        handler: impl Fn(&AnyEvent) + Send + Sync + 'static,
    ) -> Result<Subscription, TopicError> {
        self.subscribe_topic(topic, true, Code::erased(Erased(handler)))
    }

    fn subscribe_topic(
        &self,
        topic: impl IntoTopic,
        once: bool,
        code: Code,
    ) -> Result<Subscription, TopicError> {
        let topic = self.resolve(topic)?;
        Ok(self.subscribe(Some(topic), once, code, |_| {}))
    }

    fn resolve(&self, topic: impl IntoTopic) -> Result<Topic, TopicError> {
        topic.into_topic(&self.shared.lock().registry)
    }

    // --- off --------------------------------------------------------------------------

    /// Removes exactly the handler `subscription` was returned for:
    /// `ac('off', topic, cb)`. Returns whether it was still subscribed (false after an
    /// earlier `off`, after a `once` handler ran, or for another bus's subscription).
    pub fn off(&self, subscription: Subscription) -> bool {
        subscription.bus == self.id() && self.remove(|meta| meta.id == subscription.id) == 1
    }

    /// Removes every handler subscribed to exactly `topic`, typed or by string:
    /// `ac('off', 'webchat:all')`. `"webchat:all"` removes the `all` handlers of `webchat`
    /// (those of [`on_all`](Self::on_all) and `on_topic("webchat:all")`), not those of
    /// single states, nor those of [`on_any`](Self::on_any). Returns how many were removed.
    pub fn off_topic(&self, topic: impl IntoTopic) -> Result<usize, TopicError> {
        let topic = self.resolve(topic)?;
        Ok(self.remove(|meta| meta.topic == Some(topic)))
    }

    /// How many handlers are subscribed, counting each once (Node's `listenerCount`).
    pub fn handler_count(&self) -> usize {
        self.shared.lock().handlers.len()
    }

    // --- panics -----------------------------------------------------------------------

    /// Sets what happens when a handler panics, instead of logging it through `tracing`.
    /// The hook runs on the emitting thread, right after the panic, before the next
    /// handler; a panic in the hook itself is caught and logged.
    pub fn set_panic_hook(&self, hook: impl Fn(&HandlerPanic<'_>) + Send + Sync + 'static) {
        let hook = panic::PanicHook::new(hook);
        self.change(|writer| writer.hook = hook);
    }

    // --- emit -------------------------------------------------------------------------

    /// Hands `event` to every handler of its topic, in subscription order, on this thread.
    #[inline]
    pub fn emit<E: Event>(&self, event: &E) {
        let state = event.state().index();
        let Some(key) = E::__bus_local() else {
            return self.dispatch(table::EmitTyped { state, event });
        };
        let shared = &*self.shared;
        let generation = shared.generation();
        let ran = snapshot::with_current(key, shared, generation, |copy: &TypedCopy<E>| {
            let emit = self.emit_of(&copy.table, generation);
            copy.table.run_routed(&copy.route, &emit, state, event);
        });
        if ran.is_none() {
            self.emit_refreshed(key, state, event);
        }
    }

    /// [`emit`](Self::emit)'s first emit of `E` on a thread, or the first after a change:
    /// takes the current table under the lock, finds `E`'s handlers in it, keeps both for
    /// this thread's next emits of `E`, and runs them.
    #[cold]
    #[inline(never)]
    fn emit_refreshed<E: Event>(
        &self,
        key: &'static LocalKey<TypedLocal<E>>,
        state: usize,
        event: &E,
    ) {
        let (generation, copy) = self.typed_copy::<E>();
        let TypedCopy { table, route } = &copy;
        let kept = TypedCopy {
            table: Arc::clone(table),
            route: route.clone(),
        };
        snapshot::store(key, &self.shared, generation, kept);
        table.run_routed(route, &self.emit_of(table, generation), state, event);
    }

    /// Hands an event of any media type to every handler of its topic. Typed handlers of
    /// its media type get it as their event type.
    #[inline]
    pub fn emit_any(&self, event: &AnyEvent) {
        self.dispatch(table::EmitAny(event));
    }

    /// Runs `run` on this thread's copy of the handler table, refreshed first if the bus
    /// changed since this thread last used it.
    #[inline]
    fn dispatch(&self, run: impl Run) {
        let shared = &*self.shared;
        let generation = shared.generation();
        let ran = snapshot::with_current(&snapshot::ANY, shared, generation, |table| {
            run.run(&self.emit_of(table, generation));
        });
        if ran.is_none() {
            self.dispatch_refreshed(&run);
        }
    }

    /// The first emit on a thread, or the first after a change: takes the current table
    /// under the lock, keeps a copy for this thread's next emits, and runs it.
    #[cold]
    #[inline(never)]
    fn dispatch_refreshed(&self, run: &dyn Run) {
        let (generation, table) = self.current();
        snapshot::store(&snapshot::ANY, &self.shared, generation, Arc::clone(&table));
        run.run(&self.emit_of(&table, generation));
    }

    /// The bus's table and its generation, read together under the writer lock.
    fn current(&self) -> (u64, Arc<Table>) {
        let writer = self.shared.lock();
        (self.shared.generation(), Arc::clone(&writer.table))
    }

    #[inline(always)]
    fn emit_of<'a>(&'a self, table: &'a Table, generation: u64) -> Emit<'a> {
        Emit {
            events: self,
            shared: &self.shared,
            table,
            generation,
        }
    }

    // --- changes ----------------------------------------------------------------------

    fn subscribe(
        &self,
        topic: Option<Topic>,
        once: bool,
        code: Code,
        prepare: impl FnOnce(&mut Writer),
    ) -> Subscription {
        let mut id = 0;
        self.change(|writer| {
            prepare(writer);
            if let Some(topic) = topic {
                writer.know(topic.media_type());
            }
            id = writer.next_id;
            writer.next_id += 1;
            writer.handlers.push(Entry::new(id, topic, once, code));
        });
        Subscription { bus: self.id(), id }
    }

    /// Removes the handlers `which` selects; returns how many.
    fn remove(&self, which: impl Fn(&handler::Meta) -> bool) -> usize {
        let mut removed = Vec::new();
        self.change(|writer| {
            writer.handlers.retain(|entry| {
                if which(&entry.meta) {
                    entry.meta.retire();
                    removed.push(entry.clone());
                    false
                } else {
                    true
                }
            });
        });
        // Dropped here, after the lock: a closure's destructor may use the bus.
        removed.len()
    }

    /// A `once` handler reached by an emit: true for the one emit that gets to run it.
    #[cold]
    pub(crate) fn fire_once(&self, meta: &handler::Meta) -> bool {
        if !meta.claim_once() {
            return false;
        }
        let id = meta.id;
        self.remove(|meta| meta.id == id);
        true
    }

    /// Applies `change` under the writer lock and publishes the new table.
    fn change(&self, change: impl FnOnce(&mut Writer)) {
        let old = {
            let mut writer = self.shared.lock();
            change(&mut writer);
            let table = Arc::new(writer.build());
            let old = std::mem::replace(&mut writer.table, table);
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
            old
        };
        // The old table may hold the last reference to a removed handler's closure, whose
        // destructor is user code: run it without the lock.
        drop(old);
    }
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let writer = self.shared.lock();
        f.debug_struct("Events")
            .field("id", &self.shared.id)
            .field("registry", &writer.registry)
            .field("handlers", &writer.handlers.len())
            .finish()
    }
}

/// The handle of one subscribed handler, for [`Events::off`]. Dropping it does not
/// unsubscribe; [`guard`](Self::guard) makes a handle that does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subscription {
    bus: u64,
    id: u64,
}

impl Subscription {
    /// A handle that unsubscribes the handler when dropped. It does not keep the bus alive.
    ///
    /// ```
    /// use events_core::{Events, WebChat};
    /// let events = Events::new();
    /// {
    ///     let _guard = events.on(WebChat::Offered, |_| {}).guard(&events);
    ///     assert_eq!(events.handler_count(), 1);
    /// }
    /// assert_eq!(events.handler_count(), 0);
    /// ```
    pub fn guard(self, events: &Events) -> SubscriptionGuard {
        SubscriptionGuard {
            events: Arc::downgrade(&events.shared),
            subscription: Some(self),
        }
    }

    /// The subscription's number, unique in its bus and increasing in subscription order.
    pub fn id(&self) -> u64 {
        self.id
    }
}

/// Unsubscribes its handler when dropped. Made by [`Subscription::guard`].
#[derive(Debug)]
#[must_use = "dropping the guard unsubscribes the handler at once"]
pub struct SubscriptionGuard {
    events: Weak<Shared>,
    subscription: Option<Subscription>,
}

impl SubscriptionGuard {
    /// The guarded subscription.
    pub fn subscription(&self) -> Subscription {
        self.subscription.expect("set until drop or release")
    }

    /// Gives up the guard without unsubscribing.
    pub fn release(mut self) -> Subscription {
        self.subscription.take().expect("set until drop or release")
    }
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        if let (Some(subscription), Some(shared)) = (self.subscription, self.events.upgrade()) {
            Events { shared }.off(subscription);
        }
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").field("id", &self.id).finish()
    }
}
