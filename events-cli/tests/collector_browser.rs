//! The generated `webaction-collector.js` in a real browser, sending to a real
//! `webaction serve`: headless Chromium loads a page (from a test HTTP server on 127.0.0.1)
//! that defines the vendor's `ac` and the Genesys widgets' bus as stubs, loads the script
//! that `webaction docs` wrote, and emits the lifecycles `webaction simulate` wrote, of
//! both built-in media types; then it leaves the page. The serve runs on another origin
//! (`--allow-origin` the page's, `--write-key`).
//!
//! What the service received is read from its sink file; how it was sent, from what the
//! browser itself logged (`--log-net-log` with the bytes it wrote to each socket): the
//! `Sec-Fetch-Mode` header the browser sets says `cors` for a `fetch` and `no-cors` for a
//! `sendBeacon` of `text/plain`, and the order of the requests says which came after the
//! navigation away.
//!
//! Chromium: see `chromium/mod.rs` (without it the tests fail under CI and say SKIPPED
//! elsewhere).

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

mod chromium;

const WRITE_KEY: &str = "page-key-1";
const CONVERSATION_ID: &str = "7d2c1f4e-8a9b-4c3d-9e0f-1a2b3c4d5e6f";
/// A guard against a run that never ends, not a performance check: past it the test
/// fails with what it has instead of hanging CI.
const GUARD: Duration = Duration::from_secs(120);

/// The script as `webaction docs` writes it.
fn generated_script(dir: &Path) -> Vec<u8> {
    let docs = dir.join("docs");
    webaction(&["docs", "--out", docs.to_str().unwrap()]);
    std::fs::read(docs.join("webaction-collector.js")).unwrap()
}

fn webaction(args: &[&str]) -> Vec<u8> {
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "webaction {args:?}: {output:?}"
    );
    output.stdout
}

/// `webaction serve` on a free port of 127.0.0.1, killed when dropped.
struct Serve {
    child: Child,
    endpoint: String,
}

impl Serve {
    fn start(dir: &Path, sink: &Path, origin: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webaction"))
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--write-key", WRITE_KEY])
            .args(["--allow-origin", origin])
            .arg(format!("--sink=ndjson:{}", sink.display()))
            .arg(format!(
                "--dead-letter={}",
                dir.join("dead-letter.ndjson").display()
            ))
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start webaction serve");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let base = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("serve's first line: {first:?}"))
            .to_owned();
        Serve {
            child,
            endpoint: format!("{base}/v1/events"),
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request a test server received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    /// Header names in lower case.
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// An answer of a test server.
struct Answer {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Answer {
            status: "200 OK",
            headers: vec![("Content-Type", format!("{content_type}; charset=utf-8"))],
            body: body.into(),
        }
    }
}

/// A listener on a free port of 127.0.0.1, and its origin (`http://127.0.0.1:PORT`).
fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    (listener, origin)
}

/// A minimal HTTP/1.1 server for the tests: one request per connection, a thread each
/// (an answer may wait).
fn spawn_server(
    listener: TcpListener,
    handler: impl Fn(Received) -> Answer + Send + Sync + 'static,
) {
    let handler = Arc::new(handler);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let handler = Arc::clone(&handler);
            std::thread::spawn(move || {
                if let Some(request) = read_request(&mut BufReader::new(&stream)) {
                    write_answer(stream, handler(request));
                }
            });
        }
    });
}

fn read_request(reader: &mut impl BufRead) -> Option<Received> {
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.insert(name.to_ascii_lowercase(), value.trim().to_owned());
    }
    let length = headers
        .get("content-length")
        .map_or(0, |n: &String| n.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        target,
        headers,
        body,
    })
}

fn write_answer(mut stream: TcpStream, answer: Answer) {
    let mut head = format!("HTTP/1.1 {}\r\n", answer.status);
    for (name, value) in &answer.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        answer.body.len()
    ));
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&answer.body);
}

/// The pages: `/page` (the one under test), the script, and `/next`, where the page goes
/// with its report as the query (JSON in base64). `/next` loads `/close.js`, answered only
/// once `delivered()` (or after the guard): a beacon gets no answer the page could wait
/// for, so the browser must stay up until the receiver has it. Returns the report.
fn spawn_site(
    listener: TcpListener,
    page: String,
    script: Vec<u8>,
    delivered: impl Fn() -> bool + Send + Sync + 'static,
) -> Arc<Mutex<Option<String>>> {
    let report = Arc::new(Mutex::new(None));
    let left = Arc::clone(&report);
    spawn_server(listener, move |request| {
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((&request.target, ""));
        match path {
            "/page" => Answer::ok("text/html", page.clone()),
            "/webaction-collector.js" => Answer::ok("text/javascript", script.clone()),
            "/next" => {
                *left.lock().unwrap() = Some(query.to_owned());
                Answer::ok(
                    "text/html",
                    "<!DOCTYPE html><title>next</title><p>next page</p><script src=\"/close.js\"></script>",
                )
            }
            "/close.js" => {
                let deadline = Instant::now() + GUARD;
                while !delivered() && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(50));
                }
                // Opened from the command line and left with `location.replace`, the
                // history has one entry, so the script may close the window; closing the
                // last one ends the browser.
                Answer::ok("text/javascript", "window.close();")
            }
            _ => Answer {
                status: "404 Not Found",
                headers: Vec::new(),
                body: b"not found".to_vec(),
            },
        }
    });
    report
}

/// Runs headless Chromium on `url` until the page closes it, logging the network with
/// the bytes sent into `net_log`; returns the page's report.
fn run_browser(
    bin: &Path,
    dir: &Path,
    url: &str,
    report: &Mutex<Option<String>>,
    net_log: &Path,
) -> Value {
    let browser = chromium::command(bin, &dir.join("profile"))
        .arg("--net-log-capture-mode=Everything")
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg(url)
        .spawn()
        .expect("start chromium");
    let output = chromium::wait(browser);
    let report = report.lock().unwrap().clone();
    assert!(
        output.status.success() && report.is_some(),
        "chromium did not leave the page and close: {output:?}"
    );
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(report.unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn sink_events(sink: &Path) -> Vec<Value> {
    let Ok(text) = std::fs::read_to_string(sink) else {
        return Vec::new();
    };
    // A line being written has no newline yet: only whole lines count.
    let complete = text.rfind('\n').map_or("", |end| &text[..end]);
    complete
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The vendor's `ac` (on / once / off by `<mediaType>:<state>` or `<mediaType>:all`, as
/// documented) and the Genesys widgets' bus as stubs, then the script, then `scenario`
/// (which reaches the script's API as `WebActionCollector` and emits with `emit(event)`).
fn page(scenario: &str) -> String {
    let stubs = r#"
(function () {
  var subscribers = [];
  window.ac = function (command, topic, callback) {
    if (command === 'on' || command === 'once') {
      subscribers.push({ topic: topic, callback: callback, once: command === 'once' });
    } else if (command === 'off') {
      subscribers = subscribers.filter(function (s) {
        return s.topic !== topic || (callback !== undefined && s.callback !== callback);
      });
    } else {
      throw new Error('ac: unknown command ' + command);
    }
  };
  window.acTopics = function () { return subscribers.map(function (s) { return s.topic; }); };
  window.emit = function (event) {
    var topics = [event.actionMediaType + ':' + event.actionState, event.actionMediaType + ':all'];
    subscribers.slice().forEach(function (s) {
      if (topics.indexOf(s.topic) < 0) return;
      if (s.once) subscribers.splice(subscribers.indexOf(s), 1);
      s.callback(event);
    });
  };
  // The widgets' CXBus: `command` answers with a jQuery-style deferred, later.
  window._genesys = { widgets: { bus: { command: function (name) {
    var known = name === 'WebChatService.getSessionData';
    var deferred = {
      done: function (cb) {
        if (known) setTimeout(function () { cb({ conversationId: CONVERSATION_ID, sessionData: {} }); }, 0);
        return deferred;
      },
      fail: function (cb) {
        if (!known) setTimeout(function () { cb('unknown command'); }, 0);
        return deferred;
      },
    };
    return deferred;
  } } } };
  // Leaves for /next with the report; waits for enrichment to answer first.
  window.leave = function (collector, report) {
    (function go() {
      if (collector.stats().enriching > 0) return setTimeout(go, 10);
      report.leaving = collector.stats();
      location.replace('/next?' + btoa(JSON.stringify(report)));
    })();
  };
})();
"#
    .replace("CONVERSATION_ID", &json!(CONVERSATION_ID).to_string());
    format!(
        "<!DOCTYPE html><meta charset=\"utf-8\"><title>collector</title>\n\
         <script>{stubs}</script>\n<script src=\"/webaction-collector.js\"></script>\n\
         <script>{scenario}</script>\n"
    )
}

/// `"NAME"` in `script` replaced by the JSON of each value.
fn fill(script: &str, values: &[(&str, Value)]) -> String {
    values
        .iter()
        .fold(script.to_owned(), |script, (name, value)| {
            script.replace(name, &value.to_string())
        })
}

/// One HTTP request as the browser wrote it to a socket.
#[derive(Debug)]
struct SentRequest {
    /// The position in the net log of the bytes that began it: the order of sending.
    order: usize,
    request: Received,
}

/// What the browser wrote to one socket, and where in the net log each write was.
#[derive(Default)]
struct SocketBytes {
    bytes: Vec<u8>,
    /// (offset in `bytes`, position in the log) of each write.
    writes: Vec<(usize, usize)>,
}

/// Every HTTP/1.1 request in a Chromium net log captured with
/// `--net-log-capture-mode=Everything`, which logs the bytes sent on each socket.
fn sent_requests(net_log: &Path) -> Vec<SentRequest> {
    let log: Value = serde_json::from_slice(&std::fs::read(net_log).unwrap()).unwrap();
    let bytes_sent = &log["constants"]["logEventTypes"]["SOCKET_BYTES_SENT"];
    let mut sockets: BTreeMap<u64, SocketBytes> = BTreeMap::new();
    for (order, event) in log["events"].as_array().unwrap().iter().enumerate() {
        let Some(bytes) = event["params"]["bytes"].as_str() else {
            continue;
        };
        if &event["type"] != bytes_sent {
            continue;
        }
        let socket = sockets
            .entry(event["source"]["id"].as_u64().unwrap())
            .or_default();
        socket.writes.push((socket.bytes.len(), order));
        let decoded = base64::engine::general_purpose::STANDARD.decode(bytes);
        socket.bytes.extend(decoded.unwrap());
    }
    let mut requests = Vec::new();
    for socket in sockets.values() {
        let mut reader = std::io::Cursor::new(&socket.bytes[..]);
        loop {
            let at = reader.position() as usize;
            let Some(request) = read_request(&mut reader) else {
                break;
            };
            let order = socket
                .writes
                .iter()
                .rev()
                .find(|(offset, _)| *offset <= at)
                .unwrap()
                .1;
            requests.push(SentRequest { order, request });
        }
    }
    requests.sort_by_key(|r| r.order);
    requests
}

/// The events of a request body of newline-delimited JSON.
fn events_in(request: &Received) -> Vec<Value> {
    std::str::from_utf8(&request.body)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Whether the browser sent `request` with `sendBeacon` (`text/plain`, no CORS).
fn is_beacon(request: &Received) -> bool {
    request.headers.get("sec-fetch-mode").map(String::as_str) == Some("no-cors")
}

/// How many events the beacons among `received` carried.
fn beaconed_events(received: &[Received]) -> usize {
    received
        .iter()
        .filter(|r| is_beacon(r))
        .map(|r| {
            r.body
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .count()
        })
        .sum()
}

fn query(target: &str) -> HashMap<String, String> {
    let query = target.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn key(event: &Value) -> (String, String) {
    (
        event["actionId"].as_str().unwrap().to_owned(),
        event["actionState"].as_str().unwrap().to_owned(),
    )
}

/// The simulated events, with the last event of one `webchat` and one `contentoffer`
/// action moved to the end (each action's order is kept): the batch left for the beacon
/// holds both media types.
fn scripted_events() -> (Vec<Value>, usize) {
    let mut events: Vec<Value> =
        String::from_utf8(webaction(&["simulate", "--actions", "12", "--seed", "17"]))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
    let mut last = Vec::new();
    for media_type in ["webchat", "contentoffer"] {
        let position = events
            .iter()
            .rposition(|e| e["actionMediaType"] == media_type)
            .unwrap_or_else(|| panic!("the simulation has no {media_type} event"));
        last.push(events.remove(position));
    }
    let n = last.len();
    events.extend(last);
    (events, n)
}

/// The event as the service must have it: a `webchat` event with the chat's
/// `conversationId`, a content offer unchanged.
fn enriched(event: &Value) -> Value {
    let mut event = event.clone();
    if event["actionMediaType"] == "webchat" {
        event["conversationId"] = json!(CONVERSATION_ID);
    }
    event
}

#[test]
fn every_event_reaches_serve_once_enriched_and_the_last_batch_by_beacon_on_pagehide() {
    let test = "every_event_reaches_serve_once_enriched_and_the_last_batch_by_beacon";
    let Some(bin) = chromium::find(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (events, last) = scripted_events();
    let sink = dir.path().join("events.ndjson");
    let (listener, origin) = listen();
    let serve = Serve::start(dir.path(), &sink, &origin);
    // The first events, `flush()` (answered through fetch), the last events, and away.
    let scenario = fill(
        r#"
var collector = WebActionCollector.start({
  endpoint: ENDPOINT, writeKey: WRITE_KEY, batchSize: 4, flushMs: 600000,
});
var topics = acTopics();
EVENTS.slice(0, EVENTS.length - LAST).forEach(emit);
collector.flush().then(function (flushed) {
  EVENTS.slice(EVENTS.length - LAST).forEach(emit);
  leave(collector, { topics: topics, flushed: flushed });
});
"#,
        &[
            ("ENDPOINT", json!(serve.endpoint)),
            ("WRITE_KEY", json!(WRITE_KEY)),
            ("EVENTS", Value::from(events.clone())),
            ("LAST", json!(last)),
        ],
    );
    let expected = events.len();
    let in_sink = sink.clone();
    let report = spawn_site(
        listener,
        page(&scenario),
        generated_script(dir.path()),
        move || sink_events(&in_sink).len() >= expected,
    );
    let net_log = dir.path().join("net-log.json");
    let report = run_browser(
        &bin,
        dir.path(),
        &format!("{origin}/page"),
        &report,
        &net_log,
    );

    // The page: one subscription per registered media type; the first events answered
    // through fetch; the last ones held when it left.
    assert_eq!(report["topics"], json!(["webchat:all", "contentoffer:all"]));
    let flushed = &report["flushed"];
    assert_eq!(flushed["accepted"], events.len() - last, "{report}");
    for count in [
        "rejected", "dropped", "failed", "beaconed", "queued", "inFlight",
    ] {
        assert_eq!(flushed[count], 0, "{count}: {report}");
    }
    assert_eq!(report["leaving"]["queued"], last, "{report}");

    // The service: every event exactly once, webchat events with the conversation.
    let received = sink_events(&sink);
    let mut counts: HashMap<(String, String), usize> = HashMap::new();
    for event in &received {
        *counts.entry(key(event)).or_default() += 1;
    }
    assert_eq!(received.len(), events.len(), "{received:#?}");
    for event in &events {
        assert_eq!(counts.get(&key(event)), Some(&1), "{event}");
        let got = received.iter().find(|r| key(r) == key(event)).unwrap();
        assert_eq!(got, &enriched(event));
    }

    // The browser: fetches (`Sec-Fetch-Mode: cors`) before it left, then beacons
    // (`no-cors`) with exactly the last events, each request with the write key and a
    // batch id of its own.
    drop(serve);
    let requests = sent_requests(&net_log);
    let navigation = requests
        .iter()
        .find(|r| r.request.method == "GET" && r.request.target.starts_with("/next?"))
        .expect("the navigation away in the net log")
        .order;
    let posts: Vec<(usize, &Received)> = requests
        .iter()
        .filter(|r| r.request.method == "POST" && r.request.target.starts_with("/v1/events?"))
        .map(|r| (r.order, &r.request))
        .collect();
    let mut batch_ids = Vec::new();
    let mut beaconed = Vec::new();
    let mut fetched = 0;
    for (order, post) in &posts {
        let params = query(&post.target);
        assert_eq!(params.get("writeKey").map(String::as_str), Some(WRITE_KEY));
        batch_ids.push(params["batchId"].clone());
        assert_eq!(
            post.headers.get("content-type").map(String::as_str),
            Some("text/plain;charset=UTF-8")
        );
        assert_eq!(
            post.headers.get("sec-fetch-dest").map(String::as_str),
            Some("empty")
        );
        let lines: Vec<Value> = std::str::from_utf8(&post.body)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        let mode = post.headers.get("sec-fetch-mode").map(String::as_str);
        if *order < navigation {
            assert_eq!(mode, Some("cors"), "a fetch before leaving: {post:?}");
            fetched += lines.len();
        } else {
            assert_eq!(mode, Some("no-cors"), "a beacon on leaving: {post:?}");
            beaconed.extend(lines);
        }
    }
    assert_eq!(fetched, events.len() - last);
    let mut expected_last: Vec<Value> =
        events[events.len() - last..].iter().map(enriched).collect();
    // Beacons go on connections of their own, so they may be sent in any order.
    beaconed.sort_by_key(key);
    expected_last.sort_by_key(key);
    assert_eq!(beaconed, expected_last);
    batch_ids.sort();
    batch_ids.dedup();
    assert_eq!(batch_ids.len(), posts.len(), "one batch id per batch");
}

/// The script's own rules, against a recorder in this test that answers as scripted (the
/// real service cannot be made to answer 503 or 400 on cue): a 503 with `Retry-After` is
/// retried with the same batch id, a 400 is counted as not sent and not retried, events
/// past `maxQueue` are counted as dropped, `stop()` unsubscribes, an enrichment that never
/// answers holds its event only until `enrichTimeoutMs`, and the beacons on
/// leaving are split under `maxBatchBytes` (UTF-8 bytes: the events carry non-ASCII
/// text) and carry every queued event once.
#[test]
fn retries_keep_the_batch_id_refusals_are_counted_and_beacons_are_split() {
    let Some(bin) = chromium::find("retries_keep_the_batch_id_refusals_are_counted") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (site_listener, origin) = listen();
    let (recorder_listener, recorder) = listen();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let log = Arc::clone(&received);
    spawn_server(recorder_listener, move |request| {
        let mut log = log.lock().unwrap();
        log.push(request.clone());
        let cors = [
            (
                "Access-Control-Allow-Origin",
                request.headers["origin"].clone(),
            ),
            ("Access-Control-Expose-Headers", "Retry-After".to_owned()),
        ];
        // The first request: busy. The third (the second batch): a bad request.
        let (status, extra) = match log.len() {
            1 => (
                "503 Service Unavailable",
                Some(("Retry-After", "1".to_owned())),
            ),
            3 => ("400 Bad Request", None),
            _ => ("200 OK", None),
        };
        let lines = request
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty());
        let body = json!({"accepted": lines.count(), "rejected": [], "duplicate": false});
        Answer {
            status,
            headers: cors.into_iter().chain(extra).collect(),
            body: body.to_string().into_bytes(),
        }
    });

    // Ten content offers, each with 200 bytes of text that is 300 bytes in UTF-8.
    let events: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "actionId": format!("00000000-0000-4000-8000-{i:012}"),
                "actionState": "offered",
                "actionMediaType": "contentoffer",
                "note": "é".repeat(100) + &"x".repeat(100),
            })
        })
        .collect();
    let chat = json!({
        "actionId": "00000000-0000-4000-8000-00000000c4a7",
        "actionState": "offered",
        "actionMediaType": "webchat",
    });
    let scenario = fill(
        r#"
var first = WebActionCollector.start({ endpoint: ENDPOINT, batchSize: 2, flushMs: 600000 });
var report = {};
EVENTS.slice(0, 2).forEach(emit);
first.flush().then(function (busy) {
  report.busy = busy;
  EVENTS.slice(2, 4).forEach(emit);
  return first.flush();
}).then(function (refused) {
  report.refused = refused;
  return first.stop();
}).then(function (stopped) {
  report.topicsAfterStop = acTopics();
  // A chat widget that never answers: the chat event goes on without its conversation.
  window._genesys.widgets.bus.command = function () {
    return { done: function () { return this; }, fail: function () { return this; } };
  };
  var second = WebActionCollector.start({
    endpoint: ENDPOINT, batchSize: 1000, flushMs: 600000, maxQueue: 5, maxBatchBytes: 700,
    enrichTimeoutMs: 50,
  });
  emit(CHAT);
  EVENTS.slice(4).forEach(emit);
  report.first = first.stats();
  leave(second, report);
});
"#,
        &[
            ("ENDPOINT", json!(format!("{recorder}/v1/events"))),
            ("EVENTS", Value::from(events.clone())),
            ("CHAT", chat.clone()),
        ],
    );
    let in_recorder = Arc::clone(&received);
    let report = spawn_site(
        site_listener,
        page(&scenario),
        generated_script(dir.path()),
        move || beaconed_events(&in_recorder.lock().unwrap()) >= 5,
    );
    let report = run_browser(
        &bin,
        dir.path(),
        &format!("{origin}/page"),
        &report,
        &dir.path().join("net-log.json"),
    );

    let received = received.lock().unwrap();
    let batch_id = |r: &Received| query(&r.target)["batchId"].clone();
    // 503, then the same batch with the same id: accepted once.
    assert_eq!(batch_id(&received[0]), batch_id(&received[1]));
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(events_in(&received[0]), events[0..2]);
    assert_eq!(report["busy"]["accepted"], 2, "{report}");
    assert_eq!(report["busy"]["retries"], 1, "{report}");
    // 400: counted as failed, not sent again.
    assert_eq!(events_in(&received[2]), events[2..4]);
    assert_eq!(report["refused"]["failed"], 2, "{report}");
    assert_eq!(report["refused"]["retries"], 1, "{report}");
    // Stopped: no subscription left, and the stopped collector took none of the rest.
    assert_eq!(report["topicsAfterStop"], json!([]), "{report}");
    assert_eq!(report["first"]["accepted"], 2, "{report}");
    // The second collector: the chat event waited for its enrichment until the timeout,
    // and the offers behind it with it; 5 held, 2 dropped; on leaving, beacons of at most
    // 700 bytes with the chat event unenriched and the first four offers.
    assert_eq!(report["leaving"]["queued"], 5, "{report}");
    assert_eq!(report["leaving"]["dropped"], 2, "{report}");
    assert_eq!(report["leaving"]["enrichTimeouts"], 1, "{report}");
    let beacons: Vec<&Received> = received[3..].iter().collect();
    let mut beaconed = Vec::new();
    for beacon in &beacons {
        assert_eq!(
            beacon.headers.get("sec-fetch-mode").map(String::as_str),
            Some("no-cors"),
            "{beacon:?}"
        );
        assert!(beacon.body.len() <= 700, "{} bytes", beacon.body.len());
        beaconed.extend(events_in(beacon));
    }
    assert!(beacons.len() >= 2, "split: {} beacons", beacons.len());
    // Beacons go on connections of their own, so they may arrive in any order.
    beaconed.sort_by_key(key);
    let mut expected = events[4..8].to_vec();
    expected.push(chat);
    expected.sort_by_key(key);
    assert_eq!(beaconed, expected);
}

/// One action's events stay in order across the script's sends: fetches go one at a time
/// (the next only once the previous is answered), and on leaving, the beacons — which go
/// on connections of their own and may arrive in any order — each hold whole actions,
/// every action's events in one beacon, in order, though the page emitted the actions'
/// events interleaved.
#[test]
fn one_actions_events_stay_in_order_across_fetches_and_beacons() {
    let Some(bin) = chromium::find("one_actions_events_stay_in_order_across_fetches_and_beacons")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (site_listener, origin) = listen();
    let (recorder_listener, recorder) = listen();
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    // Fetches being answered now, and the most at once.
    let fetching = Arc::new(Mutex::new((0usize, 0usize)));
    let (log, busy) = (Arc::clone(&received), Arc::clone(&fetching));
    spawn_server(recorder_listener, move |request| {
        let fetch = request.headers.get("sec-fetch-mode").map(String::as_str) == Some("cors");
        if fetch {
            let mut busy = busy.lock().unwrap();
            busy.0 += 1;
            busy.1 = busy.1.max(busy.0);
        }
        // Answers take a while, so that a second fetch, were one sent before the answer,
        // would overlap this one.
        if fetch {
            std::thread::sleep(Duration::from_millis(100));
            busy.lock().unwrap().0 -= 1;
        }
        let lines = request
            .body
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count();
        let origin = request.headers.get("origin").cloned().unwrap_or_default();
        log.lock().unwrap().push(request);
        Answer {
            status: "200 OK",
            headers: vec![("Access-Control-Allow-Origin", origin)],
            body: json!({"accepted": lines, "rejected": [], "duplicate": false})
                .to_string()
                .into_bytes(),
        }
    });

    // Six webchat actions, three events each, ~250 bytes an event: a 900-byte beacon
    // holds one action's lifecycle, not two.
    let lifecycle = ["offered", "accepted", "started"];
    let action = |i: usize| format!("00000000-0000-4000-8000-{i:012}");
    let event = |i: usize, state: &str| {
        json!({
            "actionId": action(i),
            "actionState": state,
            "actionMediaType": "webchat",
            "conversationId": "kept",
            "note": "x".repeat(120),
        })
    };
    // Emitted round by round: every action's `offered`, then every `accepted`, ...
    let fetched: Vec<Value> = lifecycle
        .iter()
        .flat_map(|state| (0..4).map(move |i| (i, *state)))
        .map(|(i, state)| event(i, state))
        .collect();
    let beaconed: Vec<Value> = lifecycle
        .iter()
        .flat_map(|state| (10..16).map(move |i| (i, *state)))
        .map(|(i, state)| event(i, state))
        .collect();
    let scenario = fill(
        r#"
var report = {};
var first = WebActionCollector.start({ endpoint: ENDPOINT, batchSize: 2, flushMs: 600000 });
FETCHED.forEach(emit);
first.flush().then(function () {
  return first.stop();
}).then(function (stopped) {
  report.first = stopped;
  var second = WebActionCollector.start({
    endpoint: ENDPOINT, batchSize: 1000, flushMs: 600000, maxBatchBytes: 900,
  });
  BEACONED.forEach(emit);
  leave(second, report);
});
"#,
        &[
            ("ENDPOINT", json!(format!("{recorder}/v1/events"))),
            ("FETCHED", Value::from(fetched.clone())),
            ("BEACONED", Value::from(beaconed.clone())),
        ],
    );
    let (in_recorder, expected) = (Arc::clone(&received), beaconed.len());
    let report = spawn_site(
        site_listener,
        page(&scenario),
        generated_script(dir.path()),
        move || beaconed_events(&in_recorder.lock().unwrap()) >= expected,
    );
    let report = run_browser(
        &bin,
        dir.path(),
        &format!("{origin}/page"),
        &report,
        &dir.path().join("net-log.json"),
    );

    let received = received.lock().unwrap();
    // Fetches: one at a time, each batch's events in the order emitted.
    assert_eq!(fetching.lock().unwrap().1, 1, "fetches overlapped");
    let fetches: Vec<Value> = received
        .iter()
        .filter(|r| !is_beacon(r))
        .flat_map(events_in)
        .collect();
    assert_eq!(fetches, fetched, "{report}");
    assert_eq!(report["first"]["accepted"], fetched.len(), "{report}");
    // Beacons: each action's three events in one beacon, in lifecycle order.
    let beacons: Vec<Vec<Value>> = received
        .iter()
        .filter(|r| is_beacon(r))
        .map(events_in)
        .collect();
    assert!(beacons.len() >= 2, "split: {} beacons", beacons.len());
    let mut seen = 0;
    for i in 10..16 {
        let holding: Vec<&Vec<Value>> = beacons
            .iter()
            .filter(|beacon| beacon.iter().any(|e| e["actionId"] == action(i)))
            .collect();
        assert_eq!(
            holding.len(),
            1,
            "action {i} is split over beacons: {beacons:?}"
        );
        let states: Vec<&Value> = holding[0]
            .iter()
            .filter(|e| e["actionId"] == action(i))
            .map(|e| &e["actionState"])
            .collect();
        assert_eq!(states, lifecycle, "action {i}");
        seen += states.len();
    }
    assert_eq!(seen, beaconed.len());
    assert_eq!(beacons.iter().map(Vec::len).sum::<usize>(), beaconed.len());
}
