//! The foundation for splitting a stream's partitions between processes of one group:
//! partition ownership by lease, and per-partition checkpoints, both in JetStream
//! key-value buckets, and which partition an event belongs to ([`partition_of`]).
//! `webaction serve --partitions` publishes by it and `webaction consume` builds on it.
//!
//! - [`Leases`]: partition `p` of group `g` is owned by whoever holds the key
//!   `partition.<p>` of the bucket `WEBACTION_LEASES_<g>`. A [`Lease`] is taken with a
//!   create (fails if the key holds a value), kept with revision-checked updates
//!   ([`Leases::renew`]), and given up with a revision-checked delete
//!   ([`Leases::release`]). The bucket's `max_age` is the lease's time to live: a killed
//!   owner stops renewing and its lease frees itself.
//! - [`Checkpoints`]: a partition's state blob and the last stream sequence it covers, in
//!   the bucket `WEBACTION_CHECKPOINTS_<g>`, written only by a current lease holder and
//!   never over a checkpoint of a newer lease ([`CheckpointError::Fenced`]).
//! - Balancing: every member [heartbeats](Leases::heartbeat) a `member.<id>` key (same
//!   time to live), and [`Leases::balance`] takes free partitions up to, or releases
//!   down to, [`fair_share`] = ceil(partitions / live members).
//!
//! # What is guaranteed
//!
//! **At most one lease per partition at any time, by the server, not by timing.** Every
//! write to a partition's key carries `Nats-Expected-Last-Subject-Sequence`: the create
//! expects no live value, a renewal or release expects the exact revision (stream
//! sequence) its [`Lease`] holds. JetStream applies the writes to one stream one after
//! another and refuses a write whose expectation does not hold, so of any two writers
//! that saw the same revision exactly one succeeds, and a lease whose key was written by
//! anyone else since (another owner's create after expiry or a purge) can never be
//! renewed again: its revision is gone for good, stream sequences are never reused.
//! [`Leases::renew`] consumes the [`Lease`] and returns the new one, so a caller cannot
//! keep a revision that failed: after [`RenewError::Lost`] it has no lease to work with.
//!
//! **Checkpoints are fenced.** A lease's [epoch](Lease::epoch) is the revision of the
//! create that took it; epochs of later leases of the same partition are larger (stream
//! sequences grow). Every checkpoint records its writer's epoch, and
//! [`Checkpoints::store`] reads the current checkpoint, refuses if it has a larger
//! epoch, and writes with the revision it read as expected revision: the check and the
//! write are one atomic step on the server, so an owner that lost its lease cannot
//! overwrite what a newer owner stored, however late its write arrives.
//!
//! # What is assumed
//!
//! Knowing *when to stop working* needs time. The server expires a lease `max_age` after
//! it stored the lease's last write, on the server's clock; a holder counts its lease
//! valid until [`Lease::valid_until`] = the instant it *sent* that write + TTL − margin,
//! on its own monotonic clock. Since the server stores a write after it was sent, the
//! holder's deadline comes first provided its clock runs no slower than the server's by
//! more than `margin` per TTL ([`LeaseConfig::margin`]): a bound on clock *rate*, not
//! synchronised wall clocks. A process paused longer than its margin (a stopped VM, a
//! swap storm) can act on an expired lease; the revision checks above keep the stores
//! right even then (its renewal and its checkpoint are refused), but work it does
//! outside the stores — deliveries to a sink — may then overlap with the new owner's,
//! which is why deliveries carry idempotency keys.

mod checkpoint;
mod consume;
mod lease;
mod partitions;

pub use checkpoint::{Checkpoint, CheckpointError, Checkpoints};
pub use consume::{consume, ConsumeConfig, ConsumeError, ConsumeStats};
pub use lease::{fair_share, ClusterError, Lease, LeaseConfig, Leases, RenewError};
pub use partitions::{
    declare_partitions, partition_of, partition_subject, recorded_partitions, PARTITIONS_BUCKET,
};

/// Bucket names allow letters, digits, `-` and `_`; so do group names and member ids, so
/// each maps to one bucket or key with nothing to escape.
fn check_name(what: &'static str, name: &str) -> Result<(), ClusterError> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(ClusterError::InvalidName {
            what,
            name: name.to_owned(),
        })
    }
}

fn partition_key(partition: u32) -> String {
    format!("partition.{partition}")
}
