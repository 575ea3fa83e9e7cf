//! `webaction consume` end to end, with real processes: simulated events (with invalid
//! ones) posted to `webaction serve --partitions 8`, published to a real nats-server
//! (`NATS_SERVER_BIN`, started here so it can be killed), split between three `consume`
//! processes of one group, one of them killed with SIGKILL mid-stream and replaced.
//! Every wait is bounded; nothing is timed.

mod collector;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use collector::{read_ndjson, Server};
use serde_json::Value;

/// How many actions to simulate: 45,000 make about 100,000 events (the figure;
/// half a minute for the debug build on two shared cores); `WEBACTION_CONSUME_ACTIONS`
/// changes it.
fn actions() -> u64 {
    std::env::var("WEBACTION_CONSUME_ACTIONS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(45_000)
}

struct NatsServer {
    bin: PathBuf,
    port: u16,
    store: PathBuf,
    /// A configuration file (`-c`), when set.
    config: Option<PathBuf>,
    child: Option<Child>,
}

impl NatsServer {
    fn start(test: &str, store: &Path) -> Option<NatsServer> {
        let Some(bin) = std::env::var_os("NATS_SERVER_BIN") else {
            assert!(
                std::env::var_os("CI").is_none_or(|ci| ci.is_empty()),
                "{test}: no nats-server (set NATS_SERVER_BIN); CI must run it"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: set NATS_SERVER_BIN to a nats-server binary ***"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = NatsServer {
            bin: PathBuf::from(bin),
            port,
            store: store.to_owned(),
            config: None,
            child: None,
        };
        server.restart();
        Some(server)
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    fn restart(&mut self) {
        self.kill9();
        let mut command = Command::new(&self.bin);
        if let Some(config) = &self.config {
            command.arg("-c").arg(config);
        }
        let child = command
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < until, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// One `webaction consume` process, with its own sink file and dead letter.
struct Consumer {
    child: Child,
    name: String,
    dir: PathBuf,
}

impl Consumer {
    fn start(dir: &Path, url: &str, prefix: &str, name: &str) -> Consumer {
        let child = Command::new(env!("CARGO_BIN_EXE_webaction"))
            .args(["consume", "--from", &format!("{url}/{prefix}")])
            .arg("--sink")
            .arg(format!(
                "ndjson:{}",
                dir.join(format!("{name}.sink")).display()
            ))
            .arg("--dead-letter")
            .arg(dir.join(format!("{name}.dead")))
            .arg("--lease-log")
            .arg(dir.join(format!("{name}.leases")))
            .args(["--group", "e2e", "--member", name, "--lease-secs", "6"])
            .args(["--checkpoint-events", "300", "--checkpoint-secs", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join(format!("{name}.stderr"))).unwrap(),
            ))
            .spawn()
            .unwrap();
        Consumer {
            child,
            name: name.to_owned(),
            dir: dir.to_owned(),
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.stderr", self.name))).unwrap_or_default()
    }

    fn terminate(mut self) {
        let status = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let until = Instant::now() + Duration::from_secs(120);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < until,
                "{} did not stop on SIGTERM: {}",
                self.name,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "{}: {status}\n{}",
            self.name,
            self.stderr()
        );
    }

    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

fn key(event: &Value) -> (String, String) {
    (
        event["actionId"].as_str().unwrap_or_default().to_owned(),
        event["actionState"].as_str().unwrap_or_default().to_owned(),
    )
}

fn webaction(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_webaction"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `simulate --actions N --invalid-rate 0.1 --seed S` written to `dir/input.ndjson`.
fn simulated(dir: &Path, actions: u64, seed: u64) -> PathBuf {
    let input = dir.join("input.ndjson");
    let (actions, seed) = (actions.to_string(), seed.to_string());
    let args = [
        "simulate",
        "--actions",
        &actions,
        "--invalid-rate",
        "0.1",
        "--seed",
        &seed,
    ];
    std::fs::write(&input, webaction(&args, dir).stdout).unwrap();
    input
}

/// What `check` makes of the input: the accepted events in input order, and the raw
/// text of every rejected line.
fn check(dir: &Path, input: &Path) -> (Vec<Value>, Vec<String>) {
    let dead = dir.join("check.dead");
    webaction(
        &[
            "check",
            input.to_str().unwrap(),
            "--dead-letter",
            dead.to_str().unwrap(),
        ],
        dir,
    );
    let rejected_lines: HashSet<u64> = read_ndjson(&dead)
        .iter()
        .map(|record| record["line"].as_u64().unwrap())
        .collect();
    let text = std::fs::read_to_string(input).unwrap();
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if rejected_lines.contains(&(i as u64 + 1)) {
            rejected.push(line.to_owned());
        } else {
            accepted.push(serde_json::from_str(line).unwrap());
        }
    }
    (accepted, rejected)
}

/// Every consumer's sink lines, per consumer, and the set of their keys.
fn delivered(dir: &Path, names: &[&str]) -> (Vec<Vec<Value>>, HashSet<(String, String)>) {
    let per: Vec<Vec<Value>> = names
        .iter()
        .map(|name| read_ndjson(&dir.join(format!("{name}.sink"))))
        .collect();
    let keys = per.iter().flatten().map(key).collect();
    (per, keys)
}

/// The consumers' dead-letter records, once each: a partition replayed after a
/// handover writes its rejected lines again, with the same stream sequence.
fn consumer_rejected(dir: &Path, names: &[&str]) -> BTreeMap<(String, u64), String> {
    let mut records = BTreeMap::new();
    for name in names {
        for record in read_ndjson(&dir.join(format!("{name}.dead"))) {
            let at = (
                record["subject"].as_str().unwrap().to_owned(),
                record["sequence"].as_u64().unwrap(),
            );
            records.insert(at, record["raw"].as_str().unwrap().to_owned());
        }
    }
    records
}

/// Asserts that no partition was worked by two processes at once, per the lease logs: a
/// holding runs from its `start` to the `worked_until_ms` of the same member's next
/// `released`/`lost`/`expired` (the last time it handed an event of the partition to its
/// sink), or, for a process killed while holding it, to the last `valid_until_ms` it
/// logged (it hands over nothing after that even when alive).
fn assert_exclusive(dir: &Path, names: &[&str]) {
    let mut holdings: HashMap<u64, Vec<(u64, u64, String)>> = HashMap::new();
    for name in names {
        let mut open: HashMap<u64, (u64, u64)> = HashMap::new();
        for line in read_ndjson(&dir.join(format!("{name}.leases"))) {
            let partition = line["partition"].as_u64().unwrap();
            let at = line["at_ms"].as_u64().unwrap();
            // `at_ms` of a start: the lease is taken, nothing worked yet.
            match line["event"].as_str().unwrap() {
                "start" => {
                    let until = line["valid_until_ms"].as_u64().unwrap();
                    assert!(open.insert(partition, (at, until)).is_none());
                }
                "renew" => {
                    if let Some(holding) = open.get_mut(&partition) {
                        holding.1 = line["valid_until_ms"].as_u64().unwrap();
                    }
                }
                _ => {
                    if let Some((start, _)) = open.remove(&partition) {
                        let until = line["worked_until_ms"].as_u64().unwrap();
                        holdings.entry(partition).or_default().push((
                            start,
                            until,
                            name.to_string(),
                        ));
                    }
                }
            }
        }
        for (partition, (start, until)) in open {
            holdings
                .entry(partition)
                .or_default()
                .push((start, until, name.to_string()));
        }
    }
    assert_eq!(
        holdings.len(),
        8,
        "every partition was worked: {holdings:?}"
    );
    for (partition, mut list) in holdings {
        list.sort();
        for pair in list.windows(2) {
            assert!(
                pair[1].0 >= pair[0].1,
                "partition {partition} held by {} from {} while {} held it until {}",
                pair[1].2,
                pair[1].0,
                pair[0].2,
                pair[0].1
            );
        }
    }
}

/// Polls `done` every 100 ms for up to `limit`.
fn eventually(limit: Duration, what: &str, mut done: impl FnMut() -> Option<String>) {
    let until = Instant::now() + limit;
    loop {
        let Some(state) = done() else { return };
        assert!(Instant::now() < until, "{what} within {limit:?}: {state}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_consumers_one_killed_deliver_what_check_accepts_once_each_in_order() {
    let test = "three_consumers_one_killed_deliver_what_check_accepts_once_each_in_order";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(nats) = NatsServer::start(test, &dir.join("store")) else {
        return;
    };
    let input = simulated(dir, actions(), 7);
    let (expected, expected_rejected) = check(dir, &input);
    assert!(!expected_rejected.is_empty());

    let prefix = "e2e";
    let sink = format!("{}/{prefix}", nats.url());
    let server = Server::start(dir, &["--sink", &sink, "--partitions", "8"]);
    let mut consumers: Vec<Consumer> = ["c1", "c2", "c3"]
        .iter()
        .map(|name| Consumer::start(dir, &nats.url(), prefix, name))
        .collect();

    let text = std::fs::read_to_string(&input).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let batches: Vec<&[&str]> = lines.chunks(200).collect();
    let mut serve_rejected = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        if i == batches.len() / 3 {
            // Mid-stream: one member dies without a word, another takes its place.
            consumers.remove(0).kill9();
            consumers.push(Consumer::start(dir, &nats.url(), prefix, "c4"));
        }
        let answer = server.post_events(
            &format!("?batchId={}", uuid::Uuid::new_v4()),
            &batch.join("\n"),
        );
        assert_eq!(answer.status, 200, "{}", answer.text());
        for rejected in answer.json()["rejected"].as_array().into_iter().flatten() {
            let index = rejected["index"].as_u64().unwrap() as usize;
            serve_rejected.push(batch[index].to_owned());
        }
    }

    let names = ["c1", "c2", "c3", "c4"];
    let expected_keys: HashSet<(String, String)> = expected.iter().map(key).collect();
    assert_eq!(expected_keys.len(), expected.len());
    eventually(
        Duration::from_secs(240),
        "every accepted event delivered",
        || {
            let (_, keys) = delivered(dir, &names);
            let rejected = consumer_rejected(dir, &names).len() + serve_rejected.len();
            (keys.len() < expected_keys.len() || rejected < expected_rejected.len()).then(|| {
                format!(
                    "{} of {} accepted, {} of {} rejected",
                    keys.len(),
                    expected_keys.len(),
                    rejected,
                    expected_rejected.len()
                )
            })
        },
    );
    for consumer in consumers {
        consumer.terminate();
    }

    // At least once, and exactly once by idempotency key: the same events as check's.
    let (per_consumer, keys) = delivered(dir, &names);
    assert_eq!(
        keys, expected_keys,
        "the sinks hold exactly what check accepts"
    );
    let by_key: HashMap<(String, String), &Value> =
        expected.iter().map(|event| (key(event), event)).collect();
    for event in per_consumer.iter().flatten() {
        assert_eq!(
            &event,
            by_key.get(&key(event)).unwrap(),
            "delivered as accepted"
        );
    }
    // Per action, each consumer's deliveries are in input order.
    let position: HashMap<(String, String), usize> = expected
        .iter()
        .enumerate()
        .map(|(i, event)| (key(event), i))
        .collect();
    for events in &per_consumer {
        let mut last: HashMap<String, usize> = HashMap::new();
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for event in events {
            let (action, state) = key(event);
            if !seen.insert((action.clone(), state.clone())) {
                continue;
            }
            let at = position[&(action.clone(), state)];
            if let Some(before) = last.insert(action.clone(), at) {
                assert!(before < at, "action {action} delivered out of input order");
            }
        }
    }
    // The rejected lines: serve's (not events) plus the consumers' (lifecycle), once each.
    let mut rejected: Vec<String> = serve_rejected;
    rejected.extend(consumer_rejected(dir, &names).into_values());
    let mut wanted = expected_rejected;
    rejected.sort();
    wanted.sort();
    assert_eq!(rejected, wanted, "rejected lines equal check's");
    assert_exclusive(dir, &names);
}

mod handover {
    use events_cli::input::Limits;
    use events_cli::simulate::{simulate, Simulation};
    use events_core::ingest::{Ingest, Outcome};
    use events_core::{AnyEvent, Registry, Uuid};
    use events_sinks::cluster::partition_of;
    use proptest::prelude::*;

    /// What ingest made of a line: `None` accepted, else the kind of error.
    fn verdict(outcome: Outcome) -> Option<&'static str> {
        outcome.error().map(|error| error.kind().as_str())
    }

    /// The partition a collector would publish the line to; `None` for a line it
    /// rejects itself (no readable `actionId`).
    fn route(line: &str, partitions: u32) -> Option<u32> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        let id = Uuid::parse_str(value.get("actionId")?.as_str()?).ok()?;
        Some(partition_of(id, partitions))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// Each partition judged by a chain of owners, each restoring its predecessor's
        /// checkpoint after `every` lines, gives every line the verdict one uninterrupted
        /// `check` of the whole stream gives it.
        #[test]
        fn handed_over_partitions_judge_as_one_uninterrupted_check(
            seed in any::<u64>(),
            partitions in 1u32..9,
            every in 1usize..40,
            invalid in 0.0f64..0.5,
        ) {
            let registry = Registry::all();
            let mut out = Vec::new();
            simulate(&registry, &Simulation { actions: 60, seed, invalid_rate: invalid }, &mut out)
                .unwrap();
            let text = String::from_utf8(out).unwrap();
            let limits = Limits::default();
            let mut whole = limits.ingest(&registry, |_: &AnyEvent| {});
            let expected: Vec<_> =
                text.lines().map(|line| verdict(whole.ingest(line.as_bytes()))).collect();

            for partition in 0..partitions {
                let new = || limits.partition_builder(&registry, partitions as usize).build(|_: &AnyEvent| {});
                let mut owner: Ingest<_> = new();
                let mut judged = 0;
                for (i, line) in text.lines().enumerate() {
                    if route(line, partitions) != Some(partition) {
                        continue;
                    }
                    if judged > 0 && judged % every == 0 {
                        let checkpoint = owner.checkpoint();
                        owner = new();
                        owner.restore(&checkpoint).unwrap();
                    }
                    judged += 1;
                    prop_assert_eq!(verdict(owner.ingest(line.as_bytes())), expected[i], "line {}", i + 1);
                }
            }
        }
    }
}

/// Posts `body` until it is answered 200, resending with the same `batchId` (as the
/// browser script does) while the collector answers 503 or cannot be reached; the
/// answer's `rejected` indexes.
fn post_until_taken(server: &Server, batch: &[&str]) -> Vec<usize> {
    let query = format!("?batchId={}", uuid::Uuid::new_v4());
    let body = batch.join("\n");
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let answer = collector::request(
            &server.addr,
            "POST",
            &format!("/v1/events{query}"),
            &[("Content-Type", "text/plain;charset=UTF-8")],
            body.as_bytes(),
        );
        match answer {
            Ok(answer) if answer.status == 200 => {
                return answer.json()["rejected"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|rejected| rejected["index"].as_u64().unwrap() as usize)
                    .collect();
            }
            Ok(answer) => assert_eq!(answer.status, 503, "{}", answer.text()),
            Err(_) => {}
        }
        assert!(Instant::now() < until, "the batch was never taken");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn nats_server_killed_mid_stream_loses_nothing_acknowledged() {
    let test = "nats_server_killed_mid_stream_loses_nothing_acknowledged";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(mut nats) = NatsServer::start(test, &dir.join("store")) else {
        return;
    };
    let input = simulated(dir, 3000, 11);
    let prefix = "outage";
    let sink = format!("{}/{prefix}", nats.url());
    let server = Server::start(
        dir,
        &[
            "--sink",
            &sink,
            "--partitions",
            "4",
            "--max-retries",
            "1000",
            "--timeout-ms",
            "1000",
        ],
    );
    let names = ["c1", "c2"];
    let consumers: Vec<Consumer> = names
        .iter()
        .map(|name| Consumer::start(dir, &nats.url(), prefix, name))
        .collect();

    let text = std::fs::read_to_string(&input).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let batches: Vec<&[&str]> = lines.chunks(200).collect();
    let mut taken: Vec<&str> = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        if i == batches.len() / 2 {
            nats.kill9();
            // A batch posted while the server is down waits (or gets 503 and is resent)
            // until the restarted server acknowledges it.
            std::thread::scope(|scope| {
                let posting = scope.spawn(|| post_until_taken(&server, batch));
                std::thread::sleep(Duration::from_secs(1));
                nats.restart();
                let rejected = posting.join().unwrap();
                taken.extend(
                    batch
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| !rejected.contains(i))
                        .map(|(_, l)| *l),
                );
            });
            continue;
        }
        let rejected = post_until_taken(&server, batch);
        taken.extend(
            batch
                .iter()
                .enumerate()
                .filter(|(i, _)| !rejected.contains(i))
                .map(|(_, l)| *l),
        );
    }

    // Every event the collector answered 200 for reaches a sink, or, if the outage put
    // it after a later event of its action, a consumer's dead letter: never nowhere.
    let missing = || {
        let (_, keys) = delivered(dir, &names);
        let dead: HashSet<String> = consumer_rejected(dir, &names).into_values().collect();
        taken
            .iter()
            .filter(|line| {
                let event: Value = serde_json::from_str(line).unwrap();
                !keys.contains(&key(&event)) && !dead.contains(**line)
            })
            .count()
    };
    eventually(
        Duration::from_secs(240),
        "every acknowledged event accounted for",
        || {
            let missing = missing();
            (missing > 0).then(|| format!("{missing} of {} missing", taken.len()))
        },
    );
    for consumer in consumers {
        consumer.terminate();
    }
    assert_eq!(missing(), 0);
}

#[test]
fn a_checkpoint_over_the_servers_max_payload_keeps_the_last_one_says_so_and_loses_nothing() {
    let test =
        "a_checkpoint_over_the_servers_max_payload_keeps_the_last_one_says_so_and_loses_nothing";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(mut nats) = NatsServer::start(test, &dir.join("store")) else {
        return;
    };
    // The same server with messages of 8 KiB at most: a few hundred live actions of
    // tracker state no longer fit in one checkpoint.
    let config = dir.join("nats.conf");
    std::fs::write(&config, "max_payload: 8192\n").unwrap();
    nats.config = Some(config);
    nats.restart();
    let prefix = "small";
    let sink = format!("{}/{prefix}", nats.url());
    let server = Server::start(dir, &["--sink", &sink, "--partitions", "1"]);
    let ids: Vec<uuid::Uuid> = (0..600).map(|_| uuid::Uuid::new_v4()).collect();
    let offered: Vec<String> = ids
        .iter()
        .map(|id| collector::event(*id, "offered"))
        .collect();
    let accepted: Vec<String> = ids
        .iter()
        .map(|id| collector::event(*id, "accepted"))
        .collect();
    let first = Consumer::start(dir, &nats.url(), prefix, "c1");
    for chunk in offered.chunks(100) {
        let lines: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert!(post_until_taken(&server, &lines).is_empty());
    }
    eventually(
        Duration::from_secs(120),
        "the oversized checkpoint reported",
        || {
            let stderr = first.stderr();
            let (_, keys) = delivered(dir, &["c1"]);
            let leases = std::fs::read_to_string(dir.join("c1.leases")).unwrap_or_default();
            (!stderr.contains("over the"))
                .then(|| format!("{} delivered; {stderr}; {leases}", keys.len()))
        },
    );
    // The owner dies; the next restores the last checkpoint that fit and replays the
    // rest of the stream: the `accepted` events find their actions offered.
    first.kill9();
    let second = Consumer::start(dir, &nats.url(), prefix, "c2");
    for chunk in accepted.chunks(100) {
        let lines: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert!(post_until_taken(&server, &lines).is_empty());
    }
    let names = ["c1", "c2"];
    eventually(Duration::from_secs(120), "every event delivered", || {
        let (_, keys) = delivered(dir, &names);
        (keys.len() < 1200).then(|| format!("{} of 1200", keys.len()))
    });
    second.terminate();
    assert!(
        consumer_rejected(dir, &names).is_empty(),
        "a replay from the older checkpoint judges as before"
    );
}

#[test]
fn a_stream_keeps_its_number_of_partitions_and_a_consumer_needs_one() {
    let test = "a_stream_keeps_its_number_of_partitions_and_a_consumer_needs_one";
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let Some(nats) = NatsServer::start(test, &dir.join("store")) else {
        return;
    };
    let input = simulated(dir, 20, 3);
    let input = input.to_str().unwrap();
    let sink = format!("{}/fixed", nats.url());
    let first = webaction(
        &["replay", input, "--sink", &sink, "--partitions", "8"],
        dir,
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let again = webaction(
        &["replay", input, "--sink", &sink, "--partitions", "4"],
        dir,
    );
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stream FIXED has 8 partitions") && stderr.contains("not 4"),
        "{stderr}"
    );
    let unpartitioned = format!("{}/plain", nats.url());
    let consumer = webaction(
        &["consume", "--from", &unpartitioned, "--sink", "ndjson:-"],
        dir,
    );
    let stderr = String::from_utf8_lossy(&consumer.stderr);
    assert_eq!(consumer.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stream PLAIN: no number of partitions recorded"),
        "{stderr}"
    );
    let no_nats = webaction(
        &["replay", input, "--sink", "ndjson:-", "--partitions", "2"],
        dir,
    );
    let stderr = String::from_utf8_lossy(&no_nats.stderr);
    assert_eq!(no_nats.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--partitions needs a `nats://"), "{stderr}");
}
