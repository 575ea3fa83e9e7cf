//! The whole `webaction check` path, ns per event (criterion group `check`): lines read
//! from memory, split, routed, decoded, validated, tracked, rejected lines written to a
//! dead letter (into `io::sink`), counts summed.
//!
//! - `threads_1`: `--threads 1`, everything on the calling thread;
//! - `threads_2`: `--threads 2`: every batch of lines goes to both workers, each judges
//!   the lines the reader marked for it by their `actionId`, worker 0 on the reader's
//!   thread.
//! - `independent_2`: what two cores of this machine give for the same work with nothing
//!   shared: the input split in two by `actionId` beforehand (untimed), each half checked
//!   with `--threads 1` on a thread of its own, at once. Not a way to run `check` (the two
//!   halves' outputs are not merged): the ceiling of `threads_2` on this machine, which a
//!   virtual machine's two cores may hold below twice `threads_1`.
//!
//! After the group, rounds of the three once each, one after the other, and the median
//! of each round's own ratios to `threads_1` (see `paired_rounds`): the figure to hold
//! against the target on a machine whose speed drifts between criterion's benchmarks.
//!
//! The input is one `webaction simulate --actions 400000 --seed 42 --invalid-rate 0.01`
//! stream (about a million events), the same for all three. Throughput is reported in
//! bytes and in events. Run: `cargo bench --bench check -- --warm-up-time 1
//! --measurement-time 10`.

use std::io::{self, Write};
use std::thread;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::check::check_stream;
use events_cli::dead_letter::DeadLetter;
use events_cli::input::Limits;
use events_cli::lanes::scan_action_id;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use events_core::ingest::IngestStats;
use indicatif::ProgressBar;
use webaction_events::Registry;

#[path = "support/rounds.rs"]
mod rounds;

// The allocator of the `webaction` binary (events-cli's default feature `mimalloc`), whose
// path this measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench_check(c: &mut Criterion) {
    let registry = Registry::builtin();
    let mut input = Vec::new();
    let simulation = Simulation {
        actions: 400_000,
        seed: 42,
        invalid_rate: 0.01,
    };
    simulate(&registry, &simulation, &mut input).unwrap();
    let events = input.iter().filter(|&&b| b == b'\n').count() as u64;
    eprintln!("{events} events, {} bytes", input.len());
    let halves = split_by_action(&input);
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: events,
        bytes: input.len() as u64,
    });
    for threads in [1, 2] {
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| check(&input, &registry, threads, events))
        });
    }
    group.bench_function("independent_2", |b| {
        b.iter(|| independent(&halves, &registry))
    });
    group.finish();
    paired_rounds(&input, &halves, &registry, events);
}

/// `webaction check --threads N` over `input`, its dead letter into `io::sink`.
fn check(input: &[u8], registry: &Registry, threads: usize, events: u64) -> IngestStats {
    let limits = Limits {
        threads: Some(threads),
        ..Limits::default()
    };
    let mut sink = io::sink();
    let mut letter = DeadLetter::new(&mut sink as &mut dyn Write);
    let stats = check_stream(
        input,
        registry,
        &limits,
        Some(&mut letter),
        &ProgressBar::hidden(),
        &Shutdown::manual(),
    )
    .unwrap();
    assert_eq!(stats.events, events);
    stats
}

/// The two halves of the input (see [`split_by_action`]), each with its event count.
type Halves = [(Vec<u8>, u64); 2];

/// Each half checked with `--threads 1` on a thread of its own, at once.
fn independent(halves: &Halves, registry: &Registry) -> Vec<u64> {
    thread::scope(|scope| {
        let runs: Vec<_> = halves
            .iter()
            .map(|(half, events)| scope.spawn(move || check(half, registry, 1, *events).events))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    })
}

/// Rounds of `threads_1`, `threads_2` and `independent_2` once each, one after the
/// other, and the median of each round's own ratios. Criterion measures the three one
/// after the other, seconds apart, and a virtual machine's speed drifts by more than the
/// difference between them over that time: a round's three runs share the moment.
/// How many: see `rounds::wanted`.
fn paired_rounds(input: &[u8], halves: &Halves, registry: &Registry, events: u64) {
    let rounds = rounds::wanted();
    if rounds == 0 {
        return;
    }
    let (mut threads_2, mut independent_2) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Each timed run right after an untimed one of its own kind, as criterion's
        // iterations follow each other: one after another kind starts from the memory
        // that one left behind.
        check(input, registry, 1, events);
        let one = seconds(|| check(input, registry, 1, events));
        check(input, registry, 2, events);
        let two = seconds(|| check(input, registry, 2, events));
        independent(halves, registry);
        let apart = seconds(|| independent(halves, registry));
        threads_2.push(one / two);
        independent_2.push(one / apart);
    }
    println!(
        "check, median of {rounds} rounds' own ratios to threads_1: threads_2 {} (target ≥ 1.8), independent_2 {}",
        rounds::median_and_each(&threads_2),
        rounds::median_and_each(&independent_2),
    );
}

/// How long `run` takes, in seconds.
fn seconds<T>(run: impl FnOnce() -> T) -> f64 {
    let start = Instant::now();
    std::hint::black_box(run());
    start.elapsed().as_secs_f64()
}

/// The lines of `input` in two streams by a bit of their `actionId` (a line without one
/// goes to the first), each in input order: every action's lifecycle in one of them.
/// Each with its line count, which a run checks its own against.
fn split_by_action(input: &[u8]) -> Halves {
    let mut halves = [(Vec::new(), 0), (Vec::new(), 0)];
    for line in input.split_inclusive(|&b| b == b'\n') {
        let half = scan_action_id(line).map_or(0, |id| usize::from(id.as_bytes()[15] & 1));
        halves[half].0.extend_from_slice(line);
        halves[half].1 += 1;
    }
    halves
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
