//! Ingest speed, ns per event (criterion group `ingest`):
//!
//! - `serde_typed_floor`: `serde_json::from_slice` into a plain struct with `Uuid` fields,
//!   the parse alone, on the same lines;
//! - `write_json`: an event written back as JSON (`DynEvent::write_json`, what the
//!   sinks and the collector write), against `serde_write_floor`: `serde_json::to_writer`
//!   of the same plain struct, derived `Serialize`;
//! - `ingest`: the whole path (decode through the registry, track, emit on the bus to one
//!   handler);
//! - `tracker_1m`: tracking alone ([`Tracker::track_batch`]), with one million live
//!   actions; `tracker_1m_one_by_one` the same steps through `Tracker::track_state`;
//!   `tracker_1m_no_ended` the batch again with no memory of ended actions
//!   (`remember_ended: 0`), which tells the live table's part from the ended memory's;
//! - `tracker_floor`: the same steps on a `hashbrown::HashMap<Uuid, u8>` (foldhash), which
//!   only inserts, updates and removes: what a general-purpose map costs.
//!
//! After the group, rounds of `tracker_1m` and `tracker_floor` on the same steps, one after
//! the other, and the median of each round's own ratio (see `paired_rounds`).
//!
//! The lines are a `webaction simulate` stream: both built-in media types, interleaved
//! lifecycles. Run: `cargo bench --bench ingest -- --warm-up-time 1 --measurement-time 3`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::simulate::{simulate, Simulation};
use webaction_events::ingest::{Decoder, IdleTimeout, Ingest, Step, Tracker, TrackerConfig};
use webaction_events::{AnyEvent, Events, Registry};

#[path = "support/floor.rs"]
mod floor;
use floor::Floor;
#[path = "support/rounds.rs"]
mod rounds;
#[path = "support/steps.rs"]
mod steps;
use steps::{FloorMap, StepSequence, TrackedStep};

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

    let decoder = Decoder::new(Registry::builtin());
    let decoded: Vec<Box<AnyEvent>> = lines
        .iter()
        .map(|line| decoder.decode(line).unwrap().event)
        .collect();
    let floors: Vec<Floor> = lines
        .iter()
        .map(|line| serde_json::from_slice(line).unwrap())
        .collect();
    let mut out = Vec::with_capacity(4096);
    group.bench_function("write_json", |b| {
        let mut i = 0;
        b.iter(|| {
            out.clear();
            decoded[i].write_json(&mut out).unwrap();
            i = (i + 1) % decoded.len();
            black_box(out.len())
        })
    });
    group.bench_function("serde_write_floor", |b| {
        let mut i = 0;
        b.iter(|| {
            out.clear();
            serde_json::to_writer(&mut out, &floors[i]).unwrap();
            i = (i + 1) % floors.len();
            black_box(out.len())
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

    // One step sequence for every tracker benchmark: the same actions, the same steps.
    let steps = StepSequence::generate(1_000_000, 1 << 21);
    let mut tracker = Tracker::new(&Registry::builtin());
    let mut feed = Feed::default();
    group.bench_function("tracker_1m", |b| {
        b.iter_custom(|iters| feed.run(iters, &steps, &mut tracker, timed_batch));
    });
    eprintln!(
        "tracker_1m: {} live actions, {} bytes, {:.1} bytes per live action, {:?}",
        tracker.len(),
        tracker.memory_bytes(),
        tracker.memory_bytes() as f64 / tracker.len() as f64,
        tracker.stats(),
    );
    group.bench_function("tracker_1m_one_by_one", |b| {
        b.iter_custom(|iters| {
            feed.run(iters, &steps, &mut tracker, |tracker, chunk| {
                let start = Instant::now();
                for step in chunk {
                    let step = step.step();
                    let _ = black_box(tracker.track_state(
                        step.media_index,
                        step.action_id,
                        step.state_index,
                        step.now,
                    ));
                }
                start.elapsed()
            })
        });
    });
    drop(tracker);
    let mut tracker = Tracker::with_config(
        &Registry::builtin(),
        TrackerConfig {
            remember_ended: 0,
            ..TrackerConfig::default()
        },
    );
    let mut feed = Feed::default();
    group.bench_function("tracker_1m_no_ended", |b| {
        b.iter_custom(|iters| feed.run(iters, &steps, &mut tracker, timed_batch));
    });
    drop(tracker);
    let mut map = FloorMap::default();
    let mut feed = Feed::default();
    group.bench_function("tracker_floor", |b| {
        b.iter_custom(|iters| feed.run(iters, &steps, &mut map, timed_floor));
    });
    eprintln!(
        "tracker_floor: {} live actions, {} bytes, {:.1} bytes per live action",
        map.live.len(),
        map.live.allocation_size(),
        map.live.allocation_size() as f64 / map.live.len() as f64,
    );
    group.finish();
    drop(map);
    paired_rounds(&steps);
}

/// Rounds of `tracker_1m` and `tracker_floor`, the same number of steps each, one after
/// the other, and the median of each round's own ratio. Criterion measures the two
/// seconds apart, and the floor, whose independent steps let the core overlap their
/// misses, moved by half on one CPU model from session to session, and from run to run,
/// while the tracker stayed put (BENCHMARKS.md, nineteenth session): a round's two share
/// the moment. How many: see `rounds::wanted`.
fn paired_rounds(steps: &StepSequence) {
    let rounds = rounds::wanted();
    if rounds == 0 {
        return;
    }
    // Half the sequence a round: every other round reads on from where the last ended,
    // every other one restarts the state (outside the timing), alike for both.
    let per_round = steps.steps.len() as u64 / 2;
    let mut tracker = Tracker::new(&Registry::builtin());
    let mut map = FloorMap::default();
    let (mut tracker_feed, mut floor_feed) = (Feed::default(), Feed::default());
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let tracked = tracker_feed.run(per_round, steps, &mut tracker, timed_batch);
        let floor = floor_feed.run(per_round, steps, &mut map, timed_floor);
        ratios.push(tracked.as_secs_f64() / floor.as_secs_f64());
    }
    println!(
        "tracker_1m / tracker_floor, median of {rounds} rounds' own ratios: {} (target ≤ 1.5)",
        rounds::median_and_each(&ratios),
    );
}

/// One chunk of steps through the floor's map.
fn timed_floor(map: &mut FloorMap, chunk: &[TrackedStep]) -> Duration {
    let start = Instant::now();
    for step in chunk {
        map.step(black_box(step));
    }
    start.elapsed()
}

/// One chunk of steps through `Tracker::track_batch`, timed without building the batch.
fn timed_batch(tracker: &mut Tracker, chunk: &[TrackedStep]) -> Duration {
    let batch: Vec<Step> = chunk.iter().map(TrackedStep::step).collect();
    let start = Instant::now();
    tracker.track_batch(&batch, |_, result| {
        let _ = black_box(result);
    });
    start.elapsed()
}

/// What the tracker benchmarks drive: the tracker, or the floor's map.
trait Tracks {
    /// Forgets everything, then starts every action of `sequence`.
    fn restart(&mut self, sequence: &StepSequence);
}

impl Tracks for Tracker {
    fn restart(&mut self, sequence: &StepSequence) {
        self.clear();
        let batch: Vec<Step> = sequence.start.iter().map(TrackedStep::step).collect();
        self.track_batch(&batch, |_, result| {
            result.unwrap();
        });
        assert_eq!(self.len(), sequence.start.len());
    }
}

impl Tracks for FloorMap {
    fn restart(&mut self, sequence: &StepSequence) {
        self.start(sequence);
    }
}

/// Where the next benchmark iteration reads the step sequence. When it runs out, the
/// tracked state is restarted (outside the timed part) and the sequence read again, so
/// every step is judged from the state the sequence was generated for.
#[derive(Default)]
struct Feed {
    at: Option<usize>,
}

impl Feed {
    /// Feeds `iters` steps to `tracks` in chunks, summing what `timed` measures of each.
    fn run<T: Tracks>(
        &mut self,
        iters: u64,
        sequence: &StepSequence,
        tracks: &mut T,
        mut timed: impl FnMut(&mut T, &[TrackedStep]) -> Duration,
    ) -> Duration {
        let mut elapsed = Duration::ZERO;
        let mut left = iters as usize;
        while left > 0 {
            let at = match self.at {
                Some(at) if at < sequence.steps.len() => at,
                _ => {
                    tracks.restart(sequence);
                    0
                }
            };
            let end = (at + left.min(4096)).min(sequence.steps.len());
            elapsed += timed(tracks, &sequence.steps[at..end]);
            left -= end - at;
            self.at = Some(end);
        }
        elapsed
    }
}

criterion_group!(benches, bench_ingest);
criterion_main!(benches);
