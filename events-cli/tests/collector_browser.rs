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
//! Chromium is `CHROMIUM_BIN` or `/usr/bin/chromium`; without it the test fails under CI
//! (`CI` set) and says SKIPPED elsewhere.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

const WRITE_KEY: &str = "page-key-1";
const CONVERSATION_ID: &str = "7d2c1f4e-8a9b-4c3d-9e0f-1a2b3c4d5e6f";
/// A guard against a run that never ends, not a performance check: past it the test
/// fails with what it has instead of hanging CI.
const GUARD: Duration = Duration::from_secs(120);

fn chromium(test: &str) -> Option<PathBuf> {
    let bin = std::env::var_os("CHROMIUM_BIN")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")).filter(|p| p.exists()));
    if bin.is_none() {
        assert!(
            std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
            "{test}: no Chromium (set CHROMIUM_BIN or install Debian's chromium); CI must run it"
        );
        // Straight to stderr: the test harness swallows `eprintln!` of passing tests.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED {test}: set CHROMIUM_BIN to a Chromium binary to run it (.ci/run does) ***"
        );
    }
    bin
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

/// What the page server knows and saw.
struct Site {
    page: String,
    script: Vec<u8>,
    /// The sink file, and how many events it must hold before the page after the one
    /// under test may close the browser: the beacon is not answered to the page, so the
    /// browser must stay up until the service has it.
    sink: PathBuf,
    expected_events: usize,
    /// The query of `/next`: the page's report as it left, JSON in base64.
    report: Mutex<Option<String>>,
}

/// A minimal HTTP/1.1 server for the test pages: GET only, one request per connection.
fn serve_site(listener: TcpListener, site: Arc<Site>) {
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let site = Arc::clone(&site);
            std::thread::spawn(move || answer(stream, &site));
        }
    });
}

fn answer(mut stream: TcpStream, site: &Site) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => return,
            Ok(_) if header == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let target = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let (status, content_type, body): (&str, &str, Vec<u8>) = match path {
        "/page" => ("200 OK", "text/html", site.page.clone().into_bytes()),
        "/webaction-collector.js" => ("200 OK", "text/javascript", site.script.clone()),
        "/next" => {
            *site.report.lock().unwrap() = Some(query.to_owned());
            let html = "<!DOCTYPE html><title>next</title><p>next page</p><script src=\"/close.js\"></script>";
            ("200 OK", "text/html", html.as_bytes().to_vec())
        }
        "/close.js" => {
            let deadline = Instant::now() + GUARD;
            while sink_events(&site.sink).len() < site.expected_events && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            // Opened from the command line and navigated with `location.replace`, so the
            // history has one entry and the script may close the window; closing the last
            // one ends the browser.
            ("200 OK", "text/javascript", b"window.close();".to_vec())
        }
        _ => ("404 Not Found", "text/plain", b"not found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
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

/// The page: the vendor's `ac` (on / once / off by `<mediaType>:<state>` or
/// `<mediaType>:all`, as documented) and the widgets' bus as stubs, the script, then the
/// scenario: the first events, `flush()` (answered through `fetch`), the last events, and
/// away.
fn page(endpoint: &str, events: &[Value], last: usize) -> String {
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
})();
"#
    .replace("CONVERSATION_ID", &json!(CONVERSATION_ID).to_string());
    let scenario = r#"
var collector = WebActionCollector.start({
  endpoint: ENDPOINT, writeKey: WRITE_KEY, batchSize: 4, flushMs: 600000,
});
var topics = acTopics();
EVENTS.slice(0, EVENTS.length - LAST).forEach(emit);
collector.flush().then(function (flushed) {
  EVENTS.slice(EVENTS.length - LAST).forEach(emit);
  (function leave() {
    var leaving = collector.stats();
    if (leaving.enriching > 0) return setTimeout(leave, 10);
    var report = { topics: topics, flushed: flushed, leaving: leaving };
    location.replace('/next?' + btoa(JSON.stringify(report)));
  })();
});
"#
    .replace("ENDPOINT", &json!(endpoint).to_string())
    .replace("WRITE_KEY", &json!(WRITE_KEY).to_string())
    .replace("EVENTS", &Value::from(events.to_vec()).to_string())
    .replace("LAST", &last.to_string());
    format!(
        "<!DOCTYPE html><meta charset=\"utf-8\"><title>collector</title>\n\
         <script>{stubs}</script>\n<script src=\"/webaction-collector.js\"></script>\n\
         <script>{scenario}</script>\n"
    )
}

/// One HTTP request as the browser wrote it to a socket.
#[derive(Debug)]
struct SentRequest {
    /// The position in the net log of the bytes that began it: the order of sending.
    order: usize,
    method: String,
    target: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// Every HTTP/1.1 request in a Chromium net log captured with
/// `--net-log-capture-mode=Everything`, which logs the bytes sent on each socket.
fn sent_requests(net_log: &Path) -> Vec<SentRequest> {
    let log: Value = serde_json::from_slice(&std::fs::read(net_log).unwrap()).unwrap();
    let bytes_sent = &log["constants"]["logEventTypes"]["SOCKET_BYTES_SENT"];
    // Per socket: its bytes, and where each logged write began.
    let mut sockets: BTreeMap<u64, (Vec<u8>, Vec<(usize, usize)>)> = BTreeMap::new();
    for (order, event) in log["events"].as_array().unwrap().iter().enumerate() {
        if &event["type"] != bytes_sent {
            continue;
        }
        let Some(bytes) = event["params"]["bytes"].as_str() else {
            continue;
        };
        let socket = sockets
            .entry(event["source"]["id"].as_u64().unwrap())
            .or_default();
        socket.1.push((socket.0.len(), order));
        socket.0.extend(
            base64::engine::general_purpose::STANDARD
                .decode(bytes)
                .unwrap(),
        );
    }
    let mut requests = Vec::new();
    for (bytes, writes) in sockets.values() {
        let mut at = 0;
        while let Some(end) = find(&bytes[at..], b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[at..at + end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut request_line = lines.next().unwrap().split(' ');
            let (Some(method), Some(target)) = (request_line.next(), request_line.next()) else {
                break;
            };
            let headers: HashMap<String, String> = lines
                .filter_map(|line| line.split_once(": "))
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
                .collect();
            let length: usize = headers
                .get("content-length")
                .map_or(0, |n| n.parse().unwrap());
            let body_start = at + end + 4;
            let order = writes
                .iter()
                .rev()
                .find(|(offset, _)| *offset <= at)
                .unwrap()
                .1;
            requests.push(SentRequest {
                order,
                method: method.to_owned(),
                target: target.to_owned(),
                body: bytes[body_start..(body_start + length).min(bytes.len())].to_vec(),
                headers,
            });
            at = body_start + length;
        }
    }
    requests.sort_by_key(|r| r.order);
    requests
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
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
    let Some(bin) = chromium(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let docs = dir.path().join("docs");
    webaction(&["docs", "--out", docs.to_str().unwrap()]);
    let (events, last) = scripted_events();
    let sink = dir.path().join("events.ndjson");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let serve = Serve::start(dir.path(), &sink, &origin);
    let site = Arc::new(Site {
        page: page(&serve.endpoint, &events, last),
        script: std::fs::read(docs.join("webaction-collector.js")).unwrap(),
        sink: sink.clone(),
        expected_events: events.len(),
        report: Mutex::new(None),
    });
    serve_site(listener, Arc::clone(&site));

    let net_log = dir.path().join("net-log.json");
    let mut browser = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--net-log-capture-mode=Everything",
        ])
        .arg(format!("--log-net-log={}", net_log.display()))
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("{origin}/page"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + GUARD;
    while browser.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = browser.kill();
    let output = browser.wait_with_output().unwrap();
    let report = site.report.lock().unwrap().clone();
    assert!(
        output.status.success() && report.is_some(),
        "chromium did not leave the page and close: {output:?}"
    );
    let report: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(report.unwrap())
            .unwrap(),
    )
    .unwrap();

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
        .find(|r| r.method == "GET" && r.target.starts_with("/next?"))
        .expect("the navigation away in the net log")
        .order;
    let posts: Vec<&SentRequest> = requests
        .iter()
        .filter(|r| r.method == "POST" && r.target.starts_with("/v1/events?"))
        .collect();
    let mut batch_ids = Vec::new();
    let mut beaconed = Vec::new();
    let mut fetched = 0;
    for post in &posts {
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
        if post.order < navigation {
            assert_eq!(mode, Some("cors"), "a fetch before leaving: {post:?}");
            fetched += lines.len();
        } else {
            assert_eq!(mode, Some("no-cors"), "a beacon on leaving: {post:?}");
            beaconed.extend(lines);
        }
    }
    assert_eq!(fetched, events.len() - last);
    let expected_last: Vec<Value> = events[events.len() - last..].iter().map(enriched).collect();
    assert_eq!(beaconed, expected_last);
    batch_ids.sort();
    batch_ids.dedup();
    assert_eq!(batch_ids.len(), posts.len(), "one batch id per batch");
}
