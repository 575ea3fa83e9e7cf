//! Scaling out, end to end: events per second from the collector's sink (the partitioned
//! NATS sink `webaction serve --partitions 8` publishes with, each publish acknowledged
//! by JetStream) through the stream to `webaction consume` members (one tracker per
//! partition, acks after the NDJSON file sink synced), with 1 and with 2 members of one
//! group; and in the same run `webaction check` single-threaded over the same events.
//!
//! The clock runs from the first publish until the members' sinks hold every accepted
//! event; members are started (and have taken their leases) before it starts. The
//! collector's HTTP side is left out: `benches/serve.rs` measures it.
//!
//! Needs a nats-server: `NATS_SERVER_BIN=$(command -v nats-server) cargo bench --bench
//! consume` (a bench binary: it prints its figures).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use events_cli::check::check_stream;
use events_cli::input::Limits;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use events_core::ingest::{Emit, Ingest};
use events_core::AnyEvent;
use events_sinks::cluster::{consume, ConsumeConfig};
use events_sinks::{
    DeadLetter, FileOptions, Fsync, NdjsonSink, Output, Sink, SinkOptions, SinkSpec,
};
use indicatif::ProgressBar;
use webaction_events::Registry;

const PARTITIONS: u32 = 8;

fn nats_server(bin: &Path, store: &Path) -> (Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, format!("nats://127.0.0.1:{port}"))
}

/// Every accepted event of `input`, decoded, as the collector hands them to its sinks.
struct Collect(Vec<Box<AnyEvent>>);

impl Emit for Collect {
    fn emit(&mut self, event: &AnyEvent) {
        self.0.push(event.clone_box());
    }
}

/// Runs `members` consumers of a fresh stream; returns events/s from the first publish
/// until their sinks hold all `events`, and events/s of the publishing alone (until
/// JetStream acknowledged the last publish).
fn end_to_end(
    url: &str,
    dir: &Path,
    round: &str,
    events: &[Box<AnyEvent>],
    registry: &Registry,
    members: usize,
) -> (f64, f64) {
    let prefix = format!("bench{round}");
    let options = SinkOptions {
        partitions: Some(PARTITIONS),
        ..SinkOptions::new(DeadLetter::file(dir.join(format!("{round}.publish.dead"))))
    };
    let spec = SinkSpec::Nats {
        url: url.to_owned(),
        subject_prefix: prefix.clone(),
    };
    let publisher: Box<dyn Sink> = events_sinks::open(&spec, options).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sinks: Vec<Arc<dyn Sink>> = (0..members)
        .map(|i| {
            let path = dir.join(format!("{round}.{i}.ndjson"));
            let file = FileOptions {
                append: true,
                fsync: Fsync::OnCommit,
            };
            Arc::new(NdjsonSink::open_with(&Output::File(path), file).unwrap()) as Arc<dyn Sink>
        })
        .collect();
    let threads: Vec<_> = sinks
        .iter()
        .enumerate()
        .map(|(i, sink)| {
            let config = ConsumeConfig {
                dead_letter: dir.join(format!("{round}.{i}.dead")),
                ..ConsumeConfig::new(url, prefix.clone(), "bench", format!("m{i}"))
            };
            let (sink, stop, registry) = (Arc::clone(sink), Arc::clone(&stop), registry.clone());
            std::thread::spawn(move || {
                let limits = Limits::default();
                let ingest =
                    |partitions: u32| limits.partition_builder(&registry, partitions as usize);
                consume(&config, &ingest, sink, &stop).unwrap()
            })
        })
        .collect();
    // Let the members split the partitions before the clock starts (renewals every
    // 2.7 s; a few rounds settle the shares).
    std::thread::sleep(Duration::from_secs(if members > 1 { 9 } else { 2 }));
    let started = Instant::now();
    for event in events {
        publisher.send(&**event).unwrap();
    }
    publisher
        .flush(Instant::now() + Duration::from_secs(600))
        .unwrap();
    let published = started.elapsed();
    let want = events.len() as u64;
    let until = Instant::now() + Duration::from_secs(600);
    while sinks.iter().map(|sink| sink.stats().delivered).sum::<u64>() < want {
        assert!(
            Instant::now() < until,
            "the members did not deliver everything"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    for thread in threads {
        thread.join().unwrap();
    }
    publisher
        .close(Instant::now() + Duration::from_secs(10))
        .unwrap();
    let rate = |time: Duration| events.len() as f64 / time.as_secs_f64();
    (rate(elapsed), rate(published))
}

fn main() {
    let Some(bin) = std::env::var_os("NATS_SERVER_BIN") else {
        eprintln!("consume bench: set NATS_SERVER_BIN to a nats-server binary");
        return;
    };
    let registry = Registry::all();
    let mut input = Vec::new();
    simulate(
        &registry,
        &Simulation {
            actions: 20_000,
            seed: 1,
            invalid_rate: 0.0,
        },
        &mut input,
    )
    .unwrap();
    let limits = Limits {
        threads: Some(1),
        ..Limits::default()
    };
    let mut ingest: Ingest<Collect> = limits.ingest(&registry, Collect(Vec::new()));
    for line in input.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let _ = ingest.ingest(line);
    }
    let events = ingest.into_emitter().0;

    let started = Instant::now();
    let stats = check_stream(
        &input[..],
        &registry,
        &limits,
        None,
        &ProgressBar::hidden(),
        &Shutdown::manual(),
    )
    .unwrap();
    let check = stats.events as f64 / started.elapsed().as_secs_f64();

    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = nats_server(Path::new(&bin), &dir.path().join("store"));
    let one = end_to_end(&url, dir.path(), "one", &events, &registry, 1);
    let two = end_to_end(&url, dir.path(), "two", &events, &registry, 2);
    let _ = server.kill();
    let _ = server.wait();
    println!(
        "{} events, {PARTITIONS} partitions: publish → JetStream → consume → NDJSON (fdatasync)",
        events.len()
    );
    println!(
        "  1 member:  {:>12.0} events/s (publishing alone: {:.0} events/s)",
        one.0, one.1
    );
    println!(
        "  2 members: {:>12.0} events/s (publishing alone: {:.0} events/s)",
        two.0, two.1
    );
    println!("  check (1 thread, same events): {check:>12.0} events/s");
}
