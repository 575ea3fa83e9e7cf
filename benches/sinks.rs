//! Events per second through `webaction replay` (ingest, then one sink) into the NDJSON
//! sink writing a file, and into the HTTP sink posting batches of 500 to a local server
//! that answers 200 at once. The input is `webaction simulate --actions 5000 --seed 1`.
//!
//! Run: `cargo bench --bench sinks -- --warm-up-time 1 --measurement-time 5`.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use events_cli::input::Limits;
use events_cli::replay::replay_stream;
use events_cli::shutdown::Shutdown;
use events_cli::simulate::{simulate, Simulation};
use events_sinks::{DeadLetter, HttpConfig, HttpSink, NdjsonSink, QueueConfig, Sink};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use webaction_events::Registry;

/// A collector that reads each request and answers 200 at once, on its own thread.
fn collector() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(|request: Request<Incoming>| async {
                        let _ = request.into_body().collect().await;
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    addr
}

fn sinks(c: &mut Criterion) {
    let registry = Registry::builtin();
    let mut input = Vec::new();
    let summary = simulate(
        &registry,
        &Simulation {
            actions: 5_000,
            seed: 1,
            invalid_rate: 0.0,
        },
        &mut input,
    )
    .unwrap();
    let limits = Limits::default();
    let shutdown = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay.ndjson");
    let addr = collector();

    let mut group = c.benchmark_group("sinks");
    group.throughput(Throughput::Elements(summary.events));
    group.sample_size(10);

    let replay = |sink: Arc<dyn Sink>, dead_letter: &DeadLetter| {
        replay_stream(
            &input[..],
            &registry,
            &limits,
            sink,
            dead_letter,
            shutdown,
            &Shutdown::manual(),
        )
        .unwrap()
    };

    group.bench_function("replay_ndjson_file", |b| {
        b.iter(|| {
            let sink = Arc::new(NdjsonSink::create(&path).unwrap());
            let dead_letter = DeadLetter::memory();
            let stats = replay(sink, &dead_letter);
            assert_eq!(stats.sink.delivered, summary.events);
            black_box(stats)
        })
    });

    group.bench_function("replay_http_batch_500", |b| {
        b.iter(|| {
            let config = HttpConfig {
                queue: QueueConfig {
                    batch_size: 500,
                    ..QueueConfig::default()
                },
                ..HttpConfig::new(format!("http://{addr}/batch"))
            };
            let dead_letter = DeadLetter::memory();
            let sink = Arc::new(HttpSink::new(config, dead_letter.clone()).unwrap());
            let stats = replay(sink, &dead_letter);
            assert_eq!(stats.sink.delivered, summary.events);
            black_box(stats)
        })
    });
    group.finish();
}

criterion_group!(benches, sinks);
criterion_main!(benches);
