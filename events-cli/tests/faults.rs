//! The reliability issue's defects of `check` and `report`, each through the real binary:
//! an output naming the input, a closed pipe or a full disk, a crafted limit, a
//! too-large line that is not UTF-8, a byte order mark, CRLF line ends, a closed standard
//! input, and `report`'s memory on endless actions.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use serde_json::{json, Value};

fn event(id: &str, state: &str) -> String {
    json!({
        "actionId": id, "actionState": state, "actionMediaType": "webchat",
        "actionMapId": "0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e", "actionMapVersion": 3,
        "customerId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "customerIdType": "cookie",
        "sessionId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    })
    .to_string()
}

const A: &str = "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d";
const B: &str = "7f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d";

fn webaction() -> Command {
    Command::new(env!("CARGO_BIN_EXE_webaction"))
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = webaction()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("faults")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A file with one valid and one rejected line.
fn events_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let content = format!("{}\n{{broken\n", event(A, "offered")).into_bytes();
    let path = dir.join("events.ndjson");
    std::fs::write(&path, &content).unwrap();
    (path, content)
}

#[test]
fn an_output_naming_the_input_is_refused_and_the_input_is_untouched() {
    let dir = temp_dir("same_file");
    let (input, content) = events_file(&dir);
    let link = dir.join("link.ndjson");
    std::os::unix::fs::symlink(&input, &link).unwrap();
    let hard = dir.join("hard.ndjson");
    std::fs::hard_link(&input, &hard).unwrap();
    let input = input.to_str().unwrap();
    for output in [input, link.to_str().unwrap(), hard.to_str().unwrap()] {
        let result = run(&["check", input, "--dead-letter", output], b"");
        assert_eq!(result.status.code(), Some(2), "{output}: {result:?}");
        let message = stderr(&result);
        assert!(
            message.contains(&format!(
                "--dead-letter `{output}` is the same file as the input `{input}`"
            )),
            "{message}"
        );
        assert_eq!(std::fs::read(input).unwrap(), content, "{output}");
    }
    // Standard input redirected from the file is the same file too.
    let result = webaction()
        .args(["check", "-", "--dead-letter", input])
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(2), "{result:?}");
    assert!(stderr(&result).contains("is the same file as the input `-`"));
    assert_eq!(std::fs::read(input).unwrap(), content);
    // A sink or the dead letter of `replay`, or the page of `report`, naming the input.
    for args in [
        vec!["report", input, "--html", input],
        vec!["replay", input, "--sink", &format!("ndjson:{input}")],
        vec![
            "replay",
            input,
            "--sink",
            &format!("datalayer:{}", link.display()),
        ],
        vec![
            "replay",
            input,
            "--sink",
            "ndjson:-",
            "--dead-letter",
            input,
        ],
    ] {
        let result = run(&args, b"");
        assert_eq!(result.status.code(), Some(2), "{args:?}: {result:?}");
        assert!(
            stderr(&result).contains("is the same file as"),
            "{}",
            stderr(&result)
        );
        assert_eq!(std::fs::read(input).unwrap(), content, "{args:?}");
    }
    // Two outputs in one file would interleave.
    let out = dir.join("out.ndjson");
    std::fs::write(&out, b"").unwrap();
    let out = out.to_str().unwrap();
    let result = run(
        &[
            "replay",
            input,
            "--sink",
            &format!("ndjson:{out}"),
            "--dead-letter",
            out,
        ],
        b"",
    );
    assert_eq!(result.status.code(), Some(2), "{result:?}");
    // Outputs that are not regular files destroy nothing.
    let result = webaction()
        .args(["check", "-", "--dead-letter", "/dev/null"])
        .stdin(std::fs::File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    assert_eq!(result.status.code(), Some(0), "{result:?}");
}

/// Runs `webaction` with its standard output a pipe whose reader is gone before it starts.
fn with_closed_stdout(args: &[&str], input: &Path) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    webaction()
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_summary_or_dead_letter_that_cannot_be_written_is_an_error() {
    let dir = temp_dir("lost_output");
    let (input, _) = events_file(&dir);
    let summary = with_closed_stdout(&["check", "-", "--json"], &input);
    assert_eq!(summary.status.code(), Some(2), "{summary:?}");
    assert!(
        stderr(&summary).contains("cannot write `-`"),
        "{}",
        stderr(&summary)
    );
    let letter = with_closed_stdout(&["check", "-", "--dead-letter", "/dev/stdout"], &input);
    assert_eq!(letter.status.code(), Some(2), "{letter:?}");
    let report = with_closed_stdout(&["report", "-"], &input);
    assert_eq!(report.status.code(), Some(2), "{report:?}");
    // A full disk.
    let full = run(
        &[
            "check",
            input.to_str().unwrap(),
            "--dead-letter",
            "/dev/full",
        ],
        b"",
    );
    assert_eq!(full.status.code(), Some(2), "{full:?}");
    assert!(
        stderr(&full).contains("cannot write `/dev/full`"),
        "{}",
        stderr(&full)
    );
    let full = webaction()
        .args(["check", input.to_str().unwrap()])
        .stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .output()
        .unwrap();
    assert_eq!(full.status.code(), Some(2), "{full:?}");
    // `simulate | head` is not an error: a generated stream loses nothing by stopping.
    let mut child = webaction()
        .args(["simulate", "--actions", "100000"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut start = [0u8; 100];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut start)
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

#[test]
fn a_limit_that_cannot_be_served_is_a_usage_error_naming_the_option() {
    for (option, value) in [
        ("--max-actions", "15811494920322472824"),
        ("--max-actions", "0"),
        ("--idle-lines", "0"),
        ("--idle-lines", "4294967296"),
        ("--max-line-bytes", "0"),
        ("--max-line-bytes", "18446744073709551615"),
    ] {
        for command in ["check", "report", "replay"] {
            let mut args = vec![command, "-", option, value];
            if command == "replay" {
                args.extend(["--sink", "ndjson:-"]);
            }
            let output = run(&args, b"");
            assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
            let message = stderr(&output);
            assert!(message.contains(option), "{args:?}: {message}");
            assert!(message.contains("is not in"), "{args:?}: {message}");
        }
    }
}

#[test]
fn a_too_large_line_that_is_not_utf8_keeps_its_exact_bytes() {
    let dir = temp_dir("too_large_bytes");
    let mut line = b"{\"actionId\":\"".to_vec();
    line.extend((0..200_000u32).map(|i| {
        if i % 1000 == 7 {
            0xff
        } else {
            b'a' + (i % 26) as u8
        }
    }));
    line.extend_from_slice(b"\"}");
    let input = dir.join("events.ndjson");
    std::fs::write(
        &input,
        [&line[..], b"\n", event(A, "offered").as_bytes()].concat(),
    )
    .unwrap();
    let letters = dir.join("dead.ndjson");
    let output = run(
        &[
            "check",
            input.to_str().unwrap(),
            "--max-line-bytes",
            "1000",
            "--dead-letter",
            letters.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let record: Value = serde_json::from_slice(&std::fs::read(&letters).unwrap()).unwrap();
    assert_eq!(record["kind"], "too_large");
    assert_eq!(record["len"], line.len());
    let exact = base64::engine::general_purpose::STANDARD
        .decode(record["raw_base64"].as_str().expect("raw_base64"))
        .unwrap();
    assert_eq!(exact, line);
}

#[test]
fn a_byte_order_mark_at_the_start_is_skipped() {
    let input = format!(
        "\u{feff}{}\n{}\n",
        event(A, "offered"),
        event(A, "accepted")
    );
    let output = run(&["check", "-", "--json"], input.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (summary["events"].clone(), summary["valid"].clone()),
        (json!(2), json!(2))
    );
    // Only at the start of the stream: elsewhere it is not JSON.
    let input = format!("{}\n\u{feff}{}\n", event(A, "offered"), event(B, "offered"));
    let output = run(&["check", "-", "--json"], input.as_bytes());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["by_kind"]["malformed_json"], 1);
}

#[test]
fn the_carriage_return_of_a_crlf_line_end_does_not_count_against_the_limit() {
    let line = event(A, "offered");
    let limit = line.len().to_string();
    for (input, valid, too_large) in [
        (format!("{line}\r\n{line}\n"), 1, 0), // second: a repeated state
        (format!("{line}\r\n"), 1, 0),
        (format!("{line}\r"), 1, 0),
        (format!("{line} \r\n"), 0, 1),
        (format!("{line}  "), 0, 1),
    ] {
        let output = run(
            &["check", "-", "--json", "--max-line-bytes", &limit],
            input.as_bytes(),
        );
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(summary["valid"], valid, "{input:?}: {summary}");
        assert_eq!(
            summary["by_kind"]["too_large"], too_large,
            "{input:?}: {summary}"
        );
    }
}

#[test]
fn a_closed_standard_input_is_an_error_not_an_empty_stream() {
    // `<&-`: the shell closes descriptor 0 before running the command.
    for command in ["check", "report"] {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("exec \"$0\" {command} - <&-"))
            .arg(env!("CARGO_BIN_EXE_webaction"))
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command}: {output:?}");
        assert!(
            stderr(&output).contains("standard input is closed"),
            "{}",
            stderr(&output)
        );
    }
}

/// The peak resident memory of a process, polled from `/proc` until it exits; a lower
/// bound of the true peak (it only grows).
fn peak_rss_kib(mut command: Command) -> (u64, std::process::ExitStatus) {
    let mut child = command.stdout(Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
                let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                peak = peak.max(kib);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn report_memory_is_bounded_by_the_tracker_cap_as_check_is() {
    let dir = temp_dir("report_memory");
    let input = dir.join("endless.ndjson");
    let template = event(A, "offered");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    // 250,000 actions that never end, all of one action map.
    for i in 0..250_000u32 {
        let id = format!("{i:08x}-5b7a-4c52-9a3e-0d4f1b2a3c4d");
        writeln!(file, "{}", template.replace(A, &id)).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let peak = |command: &str| {
        let mut cmd = webaction();
        cmd.args([command, input.to_str().unwrap(), "--max-actions", "10000"]);
        let (peak, status) = peak_rss_kib(cmd);
        assert!(status.code().is_some_and(|c| c <= 1), "{command}: {status}");
        peak
    };
    let check = peak("check");
    let report = peak("report");
    // Remembering 250,000 actions takes over 10 MB however compact; the tracker's cap
    // (10,000 actions) takes under 1 MB.
    assert!(
        report < check + 4 * 1024,
        "report peaked at {report} KiB, check at {check} KiB"
    );
    let output = webaction()
        .args([
            "report",
            input.to_str().unwrap(),
            "--max-actions",
            "10000",
            "--json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["action_maps"][0]["actions"], 250_000);
}

/// Writes a valid line and a broken one; the pipe stays open, as a live producer's would,
/// so only a signal can end the run.
fn write_pair(input: &mut std::process::ChildStdin, written: &mut u64) {
    let id = format!("{:08x}-5b7a-4c52-9a3e-0d4f1b2a3c4d", *written);
    writeln!(input, "{}\n{{broken {written}", event(&id, "offered")).unwrap();
    input.flush().unwrap();
    *written += 2;
}

#[test]
fn sigterm_stops_check_with_its_counts_and_dead_letter_written_and_exit_3() {
    let dir = temp_dir("check_sigterm");
    let letters = dir.join("dead.ndjson");
    let mut child = webaction()
        .args([
            "check",
            "-",
            "--json",
            "--dead-letter",
            letters.to_str().unwrap(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut written = 0u64;
    for _ in 0..50 {
        write_pair(&mut input, &mut written);
    }
    // Give it time to install its handler; a signal that came first would kill it, and
    // the status below would say so.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // A read blocked on a silent pipe returns with the next line; keep the producer
    // going until the command stops (bounded: 500 more pairs at most).
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(written < 1100, "check did not stop after SIGTERM");
        write_pair(&mut input, &mut written);
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut errors = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut errors)
        .unwrap();
    assert_eq!(status.code(), Some(3), "{status}: {errors}");
    assert!(errors.contains("interrupted by SIGTERM"), "{errors}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    let events = summary["events"].as_u64().unwrap();
    assert!(
        events >= 100 && events < written,
        "{summary}, {written} written"
    );
    let records = std::fs::read_to_string(&letters).unwrap();
    assert_eq!(
        records.lines().count() as u64,
        summary["rejected"].as_u64().unwrap(),
        "every rejected line read is in the dead letter"
    );
}

/// A build without the network sinks refuses their specs up front, naming the feature.
#[test]
#[cfg(not(all(feature = "http", feature = "tls", feature = "nats")))]
fn a_sink_left_out_of_the_build_is_refused_naming_its_feature() {
    for (spec, feature, present) in [
        (
            "http://127.0.0.1:8080/batch",
            "http",
            cfg!(feature = "http"),
        ),
        (
            "https://collector.example/batch",
            "tls",
            cfg!(feature = "tls"),
        ),
        (
            "nats://127.0.0.1:4222/webactions",
            "nats",
            cfg!(feature = "nats"),
        ),
    ] {
        if present {
            continue;
        }
        let output = run(&["replay", "-", "--sink", spec], b"");
        assert_eq!(output.status.code(), Some(2), "{spec}: {output:?}");
        let message = stderr(&output);
        assert!(
            message.contains(&format!("the `{feature}` Cargo feature")),
            "{message}"
        );
    }
}
