//! Partition leases: create to take, revision-checked update to keep, revision-checked
//! delete to give up, the bucket's `max_age` to expire (see the module docs for why this
//! is exclusive and what it assumes of clocks).

use std::pin::Pin;
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{CreateErrorKind, Entry, Operation, Store, UpdateErrorKind};
use async_nats::jetstream::stream::{Config as StreamConfig, DiscardPolicy, StorageType};
use async_nats::jetstream::Context;
use bytes::Bytes;

use super::{check_name, partition_key};

/// What a group's leases are: how many partitions, how long a lease lives unrenewed.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseConfig {
    /// The group whose members split the partitions (letters, digits, `-`, `_`).
    pub group: String,
    /// How many partitions the stream has: leases are for `0..partitions`.
    pub partitions: u32,
    /// A lease's time to live: the bucket's `max_age`, set when the bucket is created.
    /// An existing bucket keeps its own, and [`Leases::ttl`] reports the one in force.
    pub ttl: Duration,
    /// How much earlier than the server a holder gives up its lease
    /// ([`Lease::valid_until`]): the tolerated clock-rate difference per TTL, plus the
    /// time a holder needs to stop working a partition. Must be less than the TTL.
    pub margin: Duration,
}

impl LeaseConfig {
    /// Leases of ten seconds, given up two seconds early; renew every few seconds.
    pub fn new(group: impl Into<String>, partitions: u32) -> Self {
        LeaseConfig {
            group: group.into(),
            partitions,
            ttl: Duration::from_secs(10),
            margin: Duration::from_secs(2),
        }
    }

    /// The bucket holding the group's leases and member heartbeats.
    pub fn bucket(&self) -> String {
        format!("WEBACTION_LEASES_{}", self.group)
    }
}

/// What failed while taking, listing or giving up leases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// A group name or member id with a character a bucket or key cannot hold.
    #[error("{what} `{name}`: use letters, digits, `-` and `_` only")]
    InvalidName {
        /// `group` or `member`.
        what: &'static str,
        /// The name given.
        name: String,
    },
    /// A configuration that cannot work.
    #[error("lease config for group `{group}`: {problem}")]
    InvalidConfig {
        /// The group.
        group: String,
        /// What is wrong, naming the field.
        problem: String,
    },
    /// A partition number outside `0..partitions`.
    #[error("partition {partition} of a group of {partitions} partitions")]
    NoSuchPartition {
        /// The partition asked for.
        partition: u32,
        /// How many the group has.
        partitions: u32,
    },
    /// A stream recorded with one number of partitions, used with another.
    #[error("stream {stream} has {recorded} partitions (recorded in bucket WEBACTION_PARTITIONS), not {asked} as asked; use --partitions {recorded}, or a new stream")]
    PartitionsMismatch {
        /// The stream.
        stream: String,
        /// The number recorded when it was first published to.
        recorded: u32,
        /// The number this process was given.
        asked: u32,
    },
    /// The server refused or did not answer.
    #[error("{operation} in bucket {bucket}: {source}")]
    Nats {
        /// The key-value bucket.
        bucket: String,
        /// What was being done, e.g. `acquire partition.3`.
        operation: String,
        /// async-nats's error.
        #[source]
        source: async_nats::Error,
    },
}

/// Why a renewal gave no new lease.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewError {
    /// The key moved past the lease's revision (another owner took it after it expired,
    /// or it expired): stop working the partition. There is no lease left to renew.
    #[error("lease on partition {partition} lost: its key moved past revision {revision}")]
    Lost {
        /// The partition.
        partition: u32,
        /// The revision the lease held.
        revision: u64,
    },
    /// The server did not answer. The renewal may or may not have been stored; the lease
    /// is handed back so the caller can retry before [`Lease::valid_until`] (a retry of
    /// a renewal that was stored fails as [`RenewError::Lost`], which is safe).
    #[error("renewing the lease on partition {}: {source}", lease.partition)]
    Unavailable {
        /// The lease, unchanged.
        lease: Lease,
        /// async-nats's error.
        #[source]
        source: async_nats::Error,
    },
}

/// One partition owned by one member, until [`Lease::valid_until`] or until a renewal
/// fails. Not `Clone`: [`Leases::renew`] and [`Leases::release`] consume it, so a caller
/// cannot go on with a revision the server no longer holds.
#[derive(Debug, PartialEq, Eq)]
pub struct Lease {
    partition: u32,
    revision: u64,
    epoch: u64,
    valid_until: Instant,
}

impl Lease {
    /// The partition owned.
    pub fn partition(&self) -> u32 {
        self.partition
    }

    /// The revision of the last write of this lease: the fencing token its next renewal
    /// or release must match.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The revision of the create that took the lease: the same through renewals, and
    /// larger for every later lease of the partition. Checkpoints are fenced by it.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Until when the holder may work the partition: when the last write was sent, plus
    /// TTL minus margin. Renew before it; after it, stop.
    pub fn valid_until(&self) -> Instant {
        self.valid_until
    }

    /// Whether [`Lease::valid_until`] is still ahead.
    pub fn is_valid(&self) -> bool {
        Instant::now() < self.valid_until
    }
}

/// Each member's aim when `members` live members split `partitions`: ceil(P / members),
/// so every partition can be owned; with no members known, all of them.
pub fn fair_share(partitions: u32, members: usize) -> u32 {
    match u32::try_from(members) {
        Ok(0) => partitions,
        Ok(members) => partitions.div_ceil(members),
        Err(_) => 1.min(partitions),
    }
}

/// One member's handle on its group's leases.
#[derive(Debug)]
pub struct Leases {
    store: Store,
    bucket: String,
    partitions: u32,
    member: String,
    ttl: Duration,
    margin: Duration,
}

impl Leases {
    /// Opens (creating if missing) the group's lease bucket as member `member`. The
    /// bucket is file-backed and keeps one revision per key.
    pub async fn open(
        context: &Context,
        config: &LeaseConfig,
        member: impl Into<String>,
    ) -> Result<Leases, ClusterError> {
        let member = member.into();
        check_name("group", &config.group)?;
        check_name("member", &member)?;
        let invalid = |problem: &str| ClusterError::InvalidConfig {
            group: config.group.clone(),
            problem: problem.to_owned(),
        };
        if config.partitions == 0 {
            return Err(invalid("partitions must be at least 1"));
        }
        if config.margin >= config.ttl {
            return Err(invalid("margin must be less than ttl"));
        }
        let bucket = config.bucket();
        let store = open_bucket(context, &bucket, config.ttl).await?;
        // The bucket's own max_age is what the server expires by, whatever this member
        // was configured with: deadlines are computed from it.
        let ttl = store
            .status()
            .await
            .map_err(|source| nats_error(&bucket, "status".into(), source.into()))?
            .max_age();
        if config.margin >= ttl {
            return Err(invalid(&format!(
                "margin {:?} must be less than the bucket's max_age {ttl:?}",
                config.margin
            )));
        }
        Ok(Leases {
            store,
            bucket,
            partitions: config.partitions,
            member,
            ttl,
            margin: config.margin,
        })
    }

    /// This member's id.
    pub fn member(&self) -> &str {
        &self.member
    }

    /// How many partitions the group has.
    pub fn partitions(&self) -> u32 {
        self.partitions
    }

    /// The time to live in force: the bucket's `max_age`.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn valid_until(&self, sent: Instant) -> Instant {
        sent + (self.ttl - self.margin)
    }

    fn check_partition(&self, partition: u32) -> Result<(), ClusterError> {
        if partition < self.partitions {
            Ok(())
        } else {
            Err(ClusterError::NoSuchPartition {
                partition,
                partitions: self.partitions,
            })
        }
    }

    /// Takes `partition` if nobody holds it: `Ok(None)` when another lease is live.
    pub async fn acquire(&self, partition: u32) -> Result<Option<Lease>, ClusterError> {
        self.check_partition(partition)?;
        let key = partition_key(partition);
        let sent = Instant::now();
        // `create` expects the key to have no live value (never written, expired, or
        // deleted: then it expects the delete marker's revision). Racing creators expect
        // the same thing; the server stores the first write and refuses the others.
        match self
            .store
            .create(&key, Bytes::from(self.member.clone()))
            .await
        {
            Ok(revision) => Ok(Some(Lease {
                partition,
                revision,
                epoch: revision,
                valid_until: self.valid_until(sent),
            })),
            Err(error) if error.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(error) => Err(nats_error(
                &self.bucket,
                format!("acquire {key}"),
                error.into(),
            )),
        }
    }

    /// Keeps `lease` for another TTL, if its revision is still the key's: the new lease
    /// carries the new revision; the old one is gone. Renew well before
    /// [`Lease::valid_until`] (every third of the TTL, say).
    pub async fn renew(&self, lease: Lease) -> Result<Lease, RenewError> {
        let key = partition_key(lease.partition);
        let sent = Instant::now();
        match self
            .store
            .update(&key, Bytes::from(self.member.clone()), lease.revision)
            .await
        {
            Ok(revision) => Ok(Lease {
                revision,
                valid_until: self.valid_until(sent),
                ..lease
            }),
            Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => {
                Err(RenewError::Lost {
                    partition: lease.partition,
                    revision: lease.revision,
                })
            }
            Err(error) => Err(RenewError::Unavailable {
                lease,
                source: error.into(),
            }),
        }
    }

    /// Gives `lease` up at once (a delete expecting its revision), so another member can
    /// take the partition without waiting for it to expire. Stop working the partition
    /// first. A lease already lost is not an error: there is nothing left to give up.
    pub async fn release(&self, lease: Lease) -> Result<(), ClusterError> {
        let key = partition_key(lease.partition);
        if let Err(error) = self
            .store
            .delete_expect_revision(&key, Some(lease.revision))
            .await
        {
            // async-nats does not tell a wrong revision apart here: look at the key.
            let current = self.current_revision(lease.partition).await?;
            if current == Some(lease.revision) {
                return Err(nats_error(
                    &self.bucket,
                    format!("release {key}"),
                    error.into(),
                ));
            }
        }
        Ok(())
    }

    /// The revision of `partition`'s live lease, if any.
    async fn current_revision(&self, partition: u32) -> Result<Option<u64>, ClusterError> {
        let entry = read_entry(&self.store, &self.bucket, &partition_key(partition)).await?;
        Ok(entry
            .filter(|entry| entry.operation == Operation::Put)
            .map(|entry| entry.revision))
    }

    /// The member holding `partition`'s live lease, if any (for logs and tests: by the
    /// time it returns it may have changed).
    pub async fn holder(&self, partition: u32) -> Result<Option<String>, ClusterError> {
        self.check_partition(partition)?;
        let entry = read_entry(&self.store, &self.bucket, &partition_key(partition)).await?;
        Ok(entry
            .filter(|entry| entry.operation == Operation::Put)
            .map(|entry| String::from_utf8_lossy(&entry.value).into_owned()))
    }

    /// Says this member is alive for another TTL (`member.<id>`, same time to live as a
    /// lease). Call it as often as renewals.
    pub async fn heartbeat(&self) -> Result<(), ClusterError> {
        let key = format!("member.{}", self.member);
        self.store.put(&key, Bytes::new()).await.map_err(|source| {
            nats_error(&self.bucket, format!("heartbeat {key}"), source.into())
        })?;
        Ok(())
    }

    /// Removes this member's heartbeat, on shutdown, so the others rebalance at once.
    pub async fn leave(&self) -> Result<(), ClusterError> {
        let key = format!("member.{}", self.member);
        self.store
            .delete(&key)
            .await
            .map_err(|source| nats_error(&self.bucket, format!("leave {key}"), source.into()))
    }

    /// The members whose heartbeat is live, sorted.
    pub async fn members(&self) -> Result<Vec<String>, ClusterError> {
        let error =
            |source: async_nats::Error| nats_error(&self.bucket, "list keys".into(), source);
        let mut keys = self.store.keys().await.map_err(|e| error(e.into()))?;
        let mut members = Vec::new();
        while let Some(key) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut keys), cx))
                .await
        {
            let key = key.map_err(|e| error(e.into()))?;
            if let Some(member) = key.strip_prefix("member.") {
                members.push(member.to_owned());
            }
        }
        members.sort();
        Ok(members)
    }

    /// One balancing step for this member, which holds `owned`: heartbeat, then release
    /// the highest partitions above [`fair_share`], or take free partitions (lowest first)
    /// up to it. `owned` always holds the leases the member may work, also when a step
    /// fails (a lease whose release failed is left out: it expires unworked). Leases past
    /// [`Lease::valid_until`] are dropped: the caller must have stopped working them.
    pub async fn balance(&self, owned: &mut Vec<Lease>) -> Result<(), ClusterError> {
        owned.retain(Lease::is_valid);
        self.heartbeat().await?;
        let members = self.members().await?;
        let share = fair_share(self.partitions, members.len()) as usize;
        owned.sort_by_key(Lease::partition);
        while owned.len() > share {
            let lease = owned.pop().expect("more than share >= 0 leases");
            self.release(lease).await?;
        }
        for partition in 0..self.partitions {
            if owned.len() >= share {
                break;
            }
            if owned.iter().any(|lease| lease.partition == partition) {
                continue;
            }
            if let Some(lease) = self.acquire(partition).await? {
                owned.push(lease);
            }
        }
        Ok(())
    }
}

/// Gets the key-value bucket `bucket`, or creates it (file-backed, one revision per key,
/// values expiring after `max_age`, zero: never); a member racing us to create it with
/// the same settings wins harmlessly.
///
/// Created as its stream, with the settings async-nats's `create_key_value` gives one
/// (`KV_<bucket>` on `$KV.<bucket>.>`, rollups allowed, deletes only through the KV
/// markers, direct gets, discard new), because `create_key_value` first asks for the
/// account's info, which async-nats 0.51 cannot parse from a nats-server before 2.10
/// (missing `reserved_memory`); CI's Debian server is 2.9.
pub(super) async fn open_bucket(
    context: &Context,
    bucket: &str,
    max_age: Duration,
) -> Result<Store, ClusterError> {
    if let Ok(store) = context.get_key_value(bucket).await {
        return Ok(store);
    }
    let stream = StreamConfig {
        name: format!("KV_{bucket}"),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age,
        // The server refuses a duplicate window longer than max_age; KV writes carry no
        // message ids, so the window does nothing here.
        duplicate_window: if max_age.is_zero() {
            Duration::from_secs(120)
        } else {
            max_age.min(Duration::from_secs(120))
        },
        storage: StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    };
    let created = context.create_stream(stream).await;
    match context.get_key_value(bucket).await {
        Ok(store) => Ok(store),
        Err(get) => Err(nats_error(
            bucket,
            "create bucket".into(),
            match created {
                Err(create) => create.into(),
                Ok(_) => get.into(),
            },
        )),
    }
}

/// The last write of `key` (a value, or a delete or purge marker), if any.
pub(super) async fn read_entry(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<Entry>, ClusterError> {
    store
        .entry(key)
        .await
        .map_err(|source| nats_error(bucket, format!("read {key}"), source.into()))
}

pub(super) fn nats_error(
    bucket: &str,
    operation: String,
    source: async_nats::Error,
) -> ClusterError {
    ClusterError::Nats {
        bucket: bucket.to_owned(),
        operation,
        source,
    }
}
