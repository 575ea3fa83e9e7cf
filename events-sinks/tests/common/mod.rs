//! What the sink tests share: events to send, a real HTTP (or HTTPS) collector on
//! 127.0.0.1 that fails on command, and a real nats-server.
#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use events_core::{AnyEvent, ContentOfferEvent, Event, WebChatEvent};
use serde_json::{json, Value};

#[cfg(feature = "http")]
mod collector;
// Not every test file uses the collector.
#[cfg(feature = "http")]
#[allow(unused_imports)]
pub use collector::*;

const WEBCHAT_STATES: [&str; 9] = [
    "offered",
    "accepted",
    "rejected",
    "ignored",
    "timedout",
    "errored",
    "started",
    "engaged",
    "abandoned",
];
const CONTENTOFFER_STATES: [&str; 5] = ["offered", "accepted", "rejected", "ignored", "errored"];

fn uuid(seed: u64, salt: u64) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..].copy_from_slice(&salt.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Event number `i` as JSON: distinct (action, state) pairs, both media types, every
/// state, and every third one enriched with a field no declaration knows.
pub fn event_json(i: u64) -> Value {
    let contentoffer = i % 5 == 4;
    let states: &[&str] = if contentoffer {
        &CONTENTOFFER_STATES
    } else {
        &WEBCHAT_STATES
    };
    let state = states[(i as usize / 5) % states.len()];
    let mut event = json!({
        "actionId": uuid(i, 1).to_string(),
        "actionState": state,
        "actionMediaType": if contentoffer { "contentoffer" } else { "webchat" },
        "actionMapId": uuid(i % 7, 2).to_string(),
        "actionMapVersion": 1 + i % 4,
        "customerId": uuid(i % 1000, 3).to_string(),
        "customerIdType": "cookie",
        "sessionId": uuid(i % 3000, 4).to_string(),
    });
    if state == "errored" {
        event["errorCode"] = json!(500);
        event["errorMessage"] = json!("widget failed to render");
    }
    if i.is_multiple_of(3) {
        event["pageUrl"] = json!(format!("https://shop.example/p/{i}"));
    }
    event
}

/// Event number `i`, typed and boxed.
pub fn event(i: u64) -> Box<AnyEvent> {
    let json = event_json(i);
    let bytes = serde_json::to_vec(&json).unwrap();
    if json["actionMediaType"] == "contentoffer" {
        Box::new(ContentOfferEvent::from_json_slice(&bytes).unwrap().unwrap())
    } else {
        Box::new(WebChatEvent::from_json_slice(&bytes).unwrap().unwrap())
    }
}

/// `events(n)`: events 0..n.
pub fn events(n: u64) -> Vec<Box<AnyEvent>> {
    (0..n).map(event).collect()
}

/// The idempotency key of an event's JSON.
pub fn key_of(json: &Value) -> String {
    format!(
        "{}:{}",
        json["actionId"].as_str().unwrap(),
        json["actionState"].as_str().unwrap()
    )
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn deadline(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// Polls `condition` until it holds, failing after 10 s.
pub fn wait_until(mut condition: impl FnMut() -> bool) {
    let until = deadline(10);
    while !condition() {
        assert!(Instant::now() < until, "condition not reached within 10 s");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// A file of `tests/fixtures/tls` (see `make.sh` there).
pub fn tls_fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// Reads an NDJSON dead letter (missing file: empty).
pub fn dead_letter_records(path: &Path) -> Vec<Value> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(error) => panic!("{}: {error}", path.display()),
    }
}

/// How many times each key occurs.
pub fn tally<'a>(keys: impl IntoIterator<Item = &'a String>) -> HashMap<&'a str, usize> {
    let mut counts = HashMap::new();
    for key in keys {
        *counts.entry(key.as_str()).or_default() += 1;
    }
    counts
}

/// A nats-server with JetStream, started and stopped by a test.
pub struct NatsServer {
    bin: PathBuf,
    pub port: u16,
    store: PathBuf,
    /// TLS required, with the certificate in `tests/fixtures/tls`.
    tls: bool,
    child: Option<Child>,
}

impl NatsServer {
    /// The binary in `NATS_SERVER_BIN`; `None` (and a loud line) when unset.
    pub fn binary(test: &str) -> Option<PathBuf> {
        match std::env::var_os("NATS_SERVER_BIN") {
            Some(bin) => Some(PathBuf::from(bin)),
            None => {
                // A skip is for a developer's machine only: CI must run every test.
                assert!(
                    std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
                    "{test}: no nats-server (set NATS_SERVER_BIN); CI must run it"
                );
                // Straight to stderr: the test harness swallows `eprintln!` of passing tests.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED {test}: set NATS_SERVER_BIN to a nats-server binary to run it (.ci/run does) ***"
                );
                None
            }
        }
    }

    pub fn start(bin: PathBuf, store: &Path) -> NatsServer {
        NatsServer::launch(bin, store, false)
    }

    /// A server that requires TLS, with the certificate `tls_fixture("ca.pem")` signs.
    pub fn start_tls(bin: PathBuf, store: &Path) -> NatsServer {
        NatsServer::launch(bin, store, true)
    }

    fn launch(bin: PathBuf, store: &Path, tls: bool) -> NatsServer {
        let mut server = NatsServer {
            bin,
            port: free_port(),
            store: store.to_owned(),
            tls,
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "tls" } else { "nats" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts it (again) on the same port and store, and waits until it accepts.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new(&self.bin);
        command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store);
        if self.tls {
            command
                .args(["--tls", "--tlscert"])
                .arg(tls_fixture("server.pem"))
                .arg("--tlskey")
                .arg(tls_fixture("server.key"));
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", self.bin.display()));
        self.child = Some(child);
        let until = deadline(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < until,
                "nats-server did not start on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
