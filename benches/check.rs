//! The whole `webaction check` path, ns per event (criterion group `check`): lines read
//! from memory, split, routed, decoded, validated, tracked, rejected lines written to a
//! dead letter (into `io::sink`), counts summed.
//!
//! - `threads_1`: `--threads 1`, everything on the calling thread;
//! - `threads_2`: `--threads 2`: every batch of lines goes to both workers, each judges
//!   the lines the reader marked for it by their `actionId`, worker 0 on the reader's
//!   thread.
//!
//! The input is one `webaction simulate --actions 400000 --seed 42 --invalid-rate 0.01`
//! stream (about a million events), the same for both. Throughput is reported in bytes and
//! in events. Run: `cargo bench --bench check -- --warm-up-time 1 --measurement-time 10`.

use std::io::{self, Write};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::check::check_stream;
use events_cli::dead_letter::DeadLetter;
use events_cli::input::Limits;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use indicatif::ProgressBar;
use webaction_events::Registry;

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
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.throughput(Throughput::ElementsAndBytes {
        elements: events,
        bytes: input.len() as u64,
    });
    for threads in [1, 2] {
        let limits = Limits {
            threads: Some(threads),
            ..Limits::default()
        };
        group.bench_function(format!("threads_{threads}"), |b| {
            b.iter(|| {
                let mut sink = io::sink();
                let mut letter = DeadLetter::new(&mut sink as &mut dyn Write);
                let stats = check_stream(
                    &input[..],
                    &registry,
                    &limits,
                    Some(&mut letter),
                    &ProgressBar::hidden(),
                    &Shutdown::manual(),
                )
                .unwrap();
                assert_eq!(stats.events, events);
                stats
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
