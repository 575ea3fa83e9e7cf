//! `webaction serve` answers 200 only once its sink has the events: an HTTP collector
//! behind it has accepted them, NATS JetStream has acknowledged them.

mod collector;
mod downstream;

use std::collections::HashSet;

use collector::{batch, Server};

#[test]
fn an_http_sink_has_accepted_every_event_before_the_200() {
    let (url, bodies) = downstream::server(200);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &url]);
    for _ in 0..20 {
        let (body, ids) = batch(25);
        let answer = server.post_events("", &body);
        assert_eq!(answer.status, 200, "{}", answer.text());
        // What the collector behind had kept when the 200 was sent.
        let received: HashSet<String> = bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|batch| batch.as_array().unwrap().clone())
            .map(|event| event["actionId"].as_str().unwrap().to_owned())
            .collect();
        for id in &ids {
            assert!(
                received.contains(&id.to_string()),
                "{id} answered 200 before the collector behind had it"
            );
        }
    }
    assert!(!dir.path().join("webaction-events.ndjson").exists());
}

#[test]
fn a_nats_sink_has_acknowledged_every_event_before_the_200() {
    let Ok(url) = std::env::var("NATS_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set NATS_URL (.ci/run starts nats-server)"
        );
        eprintln!("\n*** SKIPPED a_nats_sink_has_acknowledged_every_event_before_the_200: set NATS_URL ***");
        return;
    };
    let prefix = format!("servetest{}", std::process::id());
    let stream = events_sinks::StreamSetup::for_prefix(&prefix).name;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &format!("{url}/{prefix}")]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let context = runtime
        .block_on(async { async_nats::jetstream::new(async_nats::connect(&url).await.unwrap()) });
    let mut expected = 0;
    for _ in 0..10 {
        let (body, _) = batch(30);
        let answer = server.post_events(&format!("?batchId={}", uuid::Uuid::new_v4()), &body);
        assert_eq!(answer.status, 200, "{}", answer.text());
        expected += 30;
        let stored = runtime.block_on(async {
            let mut stream = context.get_stream(&stream).await.unwrap();
            stream.info().await.unwrap().state.messages
        });
        assert_eq!(
            stored, expected,
            "JetStream holds fewer events than were answered 200"
        );
    }
}
