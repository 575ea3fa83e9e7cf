//! How accepted events reach a sink: the options `replay` and `serve` share (dead letter,
//! HTTP body, TLS roots, batching, retries, time limits), and the [`SinkOptions`] they
//! make.

use std::path::PathBuf;
use std::time::Duration;

use events_sinks::{
    BodyShape, DataLayerFormat, DeadLetter, FileOptions, FullQueuePolicy, QueueConfig, RetryPolicy,
    SinkOptions, SinkSpec,
};

use crate::CliError;

/// The sink options of `replay` and `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct Delivery {
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
    /// Events per HTTP request or per group of NATS publishes (at least 1).
    #[arg(long, value_name = "N", default_value_t = 500,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub batch_size: usize,
    /// Events queued or in flight at most (HTTP, NATS): the memory bound (at least 1).
    #[arg(long, value_name = "N", default_value_t = 10_000,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub queue_capacity: usize,
    /// Retries of a failed delivery before the event goes to the dead letter (0 to 1000).
    #[arg(long, value_name = "N", default_value_t = 8,
        value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub max_retries: u32,
    /// One attempt's time limit, in milliseconds (1 to 3600000, an hour).
    #[arg(long, value_name = "MS", default_value_t = 10_000,
        value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub timeout_ms: u64,
    /// At the end, or after SIGTERM/SIGINT, how long to wait for pending deliveries
    /// before dead-lettering them, in seconds (0 to 86400, a day).
    #[arg(long, value_name = "SECONDS", default_value_t = 30,
        value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub shutdown_timeout: u64,
    /// The longest wait a collector's `Retry-After` can impose, in seconds (0 to 86400); a
    /// longer one waits this long, and the retry counts against `--max-retries`.
    #[arg(long, value_name = "SECONDS", default_value_t = 60,
        value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub max_retry_after: u64,
    /// Publish to a NATS sink's subject `<prefix>.<partition>` of this many partitions
    /// (1 to 65536), partition = the `actionId` as a 128-bit number modulo N, for
    /// `webaction consume` to split between processes. Recorded for the stream at the
    /// first publish; a different number later is refused, naming both.
    #[arg(long, value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub partitions: Option<u32>,
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

impl Delivery {
    /// The sink options these arguments ask for, with what the command decides itself:
    /// what a full queue does, and how a file sink opens its file.
    pub fn sink_options(&self, full_queue: FullQueuePolicy, file: FileOptions) -> SinkOptions {
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
                full_queue,
                retry: RetryPolicy {
                    max_retries: Some(self.max_retries),
                    timeout: Duration::from_millis(self.timeout_ms),
                    max_retry_after: Duration::from_secs(self.max_retry_after),
                    ..RetryPolicy::default()
                },
                ..QueueConfig::default()
            }),
            file,
            partitions: self.partitions,
        }
    }

    /// Refuses `--partitions` without a NATS sink to partition.
    pub fn check_partitions<'a>(
        &self,
        sinks: impl IntoIterator<Item = &'a SinkSpec>,
    ) -> Result<(), CliError> {
        if self.partitions.is_some()
            && !sinks
                .into_iter()
                .any(|spec| matches!(spec, SinkSpec::Nats { .. }))
        {
            return Err(CliError::Usage(
                "--partitions needs a `nats://host:port/<stream>` sink to partition".into(),
            ));
        }
        Ok(())
    }
}
