//! Ingest speed, ns per event (criterion group `ingest`):
//!
//! - `serde_typed_floor`: `serde_json::from_slice` into a plain struct with `Uuid` fields,
//!   the parse alone, on the same lines;
//! - `ingest`: the whole path (decode through the registry, track, emit on the bus to one
//!   handler);
//! - `tracker_1m`: tracking alone, with one million live actions.
//!
//! The lines are a `webaction simulate` stream: both built-in media types, interleaved
//! lifecycles. Run: `cargo bench --bench ingest -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::simulate::{simulate, Simulation};
use webaction_events::ingest::{IdleTimeout, Ingest, Tracker};
use webaction_events::{
    AnyEvent, ContentOffer, Events, MediaTypeDescription, Registry, Uuid, WebChat,
};

#[path = "support/floor.rs"]
mod floor;
use floor::Floor;

fn lines() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let simulation = Simulation {
        actions: 20_000,
        seed: 42,
        invalid_rate: 0.0,
    };
    simulate(&Registry::builtin(), &simulation, &mut out).unwrap();
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

fn bench_ingest(c: &mut Criterion) {
    let lines = lines();
    let mean = lines.iter().map(Vec::len).sum::<usize>() / lines.len();
    eprintln!("{} lines, {mean} bytes on average", lines.len());
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1));

    group.bench_function("serde_typed_floor", |b| {
        let mut i = 0;
        b.iter(|| {
            let floor: Floor = serde_json::from_slice(&lines[i]).unwrap();
            i = (i + 1) % lines.len();
            black_box(floor)
        })
    });

    group.bench_function("ingest", |b| {
        // One handler on the bus, for every event.
        let events = Events::new();
        let handled = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&handled);
        events.on_any(move |event: &AnyEvent| {
            counter.fetch_add(
                u64::from(black_box(event).action_map_version()),
                Ordering::Relaxed,
            );
        });
        let mut ingest = Ingest::builder(Registry::builtin())
            .idle_timeout(Some(IdleTimeout::Time(Duration::from_secs(1800))))
            .build(&events);
        b.iter_custom(|iters| {
            // The stream is finite: each pass starts from a forgotten state, outside the
            // timed part, so every event is judged as in a real stream.
            let mut elapsed = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                ingest.reset_tracker();
                let pass = left.min(lines.len());
                let start = Instant::now();
                for line in &lines[..pass] {
                    let _ = black_box(ingest.ingest(line));
                }
                elapsed += start.elapsed();
                left -= pass;
            }
            elapsed
        });
        let stats = ingest.stats();
        assert!(handled.load(Ordering::Relaxed) >= stats.valid);
        assert_eq!(stats.valid, stats.events - stats.rejected);
        assert!(
            stats.rejected * 100 <= stats.events,
            "passes restart cleanly"
        );
    });

    let mut live = LiveActions::new(1_000_000);
    let mut tracker = Tracker::new(&Registry::builtin());
    live.fill(&mut tracker);
    group.bench_function("tracker_1m", |b| {
        let mut chunk = Vec::with_capacity(1 << 17);
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                // An ending step brings the next action's first event: a chunk may hold
                // one event more than asked, which is tracked too (never skipped).
                live.next_events(left.min(1 << 16), &mut chunk);
                let start = Instant::now();
                for &(media, id, state) in &chunk {
                    let _ = black_box(tracker.track_state(media, id, state, 0));
                }
                elapsed += start.elapsed();
                left = left.saturating_sub(chunk.len());
            }
            elapsed
        });
    });
    eprintln!(
        "tracker_1m: {} live actions, {} bytes, {:.1} bytes per live action, {:?}",
        tracker.len(),
        tracker.memory_bytes(),
        tracker.memory_bytes() as f64 / tracker.len() as f64,
        tracker.stats(),
    );
    group.finish();
}

/// One million actions in progress, each advanced by a random declared step; an action
/// that ends is replaced at once by a new one (its initial event follows), so a million
/// stay live.
struct LiveActions {
    slots: Vec<(usize, Uuid, Option<usize>)>,
    media: [&'static MediaTypeDescription; 2],
    rng: u64,
    next_id: u128,
}

impl LiveActions {
    fn new(n: usize) -> Self {
        let mut live = LiveActions {
            slots: Vec::with_capacity(n),
            media: [WebChat::DESCRIPTION, ContentOffer::DESCRIPTION],
            rng: 0x243f_6a88_85a3_08d3,
            next_id: 0,
        };
        for i in 0..n {
            let id = live.fresh_id();
            live.slots.push((i % 2, id, None));
        }
        live
    }

    fn random(&mut self, n: usize) -> usize {
        // xorshift64*: cheap, and outside the timed part anyway.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        ((u128::from(self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)) * n as u128) >> 64) as usize
    }

    fn fresh_id(&mut self) -> Uuid {
        self.next_id += 1;
        // Spread the ids like v4 UUIDs (random bits), not a counter.
        Uuid::from_u128(
            self.next_id
                .wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835),
        )
    }

    /// Starts every action (each reports its initial state).
    fn fill(&mut self, tracker: &mut Tracker) {
        let mut events = Vec::new();
        let n = self.slots.len();
        for i in 0..n {
            self.step(i, &mut events);
        }
        for (media, id, state) in events {
            tracker.track_state(media, id, state, 0).unwrap();
        }
        assert_eq!(tracker.len(), n);
    }

    fn step(&mut self, i: usize, out: &mut Vec<(usize, Uuid, usize)>) {
        let (media_index, id, state) = self.slots[i];
        let media = self.media[media_index];
        let next = match state {
            None => 0, // `offered`, the initial state of both
            Some(current) => {
                let successors = media.states[current].next;
                successors[self.random(successors.len())]
            }
        };
        out.push((media_index, id, next));
        self.slots[i] = if media.states[next].kind.ends_lifecycle() {
            let id = self.fresh_id();
            out.push((media_index, id, 0));
            (media_index, id, Some(0))
        } else {
            (media_index, id, Some(next))
        };
    }

    fn next_events(&mut self, n: usize, out: &mut Vec<(usize, Uuid, usize)>) {
        out.clear();
        while out.len() < n {
            let i = self.random(self.slots.len());
            self.step(i, out);
        }
    }
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
