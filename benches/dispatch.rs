//! Nanoseconds per emitted event: this bus against a hand-written dispatch (`floor`), a
//! literal port of the JavaScript API (`naive_string_map`) and `tokio::sync::broadcast`.
//!
//! Every handler adds 1 to a shared atomic counter, so each variant does the same useful
//! work. Run: `cargo bench --bench dispatch -- --warm-up-time 1 --measurement-time 3`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use webaction_events::{AnyEvent, Event, Events, WebChat, WebChatEvent};

#[path = "../tests/common/mod.rs"]
mod common;

type Handler = Box<dyn Fn(&WebChatEvent) + Send + Sync>;

/// The hand-written ideal: one handler list per state, indexed by the state's discriminant.
struct Floor {
    slots: [Vec<Handler>; WebChat::ALL.len()],
}

impl Floor {
    fn new(handlers: usize, counter: &Arc<AtomicU64>) -> Self {
        let mut slots: [Vec<Handler>; WebChat::ALL.len()] = Default::default();
        for _ in 0..handlers {
            let counter = Arc::clone(counter);
            slots[WebChat::Offered.index()].push(Box::new(move |_| {
                counter.fetch_add(1, Ordering::Relaxed);
            }));
        }
        Floor { slots }
    }

    #[inline]
    fn emit(&self, event: &WebChatEvent) {
        for handler in &self.slots[event.state().index()] {
            handler(event);
        }
    }
}

fn sample() -> WebChatEvent {
    WebChatEvent::from_json_slice(common::SAMPLE.as_bytes())
        .unwrap()
        .unwrap()
}

fn dispatch(c: &mut Criterion) {
    let event = sample();
    let counter = Arc::new(AtomicU64::new(0));
    let mut group = c.benchmark_group("dispatch");

    let floor = Floor::new(1, &counter);
    group.bench_function("floor", |b| b.iter(|| floor.emit(black_box(&event))));

    let events = Events::new();
    let c1 = Arc::clone(&counter);
    events.on(WebChat::Offered, move |_| {
        c1.fetch_add(1, Ordering::Relaxed);
    });
    group.bench_function("typed_on", |b| b.iter(|| events.emit(black_box(&event))));
    // The same bus and handler through an `Emitter`, which holds its copy of the table.
    let mut emitter = events.emitter::<WebChatEvent>();
    group.bench_function("typed_emitter", |b| {
        b.iter(|| emitter.emit(black_box(&event)))
    });

    let events = Events::new();
    let c1 = Arc::clone(&counter);
    events
        .on_topic("webchat:offered", move |_: &AnyEvent| {
            c1.fetch_add(1, Ordering::Relaxed);
        })
        .unwrap();
    group.bench_function("topic_on", |b| b.iter(|| events.emit(black_box(&event))));

    let events = Events::new();
    for _ in 0..16 {
        let c1 = Arc::clone(&counter);
        events.on(WebChat::Offered, move |_| {
            c1.fetch_add(1, Ordering::Relaxed);
        });
    }
    group.bench_function("typed_on_16", |b| b.iter(|| events.emit(black_box(&event))));
    let mut emitter = events.emitter::<WebChatEvent>();
    group.bench_function("typed_emitter_16", |b| {
        b.iter(|| emitter.emit(black_box(&event)))
    });

    let floor = Floor::new(16, &counter);
    group.bench_function("floor_16", |b| b.iter(|| floor.emit(black_box(&event))));

    // What a literal port of `ac('on', 'webchat:offered', cb)` does: a map keyed by the
    // topic string, built for every event.
    let mut naive: HashMap<String, Vec<Handler>> = HashMap::new();
    let c1 = Arc::clone(&counter);
    naive
        .entry("webchat:offered".to_owned())
        .or_default()
        .push(Box::new(move |_| {
            c1.fetch_add(1, Ordering::Relaxed);
        }));
    group.bench_function("naive_string_map", |b| {
        b.iter(|| {
            let event = black_box(&event);
            let topic = format!("{}:{}", WebChat::WIRE_NAME, event.state().as_str());
            if let Some(handlers) = naive.get(&topic) {
                for handler in handlers {
                    handler(event);
                }
            }
        })
    });

    // Sixteen subscribers of a broadcast channel, each receiving the event and counting it.
    let (sender, _) = tokio::sync::broadcast::channel::<Arc<WebChatEvent>>(64);
    let mut receivers: Vec<_> = (0..16).map(|_| sender.subscribe()).collect();
    let shared = Arc::new(sample());
    group.bench_function("tokio_broadcast_16", |b| {
        b.iter(|| {
            sender.send(Arc::clone(black_box(&shared))).unwrap();
            for receiver in &mut receivers {
                let event = receiver.try_recv().unwrap();
                black_box(&event);
                counter.fetch_add(1, Ordering::Relaxed);
            }
        })
    });

    group.finish();
    black_box(counter.load(Ordering::Relaxed));
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
