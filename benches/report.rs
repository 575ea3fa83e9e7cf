//! Rendering `webaction report` for 10,000 action maps: the HTML page, the text and the
//! JSON, from one synthetic [`Report`] in which every declared step of every map was
//! taken (the largest page per map: every state and every step drawn). Prints the page's
//! size once.
//!
//! Run: `cargo bench --bench report -- --warm-up-time 1 --measurement-time 5`.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::report::{html, MapKey, MapReport, Report};
use webaction_events::{Registry, Uuid};

const MAPS: usize = 10_000;

/// `MAPS` maps alternating over the built-in media types, each with 50 to 149 actions
/// split over every declared step (a step takes a third of what reached its source, the
/// last step out of a state the rest), so that every state and step has a count.
fn report() -> Report {
    let media_types: Vec<_> = Registry::builtin().iter().map(|e| e.description).collect();
    let mut maps = BTreeMap::new();
    for i in 0..MAPS {
        let media_index = i % media_types.len();
        let media = media_types[media_index];
        let n = media.states.len();
        let mut reached = vec![0u64; n];
        let mut steps = BTreeMap::new();
        for (s, state) in media.states.iter().enumerate() {
            if state.initial {
                reached[s] = 50 + (i as u64 * 7919) % 100;
            }
        }
        // States in declaration order may come before their sources; the declared graphs
        // are acyclic, so n passes settle every count.
        for _ in 0..n {
            steps.clear();
            let mut into = vec![0u64; n];
            for (s, state) in media.states.iter().enumerate() {
                let mut left = reached[s];
                for (k, &to) in state.next.iter().enumerate() {
                    let took = if k + 1 == state.next.len() {
                        left
                    } else {
                        left / 3
                    };
                    left -= took;
                    steps.insert((s, to), took);
                    into[to] += took;
                }
            }
            for (s, state) in media.states.iter().enumerate() {
                if !state.initial {
                    reached[s] = into[s];
                }
            }
        }
        let key = MapKey {
            media_index,
            action_map_id: Uuid::from_u128(0x4000_8000_0000_0000_0000 + i as u128),
            action_map_version: 1 + (i % 5) as u32,
        };
        maps.insert(
            key,
            MapReport {
                media,
                reached,
                steps,
            },
        );
    }
    Report {
        rejected_by_media: vec![[0; 7]; media_types.len()],
        media_types,
        maps,
        ..Report::default()
    }
}

fn bench_report(c: &mut Criterion) {
    let report = report();
    let page = html(&report);
    eprintln!(
        "report bench: {MAPS} maps, HTML {} bytes ({:.2} MB per 1,000 maps), text {} bytes, JSON {} bytes",
        page.len(),
        page.len() as f64 / 1e6 / (MAPS as f64 / 1000.0),
        report.to_text().len(),
        report.to_json().to_string().len(),
    );
    let mut group = c.benchmark_group("report_10k_maps");
    group.sample_size(10);
    group.throughput(Throughput::Elements(MAPS as u64));
    group.bench_function("html", |b| b.iter(|| black_box(html(black_box(&report)))));
    group.bench_function("text", |b| {
        b.iter(|| black_box(black_box(&report).to_text()))
    });
    group.bench_function("json", |b| {
        b.iter(|| black_box(black_box(&report).to_json().to_string()))
    });
    group.finish();
}

criterion_group!(benches, bench_report);
criterion_main!(benches);
