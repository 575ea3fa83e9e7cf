//! `webaction replay`: reads newline-delimited JSON events through ingest and forwards
//! every accepted event to one sink (NDJSON, data layer, HTTP collector, NATS JetStream),
//! then says how many were read, accepted, delivered, retried and dead-lettered.
//!
//! SIGTERM or SIGINT stops it early ([`crate::shutdown`]): it stops reading, gives
//! in-flight deliveries `--shutdown-timeout`, dead-letters everything still pending with
//! reason `shutdown`, prints the counts and exits with status [`EXIT_INTERRUPTED`] (3).
//! A second signal dead-letters what is in flight at once.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events_core::ingest::{Discard, Emit, Ingest, IngestStats, Outcome};
use events_core::{AnyEvent, Events, Registry};
use events_sinks::{
    DeadLetter, FileOptions, Forwarder, FullQueuePolicy, Output, Sink, SinkError, SinkOptions,
    SinkSpec, SinkStats,
};
use indicatif::ProgressBar;

pub use crate::delivery::{Body, Delivery, Layout};
use crate::input::{self, Limits, LineReader, StreamError};
use crate::lanes::{self, BatchLine, Lanes, LineBatch, Settle, Worker};
use crate::same_file::{self, Named};
use crate::shutdown::{Interrupt, Shutdown, EXIT_INTERRUPTED};
use crate::CliError;

/// Arguments of `webaction replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The newline-delimited JSON file to read; `-` or nothing reads standard input.
    pub file: Option<PathBuf>,
    /// Where to: `ndjson:-`, `ndjson:PATH`, `datalayer:PATH` (a `.json` path gets a JSON
    /// array), `http[s]://host:port/path`, `nats://host:port/<subject-prefix>` (`tls://`
    /// for NATS over TLS).
    #[arg(long, value_name = "SPEC")]
    pub sink: SinkSpec,
    /// When the queue is full: wait for room, or write the event to the dead letter.
    #[arg(long, value_enum, default_value_t = OnFull::Block)]
    pub on_full: OnFull,
    /// The dead letter, batching, retries and time limits of the sink.
    #[command(flatten)]
    pub delivery: Delivery,
    /// Line length and tracking limits.
    #[command(flatten)]
    pub limits: Limits,
}

/// `--on-full`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnFull {
    /// Wait for room: nothing is given up, the input is read at the receiver's pace.
    Block,
    /// Write the event to the dead letter and go on.
    Spill,
}

impl Args {
    /// The sink options these arguments ask for: the file sink truncates its file.
    pub fn sink_options(&self) -> SinkOptions {
        let full_queue = match self.on_full {
            OnFull::Block => FullQueuePolicy::Block,
            OnFull::Spill => FullQueuePolicy::Spill,
        };
        self.delivery
            .sink_options(full_queue, FileOptions::default())
    }
}

/// What a replay did. Every accepted event is delivered, dead-lettered or lost:
/// `accepted == sink.delivered + sink.dead_lettered + sink.lost` once the sink is closed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Lines read (blank lines aside).
    pub read: u64,
    /// Lines that were events and were handed to the sink.
    pub accepted: u64,
    /// Lines ingest rejected (not events, or breaking their lifecycle); `webaction check`
    /// says why.
    pub rejected: u64,
    /// The sink's counts, plus events it refused at once (dead-lettered here, or lost
    /// when the dead letter failed too).
    pub sink: SinkStats,
    /// The signal that stopped the replay early, if one did.
    pub interrupted: Option<Interrupt>,
}

/// Replays every line of `reader` into `sink`, then closes it (waiting up to
/// `shutdown_timeout` for pending deliveries). Ingest emits each accepted event on a bus;
/// the sink is fed by a [`Forwarder`] subscribed to it, like any other subscriber. Events
/// the sink refuses go to `dead_letter`, and the first refusal stops the replay.
///
/// Once `interrupt` is requested (a signal), reading stops at the next line and the sink
/// is [shut down](Sink::shut_down) with `shutdown_timeout`: a send blocked on a full
/// queue returns, and everything pending goes to the dead letter with reason `shutdown`.
/// A repeated signal shuts it down with no time left.
pub fn replay_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    sink: Arc<dyn Sink>,
    dead_letter: &DeadLetter,
    shutdown_timeout: Duration,
    interrupt: &Shutdown,
) -> Result<ReplayStats, ReplayError> {
    let waker = Arc::clone(&sink);
    interrupt.on_signal(move |signal| {
        // Said at once, from the signal thread: the summary comes only once the sink is
        // closed, which may take the whole timeout.
        let grace = if signal.repeated {
            eprintln!(
                "webaction: {} again: dead-lettering what is in flight",
                signal.name()
            );
            Duration::ZERO
        } else {
            eprintln!(
                "webaction: {}: stopping; waiting up to {} s for deliveries in flight (a \
                 second signal dead-letters them at once)",
                signal.name(),
                shutdown_timeout.as_secs()
            );
            shutdown_timeout
        };
        waker.shut_down(Instant::now() + grace);
    });
    // A signal that came before the hook was in place must still wake the sink.
    if interrupt.requested() {
        sink.shut_down(Instant::now() + shutdown_timeout);
    }
    let events = Events::new();
    let forwarder = Forwarder::new(Arc::clone(&sink), dead_letter.clone());
    let _subscription = forwarder.subscribe(&events);
    let workers = limits.threads();
    let ingest = limits.ingest(registry, Discard);
    let lanes = Lanes::new(workers, ingest.decoder().clone(), |_| ReplayWorker {
        ingest: limits.worker_ingest(registry, Accepted::default(), workers),
        emitted: Vec::new(),
    });
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut settle = Forward {
        events: &events,
        forwarder: &forwarder,
        ingest,
    };
    let parts = lanes::feed(
        lanes,
        &mut lines,
        &mut settle,
        &ProgressBar::hidden(),
        interrupt,
    )
    .map_err(|error| match error {
        StreamError::Read(e) | StreamError::Write(e) => ReplayError::Read(e),
    })?;
    let ingested = lanes::total(parts.into_iter().chain([*settle.ingest.stats()]));
    let closed = sink.close(Instant::now() + shutdown_timeout);
    let mut stats = ReplayStats {
        read: ingested.events,
        accepted: ingested.valid,
        rejected: ingested.rejected,
        sink: match &closed {
            Ok(stats) => *stats,
            Err(_) => sink.stats(),
        },
        interrupted: interrupt.interrupt(),
    };
    stats.sink.dead_lettered += forwarder.refused();
    stats.sink.lost += forwarder.lost();
    match forwarder.take_error().map_or(closed.err(), Some) {
        Some(error) => Err(ReplayError::Sink {
            error,
            stats: Box::new(stats),
        }),
        None => Ok(stats),
    }
}

/// Refuses a sink file or dead letter that is the input, or each other, before either is
/// opened for writing.
/// What a worker of `replay` accepted, in order, to be sent from the reader's thread: the
/// sink gets the events in input order.
#[derive(Debug, Default)]
struct Accepted(Vec<Box<AnyEvent>>);

impl Emit for Accepted {
    fn emit(&mut self, event: &AnyEvent) {
        self.0.push(event.clone_box());
    }
}

/// One thread of `replay`: each line comes back with its event when it was accepted.
struct ReplayWorker {
    ingest: Ingest<Accepted>,
    emitted: Vec<bool>,
}

impl Worker for ReplayWorker {
    type Settled = Option<Box<AnyEvent>>;
    type Summary = IngestStats;

    fn judge(&mut self, lines: &[(u64, &[u8])], settled: &mut Vec<Self::Settled>) {
        let emitted = &mut self.emitted;
        emitted.clear();
        self.ingest.ingest_batch_at(lines, |_, outcome| {
            emitted.push(matches!(outcome, Outcome::Emitted));
        });
        let mut accepted = self.ingest.emitter().0.drain(..);
        settled.extend(
            emitted
                .iter()
                .map(|&e| if e { accepted.next() } else { None }),
        );
    }

    fn finish(self) -> IngestStats {
        *self.ingest.stats()
    }
}

/// The reader's side of `replay`: accepted events go on the bus to the forwarder, in input
/// order; reading stops once the sink refused one.
struct Forward<'a> {
    events: &'a Events,
    forwarder: &'a Forwarder,
    /// Counts the too-large lines, which the reader handles itself.
    ingest: Ingest<Discard>,
}

impl Settle<Option<Box<AnyEvent>>> for Forward<'_> {
    fn settled(&mut self, _: &LineBatch, _: &BatchLine, accepted: Option<Box<AnyEvent>>) {
        if let Some(event) = accepted {
            self.events.emit_any(&*event);
        }
    }

    fn too_large<R: BufRead>(
        &mut self,
        lines: &mut LineReader<R>,
        _: u64,
        head: &[u8],
    ) -> Result<(), StreamError> {
        lanes::skip_too_large(lines, &mut self.ingest, head)?;
        Ok(())
    }

    fn stop(&self) -> bool {
        self.forwarder.failed()
    }
}

fn refuse_overlap(args: &Args) -> Result<(), CliError> {
    let input = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let sink_file = match &args.sink {
        SinkSpec::Ndjson(output) | SinkSpec::DataLayer(output) => Some(match output {
            Output::Stdout => PathBuf::from("-"),
            Output::File(path) => path.clone(),
        }),
        _ => None,
    };
    let mut outputs = vec![Named::new("--dead-letter", &args.delivery.dead_letter)];
    if let Some(path) = &sink_file {
        outputs.insert(0, Named::new("--sink", path));
    }
    same_file::refuse_overlap(&[Named::new("the input", &input)], &outputs)
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading the input failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// The sink failed for good (e.g. its file cannot be written); `stats` says what had
    /// happened by then, lost events included.
    #[error("{error}")]
    Sink {
        /// What failed.
        error: SinkError,
        /// The counts when it stopped (boxed: the error stays small).
        stats: Box<ReplayStats>,
    },
}

/// Runs `webaction replay`. Exit status: 0 when every event was delivered, 1 when some
/// went to the dead letter, 2 on usage and I/O errors (a sink or dead letter that cannot
/// be written: the message names it, and the counts, `lost` included, are printed
/// first), 3 ([`EXIT_INTERRUPTED`]) when SIGTERM or SIGINT stopped it early with every
/// event read accounted for in the counts. An I/O error wins over an interruption. The
/// counts go to standard error, so that `ndjson:-` keeps standard output for the events.
/// The dead letter is checked for writing before the first line is read.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    refuse_overlap(args)?;
    args.delivery.check_partitions([&args.sink])?;
    let input = input::open(args.file.as_deref())?;
    let options = args.sink_options();
    let dead_letter = options.dead_letter.clone();
    dead_letter.ensure_writable().map_err(|source| {
        CliError::io(
            "cannot write the dead letter",
            &args.delivery.dead_letter,
            source,
        )
    })?;
    let interrupt = crate::shutdown::install_or_warn();
    let sink: Arc<dyn Sink> = events_sinks::open(&args.sink, options)
        .map_err(|error| CliError::Usage(format!("--sink {}: {error}", args.sink)))?
        .into();
    let shutdown = Duration::from_secs(args.delivery.shutdown_timeout);
    let result = replay_stream(
        input.reader,
        registry,
        &args.limits,
        sink,
        &dead_letter,
        shutdown,
        &interrupt,
    );
    let stats = match result {
        Ok(stats) => stats,
        Err(ReplayError::Read(source)) => {
            return Err(CliError::io("cannot read", input.path, source))
        }
        Err(ReplayError::Sink { error, stats }) => {
            print_counts(args, &stats);
            return Err(match error {
                SinkError::Io { target, source } => CliError::io("cannot write", target, source),
                error => CliError::Usage(format!("--sink {}: {error}", args.sink)),
            });
        }
    };
    print_counts(args, &stats);
    Ok(if stats.interrupted.is_some() {
        ExitCode::from(EXIT_INTERRUPTED)
    } else if stats.sink.dead_lettered > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The summary on standard error; its last line is the sink's counts.
fn print_counts(args: &Args, stats: &ReplayStats) {
    let mut stderr = io::stderr().lock();
    if let Some(interrupt) = stats.interrupted {
        let _ = writeln!(
            stderr,
            "interrupted by {}: stopped early; every event read is accounted for below",
            interrupt.name()
        );
    }
    if stats.rejected > 0 {
        let _ = writeln!(
            stderr,
            "rejected {} line(s) that are not valid events (`webaction check` lists them)",
            stats.rejected
        );
    }
    let _ = writeln!(
        stderr,
        "read {} line(s): {} accepted, {} rejected",
        stats.read, stats.accepted, stats.rejected
    );
    if stats.sink.dead_lettered > 0 {
        let _ = writeln!(
            stderr,
            "dead letter: {}",
            args.delivery.dead_letter.display()
        );
    }
    let _ = writeln!(stderr, "{}", stats.sink);
}
