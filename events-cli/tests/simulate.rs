//! `simulate` writes what `check` accepts: fully valid without an invalid rate, and with
//! one, exactly the injected defects are rejected, kind by kind.

use events_cli::check::{check_stream, summary_json};
use events_cli::input::Limits;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use events_core::Registry;
use indicatif::ProgressBar;
use proptest::prelude::*;

fn simulated(simulation: Simulation) -> (Vec<u8>, events_cli::simulate::SimulationSummary) {
    let mut out = Vec::new();
    let summary = simulate(&Registry::builtin(), &simulation, &mut out).unwrap();
    (out, summary)
}

fn check(stream: &[u8]) -> events_core::ingest::IngestStats {
    check_stream(
        stream,
        &Registry::builtin(),
        &Limits::default(),
        None,
        &ProgressBar::hidden(),
        &Shutdown::manual(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn without_an_invalid_rate_every_line_is_valid(seed in any::<u64>(), actions in 0u64..400) {
        let (stream, summary) = simulated(Simulation { actions, seed, invalid_rate: 0.0 });
        let stats = check(&stream);
        prop_assert_eq!(summary.injected, 0);
        prop_assert_eq!(stats.events, summary.events);
        prop_assert_eq!(stats.valid, stats.events, "{}", summary_json(&stats));
        prop_assert_eq!(summary.actions, actions);
    }

    #[test]
    fn with_an_invalid_rate_exactly_the_injected_lines_are_rejected(
        seed in any::<u64>(),
        actions in 1u64..400,
        invalid_rate in 0.0f64..=1.0,
    ) {
        let (stream, summary) = simulated(Simulation { actions, seed, invalid_rate });
        let stats = check(&stream);
        prop_assert_eq!(stats.events, summary.events);
        prop_assert_eq!(stats.rejected, summary.injected);
        prop_assert_eq!(stats.by_kind, summary.by_kind, "{}", summary_json(&stats));
        prop_assert_eq!(stats.valid + stats.rejected, stats.events);
    }
}

#[test]
fn every_rate_of_one_injects_into_every_action_and_every_kind_appears() {
    let (stream, summary) = simulated(Simulation {
        actions: 2000,
        seed: 11,
        invalid_rate: 1.0,
    });
    assert_eq!(summary.injected, 2000);
    let stats = check(&stream);
    assert_eq!(stats.rejected, 2000);
    for kind in events_core::ingest::ErrorKind::ALL {
        if kind != events_core::ingest::ErrorKind::TooLarge {
            assert!(stats.count(kind) > 0, "{kind} never injected");
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_stream_and_another_seed_another() {
    let run = |seed| {
        simulated(Simulation {
            actions: 300,
            seed,
            invalid_rate: 0.2,
        })
        .0
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn the_command_prints_the_injected_summary_on_stderr_and_events_on_stdout() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args([
            "simulate",
            "--actions",
            "50",
            "--seed",
            "2",
            "--invalid-rate",
            "0.5",
        ])
        .args(["--json-summary"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stderr).unwrap();
    let (stream, expected) = simulated(Simulation {
        actions: 50,
        seed: 2,
        invalid_rate: 0.5,
    });
    assert_eq!(output.stdout, stream, "the command and the library agree");
    assert_eq!(summary["injected"], expected.injected);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(["simulate", "--invalid-rate", "1.5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
