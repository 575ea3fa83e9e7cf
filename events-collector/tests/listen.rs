//! The collector's listener takes a burst of new connections that the standard library's
//! backlog of 128 would drop: the system completes their handshakes before any is
//! accepted, as it must while the workers are busy.
//!
//! Nothing is accepted here, so a connection past a full backlog can never complete: its
//! handshake is dropped and retried into the same full queue. The time limits only end
//! such a test; a connection that completes does so at once on loopback.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// More than 128, within [`events_collector::LISTEN_BACKLOG`] and Linux's default
/// `somaxconn` (4,096).
const BURST: usize = 300;

/// Opens `n` connections to `listener` one after the other, none of them accepted, until
/// one does not complete within `limit`; how many did.
async fn connections_completed(listener: &TcpListener, n: usize, limit: Duration) -> usize {
    let addr = listener.local_addr().unwrap();
    let mut open = Vec::new();
    for _ in 0..n {
        match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
            Ok(connected) => open.push(connected.unwrap()),
            Err(_) => break,
        }
    }
    open.len()
}

#[tokio::test]
async fn a_burst_of_connections_completes_before_any_is_accepted() {
    let somaxconn: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(4096);
    assert!(
        somaxconn > BURST,
        "net.core.somaxconn is {somaxconn}: the system caps every backlog below this test's burst"
    );
    let listener = events_collector::bind("127.0.0.1:0").await.unwrap();
    assert_eq!(
        connections_completed(&listener, BURST, Duration::from_secs(10)).await,
        BURST
    );
}

/// What `bind` is for: the standard library's listener completes no more than its
/// backlog of 128 (plus one, as Linux counts), and the rest wait. (Should a release of
/// the standard library ask for more, this fails, and `bind` has one reason less.)
#[tokio::test]
async fn the_standard_listener_leaves_a_burst_waiting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let completed = connections_completed(&listener, BURST, Duration::from_millis(500)).await;
    assert!(completed < BURST, "{completed} of {BURST} completed");
}
