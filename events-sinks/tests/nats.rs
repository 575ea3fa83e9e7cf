//! The NATS JetStream sink against a real nats-server (`NATS_SERVER_BIN`, or an already
//! running one at `NATS_URL`): publish, consume the stream back, compare; and a server
//! killed and restarted mid-replay.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use events_sinks::{DeadLetter, NatsConfig, NatsSink, QueueConfig, RetryPolicy, Sink, SinkError};
use serde_json::Value;

/// One stored message: subject, `Nats-Msg-Id`, payload.
type Stored = (String, String, Value);

/// Every message of `stream`, by sequence.
fn read_stream(url: &str, stream: &str) -> Vec<Stored> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let context = jetstream::new(client);
        let mut stream = context.get_stream(stream).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        let mut messages = Vec::with_capacity(state.messages as usize);
        for sequence in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(sequence).await.unwrap();
            let id = message
                .headers
                .get("Nats-Msg-Id")
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default();
            messages.push((
                message.subject.to_string(),
                id,
                serde_json::from_slice(&message.payload).unwrap(),
            ));
        }
        messages
    })
}

fn unique_prefix(test: &str) -> String {
    format!("{test}{}", std::process::id())
}

#[test]
fn a_replay_is_published_acknowledged_and_consumed_back_unchanged() {
    let store = tempfile::tempdir().unwrap();
    // An already running server (`.ci/run` starts one) or our own.
    let (_server, url) = match std::env::var("NATS_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let Some(bin) = NatsServer::binary(
                "a_replay_is_published_acknowledged_and_consumed_back_unchanged",
            ) else {
                return;
            };
            let server = NatsServer::start(bin, store.path());
            let url = server.url();
            (Some(server), url)
        }
    };
    let prefix = unique_prefix("roundtrip");
    let dead_letter = DeadLetter::memory();
    let config = NatsConfig::new(url.clone(), prefix.clone());
    let stream = config.stream.clone().unwrap().name;
    let sink = NatsSink::connect(config, dead_letter.clone()).unwrap();
    let sent = events(2_000);
    for event in &sent {
        sink.send(&**event).unwrap();
    }
    let stats = sink.close(deadline(30)).unwrap();
    assert_eq!(
        (stats.delivered, stats.dead_lettered),
        (2_000, 0),
        "{stats:?}"
    );
    assert!(dead_letter.is_empty());

    let stored = read_stream(&url, &stream);
    assert_eq!(stored.len(), 2_000);
    // Batches in flight at once may land in any order; each event must land once, as sent.
    let mut expected: std::collections::HashMap<String, Value> = (0..2_000)
        .map(|i| (key_of(&event_json(i)), event_json(i)))
        .collect();
    for (subject, id, payload) in &stored {
        let event = expected
            .remove(id)
            .unwrap_or_else(|| panic!("unexpected or repeated id {id}"));
        assert_eq!(payload, &event);
        assert_eq!(id, &key_of(payload));
        assert_eq!(
            subject,
            &format!(
                "{prefix}.{}.{}",
                event["actionMediaType"].as_str().unwrap(),
                event["actionState"].as_str().unwrap()
            )
        );
    }
    assert!(expected.is_empty());
}

#[test]
fn a_server_killed_mid_replay_stores_every_event_exactly_once_or_dead_letters_it() {
    let Some(bin) = NatsServer::binary(
        "a_server_killed_mid_replay_stores_every_event_exactly_once_or_dead_letters_it",
    ) else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let mut server = NatsServer::start(bin, store.path());
    let dead_path = store.path().join("dead.ndjson");
    let mut config = NatsConfig::new(server.url(), unique_prefix("restart"));
    config.queue = QueueConfig {
        capacity: 2_000,
        batch_size: 200,
        max_batch_age: Duration::from_millis(20),
        max_in_flight: 4,
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            max_retries: None,
            timeout: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(60),
        },
        ..QueueConfig::default()
    };
    let stream = config.stream.clone().unwrap().name;
    let sink = Arc::new(NatsSink::connect(config, DeadLetter::file(&dead_path)).unwrap());
    const N: u64 = 20_000;
    let sent = Arc::new(AtomicU64::new(0));
    let producer = {
        let (sink, sent) = (Arc::clone(&sink), Arc::clone(&sent));
        std::thread::spawn(move || {
            for i in 0..N {
                sink.send(&*event(i)).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let until = deadline(30);
    while sink.stats().delivered < 5_000 {
        assert!(std::time::Instant::now() < until, "{:?}", sink.stats());
        std::thread::sleep(Duration::from_millis(2));
    }
    server.kill();
    std::thread::sleep(Duration::from_millis(700));
    server.restart();
    producer.join().unwrap();
    let stats = sink.close(deadline(60)).unwrap();
    eprintln!("nats restart: {stats:?}");

    let stored = read_stream(&server.url(), &stream);
    let dead = dead_letter_records(&dead_path);
    let stored_keys: Vec<String> = stored.iter().map(|(_, id, _)| id.clone()).collect();
    let counts = tally(&stored_keys);
    let duplicates: Vec<_> = counts.iter().filter(|(_, &n)| n > 1).collect();
    assert!(duplicates.is_empty(), "stored twice: {duplicates:?}");
    let dead_keys: HashSet<String> = dead
        .iter()
        .map(|r| r["key"].as_str().unwrap().to_owned())
        .collect();
    for i in 0..N {
        let key = key_of(&event_json(i));
        assert!(
            counts.contains_key(key.as_str()) || dead_keys.contains(&key),
            "event {i} ({key}) lost"
        );
    }
    assert_eq!(stats.delivered + stats.dead_lettered, N, "{stats:?}");
    assert!(
        stats.retried > 0,
        "the restart must have cost retries: {stats:?}"
    );
    eprintln!(
        "nats restart: {N} events, {} stored once each, {} dead-lettered, {} retried",
        stored.len(),
        dead.len(),
        stats.retried
    );
}

#[test]
fn over_tls_events_are_acknowledged_and_an_untrusted_server_is_refused() {
    let Some(bin) =
        NatsServer::binary("over_tls_events_are_acknowledged_and_an_untrusted_server_is_refused")
    else {
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let server = NatsServer::start_tls(bin, store.path());
    assert!(server.url().starts_with("tls://"));
    let prefix = unique_prefix("tls");

    let mut config = NatsConfig::new(server.url(), prefix.clone());
    config.ca_file = Some(tls_fixture("ca.pem"));
    let dead_letter = DeadLetter::memory();
    let sink = NatsSink::connect(config, dead_letter.clone()).unwrap();
    for event in events(50) {
        sink.send(&*event).unwrap();
    }
    // Delivered means acknowledged by JetStream, which only a TLS connection reaches.
    let stats = sink.close(deadline(30)).unwrap();
    assert_eq!((stats.delivered, stats.dead_lettered), (50, 0), "{stats:?}");
    assert!(dead_letter.is_empty());

    // Trusting another CA: the connection is refused, up front, saying why.
    let mut config = NatsConfig::new(server.url(), prefix.clone());
    config.ca_file = Some(tls_fixture("other-ca.pem"));
    match NatsSink::connect(config, DeadLetter::memory()) {
        Err(SinkError::Nats { reason, .. }) => {
            assert!(reason.to_lowercase().contains("certificate"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // A CA file that is not there is a configuration error naming it.
    let mut config = NatsConfig::new(server.url(), prefix);
    config.ca_file = Some(tls_fixture("missing.pem"));
    match NatsSink::connect(config, DeadLetter::memory()) {
        Err(SinkError::Config(message)) => assert!(message.contains("missing.pem"), "{message}"),
        other => panic!("{other:?}"),
    }
}
