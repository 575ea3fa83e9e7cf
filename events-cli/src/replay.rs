//! `webaction replay`: reads newline-delimited JSON events through ingest and forwards
//! every accepted event to one sink (NDJSON, data layer, HTTP collector, NATS JetStream),
//! then says how many were delivered, retried and dead-lettered.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use events_core::{Events, Registry};
use events_sinks::{
    BodyShape, DataLayerFormat, DeadLetter, Forwarder, FullQueuePolicy, Output, QueueConfig,
    RetryPolicy, Sink, SinkError, SinkOptions, SinkSpec, SinkStats,
};

use crate::check::Limits;
use crate::input::{self, LineReader};
use crate::same_file::{self, Named};
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
    /// Events the sink could not deliver, one JSON object per line with the reason:
    /// `{"sink", "reason", ..., "key", "event"}`. Created only if needed.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "webaction-dead-letter.ndjson"
    )]
    pub dead_letter: PathBuf,
    /// The HTTP body: the events as a JSON array, or a `track`-call batch.
    #[arg(long, value_enum, default_value_t = Body::Events)]
    pub body: Body,
    /// Root certificates (PEM) to trust for an `https://` or `tls://` sink, besides the
    /// system's: a private CA's, for example.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// The data layer's layout (default: `array` for a `.json` path, else `ndjson`).
    #[arg(long, value_enum)]
    pub datalayer_format: Option<Layout>,
    /// Events per HTTP request or per group of NATS publishes.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub batch_size: usize,
    /// Events queued or in flight at most (HTTP, NATS): the memory bound.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub queue_capacity: usize,
    /// When the queue is full: wait for room, or write the event to the dead letter.
    #[arg(long, value_enum, default_value_t = OnFull::Block)]
    pub on_full: OnFull,
    /// Retries of a failed delivery before the event goes to the dead letter.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub max_retries: u32,
    /// One attempt's time limit, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// At the end, how long to wait for pending deliveries before dead-lettering them, in
    /// seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub shutdown_timeout: u64,
    /// Line length and tracking limits.
    #[command(flatten)]
    pub limits: Limits,
}

/// `--body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Body {
    /// `[{"actionId": ...}, ...]`.
    Events,
    /// `{"batch": [{"type": "track", "messageId", "anonymousId", "event", "properties"}]}`.
    Track,
}

/// `--datalayer-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One JSON array.
    Array,
    /// One object per line.
    Ndjson,
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
    /// The sink options these arguments ask for.
    pub fn sink_options(&self) -> SinkOptions {
        SinkOptions {
            dead_letter: DeadLetter::file(&self.dead_letter),
            datalayer_format: self.datalayer_format.map(|layout| match layout {
                Layout::Array => DataLayerFormat::Array,
                Layout::Ndjson => DataLayerFormat::Ndjson,
            }),
            http_shape: match self.body {
                Body::Events => BodyShape::Events,
                Body::Track => BodyShape::TrackBatch,
            },
            ca_file: self.ca_file.clone(),
            queue: Some(QueueConfig {
                capacity: self.queue_capacity,
                batch_size: self.batch_size,
                full_queue: match self.on_full {
                    OnFull::Block => FullQueuePolicy::Block,
                    OnFull::Spill => FullQueuePolicy::Spill,
                },
                retry: RetryPolicy {
                    max_retries: Some(self.max_retries),
                    timeout: Duration::from_millis(self.timeout_ms),
                    ..RetryPolicy::default()
                },
                ..QueueConfig::default()
            }),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Lines that were events and were handed to the sink.
    pub accepted: u64,
    /// Lines ingest rejected (not events, or breaking their lifecycle); `webaction check`
    /// says why.
    pub rejected: u64,
    /// The sink's counts, plus events it refused at once (dead-lettered here).
    pub sink: SinkStats,
}

/// Replays every line of `reader` into `sink`, then closes it (waiting up to `shutdown`
/// for pending deliveries). Ingest emits each accepted event on a bus; the sink is fed by
/// a [`Forwarder`] subscribed to it, like any other subscriber. Events the sink refuses go
/// to `dead_letter`, and the first refusal stops the replay.
pub fn replay_stream(
    reader: impl BufRead,
    registry: &Registry,
    limits: &Limits,
    sink: Arc<dyn Sink>,
    dead_letter: &DeadLetter,
    shutdown: Duration,
) -> Result<ReplayStats, ReplayError> {
    let events = Events::new();
    let forwarder = Forwarder::new(Arc::clone(&sink), dead_letter.clone());
    let _subscription = forwarder.subscribe(&events);
    let mut ingest = limits.ingest(registry, &events);
    let mut lines = LineReader::new(reader, limits.max_line_bytes);
    let mut buf = Vec::new();
    while let Some(line) = lines.next_line(&mut buf).map_err(ReplayError::Read)? {
        input::ingest_line(&mut ingest, &mut lines, &buf, line).map_err(ReplayError::Read)?;
        if forwarder.failed() {
            break;
        }
    }
    let ingested = *ingest.stats();
    let closed = sink.close(Instant::now() + shutdown);
    if let Some(error) = forwarder.take_error() {
        return Err(ReplayError::Sink(error));
    }
    let mut stats = closed.map_err(ReplayError::Sink)?;
    stats.dead_lettered += forwarder.refused();
    Ok(ReplayStats {
        accepted: ingested.valid,
        rejected: ingested.rejected,
        sink: stats,
    })
}

/// Refuses a sink file or dead letter that is the input, or each other, before either is
/// opened for writing.
fn refuse_overlap(args: &Args) -> Result<(), CliError> {
    let input = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
    let sink_file = match &args.sink {
        SinkSpec::Ndjson(output) | SinkSpec::DataLayer(output) => Some(match output {
            Output::Stdout => PathBuf::from("-"),
            Output::File(path) => path.clone(),
        }),
        _ => None,
    };
    let mut outputs = vec![Named::new("--dead-letter", &args.dead_letter)];
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
    /// The sink failed for good (e.g. its file cannot be written).
    #[error(transparent)]
    Sink(SinkError),
}

/// Runs `webaction replay`: exit 0 when every event was delivered, 1 when some went to
/// the dead letter, 2 on errors. The counts go to standard error, so that `ndjson:-`
/// keeps standard output for the events.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    if args.batch_size == 0 || args.queue_capacity == 0 || args.limits.max_line_bytes == 0 {
        return Err(CliError::Usage(
            "--batch-size, --queue-capacity and --max-line-bytes must be at least 1".into(),
        ));
    }
    refuse_overlap(args)?;
    let input = input::open(args.file.as_deref())?;
    let options = args.sink_options();
    let dead_letter = options.dead_letter.clone();
    let sink: Arc<dyn Sink> = events_sinks::open(&args.sink, options)
        .map_err(|error| CliError::Usage(format!("--sink {}: {error}", args.sink)))?
        .into();
    let shutdown = Duration::from_secs(args.shutdown_timeout);
    let result = replay_stream(
        input.reader,
        registry,
        &args.limits,
        sink,
        &dead_letter,
        shutdown,
    );
    let stats = match result {
        Ok(stats) => stats,
        Err(ReplayError::Read(source)) => {
            return Err(CliError::io("cannot read", input.path, source))
        }
        Err(ReplayError::Sink(SinkError::Io { target, source })) => {
            return Err(CliError::io("cannot write", target, source))
        }
        Err(ReplayError::Sink(error)) => {
            return Err(CliError::Usage(format!("--sink {}: {error}", args.sink)))
        }
    };
    let mut stderr = io::stderr().lock();
    if stats.rejected > 0 {
        let _ = writeln!(
            stderr,
            "rejected {} line(s) that are not valid events (`webaction check` lists them)",
            stats.rejected
        );
    }
    if stats.sink.dead_lettered > 0 {
        let _ = writeln!(stderr, "dead letter: {}", args.dead_letter.display());
    }
    let _ = writeln!(stderr, "{}", stats.sink);
    Ok(if stats.sink.dead_lettered > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
