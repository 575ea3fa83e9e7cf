//! `webaction consume`: one member of a consumer group splitting a partitioned JetStream
//! stream (`webaction serve --sink nats://HOST:PORT/<prefix> --partitions P`): it takes
//! its share of the partitions by lease, judges each partition's events with its own
//! tracker (as `webaction check`, with the same limits), delivers the accepted ones to
//! `--sink` and writes the rejected ones to `--dead-letter`, acking the stream only after
//! both are durable. The engine is [`events_sinks::cluster::consume`].
//!
//! SIGTERM or SIGINT: the batch in flight is finished, every owned partition checkpointed
//! and its lease released, the sink flushed and closed within `--shutdown-timeout`; exit
//! 0. A second signal dead-letters what the sink still holds.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use events_core::Registry;
use events_sinks::cluster::{consume, ConsumeConfig};
use events_sinks::{FileOptions, Fsync, FullQueuePolicy, Sink, SinkSpec};

use crate::delivery::Delivery;
use crate::input::Limits;
use crate::CliError;

/// Arguments of `webaction consume`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// The partitioned stream: `nats://host:port/<prefix>`, as given to `serve --sink`
    /// with `--partitions`.
    #[arg(long, value_name = "SPEC")]
    pub from: SinkSpec,
    /// Where accepted events go: `ndjson:PATH` (appended to), `datalayer:PATH`,
    /// `http[s]://host:port/path`, `nats://host:port/<subject-prefix>`.
    #[arg(long, value_name = "SPEC")]
    pub sink: SinkSpec,
    /// The consumer group: processes of one group split the partitions between them.
    #[arg(long, value_name = "NAME", default_value = "webaction")]
    pub group: String,
    /// This process's id in the group (default: `consumer-<pid>-<random>`).
    #[arg(long, value_name = "ID")]
    pub member: Option<String>,
    /// Checkpoint a partition's tracker after this many messages.
    #[arg(long, value_name = "N", default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_events: u64,
    /// Checkpoint a partition that took messages after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub checkpoint_secs: u64,
    /// A partition lease's time to live, in seconds: how long a killed member's
    /// partitions wait for a new owner. Held leases are given up 2 s before it.
    #[arg(long, value_name = "SECONDS", default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub lease_secs: u64,
    /// Messages fetched and judged together per partition, at most.
    #[arg(long, value_name = "N", default_value_t = 256,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub fetch: usize,
    /// Append a JSON line per lease taken, renewed and given up to this file.
    #[arg(long, value_name = "PATH")]
    pub lease_log: Option<PathBuf>,
    /// The dead letter, batching, retries and time limits of the sink.
    #[command(flatten)]
    pub delivery: Delivery,
    /// Line length and tracking limits, per partition: `--max-actions` is split between
    /// the partitions, and `--idle-lines` counts the partition's lines.
    #[command(flatten)]
    pub limits: Limits,
}

/// Runs one member until SIGTERM or SIGINT. Exit status 0 after a clean stop, 2 on
/// errors.
pub fn run(args: &Args, registry: &Registry) -> Result<ExitCode, CliError> {
    let SinkSpec::Nats {
        url,
        subject_prefix,
    } = &args.from
    else {
        return Err(CliError::Usage(format!(
            "--from {}: expected a partitioned stream, `nats://host:port/<prefix>`",
            args.from
        )));
    };
    let member = args.member.clone().unwrap_or_else(|| {
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!("consumer-{}-{}", std::process::id(), &random[..8])
    });
    let options = args.delivery.sink_options(
        FullQueuePolicy::Block,
        FileOptions {
            append: true,
            fsync: Fsync::OnCommit,
        },
    );
    let sink: Arc<dyn Sink> = events_sinks::open(&args.sink, options)
        .map_err(|error| CliError::Usage(format!("--sink {}: {error}", args.sink)))?
        .into();
    let config = ConsumeConfig {
        lease_ttl: Duration::from_secs(args.lease_secs),
        checkpoint_events: args.checkpoint_events,
        checkpoint_interval: Duration::from_secs(args.checkpoint_secs),
        batch: args.fetch,
        dead_letter: args.delivery.dead_letter.clone(),
        lease_log: args.lease_log.clone(),
        ..ConsumeConfig::new(
            url.clone(),
            subject_prefix.clone(),
            args.group.clone(),
            member,
        )
    };
    let stop = Arc::new(AtomicBool::new(false));
    let shutdown = crate::shutdown::install_or_warn();
    let shutdown_timeout = Duration::from_secs(args.delivery.shutdown_timeout);
    {
        let stop = Arc::clone(&stop);
        let sink = Arc::clone(&sink);
        shutdown.on_signal(move |signal| {
            if signal.repeated {
                eprintln!(
                    "webaction: {} again: dead-lettering what is in flight",
                    signal.name()
                );
                sink.shut_down(Instant::now());
            } else {
                eprintln!(
                    "webaction: {}: finishing the batch in flight, checkpointing and releasing \
                     the partitions",
                    signal.name()
                );
            }
            stop.store(true, Ordering::SeqCst);
        });
    }
    if shutdown.requested() {
        stop.store(true, Ordering::SeqCst);
    }
    let limits = args.limits;
    let ingest = |partitions: u32| limits.partition_builder(registry, partitions as usize);
    let consumed = consume(&config, &ingest, Arc::clone(&sink), &stop);
    let closed = sink.close(Instant::now() + shutdown_timeout);
    let stats = consumed.map_err(|error| CliError::Usage(error.to_string()))?;
    eprintln!(
        "consumed: {} messages, {} accepted, {} rejected; {} partitions taken, {} checkpoints",
        stats.messages, stats.accepted, stats.rejected, stats.taken, stats.checkpoints
    );
    match closed {
        Ok(sink_stats) => {
            eprintln!("sink {}: {sink_stats}", args.sink);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("webaction: error: sink {}: {error}", args.sink);
            Ok(ExitCode::from(2))
        }
    }
}
