//! Events as an async stream, for consumers that wait instead of being called.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll, Waker};

use futures_core::Stream;

use crate::any::AnyEvent;
use crate::registry::IntoTopic;
use crate::topic::TopicError;

use super::handler::{Callback, Code};
use super::{Events, Shared, Subscription};

/// The stream fell behind: this many events, the oldest ones, were dropped to make room
/// for newer ones. The stream goes on with the oldest event it still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the event stream fell behind; {missed} event(s) dropped")]
pub struct Lagged {
    /// How many events were dropped since the stream last reported it.
    pub missed: u64,
}

/// The events of one topic, as a
/// [`Stream`](https://docs.rs/futures-core/0.3/futures_core/stream/trait.Stream.html). Made by
/// [`Events::stream`].
///
/// It buffers at most `capacity` events. When an emit finds the buffer full, the oldest
/// buffered event is dropped — the emitting thread never waits for the consumer — and the
/// consumer's next item is `Err(Lagged { missed })` with the number dropped since the
/// last such report, followed by the buffered events, oldest first. This is the policy of
/// `tokio::sync::broadcast`.
///
/// The stream ends (yields `None`) when every handle of the bus is dropped, after the
/// buffered events. Dropping the stream unsubscribes it.
pub struct EventStream {
    buffer: Arc<Buffer>,
    bus: Weak<Shared>,
    subscription: Subscription,
}

struct Buffer {
    capacity: usize,
    state: Mutex<BufferState>,
}

struct BufferState {
    events: VecDeque<Box<AnyEvent>>,
    missed: u64,
    closed: bool,
    waker: Option<Waker>,
}

impl Buffer {
    fn lock(&self) -> MutexGuard<'_, BufferState> {
        // Nothing below panics while holding the lock; recover the data anyway.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The stream's handler on the bus.
struct Feed(Arc<Buffer>);

impl Callback for Feed {
    fn call(&self, event: &AnyEvent) {
        // Cloned before taking the lock, so the consumer never waits on an allocation.
        let event = event.clone_box();
        let waker = {
            let mut state = self.0.lock();
            if state.closed {
                return;
            }
            if state.events.len() == self.0.capacity {
                state.events.pop_front();
                state.missed += 1;
            }
            state.events.push_back(event);
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn close(&self) {
        let waker = {
            let mut state = self.0.lock();
            state.closed = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Events {
    /// The events on `topic` as an async stream holding at most `capacity` of them; see
    /// [`EventStream`] for what happens when the consumer is slower than the emitters.
    ///
    /// # Panics
    /// When `capacity` is 0.
    ///
    /// ```
    /// # async fn consume(events: events_core::Events) -> Result<(), events_core::TopicError> {
    /// let mut stream = events.stream("webchat:all", 1024)?;
    /// while let Some(item) = stream.recv().await {
    ///     match item {
    ///         Ok(event) => println!("{}", event.topic()),
    ///         Err(lagged) => eprintln!("{lagged}"),
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn stream(
        &self,
        topic: impl IntoTopic,
        capacity: usize,
    ) -> Result<EventStream, TopicError> {
        assert!(
            capacity > 0,
            "an event stream needs a capacity of at least 1"
        );
        let topic = self.resolve(topic)?;
        let buffer = Arc::new(Buffer {
            capacity,
            state: Mutex::new(BufferState {
                events: VecDeque::with_capacity(capacity),
                missed: 0,
                closed: false,
                waker: None,
            }),
        });
        let subscription = self.subscribe(
            Some(topic),
            false,
            Code::erased(Feed(Arc::clone(&buffer))),
            |_| {},
        );
        Ok(EventStream {
            buffer,
            bus: Arc::downgrade(&self.shared),
            subscription,
        })
    }
}

impl EventStream {
    /// The next item, waiting for one; `None` once the bus is gone and the buffer empty.
    pub async fn recv(&mut self) -> Option<Result<Box<AnyEvent>, Lagged>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next item if one is ready, without waiting. `None` when none is buffered (use
    /// [`is_closed`](Self::is_closed) to tell an idle stream from an ended one).
    pub fn try_recv(&mut self) -> Option<Result<Box<AnyEvent>, Lagged>> {
        self.next_ready(&mut self.buffer.lock())
    }

    /// Whether the bus is gone, so no event will come after the buffered ones.
    pub fn is_closed(&self) -> bool {
        self.buffer.lock().closed
    }

    /// How many events are buffered.
    pub fn len(&self) -> usize {
        self.buffer.lock().events.len()
    }

    /// Whether no event is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The subscription feeding this stream.
    pub fn subscription(&self) -> Subscription {
        self.subscription
    }

    fn next_ready(&self, state: &mut BufferState) -> Option<Result<Box<AnyEvent>, Lagged>> {
        if state.missed > 0 {
            let missed = std::mem::take(&mut state.missed);
            return Some(Err(Lagged { missed }));
        }
        state.events.pop_front().map(Ok)
    }
}

impl Stream for EventStream {
    type Item = Result<Box<AnyEvent>, Lagged>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut state = self.buffer.lock();
        if let Some(item) = self.next_ready(&mut state) {
            return Poll::Ready(Some(item));
        }
        if state.closed {
            return Poll::Ready(None);
        }
        match &mut state.waker {
            Some(waker) => waker.clone_from(cx.waker()),
            None => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.buffer.lock().closed = true;
        if let Some(shared) = self.bus.upgrade() {
            Events { shared }.off(self.subscription);
        }
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.buffer.lock();
        f.debug_struct("EventStream")
            .field("subscription", &self.subscription)
            .field("capacity", &self.buffer.capacity)
            .field("buffered", &state.events.len())
            .field("missed", &state.missed)
            .field("closed", &state.closed)
            .finish()
    }
}
