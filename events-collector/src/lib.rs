//! The HTTP collector browsers send their web-action lifecycle events to
//! (`webaction serve`), as a library: embed it with your own [`Registry`] of media types
//! and your own enrichment (an [`IngestBuilder`]), and any [`Sink`]s.
//!
//! `POST /v1/events` takes newline-delimited events, a JSON array of events or one
//! event (`text/plain`, what `navigator.sendBeacon` sends without a CORS preflight,
//! `application/x-ndjson` or `application/json`; `Content-Encoding: gzip` too, its
//! decompressed size bounded). Each event goes through the same ingest as `webaction
//! check` — decode, enrich and write as JSON for the sinks (on the request's thread),
//! track its lifecycle (on one ingest thread shared by every request, so the verdicts
//! are `check`'s), deliver (made durable by a commit thread, while the ingest thread
//! goes on). The enrichment of the [`IngestBuilder`] runs on the requests' threads, one
//! request at a time. The answer:
//!
//! | status | meaning | the client |
//! | --- | --- | --- |
//! | `200` `{"accepted": N, "rejected": [{"index", "kind", "error"}], "duplicate": false, "requestId"}` | every accepted event is durable at every sink (with [`Ack::Queued`]: queued), every rejected one is in the dead letter with the request's id and its index | done with the whole batch |
//! | `200` with `"duplicate": true` | this `batchId` was taken before (answered `200`, or would have been had its client stayed): the first answer again, nothing delivered twice | done |
//! | `503` + `Retry-After` | not accepted (the sinks cannot keep up or could not confirm, or the collector is stopping) | send the same batch, same `batchId`, later |
//! | `400` / `401` / `413` / `415` | undecodable body (which decode failed is said), bad write key, too large, other content type | do not retry |
//!
//! A client tells an already-received batch from an error by `"duplicate": true` on a
//! `200`; a rejected event of kind `illegal_transition` whose error says the state
//! repeats is an event the collector already has from another batch. A batch answered
//! `503` after its events were tracked (a sink could not confirm them) is held: its
//! resend (same `batchId`) is delivered again under its first verdicts, not judged
//! again. The batch window ([`Config::batch_window`] batches, [`Config::max_held_bytes`]
//! of held bodies) is memory only, like the tracker: after a restart a resent batch is
//! judged as new — its events in an initial state delivered again with the same
//! idempotency key per event for the receiver to drop (see
//! `events_sinks::idempotency_key`), the others refused as `not_initial`.
//!
//! Also: `GET /healthz` (the process answers), `GET /readyz` (it accepts events: not
//! stopping, its backlog under the bound, no sink lost events, and every sink ready —
//! [`Sink::ready`]: an HTTP sink's collector accepts a connection, a NATS sink is
//! connected),
//! `GET /metrics` (Prometheus text), `GET /report` (a [`LiveReport`]'s page, when one is
//! given), and `OPTIONS /v1/events` CORS preflights for the
//! [`Config::allowed_origins`].
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

mod batches;
pub mod body;
mod http;
mod ingestor;
mod metrics;
mod report;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use events_core::ingest::IngestBuilder;
use events_sinks::{DeadLetter, Fsync, Sink, SinkError, SinkStats};

pub use batches::MAX_BATCH_ID_LEN;
pub use body::{BodyError, CONTENT_TYPES};
pub use http::shutdown_signal;
pub use report::LiveReport;

#[doc(no_inline)]
pub use events_core::Registry;

/// When `POST /v1/events` answers `200`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ack {
    /// Once every accepted event is durable at every sink (a file: written and flushed,
    /// synced per [`Config::fsync`]; NATS: acknowledged by JetStream; HTTP: accepted by
    /// the collector behind it), and every rejected one is in the dead letter.
    #[default]
    Durable,
    /// Once the events are handed to the sinks: faster, and a crash loses what was
    /// queued. An explicit opt-out.
    Queued,
}

/// How the collector answers, and its bounds.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest body taken, after decompression; larger is `413`.
    pub max_body_bytes: usize,
    /// The largest request head (request line and headers); larger is `431`.
    pub max_header_bytes: usize,
    /// Origins whose browsers may send events from their pages (CORS). Empty: no CORS
    /// headers, no preflight answered (`text/plain` beacons need none on the same site).
    pub allowed_origins: Vec<String>,
    /// When set, requests must carry it (header `X-Write-Key` or query `?writeKey=`).
    pub write_key: Option<String>,
    /// When to answer `200`.
    pub ack: Ack,
    /// Where rejected events go, one record each:
    /// `{"request", "index", "kind", "error", "raw"}` (`raw_base64` too when the bytes
    /// are not UTF-8). Appended to; created on the first.
    pub dead_letter: PathBuf,
    /// Whether the dead letter of rejected events is synced at each commit (the file
    /// sinks' sync is their own [`events_sinks::FileOptions`]).
    pub fsync: Fsync,
    /// Batches remembered for resends (`batchId`): answered ones, and tracked ones
    /// answered `503` that a resend delivers again.
    pub batch_window: usize,
    /// Bodies of batches tracked and not confirmed, kept for their resend, in bytes at
    /// most: beyond it the oldest are forgotten, and their resend is judged again (its
    /// events then go to the dead letter as repeats, never delivered twice).
    pub max_held_bytes: usize,
    /// Events ingested and not yet confirmed by the sinks, at most; beyond it `503`.
    pub max_unconfirmed_events: usize,
    /// Requests waiting for the ingest thread, at most; beyond it `503`.
    pub ingest_queue: usize,
    /// Connections open at once, at most; more are closed at once.
    pub max_connections: usize,
    /// Time to receive a request's head (slow clients, "slowloris", are cut off).
    pub header_timeout: Duration,
    /// Time to receive a request's body; longer is `408`.
    pub body_timeout: Duration,
    /// Time a request waits for its events to be confirmed before `503`.
    pub ack_timeout: Duration,
    /// On shutdown: time for requests in flight to be answered and the sinks to flush.
    pub shutdown_timeout: Duration,
    /// What `Retry-After` says on a `503`.
    pub retry_after: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_body_bytes: 1 << 20,
            max_header_bytes: 64 * 1024,
            allowed_origins: Vec::new(),
            write_key: None,
            ack: Ack::Durable,
            dead_letter: PathBuf::from("webaction-dead-letter.ndjson"),
            fsync: Fsync::OnCommit,
            batch_window: 100_000,
            max_held_bytes: 64 << 20,
            max_unconfirmed_events: 100_000,
            ingest_queue: 1024,
            max_connections: 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            ack_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            retry_after: Duration::from_secs(1),
        }
    }
}

/// A collector: ingest, sinks and configuration, ready to [`serve`](Self::serve).
///
/// ```no_run
/// use std::sync::Arc;
/// use events_collector::{Collector, Config};
/// use events_core::ingest::Ingest;
/// use events_core::Registry;
/// use events_sinks::NdjsonSink;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let ingest = Ingest::builder(Registry::builtin())
///     .enrich(|event| { event.extra_mut().insert("site".into(), "shop".into()); });
/// let collector = Collector::new(ingest, Config::default())
///     .sink("events.ndjson", Arc::new(NdjsonSink::create("events.ndjson")?));
/// let listener = events_collector::bind("127.0.0.1:8080").await?;
/// collector.serve(listener, events_collector::shutdown_signal()).await?;
/// # Ok(()) }
/// ```
pub struct Collector {
    ingest: IngestBuilder,
    config: Config,
    sinks: Vec<(String, Arc<dyn Sink>)>,
    sink_dead_letter: DeadLetter,
    report: Option<Arc<dyn LiveReport>>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("config", &self.config)
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

impl Collector {
    /// A collector ingesting with `ingest` (registry, limits, enrichment), no sink yet.
    pub fn new(ingest: IngestBuilder, config: Config) -> Self {
        let sink_dead_letter = DeadLetter::file(&config.dead_letter);
        Collector {
            ingest,
            config,
            sinks: Vec::new(),
            sink_dead_letter,
            report: None,
        }
    }

    /// Adds a sink; `name` labels its metrics.
    pub fn sink(mut self, name: impl Into<String>, sink: Arc<dyn Sink>) -> Self {
        self.sinks.push((name.into(), sink));
        self
    }

    /// Where events a sink refuses outright go (default: [`Config::dead_letter`], the
    /// same file as the sinks' own dead letter in `webaction serve`).
    pub fn sink_dead_letter(mut self, dead_letter: DeadLetter) -> Self {
        self.sink_dead_letter = dead_letter;
        self
    }

    /// Feeds `report` with what is accepted and rejected, and serves its page at
    /// `GET /report` (without one, that route does not exist).
    pub fn report(mut self, report: Arc<dyn LiveReport>) -> Self {
        self.report = Some(report);
        self
    }

    /// Serves on `listener` until `shutdown` completes; then stops accepting
    /// connections, lets requests in flight finish, commits and closes the sinks, all
    /// within [`Config::shutdown_timeout`], and says how the sinks ended.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<Served, CollectorError> {
        http::serve(self, listener, shutdown).await
    }
}

/// How many connections the system completes for a collector's listener before they are
/// accepted ([`bind`]); the system caps it at `net.core.somaxconn` (4,096 on Linux since
/// 5.4).
pub const LISTEN_BACKLOG: u32 = 1024;

/// A listener for [`Collector::serve`] on the first of `addr`'s addresses that binds, with
/// room for [`LISTEN_BACKLOG`] connections not yet accepted.
///
/// Why not `tokio::net::TcpListener::bind`: through the standard library it asks for a
/// backlog of 128, and a burst of more new connections than that — browsers coming back
/// after a deploy, a load balancer opening its pool — finds the queue full while the
/// workers are busy: the system drops their handshakes, and each client tries again only
/// after a second (then three, then seven). The serve benchmark met it at 256 connections
/// (BENCHMARKS.md has the figures).
pub async fn bind(
    addr: impl tokio::net::ToSocketAddrs,
) -> std::io::Result<tokio::net::TcpListener> {
    let mut failed = None;
    for addr in tokio::net::lookup_host(addr).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        // As the standard library's `bind` does: a restart can listen again at once on an
        // address whose last connections are still closing.
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(error) => failed = Some(error),
        }
    }
    Err(failed.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// How a collector ended.
#[derive(Debug)]
pub struct Served {
    /// Each sink's name, and its final counts or why it could not close cleanly.
    pub sinks: Vec<(String, Result<SinkStats, SinkError>)>,
    /// Whether the requests in flight finished within the shutdown deadline.
    pub drained: bool,
}

impl Served {
    /// Whether every request finished and every sink closed cleanly.
    pub fn clean(&self) -> bool {
        self.drained && self.sinks.iter().all(|(_, closed)| closed.is_ok())
    }
}

/// Why a collector could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorError {
    /// The ingest thread could not start.
    #[error("cannot start the ingest thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The dead letter cannot be written.
    #[error("cannot write the dead letter `{}`: {source}", .path.display())]
    DeadLetter {
        /// Its path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}
