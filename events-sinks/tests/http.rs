//! The HTTP batch sink against a real HTTP server on 127.0.0.1 that answers 500, 429
//! with `Retry-After`, 400, stalls past the timeout, or resets the connection on the
//! requests we choose.

mod common;

use std::time::{Duration, Instant};

use common::*;
use events_sinks::{
    BodyShape, DeadLetter, HttpConfig, HttpSink, QueueConfig, RetryPolicy, Sink, SinkError,
};
use serde_json::{json, Value};

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
        max_retries: Some(5),
        timeout: Duration::from_millis(500),
        max_retry_after: Duration::from_secs(60),
    }
}

fn http_config(collector: &Collector, batch_size: usize) -> HttpConfig {
    HttpConfig {
        queue: QueueConfig {
            batch_size,
            max_batch_age: Duration::from_secs(60),
            retry: quick_retries(),
            ..QueueConfig::default()
        },
        ..HttpConfig::new(collector.url())
    }
}

fn send_all(sink: &HttpSink, n: u64) {
    for event in events(n) {
        sink.send(&*event).unwrap();
    }
}

#[test]
fn events_go_out_unchanged_in_json_arrays_of_batch_size() {
    let collector = Collector::start(|_| Fault::Ok);
    let sink = HttpSink::new(http_config(&collector, 500), DeadLetter::memory()).unwrap();
    send_all(&sink, 1_200);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (1_200, 0, 0)
    );
    collector.seen(|seen| {
        let mut sizes: Vec<usize> = seen
            .requests
            .iter()
            .map(|(_, _, keys)| keys.len())
            .collect();
        sizes.sort_unstable();
        assert_eq!(sizes, [200, 500, 500]);
        let mut accepted = seen.accepted.clone();
        accepted.sort_by_key(|e| e["actionId"].as_str().unwrap().to_owned());
        let mut expected: Vec<Value> = (0..1_200).map(event_json).collect();
        expected.sort_by_key(|e| e["actionId"].as_str().unwrap().to_owned());
        // Enrichment (`pageUrl`) and every documented field, as sent.
        assert_eq!(accepted, expected);
    });
}

#[test]
fn a_partial_batch_goes_out_once_its_oldest_event_is_old_enough() {
    let collector = Collector::start(|_| Fault::Ok);
    let mut config = http_config(&collector, 500);
    config.queue.max_batch_age = Duration::from_millis(30);
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 3);
    // No flush, no close: only the batch's age can send it.
    collector.wait_for_accepted(3);
    wait_until(|| sink.stats().delivered == 3);
    assert_eq!(collector.seen(|s| s.requests.len()), 1);
}

#[test]
fn track_batches_carry_the_key_the_customer_and_every_field() {
    let collector = Collector::start(|_| Fault::Ok);
    let mut config = http_config(&collector, 10);
    config.shape = BodyShape::TrackBatch;
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 3);
    sink.close(deadline(10)).unwrap();
    let body = collector.seen(|s| s.bodies[0].clone());
    assert_eq!(body["context"]["library"]["name"], "webaction-events");
    let batch = body["batch"].as_array().unwrap();
    assert_eq!(batch.len(), 3);
    for (call, i) in batch.iter().zip(0..) {
        let event = event_json(i);
        let state = event["actionState"].as_str().unwrap();
        let mut title = state.to_owned();
        title[..1].make_ascii_uppercase();
        assert_eq!(
            call,
            &json!({
                "type": "track",
                "messageId": key_of(&event),
                "anonymousId": event["customerId"],
                "event": format!("Web Action {title}"),
                "properties": event,
            })
        );
    }
    assert_eq!(batch[0]["event"], "Web Action Offered");
}

#[test]
fn server_errors_and_resets_are_retried_until_delivered() {
    let collector = Collector::start(|request| match request {
        0 => Fault::Status(500),
        1 => Fault::Reset,
        2 => Fault::Status(503),
        _ => Fault::Ok,
    });
    let sink = HttpSink::new(http_config(&collector, 100), DeadLetter::memory()).unwrap();
    send_all(&sink, 100);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (100, 300, 0)
    );
    collector.seen(|seen| {
        assert_eq!(seen.requests.len(), 4);
        assert_eq!(seen.accepted.len(), 100);
    });
}

#[test]
fn retry_after_is_honoured() {
    let collector = Collector::start(|request| match request {
        0 => Fault::TooManyRequests(1),
        _ => Fault::Ok,
    });
    let sink = HttpSink::new(http_config(&collector, 10), DeadLetter::memory()).unwrap();
    send_all(&sink, 10);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!((stats.delivered, stats.retried), (10, 10));
    collector.seen(|seen| {
        let waited = seen.requests[1].0 - seen.requests[0].0;
        // The backoff alone would be at most 5 ms.
        assert!(
            waited >= Duration::from_millis(990),
            "retried after {waited:?}"
        );
    });
}

#[test]
fn a_retry_after_longer_than_the_cap_waits_only_the_cap_and_counts_as_a_retry() {
    // An hour, and the largest number a header can say: neither may block the sink or
    // overflow a deadline.
    for seconds in [3600, u64::MAX] {
        let collector = Collector::start(move |request| match request {
            0 | 1 => Fault::TooManyRequests(seconds),
            _ => Fault::Ok,
        });
        let mut config = http_config(&collector, 10);
        config.queue.retry.max_retry_after = Duration::from_secs(1);
        let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
        send_all(&sink, 10);
        sink.flush(deadline(20))
            .unwrap_or_else(|error| panic!("Retry-After {seconds}: {error}"));
        let stats = sink.close(deadline(1)).unwrap();
        assert_eq!((stats.delivered, stats.retried), (10, 20), "{seconds}");
        assert_eq!(collector.seen(|seen| seen.count("429")), 2);
    }
}

#[test]
fn a_stall_past_the_timeout_is_retried_and_the_key_lets_the_receiver_drop_the_copy() {
    let collector = Collector::start(|request| match request {
        0 => Fault::Stall(Duration::from_millis(400)),
        _ => Fault::Ok,
    });
    let mut config = http_config(&collector, 50);
    config.queue.retry.timeout = Duration::from_millis(100);
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 50);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (50, 50, 0)
    );
    let keys = collector.seen(|s| s.accepted_keys());
    assert_eq!(
        keys.len(),
        100,
        "the stalled request was processed, then sent again"
    );
    let counts = tally(&keys);
    assert_eq!(counts.len(), 50);
    assert!(counts.values().all(|&n| n == 2));
}

#[test]
fn a_400_sends_the_batch_to_the_dead_letter_with_status_and_body() {
    let collector = Collector::start(|request| match request {
        0 => Fault::Reject(400, "field `actionMapVersion`: expected a string"),
        _ => Fault::Ok,
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead.ndjson");
    let sink = HttpSink::new(http_config(&collector, 20), DeadLetter::file(&path)).unwrap();
    send_all(&sink, 40);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (20, 0, 20)
    );
    let records = dead_letter_records(&path);
    assert_eq!(records.len(), 20);
    let rejected_keys = collector.seen(|s| s.requests[0].2.clone());
    for (record, key) in records.iter().zip(&rejected_keys) {
        assert_eq!(record["sink"], "http");
        assert_eq!(record["reason"], "rejected");
        assert_eq!(record["status"], 400);
        assert_eq!(
            record["body"],
            "field `actionMapVersion`: expected a string"
        );
        assert_eq!(&record["key"], key);
        // The event itself, replayable as is.
        assert_eq!(&key_of(&record["event"]), key);
        assert!(record["event"]["customerId"].is_string());
    }
}

#[test]
fn when_retries_run_out_the_events_go_to_the_dead_letter_with_the_last_error() {
    let collector = Collector::start(|_| Fault::Status(503));
    let dead_letter = DeadLetter::memory();
    let mut config = http_config(&collector, 10);
    config.queue.retry.max_retries = Some(2);
    let sink = HttpSink::new(config, dead_letter.clone()).unwrap();
    send_all(&sink, 10);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (0, 20, 10)
    );
    assert_eq!(collector.seen(|s| s.requests.len()), 3);
    for record in dead_letter.records() {
        let record: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["reason"], "retries_exhausted");
        assert_eq!(record["attempts"], 3, "the first and two retries");
        assert!(
            record["error"].as_str().unwrap().contains("503"),
            "{record}"
        );
    }
}

#[test]
fn close_waits_for_in_flight_batches_then_dead_letters_what_is_left() {
    // Delivered before close returns: the flush on shutdown.
    let collector = Collector::start(|_| Fault::Stall(Duration::from_millis(150)));
    let mut config = http_config(&collector, 25);
    config.queue.retry.timeout = Duration::from_secs(5);
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 100);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!((stats.delivered, stats.queued), (100, 0));

    // A receiver that never recovers: at the deadline the rest goes to the dead letter.
    let collector = Collector::start(|_| Fault::Status(500));
    let dead_letter = DeadLetter::memory();
    let mut config = http_config(&collector, 25);
    config.queue.retry.max_retries = None;
    let sink = HttpSink::new(config, dead_letter.clone()).unwrap();
    send_all(&sink, 100);
    let started = Instant::now();
    let stats = sink
        .close(Instant::now() + Duration::from_millis(300))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "close overran its deadline"
    );
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.queued),
        (0, 100, 0)
    );
    assert!(dead_letter
        .records()
        .iter()
        .all(|r| r.contains("\"reason\":\"shutdown\"")));
    assert!(matches!(sink.send(&*event(0)), Err(SinkError::Closed)));
}

#[test]
fn shut_down_wakes_a_send_blocked_on_a_full_queue_and_dead_letters_it_as_shutdown() {
    // A collector that stalls far past the test: the queue fills and the producer blocks.
    let collector = Collector::start(|_| Fault::Stall(Duration::from_secs(600)));
    let dead_letter = DeadLetter::memory();
    let mut config = http_config(&collector, 5);
    config.queue.capacity = 10;
    config.queue.max_in_flight = 1;
    config.queue.max_batch_age = Duration::from_millis(1);
    config.queue.retry.timeout = Duration::from_secs(600);
    let sink = std::sync::Arc::new(HttpSink::new(config, dead_letter.clone()).unwrap());
    let producer = {
        let sink = std::sync::Arc::clone(&sink);
        std::thread::spawn(move || {
            for event in events(50) {
                sink.send(&*event).unwrap();
            }
        })
    };
    wait_until(|| sink.stats().queued == 10 && collector.seen(|s| !s.requests.is_empty()));
    sink.shut_down(Instant::now() + Duration::from_millis(100));
    // Every send returned Ok: the blocked one and the later ones were dead-lettered.
    producer.join().unwrap();
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!(
        (stats.delivered, stats.dead_lettered, stats.queued),
        (0, 50, 0)
    );
    assert!(dead_letter
        .records()
        .iter()
        .all(|r| r.contains("\"reason\":\"shutdown\"")));
    // A second call with an earlier deadline is allowed, and later sends still go to the
    // dead letter rather than failing.
    sink.shut_down(Instant::now());
    sink.send(&*event(50)).unwrap();
    assert_eq!(dead_letter.len(), 51);
}

#[test]
fn flush_sends_partial_batches_and_reports_a_missed_deadline() {
    let collector = Collector::start(|_| Fault::Ok);
    let sink = HttpSink::new(http_config(&collector, 500), DeadLetter::memory()).unwrap();
    send_all(&sink, 7);
    sink.flush(deadline(10)).unwrap();
    assert_eq!(collector.seen(|s| s.accepted.len()), 7);

    let down = Collector::start(|_| Fault::Status(500));
    let mut config = http_config(&down, 500);
    config.queue.retry.max_retries = None;
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 7);
    match sink.flush(Instant::now() + Duration::from_millis(100)) {
        Err(SinkError::FlushTimeout { pending: 7 }) => {}
        other => panic!("{other:?}"),
    }
    let stats = sink.close(Instant::now()).unwrap();
    assert_eq!(stats.dead_lettered, 7);
}

#[test]
fn urls_the_sink_cannot_post_to_are_refused_up_front() {
    for url in ["ftp://x/y", "not a url", "https:///batch"] {
        match HttpSink::new(HttpConfig::new(url), DeadLetter::memory()) {
            Err(SinkError::Config(message)) => assert!(message.contains(url), "{message}"),
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[test]
fn https_delivers_to_a_collector_whose_certificate_the_ca_file_signs() {
    let collector = Collector::start_tls(|_| Fault::Ok);
    assert!(collector.url().starts_with("https://"));
    let config = HttpConfig {
        ca_file: Some(tls_fixture("ca.pem")),
        ..http_config(&collector, 4)
    };
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    send_all(&sink, 10);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!((stats.delivered, stats.dead_lettered), (10, 0));
    let mut expected: Vec<String> = (0..10).map(|i| key_of(&event_json(i))).collect();
    let mut accepted = collector.seen(|s| s.accepted_keys());
    expected.sort();
    accepted.sort();
    assert_eq!(accepted, expected);
}

#[test]
fn an_untrusted_certificate_is_retried_then_dead_lettered_with_the_reason() {
    // Another CA is trusted, not the collector's (nor does the system trust it). Giving
    // one keeps the test off the system store, which a bare machine may not have.
    let collector = Collector::start_tls(|_| Fault::Ok);
    let dead_letter = DeadLetter::memory();
    let mut config = http_config(&collector, 10);
    config.ca_file = Some(tls_fixture("other-ca.pem"));
    config.queue.retry.max_retries = Some(1);
    let sink = HttpSink::new(config, dead_letter.clone()).unwrap();
    send_all(&sink, 3);
    let stats = sink.close(deadline(10)).unwrap();
    assert_eq!((stats.delivered, stats.dead_lettered), (0, 3));
    assert_eq!(
        collector.seen(|s| s.requests.len()),
        0,
        "no request got through"
    );
    let records = dead_letter.records();
    assert_eq!(records.len(), 3);
    for record in records {
        let record: Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["reason"], "retries_exhausted");
        let error = record["error"].as_str().unwrap();
        assert!(error.contains("certificate"), "{error}");
    }
}

#[test]
fn a_ca_file_that_cannot_be_used_is_refused_up_front() {
    let missing = tls_fixture("missing.pem");
    let cases = [
        ("https://127.0.0.1:1/batch", missing.clone(), "missing.pem"),
        // A key, not a certificate.
        (
            "https://127.0.0.1:1/batch",
            tls_fixture("server.key"),
            "no PEM certificate",
        ),
        (
            "http://127.0.0.1:1/batch",
            tls_fixture("ca.pem"),
            "only applies to an https://",
        ),
    ];
    for (url, ca_file, expected) in cases {
        let config = HttpConfig {
            ca_file: Some(ca_file),
            ..HttpConfig::new(url)
        };
        match HttpSink::new(config, DeadLetter::memory()) {
            Err(SinkError::Config(message)) => {
                assert!(message.contains(expected), "{message}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}
