use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::jetstream::{self, Context};

use crate::cluster::{declare_partitions, partition_of, partition_subject};
use crate::pipeline::{Attempt, Delivery, Pipeline, Pipelined, Queued, Transport};
use crate::{DeadLetter, QueueConfig, Sink, SinkError};

/// The JetStream stream a [`NatsSink`] makes sure exists before publishing.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamSetup {
    /// The stream's name.
    pub name: String,
    /// How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate publish: a retry
    /// later than this after a lost ack stores the event twice.
    pub duplicate_window: Duration,
}

impl StreamSetup {
    /// A file-backed stream for `<prefix>.>` named after the prefix (`webactions` →
    /// `WEBACTIONS`, other characters than letters, digits, `-` and `_` → `_`), with a
    /// two-minute duplicate window.
    pub fn for_prefix(prefix: &str) -> Self {
        let name = prefix
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        StreamSetup {
            name,
            duplicate_window: Duration::from_secs(120),
        }
    }
}

/// Where and how a [`NatsSink`] publishes.
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The server, e.g. `nats://127.0.0.1:4222`; `tls://host:port` requires TLS, which
    /// the client also uses whenever the server asks for it.
    pub url: String,
    /// Root certificates (PEM) to trust for TLS besides the system's: a private CA's.
    pub ca_file: Option<PathBuf>,
    /// Subjects are `<subject_prefix>.<mediaType>.<state>`, or `<subject_prefix>.<p>`
    /// with [`partitions`](Self::partitions).
    pub subject_prefix: String,
    /// Publish to `<subject_prefix>.<p>`, `p` = [`partition_of`] the event's `actionId`,
    /// so that `webaction consume` can split the stream between processes. The number is
    /// recorded for the stream ([`declare_partitions`]) when the sink connects, and a
    /// different one recorded earlier is refused.
    ///
    /// Partitioned, one batch is in flight at a time (`max_in_flight` 1), so that a
    /// retried batch cannot land after a later one and reorder an action's events; and
    /// `Nats-Msg-Id` is `<idempotency key>:<process>-<n>`, the same through the retries
    /// of one event but not shared by two events of one key (an invalid repeat and the
    /// valid event), which the consumer's tracker must both see. The consumer delivers
    /// downstream with the plain [idempotency key](crate::idempotency_key).
    pub partitions: Option<u32>,
    /// The stream to create when none exists; `None` expects one to cover the subjects.
    pub stream: Option<StreamSetup>,
    /// Batching (publishes awaited together), queue bound, full-queue policy, retries.
    /// `retry.timeout` bounds the wait for each batch's acks.
    pub queue: QueueConfig,
}

impl NatsConfig {
    /// Defaults: a stream set up with [`StreamSetup::for_prefix`], batches of 256.
    pub fn new(url: impl Into<String>, subject_prefix: impl Into<String>) -> Self {
        let subject_prefix = subject_prefix.into();
        NatsConfig {
            url: url.into(),
            ca_file: None,
            stream: Some(StreamSetup::for_prefix(&subject_prefix)),
            subject_prefix,
            partitions: None,
            queue: QueueConfig {
                batch_size: 256,
                max_batch_age: Duration::from_millis(50),
                ..QueueConfig::default()
            },
        }
    }
}

/// Publishes each event to NATS JetStream on `<prefix>.<mediaType>.<state>` (or
/// `<prefix>.<partition>`, see [`NatsConfig::partitions`]), with its
/// [idempotency key](crate::idempotency_key) as `Nats-Msg-Id`, and counts it delivered
/// only once the server acknowledged storing it.
///
/// A publish whose ack does not come (timeout, disconnection, server restart) is sent
/// again with the same id; within the stream's duplicate window JetStream stores it once.
/// The client reconnects by itself. What still fails after the retries, or is pending when
/// [`close`](Sink::close)'s deadline passes, goes to the dead letter.
pub struct NatsSink {
    pipeline: Pipeline,
    /// The connection, for readiness.
    client: async_nats::Client,
    url: String,
    subject_prefix: String,
}

impl NatsSink {
    /// Connects, sets the stream up if asked, and starts the sink's worker.
    pub fn connect(config: NatsConfig, dead_letter: DeadLetter) -> Result<Self, SinkError> {
        let nats_error = |reason: String| SinkError::Nats {
            url: config.url.clone(),
            reason,
        };
        if config.subject_prefix.is_empty()
            || config
                .subject_prefix
                .split('.')
                .any(|token| token.is_empty() || token.contains(['*', '>', ' ']))
        {
            return Err(SinkError::Config(format!(
                "`{}` is not a NATS subject prefix",
                config.subject_prefix
            )));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SinkError::Worker)?;
        let timeout = config.queue.retry.timeout;
        let mut options = async_nats::ConnectOptions::new()
            .connection_timeout(timeout)
            // The sink retries publishes itself; the client keeps reconnecting.
            .max_reconnects(None);
        if let Some(ca_file) = &config.ca_file {
            // async-nats reads the file only when it connects, and then reports a missing
            // one as a TLS failure: say what is wrong first.
            if let Err(error) = std::fs::metadata(ca_file) {
                return Err(SinkError::Config(format!(
                    "CA file {}: {error}",
                    ca_file.display()
                )));
            }
            options = options.add_root_certificates(ca_file.clone());
        }
        let context = runtime.block_on(async {
            let client = options
                .connect(config.url.as_str())
                .await
                .map_err(|error| nats_error(error.to_string()))?;
            let context = jetstream::ContextBuilder::new()
                .timeout(timeout)
                .ack_timeout(timeout)
                .build(client);
            if let Some(stream) = &config.stream {
                context
                    .get_or_create_stream(StreamConfig {
                        name: stream.name.clone(),
                        subjects: vec![format!("{}.>", config.subject_prefix)],
                        duplicate_window: stream.duplicate_window,
                        storage: StorageType::File,
                        ..StreamConfig::default()
                    })
                    .await
                    .map_err(|error| nats_error(format!("stream `{}`: {error}", stream.name)))?;
            }
            if let Some(partitions) = config.partitions {
                let stream = StreamSetup::for_prefix(&config.subject_prefix).name;
                declare_partitions(&context, &stream, partitions)
                    .await
                    .map_err(|error| nats_error(error.to_string()))?;
            }
            Ok::<_, SinkError>(context)
        })?;
        let client = context.client();
        let transport = NatsTransport {
            context,
            prefix: config.subject_prefix.clone(),
            partitions: config.partitions,
        };
        let mut queue = config.queue;
        if config.partitions.is_some() {
            queue.max_in_flight = 1;
        }
        let pipeline = Pipeline::start(transport, queue, dead_letter, runtime)?;
        Ok(NatsSink {
            pipeline,
            client,
            url: config.url,
            subject_prefix: config.subject_prefix,
        })
    }
}

impl Pipelined for NatsSink {
    fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Ready while the client is connected (it reconnects by itself after a loss).
    fn ready(&self, _timeout: Duration) -> Result<(), SinkError> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(SinkError::Nats {
                url: self.url.clone(),
                reason: format!("not connected ({state})"),
            }),
        }
    }
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("url", &self.url)
            .field("subject_prefix", &self.subject_prefix)
            .field("stats", &self.stats())
            .finish()
    }
}

struct NatsTransport {
    context: Context,
    prefix: String,
    partitions: Option<u32>,
}

/// A subject token from a wire name: NATS splits on `.` and treats `*`, `>` and
/// whitespace specially.
fn token(name: &str) -> std::borrow::Cow<'_, str> {
    if name.contains(['.', '*', '>', ' ', '\t']) {
        name.replace(['.', '*', '>', ' ', '\t'], "_").into()
    } else {
        name.into()
    }
}

impl Transport for NatsTransport {
    const NAME: &'static str = "nats";

    async fn deliver(&self, batch: &[Queued], timeout: Duration) -> Delivery {
        let deadline = tokio::time::Instant::now() + timeout;
        // Publish the whole batch first, then collect the acks: the server stores them
        // while we wait, instead of one round trip per event.
        let mut acks = Vec::with_capacity(batch.len());
        for event in batch {
            let subject = match self.partitions {
                Some(partitions) => {
                    partition_subject(&self.prefix, partition_of(event.action_id, partitions))
                }
                None => format!(
                    "{}.{}.{}",
                    self.prefix,
                    token(event.media_type),
                    token(event.state)
                ),
            };
            let id = match self.partitions {
                Some(_) => event.publish_id(),
                None => event.key.to_string(),
            };
            let publish = PublishMessage::build()
                .payload(event.json.clone())
                .message_id(id);
            let sent =
                tokio::time::timeout_at(deadline, self.context.send_publish(subject, publish));
            acks.push(match sent.await {
                Ok(Ok(ack)) => Ok(ack),
                Ok(Err(error)) => Err(classify(&error)),
                Err(_) => Err(timed_out(timeout)),
            });
        }
        let mut attempts = Vec::with_capacity(batch.len());
        for ack in acks {
            attempts.push(match ack {
                Err(attempt) => attempt,
                Ok(ack) => match tokio::time::timeout_at(deadline, ack).await {
                    Ok(Ok(_)) => Attempt::Delivered,
                    Ok(Err(error)) => classify(&error),
                    Err(_) => timed_out(timeout),
                },
            });
        }
        Delivery::PerEvent(attempts)
    }
}

fn timed_out(timeout: Duration) -> Attempt {
    Attempt::Retry {
        error: format!("no ack within {timeout:?}"),
        retry_after: None,
    }
}

fn classify(error: &async_nats::jetstream::context::PublishError) -> Attempt {
    match error.kind() {
        // Retrying the same message cannot succeed.
        PublishErrorKind::MaxPayloadExceeded => Attempt::Refused {
            error: error.to_string(),
        },
        // Timeouts and broken pipes while the server restarts; "no stream" while its
        // JetStream is still recovering: all worth another try.
        _ => Attempt::Retry {
            error: error.to_string(),
            retry_after: None,
        },
    }
}
