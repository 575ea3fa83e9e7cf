//! Headless Chromium for the browser tests: where it is, the flags every run takes, and
//! waiting for it with a guard.
//!
//! Chromium is `CHROMIUM_BIN` or `/usr/bin/chromium` (`.ci/run` installs Debian's
//! package). Without it a test fails under CI (`CI` set) and says SKIPPED elsewhere.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The Chromium binary, or `None` (after saying SKIPPED) off CI.
pub(crate) fn find(test: &str) -> Option<PathBuf> {
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

/// Headless Chromium with a fresh profile in `profile`. The flags keep the browser itself
/// off the network (no update checks, sync or QUIC probes), which is also closed on CI
/// machines; `--no-sandbox` because CI runs as root.
pub(crate) fn command(bin: &Path, profile: &Path) -> Command {
    let mut command = Command::new(bin);
    command
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
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Waits for the browser to exit. A guard against a browser that never exits, not a
/// performance check: past it the browser is killed and the test fails with what it
/// printed instead of hanging CI.
pub(crate) fn wait(mut child: Child) -> Output {
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}
