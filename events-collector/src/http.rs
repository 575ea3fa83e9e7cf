//! The HTTP side: routes, answers, connections, and the order of shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::decompression::RequestDecompressionLayer;
use tower_http::trace::TraceLayer;

use events_core::ingest::{Decoder, Enrich};
use events_sinks::{Confirmation, Receipt, Sink};

use crate::batches::Held;
use crate::batches::{valid_batch_id, Batches, Claim, Guard};
use crate::body::{content_type_taken, events};
use crate::ingestor::{
    self, Job, Message, Prepared, Processed, Rejected, RejectedFile, Reply, Work,
};
use crate::metrics::Metrics;
use crate::LiveReport;
use crate::{Ack, Collector, CollectorError, Config, Served};

/// What every request shares.
struct App {
    config: Config,
    jobs: mpsc::Sender<Message>,
    /// Decodes each request's events on its own thread, as the ingest thread would.
    decoder: Decoder,
    /// The pipeline's enrichment, run there too.
    enrich: Option<Mutex<Enrich>>,
    batches: Batches,
    metrics: Arc<Metrics>,
    sinks: Vec<(String, Arc<dyn Sink>)>,
    /// Events ingested whose receipts have not resolved.
    unconfirmed: Arc<AtomicU64>,
    /// Shutting down: new requests get `503`.
    draining: AtomicBool,
    report: Option<Arc<dyn LiveReport>>,
}

/// Set on a request whose body came compressed, before the decompression layer takes
/// the header away: a body that then fails to read failed to decompress.
#[derive(Debug, Clone, Copy)]
struct Compressed;

/// Completes on SIGTERM or SIGINT (Ctrl-C): what `webaction serve` stops on.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only SIGINT stops the collector");
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

pub(crate) async fn serve(
    collector: Collector,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<Served, CollectorError> {
    let Collector {
        mut ingest,
        config,
        sinks,
        sink_dead_letter,
        report,
    } = collector;
    sink_dead_letter
        .ensure_writable()
        .map_err(|source| CollectorError::DeadLetter {
            path: config.dead_letter.clone(),
            source,
        })?;
    let metrics = Arc::new(Metrics::new());
    let decoder = ingest.decoder();
    // Enrichment runs where the events are decoded, before they are tracked, as in
    // `Ingest::ingest`: on the requests' threads.
    let enrich = ingest.take_enrich().map(Mutex::new);
    let (jobs, inbox) = mpsc::channel(config.ingest_queue.max(1));
    let sink_list: Vec<Arc<dyn Sink>> = sinks.iter().map(|(_, s)| Arc::clone(s)).collect();
    let (commits, commit_requests) = std::sync::mpsc::channel();
    let commit_thread = {
        let sinks = sink_list.clone();
        let file = RejectedFile::new(&config.dead_letter, config.fsync);
        std::thread::Builder::new()
            .name("webaction-commit".to_owned())
            .spawn(move || ingestor::commit_all(sinks, file, commit_requests))
            .map_err(CollectorError::Thread)?
    };
    let ingest_thread = {
        let metrics = Arc::clone(&metrics);
        let report = report.clone();
        std::thread::Builder::new()
            .name("webaction-ingest".to_owned())
            .spawn(move || {
                ingestor::run(
                    ingest,
                    sink_list,
                    sink_dead_letter,
                    metrics,
                    report,
                    inbox,
                    commits,
                )
            })
            .map_err(CollectorError::Thread)?
    };
    let app = Arc::new(App {
        batches: Batches::new(config.batch_window, config.max_held_bytes),
        jobs,
        decoder,
        enrich,
        metrics,
        sinks,
        unconfirmed: Arc::new(AtomicU64::new(0)),
        draining: AtomicBool::new(false),
        config,
        report,
    });
    let router = router(Arc::clone(&app));
    let connections = Arc::new(Semaphore::new(app.config.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(app.config.header_timeout)
        .max_header_size(app.config.max_header_bytes);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        // Out of descriptors, say: wait a little rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                    tracing::warn!("connection limit reached; closing a new connection");
                    continue;
                };
                let service = TowerToHyperService::new(router.clone());
                let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    // Stop accepting, answer what is in flight (idle keep-alive connections close).
    drop(listener);
    app.draining.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + app.config.shutdown_timeout;
    let drained = tokio::time::timeout_at(deadline.into(), graceful.shutdown())
        .await
        .is_ok();
    if !drained {
        tracing::warn!("requests still in flight at the shutdown deadline");
    }
    // Everything answered was committed already. What is left belongs to requests whose
    // clients went: a sink blocked on a receiver that is down must not hold the ingest
    // thread past the deadline (its pending events go to the dead letter then).
    for (_, sink) in &app.sinks {
        sink.shut_down(deadline);
    }
    // The ingest thread commits the rest and stops.
    let _ = app.jobs.send(Message::Stop).await;
    // The commit thread makes the rest durable once the ingest thread is gone.
    let _ = tokio::task::spawn_blocking(move || {
        let _ = ingest_thread.join();
        commit_thread.join()
    })
    .await;
    let sinks = app
        .sinks
        .iter()
        .map(|(name, sink)| {
            let sink = Arc::clone(sink);
            (name.clone(), sink)
        })
        .collect::<Vec<_>>();
    let closed = tokio::task::spawn_blocking(move || {
        sinks
            .into_iter()
            .map(|(name, sink)| {
                let closed = sink.close(deadline);
                (name, closed)
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Ok(Served {
        sinks: closed,
        drained,
    })
}

fn router(app: Arc<App>) -> Router {
    let mut router: Router<Arc<App>> = Router::new()
        .route("/v1/events", post(post_events))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics));
    if app.report.is_some() {
        router = router.route("/report", get(report_page));
    }
    router = router
        .layer(RequestDecompressionLayer::new())
        .layer(middleware::from_fn(mark_compressed));
    if !app.config.allowed_origins.is_empty() {
        let origins: Vec<HeaderValue> = app
            .config
            .allowed_origins
            .iter()
            .filter_map(|origin| HeaderValue::from_str(origin).ok())
            .collect();
        router = router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_methods([Method::POST])
                .allow_headers([
                    header::CONTENT_TYPE,
                    header::CONTENT_ENCODING,
                    header::HeaderName::from_static("x-write-key"),
                    header::HeaderName::from_static("idempotency-key"),
                ])
                // A page on another origin reads `Retry-After` of a 503 to time its
                // resend; without this the browser hides it from the script.
                .expose_headers([header::RETRY_AFTER])
                .max_age(Duration::from_secs(3600)),
        );
    }
    router
        .layer(middleware::from_fn_with_state(Arc::clone(&app), timed))
        .layer(TraceLayer::new_for_http())
        .with_state(app)
}

async fn mark_compressed(mut request: Request, next: Next) -> Response {
    if request.headers().contains_key(header::CONTENT_ENCODING) {
        request.extensions_mut().insert(Compressed);
    }
    next.run(request).await
}

/// Counts every answer by route and status, with its latency.
async fn timed(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match request.uri().path() {
        "/v1/events" => "/v1/events",
        "/healthz" => "/healthz",
        "/readyz" => "/readyz",
        "/metrics" => "/metrics",
        "/report" => "/report",
        _ => "other",
    };
    let response = next.run(request).await;
    app.metrics
        .answered(route, response.status().as_u16(), started.elapsed());
    response
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(app): State<Arc<App>>) -> Response {
    let unconfirmed = app.unconfirmed.load(Ordering::Relaxed);
    let reason = if app.draining.load(Ordering::Relaxed) {
        Some("shutting down".to_owned())
    } else if app.jobs.is_closed() {
        Some("the ingest thread stopped".to_owned())
    } else if unconfirmed >= app.config.max_unconfirmed_events as u64 {
        Some(format!(
            "{unconfirmed} events await confirmation from the sinks (the bound is {})",
            app.config.max_unconfirmed_events
        ))
    } else {
        sinks_unready(&app).await
    };
    match reason {
        None => (StatusCode::OK, "ready\n").into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

/// How long `/readyz` waits for a network sink's receiver to answer a connection.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a sink cannot take events now, for the first that cannot: it lost events (a
/// write failed), or [`Sink::ready`] says its receiver is unreachable.
async fn sinks_unready(app: &Arc<App>) -> Option<String> {
    let sinks = app.sinks.clone();
    // A network sink's probe connects: off the async workers.
    tokio::task::spawn_blocking(move || {
        sinks.iter().find_map(|(name, sink)| {
            if sink.stats().lost > 0 {
                return Some(format!("sink {name} lost events: a write failed"));
            }
            sink.ready(READY_PROBE_TIMEOUT)
                .err()
                .map(|error| format!("sink {name}: {error}"))
        })
    })
    .await
    .unwrap_or_else(|_| Some("the sinks' probe failed".to_owned()))
}

async fn report_page(State(app): State<Arc<App>>) -> Response {
    let Some(report) = app.report.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Rendering thousands of maps takes milliseconds: off the async workers.
    match tokio::task::spawn_blocking(move || report.html()).await {
        Ok(page) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            )],
            page,
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    app.metrics
        .set_ingest_queue(app.jobs.max_capacity() - app.jobs.capacity());
    app.metrics
        .set_unconfirmed(app.unconfirmed.load(Ordering::Relaxed));
    let stats: Vec<(String, events_sinks::SinkStats)> = app
        .sinks
        .iter()
        .map(|(name, sink)| (name.clone(), sink.stats()))
        .collect();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(&stats),
    )
        .into_response()
}

/// An answer that is not `200`: its status and message, as
/// `{"error": "...", "requestId": "..."}`.
struct Refusal {
    status: StatusCode,
    message: String,
    retry_after: Option<Duration>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Refusal {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    fn unavailable(app: &App, message: impl Into<String>) -> Self {
        Refusal {
            retry_after: Some(app.config.retry_after),
            ..Refusal::new(StatusCode::SERVICE_UNAVAILABLE, message)
        }
    }

    fn into_response(self, request_id: &str) -> Response {
        let body = json!({"error": self.message, "requestId": request_id}).to_string();
        let mut response = (self.status, json_headers(), body).into_response();
        if let Some(after) = self.retry_after {
            let seconds = after.as_secs().max(1).to_string();
            if let Ok(value) = HeaderValue::from_str(&seconds) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

fn json_headers() -> [(header::HeaderName, HeaderValue); 1] {
    [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )]
}

async fn post_events(
    State(app): State<Arc<App>>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = match accept(&app, &query, request, &request_id).await {
        Ok(body) => (StatusCode::OK, json_headers(), body).into_response(),
        Err(refusal) => refusal.into_response(&request_id),
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), value);
    }
    response
}

/// Compares a given write key with the configured one in time that does not depend on
/// where they differ.
fn same_key(given: &str, expected: &str) -> bool {
    given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Everything `POST /v1/events` checks and does, in order: write key, content type,
/// batch id, body, ingest, durability.
async fn accept(
    app: &Arc<App>,
    query: &HashMap<String, String>,
    request: Request,
    request_id: &str,
) -> Result<Bytes, Refusal> {
    let headers = request.headers();
    if let Some(expected) = &app.config.write_key {
        let given =
            header_str(headers, "x-write-key").or(query.get("writeKey").map(String::as_str));
        if !given.is_some_and(|given| same_key(given, expected)) {
            return Err(Refusal::new(
                StatusCode::UNAUTHORIZED,
                "a write key is required: header `X-Write-Key` or query parameter `writeKey`",
            ));
        }
    }
    match header_str(headers, header::CONTENT_TYPE.as_str()) {
        Some(content_type) if content_type_taken(content_type) => {}
        other => {
            return Err(Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "Content-Type {}: expected one of {}",
                    other.map_or("missing".to_owned(), |t| format!("`{t}`")),
                    crate::CONTENT_TYPES.join(", ")
                ),
            ))
        }
    }
    let batch_id = query
        .get("batchId")
        .map(String::as_str)
        .or(header_str(headers, "idempotency-key"));
    if let Some(id) = batch_id {
        if !valid_batch_id(id) {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "batchId `{id}`: expected 1 to {} letters, digits, `-` or `_`",
                    crate::MAX_BATCH_ID_LEN
                ),
            ));
        }
    }
    if app.draining.load(Ordering::Relaxed) {
        return Err(Refusal::unavailable(app, "the collector is shutting down"));
    }
    let guard = match batch_id.map(|id| app.batches.claim(id)) {
        None => None,
        Some(Claim::Answered(body)) => return Ok(body),
        Some(Claim::InFlight) => {
            return Err(Refusal::unavailable(
                app,
                "this batch is being ingested by another request; resend it later",
            ))
        }
        // Tracked before, not confirmed: its first body is delivered again, whatever
        // this one holds (the same batch, by its id).
        Some(Claim::Unconfirmed(guard, held)) => {
            return see_through(app, Taken::Resend(guard, held)).await
        }
        Some(Claim::New(guard)) => Some(guard),
    };
    let compressed = request.extensions().get::<Compressed>().is_some();
    let body = read_body(app, request.into_body(), compressed).await?;
    let spans =
        events(&body).map_err(|error| Refusal::new(StatusCode::BAD_REQUEST, error.to_string()))?;
    let batch = Batch {
        request_id: request_id.to_owned(),
        body,
        spans: spans.into(),
    };
    see_through(app, Taken::New(batch, guard)).await
}

/// A request's events, as they came.
struct Batch {
    request_id: String,
    body: Bytes,
    spans: Arc<[std::ops::Range<usize>]>,
}

/// What a request brings to ingest.
enum Taken {
    /// A new batch, and the claim on its id if it has one.
    New(Batch, Option<Guard>),
    /// The resend of a batch tracked before and not confirmed, and the claim on its id.
    Resend(Guard, Held),
}

/// Ingests a new batch, or delivers again a held one, on a task of its own, and answers.
/// From here on the request is seen through even if its client goes (a page that
/// closed), and past the ack timeout: the batch id's entry is settled when the sinks
/// confirm, so a resend gets `"duplicate": true` once the events are durable, or has
/// them delivered again if they never were. A delivered-again batch answers with the
/// `requestId` of the request that tracked it, which its dead-letter records name.
async fn see_through(app: &Arc<App>, taken: Taken) -> Result<Bytes, Refusal> {
    let (answer_to, answered) = oneshot::channel();
    let task_app = Arc::clone(app);
    tokio::spawn(async move {
        let app = task_app;
        let (batch, work, held, guard) = match taken {
            Taken::New(batch, guard) => (batch, Work::Track, None, guard),
            Taken::Resend(guard, held) => {
                let batch = Batch {
                    request_id: held.request_id.clone(),
                    body: held.body.clone(),
                    spans: Arc::clone(&held.spans),
                };
                let work = Work::Redeliver {
                    verdicts: Arc::clone(&held.verdicts),
                    sinks: held.sinks_pending,
                    letter: held.letter_pending,
                };
                (batch, work, Some(held), Some(guard))
            }
        };
        // Decoding, enriching and writing the JSON need no tracker: here, on this
        // request's thread, not on the ingest thread.
        let prepared = Prepared::new(&app.decoder, app.enrich.as_ref(), &batch.body, &batch.spans);
        let (processed, pending) = match submit(&app, &batch, prepared, work) {
            Ok(submitted) => submitted,
            // Not tracked: the guard forgets a new batch, holds a held one again.
            Err(refusal) => {
                let _ = answer_to.send(Err(refusal));
                return;
            }
        };
        let verdicts = |processed: Processed| match &held {
            Some(held) => Arc::clone(&held.verdicts),
            None => Arc::new(processed),
        };
        let pending = match pending {
            Some(pending) => pending,
            // `Ack::Queued`: answered once the ingest thread took the events.
            None => {
                let (answered, spent) = match processed.await {
                    Ok(Reply { processed, spent }) => (
                        Ok(answer(&verdicts(processed), &batch.request_id, guard)),
                        spent,
                    ),
                    Err(_) => (
                        Err(Refusal::unavailable(&app, "the ingest thread stopped")),
                        Vec::new(),
                    ),
                };
                let _ = answer_to.send(answered);
                drop(spent);
                return;
            }
        };
        // The receipts first: the ingest thread's verdicts are there by the time they
        // resolve, and a task that waits for them alone is woken once, not twice.
        let confirmed = pending.confirmed();
        tokio::pin!(confirmed);
        let mut answer_to = Some(answer_to);
        let settled = match tokio::time::timeout(app.config.ack_timeout, &mut confirmed).await {
            Ok(settled) => settled,
            Err(_) => {
                if let Some(answer_to) = answer_to.take() {
                    let _ = answer_to.send(Err(Refusal::unavailable(
                        &app,
                        "the sinks did not confirm the events in time; resend the batch",
                    )));
                }
                confirmed.await
            }
        };
        let Ok(Reply { processed, spent }) = processed.await else {
            if let Some(answer_to) = answer_to {
                let _ =
                    answer_to.send(Err(Refusal::unavailable(&app, "the ingest thread stopped")));
            }
            return;
        };
        let verdicts = verdicts(processed);
        let result = match settled {
            Settled::Durable => Ok(answer(&verdicts, &batch.request_id, guard)),
            Settled::Stopped => Err(Refusal::unavailable(&app, "the ingest thread stopped")),
            Settled::NotDurable {
                sinks,
                letter,
                confirmation,
            } => {
                if let Some(guard) = guard {
                    let (was_sinks, was_letter) = held
                        .as_ref()
                        .map_or((true, true), |h| (h.sinks_pending, h.letter_pending));
                    guard.unconfirmed(Held {
                        request_id: batch.request_id.clone(),
                        body: batch.body.clone(),
                        spans: Arc::clone(&batch.spans),
                        verdicts: Arc::clone(&verdicts),
                        sinks_pending: was_sinks && !sinks,
                        letter_pending: was_letter && !letter,
                    });
                }
                let letter = if letter {
                    ""
                } else {
                    "; the rejected events' dead-letter records were not written"
                };
                Err(Refusal::unavailable(
                    &app,
                    format!(
                        "not every event is durable: {} dead-lettered and {} lost by the \
                         sinks{letter}; resend the batch (same batchId): what was accepted \
                         is delivered again, not judged again",
                        confirmation.dead_lettered, confirmation.lost,
                    ),
                ))
            }
        };
        if let Some(answer_to) = answer_to {
            let _ = answer_to.send(result);
        }
        // Freed here, where they were decoded, once the answer is on its way.
        drop(spent);
    });
    answered
        .await
        .unwrap_or_else(|_| Err(Refusal::unavailable(app, "the request's task failed")))
}

/// Reads the body, decompressed, up to the limit and within the body timeout.
async fn read_body(app: &App, body: Body, compressed: bool) -> Result<Bytes, Refusal> {
    let max = app.config.max_body_bytes;
    let read = Limited::new(body, max).collect();
    let collected = match tokio::time::timeout(app.config.body_timeout, read).await {
        Err(_) => {
            return Err(Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} s",
                    app.config.body_timeout.as_secs_f64()
                ),
            ))
        }
        Ok(collected) => collected,
    };
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than {max} bytes{}",
                if compressed { " once decompressed" } else { "" }
            ),
        )),
        Err(error) if compressed => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid gzip: {error}"),
        )),
        Err(error) => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("the body could not be read: {error}"),
        )),
    }
}

/// The receipts a job's events wait on, with [`Ack::Durable`].
struct Pending {
    sinks: oneshot::Receiver<Confirmation>,
    letter: oneshot::Receiver<Confirmation>,
}

/// How a job's delivery ended.
enum Settled {
    Durable,
    /// `sinks`: every accepted event durable; `letter`: every rejected record.
    NotDurable {
        sinks: bool,
        letter: bool,
        confirmation: Confirmation,
    },
    Stopped,
}

impl Pending {
    async fn confirmed(self) -> Settled {
        let (Ok(sinks), Ok(letter)) = (self.sinks.await, self.letter.await) else {
            return Settled::Stopped;
        };
        match (sinks.all_delivered(), letter.all_delivered()) {
            (true, true) => Settled::Durable,
            (sinks_ok, letter_ok) => Settled::NotDurable {
                sinks: sinks_ok,
                letter: letter_ok,
                confirmation: sinks,
            },
        }
    }
}

/// Hands the events to the ingest thread; gives back where its verdicts come and, with
/// [`Ack::Durable`], the receipts to wait on.
fn submit(
    app: &App,
    batch: &Batch,
    prepared: Prepared,
    work: Work,
) -> Result<(oneshot::Receiver<Reply>, Option<Pending>), Refusal> {
    let events = batch.spans.len() as u64;
    let bound = app.config.max_unconfirmed_events as u64;
    let before = app.unconfirmed.fetch_add(events, Ordering::SeqCst);
    if before > 0 && before + events > bound {
        app.unconfirmed.fetch_sub(events, Ordering::SeqCst);
        return Err(Refusal::unavailable(
            app,
            "the sinks are behind: too many events await confirmation",
        ));
    }
    let (confirmed, sinks) = oneshot::channel();
    let unconfirmed = Arc::clone(&app.unconfirmed);
    let receipt = Receipt::new(move |result| {
        unconfirmed.fetch_sub(events, Ordering::SeqCst);
        let _ = confirmed.send(result);
    });
    let (written, letter) = oneshot::channel();
    let letter_receipt = Receipt::new(move |result| {
        let _ = written.send(result);
    });
    let (reply, processed) = oneshot::channel();
    let job = Job {
        request_id: batch.request_id.clone(),
        body: batch.body.clone(),
        events: Arc::clone(&batch.spans),
        prepared,
        work,
        receipt,
        letter: letter_receipt,
        reply,
    };
    if let Err(error) = app.jobs.try_send(Message::Job(job)) {
        // The job never reached ingest: its receipt is dropped unresolved.
        app.unconfirmed.fetch_sub(events, Ordering::SeqCst);
        let message = match error {
            mpsc::error::TrySendError::Full(_) => "the ingest queue is full",
            mpsc::error::TrySendError::Closed(_) => "the ingest thread stopped",
        };
        return Err(Refusal::unavailable(app, message));
    }
    if app.config.ack == Ack::Queued {
        return Ok((processed, None));
    }
    Ok((processed, Some(Pending { sinks, letter })))
}

/// The `200` body; a batch with an id is remembered with its duplicate answer.
fn answer(processed: &Processed, request_id: &str, guard: Option<Guard>) -> Bytes {
    let body = |duplicate: bool| {
        let answer = Answer {
            accepted: processed.accepted,
            rejected: &processed.rejected,
            duplicate,
            request_id,
        };
        Bytes::from(serde_json::to_vec(&answer).expect("an answer is plain JSON"))
    };
    if let Some(guard) = guard {
        guard.answered(body(true));
    }
    body(false)
}

/// The `200` body, written as it is declared: `{"accepted", "rejected": [{"index",
/// "kind", "error"}], "duplicate", "requestId"}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    accepted: usize,
    rejected: &'a [Rejected],
    duplicate: bool,
    request_id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_lists_its_fields_in_the_documented_order() {
        let processed = Processed {
            accepted: 2,
            rejected: vec![Rejected {
                index: 1,
                kind: "invalid_json",
                error: "expected `\"`".to_owned(),
            }],
        };
        assert_eq!(
            answer(&processed, "r-1", None),
            Bytes::from_static(
                br#"{"accepted":2,"rejected":[{"index":1,"kind":"invalid_json","error":"expected `\"`"}],"duplicate":false,"requestId":"r-1"}"#
            )
        );
    }
}
