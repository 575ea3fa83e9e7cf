//! `webaction report`: counts per action map and conversion rates, on a hand-made stream
//! with known answers, and on the committed sample the README shows.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

mod figures;

fn webaction(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

const MAP_M: &str = "0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e";
const MAP_N: &str = "1b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e";

fn event(action: u8, media_type: &str, state: &str, map: &str, version: u32) -> String {
    json!({
        "actionId": format!("00000000-0000-4000-8000-0000000000{action:02x}"),
        "actionState": state, "actionMediaType": media_type,
        "actionMapId": map, "actionMapVersion": version,
        "customerId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "customerIdType": "cookie",
        "sessionId": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
    })
    .to_string()
}

fn hand_made() -> String {
    let chat = |action, state| event(action, "webchat", state, MAP_M, 1);
    [
        chat(1, "offered"),
        chat(2, "offered"),
        chat(3, "offered"),
        chat(1, "accepted"),
        chat(2, "ignored"),
        chat(3, "accepted"),
        chat(1, "started"),
        chat(3, "rejected"),
        chat(1, "engaged"),
        // Illegal after the end: rejected, so it changes no count.
        chat(1, "abandoned"),
        event(9, "contentoffer", "offered", MAP_N, 2),
        event(9, "contentoffer", "accepted", MAP_N, 2),
        // Another version of the same map is another row.
        event(8, "contentoffer", "offered", MAP_N, 3),
        "{broken".to_owned(),
    ]
    .join("\n")
}

#[test]
fn counts_and_rates_per_action_map_and_version() {
    let output = webaction(&["report", "--json"], hand_made().as_bytes());
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        (&report["events"], &report["valid"], &report["rejected"]),
        (&json!(14), &json!(12), &json!(2))
    );
    let maps = report["action_maps"].as_array().unwrap();
    assert_eq!(maps.len(), 3);
    let chat = &maps[0];
    assert_eq!(chat["media_type"], "webchat");
    assert_eq!(chat["action_map_id"], MAP_M);
    assert_eq!(chat["actions"], 3);
    assert_eq!(
        chat["states"],
        json!({"offered": 3, "accepted": 2, "rejected": 1, "ignored": 1, "timedout": 0,
               "errored": 0, "started": 1, "engaged": 1, "abandoned": 0})
    );
    let rate = |from: &str, to: &str| {
        let step = chat["conversions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["from"] == from && c["to"] == to)
            .unwrap_or_else(|| panic!("no {from} -> {to}"));
        (
            step["actions"].as_u64().unwrap(),
            step["rate"].as_f64().unwrap(),
        )
    };
    assert_eq!(rate("offered", "accepted"), (2, 2.0 / 3.0));
    assert_eq!(rate("offered", "ignored"), (1, 1.0 / 3.0));
    assert_eq!(rate("offered", "timedout"), (0, 0.0));
    assert_eq!(rate("accepted", "started"), (1, 0.5));
    assert_eq!(rate("accepted", "rejected"), (1, 0.5));
    assert_eq!(rate("started", "engaged"), (1, 1.0));
    assert_eq!(maps[1]["media_type"], "contentoffer");
    assert_eq!(maps[1]["action_map_version"], 2);
    assert_eq!(maps[1]["states"]["accepted"], 1);
    assert_eq!(maps[2]["action_map_version"], 3);
    assert_eq!(maps[2]["conversions"][0]["rate"], 0.0);
}

#[test]
fn the_text_report_shows_states_and_rates() {
    let output = webaction(&["report", "-"], hand_made().as_bytes());
    let text = String::from_utf8(output.stdout).unwrap();
    // The legend comes first: "reached" and "step" counts are easy to confuse.
    assert!(
        text.starts_with("Legend: reached = actions that reached a state"),
        "{text}"
    );
    // A total per media type, with its rejected lines by kind (the illegal `abandoned`).
    assert!(
        text.contains(
            "webchat total · 1 action map · 3 actions · 10 events: 9 valid, 1 rejected\n  \
             rejected by kind: illegal_transition 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("\nwebchat · action map {MAP_M} v1 · 3 actions\n")),
        "{text}"
    );
    assert!(text.contains("  offered -> accepted"), "{text}");
    assert!(text.contains("2/3   66.7%"), "{text}");
    // Terminal and end states are marked as in the generated docs.
    assert!(
        text.contains("  rejected          1   33.3%  terminal\n"),
        "{text}"
    );
    // States no action reached, and steps none took, are hidden by default ...
    assert!(!text.contains("timedout"), "{text}");
    assert!(!text.contains("0/3"), "{text}");
    // ... the broken line has no media type ...
    assert!(
        text.contains("media type unknown · rejected by kind: malformed_json 1\n"),
        "{text}"
    );
    assert!(text.ends_with("14 events: 12 valid, 2 rejected (`webaction check` lists them)\n"));
    // ... and listed with --all-states.
    let all = webaction(&["report", "-", "--all-states"], hand_made().as_bytes());
    let all = String::from_utf8(all.stdout).unwrap();
    assert!(
        all.contains("  timedout          0    0.0%  terminal\n"),
        "{all}"
    );
    assert!(
        all.contains("  offered -> timedout                 0/3    0.0%\n"),
        "{all}"
    );
}

#[test]
fn maps_are_ordered_by_actions_and_media_types_have_totals() {
    let mut stream = hand_made();
    // Two more actions on version 3 of map N: it now has more actions than version 2.
    for action in [20, 21] {
        stream.push('\n');
        stream.push_str(&event(action, "contentoffer", "offered", MAP_N, 3));
    }
    // A line that names a media type but lacks a field counts toward that media type.
    stream.push_str("\n{\"actionMediaType\":\"contentoffer\",\"actionState\":\"offered\"}");
    let output = webaction(&["report", "--json"], stream.as_bytes());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let order: Vec<(&str, u64, u64)> = report["action_maps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["media_type"].as_str().unwrap(),
                m["action_map_version"].as_u64().unwrap(),
                m["actions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("webchat", 1, 3),
            ("contentoffer", 3, 3),
            ("contentoffer", 2, 1)
        ]
    );
    let totals = &report["media_types"];
    assert_eq!(totals[0]["media_type"], "webchat");
    assert_eq!(
        (
            &totals[0]["actions"],
            &totals[0]["events"],
            &totals[0]["rejected"]
        ),
        (&json!(3), &json!(10), &json!(1))
    );
    assert_eq!(totals[0]["rejected_by_kind"]["illegal_transition"], 1);
    assert_eq!(totals[1]["media_type"], "contentoffer");
    assert_eq!(
        (
            &totals[1]["action_maps"],
            &totals[1]["actions"],
            &totals[1]["events"]
        ),
        (&json!(2), &json!(4), &json!(6))
    );
    assert_eq!(totals[1]["rejected_by_kind"]["missing_field"], 1);
    assert_eq!(report["rejected_unknown_media_type"]["malformed_json"], 1);
    assert_eq!(report["rejected_by_kind"]["malformed_json"], 1);
    assert_eq!(report["rejected_by_kind"]["missing_field"], 1);
    // The funnel carries each state's kind and share, as the page shows them.
    let funnel = &report["action_maps"][0]["funnel"];
    assert_eq!(
        funnel[2],
        json!({"state": "rejected", "kind": "terminal", "reached": 1, "share": 1.0 / 3.0})
    );
}

#[test]
fn the_text_the_json_and_the_page_show_the_same_figures() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sample.ndjson");
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    let text = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .arg("report")
        .arg(&sample)
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(text.status.code(), Some(0), "{text:?}");
    let json = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["report", "--json"])
        .arg(&sample)
        .output()
        .unwrap();
    let expected = figures::from_json(&serde_json::from_slice(&json.stdout).unwrap());
    assert_eq!(expected.len(), 6);
    assert_eq!(
        figures::from_text(&String::from_utf8(text.stdout).unwrap()),
        expected
    );
    assert_eq!(
        figures::from_html(&std::fs::read_to_string(&page).unwrap()),
        expected
    );
}

#[test]
fn the_readme_command_works_on_the_committed_sample() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sample.ndjson");
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .arg("report")
        .arg(&sample)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("webchat · action map"), "{text}");
    assert!(text.contains("contentoffer · action map"), "{text}");
    assert!(text.contains(" 0 rejected"), "{text}");
    // Every action map's lifecycles complete: the steps out of each initial state add up
    // to the actions that reached it.
    let json = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["report", "--json"])
        .arg(&sample)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&json.stdout).unwrap();
    for map in report["action_maps"].as_array().unwrap() {
        let out_of_offered: u64 = map["conversions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["from"] == "offered")
            .map(|c| c["actions"].as_u64().unwrap())
            .sum();
        assert_eq!(json!(out_of_offered), map["states"]["offered"], "{map}");
    }
}

/// `--threads` changes where lines are tallied, not the report: on a few hundred thousand
/// simulated events with broken lines and illegal steps injected, one and two threads
/// print the same JSON and the same text, byte for byte.
#[test]
fn threads_give_a_byte_identical_report() {
    let mut input = Vec::new();
    let simulation = events_cli::simulate::Simulation {
        actions: 100_000,
        seed: 5,
        invalid_rate: 0.05,
    };
    let registry = events_core::Registry::builtin();
    events_cli::simulate::simulate(&registry, &simulation, &mut input).unwrap();
    let run = |format: &str, threads: &str| {
        let output = webaction(&["report", "-", format, "--threads", threads], &input);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    let json = run("--json", "1");
    let report: Value = serde_json::from_slice(&json).unwrap();
    assert!(report["events"].as_u64().unwrap() > 200_000, "{report}");
    assert!(
        report["rejected_by_kind"]["illegal_transition"]
            .as_u64()
            .unwrap()
            > 1000
    );
    assert!(
        run("--json", "2") == json,
        "the JSON report differs with --threads 2"
    );
    assert!(
        run("--all-states", "2") == run("--all-states", "1"),
        "the text report differs with --threads 2"
    );
}
