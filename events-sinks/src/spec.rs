use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{
    DataLayerFormat, DataLayerSink, DeadLetter, FileOptions, NdjsonSink, QueueConfig, Sink,
    SinkError,
};
#[cfg(feature = "http")]
use crate::{HttpConfig, HttpSink};
#[cfg(feature = "nats")]
use crate::{NatsConfig, NatsSink};

/// The JSON body of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyShape {
    /// The events as they are, in a JSON array: `[{"actionId":...}, ...]`. A receiver
    /// drops duplicates by `actionId` + `actionState`.
    #[default]
    Events,
    /// An analytics platform's batch of `track` calls (Segment's batch API shape):
    /// `{"batch":[{"type":"track","messageId":"<actionId>:<state>",
    /// "anonymousId":"<customerId>","event":"Web Action Offered","properties":{...}}]}`,
    /// with every field of the event as `properties`.
    TrackBatch,
}

/// Standard output or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// `-`.
    Stdout,
    /// A path; the file is created, or truncated unless [`FileOptions::append`] says.
    File(PathBuf),
}

impl Output {
    fn parse(text: &str) -> Output {
        if text == "-" {
            Output::Stdout
        } else {
            Output::File(PathBuf::from(text))
        }
    }
}

/// A sink named on a command line:
///
/// | spec | sink |
/// | --- | --- |
/// | `ndjson:-`, `ndjson:PATH` | [`NdjsonSink`] to stdout or a file |
/// | `datalayer:-`, `datalayer:PATH` | [`DataLayerSink`]; a `.json` path gets a JSON array, anything else NDJSON, unless [`SinkOptions::datalayer_format`] says |
/// | `http://host:port/path`, `https://host[:port]/path` | [`HttpSink`] |
/// | `nats://host:port/<subject-prefix>` | [`NatsSink`] publishing to `<subject-prefix>.<mediaType>.<state>` |
/// | `tls://host:port/<subject-prefix>` | the same, TLS required (the NATS clients' scheme) |
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkSpec {
    /// `ndjson:-` or `ndjson:PATH`.
    Ndjson(Output),
    /// `datalayer:-` or `datalayer:PATH`.
    DataLayer(Output),
    /// An `http://` or `https://` URL.
    Http(String),
    /// `nats://host:port/<subject-prefix>` or `tls://host:port/<subject-prefix>`.
    Nats {
        /// `nats://host:port` or `tls://host:port`.
        url: String,
        /// The prefix of every subject; `/` in the spec's path become `.`.
        subject_prefix: String,
    },
}

/// A sink spec that names no sink.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// `ndjson:` or `datalayer:` without a path.
    #[error("`{spec}`: expected a path or `-` (stdout) after `{kind}:`")]
    MissingPath {
        /// The whole spec.
        spec: String,
        /// `ndjson` or `datalayer`.
        kind: &'static str,
    },
    /// `nats://host:port` without `/<subject-prefix>`.
    #[error("`{spec}`: expected a subject prefix, as in `nats://127.0.0.1:4222/webactions`")]
    MissingSubjectPrefix {
        /// The whole spec.
        spec: String,
    },
    /// A collector or server URL without a host: `http://:80/x`.
    #[error("`{spec}`: the URL has no host")]
    MissingHost {
        /// The whole spec.
        spec: String,
    },
    /// A port that is not a number in 1..=65535: `http://127.0.0.1:99999/x`.
    #[error("`{spec}`: port `{port}` is not a number in 1..=65535")]
    InvalidPort {
        /// The whole spec.
        spec: String,
        /// The port as written.
        port: String,
    },
    /// The sink the spec names was left out of this build.
    #[error("`{spec}`: this build has no {sink} sink; it comes with the `{feature}` Cargo feature of events-sinks (and events-cli)")]
    NotCompiled {
        /// The whole spec.
        spec: String,
        /// `HTTP`, `HTTPS` or `NATS`.
        sink: &'static str,
        /// The feature that brings it.
        feature: &'static str,
    },
    /// No sink has that name.
    #[error("unknown sink `{spec}`{}; expected `ndjson:PATH|-`, `datalayer:PATH|-`, `http[s]://host:port/path` or `nats|tls://host:port/prefix`",
        .suggestion.map(|s| format!(" (did you mean `{s}:`?)")).unwrap_or_default())]
    Unknown {
        /// The whole spec.
        spec: String,
        /// The closest sink name, when the spec looks like a typo of one.
        suggestion: Option<&'static str>,
    },
}

const KINDS: [&str; 6] = ["ndjson", "datalayer", "http", "https", "nats", "tls"];

impl FromStr for SinkSpec {
    type Err = SpecError;

    fn from_str(spec: &str) -> Result<Self, SpecError> {
        let missing_path = |kind| SpecError::MissingPath {
            spec: spec.to_owned(),
            kind,
        };
        if let Some(path) = spec.strip_prefix("ndjson:") {
            return match path {
                "" => Err(missing_path("ndjson")),
                path => Ok(SinkSpec::Ndjson(Output::parse(path))),
            };
        }
        if let Some(path) = spec.strip_prefix("datalayer:") {
            return match path {
                "" => Err(missing_path("datalayer")),
                path => Ok(SinkSpec::DataLayer(Output::parse(path))),
            };
        }
        if let Some(rest) = spec
            .strip_prefix("http://")
            .or_else(|| spec.strip_prefix("https://"))
        {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
            check_authority(spec, authority)?;
            let https = spec.starts_with("https://");
            if !cfg!(feature = "http") || (https && !cfg!(feature = "tls")) {
                return Err(SpecError::NotCompiled {
                    spec: spec.to_owned(),
                    sink: if https { "HTTPS" } else { "HTTP" },
                    // `tls` brings `http` with it.
                    feature: if https { "tls" } else { "http" },
                });
            }
            return Ok(SinkSpec::Http(spec.to_owned()));
        }
        let nats = [("nats://", "nats"), ("tls://", "tls")]
            .into_iter()
            .find_map(|(prefix, scheme)| Some((spec.strip_prefix(prefix)?, scheme)));
        if let Some((rest, scheme)) = nats {
            let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
            check_authority(spec, host)?;
            let subject_prefix = path.trim_matches('/').replace('/', ".");
            if host.is_empty() || subject_prefix.is_empty() {
                return Err(SpecError::MissingSubjectPrefix {
                    spec: spec.to_owned(),
                });
            }
            if !cfg!(feature = "nats") {
                return Err(SpecError::NotCompiled {
                    spec: spec.to_owned(),
                    sink: "NATS",
                    feature: "nats",
                });
            }
            return Ok(SinkSpec::Nats {
                url: format!("{scheme}://{host}"),
                subject_prefix,
            });
        }
        let kind = spec.split(':').next().unwrap_or(spec);
        Err(SpecError::Unknown {
            spec: spec.to_owned(),
            suggestion: events_spec::closest(kind, KINDS),
        })
    }
}

/// Checks the `[user@]host[:port]` of a URL: a host, and a port in 1..=65535 if any, so
/// that an impossible URL is refused when parsed rather than after a retry cycle.
fn check_authority(spec: &str, authority: &str) -> Result<(), SpecError> {
    let host_port = authority
        .rsplit_once('@')
        .map_or(authority, |(_, rest)| rest);
    // An IPv6 literal is bracketed, and its colons are not the port's.
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((address, rest)) => (address, rest.strip_prefix(':')),
            None => (v6, None),
        },
        None => match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(SpecError::MissingHost {
            spec: spec.to_owned(),
        });
    }
    match port {
        Some(port) if !matches!(port.parse::<u16>(), Ok(1..)) => Err(SpecError::InvalidPort {
            spec: spec.to_owned(),
            port: port.to_owned(),
        }),
        _ => Ok(()),
    }
}

impl fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let output = |output: &Output| match output {
            Output::Stdout => "-".to_owned(),
            Output::File(path) => path.display().to_string(),
        };
        match self {
            SinkSpec::Ndjson(out) => write!(f, "ndjson:{}", output(out)),
            SinkSpec::DataLayer(out) => write!(f, "datalayer:{}", output(out)),
            SinkSpec::Http(url) => f.write_str(url),
            SinkSpec::Nats {
                url,
                subject_prefix,
            } => write!(f, "{url}/{}", subject_prefix.replace('.', "/")),
        }
    }
}

/// What [`open`] needs besides the spec.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Where undeliverable events go (HTTP and NATS sinks).
    pub dead_letter: DeadLetter,
    /// The data layer's layout; `None` decides by the file name.
    pub datalayer_format: Option<DataLayerFormat>,
    /// The HTTP sink's body.
    pub http_shape: BodyShape,
    /// Root certificates (PEM) an `https://` or `tls://` sink trusts besides the
    /// system's.
    pub ca_file: Option<PathBuf>,
    /// Queue, batching and retries of the HTTP and NATS sinks; `None` keeps each sink's
    /// defaults.
    pub queue: Option<QueueConfig>,
    /// How the file sinks (`ndjson:`, `datalayer:`) open their file and sync it.
    pub file: FileOptions,
    /// NATS sinks publish to `<prefix>.<partition>` of this many partitions
    /// (`NatsConfig::partitions`); other sinks ignore it.
    pub partitions: Option<u32>,
}

impl SinkOptions {
    /// Defaults, with `dead_letter`.
    pub fn new(dead_letter: DeadLetter) -> Self {
        SinkOptions {
            dead_letter,
            datalayer_format: None,
            http_shape: BodyShape::default(),
            ca_file: None,
            queue: None,
            file: FileOptions::default(),
            partitions: None,
        }
    }
}

/// Opens the sink a spec names.
pub fn open(spec: &SinkSpec, options: SinkOptions) -> Result<Box<dyn Sink>, SinkError> {
    Ok(match spec {
        SinkSpec::Ndjson(output) => Box::new(NdjsonSink::open_with(output, options.file)?),
        SinkSpec::DataLayer(output) => {
            let format = options.datalayer_format.unwrap_or(match output {
                Output::Stdout => DataLayerFormat::Ndjson,
                Output::File(path) => DataLayerFormat::for_path(path),
            });
            Box::new(DataLayerSink::open_with(output, format, options.file)?)
        }
        #[cfg(feature = "http")]
        SinkSpec::Http(url) => {
            let mut config = HttpConfig::new(url.clone());
            config.shape = options.http_shape;
            config.ca_file = options.ca_file;
            if let Some(queue) = options.queue {
                config.queue = queue;
            }
            Box::new(HttpSink::new(config, options.dead_letter)?)
        }
        #[cfg(feature = "nats")]
        SinkSpec::Nats {
            url,
            subject_prefix,
        } => {
            let mut config = NatsConfig::new(url.clone(), subject_prefix.clone());
            config.ca_file = options.ca_file;
            config.partitions = options.partitions;
            if let Some(queue) = options.queue {
                config.queue = queue;
            }
            Box::new(NatsSink::connect(config, options.dead_letter)?)
        }
        // Parsing refuses these specs in a build without their sink.
        #[allow(unreachable_patterns)]
        other => {
            return Err(SinkError::Config(format!(
                "`{other}`: this build has no such sink"
            )))
        }
    })
}

// The specs below name every sink, so they need every one compiled in.
#[cfg(all(test, feature = "http", feature = "tls", feature = "nats"))]
mod tests {
    use super::*;

    #[test]
    fn every_documented_spec_parses_and_prints_back() {
        for (text, spec) in [
            ("ndjson:-", SinkSpec::Ndjson(Output::Stdout)),
            (
                "ndjson:out.ndjson",
                SinkSpec::Ndjson(Output::File("out.ndjson".into())),
            ),
            (
                "datalayer:out.json",
                SinkSpec::DataLayer(Output::File("out.json".into())),
            ),
            (
                "http://127.0.0.1:8080/batch",
                SinkSpec::Http("http://127.0.0.1:8080/batch".into()),
            ),
            (
                "https://collector.example/v1/batch",
                SinkSpec::Http("https://collector.example/v1/batch".into()),
            ),
            (
                "nats://127.0.0.1:4222/webactions",
                SinkSpec::Nats {
                    url: "nats://127.0.0.1:4222".into(),
                    subject_prefix: "webactions".into(),
                },
            ),
            (
                "tls://nats.example:4222/webactions",
                SinkSpec::Nats {
                    url: "tls://nats.example:4222".into(),
                    subject_prefix: "webactions".into(),
                },
            ),
        ] {
            assert_eq!(text.parse::<SinkSpec>().unwrap(), spec, "{text}");
            assert_eq!(spec.to_string(), text);
        }
        let nested: SinkSpec = "nats://localhost:4222/acme/webactions".parse().unwrap();
        assert!(
            matches!(nested, SinkSpec::Nats { subject_prefix, .. } if subject_prefix == "acme.webactions")
        );
    }

    #[test]
    fn bad_specs_say_what_is_expected() {
        let error = |text: &str| text.parse::<SinkSpec>().unwrap_err();
        assert!(matches!(
            error("ndjson:"),
            SpecError::MissingPath { kind: "ndjson", .. }
        ));
        assert!(matches!(
            error("datalayer:"),
            SpecError::MissingPath {
                kind: "datalayer",
                ..
            }
        ));
        assert!(matches!(
            error("nats://127.0.0.1:4222"),
            SpecError::MissingSubjectPrefix { .. }
        ));
        assert_eq!(
            error("ndjosn:out.ndjson"),
            SpecError::Unknown {
                spec: "ndjosn:out.ndjson".into(),
                suggestion: Some("ndjson")
            }
        );
        assert_eq!(
            error("tsl://127.0.0.1:4222/webactions"),
            SpecError::Unknown {
                spec: "tsl://127.0.0.1:4222/webactions".into(),
                suggestion: Some("tls")
            }
        );
        for (text, port) in [
            ("http://127.0.0.1:99999/x", "99999"),
            ("http://127.0.0.1:0/x", "0"),
            ("https://collector.example:/x", ""),
            ("http://[::1]:65536/x", "65536"),
            ("nats://127.0.0.1:70000/webactions", "70000"),
        ] {
            assert_eq!(
                error(text),
                SpecError::InvalidPort {
                    spec: text.into(),
                    port: port.into()
                }
            );
        }
        for text in [
            "http://:80/x",
            "https:///x",
            "http://user@:80/x",
            "tls://:4222/p",
        ] {
            assert_eq!(error(text), SpecError::MissingHost { spec: text.into() });
        }
        for text in [
            "http://[::1]:8080/x",
            "https://user:secret@collector.example/x",
            "http://127.0.0.1:65535?key=1",
            "nats://localhost/webactions",
        ] {
            assert!(text.parse::<SinkSpec>().is_ok(), "{text}");
        }
        assert!(error("kafka://x")
            .to_string()
            .contains("expected `ndjson:PATH|-`"));
    }
}
