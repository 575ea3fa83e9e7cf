//! `webaction serve` answers 200 only once its sink has the events: an HTTP collector
//! behind it has accepted them, NATS JetStream has acknowledged them.

mod collector;
mod downstream;

use std::collections::HashSet;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// The sink fails after the events were tracked: the answer is 503, and the resend of
/// the batch (same `batchId`) has the same events delivered with the same verdicts,
/// not judged a second time (which would dead-letter every one as a repeated state).
#[test]
fn a_resend_after_the_sink_failed_delivers_the_tracked_events_without_judging_them_again() {
    // The collector behind refuses the first delivery, then takes everything.
    let (url, bodies) = downstream::server_with(|n| if n == 0 { (503, "") } else { (200, "") });
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &url, "--max-retries", "0"]);
    let (events, ids) = batch(5);
    let body = format!("{events}\nnot json\n");
    let query = format!("?batchId={}", uuid::Uuid::new_v4());

    let first = server.post_events(&query, &body);
    assert_eq!(first.status, 503, "{}", first.text());
    assert!(first.header("retry-after").is_some());

    let resent = server.post_events(&query, &body);
    assert_eq!(resent.status, 200, "{}", resent.text());
    let answer = resent.json();
    assert_eq!(answer["accepted"], 5, "{answer}");
    assert_eq!(answer["duplicate"], false);
    let rejected = answer["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{answer}");
    assert_eq!(rejected[0]["index"], 5);
    assert_eq!(rejected[0]["kind"], "malformed_json");

    // The second delivery holds the five events, each once.
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one refused delivery, one taken");
    let delivered: Vec<String> = bodies[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["actionId"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(delivered, expected);

    // Once more: the batch is done.
    let again = server.post_events(&query, &body);
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(again.json()["accepted"], 5);

    // The dead letter: the sink's refused first delivery, and the one rejected line
    // once; no event judged again as a repeat.
    let records = server.dead_letter();
    assert!(
        !records.iter().any(|r| r["kind"] == "illegal_transition"),
        "{records:?}"
    );
    let rejected_records: Vec<_> = records
        .iter()
        .filter(|r| r.get("index").is_some())
        .collect();
    assert_eq!(rejected_records.len(), 1, "{records:?}");
    assert_eq!(rejected_records[0]["raw"], "not json");
}

/// Polls `GET /readyz` until its status is `want` (a sink's state changes on its own
/// time: a reconnect); fails after a minute.
fn readyz_becomes(server: &Server, want: u16) -> String {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = collector::request(&server.addr, "GET", "/readyz", &[], b"").unwrap();
        if answer.status == want {
            return answer.text();
        }
        assert!(
            Instant::now() < until,
            "/readyz stayed {} ({}), expected {want}",
            answer.status,
            answer.text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn readiness_follows_an_http_sinks_collector_going_down_and_up() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/batch");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &url]);
    readyz_becomes(&server, 200);
    drop(listener);
    let why = readyz_becomes(&server, 503);
    assert!(
        why.contains(&format!("sink {url}")) && why.contains("cannot be reached"),
        "{why}"
    );
    // Up again on the same port.
    let _listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    readyz_becomes(&server, 200);
}

#[test]
fn readiness_follows_a_nats_sinks_connection_going_down_and_up() {
    let Some(bin) = std::env::var_os("NATS_SERVER_BIN") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set NATS_SERVER_BIN (.ci/run does)"
        );
        eprintln!("\n*** SKIPPED readiness_follows_a_nats_sinks_connection_going_down_and_up: set NATS_SERVER_BIN ***");
        return;
    };
    let store = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let start = || {
        let child = Command::new(&bin)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        child
    };
    let mut nats = start();
    let dir = tempfile::tempdir().unwrap();
    let sink = format!("nats://127.0.0.1:{port}/readiness");
    let server = Server::start(dir.path(), &["--sink", &sink]);
    readyz_becomes(&server, 200);
    nats.kill().unwrap();
    nats.wait().unwrap();
    let why = readyz_becomes(&server, 503);
    assert!(why.contains("not connected"), "{why}");
    let mut nats = start();
    readyz_becomes(&server, 200);
    nats.kill().unwrap();
    nats.wait().unwrap();
}

/// The sink confirms only after the ack timeout: the answer is 503, the request is seen
/// through, and once the collector behind has the events the batch is answered; its
/// resend gets that answer (`"duplicate": true`) and nothing is delivered twice.
#[test]
fn a_batch_confirmed_after_its_ack_timeout_is_answered_to_its_resend_not_delivered_again() {
    // The collector behind takes its time with the first delivery: past the ack timeout.
    let (url, bodies) = downstream::server_with(|n| {
        if n == 0 {
            std::thread::sleep(Duration::from_secs(3));
        }
        (200, "")
    });
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--sink", &url, "--ack-timeout", "1"]);
    let (body, ids) = batch(4);
    let query = format!("?batchId={}", uuid::Uuid::new_v4());
    let first = server.post_events(&query, &body);
    assert_eq!(first.status, 503, "{}", first.text());
    assert!(first.text().contains("in time"), "{}", first.text());
    // Resent until answered: 503 while the first delivery is still under way.
    let until = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        let resent = server.post_events(&query, &body);
        if resent.status == 200 {
            break resent.json();
        }
        assert_eq!(resent.status, 503, "{}", resent.text());
        assert!(Instant::now() < until, "never answered: {}", resent.text());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer["duplicate"], true, "{answer}");
    assert_eq!(answer["accepted"], 4, "{answer}");
    let delivered: Vec<String> = bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|batch| batch.as_array().unwrap().clone())
        .map(|event| event["actionId"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = ids.iter().map(ToString::to_string).collect();
    assert_eq!(delivered, expected, "each event delivered once");
    assert!(
        server.dead_letter().is_empty(),
        "{:?}",
        server.dead_letter()
    );
}
