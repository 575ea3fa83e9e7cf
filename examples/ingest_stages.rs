//! Runs one stage of ingest over a simulated stream, for counting its instructions with
//! callgrind, which unlike a timer gives the same figure on a busy machine:
//!
//! ```sh
//! cargo build --release --example ingest_stages
//! for stage in setup floor raw decode ingest; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/ingest_stages $stage 2>&1 | grep refs
//! done
//! ```
//!
//! Subtract `setup` (simulating the stream) from each and divide by the event count.
//! BENCHMARKS.md has the figures.

use std::hint::black_box;

use events_cli::simulate::{simulate, Simulation};
use webaction_events::ingest::{Decoder, Ingest};
use webaction_events::{AnyEvent, RawEvent, Registry};

#[path = "../benches/support/floor.rs"]
mod floor;
use floor::Floor;

fn main() {
    let stage = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "setup".to_owned());
    let mut stream = Vec::new();
    let simulation = Simulation {
        actions: 20_000,
        seed: 42,
        invalid_rate: 0.0,
    };
    simulate(&Registry::builtin(), &simulation, &mut stream).expect("writing to memory");
    let lines: Vec<&[u8]> = stream
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    match stage.as_str() {
        "setup" => {}
        "floor" => lines.iter().for_each(|line| {
            black_box(serde_json::from_slice::<Floor>(line).expect("valid"));
        }),
        "raw" => lines.iter().for_each(|line| {
            black_box(
                RawEvent::from_slice(line)
                    .expect("well-formed")
                    .expect("an event"),
            );
        }),
        "decode" => {
            let decoder = Decoder::new(Registry::builtin());
            lines.iter().for_each(|line| {
                black_box(decoder.decode(line).expect("valid"));
            });
        }
        "ingest" => {
            let mut ingest = Ingest::builder(Registry::builtin()).build(|event: &AnyEvent| {
                black_box(event);
            });
            lines.iter().for_each(|line| {
                let _ = black_box(ingest.ingest(line));
            });
        }
        other => {
            eprintln!("unknown stage `{other}`; expected setup, floor, raw, decode or ingest");
            std::process::exit(2);
        }
    }
    eprintln!("{stage}: {} events", lines.len());
}
