//! Per-partition checkpoints: a state blob and the last stream sequence it covers,
//! written by a lease holder and fenced by its lease's epoch.
//!
//! Stored as one key-value value, not in the object store: the fence needs the "is the
//! stored checkpoint newer than mine?" check and the write to be one atomic step, which a
//! KV write with an expected revision is. An object-store put writes chunks and then a
//! metadata message with no expected revision, so it cannot be fenced without a KV
//! pointer beside it. The price: a checkpoint is limited to the server's `max_payload`
//! (1 MiB by default, up to 64 MiB), and a larger one is refused with
//! [`CheckpointError::TooLarge`] rather than split.

use std::time::Duration;

use async_nats::jetstream::kv::{Operation, Store, UpdateErrorKind};
use async_nats::jetstream::Context;
use bytes::{BufMut, Bytes, BytesMut};

use super::lease::{nats_error, open_bucket, read_entry};
use super::{check_name, partition_key, ClusterError, Lease};

/// Epoch and sequence, 8 bytes each, big-endian, before the state.
const HEADER: usize = 16;
/// Room left in a message for the subject and headers of a KV write.
const ENVELOPE: usize = 1024;
/// How often [`Checkpoints::store`] rereads after another write slipped in between its
/// read and its write. Only a racing writer of the same partition causes a retry, and
/// each retry either succeeds or ends in [`CheckpointError::Fenced`].
const ATTEMPTS: usize = 8;

/// A partition's stored state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The partition.
    pub partition: u32,
    /// The epoch of the lease that wrote it ([`Lease::epoch`]).
    pub epoch: u64,
    /// The last stream sequence the state covers: resume after it.
    pub sequence: u64,
    /// The state, as its owner encoded it.
    pub state: Bytes,
    /// The key-value revision it was stored at.
    pub revision: u64,
}

/// Why a checkpoint could not be stored or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The stored checkpoint was written under a newer lease: the writer's lease is lost
    /// and it must stop working the partition.
    #[error("checkpoint of partition {partition} refused: it was stored under lease epoch {stored}, newer than this lease's {ours}")]
    Fenced {
        /// The partition.
        partition: u32,
        /// The writer's lease epoch.
        ours: u64,
        /// The epoch of the stored checkpoint.
        stored: u64,
    },
    /// The lease is past [`Lease::valid_until`]: its holder must not act on it any more.
    #[error("checkpoint of partition {partition} refused: the lease expired")]
    LeaseExpired {
        /// The partition.
        partition: u32,
    },
    /// The state is larger than one message can carry.
    #[error("checkpoint of partition {partition}: {bytes} bytes of state, over the limit of {limit} (the server's max_payload less headers)")]
    TooLarge {
        /// The partition.
        partition: u32,
        /// The state's size.
        bytes: usize,
        /// The largest state that fits.
        limit: usize,
    },
    /// A stored value too short to be a checkpoint (written by something else).
    #[error("checkpoint of partition {partition} at revision {revision}: {bytes} bytes, not a checkpoint (at least {HEADER})")]
    Corrupt {
        /// The partition.
        partition: u32,
        /// Its revision.
        revision: u64,
        /// Its size.
        bytes: usize,
    },
    /// Other writers kept slipping in between read and write.
    #[error("checkpoint of partition {partition}: {ATTEMPTS} attempts raced with other writes")]
    Contended {
        /// The partition.
        partition: u32,
    },
    /// The server refused or did not answer.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A group's checkpoints.
#[derive(Debug)]
pub struct Checkpoints {
    store: Store,
    bucket: String,
    limit: usize,
}

impl Checkpoints {
    /// Opens (creating if missing) the bucket `WEBACTION_CHECKPOINTS_<group>`: file-backed,
    /// one revision per key, no expiry.
    pub async fn open(context: &Context, group: &str) -> Result<Checkpoints, ClusterError> {
        check_name("group", group)?;
        let bucket = format!("WEBACTION_CHECKPOINTS_{group}");
        let store = open_bucket(context, &bucket, Duration::ZERO).await?;
        let limit = context
            .client()
            .server_info()
            .max_payload
            .saturating_sub(HEADER + ENVELOPE);
        Ok(Checkpoints {
            store,
            bucket,
            limit,
        })
    }

    /// The largest state [`Checkpoints::store`] takes.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The partition's checkpoint, if one was stored.
    pub async fn load(&self, partition: u32) -> Result<Option<Checkpoint>, CheckpointError> {
        let entry = read_entry(&self.store, &self.bucket, &partition_key(partition)).await?;
        match entry {
            Some(entry) if entry.operation == Operation::Put => {
                decode(partition, entry.revision, entry.value).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Stores `state`, covering the stream up to `sequence`, for `lease`'s partition;
    /// returns the new checkpoint's revision. Refused if the lease expired, or if the
    /// stored checkpoint is of a newer lease ([`CheckpointError::Fenced`]).
    pub async fn store(
        &self,
        lease: &Lease,
        sequence: u64,
        state: &[u8],
    ) -> Result<u64, CheckpointError> {
        let partition = lease.partition();
        if state.len() > self.limit {
            return Err(CheckpointError::TooLarge {
                partition,
                bytes: state.len(),
                limit: self.limit,
            });
        }
        let mut value = BytesMut::with_capacity(HEADER + state.len());
        value.put_u64(lease.epoch());
        value.put_u64(sequence);
        value.put_slice(state);
        let value = value.freeze();
        let key = partition_key(partition);
        for _ in 0..ATTEMPTS {
            if !lease.is_valid() {
                return Err(CheckpointError::LeaseExpired { partition });
            }
            let entry = read_entry(&self.store, &self.bucket, &key).await?;
            // Expect exactly the revision just read (0: none yet), so the epoch compared
            // here is the epoch of what the write replaces.
            let expected = match entry {
                Some(entry) if entry.operation == Operation::Put => {
                    let stored = decode(partition, entry.revision, entry.value)?;
                    if stored.epoch > lease.epoch() {
                        return Err(CheckpointError::Fenced {
                            partition,
                            ours: lease.epoch(),
                            stored: stored.epoch,
                        });
                    }
                    entry.revision
                }
                Some(entry) => entry.revision,
                None => 0,
            };
            match self.store.update(&key, value.clone(), expected).await {
                Ok(revision) => return Ok(revision),
                Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => continue,
                Err(error) => {
                    return Err(
                        nats_error(&self.bucket, format!("store {key}"), error.into()).into(),
                    )
                }
            }
        }
        Err(CheckpointError::Contended { partition })
    }
}

fn decode(partition: u32, revision: u64, value: Bytes) -> Result<Checkpoint, CheckpointError> {
    if value.len() < HEADER {
        return Err(CheckpointError::Corrupt {
            partition,
            revision,
            bytes: value.len(),
        });
    }
    let number = |at: usize| u64::from_be_bytes(value[at..at + 8].try_into().expect("8 bytes"));
    Ok(Checkpoint {
        partition,
        epoch: number(0),
        sequence: number(8),
        state: value.slice(HEADER..),
        revision,
    })
}
