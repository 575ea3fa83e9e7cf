//! An embedded collector's enrichment: it runs on every event before the event is
//! tracked, and what it adds reaches the sink (the events are decoded, enriched and
//! written as JSON on the requests' threads, tracked on the ingest thread).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use events_collector::{Collector, Config};
use events_core::ingest::Ingest;
use events_core::{Registry, Uuid, WebChatEvent};
use events_sinks::NdjsonSink;

fn event(action: Uuid, state: &str) -> String {
    format!(
        r#"{{"actionId":"{action}","actionState":"{state}","actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e","actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d","customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}"#
    )
}

#[test]
fn enrichment_runs_before_tracking_and_reaches_the_sink() {
    let dir = tempfile::tempdir().unwrap();
    let sink_path = dir.path().join("events.ndjson");
    let conversation = Uuid::from_u128(42);
    // Moves every `offered` event of one action to another: the tracker must see the
    // enriched event, so the second action's `accepted` follows its `offered`.
    let (first, second) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let ingest = Ingest::builder(Registry::builtin()).enrich(move |event| {
        if let Some(chat) = event.downcast_mut::<WebChatEvent>() {
            chat.conversation_id = Some(conversation);
            if chat.action_id == first {
                chat.action_id = second;
            }
        }
        event.extra_mut().insert("site".into(), "shop".into());
    });
    let config = Config {
        dead_letter: dir.path().join("dead-letter.ndjson"),
        ..Config::default()
    };
    let collector = Collector::new(ingest, config)
        .sink("file", Arc::new(NdjsonSink::create(&sink_path).unwrap()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(collector.serve(listener, async {
        let _ = stopped.await;
    }));

    let body = format!(
        "{}\n{}\n",
        event(first, "offered"),
        event(second, "accepted")
    );
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /v1/events HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#""accepted":2"#), "{answer}");

    let _ = stop.send(());
    assert!(runtime.block_on(server).unwrap().unwrap().clean());
    let written: Vec<serde_json::Value> = std::fs::read_to_string(&sink_path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(written.len(), 2);
    for event in &written {
        assert_eq!(event["actionId"], second.to_string());
        assert_eq!(event["conversationId"], conversation.to_string());
        assert_eq!(event["site"], "shop");
    }
}
