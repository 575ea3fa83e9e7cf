//! The collector's Prometheus metrics, kept in its own recorder (not the process-wide
//! one), so that a program embedding the collector keeps its own metrics setup.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

use events_sinks::SinkStats;

const ACCEPTED: &str = "webaction_events_accepted_total";
const REJECTED: &str = "webaction_events_rejected_total";
const REQUESTS: &str = "webaction_requests_total";
const LATENCY: &str = "webaction_request_duration_seconds";
const INGEST_QUEUE: &str = "webaction_ingest_queue_depth";
const UNCONFIRMED: &str = "webaction_unconfirmed_events";
const SINK_QUEUE: &str = "webaction_sink_queue_depth";
const SINK_DELIVERED: &str = "webaction_sink_delivered_total";
const SINK_RETRIES: &str = "webaction_sink_retries_total";
const SINK_DEAD_LETTERED: &str = "webaction_sink_dead_lettered_total";
const SINK_LOST: &str = "webaction_sink_lost_total";

/// Latency buckets, in seconds: from a buffered write to a slow downstream collector.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The metrics, and their handles by label, registered on first use.
pub(crate) struct Metrics {
    recorder: PrometheusRecorder,
    counters: Mutex<HashMap<Key, Counter>>,
    histograms: Mutex<HashMap<Key, Histogram>>,
    ingest_queue: Gauge,
    unconfirmed: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub(crate) fn new() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let describe = |name: &'static str, unit, text: &'static str| {
            recorder.describe_counter(KeyName::from_const_str(name), unit, text.into());
        };
        describe(ACCEPTED, None, "Events accepted, by media type.");
        describe(
            REJECTED,
            None,
            "Events rejected (and dead-lettered), by media type claimed and kind.",
        );
        describe(REQUESTS, None, "Requests answered, by route and status.");
        describe(SINK_DELIVERED, None, "Events the sinks delivered.");
        describe(
            SINK_RETRIES,
            None,
            "Event deliveries the sinks attempted again.",
        );
        describe(
            SINK_DEAD_LETTERED,
            None,
            "Events the sinks could not deliver and wrote to their dead letter.",
        );
        describe(
            SINK_LOST,
            None,
            "Events the sinks could neither deliver nor dead-letter.",
        );
        recorder.describe_histogram(
            KeyName::from_const_str(LATENCY),
            Some(Unit::Seconds),
            "Time from a request's arrival to its answer, by route and status.".into(),
        );
        recorder.describe_gauge(
            KeyName::from_const_str(INGEST_QUEUE),
            None,
            "Requests waiting for the ingest thread.".into(),
        );
        recorder.describe_gauge(
            KeyName::from_const_str(UNCONFIRMED),
            None,
            "Events ingested whose delivery is not yet confirmed.".into(),
        );
        recorder.describe_gauge(
            KeyName::from_const_str(SINK_QUEUE),
            None,
            "Events queued in the sinks, not yet delivered.".into(),
        );
        let ingest_queue = recorder.register_gauge(&Key::from_static_name(INGEST_QUEUE), &METADATA);
        let unconfirmed = recorder.register_gauge(&Key::from_static_name(UNCONFIRMED), &METADATA);
        Metrics {
            recorder,
            counters: Mutex::new(HashMap::new()),
            histograms: Mutex::new(HashMap::new()),
            ingest_queue,
            unconfirmed,
        }
    }

    fn counter(&self, name: &'static str, labels: Vec<Label>) -> Counter {
        let key = Key::from_parts(name, labels);
        let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
        counters
            .entry(key)
            .or_insert_with_key(|key| self.recorder.register_counter(key, &METADATA))
            .clone()
    }

    pub(crate) fn accepted(&self, media_type: &'static str, n: u64) {
        self.counter(
            ACCEPTED,
            vec![Label::from_static_parts("media_type", media_type)],
        )
        .increment(n);
    }

    pub(crate) fn rejected(&self, media_type: &'static str, kind: &'static str) {
        let labels = vec![
            Label::from_static_parts("media_type", media_type),
            Label::from_static_parts("kind", kind),
        ];
        self.counter(REJECTED, labels).increment(1);
    }

    /// One answered request.
    pub(crate) fn answered(&self, route: &'static str, status: u16, took: Duration) {
        let labels = || {
            vec![
                Label::from_static_parts("route", route),
                Label::new("status", status.to_string()),
            ]
        };
        self.counter(REQUESTS, labels()).increment(1);
        let key = Key::from_parts(LATENCY, labels());
        let mut histograms = self.histograms.lock().unwrap_or_else(|p| p.into_inner());
        histograms
            .entry(key)
            .or_insert_with_key(|key| self.recorder.register_histogram(key, &METADATA))
            .record(took.as_secs_f64());
    }

    pub(crate) fn set_ingest_queue(&self, depth: usize) {
        self.ingest_queue.set(depth as f64);
    }

    pub(crate) fn set_unconfirmed(&self, events: u64) {
        self.unconfirmed.set(events as f64);
    }

    /// The Prometheus text, with the sinks' counts as they are now.
    pub(crate) fn render(&self, sinks: &[(String, SinkStats)]) -> String {
        for (name, stats) in sinks {
            let labels = || vec![Label::new("sink", name.clone())];
            self.counter(SINK_DELIVERED, labels())
                .absolute(stats.delivered);
            self.counter(SINK_RETRIES, labels()).absolute(stats.retried);
            self.counter(SINK_DEAD_LETTERED, labels())
                .absolute(stats.dead_lettered);
            self.counter(SINK_LOST, labels()).absolute(stats.lost);
            self.recorder
                .register_gauge(&Key::from_parts(SINK_QUEUE, labels()), &METADATA)
                .set(stats.queued as f64);
        }
        self.recorder.handle().render()
    }
}
