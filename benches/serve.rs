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
//! Each figure comes with the cores the process kept busy meanwhile (CPU time of all its
//! threads over the wall time, from `/proc/self/task/*/schedstat` on Linux) and the CPU
//! time per event: what tells a collector that waits (for the disk, say) from one that
//! is out of cores.
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

// Its medians and the rounds' readout; serve runs its own rounds, not `rounds::wanted`'s.
#[allow(dead_code)]
#[path = "support/rounds.rs"]
mod rounds;

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

/// The CPU time of every thread of this process so far, where Linux tells it: the first
/// field of each thread's `schedstat`, in nanoseconds. Threads that ended are not
/// counted, so a reading spans only threads that live through it.
fn cpu_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// A phase's figures: events per second, and the CPU time it took, if known.
struct Phase {
    rate: f64,
    cpu: Option<Duration>,
    wall: Duration,
}

impl Phase {
    /// `events` in `wall`, the process's CPU time `cpu_before` at the start.
    fn new(events: u64, wall: Duration, cpu_before: Option<Duration>) -> Phase {
        Phase {
            rate: events as f64 / wall.as_secs_f64(),
            cpu: cpu_time()
                .zip(cpu_before)
                .map(|(after, before)| after - before),
            wall,
        }
    }

    /// `(cores busy, ns of CPU per event)`, or nothing where the CPU time is not known.
    fn cores(&self, events: u64) -> Option<(f64, f64)> {
        let cpu = self.cpu?.as_secs_f64();
        Some((cpu / self.wall.as_secs_f64(), cpu * 1e9 / events as f64))
    }
}

/// One run of the collector over `batches`: events accepted per second (and CPU),
/// latencies.
fn serve_once(
    registry: &Registry,
    batches: &[Bytes],
    events: u64,
    fsync: Fsync,
    connections: usize,
) -> (Phase, Vec<Duration>) {
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
        let cpu_before = cpu_time();
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
        // Before the collector stops, while its threads still run.
        let phase = Phase::new(events, started.elapsed(), cpu_before);
        assert_eq!(accepted, events, "every event accepted");
        let _ = stop.send(());
        let served = server.await.unwrap().unwrap();
        assert!(served.clean());
        (phase, latencies)
    })
}

fn check_once(registry: &Registry, input: &[u8], events: u64) -> Phase {
    let cpu_before = cpu_time();
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
    let phase = Phase::new(events, started.elapsed(), cpu_before);
    assert_eq!(stats.valid, events);
    phase
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
    let mut durable = Vec::new();
    let mut flushed = Vec::new();
    let mut checks = Vec::new();
    let mut durable_latencies = Vec::new();
    let mut flushed_latencies = Vec::new();
    for _ in 0..ROUNDS {
        checks.push(check_once(&registry, &input, summary.events));
        for (fsync, phases, latencies) in [
            (Fsync::OnCommit, &mut durable, &mut durable_latencies),
            (Fsync::Never, &mut flushed, &mut flushed_latencies),
        ] {
            let (phase, mut l) =
                serve_once(&registry, &batches, summary.events, fsync, connections);
            phases.push(phase);
            latencies.append(&mut l);
        }
    }
    let rates = |phases: &[Phase]| phases.iter().map(|p| p.rate).collect::<Vec<f64>>();
    let check_rates = rates(&checks);
    // Each round's ratio pairs the serve phase with the check run just before it, under
    // the same conditions: this machine drifts by tens of percent within a minute, and a
    // ratio of medians taken over different rounds would carry that drift.
    let per_round = |phases: &[Phase]| -> Vec<f64> {
        phases
            .iter()
            .zip(&check_rates)
            .map(|(serve, check)| serve.rate / check)
            .collect()
    };
    let paired = [per_round(&durable), per_round(&flushed)];
    let median = rounds::median;
    // `, 1.62 cores busy, 1650 ns CPU per event` (medians), where the CPU time is known.
    let cpu = |phases: &[Phase]| {
        let cores: Option<Vec<(f64, f64)>> =
            phases.iter().map(|p| p.cores(summary.events)).collect();
        cores.map_or(String::new(), |cores| {
            let busy: Vec<f64> = cores.iter().map(|c| c.0).collect();
            let per_event: Vec<f64> = cores.iter().map(|c| c.1).collect();
            format!(
                ", {:.2} cores busy, {:.0} ns CPU per event",
                median(&busy),
                median(&per_event)
            )
        })
    };
    let check = median(&check_rates);
    for (name, phases, latencies) in [
        ("durable_file", &durable, &mut durable_latencies),
        ("flushed_file", &flushed, &mut flushed_latencies),
    ] {
        let serve = median(&rates(phases));
        latencies.sort();
        println!(
            "serve/{name}_batch_{BATCH}: {:.0} events/s ({:.0} requests/s), p50 {:.2} ms, p99 {:.2} ms, {:.2} × check{} ({} events, {} requests per round, {connections} connections, median of {ROUNDS})",
            serve,
            serve / BATCH as f64,
            percentile(latencies, 0.50).as_secs_f64() * 1e3,
            percentile(latencies, 0.99).as_secs_f64() * 1e3,
            serve / check,
            cpu(phases),
            summary.events,
            batches.len(),
        );
    }
    println!("check/single_thread: {check:.0} events/s{}", cpu(&checks));
    let (bytes_per_second, sync) = disk_sync(&batches);
    println!(
        "disk: {:.0} MB/s written with one fdatasync per {} KB (p50 sync {:.2} ms): the durable figure's ceiling at {:.0} events/s",
        bytes_per_second / 1e6,
        SYNC_CHUNK / 1000,
        sync.as_secs_f64() * 1e3,
        bytes_per_second * summary.events as f64 / batches.iter().map(|b| b.len()).sum::<usize>() as f64,
    );
    println!(
        "serve / check, median of the rounds' own ratios: {} durable, {} flushed (target ≥ 0.5)",
        rounds::median_and_each(&paired[0]),
        rounds::median_and_each(&paired[1]),
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
