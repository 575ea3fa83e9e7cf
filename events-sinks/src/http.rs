use std::fmt;
#[cfg(feature = "tls")]
use std::path::Path;
use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
#[cfg(feature = "tls")]
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
#[cfg(feature = "tls")]
use rustls::pki_types::pem::PemObject;
#[cfg(feature = "tls")]
use rustls::pki_types::CertificateDer;
#[cfg(feature = "tls")]
use rustls::{ClientConfig, RootCertStore};

use crate::pipeline::{Attempt, Delivery, Pipeline, Pipelined, Queued, Transport};
use crate::{BodyShape, DeadLetter, QueueConfig, Sink, SinkError};

/// Where and how an [`HttpSink`] posts.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// The collector, e.g. `https://collector.example/batch` or
    /// `http://127.0.0.1:8080/batch`.
    pub url: String,
    /// For an `https://` collector: a PEM file of root certificates to trust besides the
    /// system's (a private CA, or a test one). `None`: the system's alone.
    pub ca_file: Option<PathBuf>,
    /// The body of each request.
    pub shape: BodyShape,
    /// Batching, queue bound, full-queue policy and retries.
    pub queue: QueueConfig,
}

impl HttpConfig {
    /// Defaults for `url`: raw event arrays, [`QueueConfig::default`].
    pub fn new(url: impl Into<String>) -> Self {
        HttpConfig {
            url: url.into(),
            ca_file: None,
            shape: BodyShape::default(),
            queue: QueueConfig::default(),
        }
    }
}

/// Posts batches of events to an HTTP collector.
///
/// [`send`](Sink::send) serializes the event and queues it; a background thread posts
/// batches of up to `batch_size` events, or fewer once the oldest has waited
/// `max_batch_age`. The outcome of each request decides each event's fate:
///
/// | answer | what happens |
/// | --- | --- |
/// | 2xx | delivered |
/// | connection error, timeout, 408, 429, 5xx | retried with backoff; `Retry-After` honoured up to [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after) |
/// | any other status | dead letter, with the status and the start of the body |
/// | retries exhausted, or closed past the deadline | dead letter, with the last error |
///
/// `https://` collectors are verified against the system's root certificates (and
/// [`HttpConfig::ca_file`]'s), over TLS 1.2 or 1.3 (rustls). A certificate the sink does
/// not trust is a connection error: retried, then dead-lettered with the reason.
pub struct HttpSink {
    pipeline: Pipeline,
    url: Uri,
}

impl HttpSink {
    /// Starts the sink's worker. Fails on a URL that is not `http[s]://host[:port]/path`,
    /// and on a [`ca_file`](HttpConfig::ca_file) that cannot be read, holds no
    /// certificate, or comes with an `http://` URL.
    pub fn new(config: HttpConfig, dead_letter: DeadLetter) -> Result<Self, SinkError> {
        let url: Uri = config
            .url
            .parse()
            .map_err(|error| SinkError::Config(format!("invalid URL `{}`: {error}", config.url)))?;
        let https = match (url.scheme_str(), url.host()) {
            (Some("https"), Some(_)) => true,
            (Some("http"), Some(_)) => false,
            _ => {
                return Err(SinkError::Config(format!(
                    "`{}`: expected an http://host[:port]/path or https://host[:port]/path URL",
                    config.url
                )))
            }
        };
        let connector = connector(&config, https)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(SinkError::Worker)?;
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let transport = HttpTransport {
            client,
            url: url.clone(),
            shape: config.shape,
        };
        let pipeline = Pipeline::start(transport, config.queue, dead_letter, runtime)?;
        Ok(HttpSink { pipeline, url })
    }
}

impl Pipelined for HttpSink {
    fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Reachable: a TCP connection to the collector's host and port opens in time (no
    /// request is sent; TLS and the answers are the deliveries' concern).
    fn ready(&self, timeout: Duration) -> Result<(), SinkError> {
        let host = self.url.host().unwrap_or_default();
        let port = self.url.port_u16().unwrap_or(match self.url.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let target = format!("{host}:{port}");
        let unreachable = |source| SinkError::Unreachable {
            target: target.clone(),
            source,
        };
        // `[::1]` in a URL is `::1` to the resolver.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut last = std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "the host resolves to no address",
        );
        for address in
            std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map_err(unreachable)?
        {
            match std::net::TcpStream::connect_timeout(&address, timeout) {
                Ok(_) => return Ok(()),
                Err(error) => last = error,
            }
        }
        Err(unreachable(last))
    }
}

impl fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSink")
            .field("url", &self.url)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What connects to the collector: TCP, with TLS on top when the `tls` feature is on.
#[cfg(feature = "tls")]
type Connector = HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// A TCP connector for the pool (TLS layered on it when built with `tls`).
fn tcp() -> HttpConnector {
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp
}

#[cfg(feature = "tls")]
fn connector(config: &HttpConfig, https: bool) -> Result<Connector, SinkError> {
    let roots = match (https, &config.ca_file) {
        (true, ca_file) => trusted_roots(&config.url, ca_file.as_deref())?,
        (false, None) => RootCertStore::empty(),
        (false, Some(path)) => {
            return Err(SinkError::Config(format!(
                "`{}`: a CA file ({}) only applies to an https:// URL",
                config.url,
                path.display()
            )))
        }
    };
    let tls =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| SinkError::Config(format!("TLS: {error}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut tcp = tcp();
    // The TLS layer above it takes `https://` URLs; this one only connects.
    tcp.enforce_http(false);
    Ok(HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp))
}

#[cfg(not(feature = "tls"))]
fn connector(config: &HttpConfig, https: bool) -> Result<Connector, SinkError> {
    if https || config.ca_file.is_some() {
        return Err(SinkError::Config(format!(
            "`{}`: https:// and CA files need the `tls` feature of events-sinks",
            config.url
        )));
    }
    Ok(tcp())
}

/// The system's root certificates, and those of `ca_file`.
#[cfg(feature = "tls")]
fn trusted_roots(url: &str, ca_file: Option<&Path>) -> Result<RootCertStore, SinkError> {
    let mut roots = RootCertStore::empty();
    // A system certificate that cannot be read or parsed is skipped, as other TLS clients
    // do; if none is left, the check below says so.
    let system = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(system.certs);
    if let Some(path) = ca_file {
        let unreadable = |error: &dyn fmt::Display| {
            SinkError::Config(format!("CA file {}: {error}", path.display()))
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|error| unreadable(&error))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| unreadable(&error))?;
        if certs.is_empty() {
            return Err(unreadable(&"no PEM certificate in it"));
        }
        for cert in certs {
            roots.add(cert).map_err(|error| unreadable(&error))?;
        }
    }
    if roots.is_empty() {
        let why = system.errors.first().map_or_else(
            || "the system's store has none".to_owned(),
            |error| format!("the system's store could not be read ({error})"),
        );
        return Err(SinkError::Config(format!(
            "`{url}`: no trusted root certificate: {why}; give the collector's CA as a PEM \
             CA file (`HttpConfig::ca_file`, `--ca-file`)"
        )));
    }
    Ok(roots)
}

struct HttpTransport {
    client: Client<Connector, Full<Bytes>>,
    url: Uri,
    shape: BodyShape,
}

/// The `Idempotency-Key` of a batch: a digest of its events' idempotency keys, in order,
/// so a retry of the same batch carries the same key and any other batch another one. A
/// receiver that deduplicates whole requests by it drops a retried batch; per event, the
/// keys in the body (`messageId`, or `actionId` + `actionState`) still hold when a batch
/// is cut differently (a retry of part of it, another process re-delivering).
fn batch_key(batch: &[Queued]) -> HeaderValue {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same digest in every process of one build.
    let digest = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        salt.hash(&mut hasher);
        for event in batch {
            event.key.hash(&mut hasher);
        }
        hasher.finish()
    };
    HeaderValue::from_str(&format!(
        "{:016x}{:016x}-{}",
        digest(0),
        digest(1),
        batch.len()
    ))
    .expect("hex digits and a number are a valid header value")
}

/// How much of a refusal's body the dead letter keeps.
const BODY_KEPT: usize = 4096;

impl Transport for HttpTransport {
    const NAME: &'static str = "http";

    async fn deliver(&self, batch: &[Queued], timeout: Duration) -> Delivery {
        let body = body(self.shape, batch);
        let request = Request::post(self.url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("webaction-events/", env!("CARGO_PKG_VERSION"))),
            )
            .header("Idempotency-Key", batch_key(batch))
            .body(Full::new(body))
            .expect("a POST with a parsed URI and static headers is valid");
        let exchange = async {
            let response = self.client.request(request).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| parse_retry_after(value.to_str().ok()?));
            // Read the body even on success, so the connection goes back to the pool.
            let body = Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
                .map(|body| body.to_bytes())
                .unwrap_or_default();
            Ok::<_, hyper_util::client::legacy::Error>((status, retry_after, body))
        };
        let attempt = match tokio::time::timeout(timeout, exchange).await {
            Err(_) => Attempt::Retry {
                error: format!("no answer within {timeout:?}"),
                retry_after: None,
            },
            Ok(Err(error)) => Attempt::Retry {
                error: error_chain(&error),
                retry_after: None,
            },
            Ok(Ok((status, retry_after, body))) => classify(status, retry_after, &body),
        };
        Delivery::Batch(attempt)
    }
}

fn classify(status: StatusCode, retry_after: Option<Duration>, body: &[u8]) -> Attempt {
    if status.is_success() {
        Attempt::Delivered
    } else if status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
    {
        Attempt::Retry {
            error: format!("HTTP {status}"),
            retry_after,
        }
    } else {
        let kept = &body[..body.len().min(BODY_KEPT)];
        Attempt::Rejected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(kept).into_owned(),
        }
    }
}

/// `Retry-After` is either seconds or an HTTP date (RFC 9110 §10.2.3).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or_default())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The request body for `batch` in `shape`.
fn body(shape: BodyShape, batch: &[Queued]) -> Bytes {
    let size: usize = batch.iter().map(|q| q.json.len() + 2).sum();
    let mut out = Vec::with_capacity(size + 160 * batch.len() + 16);
    match shape {
        BodyShape::Events => {
            out.push(b'[');
            for (i, event) in batch.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(&event.json);
            }
            out.push(b']');
        }
        BodyShape::TrackBatch => {
            out.extend_from_slice(b"{\"batch\":[");
            for (i, event) in batch.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"type\":\"track\",\"messageId\":");
                serde_json::to_writer(&mut out, &*event.key).expect("a string serializes");
                out.extend_from_slice(b",\"anonymousId\":\"");
                out.extend_from_slice(
                    event
                        .customer_id
                        .hyphenated()
                        .encode_lower(&mut events_core::Uuid::encode_buffer())
                        .as_bytes(),
                );
                out.extend_from_slice(b"\",\"event\":");
                serde_json::to_writer(&mut out, &track_event_name(event.state))
                    .expect("a string serializes");
                out.extend_from_slice(b",\"properties\":");
                out.extend_from_slice(&event.json);
                out.push(b'}');
            }
            out.extend_from_slice(
                b"],\"context\":{\"library\":{\"name\":\"webaction-events\",\"version\":\"",
            );
            out.extend_from_slice(env!("CARGO_PKG_VERSION").as_bytes());
            out.extend_from_slice(b"\"}}}");
        }
    }
    Bytes::from(out)
}

/// `"Web Action Offered"` for `offered`: analytics platforms name track events in title
/// case ("Object Action"). Camel case and `_`/`-` split words: `timedOut` → `Timed Out`.
pub(crate) fn track_event_name(state: &str) -> String {
    let mut name = String::from("Web Action");
    let mut new_word = true;
    for c in state.chars() {
        if c == '_' || c == '-' || c == ' ' {
            new_word = true;
            continue;
        }
        if c.is_uppercase() {
            new_word = true;
        }
        if new_word {
            name.push(' ');
            name.extend(c.to_uppercase());
            new_word = false;
        } else {
            name.push(c);
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(action: u128, state: &str) -> Queued {
        let line = format!(
            r#"{{"actionId":"{}","actionState":"{state}","actionMediaType":"webchat",
            "actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,
            "customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie",
            "sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}"#,
            events_core::Uuid::from_u128(action)
        );
        let event: events_core::WebChatEvent = serde_json::from_str(&line).unwrap();
        Queued::new(&event as &events_core::AnyEvent, None).unwrap()
    }

    #[test]
    fn a_batch_keeps_its_idempotency_key_and_another_batch_gets_another() {
        let batch = [queued(1, "offered"), queued(2, "offered")];
        let again = [queued(1, "offered"), queued(2, "offered")];
        assert_eq!(batch_key(&batch), batch_key(&again));
        let other = [queued(1, "offered"), queued(2, "accepted")];
        assert_ne!(batch_key(&batch), batch_key(&other));
        assert_ne!(batch_key(&batch), batch_key(&batch[..1]));
    }

    #[test]
    fn track_event_names_are_title_case() {
        assert_eq!(track_event_name("offered"), "Web Action Offered");
        assert_eq!(track_event_name("timedout"), "Web Action Timedout");
        assert_eq!(track_event_name("timedOut"), "Web Action Timed Out");
        assert_eq!(track_event_name("not_shown"), "Web Action Not Shown");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn statuses_decide_retry_or_dead_letter() {
        let retry = |s: u16| {
            matches!(
                classify(StatusCode::from_u16(s).unwrap(), None, b""),
                Attempt::Retry { .. }
            )
        };
        for status in [500, 502, 503, 504, 429, 408] {
            assert!(retry(status), "{status}");
        }
        for status in [400, 401, 403, 404, 413, 422, 301] {
            assert!(!retry(status), "{status}");
        }
        assert!(matches!(
            classify(StatusCode::NO_CONTENT, None, b""),
            Attempt::Delivered
        ));
        match classify(StatusCode::BAD_REQUEST, None, b"bad field `x`") {
            Attempt::Rejected { status, body } => {
                assert_eq!((status, &*body), (400, "bad field `x`"))
            }
            other => panic!("{other:?}"),
        }
    }
}
