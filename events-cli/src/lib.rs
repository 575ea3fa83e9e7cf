//! The `webaction` command, as a library: each subcommand is a module with its clap
//! arguments and a `run` function, so that a program with its own media types can ship
//! the same command with [`main_with`] (or [`main_as`], under its own name and version)
//! and its own [`Registry`].
//!
//! Exit status: 0 on success (for `check`: nothing rejected), 1 when `check` rejected
//! something, 2 for usage and I/O errors.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use events_core::Registry;

pub mod check;
pub mod completions;
#[cfg(feature = "nats")]
pub mod consume;
pub mod delivery;
/// The dead letter of rejected lines, written by `check`: events-sinks'
/// [`RejectedLines`](events_sinks::RejectedLines), shared with `webaction serve`.
pub mod dead_letter {
    pub use events_sinks::RejectedLines as DeadLetter;
}
pub mod docs;
pub mod input;
pub mod lanes;
pub mod progress;
pub mod replay;
pub mod report;
pub mod same_file;
#[cfg(feature = "serve")]
pub mod serve;
pub mod shutdown;
pub mod simulate;

/// Simulate, check and report newline-delimited JSON streams of web-action lifecycle
/// events (Genesys Predictive Engagement `webchat`, `contentoffer`, ...).
#[derive(Debug, Parser)]
#[command(name = "webaction", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write realistic lifecycles of every registered media type as newline-delimited JSON.
    Simulate(simulate::Args),
    /// Read newline-delimited JSON events; count valid and rejected lines by kind.
    Check(check::Args),
    /// Forward every accepted event of a stream to a sink: NDJSON, a data layer, an HTTP
    /// collector or NATS JetStream.
    Replay(replay::Args),
    /// Per media type and action map: actions reaching each state, and conversion rates.
    Report(report::Args),
    /// Write the documentation of every registered media type: pages, JSON Schemas,
    /// catalog, TypeScript declarations, index.
    Docs(docs::Args),
    /// Collect events from browsers over HTTP (`POST /v1/events`), ingest and track them,
    /// and deliver them to sinks, answering 200 once they are durable.
    #[cfg(feature = "serve")]
    Serve(serve::Args),
    /// Join a consumer group splitting a partitioned NATS JetStream stream: track each
    /// owned partition's lifecycles, deliver accepted events to a sink, checkpoint, and
    /// hand partitions over when members come and go.
    #[cfg(feature = "nats")]
    Consume(consume::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::Args),
}

/// How the command presents itself: the name and version in `--help`, `--version`,
/// error messages and completion scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    /// The command's name, e.g. `webaction`.
    pub name: &'static str,
    /// Its version, e.g. `env!("CARGO_PKG_VERSION")` of the caller's crate.
    pub version: &'static str,
}

impl Program {
    /// `webaction` at this crate's version.
    pub const WEBACTION: Program = Program {
        name: "webaction",
        version: env!("CARGO_PKG_VERSION"),
    };

    /// The clap command, under this name and version.
    pub fn command(&self) -> clap::Command {
        Cli::command()
            .name(self.name)
            .bin_name(self.name)
            .version(self.version)
    }
}

/// A failure that ends the command with status 2.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A file could not be opened, read or written.
    #[error("{action} `{}`: {source}", .path.display())]
    Io {
        /// What was being done: "cannot open", "cannot read", ...
        action: &'static str,
        /// The file (`-` for standard input or output).
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The arguments are valid for clap but not together or not in range.
    #[error("{0}")]
    Usage(String),
    /// An output names the same file as an input or another output: writing it would
    /// destroy what is read, or mix two outputs in one file.
    #[error("{second_role} `{}` is the same file as {first_role} `{}`; refusing to write over it",
        .second.display(), .first.display())]
    SameFile {
        /// How the command line named the file met first (`input`, `--dead-letter`, ...).
        first_role: &'static str,
        /// Its path as given.
        first: PathBuf,
        /// How the command line named the output that is the same file.
        second_role: &'static str,
        /// Its path as given.
        second: PathBuf,
    },
    /// Documentation could not be generated or written.
    #[error(transparent)]
    Docs(#[from] events_docs::DocsError),
}

impl CliError {
    /// An I/O error on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        CliError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Writes a command's result to standard output and flushes it, so that a failed write
/// (a closed pipe, a full disk) is an error here rather than lost at exit, where the
/// standard library ignores it.
pub fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::io("cannot write", "-", e))
}

/// Parses the process arguments and runs the command with `registry`'s media types, as
/// `webaction`.
pub fn main_with(registry: Registry) -> ExitCode {
    main_as(Program::WEBACTION, registry)
}

/// The same, under the caller's own command name and version:
///
/// ```no_run
/// use events_cli::{main_as, Program};
/// fn main() -> std::process::ExitCode {
///     let program = Program { name: "acme-events", version: env!("CARGO_PKG_VERSION") };
///     main_as(program, events_core::Registry::all())
/// }
/// ```
pub fn main_as(program: Program, registry: Registry) -> ExitCode {
    let matches = program.command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    run_as(cli, program, &registry)
}

/// Runs a parsed command as `webaction`; prints errors to standard error.
pub fn run(cli: Cli, registry: &Registry) -> ExitCode {
    run_as(cli, Program::WEBACTION, registry)
}

/// Runs a parsed command as `program`; prints errors to standard error, prefixed with
/// the program's name.
pub fn run_as(cli: Cli, program: Program, registry: &Registry) -> ExitCode {
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(&args, registry),
        Command::Check(args) => check::run(&args, registry),
        Command::Replay(args) => replay::run(&args, registry),
        Command::Report(args) => report::run(&args, registry),
        Command::Docs(args) => docs::run(&args, registry),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&args, registry),
        #[cfg(feature = "nats")]
        Command::Consume(args) => consume::run(&args, registry),
        Command::Completions(args) => completions::run(&args, program),
    };
    match result {
        Ok(code) => code,
        // A closed pipe is an error like any other failed write: what was not written is
        // lost, and a pipeline must not read that as success.
        Err(error) => {
            eprintln!("{}: error: {error}", program.name);
            ExitCode::from(2)
        }
    }
}
