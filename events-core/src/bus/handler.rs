//! One subscribed handler: its code, what it listens to, and whether it still runs.

use std::any::{Any, TypeId};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::media_type::Event;
use crate::topic::Topic;

/// The code of a handler that takes events of any media type (`on_topic`, `on_any`,
/// streams), and the erased form of a typed handler.
pub(crate) trait Callback: Send + Sync + 'static {
    fn call(&self, event: &AnyEvent);

    /// The bus is gone: no event will come again. Only streams care.
    fn close(&self) {}
}

/// `Fn(&AnyEvent)`, for topic strings and `on_any`.
pub(crate) struct Erased<F>(pub(crate) F);

impl<F: Fn(&AnyEvent) + Send + Sync + 'static> Callback for Erased<F> {
    #[inline]
    fn call(&self, event: &AnyEvent) {
        (self.0)(event);
    }
}

/// A typed handler's closure, as the handler tables of its media type call it.
pub(crate) type TypedFn<E> = Arc<dyn Fn(&E) + Send + Sync>;

/// A typed handler reached by an event that may not be its type: another Rust type
/// registered under the same wire name. Only such tables hold this form, never the table
/// of the handler's own media type, so the check below is off the usual path.
struct Downcasting<E>(TypedFn<E>);

impl<E: Event> Callback for Downcasting<E> {
    fn call(&self, event: &AnyEvent) {
        if let Some(event) = event.downcast_ref::<E>() {
            (self.0)(event);
        }
    }
}

/// A handler's code as the writer keeps it, to build the tables from.
#[derive(Clone)]
pub(crate) enum Code {
    Erased(Arc<dyn Callback>),
    Typed(Typed),
}

/// `Fn(&E)`, for `on(WebChat::Offered, ..)` and `on_all::<WebChat>(..)`, in the forms the
/// tables need: typed for its own media type's table, erased for any other.
#[derive(Clone)]
pub(crate) struct Typed {
    /// `TypeId::of::<E>()`: the media type whose table this handler makes typed.
    pub(crate) event_type: TypeId,
    /// A `TypedFn<E>`, taken back out by the typed table of `E` when it is built.
    closure: Arc<dyn Any + Send + Sync>,
    erased: Arc<dyn Callback>,
}

impl Code {
    pub(crate) fn typed<E: Event>(f: impl Fn(&E) + Send + Sync + 'static) -> Self {
        let f: TypedFn<E> = Arc::new(f);
        Code::Typed(Typed {
            event_type: TypeId::of::<E>(),
            erased: Arc::new(Downcasting(Arc::clone(&f))),
            closure: Arc::new(f),
        })
    }

    pub(crate) fn erased(callback: impl Callback) -> Self {
        Code::Erased(Arc::new(callback))
    }

    /// The form for a table of events of any type.
    fn erased_form(&self) -> Arc<dyn Callback> {
        match self {
            Code::Erased(callback) => Arc::clone(callback),
            Code::Typed(typed) => Arc::clone(&typed.erased),
        }
    }

    pub(crate) fn close(&self) {
        if let Code::Erased(callback) = self {
            callback.close();
        }
    }
}

/// How the typed table of `E` calls a handler: a closure of `E` without any check, or
/// the erased code of a topic or `on_any` handler (or a foreign typed one).
pub(crate) enum Call<E> {
    Typed(TypedFn<E>),
    Erased(Arc<dyn Callback>),
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
    /// `ON`, `ONCE`, or `GONE` once removed by `off` or run by its one emit. An emit reads
    /// it only for a `once` handler, or once the bus changed during that emit (see
    /// `table::walk`).
    state: AtomicU8,
}

impl Meta {
    #[inline]
    pub(crate) fn is_live(&self) -> bool {
        self.state.load(Ordering::Acquire) != GONE
    }

    /// Marks the handler removed (by `off`).
    pub(crate) fn retire(&self) {
        self.state.store(GONE, Ordering::Release);
    }

    /// For a `once` handler: true for the one emit that gets to run it.
    pub(crate) fn claim_once(&self) -> bool {
        self.state
            .compare_exchange(ONCE, GONE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// A subscribed handler as the writer keeps it, in subscription order.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) meta: Arc<Meta>,
    pub(crate) code: Code,
    once: bool,
}

impl Entry {
    pub(crate) fn new(id: u64, topic: Option<Topic>, once: bool, code: Code) -> Self {
        Entry {
            meta: Arc::new(Meta {
                id,
                topic,
                state: AtomicU8::new(if once { ONCE } else { ON }),
            }),
            code,
            once,
        }
    }

    /// Whether this handler listens to the state at `state` of `description`.
    pub(crate) fn listens_to(&self, description: &MediaTypeDescription, state: usize) -> bool {
        self.meta
            .topic
            .is_none_or(|topic| topic.matches(description, state))
    }

    /// Whether this handler listens to some state of `description`.
    pub(crate) fn listens_to_media_type(&self, description: &MediaTypeDescription) -> bool {
        (0..description.states.len()).any(|state| self.listens_to(description, state))
    }

    /// This handler in a table of events of any type.
    pub(crate) fn erased(&self) -> Handler<Arc<dyn Callback>> {
        self.slot(self.code.erased_form())
    }

    /// This handler in the typed table of `E`.
    pub(crate) fn typed<E: Event>(&self) -> Handler<Call<E>> {
        let call = match &self.code {
            Code::Typed(typed) => match typed.closure.downcast_ref::<TypedFn<E>>() {
                Some(f) => Call::Typed(Arc::clone(f)),
                None => Call::Erased(Arc::clone(&typed.erased)),
            },
            Code::Erased(callback) => Call::Erased(Arc::clone(callback)),
        };
        self.slot(call)
    }

    fn slot<C>(&self, call: C) -> Handler<C> {
        Handler {
            call,
            meta: Arc::clone(&self.meta),
            once: self.once,
        }
    }
}

/// A handler as a table's slot holds it: the code to call inline, and `once` next to it,
/// so an emit reads nothing else of a handler on its usual path.
pub(crate) struct Handler<C> {
    pub(crate) call: C,
    pub(crate) meta: Arc<Meta>,
    pub(crate) once: bool,
}
