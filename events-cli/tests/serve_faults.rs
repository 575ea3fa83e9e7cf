//! `webaction serve` under faults, as a process on 127.0.0.1: killed with SIGKILL or
//! stopped with SIGTERM under load (nothing answered 200 may be missing from the sink
//! file), and hostile clients (gzip bombs, endless bodies, slow or huge heads) that must
//! get the right answer while the server's memory stays bounded.

mod collector;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use collector::{batch, parse_answer, request, Server};

/// Clients sending batches of 20 new actions until told to stop or the server goes;
/// collects the action ids of every batch answered 200.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    acknowledged: Arc<Mutex<Vec<uuid::Uuid>>>,
    clients: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(addr: &str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let acknowledged = Arc::new(Mutex::new(Vec::new()));
        let clients = (0..clients)
            .map(|_| {
                let (addr, stop) = (addr.to_owned(), Arc::clone(&stop));
                let (answered, acknowledged) = (Arc::clone(&answered), Arc::clone(&acknowledged));
                std::thread::spawn(move || {
                    // Bounded: a client stops on its own after this many batches.
                    for _ in 0..5_000 {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let (body, ids) = batch(20);
                        let target = format!("/v1/events?batchId={}", uuid::Uuid::new_v4());
                        let headers = [("Content-Type", "text/plain")];
                        let Ok(answer) = request(&addr, "POST", &target, &headers, body.as_bytes())
                        else {
                            // The server is gone (killed, or stopped listening).
                            return;
                        };
                        if answer.status == 200 {
                            assert_eq!(answer.json()["accepted"], 20, "{}", answer.text());
                            acknowledged.lock().unwrap().extend(ids);
                            answered.fetch_add(1, Ordering::Relaxed);
                        } else {
                            assert_eq!(answer.status, 503, "{}", answer.text());
                        }
                    }
                })
            })
            .collect();
        Load {
            stop,
            answered,
            acknowledged,
            clients,
        }
    }

    /// Waits until `n` batches were answered 200 (the server must get there).
    fn wait_for(&self, n: usize) {
        for _ in 0..6_000 {
            if self.answered.load(Ordering::Relaxed) >= n {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("fewer than {n} batches answered");
    }

    fn finish(self) -> Vec<uuid::Uuid> {
        self.stop.store(true, Ordering::Relaxed);
        for client in self.clients {
            client.join().unwrap();
        }
        Arc::try_unwrap(self.acknowledged)
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

fn ids_in_sink(server: &Server) -> HashSet<String> {
    server
        .sink_events()
        .iter()
        .map(|event| event["actionId"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_all_in_sink(acknowledged: &[uuid::Uuid], sink: &HashSet<String>) {
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !sink.contains(&id.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} events answered 200 are not in the sink file, e.g. {:?}",
        missing.len(),
        acknowledged.len(),
        missing.first()
    );
}

#[test]
fn kill_9_under_load_loses_no_event_answered_200_and_a_restart_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let load = Load::start(&server.addr, 4);
    load.wait_for(100);
    server.kill9();
    let acknowledged = load.finish();
    assert!(acknowledged.len() >= 2_000);
    let sink = ids_in_sink(&server);
    assert_all_in_sink(&acknowledged, &sink);

    // The restarted server keeps the file and appends to it, on a line of its own even
    // if the kill cut the last one.
    let server = Server::start(dir.path(), &[]);
    let (body, ids) = batch(3);
    assert_eq!(server.post_events("", &body).status, 200);
    let after = ids_in_sink(&server);
    assert_all_in_sink(&acknowledged, &after);
    assert_all_in_sink(&ids, &after);
}

#[test]
fn sigterm_under_load_answers_in_flight_requests_and_exits_0_losing_nothing_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let load = Load::start(&server.addr, 4);
    load.wait_for(100);
    server.signal("TERM");
    let status = server.wait();
    let acknowledged = load.finish();
    assert!(status.success(), "{status:?}; stderr:\n{}", server.stderr());
    assert_all_in_sink(&acknowledged, &ids_in_sink(&server));
    assert!(server.stderr().contains("delivered"), "{}", server.stderr());
}

#[test]
fn sigint_stops_it_the_same_way() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &[]);
    let (body, ids) = batch(5);
    assert_eq!(server.post_events("", &body).status, 200);
    server.signal("INT");
    assert!(server.wait().success(), "{}", server.stderr());
    assert_all_in_sink(&ids, &ids_in_sink(&server));
}

/// A gzip body of `len` zero bytes: tiny compressed, huge decompressed.
fn gzip_bomb(len: usize) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        encoder.write_all(&zeros).unwrap();
    }
    encoder.finish().unwrap()
}

/// What the server may hold at its peak, in KiB: its baseline (about 15 MiB) plus a few
/// bodies at the limit — far less than any attack here would cost if it were held.
const MEMORY_BOUND_KIB: u64 = 64 * 1024;

#[test]
fn a_gzip_bomb_gets_413_without_the_memory_it_would_take() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let bomb = gzip_bomb(256 << 20);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    for _ in 0..3 {
        let answer = server.post(
            "/v1/events",
            &[("Content-Type", "text/plain"), ("Content-Encoding", "gzip")],
            &bomb,
        );
        assert_eq!(answer.status, 413, "{}", answer.text());
        assert!(answer.text().contains("once decompressed"));
    }
    let peak = server.peak_rss_kib();
    assert!(
        peak < MEMORY_BOUND_KIB,
        "peak RSS {peak} KiB after 768 MiB of gzip bombs"
    );
    assert_eq!(server.post_events("", &batch(1).0).status, 200);
}

#[test]
fn an_endless_chunked_body_gets_413_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let mut stream = TcpStream::connect(&server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    stream
        .write_all(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let chunk = [b'a'; 65536];
            // 256 MiB at most; the server stops reading long before.
            for _ in 0..4096 {
                let ok = write!(stream, "{:x}\r\n", chunk.len()).is_ok()
                    && stream.write_all(&chunk).is_ok()
                    && stream.write_all(b"\r\n").is_ok();
                if !ok {
                    return;
                }
            }
        })
    };
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the answer's head and body are in, or the server closes.
    while parse_answer(&raw).map_or(true, |answer| answer.body.is_empty()) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let answer = parse_answer(&raw).unwrap();
    assert_eq!(answer.status, 413, "{}", answer.text());
    drop(stream);
    writer.join().unwrap();
    let peak = server.peak_rss_kib();
    assert!(peak < MEMORY_BOUND_KIB, "peak RSS {peak} KiB");
}

#[test]
fn slow_and_huge_request_heads_are_cut_off_and_others_still_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--header-timeout", "1"]);
    // Slowloris: many connections each dribbling a head that never ends.
    let mut slow: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut stream = TcpStream::connect(&server.addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            stream
                .write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();
    // Served meanwhile.
    assert_eq!(server.post_events("", &batch(1).0).status, 200);
    for stream in &mut slow {
        // A header byte now and then does not help: the timeout counts from the start
        // of the head.
        let _ = stream.write_all(b"X");
        let mut rest = Vec::new();
        // The server closes the connection (with or without a 408 first).
        let read = stream.read_to_end(&mut rest);
        assert!(
            read.is_ok()
                || read
                    .as_ref()
                    .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset),
            "{read:?}: the server kept a slow head open"
        );
        if !rest.is_empty() {
            assert_eq!(parse_answer(&rest).unwrap().status, 408);
        }
    }
    // A head over the limit: 431.
    let huge = "a".repeat(100 * 1024);
    let answer = request(
        &server.addr,
        "POST",
        "/v1/events",
        &[("X-Padding", &huge)],
        b"",
    )
    .unwrap();
    assert_eq!(answer.status, 431);
    assert_eq!(server.post_events("", &batch(1).0).status, 200);
    let peak = server.peak_rss_kib();
    assert!(peak < MEMORY_BOUND_KIB, "peak RSS {peak} KiB");
}
