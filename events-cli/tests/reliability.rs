//! `webaction replay` when things go wrong, through the binary: a signal mid-delivery,
//! output that cannot be written, a collector URL that cannot work, a dead letter that
//! cannot be written, an option out of range. Every event read is accounted for.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use events_cli::simulate::{simulate, Simulation};
use events_core::Registry;
use serde_json::Value;

fn stream(actions: u64) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let summary = simulate(
        &Registry::builtin(),
        &Simulation {
            actions,
            seed: 11,
            invalid_rate: 0.0,
        },
        &mut out,
    )
    .unwrap();
    (out, summary.events)
}

fn webaction(args: &[&str], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_webaction"));
    command.arg("replay").args(args).current_dir(dir);
    command
}

/// Waits for `child`, killing it and failing if it has not exited within `limit`: the
/// bound only catches a hang (or a full retry cycle), it measures nothing.
fn wait_within(child: &mut Child, limit: Duration) -> ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("webaction did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs replay on `input` (a file in `dir`), bounded by `limit`.
fn run_within(input: &[u8], args: &[&str], dir: &Path, limit: Duration) -> Output {
    std::fs::write(dir.join("in.ndjson"), input).unwrap();
    let mut child = webaction(&[&["in.ndjson"], args].concat(), dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = drain(&mut child);
    let status = wait_within(&mut child, limit);
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

type Reader = std::thread::JoinHandle<Vec<u8>>;

fn read_all(mut from: impl Read + Send + 'static) -> Reader {
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = from.read_to_end(&mut all);
        all
    })
}

fn drain(child: &mut Child) -> (Reader, Reader) {
    (
        read_all(child.stdout.take().unwrap()),
        read_all(child.stderr.take().unwrap()),
    )
}

/// The counts of the stderr summary: `read N line(s): N accepted, N rejected` and
/// `delivered N, retried N, dead-lettered N[, lost N]`.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    accepted: u64,
    rejected: u64,
    delivered: u64,
    dead_lettered: u64,
    lost: u64,
}

fn counts(stderr: &[u8]) -> Counts {
    let text = String::from_utf8_lossy(stderr);
    let mut counts = Counts::default();
    let mut found = (false, false);
    for line in text.lines() {
        let words: Vec<&str> = line
            .split(|c: char| c == ',' || c == ':' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        let number = |at: usize| words[at].parse::<u64>().unwrap();
        if line.starts_with("read ") {
            // read N line(s): N accepted, N rejected
            counts.accepted = number(3);
            counts.rejected = number(5);
            found.0 = true;
        }
        if line.starts_with("delivered ") {
            counts.delivered = number(1);
            counts.dead_lettered = number(5);
            if words.len() > 7 && words[6] == "lost" {
                counts.lost = number(7);
            }
            found.1 = true;
        }
    }
    assert!(found.0 && found.1, "no summary in stderr:\n{text}");
    counts
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// An HTTP collector that accepts connections and reads requests but never answers;
/// counts the connections that sent something.
fn silent_collector() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/batch", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&requests);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                let mut counted = false;
                // Read forever, answer never; the connection stays open until the client
                // gives up.
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if !counted {
                        counted = true;
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    (url, requests)
}

/// Waits (up to 30 s) until what stderr said so far contains `text`.
fn wait_for_stderr(seen: &Mutex<Vec<u8>>, text: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains(text) {
        assert!(Instant::now() < until, "stderr never said {text:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// The replay of the issue: a collector that hangs, a small queue that fills, SIGTERM;
/// `again`: a second signal while it waits `--shutdown-timeout` (then 10 minutes) for the
/// batches in flight.
fn interrupted_replay(signal_name: &str, again: bool) {
    let (input, events) = stream(206);
    assert!(events >= 450, "{events}");
    let (url, requests) = silent_collector();
    let dir = tempfile::tempdir().unwrap();
    let mut child = webaction(
        &[
            "-",
            "--sink",
            &url,
            "--queue-capacity",
            "20",
            "--batch-size",
            "10",
            "--timeout-ms",
            "600000",
            "--shutdown-timeout",
            if again { "600" } else { "1" },
            "--dead-letter",
            "dead.ndjson",
        ],
        dir.path(),
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The replay stops reading once the queue is full: write from a thread, and let the
    // write fail when the process is gone.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let _stdout = read_all(child.stdout.take().unwrap());
    let stderr_seen = Arc::new(Mutex::new(Vec::new()));
    let stderr = {
        let mut from = child.stderr.take().unwrap();
        let seen = Arc::clone(&stderr_seen);
        std::thread::spawn(move || {
            let mut buf = [0; 1024];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
            seen.lock().unwrap().clone()
        })
    };
    let until = Instant::now() + Duration::from_secs(30);
    while requests.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < until, "the collector got no request");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal(&child, signal_name);
    if again {
        // The first signal's line says the replay is stopping; then the second one.
        wait_for_stderr(&stderr_seen, "stopping");
        signal(&child, signal_name);
    }
    let status = wait_within(&mut child, Duration::from_secs(60));
    writer.join().unwrap();
    let stderr = stderr.join().unwrap();
    let text = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(3), "{status:?}\n{text}");
    assert!(text.contains("interrupted"), "{text}");
    let counts = counts(&stderr);
    let dead = records(&dir.path().join("dead.ndjson"));
    let shutdown = dead.iter().filter(|r| r["reason"] == "shutdown").count() as u64;
    assert!(counts.accepted > 0 && counts.accepted <= events, "{text}");
    assert_eq!(counts.delivered, 0, "{text}");
    assert_eq!(counts.lost, 0, "{text}");
    assert_eq!(shutdown, dead.len() as u64);
    assert_eq!(counts.dead_lettered, shutdown, "{text}");
    assert_eq!(counts.delivered + shutdown, counts.accepted, "{text}");
}

#[test]
fn sigterm_dead_letters_every_queued_and_blocked_event_and_exits_3() {
    interrupted_replay("TERM", false);
}

#[test]
fn a_second_signal_dead_letters_the_batches_in_flight_at_once() {
    interrupted_replay("TERM", true);
}

#[test]
fn sigint_does_the_same() {
    interrupted_replay("INT", false);
}

#[test]
fn a_pipe_closed_early_is_an_error_and_the_summary_accounts_for_every_event_read() {
    let (input, _) = stream(3000);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.ndjson"), &input).unwrap();
    let mut child = webaction(&["in.ndjson", "--sink", "ndjson:-"], dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0; 100];
    stdout.read_exact(&mut head).unwrap();
    drop(stdout);
    let mut stderr = child.stderr.take().unwrap();
    let status = wait_within(&mut child, Duration::from_secs(60));
    let mut text = Vec::new();
    stderr.read_to_end(&mut text).unwrap();
    let message = String::from_utf8_lossy(&text);
    assert_eq!(status.code(), Some(2), "{message}");
    assert!(message.contains("stdout"), "{message}");
    let counts = counts(&text);
    assert!(counts.lost + counts.dead_lettered > 0, "{message}");
    assert_eq!(
        counts.delivered + counts.dead_lettered + counts.lost,
        counts.accepted,
        "{message}"
    );
    let dead = records(&dir.path().join("webaction-dead-letter.ndjson"));
    assert_eq!(dead.len() as u64, counts.dead_lettered);
}

#[test]
fn a_full_disk_is_an_error_naming_the_file_and_the_summary_accounts_for_every_event() {
    let (input, events) = stream(500);
    let dir = tempfile::tempdir().unwrap();
    let output = run_within(
        &input,
        &["--sink", "ndjson:/dev/full"],
        dir.path(),
        Duration::from_secs(60),
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("`/dev/full`"), "{message}");
    let counts = counts(&output.stderr);
    assert!(counts.accepted <= events);
    assert_eq!(
        counts.delivered + counts.dead_lettered + counts.lost,
        counts.accepted,
        "{message}"
    );
    let dead = records(&dir.path().join("webaction-dead-letter.ndjson"));
    assert_eq!(dead.len() as u64, counts.dead_lettered);
}

#[test]
fn when_even_the_dead_letter_is_full_the_events_are_counted_as_lost() {
    let (input, _) = stream(500);
    let dir = tempfile::tempdir().unwrap();
    let output = run_within(
        &input,
        &["--sink", "ndjson:/dev/full", "--dead-letter", "/dev/full"],
        dir.path(),
        Duration::from_secs(60),
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("`/dev/full`"), "{message}");
    let counts = counts(&output.stderr);
    assert_eq!(counts.dead_lettered, 0, "{message}");
    assert!(counts.lost > 0, "{message}");
    assert_eq!(counts.delivered + counts.lost, counts.accepted, "{message}");
}

#[test]
fn impossible_collector_urls_are_usage_errors_before_any_delivery() {
    let (input, _) = stream(5);
    for (spec, says) in [
        ("http://127.0.0.1:99999/x", "99999"),
        ("http://127.0.0.1:0/x", "port"),
        ("http://:80/x", "host"),
        ("https://:443/x", "host"),
        ("nats://127.0.0.1:70000/webactions", "70000"),
        ("tls://:4222/webactions", "host"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = run_within(
            &input,
            &["--sink", spec],
            dir.path(),
            Duration::from_secs(10),
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{spec}: {message}");
        assert!(message.contains(says), "{spec}: {message}");
        assert!(!dir.path().join("webaction-dead-letter.ndjson").exists());
    }
}

#[test]
fn an_unwritable_dead_letter_is_an_error_before_the_first_line_is_read() {
    let (input, _) = stream(5);
    let dir = tempfile::tempdir().unwrap();
    let output = run_within(
        &input,
        &["--sink", "ndjson:-", "--dead-letter", "missing/dead.ndjson"],
        dir.path(),
        Duration::from_secs(10),
    );
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(message.contains("missing/dead.ndjson"), "{message}");
    assert!(output.stdout.is_empty(), "events were replayed");
}

#[test]
fn the_dead_letter_check_neither_truncates_nor_leaves_a_file_behind() {
    let (input, _) = stream(5);
    let dir = tempfile::tempdir().unwrap();
    let output = run_within(
        &input,
        &["--sink", "ndjson:out.ndjson"],
        dir.path(),
        Duration::from_secs(10),
    );
    assert!(output.status.success());
    assert!(!dir.path().join("webaction-dead-letter.ndjson").exists());
    std::fs::write(dir.path().join("kept.ndjson"), "{\"old\":1}\n").unwrap();
    let output = run_within(
        &input,
        &[
            "--sink",
            "ndjson:out.ndjson",
            "--dead-letter",
            "kept.ndjson",
        ],
        dir.path(),
        Duration::from_secs(10),
    );
    assert!(output.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("kept.ndjson")).unwrap(),
        "{\"old\":1}\n"
    );
}

#[test]
fn numeric_options_out_of_range_are_usage_errors_naming_the_option() {
    let (input, _) = stream(5);
    for (option, value) in [
        ("--timeout-ms", "0"),
        ("--batch-size", "0"),
        ("--queue-capacity", "0"),
        ("--shutdown-timeout", "18446744073709551615"),
        ("--max-retry-after", "18446744073709551615"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = run_within(
            &input,
            &["--sink", "ndjson:-", option, value],
            dir.path(),
            Duration::from_secs(10),
        );
        let message = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{option}: {message}");
        assert!(message.contains(option), "{option}: {message}");
        assert!(message.contains(".."), "{option}: no range in {message}");
        assert!(output.stdout.is_empty());
    }
}
