//! `webaction docs`: writes the documentation of every registered media type — a page and
//! a JSON Schema each, `catalog.json`, `webaction-events.d.ts`, the browser script
//! `webaction-collector.js` with its `webaction-collector.d.ts`, and `index.md` — generated
//! from the declarations by [`events_docs`].

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::Registry;

use crate::CliError;

/// Arguments of `webaction docs`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The directory to write into; created when missing. The page and schema of a media
    /// type documented there before and no longer registered are removed; other files are
    /// left alone.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes the documents and prints the path of each, one per line; the stale files it
/// removed go to standard error.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let written = events_docs::write_docs(registry, &args.out)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for path in &written.written {
        writeln!(out, "{}", path.display()).map_err(|e| CliError::io("cannot write", "-", e))?;
    }
    let mut stderr = io::stderr().lock();
    for path in &written.removed {
        let _ = writeln!(
            stderr,
            "removed {} (its media type is no longer registered)",
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
