//! Delivery receipts: a receipt resolves once every event sent with it is durable,
//! dead-lettered or lost — for the file sink at its commit, for the HTTP sink when the
//! collector behind it accepts or refuses the batch.

mod common;

use std::io::Write;
use std::sync::mpsc;

use common::*;
use events_sinks::{Confirmation, FileOptions, Fsync, NdjsonSink, Receipt, Sink};

fn receipt() -> (Receipt, mpsc::Receiver<Confirmation>) {
    let (tx, rx) = mpsc::channel();
    (Receipt::new(move |c| tx.send(c).unwrap()), rx)
}

#[test]
fn a_file_sink_confirms_at_its_commit_not_before() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let options = FileOptions {
        append: true,
        fsync: Fsync::OnCommit,
    };
    let sink = NdjsonSink::create_with(&path, options).unwrap();
    let (first, first_rx) = receipt();
    let (second, second_rx) = receipt();
    for i in 0..3 {
        sink.send_confirmed(&*event(i), &first).unwrap();
    }
    sink.send_confirmed(&*event(3), &second).unwrap();
    first.seal();
    second.seal();
    assert!(first_rx.try_recv().is_err(), "confirmed before the commit");
    assert_eq!(std::fs::read(&path).unwrap().len(), 0, "still buffered");
    sink.commit().unwrap();
    let delivered = |n| Confirmation {
        delivered: n,
        ..Confirmation::default()
    };
    assert_eq!(first_rx.try_recv().unwrap(), delivered(3));
    assert_eq!(second_rx.try_recv().unwrap(), delivered(1));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 4);
}

/// A group-commit caller's sending thread only copies: confirmed events past the 64 KiB
/// buffer stay in memory until the commit writes them (up to a bound), while events sent
/// without a receipt are written out as the buffer fills.
#[test]
fn confirmed_events_are_written_by_the_commit_not_by_their_sender() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let sink = NdjsonSink::create(&path).unwrap();
    let (receipt, rx) = receipt();
    // Some 300 bytes each: about 300 KB, well past the 64 KiB buffer.
    for i in 0..1000 {
        sink.send_confirmed(&*event(i), &receipt).unwrap();
    }
    receipt.seal();
    assert_eq!(
        std::fs::read(&path).unwrap().len(),
        0,
        "written before the commit"
    );
    sink.commit().unwrap();
    assert_eq!(rx.try_recv().unwrap().delivered, 1000);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().lines().count(),
        1000
    );

    let unconfirmed = dir.path().join("unconfirmed.ndjson");
    let sink = NdjsonSink::create(&unconfirmed).unwrap();
    for i in 0..1000 {
        sink.send(&*event(i)).unwrap();
    }
    assert!(
        std::fs::read(&unconfirmed).unwrap().len() > 64 * 1024 / 2,
        "events without a receipt wait in memory"
    );
}

#[test]
fn a_failed_commit_says_the_events_were_lost() {
    let sink = NdjsonSink::create("/dev/full").unwrap();
    let (receipt, rx) = receipt();
    sink.send_confirmed(&*event(0), &receipt).unwrap();
    receipt.seal();
    assert!(sink.commit().is_err());
    assert_eq!(rx.try_recv().unwrap().lost, 1);
}

#[test]
fn appending_after_a_cut_last_line_starts_a_line_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(b"{\"kept\":1}\n{\"cut\":")
        .unwrap();
    let options = FileOptions {
        append: true,
        fsync: Fsync::Never,
    };
    let sink = NdjsonSink::create_with(&path, options).unwrap();
    sink.send(&*event(0)).unwrap();
    sink.commit().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[..2], ["{\"kept\":1}", "{\"cut\":"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(lines[2]).unwrap(),
        event_json(0)
    );
}

#[cfg(feature = "http")]
#[test]
fn an_http_sink_confirms_once_the_collector_accepts_and_says_what_it_refused() {
    use events_sinks::{DeadLetter, HttpConfig, HttpSink, QueueConfig, RetryPolicy};
    use std::time::Duration;
    let collector = Collector::start(|n| match n {
        0 => Fault::Status(503),
        1 => Fault::Ok,
        _ => Fault::Reject(400, "bad batch"),
    });
    let config = HttpConfig {
        queue: QueueConfig {
            batch_size: 10,
            max_batch_age: Duration::from_secs(3600),
            max_in_flight: 1,
            retry: RetryPolicy {
                initial_backoff: Duration::from_millis(10),
                ..RetryPolicy::default()
            },
            ..QueueConfig::default()
        },
        ..HttpConfig::new(collector.url())
    };
    let sink = HttpSink::new(config, DeadLetter::memory()).unwrap();
    let (accepted, accepted_rx) = receipt();
    for i in 0..4 {
        sink.send_confirmed(&*event(i), &accepted).unwrap();
    }
    accepted.seal();
    // A partial batch waits an hour for its age; a commit sends it now.
    sink.commit().unwrap();
    let confirmation = accepted_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(confirmation.delivered, 4, "after one 503 and a retry");
    let (refused, refused_rx) = receipt();
    sink.send_confirmed(&*event(4), &refused).unwrap();
    refused.seal();
    sink.commit().unwrap();
    let confirmation = refused_rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!((confirmation.delivered, confirmation.dead_lettered), (0, 1));
    sink.close(deadline(10)).unwrap();
}
