//! Partition leases and checkpoints (`events_sinks::cluster`) against a real nats-server
//! with JetStream (`NATS_URL`, or one started from `NATS_SERVER_BIN`): racing acquires,
//! lost renewals, expiry of a silent owner, release, fenced checkpoints, and a model check
//! of random interleavings. Every wait is bounded; no timing is asserted.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, Context};
use common::NatsServer;
use events_sinks::cluster::{
    fair_share, CheckpointError, Checkpoints, Lease, LeaseConfig, Leases, RenewError,
};
use proptest::prelude::*;

/// A server to talk to: `.ci/run`'s (`NATS_URL`) or our own. `None` (and a loud line)
/// when neither is set, except under `CI=true`, where a missing server fails the test.
fn server(test: &str, store: &std::path::Path) -> Option<(Option<NatsServer>, String)> {
    if let Ok(url) = std::env::var("NATS_URL") {
        return Some((None, url));
    }
    if std::env::var_os("NATS_SERVER_BIN").is_none() && std::env::var("CI").as_deref() == Ok("true")
    {
        panic!("{test}: CI=true but neither NATS_URL nor NATS_SERVER_BIN is set");
    }
    let bin = NatsServer::binary(test)?;
    let server = NatsServer::start(bin, store);
    let url = server.url();
    Some((Some(server), url))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A group name no other test (or earlier run against the same server) used.
fn group(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{test}-{}-{nanos}", std::process::id())
}

async fn connect(url: &str) -> Context {
    jetstream::new(async_nats::connect(url).await.unwrap())
}

/// Runs `body` with a JetStream context, failing the test if it takes over 60 s.
fn with_server<F>(test: &str, body: impl FnOnce(String) -> F)
where
    F: std::future::Future<Output = ()>,
{
    let store = tempfile::tempdir().unwrap();
    let Some((_server, url)) = server(test, store.path()) else {
        return;
    };
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(60), body(url))
            .await
            .unwrap_or_else(|_| panic!("{test} did not finish within 60 s"))
    });
}

/// Polls `attempt` every 50 ms until it gives `Some`, failing after `limit`.
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let until = Instant::now() + limit;
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(Instant::now() < until, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Member `name` of the group, on a connection of its own, so its writes race the others'
/// on the server.
async fn member(url: &str, config: &LeaseConfig, name: &str) -> Leases {
    Leases::open(&connect(url).await, config, name)
        .await
        .unwrap()
}

fn short_leases(group: &str, partitions: u32) -> LeaseConfig {
    LeaseConfig {
        ttl: Duration::from_secs(2),
        margin: Duration::from_millis(500),
        ..LeaseConfig::new(group, partitions)
    }
}

/// The lease key's bucket, opened directly: what an operator (or expiry) does to it.
async fn lease_bucket(context: &Context, config: &LeaseConfig) -> jetstream::kv::Store {
    context.get_key_value(config.bucket()).await.unwrap()
}

#[test]
fn racing_acquires_of_one_partition_have_exactly_one_winner() {
    with_server("racing_acquires", |url| async move {
        let config = LeaseConfig::new(group("race"), 4);
        let mut members = Vec::new();
        for i in 0..8 {
            // One connection each, so the creates really race on the server.
            members.push(
                Leases::open(&connect(&url).await, &config, format!("m{i}"))
                    .await
                    .unwrap(),
            );
        }
        for partition in 0..4 {
            let outcomes = futures_join(members.iter().map(|m| m.acquire(partition))).await;
            let winners: Vec<usize> = outcomes
                .iter()
                .enumerate()
                .filter(|(_, outcome)| outcome.as_ref().unwrap().is_some())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(winners.len(), 1, "partition {partition}: {outcomes:?}");
            assert_eq!(
                members[0].holder(partition).await.unwrap(),
                Some(format!("m{}", winners[0]))
            );
        }
    });
}

/// All of `futures` at once, on this task (no extra crate for `join_all`).
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    // Futures borrow the members, so they cannot be spawned: poll them together instead.
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

#[test]
fn a_renewal_after_another_member_took_over_is_lost() {
    with_server("renewal_after_takeover", |url| async move {
        let config = LeaseConfig::new(group("takeover"), 2);
        let context = connect(&url).await;
        let a = Leases::open(&context, &config, "a").await.unwrap();
        let b = member(&url, &config, "b").await;
        let lease = a.acquire(1).await.unwrap().unwrap();
        let lease = a.renew(lease).await.unwrap();
        assert!(
            b.acquire(1).await.unwrap().is_none(),
            "taken while a holds it"
        );
        // Expiry as `a` cannot see it coming: its key purged under it (the server's
        // max_age does the same, later).
        lease_bucket(&context, &config)
            .await
            .purge("partition.1")
            .await
            .unwrap();
        let taken = b.acquire(1).await.unwrap().expect("free after the purge");
        assert!(taken.epoch() > lease.epoch());
        match a.renew(lease).await {
            Err(RenewError::Lost { partition: 1, .. }) => {}
            other => panic!("a's renewal after b took over: {other:?}"),
        }
        assert_eq!(b.holder(1).await.unwrap().as_deref(), Some("b"));
        // b's lease is unaffected by a's attempt.
        b.renew(taken).await.unwrap();
    });
}

#[test]
fn a_silent_owners_lease_expires_and_is_taken_over() {
    with_server("silent_owner_expires", |url| async move {
        let config = short_leases(&group("expiry"), 1);
        let a = member(&url, &config, "a").await;
        let b = member(&url, &config, "b").await;
        assert_eq!(a.ttl(), Duration::from_secs(2));
        let stale = a.acquire(0).await.unwrap().unwrap();
        // `a` stops renewing (killed): `b` gets the partition once max_age has passed.
        let taken = eventually(Duration::from_secs(20), "the lease to expire", || async {
            b.acquire(0).await.unwrap()
        })
        .await;
        // By then `a`'s own deadline, earlier than the server's, has passed too.
        assert!(!stale.is_valid());
        assert_eq!(b.holder(0).await.unwrap().as_deref(), Some("b"));
        assert!(matches!(
            a.renew(stale).await,
            Err(RenewError::Lost { partition: 0, .. })
        ));
        b.release(taken).await.unwrap();
    });
}

#[test]
fn an_expired_lease_nobody_took_cannot_be_renewed() {
    with_server("expired_not_renewed", |url| async move {
        let config = short_leases(&group("expired"), 1);
        let a = member(&url, &config, "a").await;
        let lease = a.acquire(0).await.unwrap().unwrap();
        eventually(Duration::from_secs(20), "the lease to expire", || async {
            a.holder(0).await.unwrap().is_none().then_some(())
        })
        .await;
        assert!(matches!(a.renew(lease).await, Err(RenewError::Lost { .. })));
    });
}

#[test]
fn a_released_lease_is_free_at_once() {
    with_server("release_frees", |url| async move {
        // A TTL far beyond the test's bound: only the release can free it in time.
        let config = LeaseConfig {
            ttl: Duration::from_secs(3600),
            ..LeaseConfig::new(group("release"), 3)
        };
        let a = member(&url, &config, "a").await;
        let b = member(&url, &config, "b").await;
        let lease = a.acquire(2).await.unwrap().unwrap();
        let lease = a.renew(lease).await.unwrap();
        assert!(b.acquire(2).await.unwrap().is_none());
        a.release(lease).await.unwrap();
        assert_eq!(a.holder(2).await.unwrap(), None);
        let taken = b
            .acquire(2)
            .await
            .unwrap()
            .expect("free right after the release");
        assert_eq!(b.holder(2).await.unwrap().as_deref(), Some("b"));
        b.release(taken).await.unwrap();
    });
}

#[test]
fn a_stale_owners_checkpoint_is_refused_and_the_newer_one_kept() {
    with_server("stale_checkpoint", |url| async move {
        let name = group("checkpoint");
        let config = LeaseConfig::new(&name, 2);
        let context = connect(&url).await;
        let a = Leases::open(&context, &config, "a").await.unwrap();
        let b = member(&url, &config, "b").await;
        let checkpoints_a = Checkpoints::open(&context, &name).await.unwrap();
        let checkpoints_b = Checkpoints::open(&connect(&url).await, &name)
            .await
            .unwrap();
        assert_eq!(checkpoints_a.load(0).await.unwrap(), None);

        let stale = a.acquire(0).await.unwrap().unwrap();
        checkpoints_a
            .store(&stale, 10, b"state at 10")
            .await
            .unwrap();
        let loaded = checkpoints_b.load(0).await.unwrap().unwrap();
        assert_eq!(
            (loaded.epoch, loaded.sequence, &loaded.state[..]),
            (stale.epoch(), 10, &b"state at 10"[..])
        );

        // `a` is paused past its lease (its key purged, as expiry would) and `b` takes over,
        // resumes from a's checkpoint and stores its own.
        lease_bucket(&context, &config)
            .await
            .purge("partition.0")
            .await
            .unwrap();
        let lease = b.acquire(0).await.unwrap().unwrap();
        let resumed = checkpoints_b.load(0).await.unwrap().unwrap();
        assert_eq!(resumed.sequence, 10);
        checkpoints_b
            .store(&lease, 25, b"state at 25")
            .await
            .unwrap();

        // `a` wakes up still within its own deadline and writes: refused, nothing changed.
        assert!(stale.is_valid(), "the test needs a's deadline ahead");
        match checkpoints_a.store(&stale, 12, b"stale state").await {
            Err(CheckpointError::Fenced {
                partition: 0,
                ours,
                stored,
            }) => {
                assert_eq!((ours, stored), (stale.epoch(), lease.epoch()));
            }
            other => panic!("stale write: {other:?}"),
        }
        let kept = checkpoints_a.load(0).await.unwrap().unwrap();
        assert_eq!((kept.sequence, &kept.state[..]), (25, &b"state at 25"[..]));
        // The same owner writes over its own checkpoints.
        checkpoints_b
            .store(&lease, 40, b"state at 40")
            .await
            .unwrap();
        assert_eq!(checkpoints_a.load(0).await.unwrap().unwrap().sequence, 40);
        // Other partitions are independent.
        assert_eq!(checkpoints_a.load(1).await.unwrap(), None);
    });
}

#[test]
fn a_checkpoint_over_the_message_limit_is_refused_with_its_size() {
    with_server("checkpoint_too_large", |url| async move {
        let name = group("large");
        let context = connect(&url).await;
        let leases = Leases::open(&context, &LeaseConfig::new(&name, 1), "a")
            .await
            .unwrap();
        let checkpoints = Checkpoints::open(&context, &name).await.unwrap();
        let lease = leases.acquire(0).await.unwrap().unwrap();
        let fits = vec![7u8; checkpoints.limit()];
        checkpoints.store(&lease, 1, &fits).await.unwrap();
        assert_eq!(
            checkpoints.load(0).await.unwrap().unwrap().state.len(),
            fits.len()
        );
        let over = vec![7u8; checkpoints.limit() + 1];
        let error = checkpoints.store(&lease, 2, &over).await.unwrap_err();
        assert!(
            matches!(error, CheckpointError::TooLarge { partition: 0, bytes, .. } if bytes == over.len()),
            "{error:?}"
        );
        assert!(error.to_string().contains("max_payload"), "{error}");
    });
}

#[test]
fn members_balance_to_their_fair_share_and_a_leaver_frees_its_part() {
    assert_eq!(fair_share(8, 3), 3);
    assert_eq!(fair_share(8, 0), 8);
    assert_eq!(fair_share(4, 8), 1);
    with_server("balance", |url| async move {
        let config = LeaseConfig::new(group("balance"), 8);
        let a = member(&url, &config, "a").await;
        let b = member(&url, &config, "b").await;
        let c = member(&url, &config, "c").await;
        let (mut owned_a, mut owned_b, mut owned_c) = (Vec::new(), Vec::new(), Vec::new());
        // `a` alone takes everything.
        a.balance(&mut owned_a).await.unwrap();
        assert_eq!(owned_a.len(), 8);
        b.heartbeat().await.unwrap();
        c.heartbeat().await.unwrap();
        assert_eq!(a.members().await.unwrap(), ["a", "b", "c"]);
        // Three members: a gives back down to 3, b and c take what is free.
        a.balance(&mut owned_a).await.unwrap();
        b.balance(&mut owned_b).await.unwrap();
        c.balance(&mut owned_c).await.unwrap();
        assert_eq!((owned_a.len(), owned_b.len(), owned_c.len()), (3, 3, 2));
        let mut all: Vec<u32> = [&owned_a, &owned_b, &owned_c]
            .iter()
            .flat_map(|owned| owned.iter().map(Lease::partition))
            .collect();
        all.sort();
        assert_eq!(all, (0..8).collect::<Vec<_>>());
        // `c` leaves: it releases, and the others grow to ceil(8 / 2) = 4.
        for lease in owned_c.drain(..) {
            c.release(lease).await.unwrap();
        }
        c.leave().await.unwrap();
        a.balance(&mut owned_a).await.unwrap();
        b.balance(&mut owned_b).await.unwrap();
        assert_eq!((owned_a.len(), owned_b.len()), (4, 4));
    });
}

/// One step of a member against the group's leases.
#[derive(Debug, Clone)]
enum Step {
    Acquire {
        member: usize,
        partition: u32,
    },
    Renew {
        member: usize,
        lease: usize,
    },
    Release {
        member: usize,
        lease: usize,
    },
    /// The partition's key expires under whoever holds it (a purge: expiry without the wait).
    Expire {
        partition: u32,
    },
}

const MEMBERS: usize = 3;
const PARTITIONS: u32 = 3;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..MEMBERS, 0..PARTITIONS)
            .prop_map(|(member, partition)| Step::Acquire { member, partition }),
        (0..MEMBERS, 0..4usize).prop_map(|(member, lease)| Step::Renew { member, lease }),
        (0..MEMBERS, 0..4usize).prop_map(|(member, lease)| Step::Release { member, lease }),
        (0..PARTITIONS).prop_map(|partition| Step::Expire { partition }),
    ]
}

#[test]
fn interleaved_acquires_renewals_releases_and_expiries_never_give_a_partition_two_holders() {
    let store = tempfile::tempdir().unwrap();
    let Some((_server, url)) = server("interleavings", store.path()) else {
        return;
    };
    let runtime = runtime();
    let config = ProptestConfig {
        cases: 12,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(steps in proptest::collection::vec(step(), 1..40))| {
        runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(30), run_interleaving(&url, steps)).await
            })
            .expect("one interleaving within 30 s");
    });
}

/// Runs `steps` against the server and a model of it: the model says which member's
/// lease is the one live on each partition; every real outcome must match it, and after
/// every step at most one member holds a lease the server would renew.
async fn run_interleaving(url: &str, steps: Vec<Step>) {
    let config = LeaseConfig {
        ttl: Duration::from_secs(3600),
        ..LeaseConfig::new(group("model"), PARTITIONS)
    };
    let context = connect(url).await;
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        members.push(
            Leases::open(&connect(url).await, &config, format!("m{i}"))
                .await
                .unwrap(),
        );
    }
    let bucket = lease_bucket(&context, &config).await;
    // Model: partition -> the revision of its live lease. Each member's leases, some stale.
    let mut live: HashMap<u32, u64> = HashMap::new();
    let mut held: Vec<Vec<Lease>> = (0..MEMBERS).map(|_| Vec::new()).collect();
    for step in steps {
        match step {
            Step::Acquire { member, partition } => {
                let outcome = members[member].acquire(partition).await.unwrap();
                assert_eq!(
                    outcome.is_some(),
                    !live.contains_key(&partition),
                    "{step:?}"
                );
                if let Some(lease) = outcome {
                    live.insert(partition, lease.revision());
                    held[member].push(lease);
                }
            }
            Step::Renew { member, lease } if lease < held[member].len() => {
                let lease = held[member].swap_remove(lease);
                let partition = lease.partition();
                let current = live.get(&partition) == Some(&lease.revision());
                match members[member].renew(lease).await {
                    Ok(renewed) => {
                        assert!(current, "{step:?}: a stale lease was renewed");
                        live.insert(partition, renewed.revision());
                        held[member].push(renewed);
                    }
                    Err(RenewError::Lost { .. }) => {
                        assert!(!current, "{step:?}: a live lease lost")
                    }
                    Err(error) => panic!("{step:?}: {error}"),
                }
            }
            Step::Release { member, lease } if lease < held[member].len() => {
                let lease = held[member].swap_remove(lease);
                if live.get(&lease.partition()) == Some(&lease.revision()) {
                    live.remove(&lease.partition());
                }
                members[member].release(lease).await.unwrap();
            }
            Step::Expire { partition } => {
                bucket
                    .purge(format!("partition.{partition}"))
                    .await
                    .unwrap();
                live.remove(&partition);
            }
            Step::Renew { .. } | Step::Release { .. } => {}
        }
        // The invariant, on the server's word: each live key names one member, and that
        // member's lease carries the live revision; no other member's does.
        for partition in 0..PARTITIONS {
            let holders: Vec<usize> = (0..MEMBERS)
                .filter(|&m| {
                    held[m].iter().any(|lease| {
                        lease.partition() == partition
                            && live.get(&partition) == Some(&lease.revision())
                    })
                })
                .collect();
            assert!(
                holders.len() <= 1,
                "partition {partition} held by {holders:?}"
            );
            let on_server = members[0].holder(partition).await.unwrap();
            assert_eq!(
                on_server,
                holders.first().map(|m| format!("m{m}")),
                "partition {partition}"
            );
        }
    }
}
