//! Which partition an event belongs to, and how many partitions a stream has.
//!
//! The number of partitions is part of the stream: a collector that published with 8 and
//! a consumer that splits 4 would judge actions in the wrong tracker. So the first
//! publisher records it, with a create that fails if a number is already recorded, in
//! the key-value bucket [`PARTITIONS_BUCKET`] under the stream's name; every later
//! publisher and every consumer reads it and refuses to run on a mismatch
//! ([`ClusterError::PartitionsMismatch`], naming both numbers).

use std::time::Duration;

use async_nats::jetstream::kv::{CreateErrorKind, Operation};
use async_nats::jetstream::Context;
use bytes::Bytes;
use events_core::Uuid;

use super::lease::{nats_error, open_bucket, read_entry};
use super::ClusterError;

/// The key-value bucket holding each partitioned stream's number of partitions, keyed by
/// the stream's name, the value in decimal.
pub const PARTITIONS_BUCKET: &str = "WEBACTION_PARTITIONS";

/// The partition of an action: its id as a 128-bit number, modulo `partitions`.
///
/// Stable across processes, versions and platforms (no hasher seed, no `Hash` impl), and
/// as even as the ids are random: the version and variant bits of a UUID v4 sit in the
/// high half, so the low bits that decide a small modulus are all random. Every event
/// of one action lands in one partition, so one tracker sees all of them, in order.
///
/// ```
/// use events_sinks::cluster::partition_of;
/// let id = events_core::Uuid::parse_str("6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d").unwrap();
/// assert_eq!(partition_of(id, 8), (id.as_u128() % 8) as u32);
/// assert_eq!(partition_of(id, 1), 0);
/// ```
///
/// # Panics
///
/// If `partitions` is 0.
pub fn partition_of(action_id: Uuid, partitions: u32) -> u32 {
    assert!(partitions > 0, "a stream has at least one partition");
    (action_id.as_u128() % u128::from(partitions)) as u32
}

/// The subject of `partition` of the stream whose subjects start with `prefix`:
/// `<prefix>.<partition>`.
pub fn partition_subject(prefix: &str, partition: u32) -> String {
    format!("{prefix}.{partition}")
}

/// Records that `stream` has `partitions` partitions, unless a number is recorded
/// already: then it must be the same ([`ClusterError::PartitionsMismatch`] otherwise).
pub async fn declare_partitions(
    context: &Context,
    stream: &str,
    partitions: u32,
) -> Result<(), ClusterError> {
    if partitions == 0 {
        return Err(ClusterError::InvalidConfig {
            group: stream.to_owned(),
            problem: "partitions must be at least 1".into(),
        });
    }
    let store = open_bucket(context, PARTITIONS_BUCKET, Duration::ZERO).await?;
    match store
        .create(stream, Bytes::from(partitions.to_string()))
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == CreateErrorKind::AlreadyExists => {
            match recorded_partitions(context, stream).await? {
                Some(recorded) if recorded != partitions => Err(ClusterError::PartitionsMismatch {
                    stream: stream.to_owned(),
                    recorded,
                    asked: partitions,
                }),
                _ => Ok(()),
            }
        }
        Err(error) => Err(nats_error(
            PARTITIONS_BUCKET,
            format!("declare {stream}"),
            error.into(),
        )),
    }
}

/// The number of partitions recorded for `stream`, if any.
pub async fn recorded_partitions(
    context: &Context,
    stream: &str,
) -> Result<Option<u32>, ClusterError> {
    let store = open_bucket(context, PARTITIONS_BUCKET, Duration::ZERO).await?;
    let entry = read_entry(&store, PARTITIONS_BUCKET, stream).await?;
    match entry {
        Some(entry) if entry.operation == Operation::Put => {
            let text = String::from_utf8_lossy(&entry.value);
            match text.parse::<u32>() {
                Ok(partitions) if partitions > 0 => Ok(Some(partitions)),
                _ => Err(ClusterError::InvalidConfig {
                    group: stream.to_owned(),
                    problem: format!(
                        "`{text}` recorded as its number of partitions in bucket \
                         {PARTITIONS_BUCKET} is not a number of at least 1"
                    ),
                }),
            }
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_gets_a_share_of_random_ids() {
        let mut counts = [0u32; 8];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        for _ in 0..8000 {
            // xorshift: deterministic "random" ids with the v4 bits set, as simulate's.
            let mut word = || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let bytes = (u128::from(word()) << 64 | u128::from(word())).to_be_bytes();
            let id = uuid_v4(bytes);
            counts[partition_of(id, 8) as usize] += 1;
        }
        assert!(counts.iter().all(|&n| n > 800), "{counts:?}");
    }

    fn uuid_v4(mut bytes: [u8; 16]) -> Uuid {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid::from_bytes(bytes)
    }

    #[test]
    fn the_partition_is_the_id_modulo_the_count() {
        let id = Uuid::from_u128(8 * 1000 + 5);
        assert_eq!(partition_of(id, 8), 5);
        assert_eq!(partition_of(id, 1), 0);
        assert_eq!(partition_subject("webactions", 5), "webactions.5");
    }
}
