//! `webaction check`: reads newline-delimited JSON events, counts valid and rejected lines
//! by kind, and writes every rejected line to a dead-letter file.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use events_core::ingest::{Discard, ErrorKind, Ingest, IngestStats, Outcome};
use events_core::Registry;
use indicatif::ProgressBar;
use serde_json::{json, Value};

use crate::dead_letter::DeadLetter;
use crate::input::{self, Limits, LineReader, StreamError};
use crate::lanes::{self, BatchLine, Lanes, LineBatch, Settle, Worker};
use crate::same_file::{self, Named};
use crate::shutdown::{Shutdown, EXIT_INTERRUPTED};
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

/// Checks every line of `reader` on `limits.threads()` threads; rejected lines go to
/// `dead_letter` when given, in input order. Once `shutdown` is requested (a signal),
/// reading stops at the next line; the counts and the dead letter then cover every line
/// read.
pub fn check_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    dead_letter: Option<&mut DeadLetter<&mut dyn Write>>,
    progress: &ProgressBar,
    shutdown: &Shutdown,
) -> Result<IngestStats, StreamError> {
    let workers = limits.threads();
    let ingest = limits.ingest(registry, Discard);
    let lanes = Lanes::new(workers, ingest.decoder().clone(), |_| CheckWorker {
        ingest: limits.worker_ingest(registry, Discard, workers),
    });
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut out = Rejected {
        letter: dead_letter,
        error: None,
        broken: false,
        ingest,
        max_line_bytes: limits.max_line_bytes,
    };
    let counts = lanes::feed(lanes, &mut lines, &mut out, progress, shutdown)?;
    if let Some(letter) = out.letter {
        letter.flush().map_err(StreamError::Write)?;
    }
    Ok(lanes::total(
        counts.into_iter().chain([*out.ingest.stats()]),
    ))
}

/// Where rejected lines go, in input order, and the first write that failed (the lines
/// settled after it are not written).
struct Rejected<'a, 'w> {
    letter: Option<&'a mut DeadLetter<&'w mut dyn Write>>,
    error: Option<io::Error>,
    /// A write failed: nothing more is written.
    broken: bool,
    /// Counts the too-large lines, which the reader handles itself.
    ingest: Ingest<Discard>,
    max_line_bytes: usize,
}

impl Settle<Option<(ErrorKind, String)>> for Rejected<'_, '_> {
    fn settled(
        &mut self,
        batch: &LineBatch,
        line: &BatchLine,
        rejected: Option<(ErrorKind, String)>,
    ) {
        if let (Some((kind, message)), Some(letter), false) =
            (rejected, self.letter.as_deref_mut(), self.broken)
        {
            let raw = batch.bytes(line);
            self.error = letter
                .write(line.number, kind.as_str(), &message, raw)
                .err();
            self.broken = self.error.is_some();
        }
    }

    fn too_large<R: BufRead>(
        &mut self,
        lines: &mut LineReader<R>,
        number: u64,
        head: &[u8],
    ) -> Result<(), StreamError> {
        let max = self.max_line_bytes;
        let message = format!("line exceeds the limit of {max} bytes");
        let kind = ErrorKind::TooLarge.as_str();
        let rest = match self.letter.as_deref_mut() {
            Some(letter) => {
                letter
                    .begin_streamed(number, kind, &message)
                    .map_err(StreamError::Write)?;
                letter.raw_chunk(head).map_err(StreamError::Write)?;
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
                    .end_streamed(head.len() as u64 + rest)
                    .map_err(StreamError::Write)?;
                rest
            }
            None => lines.drain_rest(|_| Ok(())).map_err(StreamError::Read)?,
        };
        let _ = self.ingest.too_large(head.len() + rest as usize);
        Ok(())
    }

    fn failed(&mut self) -> Result<(), StreamError> {
        self.error
            .take()
            .map_or(Ok(()), |e| Err(StreamError::Write(e)))
    }
}

/// One thread of `check`: what it makes of a line is the error, for the dead letter.
struct CheckWorker {
    ingest: Ingest<Discard>,
}

impl Worker for CheckWorker {
    type Settled = Option<(ErrorKind, String)>;
    type Summary = IngestStats;

    fn judge(&mut self, lines: &[(u64, &[u8])], settled: &mut Vec<Self::Settled>) {
        self.ingest.ingest_batch_at(lines, |_, outcome| {
            settled.push(match outcome {
                Outcome::Rejected(rejection) => {
                    Some((rejection.error.kind(), rejection.error.to_string()))
                }
                _ => None,
            })
        });
    }

    fn finish(self) -> IngestStats {
        *self.ingest.stats()
    }
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
    let shutdown = crate::shutdown::install_or_warn();
    let stats = check_stream(
        input.reader,
        registry,
        &args.limits,
        letter.as_mut(),
        &bar,
        &shutdown,
    )
    .map_err(|error| match error {
        StreamError::Read(e) => CliError::io("cannot read", &input.path, e),
        StreamError::Write(e) => {
            let path = args.dead_letter.clone().unwrap_or_default();
            CliError::io("cannot write", path, e)
        }
    })?;
    bar.finish_and_clear();
    let summary = if args.json {
        format!("{}\n", summary_json(&stats))
    } else {
        summary_text(&stats)
    };
    crate::write_stdout(summary.as_bytes())?;
    if let Some(interrupt) = shutdown.interrupt() {
        eprintln!(
            "webaction: interrupted by {}: stopped after line {}; the counts and the dead \
             letter cover every line read",
            interrupt.name(),
            stats.events
        );
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    Ok(if stats.rejected == 0 && stats.dropped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
