//! `webaction serve`: the collector browsers send their web-action events to
//! (events-collector), on the command line. With no options it listens on
//! `127.0.0.1:8080`, appends accepted events to `webaction-events.ndjson` and rejected
//! ones to `webaction-dead-letter.ndjson`, in the working directory.
//!
//! `GET /report` shows the page `webaction report --html` writes, for what this process
//! has accepted and rejected so far.
//!
//! It prints `listening on http://ADDR` as its first line on standard output (with
//! `--listen 127.0.0.1:0`, the port the system chose). SIGTERM or SIGINT stops it: no new
//! connections, requests in flight answered, sinks flushed and closed within
//! `--shutdown-timeout`; exit 0 when all of that finished in time.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use events_collector::{Ack, Collector, Config};
use events_core::ingest::IllegalPolicy;
use events_core::Registry;
use events_sinks::{FileOptions, Fsync, FullQueuePolicy, Output, Sink, SinkSpec};

use crate::delivery::Delivery;
use crate::input::Limits;
use crate::same_file::{self, Named};
use crate::CliError;

/// Arguments of `webaction serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The address to listen on (`127.0.0.1:0`: a free port, printed on the first line).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Where accepted events go; repeat for several: `ndjson:PATH` (appended to),
    /// `datalayer:PATH`, `http[s]://host:port/path`, `nats://host:port/<subject-prefix>`.
    #[arg(
        long = "sink",
        value_name = "SPEC",
        default_value = "ndjson:webaction-events.ndjson"
    )]
    pub sinks: Vec<SinkSpec>,
    /// The largest request body, in bytes, after gzip decompression (413 beyond).
    #[arg(long, value_name = "N", default_value_t = 1 << 20,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=1 << 30))]
    pub max_body_bytes: usize,
    /// An origin whose pages may send events (CORS), e.g. `https://shop.example`; repeat
    /// for several. Without it no preflight is answered.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// Require this key on every request: header `X-Write-Key` or `?writeKey=` (401).
    #[arg(long, value_name = "KEY")]
    pub write_key: Option<String>,
    /// When to answer 200: once the events are durable at every sink, or once queued.
    #[arg(long, value_enum, default_value_t = AckMode::Durable)]
    pub ack: AckMode,
    /// Whether file sinks and the dead letter are synced to disk (fdatasync) at each
    /// group commit, or only written to the system (survives `kill -9`, not power loss).
    #[arg(long, value_enum, default_value_t = FsyncMode::Commit)]
    pub fsync: FsyncMode,
    /// Answered batches remembered for resends (`batchId`).
    #[arg(long, value_name = "N", default_value_t = 100_000,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub batch_window: usize,
    /// Bytes of held bodies at most: batches answered 503 after their events were
    /// tracked, kept for their resend; beyond it the oldest are forgotten (a resend of
    /// one is judged again); 0 holds none.
    #[arg(long, value_name = "BYTES", default_value_t = Config::default().max_held_bytes,
        value_parser = RangedU64ValueParser::<usize>::new().range(0..=1 << 40))]
    pub max_held_bytes: usize,
    /// Events awaiting the sinks' confirmation at most; beyond it requests get 503.
    #[arg(long, value_name = "N", default_value_t = 100_000,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000_000))]
    pub max_unconfirmed: usize,
    /// Seconds a client has to send a request's head (slowloris cut off).
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub header_timeout: u64,
    /// Seconds a client has to send a request's body (408 beyond).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout: u64,
    /// Seconds a request waits for its events to be confirmed (503 beyond).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub ack_timeout: u64,
    /// The dead letter, batching, retries and time limits of the sinks.
    #[command(flatten)]
    pub delivery: Delivery,
    /// Event size and tracking limits.
    #[command(flatten)]
    pub limits: Limits,
}

/// `--ack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AckMode {
    /// 200 once every accepted event is durable at every sink.
    Durable,
    /// 200 once the events are queued (faster; a crash loses the queue).
    Queued,
}

/// `--fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncMode {
    /// Sync at every group commit.
    Commit,
    /// Never sync; write to the system only.
    Never,
}

impl Args {
    /// The collector's configuration these arguments ask for.
    pub fn config(&self) -> Config {
        Config {
            max_body_bytes: self.max_body_bytes,
            allowed_origins: self.allow_origins.clone(),
            write_key: self.write_key.clone(),
            ack: match self.ack {
                AckMode::Durable => Ack::Durable,
                AckMode::Queued => Ack::Queued,
            },
            dead_letter: self.delivery.dead_letter.clone(),
            fsync: self.fsync(),
            batch_window: self.batch_window,
            max_held_bytes: self.max_held_bytes,
            max_unconfirmed_events: self.max_unconfirmed,
            header_timeout: Duration::from_secs(self.header_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            ack_timeout: Duration::from_secs(self.ack_timeout),
            shutdown_timeout: Duration::from_secs(self.delivery.shutdown_timeout),
            ..Config::default()
        }
    }

    fn fsync(&self) -> Fsync {
        match self.fsync {
            FsyncMode::Commit => Fsync::OnCommit,
            FsyncMode::Never => Fsync::Never,
        }
    }
}

/// Refuses two outputs that are the same file (a sink file and the dead letter).
fn refuse_overlap(args: &Args) -> Result<(), CliError> {
    let files: Vec<PathBuf> = args
        .sinks
        .iter()
        .filter_map(|spec| match spec {
            SinkSpec::Ndjson(Output::File(path)) | SinkSpec::DataLayer(Output::File(path)) => {
                Some(path.clone())
            }
            _ => None,
        })
        .collect();
    let mut outputs = vec![Named::new("--dead-letter", &args.delivery.dead_letter)];
    outputs.extend(files.iter().map(|path| Named::new("--sink", path)));
    same_file::refuse_overlap(&[], &outputs)
}

/// Runs `webaction serve` until SIGTERM or SIGINT. Exit status: 0 after a clean stop,
/// 2 on usage and I/O errors, or when requests or sinks did not finish in time.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    refuse_overlap(args)?;
    args.delivery.check_partitions(&args.sinks)?;
    let options = args.delivery.sink_options(
        // A full queue blocks ingest, and requests then get 503: never an accepted
        // event spilled.
        FullQueuePolicy::Block,
        FileOptions {
            append: true,
            fsync: args.fsync(),
        },
    );
    options.dead_letter.ensure_writable().map_err(|source| {
        CliError::io(
            "cannot write the dead letter",
            &args.delivery.dead_letter,
            source,
        )
    })?;
    let mut ingest = args.limits.builder(registry);
    if args.delivery.partitions.is_some() {
        // Partitioned, the lifecycle is judged by `webaction consume`, one tracker per
        // partition: several collectors each see only part of an action's events, so
        // their own verdicts on transitions would be wrong. They still refuse what is
        // not an event.
        ingest = ingest.illegal(IllegalPolicy::Deliver);
    }
    let mut collector = Collector::new(ingest, args.config())
        .sink_dead_letter(options.dead_letter.clone())
        .report(Arc::new(crate::report::live::Live::new(registry)));
    for spec in &args.sinks {
        let sink: Arc<dyn Sink> = events_sinks::open(spec, options.clone())
            .map_err(|error| CliError::Usage(format!("--sink {spec}: {error}")))?
            .into();
        collector = collector.sink(spec.to_string(), sink);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("cannot start", "the async runtime", e))?;
    let served = runtime.block_on(async {
        let listener = events_collector::bind(&args.listen)
            .await
            .map_err(|e| CliError::io("cannot listen on", &args.listen, e))?;
        let address = listener
            .local_addr()
            .map_err(|e| CliError::io("cannot listen on", &args.listen, e))?;
        crate::write_stdout(format!("listening on http://{address}\n").as_bytes())?;
        collector
            .serve(listener, events_collector::shutdown_signal())
            .await
            .map_err(|error| CliError::Usage(error.to_string()))
    })?;
    for (name, closed) in &served.sinks {
        match closed {
            Ok(stats) => eprintln!("sink {name}: {stats}"),
            Err(error) => eprintln!("webaction: error: sink {name}: {error}"),
        }
    }
    if !served.drained {
        eprintln!("webaction: error: requests were still in flight at the shutdown deadline");
    }
    Ok(if served.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Serve {
        #[command(flatten)]
        args: Args,
    }

    fn config(args: &[&str]) -> Config {
        let args = std::iter::once("serve").chain(args.iter().copied());
        Serve::try_parse_from(args).unwrap().args.config()
    }

    #[test]
    fn max_held_bytes_is_the_collectors_bound_on_held_bodies() {
        assert_eq!(config(&[]).max_held_bytes, Config::default().max_held_bytes);
        assert_eq!(config(&["--max-held-bytes", "4096"]).max_held_bytes, 4096);
        assert_eq!(config(&["--max-held-bytes", "0"]).max_held_bytes, 0);
    }
}
