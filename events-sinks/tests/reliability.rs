//! The reliability claims, against a real HTTP collector on 127.0.0.1:
//! a flaky receiver loses nothing and (after dedupe) sees each event once; a receiver down
//! for the whole run loses nothing under either full-queue policy; and memory stays
//! bounded by the queue while it is down. Figures are printed (`--nocapture`) for the
//! README.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use events_sinks::{
    DeadLetter, FullQueuePolicy, HttpConfig, HttpSink, QueueConfig, RetryPolicy, Sink,
};

/// splitmix64: the collector's dice, with a fixed seed so every run fails the same way.
fn dice(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed;
    move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as f64 / u64::MAX as f64
    }
}

#[test]
fn a_receiver_failing_30_percent_and_stalling_5_percent_gets_every_event_exactly_once_after_dedupe()
{
    const N: u64 = 100_000;
    let mut roll = dice(0x5eed);
    // 30% failures, split between server errors, rate limiting and connection resets;
    // 5% stalls past the client's timeout (processed, but the answer comes too late).
    let collector = Collector::start(move |_| {
        let r = roll();
        match r {
            r if r < 0.15 => Fault::Status(if r < 0.10 { 500 } else { 503 }),
            r if r < 0.22 => Fault::TooManyRequests(0),
            r if r < 0.30 => Fault::Reset,
            r if r < 0.35 => Fault::Stall(Duration::from_millis(300)),
            _ => Fault::Ok,
        }
    });
    let config = HttpConfig {
        queue: QueueConfig {
            capacity: 5_000,
            batch_size: 100,
            max_batch_age: Duration::from_millis(20),
            max_in_flight: 4,
            full_queue: FullQueuePolicy::Block,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(2),
                max_backoff: Duration::from_millis(50),
                max_retries: None,
                timeout: Duration::from_millis(150),
                max_retry_after: Duration::from_secs(60),
            },
        },
        ..HttpConfig::new(collector.url())
    };
    let dead_letter = DeadLetter::memory();
    let sink = HttpSink::new(config, dead_letter.clone()).unwrap();
    let started = Instant::now();
    for i in 0..N {
        sink.send(&*event(i)).unwrap();
    }
    let stats = sink.close(deadline(120)).unwrap();
    let elapsed = started.elapsed();

    assert_eq!(stats.delivered, N, "{stats:?}");
    assert_eq!(
        stats.dead_lettered,
        0,
        "{:?}",
        dead_letter.records().first()
    );
    collector.seen(|seen| {
        let keys = seen.accepted_keys();
        let counts = tally(&keys);
        // At least once: every event arrived. Exactly once after dedupe by key.
        assert_eq!(counts.len() as u64, N);
        for i in 0..N {
            assert!(counts.contains_key(key_of(&event_json(i)).as_str()), "event {i} never arrived");
        }
        let duplicates = keys.len() - counts.len();
        // Every event of a failed request was retried; stalls and client-side timeouts add more.
        assert!(stats.retried >= seen.failed_events() as u64, "{stats:?} vs {}", seen.failed_events());
        assert!(duplicates as u64 <= stats.retried);
        assert!(duplicates > 0, "the stalls must have produced copies");
        eprintln!(
            "RELIABILITY flaky receiver: {N} events, {} requests (500/503: {}, 429: {}, reset: {}, stall: {}), \
             {} events retried, {} copies dropped by key at the receiver, {} delivered, {} dead-lettered, {:.1} s",
            seen.requests.len(),
            seen.count("status"),
            seen.count("429"),
            seen.count("reset"),
            seen.count("stall"),
            stats.retried,
            duplicates,
            stats.delivered,
            stats.dead_lettered,
            elapsed.as_secs_f64(),
        );
    });
}

fn down_config(
    port: u16,
    full_queue: FullQueuePolicy,
    max_retries: Option<u32>,
    backoff_ms: u64,
    max_in_flight: usize,
) -> HttpConfig {
    HttpConfig {
        queue: QueueConfig {
            capacity: 1_000,
            batch_size: 100,
            max_batch_age: Duration::from_millis(10),
            max_in_flight,
            full_queue,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(backoff_ms),
                max_backoff: Duration::from_millis(4 * backoff_ms),
                max_retries,
                timeout: Duration::from_secs(2),
                max_retry_after: Duration::from_secs(60),
            },
        },
        ..HttpConfig::new(format!("http://127.0.0.1:{port}/batch"))
    }
}

/// The largest event's bytes in the queue (JSON plus key): the per-event memory bound.
fn largest_event(n: u64) -> usize {
    (0..n)
        .map(|i| {
            let json = event_json(i);
            serde_json::to_vec(&json).unwrap().len() + key_of(&json).len()
        })
        .max()
        .unwrap()
}

#[test]
fn with_the_receiver_down_for_the_whole_run_the_spill_policy_dead_letters_every_event() {
    const N: u64 = 20_000;
    let port = free_port(); // nothing listens there
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead.ndjson");
    let sink = HttpSink::new(
        down_config(port, FullQueuePolicy::Spill, Some(3), 100, 1),
        DeadLetter::file(&path),
    )
    .unwrap();
    for i in 0..N {
        // Spill never blocks the producer.
        sink.send(&*event(i)).unwrap();
        let stats = sink.stats();
        assert!(stats.queued <= 1_000, "{stats:?}");
    }
    // One batch in flight, ~0.5 s of backoff each: the queue fills whatever the machine's
    // speed, and closing after a second dead-letters what is still queued.
    let stats = sink.close(Instant::now() + Duration::from_secs(1)).unwrap();
    assert_eq!((stats.delivered, stats.dead_lettered), (0, N), "{stats:?}");
    assert!(stats.peak_queued <= 1_000);
    assert!(
        stats.peak_queued_bytes <= 1_000 * largest_event(N),
        "{stats:?}"
    );

    let records = dead_letter_records(&path);
    assert_eq!(records.len() as u64, N);
    let keys: HashSet<String> = records
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len() as u64, N, "each event dead-lettered once");
    let spilled = records
        .iter()
        .filter(|r| r["reason"] == "queue_full")
        .count();
    let exhausted = records
        .iter()
        .filter(|r| r["reason"] == "retries_exhausted")
        .count();
    let shutdown = records.iter().filter(|r| r["reason"] == "shutdown").count();
    assert_eq!(spilled + exhausted + shutdown, N as usize);
    assert!(
        spilled > 0,
        "spilled {spilled}, exhausted {exhausted}, shutdown {shutdown}"
    );
    for i in 0..N {
        assert!(keys.contains(&key_of(&event_json(i))), "event {i} lost");
    }
    eprintln!(
        "RELIABILITY receiver down, spill: {N} events, {spilled} spilled (queue full), {exhausted} after 3 retries, \
         {shutdown} still queued at close, 0 lost; peak queue {} events / {} bytes (capacity 1000)",
        stats.peak_queued, stats.peak_queued_bytes
    );
}

#[test]
fn with_the_receiver_down_the_block_policy_holds_the_producer_and_delivers_everything_once_it_returns(
) {
    const N: u64 = 20_000;
    let port = free_port();
    let sink = Arc::new(
        HttpSink::new(
            down_config(port, FullQueuePolicy::Block, None, 5, 4),
            DeadLetter::memory(),
        )
        .unwrap(),
    );
    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let (sink, sent) = (Arc::clone(&sink), Arc::clone(&sent));
        std::thread::spawn(move || {
            for i in 0..N {
                sink.send(&*event(i)).unwrap();
                sent.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    // The producer fills the queue, then waits: memory stays at the bound.
    wait_until(|| sink.stats().queued == 1_000);
    std::thread::sleep(Duration::from_millis(200));
    let stats = sink.stats();
    assert_eq!(
        sent.load(Ordering::SeqCst),
        1_000,
        "the producer must be held at the bound"
    );
    assert_eq!(
        (
            stats.queued,
            stats.peak_queued,
            stats.delivered,
            stats.dead_lettered
        ),
        (1_000, 1_000, 0, 0)
    );
    assert!(stats.retried > 0, "the sink keeps trying: {stats:?}");
    let held_bytes = stats.queued_bytes;
    assert!(held_bytes <= 1_000 * largest_event(N));

    // The receiver comes back on the same port.
    let collector = Collector::start_on(port, |_| Fault::Ok);
    producer.join().unwrap();
    let stats = sink.close(deadline(30)).unwrap();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.queued),
        (N, 0, 0),
        "{stats:?}"
    );
    assert!(stats.peak_queued <= 1_000);
    collector.seen(|seen| {
        let keys = seen.accepted_keys();
        let counts = tally(&keys);
        assert_eq!(counts.len() as u64, N, "every event arrived");
        assert!((keys.len() - counts.len()) as u64 <= stats.retried);
    });
    eprintln!(
        "RELIABILITY receiver down, block: producer held at 1000 queued events ({held_bytes} bytes) while down; \
         {N} delivered once it returned, 0 dead-lettered, {} retried",
        stats.retried
    );
}
