//! `ingest/tracker_1m`'s steps outside criterion, for counting instructions: one million
//! actions started, then two million events fed to `Tracker::track_batch` in batches of
//! 4,096, as the benchmark feeds them. It prints the time per event, for orientation only
//! (the criterion figures are the ones to compare); what it is for is a run under
//! callgrind, whose instruction counts do not move with the machine's load:
//!
//! ```sh
//! cargo bench --bench tracker_steps --no-run
//! valgrind --tool=callgrind --toggle-collect='tracker_steps::judge_batch' \
//!     target/release/deps/tracker_steps-<hash> --bench
//! callgrind_annotate callgrind.out.<pid>
//! ```
//!
//! Only `judge_batch` is counted, so the instructions per event are the total over the
//! two million events. `WEBACTION_BENCH_REMEMBER_ENDED=0` runs it with no memory of ended
//! actions, as `tracker_1m_no_ended` does; `WEBACTION_BENCH_FLOOR=1` runs the same steps
//! on `ingest/tracker_floor`'s map instead, counted in `floor_batch`
//! (`--toggle-collect='tracker_steps::floor_batch'`).

use std::hint::black_box;
use std::time::Instant;

use webaction_events::ingest::{Step, Tracker, TrackerConfig};
use webaction_events::Registry;

#[path = "support/steps.rs"]
mod steps;
use steps::{FloorMap, StepSequence, TrackedStep};

const ACTIONS: usize = 1_000_000;
const EVENTS: usize = 2_000_000;
const BATCH: usize = 4096;

fn main() {
    // `cargo bench` passes `--bench`; a filter that names something else runs nothing.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter
        .as_deref()
        .is_some_and(|f| !"tracker_steps".contains(f))
    {
        return;
    }
    let remember_ended = match std::env::var("WEBACTION_BENCH_REMEMBER_ENDED") {
        Ok(value) => value.parse().unwrap_or_else(|_| {
            panic!("WEBACTION_BENCH_REMEMBER_ENDED={value}: expected a whole number")
        }),
        Err(_) => TrackerConfig::default().remember_ended,
    };
    let sequence = StepSequence::generate(ACTIONS, EVENTS);
    let steps =
        |events: &[TrackedStep]| -> Vec<Step> { events.iter().map(TrackedStep::step).collect() };
    let ending = sequence
        .steps
        .iter()
        .filter(|step| sequence.ends[usize::from(step.media)][usize::from(step.state)])
        .count();
    if std::env::var_os("WEBACTION_BENCH_FLOOR").is_some_and(|v| v != "0") {
        let mut map = FloorMap::default();
        map.start(&sequence);
        let started = Instant::now();
        for batch in sequence.steps.chunks(BATCH) {
            floor_batch(&mut map, batch);
        }
        let took = started.elapsed();
        println!(
            "tracker_steps (floor): {} events after {} starts ({:.0} % of them end an action), {:.1} ns per event, {} live",
            sequence.steps.len(),
            sequence.start.len(),
            ending as f64 * 100.0 / sequence.steps.len() as f64,
            took.as_nanos() as f64 / sequence.steps.len() as f64,
            map.live.len(),
        );
        return;
    }
    let (start, events) = (steps(&sequence.start), steps(&sequence.steps));
    let mut tracker = Tracker::with_config(
        &Registry::builtin(),
        TrackerConfig {
            remember_ended,
            ..TrackerConfig::default()
        },
    );
    for batch in start.chunks(BATCH) {
        tracker.track_batch(batch, |_, result| {
            result.expect("every action starts in an initial state");
        });
    }
    let started = Instant::now();
    for batch in events.chunks(BATCH) {
        judge_batch(&mut tracker, batch);
    }
    let took = started.elapsed();
    println!(
        "tracker_steps: {} events after {} starts ({:.0} % of them end an action), {:.1} ns per event, {} live, {:?}",
        events.len(),
        start.len(),
        ending as f64 * 100.0 / events.len() as f64,
        took.as_nanos() as f64 / events.len() as f64,
        tracker.len(),
        tracker.stats(),
    );
}

/// The part callgrind counts (`--toggle-collect`): not inlined, so that it has a name.
#[inline(never)]
fn judge_batch(tracker: &mut Tracker, batch: &[Step]) {
    tracker.track_batch(batch, |_, result| {
        let _ = black_box(result);
    });
}

/// The floor's part, as `judge_batch` is the tracker's.
#[inline(never)]
fn floor_batch(map: &mut FloorMap, batch: &[TrackedStep]) {
    for step in batch {
        map.step(black_box(step));
    }
}
