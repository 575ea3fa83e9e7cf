//! `webaction completions <shell>`, checked by the shell itself, and a program that ships
//! the command under its own name and version.

use std::process::Command;

use events_cli::Program;

fn completions(shell: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["completions", shell])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn bash_loads_the_script_and_completes_subcommands_and_options() {
    let script = completions("bash");
    let Ok(probe) = Command::new("bash").arg("--version").output() else {
        panic!("bash is needed for this test");
    };
    assert!(probe.status.success());
    // Load the script, then ask its completion function what follows `webaction ch` and
    // `webaction check --max-`.
    let session = format!(
        r#"{script}
complete -p webaction
COMP_WORDS=(webaction ch); COMP_CWORD=1; COMP_LINE="webaction ch"; COMP_POINT=12
_webaction webaction ch webaction; echo "subcommands: ${{COMPREPLY[*]}}"
COMP_WORDS=(webaction check --max-); COMP_CWORD=2; COMP_LINE="webaction check --max-"; COMP_POINT=22
_webaction webaction --max- check; echo "options: ${{COMPREPLY[*]}}"
"#
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &session])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("-F _webaction webaction"), "{stdout}");
    assert!(stdout.contains("subcommands: check"), "{stdout}");
    let options = stdout.lines().find(|l| l.starts_with("options: ")).unwrap();
    assert!(options.contains("--max-line-bytes"), "{options}");
}

#[test]
fn every_shell_gets_a_script_naming_every_subcommand() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = completions(shell);
        for subcommand in [
            "simulate",
            "check",
            "replay",
            "report",
            "docs",
            "completions",
        ] {
            assert!(script.contains(subcommand), "{shell}: {subcommand}");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused_with_the_list() {
    let output = Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
    assert!(
        stderr.contains("bash, elvish, fish, powershell, zsh"),
        "{stderr}"
    );
}

#[test]
fn a_program_of_its_own_has_its_name_and_version() {
    let program = Program {
        name: "acme-events",
        version: "9.9.9",
    };
    let error = program
        .command()
        .try_get_matches_from(["acme-events", "--version"])
        .unwrap_err();
    assert_eq!(error.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(error.to_string(), "acme-events 9.9.9\n");
    let help = program.command().render_help().to_string();
    assert!(help.contains("Usage: acme-events <COMMAND>"), "{help}");
}
