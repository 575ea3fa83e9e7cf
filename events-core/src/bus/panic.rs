//! What happens when a handler panics: the other handlers still run, and the panic goes to
//! a hook the user can set.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::any::AnyEvent;
use crate::topic::Topic;

use super::Subscription;

/// A handler panicked while handling an event. Given to the hook set with
/// [`Events::set_panic_hook`](super::Events::set_panic_hook).
#[derive(Debug)]
#[non_exhaustive]
pub struct HandlerPanic<'a> {
    /// The handler that panicked.
    pub subscription: Subscription,
    /// The topic it was subscribed to; `None` for a handler of every media type
    /// ([`Events::on_any`](super::Events::on_any)).
    pub topic: Option<Topic>,
    /// The event it was handling.
    pub event: &'a AnyEvent,
    /// The panic's message, when the panic payload is a string (as `panic!` makes it).
    pub message: &'a str,
}

impl fmt::Display for HandlerPanic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "event handler {} ", self.subscription.id)?;
        if let Some(topic) = self.topic {
            write!(f, "on `{topic}` ")?;
        }
        write!(
            f,
            "panicked handling a `{}` event: {}",
            self.event.topic(),
            self.message
        )
    }
}

type HookFn = dyn Fn(&HandlerPanic<'_>) + Send + Sync;

#[derive(Clone)]
pub(crate) struct PanicHook(Option<Arc<HookFn>>);

impl PanicHook {
    pub(crate) fn new(hook: impl Fn(&HandlerPanic<'_>) + Send + Sync + 'static) -> Self {
        PanicHook(Some(Arc::new(hook)))
    }

    pub(crate) fn report(&self, report: &HandlerPanic<'_>) {
        let Some(hook) = &self.0 else {
            return log(report);
        };
        // A hook that panics must not take the emitting thread down with it either.
        if catch_unwind(AssertUnwindSafe(|| hook(report))).is_err() {
            log(report);
            tracing::error!("the panic hook itself panicked while reporting the above");
        }
    }
}

impl Default for PanicHook {
    /// Logs through `tracing`.
    fn default() -> Self {
        PanicHook(None)
    }
}

fn log(report: &HandlerPanic<'_>) {
    tracing::error!(
        subscription = report.subscription.id,
        topic = report.topic.map(tracing::field::display),
        event = %report.event.topic(),
        action_id = %report.event.action_id(),
        "{report}"
    );
}
