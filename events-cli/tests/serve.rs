//! `webaction serve` as a process on 127.0.0.1: every answer of `POST /v1/events`, the
//! dead letter, resends, CORS, and the other routes.

mod collector;

use std::io::Write;

use collector::{batch, event, request, Server};
use serde_json::Value;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn accepted_events_reach_the_sink_and_rejected_ones_the_dead_letter_with_request_and_index() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let action = uuid::Uuid::new_v4();
    let body = format!(
        "{}\n{{\"actionId\": 1}}\n\n{}\r\n{}\n",
        event(action, "offered"),
        event(action, "accepted"),
        event(action, "offered"),
    );
    let answer = server.post_events("", &body);
    assert_eq!(answer.status, 200, "{}", answer.text());
    let json = answer.json();
    assert_eq!(json["accepted"], 2);
    assert_eq!(json["duplicate"], false);
    let rejected = json["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{json}");
    assert_eq!(
        (rejected[0]["index"].as_u64(), rejected[0]["kind"].as_str()),
        (Some(1), Some("invalid_field"))
    );
    assert_eq!(
        (rejected[1]["index"].as_u64(), rejected[1]["kind"].as_str()),
        (Some(3), Some("illegal_transition"))
    );
    let request_id = json["requestId"].as_str().unwrap();
    assert_eq!(answer.header("x-request-id"), Some(request_id));

    // 200 means durable: the files hold it now, before any shutdown.
    let states: Vec<Value> = server
        .sink_events()
        .iter()
        .map(|e| e["actionState"].clone())
        .collect();
    assert_eq!(states, ["offered", "accepted"]);
    let letters = server.dead_letter();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["request"], request_id);
    assert_eq!(letters[0]["index"], 1);
    assert_eq!(letters[0]["raw"], "{\"actionId\": 1}");
    assert_eq!(letters[1]["index"], 3);
    assert_eq!(letters[1]["kind"], "illegal_transition");
}

#[test]
fn a_json_array_one_event_and_a_gzip_body_are_taken() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (a, b, c) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let array = format!("[{}, {}]", event(a, "offered"), event(b, "offered"));
    let answer = server.post(
        "/v1/events",
        &[("Content-Type", "application/json")],
        array.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()["accepted"].as_u64()),
        (200, Some(2))
    );
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&event(c, "offered")).unwrap())
            .unwrap();
    let answer = server.post(
        "/v1/events",
        &[("Content-Type", "application/json")],
        pretty.as_bytes(),
    );
    assert_eq!(
        (answer.status, answer.json()["accepted"].as_u64()),
        (200, Some(1))
    );
    let zipped = gzip(event(a, "accepted").as_bytes());
    let answer = server.post(
        "/v1/events",
        &[
            ("Content-Type", "application/x-ndjson"),
            ("Content-Encoding", "gzip"),
        ],
        &zipped,
    );
    assert_eq!(
        (answer.status, answer.json()["accepted"].as_u64()),
        (200, Some(1)),
        "{}",
        answer.text()
    );
    assert_eq!(server.sink_events().len(), 4);
}

#[test]
fn a_resent_batch_gets_its_first_answer_again_and_is_not_delivered_twice() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (body, _) = batch(5);
    let id = uuid::Uuid::new_v4();
    let first = server.post_events(&format!("?batchId={id}"), &body);
    assert_eq!(first.status, 200);
    assert_eq!(first.json()["duplicate"], false);
    let again = server.post_events(&format!("?batchId={id}"), &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["duplicate"], true);
    assert_eq!(again.json()["accepted"], 5);
    assert_eq!(again.json()["requestId"], first.json()["requestId"]);
    // The same batch id as a header.
    let header = server.post(
        "/v1/events",
        &[
            ("Content-Type", "text/plain"),
            ("Idempotency-Key", &id.to_string()),
        ],
        body.as_bytes(),
    );
    assert_eq!(header.json()["duplicate"], true);
    assert_eq!(server.sink_events().len(), 5);
    assert!(server.dead_letter().is_empty());
    // Without a batch id, the same events again are the tracker's business: a repeated
    // state is rejected (and kept in the dead letter), never delivered twice.
    let resent = server.post_events("", &body);
    assert_eq!(resent.json()["accepted"], 0);
    assert_eq!(resent.json()["rejected"].as_array().unwrap().len(), 5);
    assert_eq!(server.sink_events().len(), 5);
}

#[test]
fn undecodable_bodies_get_400_saying_which_decode_failed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    /// Headers, body, and what the error must say.
    type Case<'a> = (&'a [(&'a str, &'a str)], Vec<u8>, &'a str);
    let cases: [Case<'_>; 5] = [
        (
            &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
            b"not gzip at all".to_vec(),
            "not valid gzip",
        ),
        (
            &[("Content-Type", "text/plain")],
            b"{\"a\":\"\xff\"}".to_vec(),
            "not UTF-8",
        ),
        (
            &[("Content-Type", "text/plain")],
            b"hello".to_vec(),
            "not JSON at the top level",
        ),
        (
            &[("Content-Type", "application/json")],
            b"[{}, oops]".to_vec(),
            "not a JSON array",
        ),
        (&[("Content-Type", "text/plain")], b" \n ".to_vec(), "empty"),
    ];
    for (headers, body, says) in cases {
        let answer = server.post("/v1/events", headers, &body);
        assert_eq!(answer.status, 400, "{says}: {}", answer.text());
        let error = answer.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(says), "{error:?} should say {says:?}");
    }
    let bad_batch = server.post_events("?batchId=a%20b", &batch(1).0);
    assert_eq!(bad_batch.status, 400);
    assert!(server.sink_events().is_empty());
}

#[test]
fn other_content_types_too_large_bodies_and_unknown_routes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--max-body-bytes", "1000"]);
    let (body, _) = batch(1);
    let xml = server.post(
        "/v1/events",
        &[("Content-Type", "application/xml")],
        body.as_bytes(),
    );
    assert_eq!(xml.status, 415);
    assert!(xml.text().contains("text/plain"), "{}", xml.text());
    let untyped = server.post("/v1/events", &[], body.as_bytes());
    assert_eq!(untyped.status, 415);
    let brotli = server.post(
        "/v1/events",
        &[("Content-Type", "text/plain"), ("Content-Encoding", "br")],
        body.as_bytes(),
    );
    assert_eq!(brotli.status, 415);
    let (large, _) = batch(10);
    let too_large = server.post_events("", &large);
    assert_eq!(too_large.status, 413);
    // Over the limit once decompressed, however small compressed.
    let zipped = gzip(large.as_bytes());
    assert!(zipped.len() < 1000);
    let inflated = server.post(
        "/v1/events",
        &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
        &zipped,
    );
    assert_eq!(inflated.status, 413, "{}", inflated.text());
    let get = request(&server.addr, "GET", "/v1/events", &[], b"").unwrap();
    assert_eq!(get.status, 405);
    let nowhere = request(&server.addr, "GET", "/v2/nothing", &[], b"").unwrap();
    assert_eq!(nowhere.status, 404);
    // No --allow-origin: no preflight.
    let preflight = request(
        &server.addr,
        "OPTIONS",
        "/v1/events",
        &[
            ("Origin", "https://shop.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(preflight.status, 405);
    assert!(server.sink_events().is_empty());
}

#[test]
fn a_write_key_is_required_in_the_header_or_the_query_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--write-key", "s3cret"]);
    let (body, _) = batch(1);
    assert_eq!(server.post_events("", &body).status, 401);
    assert_eq!(server.post_events("?writeKey=wrong", &body).status, 401);
    assert_eq!(server.post_events("?writeKey=s3cret", &body).status, 200);
    let (body, _) = batch(1);
    let header = server.post(
        "/v1/events",
        &[("Content-Type", "text/plain"), ("X-Write-Key", "s3cret")],
        body.as_bytes(),
    );
    assert_eq!(header.status, 200);
    assert_eq!(server.sink_events().len(), 2);
}

#[test]
fn cors_preflights_and_posts_are_answered_for_allowed_origins_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--allow-origin", "https://shop.example"]);
    let preflight = |origin: &str| {
        request(
            &server.addr,
            "OPTIONS",
            "/v1/events",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
            b"",
        )
        .unwrap()
    };
    let allowed = preflight("https://shop.example");
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    assert!(allowed
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    let other = preflight("https://evil.example");
    assert_eq!(other.header("access-control-allow-origin"), None);
    let (body, _) = batch(1);
    let post = server.post(
        "/v1/events",
        &[
            ("Content-Type", "text/plain"),
            ("Origin", "https://shop.example"),
        ],
        body.as_bytes(),
    );
    assert_eq!(post.status, 200);
    assert_eq!(
        post.header("access-control-allow-origin"),
        Some("https://shop.example")
    );
    // The script reads `Retry-After` of a 503 from another origin.
    assert_eq!(
        post.header("access-control-expose-headers"),
        Some("retry-after")
    );
}

#[test]
fn health_readiness_and_metrics_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let get = |path: &str| request(&server.addr, "GET", path, &[], b"").unwrap();
    assert_eq!(get("/healthz").status, 200);
    assert_eq!(get("/readyz").status, 200);
    let (body, ids) = batch(3);
    // Rejected: a repeat of a known webchat action, a content offer whose `actionId` is
    // no UUID (it names its media type, though it does not decode), and an object that
    // names none.
    let repeat = event(ids[0], "offered");
    let broken = r#"{"actionMediaType":"contentoffer","actionId":"not a uuid"}"#;
    server.post_events("", &format!("{body}\n{repeat}\n{broken}\n{{}}"));
    let metrics = get("/metrics");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    for line in [
        "webaction_events_accepted_total{media_type=\"webchat\"} 3",
        "webaction_events_rejected_total{media_type=\"unknown\",kind=\"missing_field\"} 1",
        "webaction_events_rejected_total{media_type=\"webchat\",kind=\"illegal_transition\"} 1",
        "webaction_sink_delivered_total{sink=\"ndjson:webaction-events.ndjson\"} 3",
        "webaction_sink_retries_total{sink=\"ndjson:webaction-events.ndjson\"} 0",
        "webaction_sink_dead_lettered_total{sink=\"ndjson:webaction-events.ndjson\"} 0",
        "webaction_sink_queue_depth{sink=\"ndjson:webaction-events.ndjson\"} 0",
        "webaction_unconfirmed_events 0",
        "webaction_ingest_queue_depth 0",
    ] {
        assert!(text.contains(line), "no `{line}` in\n{text}");
    }
    assert!(
        text.lines().any(|line| line
            .starts_with("webaction_events_rejected_total{media_type=\"contentoffer\",")
            && line.ends_with(" 1")),
        "the undecodable content offer is not counted under its media type in\n{text}"
    );
    assert!(
        text.contains("webaction_request_duration_seconds_bucket{route=\"/v1/events\",status=\"200\",le=\"+Inf\"} 1"),
        "{text}"
    );
}

#[test]
fn the_live_report_is_the_page_report_html_writes_for_the_same_events() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.ndjson");
    let simulate = std::process::Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args([
            "simulate",
            "--actions",
            "300",
            "--seed",
            "7",
            "--invalid-rate",
            "0.1",
            "-o",
        ])
        .arg(&events)
        .output()
        .unwrap();
    assert!(simulate.status.success());
    let server = Server::start(dir.path(), &[]);
    let text = std::fs::read_to_string(&events).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for chunk in lines.chunks(37) {
        let answer = server.post_events("", &chunk.join("\n"));
        assert_eq!(answer.status, 200, "{}", answer.text());
    }
    let live = request(&server.addr, "GET", "/report", &[], b"").unwrap();
    assert_eq!(live.status, 200);
    assert_eq!(
        live.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = dir.path().join("report.html");
    let report = std::process::Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["report", "--html"])
        .arg(&page)
        .arg(&events)
        .output()
        .unwrap();
    assert!(report.status.success());
    let written = std::fs::read_to_string(&page).unwrap();
    assert!(written.contains("rejected"));
    assert!(
        live.text() == written,
        "GET /report differs from `webaction report --html`"
    );
}

#[test]
fn a_batch_whose_client_left_before_the_answer_is_a_duplicate_when_resent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let (body, ids) = batch(50);
    let target = format!("/v1/events?batchId={}", uuid::Uuid::new_v4());
    // A page that closed: the request goes out, the connection closes unanswered.
    {
        let mut stream = std::net::TcpStream::connect(&server.addr).unwrap();
        write!(
            stream,
            "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    }
    // The resend: 503 while the first is still being taken, then its answer.
    let mut answer = server.post(&target, &[("Content-Type", "text/plain")], body.as_bytes());
    for _ in 0..100 {
        if answer.status != 503 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        answer = server.post(&target, &[("Content-Type", "text/plain")], body.as_bytes());
    }
    assert_eq!(answer.status, 200, "{}", answer.text());
    let events = server.sink_events();
    assert_eq!(events.len(), ids.len(), "each event once");
    // Either the resend found the first answer, or the first had not reached the server
    // before its connection closed and the resend was the first.
    assert!(server.dead_letter().is_empty());
    assert_eq!(answer.json()["accepted"], 50);
}
