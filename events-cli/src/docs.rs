//! `webaction docs`: writes the documentation of every registered media type — a page and
//! a JSON Schema each, `catalog.json`, `webaction-events.d.ts` and `index.md` — generated
//! from the declarations by [`events_core::docs`].

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::Registry;

use crate::CliError;

/// Arguments of `webaction docs`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The directory to write into; created when missing. Files already there that this
    /// generation does not produce are left alone.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Writes the documents and prints the path of each, one per line.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let paths = events_core::docs::write_docs(registry, &args.out)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for path in paths {
        writeln!(out, "{}", path.display()).map_err(|e| CliError::io("cannot write", "-", e))?;
    }
    Ok(ExitCode::SUCCESS)
}
