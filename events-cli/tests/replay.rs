//! `webaction replay` end to end: the binary reads a simulated stream and forwards it to
//! each kind of sink; the final line counts what happened.

mod downstream;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use downstream::{server, server_with};
use events_cli::simulate::{simulate, Simulation};
use events_core::Registry;
use serde_json::Value;

fn stream(actions: u64) -> (Vec<u8>, u64) {
    let mut out = Vec::new();
    let summary = simulate(
        &Registry::builtin(),
        &Simulation {
            actions,
            seed: 7,
            invalid_rate: 0.0,
        },
        &mut out,
    )
    .unwrap();
    (out, summary.events)
}

fn replay(input: &[u8], args: &[&str], dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .arg("replay")
        .arg("-")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn last_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

fn lines(text: &[u8]) -> Vec<Value> {
    text.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

#[test]
fn ndjson_to_stdout_keeps_every_event_and_counts_on_stderr() {
    let (input, events) = stream(200);
    let dir = tempfile::tempdir().unwrap();
    let output = replay(&input, &["--sink", "ndjson:-"], dir.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(lines(&output.stdout), lines(&input));
    assert_eq!(
        last_line(&output),
        format!("delivered {events}, retried 0, dead-lettered 0")
    );
    assert!(!dir.path().join("webaction-dead-letter.ndjson").exists());
}

#[test]
fn datalayer_json_is_an_array_of_named_objects() {
    let (input, events) = stream(50);
    let dir = tempfile::tempdir().unwrap();
    let output = replay(&input, &["--sink", "datalayer:out.json"], dir.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let array: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(array.len() as u64, events);
    for (object, event) in array.iter().zip(lines(&input)) {
        let name = format!(
            "{}_{}",
            event["actionMediaType"].as_str().unwrap(),
            event["actionState"].as_str().unwrap()
        );
        assert_eq!(object["event"], name.as_str());
        assert_eq!(object["actionId"], event["actionId"]);
    }
}

#[test]
fn http_posts_track_batches_of_the_chosen_size() {
    let (input, events) = stream(300);
    let (url, bodies) = server(200);
    let dir = tempfile::tempdir().unwrap();
    let output = replay(
        &input,
        &["--sink", &url, "--body", "track", "--batch-size", "100"],
        dir.path(),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        last_line(&output),
        format!("delivered {events}, retried 0, dead-lettered 0")
    );
    let bodies = bodies.lock().unwrap();
    let calls: Vec<&Value> = bodies
        .iter()
        .flat_map(|b| b["batch"].as_array().unwrap())
        .collect();
    assert_eq!(calls.len() as u64, events);
    assert!(bodies
        .iter()
        .all(|b| b["batch"].as_array().unwrap().len() <= 100));
    assert!(calls
        .iter()
        .all(|c| c["type"] == "track" && c["event"].as_str().unwrap().starts_with("Web Action ")));
}

#[test]
fn a_refusing_collector_fills_the_dead_letter_and_the_exit_status_says_so() {
    let (input, events) = stream(40);
    let (url, _) = server(400);
    let dir = tempfile::tempdir().unwrap();
    let output = replay(
        &input,
        &["--sink", &url, "--dead-letter", "dead.ndjson"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        last_line(&output),
        format!("delivered 0, retried 0, dead-lettered {events}")
    );
    let dead = lines(&std::fs::read(dir.path().join("dead.ndjson")).unwrap());
    assert_eq!(dead.len() as u64, events);
    assert!(dead
        .iter()
        .all(|r| r["reason"] == "rejected" && r["status"] == 400 && r["body"] == "bad batch"));
}

#[test]
fn max_retry_after_caps_a_collectors_retry_after() {
    // An hour, then the largest number the header can hold: with the cap, the replay
    // retries after a second and delivers once the collector accepts.
    let (url, bodies) = server_with(|request| match request {
        0 => (429, "retry-after: 3600\r\n"),
        1 => (429, "retry-after: 18446744073709551615\r\n"),
        _ => (200, ""),
    });
    let (input, events) = stream(20);
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["replay", "-", "--sink", &url, "--max-retry-after", "1"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    // A bound that only catches the hang (an hour's wait), not a measurement.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > until {
            child.kill().unwrap();
            panic!("the replay obeyed Retry-After: 3600");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        last_line(&output),
        format!(
            "delivered {events}, retried {}, dead-lettered 0",
            2 * events
        )
    );
    assert_eq!(bodies.lock().unwrap().len(), 3);
}

#[test]
fn nats_when_a_server_is_given() {
    let Ok(url) = std::env::var("NATS_URL") else {
        assert!(
            std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
            "no NATS_URL; CI must run this test against a nats-server"
        );
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED nats_when_a_server_is_given: set NATS_URL (.ci/run does) ***"
        );
        return;
    };
    let (input, events) = stream(100);
    let dir = tempfile::tempdir().unwrap();
    let spec = format!("{url}/replaytest{}", std::process::id());
    let output = replay(&input, &["--sink", &spec], dir.path());
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        last_line(&output),
        format!("delivered {events}, retried 0, dead-lettered 0")
    );
}

#[test]
fn a_bad_sink_spec_is_a_usage_error_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let output = replay(b"", &["--sink", "ndjosn:out.ndjson"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did you mean `ndjson:`"), "{stderr}");
}

#[test]
fn an_unusable_ca_file_is_a_usage_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = replay(
        b"",
        &[
            "--sink",
            "https://127.0.0.1:1/batch",
            "--ca-file",
            "no-such-ca.pem",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-ca.pem"), "{stderr}");
}

#[test]
fn https_without_any_trusted_root_is_a_usage_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    // The system store, as rustls-native-certs finds it, made empty: an empty file and
    // an empty directory.
    std::fs::write(dir.path().join("empty.pem"), "").unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["replay", "-", "--sink", "https://127.0.0.1:1/batch"])
        .env("SSL_CERT_FILE", dir.path().join("empty.pem"))
        .env("SSL_CERT_DIR", dir.path().join("certs"))
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no trusted root certificate"), "{stderr}");
    assert!(stderr.contains("CA file"), "{stderr}");
}

/// `--threads` changes where lines are judged, not what the sink receives: on a few
/// hundred thousand simulated events with broken lines and illegal steps injected, one
/// and two threads write the same NDJSON byte for byte, and count alike.
#[test]
fn threads_give_byte_identical_sink_output() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("replay-threads");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut input = Vec::new();
    let simulation = Simulation {
        actions: 100_000,
        seed: 3,
        invalid_rate: 0.05,
    };
    simulate(&Registry::builtin(), &simulation, &mut input).unwrap();
    let path = dir.join("events.ndjson");
    std::fs::write(&path, &input).unwrap();
    // Files, not pipes: the test writes no input while the sink's output waits unread.
    let run = |threads: &str| {
        let out = dir.join(format!("sink-{threads}.ndjson"));
        let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
            .arg("replay")
            .arg(&path)
            .args(["--threads", threads, "--sink"])
            .arg(format!("ndjson:{}", out.display()))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        (std::fs::read(out).unwrap(), output.stderr)
    };
    let one = run("1");
    let delivered = one.0.iter().filter(|&&b| b == b'\n').count();
    assert!(delivered > 200_000, "{delivered} events delivered");
    assert!(String::from_utf8_lossy(&one.1).contains("rejected"));
    let two = run("2");
    assert!(two.0 == one.0, "the sink's output differs with --threads 2");
    assert_eq!(
        String::from_utf8_lossy(&two.1),
        String::from_utf8_lossy(&one.1)
    );
}
