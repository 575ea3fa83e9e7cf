//! `webaction report --html` in a real browser: headless Chromium builds the page of the
//! committed sample, and the DOM it built must hold one SVG per action map with the
//! figures of `report --json`; the page must load nothing; its screenshot must not be
//! blank.
//!
//! Chromium: see `chromium/mod.rs` (without it the tests fail under CI and say SKIPPED
//! elsewhere).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod chromium;
// This test reads the page and `--json`, not the text report.
#[allow(dead_code)]
mod figures;

/// Runs headless Chromium on `url` with `args` (see [`chromium::command`]).
fn run_chromium(bin: &Path, profile: &Path, args: &[OsString], url: &str) -> Output {
    let child = chromium::command(bin, profile)
        .args(args)
        .arg(url)
        .spawn()
        .expect("start chromium");
    let output = chromium::wait(child);
    assert!(output.status.success(), "chromium {args:?}: {output:?}");
    output
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.canonicalize().unwrap().display())
}

/// The page of the committed sample, and `report --json` of it.
fn sample_page(dir: &Path) -> (PathBuf, Value) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/data/sample.ndjson");
    let page = dir.join("report.html");
    let webaction = |args: &[&std::ffi::OsStr]| {
        let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
            .arg("report")
            .arg(&sample)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        output.stdout
    };
    webaction(&["--html".as_ref(), page.as_os_str()]);
    let json = serde_json::from_slice(&webaction(&["--json".as_ref()])).unwrap();
    (page, json)
}

/// The URLs a page asked for, from a Chromium net log: requests with an initiator. The
/// browser's own background requests (which the flags should stop, but may not all)
/// have none ("not an origin"); a file:// page's carry its origin, "null".
fn page_requests(net_log: &Path) -> Vec<String> {
    let log: Value = serde_json::from_slice(&std::fs::read(net_log).unwrap()).unwrap();
    let start_job = &log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"];
    log["events"]
        .as_array()
        .unwrap()
        .iter()
        // Each job logs a begin and an end; only the begin has the URL and initiator.
        .filter(|e| &e["type"] == start_job && e["params"]["url"].is_string())
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .map(|e| e["params"]["url"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn chromium_builds_one_svg_per_action_map_with_the_json_figures_and_loads_nothing() {
    let Some(bin) = chromium::find("chromium_builds_one_svg_per_action_map") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, json) = sample_page(dir.path());
    let html = std::fs::read_to_string(&page).unwrap();
    // Statically: nothing that could load a resource, and a policy that makes the
    // browser refuse any load a later change might add.
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">"
    ));
    for needle in ["src=", "href=", "url(", "<script", "<link", "@import"] {
        assert!(!html.contains(needle), "the page holds {needle:?}");
    }

    let net_log = dir.path().join("net-log.json");
    let dom = run_chromium(
        &bin,
        &dir.path().join("profile"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", net_log.display()).into(),
        ],
        &file_url(&page),
    );
    let dom = String::from_utf8(dom.stdout).unwrap();
    let expected = figures::from_json(&json);
    assert_eq!(
        expected.len(),
        json["action_maps"].as_array().unwrap().len()
    );
    assert_eq!(
        dom.matches("<svg").count(),
        expected.len(),
        "one SVG per map"
    );
    assert_eq!(figures::from_html(&dom), expected);
    assert_eq!(page_requests(&net_log), Vec::<String>::new());

    // The net-log check can fail: the same browser, on a page that does load an image,
    // reports that request.
    let control = dir.path().join("control.html");
    std::fs::write(
        &control,
        "<!DOCTYPE html><p>control</p><img src=\"http://127.0.0.1:9/control.png\">",
    )
    .unwrap();
    let control_log = dir.path().join("control-net-log.json");
    run_chromium(
        &bin,
        &dir.path().join("control-profile"),
        &[
            "--dump-dom".into(),
            format!("--log-net-log={}", control_log.display()).into(),
        ],
        &file_url(&control),
    );
    assert!(
        page_requests(&control_log).contains(&"http://127.0.0.1:9/control.png".to_owned()),
        "{:?}",
        page_requests(&control_log)
    );
}

#[test]
fn the_screenshot_of_the_page_is_not_blank() {
    let Some(bin) = chromium::find("the_screenshot_of_the_page_is_not_blank") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (page, _) = sample_page(dir.path());
    let shot = dir.path().join("report.png");
    run_chromium(
        &bin,
        &dir.path().join("profile"),
        &[
            format!("--screenshot={}", shot.display()).into(),
            "--window-size=1000,1400".into(),
        ],
        &file_url(&page),
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (1000, 1400));
    let channels = frame.color_type.samples();
    let pixels: Vec<&[u8]> = pixels[..frame.buffer_size()].chunks(channels).collect();
    let background = pixels[0];
    let drawn = pixels.iter().filter(|p| **p != background).count();
    let colors: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    // Text, bars and the flow diagram: a good part of the pixels, in many colours
    // (anti-aliased text alone gives dozens).
    assert!(
        drawn * 20 > pixels.len(),
        "{drawn} of {} pixels drawn",
        pixels.len()
    );
    assert!(colors.len() > 32, "{} colours", colors.len());
    // `docs/report.png` is this screenshot: REPORT_SCREENSHOT=docs/report.png regenerates it.
    if let Some(out) = std::env::var_os("REPORT_SCREENSHOT") {
        std::fs::copy(&shot, out).unwrap();
    }
}
