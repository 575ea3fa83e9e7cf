//! `Events::stream`: events as an async stream, bounded, dropping the oldest events when the
//! consumer falls behind and telling it how many it missed.

mod common;

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use common::sample_with;
use futures_core::Stream;
use serde_json::json;
use webaction_events::{AnyEvent, Events, Lagged, TopicError, WebChat, WebChatEvent};

/// The `n`th event: `actionMapVersion` numbers them.
fn numbered(n: u32, state: WebChat) -> WebChatEvent {
    let mut event = sample_with("webchat", state.as_str());
    event["actionMapVersion"] = json!(n);
    serde_json::from_value(event).unwrap()
}

fn number(item: Option<Result<Box<AnyEvent>, Lagged>>) -> u32 {
    item.expect("an item")
        .expect("an event")
        .action_map_version()
}

fn lag(item: Option<Result<Box<AnyEvent>, Lagged>>) -> u64 {
    match item {
        Some(Err(Lagged { missed })) => missed,
        other => panic!("expected a lag report, got {other:?}"),
    }
}

#[test]
fn a_slow_consumer_loses_the_oldest_events_and_is_told_how_many() {
    let events = Events::new();
    let mut stream = events.stream("webchat:offered", 3).unwrap();
    for n in 1..=5 {
        events.emit(&numbered(n, WebChat::Offered));
    }
    assert_eq!(stream.len(), 3, "never more than the capacity");
    assert_eq!(lag(stream.try_recv()), 2);
    assert_eq!(number(stream.try_recv()), 3, "the oldest kept, first");
    assert_eq!(number(stream.try_recv()), 4);

    // Falling behind again is reported again, with the count since the last report.
    for n in 6..=9 {
        events.emit(&numbered(n, WebChat::Offered));
    }
    assert_eq!(lag(stream.try_recv()), 2);
    let rest: Vec<_> = std::iter::from_fn(|| stream.try_recv()).collect();
    let rest: Vec<_> = rest
        .into_iter()
        .map(|item| item.unwrap().action_map_version())
        .collect();
    assert_eq!(rest, [7, 8, 9]);
    assert!(stream.is_empty());
    assert!(!stream.is_closed());
    assert_eq!(
        Lagged { missed: 2 }.to_string(),
        "the event stream fell behind; 2 event(s) dropped"
    );
}

#[test]
fn a_stream_gets_only_its_topic() {
    let events = Events::new();
    let mut all = events.stream("webchat:all", 16).unwrap();
    let mut accepted = events.stream(WebChat::topic("accepted"), 16).unwrap();
    events.emit(&numbered(1, WebChat::Offered));
    events.emit(&numbered(2, WebChat::Accepted));
    assert_eq!(number(all.try_recv()), 1);
    assert_eq!(number(all.try_recv()), 2);
    assert_eq!(number(accepted.try_recv()), 2);
    assert!(accepted.try_recv().is_none());
}

#[test]
fn a_stream_of_an_unknown_topic_is_refused() {
    let events = Events::new();
    let error = events.stream("webchat:acepted", 1).unwrap_err();
    assert!(matches!(
        error,
        TopicError::UnknownState {
            suggestion: Some("accepted"),
            ..
        }
    ));
}

#[test]
#[should_panic(expected = "capacity of at least 1")]
fn a_stream_needs_room_for_one_event() {
    let _ = Events::new().stream("webchat:all", 0);
}

#[test]
fn dropping_the_stream_unsubscribes_it() {
    let events = Events::new();
    let stream = events.stream("webchat:all", 4).unwrap();
    assert_eq!(events.handler_count(), 1);
    drop(stream);
    assert_eq!(events.handler_count(), 0);
}

#[test]
fn the_stream_ends_after_its_buffered_events_when_the_bus_is_gone() {
    let events = Events::new();
    let mut stream = events.stream("webchat:all", 4).unwrap();
    events.emit(&numbered(1, WebChat::Offered));
    drop(events);
    assert!(stream.is_closed());
    assert_eq!(number(stream.try_recv()), 1);
    assert!(stream.try_recv().is_none());
    let waker = Waker::noop();
    let poll = Pin::new(&mut stream).poll_next(&mut Context::from_waker(waker));
    assert!(matches!(poll, Poll::Ready(None)));
}

struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn an_emit_wakes_the_waiting_consumer() {
    let events = Events::new();
    let mut stream = events.stream("webchat:offered", 2).unwrap();
    let counting = Arc::new(CountingWaker(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&counting));
    let mut cx = Context::from_waker(&waker);
    assert!(Pin::new(&mut stream).poll_next(&mut cx).is_pending());
    events.emit(&numbered(1, WebChat::Accepted));
    assert_eq!(counting.0.load(Ordering::SeqCst), 0, "not its topic");
    events.emit(&numbered(2, WebChat::Offered));
    assert_eq!(counting.0.load(Ordering::SeqCst), 1);
    match Pin::new(&mut stream).poll_next(&mut cx) {
        Poll::Ready(Some(Ok(event))) => assert_eq!(event.action_map_version(), 2),
        other => panic!("expected the event, got {other:?}"),
    }
}

#[tokio::test]
async fn an_async_consumer_receives_events_emitted_from_other_threads() {
    let events = Events::new();
    let mut stream = events.stream("webchat:all", 1024).unwrap();
    let emitter = {
        let events = events.clone();
        std::thread::spawn(move || {
            for n in 1..=100 {
                events.emit(&numbered(n, WebChat::Offered));
            }
            drop(events);
        })
    };
    let mut seen = Vec::new();
    while seen.len() < 100 {
        let event = stream
            .recv()
            .await
            .expect("open")
            .expect("no lag at this capacity");
        seen.push(event.action_map_version());
    }
    emitter.join().unwrap();
    assert_eq!(seen, (1..=100).collect::<Vec<_>>(), "in emit order");
    drop(events);
    assert!(stream.recv().await.is_none(), "ends once the bus is gone");
}

/// `stream_of` / `stream_all`: the media type's own event type, same drop-oldest policy.
#[test]
fn a_typed_stream_yields_the_media_types_own_events() {
    use webaction_events::{ContentOffer, ContentOfferEvent};

    let events = Events::new();
    let mut offered = events.stream_of(WebChat::Offered, 2);
    let mut webchat = events.stream_all::<WebChat>(8);
    let mut offers = events.stream_all::<ContentOffer>(8);
    for n in 1..=3 {
        events.emit(&numbered(n, WebChat::Offered));
    }
    events.emit(&numbered(4, WebChat::Accepted));
    let content: ContentOfferEvent =
        serde_json::from_value(sample_with("contentoffer", "offered")).unwrap();
    events.emit(&content);

    // A `WebChatEvent`, not a boxed `AnyEvent`; the oldest was dropped for the newer two.
    assert_eq!(offered.try_recv(), Some(Err(Lagged { missed: 1 })));
    let second: WebChatEvent = offered.try_recv().unwrap().unwrap();
    assert_eq!(second.action_map_version, 2);
    assert_eq!(offered.try_recv().unwrap().unwrap().action_map_version, 3);
    assert_eq!(
        offered.try_recv(),
        None,
        "accepted is not on webchat:offered"
    );

    let all: Vec<(u32, WebChat)> = std::iter::from_fn(|| webchat.try_recv())
        .map(|item| {
            item.map(|e| (e.action_map_version, e.action_state))
                .unwrap()
        })
        .collect();
    assert_eq!(
        all,
        [
            (1, WebChat::Offered),
            (2, WebChat::Offered),
            (3, WebChat::Offered),
            (4, WebChat::Accepted)
        ]
    );
    assert_eq!(offers.try_recv(), Some(Ok(content)));
    assert_eq!(offers.try_recv(), None);

    // The stream ends with the bus, and polls as a `Stream` of `WebChatEvent`s.
    events.emit(&numbered(5, WebChat::Offered));
    drop(events);
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    match Pin::new(&mut offered).poll_next(&mut cx) {
        Poll::Ready(Some(Ok(event))) => assert_eq!(event.action_map_version, 5),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        Pin::new(&mut offered).poll_next(&mut cx),
        Poll::Ready(None)
    ));
    assert!(offered.is_closed());
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}
