//! A real HTTP (or HTTPS) collector on 127.0.0.1 that fails on command: for the tests of
//! the HTTP sink (feature `http`).

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::*;

/// How the collector answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 200, events accepted.
    Ok,
    /// This status, events not accepted.
    Status(u16),
    /// 429 with `Retry-After: <seconds>`.
    TooManyRequests(u64),
    /// This status and body: the client's fault.
    Reject(u16, &'static str),
    /// Accept the events, then answer 200 only after this long (past the client's
    /// timeout): the client cannot know they arrived.
    Stall(Duration),
    /// Read the request, then reset the connection (RST, no answer).
    Reset,
}

impl Fault {
    fn kind(&self) -> &'static str {
        match self {
            Fault::Ok => "ok",
            Fault::Status(_) => "status",
            Fault::TooManyRequests(_) => "429",
            Fault::Reject(..) => "reject",
            Fault::Stall(_) => "stall",
            Fault::Reset => "reset",
        }
    }
}

type Plan = Box<dyn FnMut(u64) -> Fault + Send>;

/// What the collector saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every request: its arrival time, what it was answered, the events' keys.
    pub requests: Vec<(Instant, Fault, Vec<String>)>,
    /// The events of accepted requests (`Ok` and `Stall`), in arrival order, as JSON.
    pub accepted: Vec<Value>,
    /// The raw bodies of accepted requests.
    pub bodies: Vec<Value>,
}

impl Seen {
    pub fn accepted_keys(&self) -> Vec<String> {
        self.accepted.iter().map(event_key).collect()
    }

    /// Events in requests that were not accepted (to be retried by the client).
    pub fn failed_events(&self) -> usize {
        self.requests
            .iter()
            .filter(|(_, fault, _)| {
                !matches!(fault, Fault::Ok | Fault::Stall(_) | Fault::Reject(..))
            })
            .map(|(_, _, keys)| keys.len())
            .sum()
    }

    pub fn count(&self, kind: &str) -> usize {
        self.requests
            .iter()
            .filter(|(_, f, _)| f.kind() == kind)
            .count()
    }
}

/// The key of an accepted item: a raw event, or a `track` call's `messageId`.
fn event_key(item: &Value) -> String {
    match item.get("messageId") {
        Some(id) => id.as_str().unwrap().to_owned(),
        None => key_of(item),
    }
}

struct Shared {
    plan: Mutex<Plan>,
    next: AtomicU64,
    seen: Mutex<Seen>,
}

/// A real HTTP/1.1 server on 127.0.0.1, answering each request as its plan says; over
/// TLS with the certificate in `tests/fixtures/tls` when started with `start_tls`.
pub struct Collector {
    pub addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    stop: Arc<Notify>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Collector {
    pub fn start(plan: impl FnMut(u64) -> Fault + Send + 'static) -> Collector {
        Collector::start_on(0, plan)
    }

    pub fn start_on(port: u16, plan: impl FnMut(u64) -> Fault + Send + 'static) -> Collector {
        Collector::listen(port, None, plan)
    }

    /// An HTTPS collector, whose certificate `tls_fixture("ca.pem")` signs.
    pub fn start_tls(plan: impl FnMut(u64) -> Fault + Send + 'static) -> Collector {
        let certs = CertificateDer::pem_file_iter(tls_fixture("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(tls_fixture("server.key")).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        Collector::listen(0, Some(TlsAcceptor::from(Arc::new(config))), plan)
    }

    fn listen(
        port: u16,
        tls: Option<TlsAcceptor>,
        plan: impl FnMut(u64) -> Fault + Send + 'static,
    ) -> Collector {
        let listener = StdListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            plan: Mutex::new(Box::new(plan)),
            next: AtomicU64::new(0),
            seen: Mutex::new(Seen::default()),
        });
        let stop = Arc::new(Notify::new());
        let (thread_shared, thread_stop) = (Arc::clone(&shared), Arc::clone(&stop));
        let (is_tls, acceptor) = (tls.is_some(), tls);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let (stream, _) = tokio::select! {
                        accepted = listener.accept() => accepted.unwrap(),
                        () = thread_stop.notified() => return,
                    };
                    // Dropping the stream then sends RST instead of FIN: a reset.
                    stream.set_zero_linger().unwrap();
                    stream.set_nodelay(true).unwrap();
                    let shared = Arc::clone(&thread_shared);
                    match &acceptor {
                        None => drop(tokio::spawn(serve(stream, shared))),
                        Some(acceptor) => {
                            let handshake = acceptor.accept(stream);
                            tokio::spawn(async move {
                                // A client that refuses the certificate ends here.
                                if let Ok(stream) = handshake.await {
                                    serve(stream, shared).await;
                                }
                            });
                        }
                    }
                }
            });
        });
        Collector {
            addr,
            tls: is_tls,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/batch", self.addr)
    }

    pub fn seen<R>(&self, f: impl FnOnce(&Seen) -> R) -> R {
        f(&self.shared.seen.lock().unwrap())
    }

    /// Waits (up to 10 s) until `accepted` holds `n` events.
    pub fn wait_for_accepted(&self, n: usize) {
        let until = deadline(10);
        while self.seen(|s| s.accepted.len()) < n {
            assert!(
                Instant::now() < until,
                "collector got {} of {n}",
                self.seen(|s| s.accepted.len())
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop.notify_one();
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

async fn serve(stream: impl AsyncRead + AsyncWrite + Unpin + Send + 'static, shared: Arc<Shared>) {
    let reset = Arc::new(Notify::new());
    let service_reset = Arc::clone(&reset);
    let service = hyper::service::service_fn(move |request| {
        answer(request, Arc::clone(&shared), Arc::clone(&service_reset))
    });
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = reset.notified() => {}
    }
}

async fn answer(
    request: Request<Incoming>,
    shared: Arc<Shared>,
    reset: Arc<Notify>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let value: Value = serde_json::from_slice(&body).expect("the sink posts JSON");
    let items: Vec<Value> = match &value {
        Value::Array(events) => events.clone(),
        Value::Object(object) => object["batch"].as_array().unwrap().clone(),
        other => panic!("unexpected body {other}"),
    };
    let keys = items.iter().map(event_key).collect();
    let index = shared.next.fetch_add(1, Ordering::SeqCst);
    let fault = (shared.plan.lock().unwrap())(index);
    {
        let mut seen = shared.seen.lock().unwrap();
        seen.requests.push((Instant::now(), fault.clone(), keys));
        if matches!(fault, Fault::Ok | Fault::Stall(_)) {
            seen.accepted.extend(items);
            seen.bodies.push(value);
        }
    }
    let respond = |status: u16, body: &'static str| {
        Response::builder()
            .status(StatusCode::from_u16(status).unwrap())
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    Ok(match fault {
        Fault::Ok => respond(200, "{\"success\":true}"),
        Fault::Status(status) => respond(status, "collector failure"),
        Fault::TooManyRequests(seconds) => {
            let mut response = respond(429, "slow down");
            response
                .headers_mut()
                .insert("retry-after", seconds.to_string().parse().unwrap());
            response
        }
        Fault::Reject(status, body) => respond(status, body),
        Fault::Stall(duration) => {
            tokio::time::sleep(duration).await;
            respond(200, "{\"success\":true}")
        }
        Fault::Reset => {
            reset.notify_one();
            std::future::pending().await
        }
    })
}
