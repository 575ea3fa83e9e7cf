//! An event stream of one media type, yielding its own event type, as `on` does.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::media_type::{Event, MediaType};
use crate::topic::Topic;

use super::{EventStream, Events, Lagged, Subscription};

/// The events of one media type's state (or of all its states) as an async stream of its
/// own event type `E`. Made by [`Events::stream_of`] and [`Events::stream_all`]; the same
/// buffer and drop-oldest [`Lagged`] policy as [`EventStream`], which it wraps.
pub struct TypedStream<E> {
    inner: EventStream,
    event: PhantomData<fn() -> E>,
}

impl Events {
    /// The events of `state`, typed, as an async stream holding at most `capacity` of
    /// them (see [`EventStream`] for the policy when the consumer falls behind).
    ///
    /// # Panics
    /// When `capacity` is 0.
    ///
    /// ```
    /// # async fn consume(events: events_core::Events) {
    /// use events_core::WebChat;
    /// let mut offers = events.stream_of(WebChat::Offered, 1024);
    /// while let Some(Ok(event)) = offers.recv().await {
    ///     println!("{} offered to {}", event.action_id, event.customer_id); // a WebChatEvent
    /// }
    /// # }
    /// ```
    pub fn stream_of<M: MediaType>(&self, state: M, capacity: usize) -> TypedStream<M::Event> {
        self.typed_stream(Topic::state(M::DESCRIPTION, state.index()), capacity)
    }

    /// The events of every state of `M`, typed; see [`stream_of`](Self::stream_of).
    pub fn stream_all<M: MediaType>(&self, capacity: usize) -> TypedStream<M::Event> {
        self.typed_stream(Topic::all(M::DESCRIPTION), capacity)
    }

    fn typed_stream<E: Event>(&self, topic: Topic, capacity: usize) -> TypedStream<E> {
        let inner = self
            .stream(topic, capacity)
            .expect("a topic made from a media type's own description is always known");
        TypedStream {
            inner,
            event: PhantomData,
        }
    }
}

impl<E: Event> TypedStream<E> {
    /// The next item, waiting for one; `None` once the bus is gone and the buffer empty.
    pub async fn recv(&mut self) -> Option<Result<E, Lagged>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// The next item if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Result<E, Lagged>> {
        loop {
            match self.inner.try_recv()? {
                Err(lagged) => return Some(Err(lagged)),
                Ok(event) => match event.downcast::<E>() {
                    Ok(event) => return Some(Ok(event)),
                    Err(_) => continue,
                },
            }
        }
    }

    /// Whether the bus is gone, so no event will come after the buffered ones.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// The subscription feeding this stream.
    pub fn subscription(&self) -> Subscription {
        self.inner.subscription()
    }
}

impl<E: Event> Stream for TypedStream<E> {
    type Item = Result<E, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(event))) => match event.downcast::<E>() {
                    Ok(event) => Poll::Ready(Some(Ok(event))),
                    // Another type declared under the same wire name shares the topic;
                    // its events are not this stream's.
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(lagged))) => Poll::Ready(Some(Err(lagged))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl<E> fmt::Debug for TypedStream<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TypedStream").field(&self.inner).finish()
    }
}
