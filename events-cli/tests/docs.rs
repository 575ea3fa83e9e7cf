//! `webaction docs --out DIR` writes exactly the committed `docs/events/`, byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            (
                entry.file_name().into_string().unwrap(),
                std::fs::read(entry.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn docs_writes_the_committed_documentation() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("events");
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["docs", "--out"])
        .arg(&target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");

    let printed: Vec<PathBuf> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect();
    assert_eq!(printed.len(), 9);
    assert!(printed
        .iter()
        .all(|p| p.starts_with(&target) && p.is_file()));

    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/events");
    let (generated, committed) = (files(&target), files(&committed));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&generated), names(&committed));
    for ((name, generated), (_, committed)) in generated.iter().zip(&committed) {
        assert!(
            generated == committed,
            "docs/events/{name} differs from `webaction docs`; regenerate with \
             `cargo run -p events-cli -- docs --out docs/events`"
        );
    }
}

#[test]
fn docs_into_a_file_fails_with_status_2_naming_it() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["docs", "--out"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains(&format!("cannot write `{}`", file.path().display())),
        "{stderr}"
    );
}

#[test]
fn docs_removes_the_page_and_schema_of_a_media_type_no_longer_registered() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path();
    // What an earlier generation with one more media type left.
    std::fs::write(
        target.join("catalog.json"),
        r#"{"mediaTypes": [{"page": "poll.md", "schema": "poll.schema.json"}]}"#,
    )
    .unwrap();
    for name in ["poll.md", "poll.schema.json", "README.md"] {
        std::fs::write(target.join(name), "old").unwrap();
    }
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["docs", "--out"])
        .arg(target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for name in ["poll.md", "poll.schema.json"] {
        assert!(!target.join(name).exists(), "{name}");
        assert!(
            stderr.contains(&format!("removed {}", target.join(name).display())),
            "{stderr}"
        );
    }
    assert!(target.join("README.md").is_file(), "not the generator's");
}
