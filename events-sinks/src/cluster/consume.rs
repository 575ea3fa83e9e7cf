//! One member of a consumer group: the engine of `webaction consume`.
//!
//! A member heartbeats and [balances](Leases::balance) the group's partition leases; for
//! each partition it owns it runs one [`Ingest`] (decode, track, as `webaction check`),
//! fed from a durable pull consumer of `<prefix>.<partition>`, and hands the accepted
//! events to the sink with a [`Receipt`] and the rejected lines to the dead letter. A
//! batch of messages is acknowledged only once the sink confirmed every event of it (or
//! dead-lettered it) and the rejected lines are written and synced.
//!
//! Every `checkpoint_events` messages or `checkpoint_interval` (whichever comes first),
//! the partition's [`Ingest::checkpoint`] is stored with the last stream sequence it
//! covers ([`Checkpoints`]). A member taking a partition over restores that state and
//! (re)creates the partition's consumer at the next sequence, so its verdicts equal one
//! uninterrupted run; the messages after the checkpoint are delivered again (at least
//! once, with the same idempotency keys).
//!
//! A partition is worked only while its lease is [valid](Lease::is_valid): no batch is
//! started after [`Lease::valid_until`], and a partition whose renewal fails as
//! [`RenewError::Lost`] or whose checkpoint is fenced is dropped at once.
//!
//! Everything runs on one thread, partitions in turn, so that renewals, checkpoints and
//! work never race each other inside a member; members scale out as processes.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer};
use async_nats::jetstream::stream::Stream as JetStream;
use async_nats::jetstream::{self, Context, Message};
use events_core::ingest::{Emit, Ingest, IngestBuilder, Outcome, RestoreError};
use events_core::AnyEvent;
use tokio::sync::oneshot;

use super::{
    fair_share, partition_subject, recorded_partitions, CheckpointError, Checkpoints, ClusterError,
    Lease, LeaseConfig, Leases, RenewError,
};
use crate::{Confirmation, Receipt, RejectedLines, Sink, SinkError, StreamSetup};

/// What a member needs to know.
#[derive(Debug, Clone)]
pub struct ConsumeConfig {
    /// The server, e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// The subject prefix the collectors publish under (`serve --sink
    /// nats://host:port/<prefix> --partitions P`); the stream is
    /// [`StreamSetup::for_prefix`]'s name for it.
    pub subject_prefix: String,
    /// The group: its members split the partitions; its leases, checkpoints
    /// (`WEBACTION_LEASES_<group>_<stream>`, `WEBACTION_CHECKPOINTS_<group>_<stream>`) and
    /// consumers (`webaction_<group>_<partition>`) are named after it.
    pub group: String,
    /// This member's id, unique in the group (letters, digits, `-`, `_`).
    pub member: String,
    /// A lease's time to live and how much earlier its holder gives it up.
    pub lease_ttl: Duration,
    /// See [`LeaseConfig::margin`].
    pub lease_margin: Duration,
    /// Checkpoint a partition after this many messages (at least 1).
    pub checkpoint_events: u64,
    /// Checkpoint a partition that has taken messages after this long.
    pub checkpoint_interval: Duration,
    /// Messages fetched and judged together, at most.
    pub batch: usize,
    /// Rejected lines are appended here, synced before their messages are acked.
    pub dead_letter: PathBuf,
    /// A JSON line per lease taken, renewed, and given up, when set (for audits and tests).
    pub lease_log: Option<PathBuf>,
}

impl ConsumeConfig {
    /// Leases of 10 s given up 2 s early, checkpoints every 1000 messages or 5 s, batches
    /// of 256, the dead letter `webaction-dead-letter.ndjson`.
    pub fn new(
        url: impl Into<String>,
        subject_prefix: impl Into<String>,
        group: impl Into<String>,
        member: impl Into<String>,
    ) -> Self {
        ConsumeConfig {
            url: url.into(),
            subject_prefix: subject_prefix.into(),
            group: group.into(),
            member: member.into(),
            lease_ttl: Duration::from_secs(10),
            lease_margin: Duration::from_secs(2),
            checkpoint_events: 1000,
            checkpoint_interval: Duration::from_secs(5),
            batch: 256,
            dead_letter: PathBuf::from("webaction-dead-letter.ndjson"),
            lease_log: None,
        }
    }
}

/// What a member did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumeStats {
    /// Messages judged (redeliveries of messages already judged are not counted).
    pub messages: u64,
    /// Accepted events handed to the sink.
    pub accepted: u64,
    /// Rejected lines written to the dead letter.
    pub rejected: u64,
    /// Partitions taken (with or without a checkpoint to start from).
    pub taken: u64,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// Checkpoints not stored because the state exceeded the server's max payload.
    pub oversized_checkpoints: u64,
}

/// Why a member stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// Leases or checkpoints could not be used.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Connecting, or finding the stream or its consumer, failed.
    #[error("NATS at {url}: {what}: {source}")]
    Nats {
        /// The server.
        url: String,
        /// What was being done.
        what: String,
        /// async-nats's error.
        #[source]
        source: async_nats::Error,
    },
    /// No collector has published to the stream with `--partitions` yet.
    #[error("stream {stream}: no number of partitions recorded in bucket WEBACTION_PARTITIONS; start `webaction serve --sink nats://HOST:PORT/<prefix> --partitions P` (or `replay` with them) first")]
    NotPartitioned {
        /// The stream.
        stream: String,
    },
    /// A stored checkpoint could not be read back into a tracker.
    #[error("checkpoint of partition {partition}: {source}")]
    Restore {
        /// The partition.
        partition: u32,
        /// Why.
        #[source]
        source: RestoreError,
    },
    /// A stored checkpoint could not be loaded.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The sink refused an event, or lost some.
    #[error("sink: {0}")]
    Sink(#[from] SinkError),
    /// The sink lost events (a dead letter it could not write): nothing more is acked.
    #[error("the sink lost {lost} event(s) of partition {partition} (its dead letter failed); the messages stay unacknowledged")]
    Lost {
        /// The partition.
        partition: u32,
        /// How many.
        lost: u64,
    },
    /// The dead letter or the lease log could not be written.
    #[error("cannot write `{}`: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Runs one member until `stop` is set, then finishes the batch in flight, checkpoints
/// every partition it owns, releases their leases and leaves the group.
///
/// `ingest` makes each partition's pipeline, given the number of partitions (to split a
/// limit such as the tracker's cap between them); accepted events go to `sink`.
pub fn consume(
    config: &ConsumeConfig,
    ingest: &dyn Fn(u32) -> IngestBuilder,
    sink: Arc<dyn Sink>,
    stop: &AtomicBool,
) -> Result<ConsumeStats, ConsumeError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| ConsumeError::Io {
            path: PathBuf::from("the async runtime"),
            source,
        })?;
    runtime.block_on(async {
        let mut member = Member::join(config, ingest, sink).await?;
        let run = member.run(stop).await;
        let left = member.leave().await;
        run.and(left)?;
        Ok(member.stats)
    })
}

/// How long a fetch may take before the consumer is given up and opened again.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A partition being worked.
struct Work {
    ingest: Ingest<Deliveries>,
    consumer: Option<PullConsumer>,
    /// The last stream sequence judged: the state covers it.
    last: u64,
    /// Messages judged since the last checkpoint.
    since_checkpoint: u64,
    checkpointed: Instant,
    /// When this member last handed an event of the partition to the sink (or took it).
    worked_until: SystemTime,
    /// The consumer's delivery sequence of the last message fetched (0 when just opened).
    delivered: u64,
    /// When an idle partition's consumer was last asked whether deliveries are stuck.
    stuck_checked: Instant,
}

struct Member<'a> {
    config: &'a ConsumeConfig,
    make_ingest: &'a dyn Fn(u32) -> IngestBuilder,
    sink: Arc<dyn Sink>,
    stream: JetStream,
    leases: Leases,
    checkpoints: Checkpoints,
    partitions: u32,
    held: BTreeMap<u32, Lease>,
    work: BTreeMap<u32, Work>,
    rejected: RejectedFile,
    log: LeaseLog,
    stats: ConsumeStats,
    warned_oversized: bool,
    /// The partition worked last.
    cursor: u32,
}

impl<'a> Member<'a> {
    async fn join(
        config: &'a ConsumeConfig,
        make_ingest: &'a dyn Fn(u32) -> IngestBuilder,
        sink: Arc<dyn Sink>,
    ) -> Result<Member<'a>, ConsumeError> {
        let nats = |what: String, source: async_nats::Error| ConsumeError::Nats {
            url: config.url.clone(),
            what,
            source,
        };
        let client = async_nats::ConnectOptions::new()
            .max_reconnects(None)
            .connect(config.url.as_str())
            .await
            .map_err(|e| nats("connect".into(), e.into()))?;
        let context: Context = jetstream::new(client);
        let stream_name = StreamSetup::for_prefix(&config.subject_prefix).name;
        let partitions = recorded_partitions(&context, &stream_name)
            .await?
            .ok_or_else(|| ConsumeError::NotPartitioned {
                stream: stream_name.clone(),
            })?;
        let stream = context
            .get_stream(&stream_name)
            .await
            .map_err(|e| nats(format!("stream {stream_name}"), e.into()))?;
        // One group may consume several streams: its leases and checkpoints are per stream.
        let group = format!("{}_{stream_name}", config.group);
        let lease_config = LeaseConfig {
            ttl: config.lease_ttl,
            margin: config.lease_margin,
            ..LeaseConfig::new(group.clone(), partitions)
        };
        let leases = Leases::open(&context, &lease_config, config.member.clone()).await?;
        let checkpoints = Checkpoints::open(&context, &group).await?;
        let log = LeaseLog::open(config.lease_log.as_deref(), &config.member)?;
        Ok(Member {
            config,
            make_ingest,
            sink,
            stream,
            leases,
            checkpoints,
            partitions,
            held: BTreeMap::new(),
            work: BTreeMap::new(),
            rejected: RejectedFile::new(&config.dead_letter),
            log,
            stats: ConsumeStats::default(),
            warned_oversized: false,
            cursor: 0,
        })
    }

    /// Renewals come every third of the time a lease is valid, so two may fail in a row
    /// before the lease must be given up.
    fn renew_every(&self) -> Duration {
        (self.leases.ttl() - self.config.lease_margin) / 3
    }

    async fn run(&mut self, stop: &AtomicBool) -> Result<(), ConsumeError> {
        let mut next_maintenance = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            if Instant::now() >= next_maintenance {
                match self.maintain().await {
                    // The server restarting, a key-value read timing out: the leases
                    // held are still valid or dropped, and the next round tries again.
                    Err(error @ (ConsumeError::Cluster(_) | ConsumeError::Checkpoint(_))) => {
                        tracing::warn!(%error, "balancing the partitions; retrying");
                    }
                    other => other?,
                }
                next_maintenance = Instant::now() + self.renew_every();
            }
            let mut worked = false;
            // In turn from the one after the last worked, so that a round cut short by
            // maintenance does not starve the higher partitions.
            let mut owned: Vec<u32> = self.work.keys().copied().collect();
            let next = owned.partition_point(|&p| p <= self.cursor);
            owned.rotate_left(next);
            for partition in owned {
                if stop.load(Ordering::SeqCst) || Instant::now() >= next_maintenance {
                    break;
                }
                self.cursor = partition;
                worked |= self.work_once(partition).await?;
            }
            if !worked {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        Ok(())
    }

    /// Renews every lease, drops the lost ones, and rebalances: checkpoints and gives up
    /// partitions above the fair share before [`Leases::balance`] frees them, and starts
    /// work on the partitions it took.
    async fn maintain(&mut self) -> Result<(), ConsumeError> {
        self.renew().await;
        self.leases.heartbeat().await?;
        let members = self.leases.members().await?;
        let share = fair_share(self.partitions, members.len().max(1)) as usize;
        while self.held.len() > share {
            let partition = *self
                .held
                .keys()
                .next_back()
                .expect("more than share leases");
            self.checkpoint(partition).await;
            self.stop_work(partition, "released");
            if let Some(lease) = self.held.remove(&partition) {
                self.leases.release(lease).await?;
            }
        }
        let mut owned: Vec<Lease> = std::mem::take(&mut self.held).into_values().collect();
        let before: Vec<u32> = owned.iter().map(Lease::partition).collect();
        let balanced = self.leases.balance(&mut owned).await;
        for lease in owned {
            let partition = lease.partition();
            self.held.insert(partition, lease);
            if !before.contains(&partition) {
                self.log
                    .write(partition, "start", self.held.get(&partition))?;
                if let Err(error) = self.start_work(partition).await {
                    // Not worked: give it back rather than let it sit until it expires.
                    self.stop_work(partition, "released");
                    if let Some(lease) = self.held.remove(&partition) {
                        let _ = self.leases.release(lease).await;
                    }
                    return Err(error);
                }
            }
        }
        let gone: Vec<u32> = self
            .work
            .keys()
            .filter(|p| !self.held.contains_key(p))
            .copied()
            .collect();
        for partition in gone {
            self.stop_work(partition, "released");
        }
        balanced.map_err(Into::into)
    }

    async fn renew(&mut self) {
        let held = std::mem::take(&mut self.held);
        for (partition, lease) in held {
            match self.leases.renew(lease).await {
                Ok(lease) => {
                    let _ = self.log.write(partition, "renew", Some(&lease));
                    self.held.insert(partition, lease);
                }
                Err(RenewError::Lost { .. }) => self.stop_work(partition, "lost"),
                Err(RenewError::Unavailable { lease, source }) if lease.is_valid() => {
                    tracing::warn!(partition, %source, "renewing a lease; retrying");
                    self.held.insert(partition, lease);
                }
                Err(RenewError::Unavailable { .. }) => self.stop_work(partition, "expired"),
            }
        }
    }

    fn stop_work(&mut self, partition: u32, why: &str) {
        if let Some(work) = self.work.remove(&partition) {
            let _ = self.log.stopped(partition, why, work.worked_until);
        }
        if why != "released" {
            self.held.remove(&partition);
        }
    }

    /// Restores the partition's checkpoint, if any, into a new pipeline, and points the
    /// partition's consumer at the sequence after it.
    async fn start_work(&mut self, partition: u32) -> Result<(), ConsumeError> {
        let mut ingest = (self.make_ingest)(self.partitions).build(Deliveries::new(&self.sink));
        let mut last = 0;
        if let Some(checkpoint) = self.checkpoints.load(partition).await? {
            ingest
                .restore(&checkpoint.state)
                .map_err(|source| ConsumeError::Restore { partition, source })?;
            last = checkpoint.sequence;
        }
        self.stats.taken += 1;
        self.work.insert(
            partition,
            Work {
                ingest,
                consumer: None,
                delivered: 0,
                stuck_checked: Instant::now(),
                last,
                since_checkpoint: 0,
                checkpointed: Instant::now(),
                worked_until: SystemTime::now(),
            },
        );
        Ok(())
    }

    /// The partition's durable consumer, created afresh at the sequence after `last`:
    /// only the lease holder uses it, and what it had acknowledged past the checkpoint is
    /// not in the restored state, so it must be delivered again.
    async fn open_consumer(&self, partition: u32, last: u64) -> Result<PullConsumer, String> {
        let name = format!("webaction_{}_{partition}", self.config.group);
        // Absent is fine: the first owner ever, or one before a server's store was reset.
        let _ = self.stream.delete_consumer(&name).await;
        let config = pull::Config {
            durable_name: Some(name.clone()),
            filter_subject: partition_subject(&self.config.subject_prefix, partition),
            deliver_policy: if last == 0 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: last + 1,
                }
            },
            // Acking a message acks every one before it: batches are acked by their last.
            ack_policy: AckPolicy::All,
            ack_wait: Duration::from_secs(60),
            max_ack_pending: 100_000,
            ..Default::default()
        };
        self.stream
            .create_consumer(config)
            .await
            .map_err(|error| format!("consumer {name}: {error}"))
    }

    /// Fetches and judges one batch of `partition`'s messages; whether there were any.
    async fn work_once(&mut self, partition: u32) -> Result<bool, ConsumeError> {
        if !self.held.get(&partition).is_some_and(Lease::is_valid) {
            self.stop_work(partition, "expired");
            return Ok(false);
        }
        let Some(work) = self.work.get(&partition) else {
            return Ok(false);
        };
        if work.consumer.is_none() {
            let last = work.last;
            match self.open_consumer(partition, last).await {
                Ok(consumer) => {
                    let work = self.work.get_mut(&partition).expect("worked");
                    work.consumer = Some(consumer);
                    work.delivered = 0;
                }
                Err(error) => {
                    tracing::warn!(partition, %error, "opening the partition's consumer; retrying");
                    return Ok(false);
                }
            }
        }
        let messages = self.fetch(partition).await;
        let work = self.work.get_mut(&partition).expect("worked");
        let messages = work.contiguous(partition, messages);
        if messages.is_empty() {
            work.unstick(partition).await;
        }
        let fresh: Vec<Message> = messages
            .into_iter()
            .filter(|message| sequence(message).is_some_and(|seq| seq > work.last))
            .collect();
        if fresh.is_empty() {
            if work.since_checkpoint > 0
                && work.checkpointed.elapsed() >= self.config.checkpoint_interval
            {
                self.checkpoint(partition).await;
            }
            return Ok(false);
        }
        let subject = partition_subject(&self.config.subject_prefix, partition);
        let (tx, rx) = oneshot::channel();
        let receipt = Receipt::new(move |confirmation| {
            let _ = tx.send(confirmation);
        });
        work.ingest.emitter().receipt = Some(receipt.clone());
        let mut judged: usize = 0;
        for message in &fresh {
            // Not one event more once the lease may have expired: the next owner may be
            // at work already.
            if !self.held.get(&partition).is_some_and(Lease::is_valid) {
                break;
            }
            judged += 1;
            let seq = sequence(message).expect("filtered on it");
            let outcome = work.ingest.ingest(&message.payload);
            self.stats.messages += 1;
            match outcome {
                Outcome::Emitted => self.stats.accepted += 1,
                Outcome::Rejected(rejection) => {
                    self.stats.rejected += 1;
                    let error = rejection.error;
                    self.rejected
                        .letter
                        .write_in_stream(
                            &subject,
                            seq,
                            error.kind().as_str(),
                            &error.to_string(),
                            &message.payload,
                        )
                        .map_err(|source| self.rejected.error(source))?;
                }
                // Not under the quarantine policy consume builds with; counted in the
                // ingest's stats all the same.
                _ => {}
            }
            work.last = seq;
        }
        work.worked_until = SystemTime::now();
        work.since_checkpoint += judged as u64;
        let deliveries = work.ingest.emitter();
        deliveries.receipt = None;
        if let Some(error) = deliveries.refused.take() {
            return Err(error.into());
        }
        self.sink.commit()?;
        receipt.seal();
        self.rejected.commit()?;
        let confirmation = self.await_confirmation(rx).await;
        if confirmation.lost > 0 {
            return Err(ConsumeError::Lost {
                partition,
                lost: confirmation.lost,
            });
        }
        // Everything of the batch is delivered or dead-lettered: ack up to its last.
        if let Some(last) = judged.checked_sub(1).map(|last| &fresh[last]) {
            if let Err(error) = last.ack().await {
                tracing::warn!(partition, %error, "acking a batch (it will be redelivered and skipped)");
            }
        }
        let work = self.work.get(&partition);
        if work.is_some_and(|work| {
            work.since_checkpoint >= self.config.checkpoint_events
                || work.checkpointed.elapsed() >= self.config.checkpoint_interval
        }) {
            self.checkpoint(partition).await;
        }
        Ok(true)
    }

    /// Up to a batch of the partition's messages, without waiting for more to arrive. A
    /// failed fetch drops the consumer, to be created again after the last judged one.
    async fn fetch(&mut self, partition: u32) -> Vec<Message> {
        let work = self.work.get_mut(&partition).expect("worked");
        let Some(consumer) = &work.consumer else {
            return Vec::new();
        };
        // The server is not asked to hold the fetch (no `expires`): it would hold a fetch
        // of an empty partition that long, and a member working its partitions in turn
        // waited so for each idle one before coming back to a busy one (a busy partition
        // beside three idle ones took 256 messages every 3 s). So the wait is bounded here
        // instead, for a server that never answers (one restarting): what the fetch
        // delivers after the deadline goes to nobody, which `Work::contiguous` notices.
        let deadline = tokio::time::Instant::now() + FETCH_TIMEOUT;
        let mut messages = Vec::new();
        let batch = consumer.fetch().max_messages(self.config.batch).messages();
        let failed = |work: &mut Work, error: String| {
            tracing::warn!(partition, %error, "fetching; reopening the consumer");
            // `delivered` stays: the messages fetched so far are checked against it.
            work.consumer = None;
        };
        let mut batch = match tokio::time::timeout_at(deadline, batch).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                failed(work, error.to_string());
                return messages;
            }
            Err(_) => {
                failed(work, format!("no answer within {FETCH_TIMEOUT:?}"));
                return messages;
            }
        };
        loop {
            let next = std::future::poll_fn(|cx| {
                futures_core::Stream::poll_next(Pin::new(&mut batch), cx)
            });
            match tokio::time::timeout_at(deadline, next).await {
                Ok(None) => break,
                Ok(Some(Ok(message))) => messages.push(message),
                Ok(Some(Err(error))) => {
                    failed(work, error.to_string());
                    break;
                }
                Err(_) => {
                    failed(
                        work,
                        format!("the batch did not end within {FETCH_TIMEOUT:?}"),
                    );
                    break;
                }
            }
        }
        messages
    }

    /// Waits for the sink to resolve a batch, renewing leases meanwhile so that a slow
    /// sink does not cost them.
    async fn await_confirmation(
        &mut self,
        mut rx: oneshot::Receiver<Confirmation>,
    ) -> Confirmation {
        loop {
            match tokio::time::timeout(self.renew_every(), &mut rx).await {
                Ok(Ok(confirmation)) => return confirmation,
                // The receipt is dropped unresolved only if the sink dropped it: count
                // nothing as delivered.
                Ok(Err(_)) => {
                    return Confirmation {
                        lost: 1,
                        ..Confirmation::default()
                    }
                }
                Err(_) => self.renew().await,
            }
        }
    }

    /// Stores the partition's state with the last sequence it covers. A refusal because
    /// the lease is gone stops the partition; an oversized state keeps the previous
    /// checkpoint (a new owner replays more) and says so; other failures are retried at
    /// the next checkpoint.
    async fn checkpoint(&mut self, partition: u32) {
        let (Some(work), Some(lease)) = (self.work.get_mut(&partition), self.held.get(&partition))
        else {
            return;
        };
        let state = work.ingest.checkpoint();
        match self.checkpoints.store(lease, work.last, &state).await {
            Ok(_) => {
                work.since_checkpoint = 0;
                work.checkpointed = Instant::now();
                self.stats.checkpoints += 1;
            }
            Err(CheckpointError::TooLarge { bytes, limit, .. }) => {
                work.since_checkpoint = 0;
                work.checkpointed = Instant::now();
                self.stats.oversized_checkpoints += 1;
                if !self.warned_oversized {
                    self.warned_oversized = true;
                    eprintln!(
                        "webaction: warning: partition {partition}'s tracker state is {bytes} \
                         bytes, over the {limit} a checkpoint can hold (the server's \
                         max_payload): the previous checkpoint stays, and a new owner replays \
                         the stream from it. Lower --max-actions, use more partitions, or \
                         raise max_payload."
                    );
                }
            }
            Err(
                error @ (CheckpointError::Fenced { .. } | CheckpointError::LeaseExpired { .. }),
            ) => {
                tracing::warn!(partition, %error, "checkpoint refused; stopping the partition");
                self.stop_work(partition, "lost");
            }
            Err(error) => tracing::warn!(partition, %error, "checkpoint failed; retrying later"),
        }
    }

    /// Checkpoints and releases every partition, and leaves the group.
    async fn leave(&mut self) -> Result<(), ConsumeError> {
        let held: Vec<u32> = self.held.keys().copied().collect();
        for partition in held {
            self.checkpoint(partition).await;
            self.stop_work(partition, "released");
            if let Some(lease) = self.held.remove(&partition) {
                self.leases.release(lease).await?;
            }
        }
        self.leases.leave().await?;
        Ok(())
    }
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

impl Work {
    /// The messages up to the first gap in the consumer's delivery sequence. A gap means
    /// messages were delivered to a pull request this member no longer reads (a fetch
    /// ended on the client's side while the server still sent): with acks that cover
    /// every message before the acked one, judging past the gap would ack them unseen.
    /// So the consumer is opened again after the last judged message, which sends them
    /// again, in order.
    fn contiguous(&mut self, partition: u32, mut messages: Vec<Message>) -> Vec<Message> {
        for (i, message) in messages.iter().enumerate() {
            let Ok(info) = message.info() else { continue };
            if info.consumer_sequence != self.delivered + 1 {
                tracing::warn!(
                    partition,
                    expected = self.delivered + 1,
                    found = info.consumer_sequence,
                    "a gap in the consumer's deliveries; reopening it after the last judged message"
                );
                self.consumer = None;
                messages.truncate(i);
                return messages;
            }
            self.delivered = info.consumer_sequence;
        }
        messages
    }

    /// When a partition has nothing to fetch but its consumer has deliveries awaiting an
    /// ack that this member never saw (sent to a pull request it no longer reads), they
    /// would come again only after the ack wait: reopen the consumer after the last judged
    /// message instead. Asked at most once a second per idle partition.
    async fn unstick(&mut self, partition: u32) {
        if self.stuck_checked.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.stuck_checked = Instant::now();
        let Some(consumer) = &mut self.consumer else {
            return;
        };
        // Every message fetched so far was judged and its batch acked (acks cover the
        // messages before): anything still pending was never seen here.
        if let Ok(info) = consumer.info().await {
            if info.num_ack_pending > 0 && info.delivered.consumer_sequence > self.delivered {
                tracing::warn!(
                    partition,
                    pending = info.num_ack_pending,
                    "deliveries this member never saw; reopening the consumer after the last judged message"
                );
                self.consumer = None;
            }
        }
    }
}

fn sequence(message: &Message) -> Option<u64> {
    message.info().ok().map(|info| info.stream_sequence)
}

/// Where a partition's accepted events go: the sink, with the batch's receipt.
struct Deliveries {
    sink: Arc<dyn Sink>,
    receipt: Option<Receipt>,
    /// The first event the sink did not take: the batch is not acked.
    refused: Option<SinkError>,
}

impl Deliveries {
    fn new(sink: &Arc<dyn Sink>) -> Self {
        Deliveries {
            sink: Arc::clone(sink),
            receipt: None,
            refused: None,
        }
    }
}

impl Emit for Deliveries {
    fn emit(&mut self, event: &AnyEvent) {
        if self.refused.is_some() {
            return;
        }
        let Some(receipt) = &self.receipt else {
            return;
        };
        if let Err(error) = self.sink.send_confirmed(event, receipt) {
            self.refused = Some(error);
        }
    }
}

/// The dead letter of rejected lines: records built in memory, appended in one write per
/// batch (so they never interleave with what a sink's own dead letter appends to the same
/// file) and synced before the batch is acked.
struct RejectedFile {
    path: PathBuf,
    letter: RejectedLines<Vec<u8>>,
}

impl RejectedFile {
    fn new(path: &Path) -> Self {
        RejectedFile {
            path: path.to_owned(),
            letter: RejectedLines::new(Vec::new()),
        }
    }

    fn error(&self, source: io::Error) -> ConsumeError {
        ConsumeError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn commit(&mut self) -> Result<(), ConsumeError> {
        let records = std::mem::take(self.letter.get_mut());
        if records.is_empty() {
            return Ok(());
        }
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .and_then(|mut file| {
                file.write_all(&records)?;
                file.sync_data()
            });
        written.map_err(|source| self.error(source))
    }
}

/// One JSON line per lease event of this member: `{"member", "partition", "event":
/// "start"|"renew", "epoch", "at_ms", "valid_until_ms"}` when it takes or renews a lease,
/// `{"member", "partition", "event": "released"|"lost"|"expired", "at_ms",
/// "worked_until_ms"}` when it stops working the partition (`worked_until_ms`: when it
/// last handed one of its events to the sink). Times in milliseconds since the Unix epoch,
/// so that the logs of several members on one machine can be checked against each other.
struct LeaseLog {
    file: Option<(PathBuf, File)>,
    member: String,
}

impl LeaseLog {
    fn open(path: Option<&Path>, member: &str) -> Result<Self, ConsumeError> {
        let file = match path {
            Some(path) => Some((
                path.to_owned(),
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| ConsumeError::Io {
                        path: path.to_owned(),
                        source,
                    })?,
            )),
            None => None,
        };
        Ok(LeaseLog {
            file,
            member: member.to_owned(),
        })
    }

    fn write(
        &mut self,
        partition: u32,
        event: &str,
        lease: Option<&Lease>,
    ) -> Result<(), ConsumeError> {
        let now = SystemTime::now();
        let mut line = self.line(partition, event, now);
        if let Some(lease) = lease {
            let left = lease
                .valid_until()
                .saturating_duration_since(Instant::now());
            line["epoch"] = lease.epoch().into();
            line["valid_until_ms"] = millis(now + left).into();
        }
        self.append(&line)
    }

    fn stopped(
        &mut self,
        partition: u32,
        why: &str,
        worked_until: SystemTime,
    ) -> Result<(), ConsumeError> {
        let mut line = self.line(partition, why, SystemTime::now());
        line["worked_until_ms"] = millis(worked_until).into();
        self.append(&line)
    }

    fn line(&self, partition: u32, event: &str, now: SystemTime) -> serde_json::Value {
        serde_json::json!({
            "member": self.member,
            "partition": partition,
            "event": event,
            "at_ms": millis(now),
        })
    }

    fn append(&mut self, line: &serde_json::Value) -> Result<(), ConsumeError> {
        let Some((path, file)) = &mut self.file else {
            return Ok(());
        };
        // One write per line, unbuffered: a member killed at any point leaves whole lines.
        file.write_all(format!("{line}\n").as_bytes())
            .map_err(|source| ConsumeError::Io {
                path: path.clone(),
                source,
            })
    }
}
