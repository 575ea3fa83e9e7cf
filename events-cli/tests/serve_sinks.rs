//! `webaction serve` answers 200 only once its sink has the events: an HTTP collector
//! behind it has accepted them, NATS JetStream has acknowledged them.

mod collector;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use collector::{batch, Server};

/// A collector behind `serve`: keeps the action ids of every batch it accepts, and only
/// then answers 200.
fn downstream() -> (String, Arc<Mutex<HashSet<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/collect", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(HashSet::new()));
    let keep = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let keep = Arc::clone(&keep);
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                let mut reader = BufReader::new(stream);
                // Keep-alive: one request after another on the connection.
                loop {
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap();
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let events: Vec<serde_json::Value> = serde_json::from_slice(&body).unwrap();
                    keep.lock().unwrap().extend(
                        events
                            .iter()
                            .map(|e| e["actionId"].as_str().unwrap().to_owned()),
                    );
                    writer
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                }
            });
        }
    });
    (url, received)
}

#[test]
fn an_http_sink_has_accepted_every_event_before_the_200() {
    let (url, received) = downstream();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &url]);
    for _ in 0..20 {
        let (body, ids) = batch(25);
        let answer = server.post_events("", &body);
        assert_eq!(answer.status, 200, "{}", answer.text());
        let received = received.lock().unwrap();
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
