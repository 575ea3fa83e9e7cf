//! Emitting allocates nothing once subscriptions are set up, for typed and topic-string
//! subscriptions alike. Its own test binary: it installs a counting global allocator.
#![allow(unsafe_code)] // a `GlobalAlloc` impl is `unsafe` by definition

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::SAMPLE;
use webaction_events::{AnyEvent, ContentOffer, ContentOfferEvent, Events, WebChat, WebChatEvent};

/// Counts the allocations made on threads that ask for it, so the test harness's own
/// threads do not disturb the count.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = COUNTING.try_with(|counting| {
        if counting.get() {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
    });
}

// SAFETY: every method forwards to `System` unchanged; the counting touches only
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        System.alloc_zeroed(layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        System.realloc(ptr, layout, new_size)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get)
}

fn counter(calls: &Arc<AtomicUsize>) -> impl Fn(&AnyEvent) + Send + Sync + 'static {
    let calls = Arc::clone(calls);
    move |_| {
        calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(
        allocations(|| drop(std::hint::black_box(Box::new(1_u64)))),
        1
    );
}

#[test]
fn emitting_allocates_nothing_once_subscribed() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    events.on(WebChat::Offered, move |_: &WebChatEvent| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    let c = Arc::clone(&calls);
    events.on_all::<ContentOffer>(move |_: &ContentOfferEvent| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    events.on_topic("webchat:offered", counter(&calls)).unwrap();
    events
        .on_topic("contentoffer:all", counter(&calls))
        .unwrap();
    events.on_any(counter(&calls));

    let webchat: WebChatEvent = serde_json::from_str(SAMPLE).unwrap();
    let offer: ContentOfferEvent =
        serde_json::from_str(&SAMPLE.replace("\"webchat\"", "\"contentoffer\"")).unwrap();
    let boxed: Box<AnyEvent> = Box::new(webchat.clone());

    // The first emit of a thread on a bus makes that thread's slot for the bus's handler
    // table: part of setting up, like subscribing.
    events.emit(&webchat);
    let before = calls.load(Ordering::Relaxed);

    let during = allocations(|| {
        for _ in 0..1_000 {
            events.emit(&webchat); // typed, 3 handlers
            events.emit(&offer); // typed `all`, 3 handlers
            events.emit_any(&*boxed); // type-erased, 3 handlers
        }
    });
    assert_eq!(during, 0, "allocations while emitting");
    assert_eq!(
        calls.load(Ordering::Relaxed) - before,
        9_000,
        "every handler ran"
    );
}

#[test]
fn emitting_after_a_change_allocates_nothing_either() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let event: WebChatEvent = serde_json::from_str(SAMPLE).unwrap();
    events.on_topic("webchat:all", counter(&calls)).unwrap();
    events.emit(&event);

    // Subscribing allocates (a new handler table); the next emit picks the new table up
    // in place of the old one, without allocating.
    let subscription = events.on_topic("webchat:offered", counter(&calls)).unwrap();
    let during = allocations(|| events.emit(&event));
    assert_eq!(during, 0, "allocations in the first emit after subscribing");
    assert_eq!(calls.load(Ordering::Relaxed), 3);

    assert!(events.off(subscription));
    let during = allocations(|| events.emit(&event));
    assert_eq!(
        during, 0,
        "allocations in the first emit after unsubscribing"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 4);
}

#[test]
fn an_emitter_allocates_nothing_once_made() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    events.on(WebChat::Offered, move |_: &WebChatEvent| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    events.on_topic("webchat:all", counter(&calls)).unwrap();
    let webchat: WebChatEvent = serde_json::from_str(SAMPLE).unwrap();
    let mut emitter = events.emitter::<WebChatEvent>();
    let during = allocations(|| {
        for _ in 0..1_000 {
            emitter.emit(&webchat);
        }
    });
    assert_eq!(during, 0, "allocations while emitting");
    assert_eq!(calls.load(Ordering::Relaxed), 2_000, "every handler ran");
}
