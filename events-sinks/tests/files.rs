//! The NDJSON and data-layer sinks, written to real files and read back.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use events_core::AnyEvent;
use events_sinks::{
    datalayer_field_name, open, original_field_name, DataLayerFormat, DataLayerSink, DeadLetter,
    NdjsonSink, Output, Sink, SinkError, SinkOptions, SinkSpec,
};
use serde_json::{json, Value};

#[test]
fn ndjson_writes_one_event_per_line_with_enriched_fields_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let sink = NdjsonSink::create(&path).unwrap();
    let mut enriched = event(1);
    enriched
        .extra_mut()
        .insert("pageTitle".into(), json!("Checkout"));
    sink.send(&*event(0)).unwrap();
    sink.send(&*enriched).unwrap();
    let stats = sink.close(deadline(1)).unwrap();
    assert_eq!(
        (stats.delivered, stats.retried, stats.dead_lettered),
        (2, 0, 0)
    );

    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(text.ends_with('\n'));
    assert_eq!(
        serde_json::from_str::<Value>(lines[0]).unwrap(),
        event_json(0)
    );
    let mut expected = event_json(1);
    expected["pageTitle"] = json!("Checkout");
    assert_eq!(serde_json::from_str::<Value>(lines[1]).unwrap(), expected);
    // Unknown fields stay where they were, enrichment comes last.
    assert!(
        lines[1].ends_with(r#""pageTitle":"Checkout"}"#),
        "{}",
        lines[1]
    );
    assert!(matches!(sink.send(&*event(2)), Err(SinkError::Closed)));
}

#[test]
fn data_layer_objects_name_the_event_and_carry_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("datalayer.ndjson");
    let sink = DataLayerSink::open(&Output::File(path.clone()), DataLayerFormat::Ndjson).unwrap();
    for i in 0..20 {
        sink.send(&*event(i)).unwrap();
    }
    sink.close(deadline(1)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    for (line, i) in text.lines().zip(0..) {
        let object: Value = serde_json::from_str(line).unwrap();
        let event = event_json(i);
        let name = format!(
            "{}_{}",
            event["actionMediaType"].as_str().unwrap(),
            event["actionState"].as_str().unwrap()
        );
        assert_eq!(object["event"], name.as_str());
        let mut fields = object.as_object().unwrap().clone();
        fields.shift_remove("event");
        assert_eq!(Value::Object(fields), event);
        assert!(line.starts_with(&format!("{{\"event\":\"{name}\",\"actionId\"")));
    }
}

#[test]
fn a_data_layer_array_is_one_json_array_closed_on_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("datalayer.json");
    let spec: SinkSpec = format!("datalayer:{}", path.display()).parse().unwrap();
    // `.json` means a JSON array unless told otherwise.
    let sink = open(&spec, SinkOptions::new(DeadLetter::memory())).unwrap();
    for i in 0..3 {
        sink.send(&*event(i)).unwrap();
    }
    sink.close(deadline(1)).unwrap();
    let array: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(array.len(), 3);
    assert_eq!(array[0]["event"], "webchat_offered");
    assert_eq!(array[0]["actionId"], event_json(0)["actionId"]);

    let empty = tempfile::NamedTempFile::new().unwrap();
    let sink =
        DataLayerSink::open(&Output::File(empty.path().into()), DataLayerFormat::Array).unwrap();
    sink.close(deadline(1)).unwrap();
    assert_eq!(std::fs::read_to_string(empty.path()).unwrap(), "[]\n");
}

#[test]
fn an_events_own_event_field_is_kept_as_underscore_event() {
    let mut own = event(0);
    own.extra_mut()
        .insert("event".into(), json!("chat-widget-shown"));
    let mut out = Vec::new();
    DataLayerSink::write_object(&mut out, &*own as &AnyEvent).unwrap();
    let object: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(object["event"], "webchat_offered");
    assert_eq!(object["_event"], "chat-widget-shown");
    assert_eq!(
        object.as_object().unwrap().len(),
        event_json(0).as_object().unwrap().len() + 2
    );
}

#[test]
fn event_fields_named_like_the_data_layers_key_are_escaped_never_lost() {
    let mut own = event(0);
    own.extra_mut().insert("event".into(), json!("shown"));
    own.extra_mut().insert("_event".into(), json!("widget"));
    own.extra_mut().insert("__event".into(), json!(3));
    let mut out = Vec::new();
    DataLayerSink::write_object(&mut out, &*own as &AnyEvent).unwrap();
    let object: Value = serde_json::from_slice(&out).unwrap();
    let object = object.as_object().unwrap();
    assert_eq!(object["event"], "webchat_offered");
    assert_eq!(object["_event"], "shown");
    assert_eq!(object["__event"], "widget");
    assert_eq!(object["___event"], 3);
    assert_eq!(object.len(), event_json(0).as_object().unwrap().len() + 4);
    // Decoding every name gives the event's fields back, the data layer's own key aside.
    let decoded: serde_json::Map<String, Value> = object
        .iter()
        .filter_map(|(name, value)| Some((original_field_name(name)?.into_owned(), value.clone())))
        .collect();
    assert_eq!(Value::Object(decoded), own.to_json());
}

proptest::proptest! {
    #[test]
    fn data_layer_field_names_round_trip_and_never_collide(
        name in "_{0,4}(event|even|events|Event|x)?_{0,2}",
        other in "_{0,4}(event|even|events|Event|x)?_{0,2}",
    ) {
        let written = datalayer_field_name(&name);
        proptest::prop_assert_ne!(&*written, "event");
        let original = original_field_name(&written);
        proptest::prop_assert_eq!(original.as_deref(), Some(&*name));
        if name != other {
            proptest::prop_assert_ne!(written, datalayer_field_name(&other));
        }
    }
}

#[test]
fn a_write_failure_counts_what_the_buffer_held_as_lost() {
    let sink = NdjsonSink::to_writer(FullDisk(Arc::new(Mutex::new(10_000))));
    let mut sent = 0;
    let mut refused = 0;
    for i in 0..1_000 {
        match sink.send(&*event(i)) {
            Ok(()) => sent += 1,
            Err(_) => refused += 1,
        }
    }
    assert!(sink.flush(deadline(1)).is_err() || refused > 0);
    let stats = sink.stats();
    assert!(stats.lost > 0, "{stats:?}");
    assert!(stats.delivered * 200 < 10_000, "{stats:?}");
    // Every event the sink took is delivered or lost; the refused ones are the caller's.
    assert_eq!(stats.delivered + stats.lost, sent, "{stats:?}");
    assert!(stats
        .to_string()
        .ends_with(&format!(", lost {}", stats.lost)));
}

/// A writer that fails once `budget` bytes are written: a full disk.
#[derive(Clone)]
struct FullDisk(Arc<Mutex<usize>>);

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut budget = self.0.lock().unwrap();
        if *budget < buf.len() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left",
            ));
        }
        *budget -= buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_write_failure_is_an_error_not_a_silent_drop() {
    let sink = NdjsonSink::to_writer(FullDisk(Arc::new(Mutex::new(10_000))));
    let mut failure = None;
    for i in 0..1_000 {
        if let Err(error) = sink.send(&*event(i)).and_then(|()| sink.flush(deadline(1))) {
            failure = Some(error);
            break;
        }
    }
    match failure {
        Some(SinkError::Io { target, source }) => {
            assert_eq!(target, "writer");
            assert_eq!(source.kind(), std::io::ErrorKind::StorageFull);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_dead_letter_file_appears_only_when_something_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dead.ndjson");
    let dead_letter = DeadLetter::file(&path);
    assert!(!path.exists());
    let reason = events_sinks::DeadLetterReason::SendFailed {
        error: "disk full".into(),
    };
    dead_letter
        .write_event("ndjson", &reason, &*event(0))
        .unwrap();
    let records = dead_letter_records(&path);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["reason"], "send_failed");
    assert_eq!(records[0]["error"], "disk full");
    assert_eq!(records[0]["event"], event_json(0));
    assert_eq!(records[0]["key"], key_of(&event_json(0)).as_str());
    assert_eq!(
        events_sinks::idempotency_key(&*event(0)),
        key_of(&event_json(0))
    );
}
