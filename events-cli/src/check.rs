//! `webaction check`: reads newline-delimited JSON events, counts valid and rejected lines
//! by kind, and writes every rejected line to a dead-letter file.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use events_core::ingest::{
    Discard, ErrorKind, IdleTimeout, IllegalPolicy, Ingest, IngestStats, Outcome,
    DEFAULT_MAX_LINE_BYTES,
};
use events_core::Registry;
use indicatif::ProgressBar;
use serde_json::{json, Value};

use crate::dead_letter::DeadLetter;
use crate::input::{self, is_blank, Line, LineReader};
use crate::same_file::{self, Named};
use crate::{progress, CliError};

/// Arguments of `webaction check`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The newline-delimited JSON file to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Write every rejected line here, as one JSON object per line:
    /// `{"line": N, "kind": "...", "error": "...", "raw": "<the line exactly as read>"}`.
    #[arg(long, value_name = "PATH")]
    pub dead_letter: Option<PathBuf>,
    /// Print the summary as one JSON object:
    /// `{"events": N, "valid": N, "rejected": N, "by_kind": {"<kind>": N, ...}}`.
    #[arg(long)]
    pub json: bool,
    /// Line length and tracking limits.
    #[command(flatten)]
    pub limits: Limits,
}

/// Limits shared by the commands that ingest a stream. Each is range-checked when the
/// command line is parsed: a value the tracker cannot serve is a usage error naming the
/// option and its range, not a hang or an overflow later.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// Lines longer than this many bytes are rejected as `too_large` (the `\r` of a CRLF
    /// line end does not count).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_LINE_BYTES))]
    pub max_line_bytes: usize,
    /// The most actions whose lifecycle is tracked at once; beyond it the least recently
    /// seen is forgotten.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_ACTIONS))]
    pub max_actions: usize,
    /// Forget an action after this many lines without an event of it (default: never;
    /// the cap still bounds memory).
    #[arg(long, value_name = "LINES",
        value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(u32::MAX)))]
    pub idle_lines: Option<u32>,
}

/// The longest line limit accepted: 1 GiB. Lines are held in memory up to the limit.
const MAX_LINE_BYTES: u64 = 1 << 30;

/// The most actions the tracker can serve.
const MAX_ACTIONS: u64 = (1 << 31) - 1; // MERGE: TrackerConfig::MAX_ACTIONS

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_actions: 1_000_000,
            idle_lines: None,
        }
    }
}

impl Limits {
    /// An ingest pipeline with these limits, quarantining illegal transitions. Idleness is
    /// counted in lines, so that a file gives the same result however fast it is read.
    pub fn ingest<E: events_core::ingest::Emit>(&self, registry: &Registry, emit: E) -> Ingest<E> {
        Ingest::builder(registry.clone())
            .max_line_bytes(self.max_line_bytes)
            .max_actions(self.max_actions)
            .idle_timeout(self.idle_lines.map(IdleTimeout::Events))
            .illegal(IllegalPolicy::Quarantine)
            .build(emit)
    }
}

/// A read or a write failed while streaming.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the input failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// Writing the dead letter failed.
    #[error("write: {0}")]
    Write(#[source] io::Error),
}

/// Checks every line of `reader`; rejected lines go to `dead_letter` when given.
pub fn check_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    mut dead_letter: Option<&mut DeadLetter<&mut dyn Write>>,
    progress: &ProgressBar,
) -> Result<IngestStats, StreamError> {
    let mut ingest = limits.ingest(registry, Discard);
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut buf = Vec::new();
    while let Some(line) = lines.next_line(&mut buf).map_err(StreamError::Read)? {
        let number = lines.line_number();
        if number.is_multiple_of(4096) {
            progress.set_position(lines.bytes_read());
        }
        match line {
            Line::TooLarge => {
                let max = limits.max_line_bytes;
                let message = format!("line exceeds the limit of {max} bytes");
                let kind = ErrorKind::TooLarge.as_str();
                let rest = match dead_letter.as_deref_mut() {
                    Some(letter) => {
                        letter
                            .begin_streamed(number, kind, &message)
                            .map_err(StreamError::Write)?;
                        letter.raw_chunk(&buf).map_err(StreamError::Write)?;
                        let mut write_error = None;
                        let rest = lines
                            .drain_rest(|chunk| {
                                letter.raw_chunk(chunk).inspect_err(|e| {
                                    write_error = Some(io::Error::new(e.kind(), e.to_string()));
                                })
                            })
                            .map_err(|e| match write_error.take() {
                                Some(write) => StreamError::Write(write),
                                None => StreamError::Read(e),
                            })?;
                        letter
                            .end_streamed(buf.len() as u64 + rest)
                            .map_err(StreamError::Write)?;
                        rest
                    }
                    None => lines.drain_rest(|_| Ok(())).map_err(StreamError::Read)?,
                };
                let _ = ingest.too_large(buf.len() + rest as usize);
            }
            Line::Complete if is_blank(&buf) => {}
            Line::Complete => {
                if let Outcome::Rejected(rejection) = ingest.ingest(&buf) {
                    if let Some(letter) = dead_letter.as_deref_mut() {
                        let error = &rejection.error;
                        letter
                            .write(number, error.kind().as_str(), &error.to_string(), &buf)
                            .map_err(StreamError::Write)?;
                    }
                }
            }
        }
    }
    progress.set_position(lines.bytes_read());
    if let Some(letter) = dead_letter {
        letter.flush().map_err(StreamError::Write)?;
    }
    Ok(*ingest.stats())
}

/// The `--json` summary: `{"events", "valid", "rejected", "by_kind"}`, every kind listed.
pub fn summary_json(stats: &IngestStats) -> Value {
    let by_kind: serde_json::Map<String, Value> = ErrorKind::ALL
        .iter()
        .map(|kind| (kind.as_str().to_owned(), json!(stats.count(*kind))))
        .collect();
    json!({
        "events": stats.events,
        "valid": stats.valid,
        "rejected": stats.rejected,
        "by_kind": by_kind,
    })
}

/// The human summary: counts, then the kinds that occurred.
pub fn summary_text(stats: &IngestStats) -> String {
    let mut out = format!(
        "events:   {}\nvalid:    {}\nrejected: {}\n",
        stats.events, stats.valid, stats.rejected
    );
    for kind in ErrorKind::ALL {
        let count = stats.count(kind);
        if count > 0 {
            out.push_str(&format!("  {:<20} {count}\n", kind.as_str()));
        }
    }
    out
}

/// Runs `webaction check`: exit 0 when nothing was rejected, 1 when something was.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let input_path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    if let Some(dead_letter) = &args.dead_letter {
        same_file::refuse_overlap(
            &[Named::new("the input", &input_path)],
            &[Named::new("--dead-letter", dead_letter)],
        )?;
    }
    let input = input::open(args.file.as_deref())?;
    let mut letter_file = match &args.dead_letter {
        Some(path) => Some(BufWriter::new(
            File::create(path).map_err(|e| CliError::io("cannot create", path, e))?,
        )),
        None => None,
    };
    let mut letter = letter_file
        .as_mut()
        .map(|file| DeadLetter::new(file as &mut dyn Write));
    let bar = progress::bar(input.len, "checking");
    let stats = check_stream(input.reader, registry, &args.limits, letter.as_mut(), &bar).map_err(
        |error| match error {
            StreamError::Read(e) => CliError::io("cannot read", &input.path, e),
            StreamError::Write(e) => {
                let path = args.dead_letter.clone().unwrap_or_default();
                CliError::io("cannot write", path, e)
            }
        },
    )?;
    bar.finish_and_clear();
    let summary = if args.json {
        format!("{}\n", summary_json(&stats))
    } else {
        summary_text(&stats)
    };
    crate::write_stdout(summary.as_bytes())?;
    Ok(if stats.rejected == 0 && stats.dropped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
