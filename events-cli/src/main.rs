//! `webaction`: simulate, check and report web-action event streams.

fn main() -> std::process::ExitCode {
    events_cli::main_with(events_core::Registry::all())
}
