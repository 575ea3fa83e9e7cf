//! End to end through the collector: events per second accepted by `POST /v1/events` in
//! batches of 100 into the NDJSON file sink with durable acknowledgement (written,
//! flushed and synced before each 200), with the p50 and p99 request latency; and, in
//! the same run, `webaction check` single-threaded over the same events, the figure the
//! target compares with (serve ≥ 0.5 × check).
//!
//! The input is `webaction simulate --actions 200000 --seed 1`, grouped into batches of
//! whole lifecycles (so that concurrent batches cannot reorder one action's events).
//! The client is hyper on loopback, 32 connections sending at once, on the same 2 cores:
//! a collector serves many pages at once, and with few connections the figure is the
//! sync's latency (a connection waits for its 200), not what the collector can take.
//!
//! Each round runs the collector twice: `durable_file` syncs each group commit
//! (`Fsync::OnCommit`, `serve`'s default: a 200 survives a power loss) and
//! `flushed_file` answers once the events are written to the kernel (`--fsync never`: a
//! 200 survives `kill -9` of the collector, not a crash of the machine). Last, the disk
//! alone: the same bytes written with one `fdatasync` per commit-sized chunk, the ceiling
//! of the durable figure on this disk.
//!
//! The last line compares the two: each round's serve figure over the check run just
//! before it, and the median of those ratios, with every round's own, so that the spread
//! shows.
//!
//! Run: `cargo bench --bench serve` (a bench binary: it prints its figures);
//! `WEBACTION_BENCH_CONNECTIONS` and `WEBACTION_BENCH_ACTIONS` change the two sizes.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use events_cli::check::check_stream;
use events_cli::input::Limits;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use events_collector::{Collector, Config};
use events_sinks::{FileOptions, Fsync, NdjsonSink};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use indicatif::ProgressBar;
use webaction_events::Registry;

// The allocator of the `webaction` binary (events-cli's default feature `mimalloc`), whose
// path this measures.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 100;
/// Connections sending at once, unless `WEBACTION_BENCH_CONNECTIONS` says otherwise.
const CONNECTIONS: usize = 32;
/// Actions simulated, unless `WEBACTION_BENCH_ACTIONS` says otherwise: some 2.1 events
/// each, enough for a serve phase to last most of a second (shorter phases moved by
/// ±30 % between rounds).
const ACTIONS: usize = 200_000;
const ROUNDS: usize = 5;

/// A knob from the environment, for sweeps (`WEBACTION_BENCH_CONNECTIONS=8 cargo bench
/// --bench serve`), or its default.
fn knob(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value}: expected a whole number")),
        Err(_) => default,
    }
}

/// Batches of about `BATCH` events, each holding whole lifecycles in order.
fn batches(input: &[u8]) -> Vec<Bytes> {
    let mut by_action: BTreeMap<String, Vec<&[u8]>> = BTreeMap::new();
    for line in input.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        let id = value["actionId"].as_str().unwrap().to_owned();
        by_action.entry(id).or_default().push(line);
    }
    let mut batches = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    let mut count = 0;
    for lines in by_action.values() {
        for line in lines {
            current.extend_from_slice(line);
            current.push(b'\n');
        }
        count += lines.len();
        if count >= BATCH {
            batches.push(Bytes::from(std::mem::take(&mut current)));
            count = 0;
        }
    }
    if !current.is_empty() {
        batches.push(Bytes::from(current));
    }
    batches
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One run of the collector over `batches`: events accepted per second, latencies.
fn serve_once(
    registry: &Registry,
    batches: &[Bytes],
    events: u64,
    fsync: Fsync,
    connections: usize,
) -> (f64, Vec<Duration>) {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sink = NdjsonSink::create_with(
            dir.path().join("events.ndjson"),
            FileOptions {
                append: true,
                fsync,
            },
        )
        .unwrap();
        let config = Config {
            dead_letter: dir.path().join("dead-letter.ndjson"),
            fsync,
            ..Config::default()
        };
        let collector = Collector::new(Limits::default().builder(registry), config)
            .sink("file", Arc::new(sink));
        let listener = events_collector::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(collector.serve(listener, async {
            let _ = stopped.await;
        }));
        let queue = Arc::new(std::sync::Mutex::new(batches.to_vec()));
        let started = Instant::now();
        let mut clients = Vec::new();
        for _ in 0..connections {
            let queue = Arc::clone(&queue);
            clients.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut latencies = Vec::new();
                let mut accepted = 0u64;
                loop {
                    let Some(body) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let request = Request::post("/v1/events")
                        .header("host", "bench")
                        .header("content-type", "text/plain;charset=UTF-8")
                        .body(Full::new(body))
                        .unwrap();
                    let sent = Instant::now();
                    let response = sender.send_request(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    latencies.push(sent.elapsed());
                    let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    accepted += answer["accepted"].as_u64().unwrap();
                }
                (accepted, latencies)
            }));
        }
        let mut accepted = 0;
        let mut latencies = Vec::new();
        for client in clients {
            let (n, l) = client.await.unwrap();
            accepted += n;
            latencies.extend(l);
        }
        let took = started.elapsed();
        assert_eq!(accepted, events, "every event accepted");
        let _ = stop.send(());
        let served = server.await.unwrap().unwrap();
        assert!(served.clean());
        (accepted as f64 / took.as_secs_f64(), latencies)
    })
}

fn check_once(registry: &Registry, input: &[u8], events: u64) -> f64 {
    let started = Instant::now();
    let stats = check_stream(
        input,
        registry,
        &Limits::default(),
        None,
        &ProgressBar::hidden(),
        &Shutdown::manual(),
    )
    .unwrap();
    let took = started.elapsed();
    assert_eq!(stats.valid, events);
    events as f64 / took.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names neither runs nothing.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if filter.as_deref().is_some_and(|f| !"serve".contains(f)) {
        return;
    }
    let registry = Registry::builtin();
    let mut input = Vec::new();
    let summary = simulate(
        &registry,
        &Simulation {
            actions: knob("WEBACTION_BENCH_ACTIONS", ACTIONS) as u64,
            seed: 1,
            invalid_rate: 0.0,
        },
        &mut input,
    )
    .unwrap();
    let batches = batches(&input);
    let connections = knob("WEBACTION_BENCH_CONNECTIONS", CONNECTIONS);
    let mut durable_rates = Vec::new();
    let mut flushed_rates = Vec::new();
    let mut check_rates = Vec::new();
    let mut durable_latencies = Vec::new();
    let mut flushed_latencies = Vec::new();
    for _ in 0..ROUNDS {
        check_rates.push(check_once(&registry, &input, summary.events));
        let (rate, mut l) = serve_once(
            &registry,
            &batches,
            summary.events,
            Fsync::OnCommit,
            connections,
        );
        durable_rates.push(rate);
        durable_latencies.append(&mut l);
        let (rate, mut l) = serve_once(
            &registry,
            &batches,
            summary.events,
            Fsync::Never,
            connections,
        );
        flushed_rates.push(rate);
        flushed_latencies.append(&mut l);
    }
    // Each round's ratio pairs the serve phase with the check run just before it, under
    // the same conditions: this machine drifts by tens of percent within a minute, and a
    // ratio of medians taken over different rounds would carry that drift.
    let per_round = |rates: &[f64]| -> Vec<f64> {
        rates
            .iter()
            .zip(&check_rates)
            .map(|(serve, check)| serve / check)
            .collect()
    };
    let paired = [per_round(&durable_rates), per_round(&flushed_rates)];
    let median = |rates: &[f64]| {
        let mut sorted = rates.to_vec();
        sorted.sort_by(f64::total_cmp);
        sorted[sorted.len() / 2]
    };
    let check = median(&check_rates);
    for (name, rates, latencies) in [
        ("durable_file", &durable_rates, &mut durable_latencies),
        ("flushed_file", &flushed_rates, &mut flushed_latencies),
    ] {
        let serve = median(rates);
        latencies.sort();
        println!(
            "serve/{name}_batch_{BATCH}: {:.0} events/s ({:.0} requests/s), p50 {:.2} ms, p99 {:.2} ms, {:.2} × check ({} events, {} requests per round, {connections} connections, median of {ROUNDS})",
            serve,
            serve / BATCH as f64,
            percentile(latencies, 0.50).as_secs_f64() * 1e3,
            percentile(latencies, 0.99).as_secs_f64() * 1e3,
            serve / check,
            summary.events,
            batches.len(),
        );
    }
    println!("check/single_thread: {check:.0} events/s");
    let (bytes_per_second, sync) = disk_sync(&batches);
    println!(
        "disk: {:.0} MB/s written with one fdatasync per {} KB (p50 sync {:.2} ms): the durable figure's ceiling at {:.0} events/s",
        bytes_per_second / 1e6,
        SYNC_CHUNK / 1000,
        sync.as_secs_f64() * 1e3,
        bytes_per_second * summary.events as f64 / batches.iter().map(|b| b.len()).sum::<usize>() as f64,
    );
    let rounds = |ratios: &[f64]| {
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        each.join(" ")
    };
    println!(
        "serve / check, median of the rounds' own ratios: {:.2} durable ({}), {:.2} flushed ({}) (target ≥ 0.5)",
        median(&paired[0]),
        rounds(&paired[0]),
        median(&paired[1]),
        rounds(&paired[1]),
    );
}

/// About what one group commit holds when every connection's request (some 30 KB) waits
/// for the same sync: the size of the disk probe's writes.
const SYNC_CHUNK: usize = CONNECTIONS * 32_000;

/// The disk's bound on the durable figure, measured with nothing else running: the
/// input's bytes written in chunks of about what one group commit of the 32 connections
/// holds (32 requests of some 30 KB), each chunk followed by `fdatasync`, as the NDJSON
/// sink does. Bytes per second and the median sync.
fn disk_sync(batches: &[Bytes]) -> (f64, Duration) {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut file = std::fs::File::create(dir.path().join("probe.ndjson")).unwrap();
    let all: Vec<u8> = batches.iter().flat_map(|b| b.iter().copied()).collect();
    let mut syncs = Vec::new();
    let started = Instant::now();
    for chunk in all.chunks(SYNC_CHUNK) {
        file.write_all(chunk).unwrap();
        let sync = Instant::now();
        file.sync_data().unwrap();
        syncs.push(sync.elapsed());
    }
    let took = started.elapsed();
    syncs.sort();
    (
        all.len() as f64 / took.as_secs_f64(),
        percentile(&syncs, 0.5),
    )
}
