//! Events in, the same JSON out: the sample event, every state of both built-in media
//! types, aliases, unknown fields; and bad inputs, each with an error naming the field.

mod common;

use std::time::{Duration, Instant};

use common::{sample_with, SAMPLE};
use events_sinks::{NdjsonSink, Sink};
use serde_json::{json, Value};
use webaction_events::ingest::Decoder;
use webaction_events::{
    ContentOffer, ContentOfferEvent, Event, EventError, MediaType, Registry, WebChat, WebChatEvent,
};

fn sample(media_type: &str, state: &str) -> Value {
    let mut event = sample_with(media_type, state);
    if state == "errored" {
        event["errorCode"] = json!(500);
        event["errorMessage"] = json!("widget failed to render");
    }
    event
}

fn round_trip<E: Event>(input: &Value) -> Value {
    let event: E = serde_json::from_value(input.clone()).unwrap_or_else(|e| panic!("{input}: {e}"));
    let bytes = serde_json::to_vec(&event).unwrap();
    let from_bytes = E::from_json_slice(input.to_string().as_bytes())
        .unwrap()
        .unwrap();
    assert_eq!(from_bytes, event, "from_json_slice and serde agree");
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn the_sample_event_round_trips() {
    let input: Value = serde_json::from_str(SAMPLE).unwrap();
    let event: WebChatEvent = serde_json::from_str(SAMPLE).unwrap();
    assert_eq!(event.action_state, WebChat::Offered);
    assert_eq!(event.action_map_version, 3);
    assert_eq!(event.customer_id_type.as_str(), "cookie");
    assert_eq!(round_trip::<WebChatEvent>(&input), input);
}

#[test]
fn every_state_of_both_media_types_round_trips() {
    for state in WebChat::ALL {
        let input = sample("webchat", state.as_str());
        assert_eq!(round_trip::<WebChatEvent>(&input), input, "{state}");
    }
    for state in ContentOffer::ALL {
        let input = sample("contentoffer", state.as_str());
        assert_eq!(round_trip::<ContentOfferEvent>(&input), input, "{state}");
    }
}

#[test]
fn aliases_in_canonical_wire_names_out() {
    for alias in ["timed out", "timedOut", "timedout"] {
        let output = round_trip::<WebChatEvent>(&sample("webchat", alias));
        assert_eq!(output["actionState"], "timedout", "{alias}");
    }
}

#[test]
fn unknown_and_declared_fields_are_kept_in_order() {
    let mut input = sample("webchat", "accepted");
    input["newField"] = json!(1);
    input["conversationId"] = json!("3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c");
    input["nested"] = json!({"a": [1, 2, {"b": null}]});
    input["customerIdType"] = json!("device");
    let event: WebChatEvent = serde_json::from_value(input.clone()).unwrap();
    assert!(event.conversation_id.is_some());
    assert_eq!(
        event.extra.keys().collect::<Vec<_>>(),
        ["newField", "nested"]
    );
    assert_eq!(event.customer_id_type.as_str(), "device");
    assert_eq!(round_trip::<WebChatEvent>(&input), input);
}

fn error_of<E: Event>(input: &Value) -> EventError {
    E::from_json_slice(input.to_string().as_bytes())
        .unwrap()
        .expect_err("must be refused")
}

#[test]
fn bad_inputs_name_the_field() {
    let with = |key: &str, value: Value| {
        let mut event = sample("webchat", "offered");
        event[key] = value;
        event
    };
    let without = |key: &str| {
        let mut event = sample("webchat", "offered");
        event.as_object_mut().unwrap().remove(key);
        event
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with("actionMediaType", json!("contentoffer")),
            "invalid_field",
            "`actionMediaType`: expected `webchat`, found `contentoffer`",
        ),
        (
            with("actionState", json!("offred")),
            "unknown_state",
            "unknown state `offred` for media type `webchat` (did you mean `offered`?)",
        ),
        (
            with("actionId", json!("not-a-uuid")),
            "invalid_field",
            "invalid field `actionId`: `not-a-uuid` is not a hyphenated UUID",
        ),
        (
            with("actionMapVersion", json!("3")),
            "invalid_field",
            "invalid field `actionMapVersion`: expected an integer, found a string",
        ),
        (
            with("sessionId", json!(42)),
            "invalid_field",
            "invalid field `sessionId`: expected a UUID string",
        ),
        (
            with("conversationId", json!(7)),
            "invalid_field",
            "invalid field `conversationId`",
        ),
        (
            without("customerId"),
            "missing_field",
            "missing field `customerId`",
        ),
        (
            sample("webchat", "errored").tap(|e| {
                e.as_object_mut().unwrap().remove("errorMessage");
            }),
            "missing_field",
            "missing field `errorMessage` (required in state `errored`)",
        ),
    ];
    for (input, kind, message) in cases {
        let error = error_of::<WebChatEvent>(&input);
        assert_eq!(error.kind(), kind, "{error}");
        assert!(
            error.to_string().contains(message),
            "{error} does not contain {message}"
        );
        let serde_error = serde_json::from_value::<WebChatEvent>(input)
            .unwrap_err()
            .to_string();
        assert!(serde_error.contains(message), "{serde_error}");
    }
}

#[test]
fn a_field_given_twice_is_refused() {
    let line = SAMPLE.replacen(
        "\"actionState\":\"offered\"",
        "\"actionState\":\"offered\",\"actionState\":\"accepted\"",
        1,
    );
    let error = WebChatEvent::from_json_slice(line.as_bytes())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid field `actionState`: appears more than once"
    );
}

#[test]
fn malformed_json_is_a_syntax_error_not_an_event_error() {
    assert!(WebChatEvent::from_json_slice(b"{\"actionId\": ").is_err());
    assert!(WebChatEvent::from_json_slice(b"[1, 2]").is_err());
}

trait Tap: Sized {
    fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
        f(&mut self);
        self
    }
}
impl Tap for Value {}

#[test]
fn states_know_their_lifecycle() {
    assert!(WebChat::Offered.is_initial());
    assert!(WebChat::Rejected.is_terminal() && WebChat::Rejected.is_end());
    assert!(!WebChat::Errored.is_terminal() && WebChat::Errored.is_end());
    assert!(WebChat::Offered.can_transition_to(WebChat::Accepted));
    assert!(!WebChat::Accepted.can_transition_to(WebChat::Offered));
    assert_eq!(
        WebChat::Accepted.successors(),
        [WebChat::Started, WebChat::Rejected, WebChat::Errored]
    );
    assert_eq!("timed out".parse::<WebChat>(), Ok(WebChat::TimedOut));
    let error = "acepted".parse::<ContentOffer>().unwrap_err().to_string();
    assert_eq!(error, "unknown state `acepted` for media type `contentoffer` (did you mean `accepted`?); expected one of: offered, accepted, rejected, ignored, errored");
    assert_eq!(<WebChat as MediaType>::DESCRIPTION.states.len(), 9);
    const TOPIC: webaction_events::Topic = WebChat::topic("timed out");
    assert_eq!(TOPIC.to_string(), "webchat:timedout");
    assert_eq!(WebChat::topic("all").to_string(), "webchat:all");
}

/// Unknown fields whose numbers an `f64` would change: beyond `u64`, 30 and 400 digits,
/// `-0`, exponents in both cases, a trailing zero, a subnormal-range exponent, and the same
/// inside arrays and objects. Compact, as serde_json writes it back.
fn unusual_numbers() -> String {
    let digits_30 = "123456789012345678901234567890";
    let digits_400 = "1234567890".repeat(40);
    format!(
        concat!(
            r#""beyondU64":18446744073709551616,"digits30":{d30},"digits400":{d400},"#,
            r#""negativeZero":-0,"exponent":1e2,"exponentUpper":1E+2,"tenth":0.10,"#,
            r#""tiny":-1.5e-300,"nested":[1e2,-0,{{"deep":[0.10,{d400},-1.5e-300]}},"#,
            r#"{{"n":18446744073709551616}}],"object":{{"a":{{"b":1E+2}},"c":-0}}"#,
        ),
        d30 = digits_30,
        d400 = digits_400,
    )
}

/// `text` as serde_json's `arbitrary_precision` keeps it: every digit, sign and trailing
/// zero, but an exponent always as `e` with its sign (`1E2` and `1e2` are `1e+2`). The
/// exponent's spelling is the one thing a `Value` cannot keep; only a `RawValue` could.
fn kept(text: &str) -> String {
    text.replace("1e2", "1e+2").replace("1E+2", "1e+2")
}

/// The sample event with `unusual_numbers()` after its documented fields, and `escape`
/// (JSON text, may be empty) just before them; and the unknown fields as written back.
fn line_with_unusual_numbers(escape: &str) -> (String, String) {
    let extra = unusual_numbers();
    let line = format!(
        "{}{escape},{extra}}}",
        SAMPLE.trim_end().strip_suffix('}').unwrap()
    );
    (line, kept(&extra))
}

/// Every way an event is written back out, for one line: the typed event through serde,
/// the registry's `AnyEvent` through `to_json` and `write_json`, and the NDJSON sink.
fn written_back(line: &str) -> Vec<(&'static str, String)> {
    let typed = WebChatEvent::from_json_slice(line.as_bytes())
        .unwrap()
        .unwrap();
    let via_serde: WebChatEvent = serde_json::from_str(line).unwrap();
    let decoded = Decoder::new(Registry::builtin())
        .decode(line.as_bytes())
        .unwrap()
        .event;
    let mut written = Vec::new();
    decoded.write_json(&mut written).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let sink = NdjsonSink::create(&path).unwrap();
    sink.send(&*decoded).unwrap();
    sink.close(Instant::now() + Duration::from_secs(5)).unwrap();
    let ndjson = std::fs::read_to_string(&path).unwrap();
    vec![
        (
            "typed from_json_slice",
            serde_json::to_string(&typed).unwrap(),
        ),
        ("typed serde", serde_json::to_string(&via_serde).unwrap()),
        ("AnyEvent::to_json", decoded.to_json().to_string()),
        ("AnyEvent::write_json", String::from_utf8(written).unwrap()),
        ("NDJSON sink", ndjson.trim_end().to_owned()),
    ]
}

#[test]
fn unknown_numbers_are_written_back_with_the_text_they_came_with() {
    // The second line has an escape in a string, which the fast parse leaves to the
    // tolerant one (events-core's unit tests check which parse takes which line).
    for escape in ["", r#","note":"line\nbreak""#] {
        let (line, extra) = line_with_unusual_numbers(escape);
        for (route, out) in written_back(&line) {
            assert!(
                out.ends_with(&format!(",{extra}}}")),
                "{route} changed the numbers of unknown fields:\n in: {line}\nout: {out}"
            );
        }
    }
}

/// Spellings `Uuid::parse_str` takes that are not the hyphenated form the JSON Schema's
/// `format: uuid` means, and a hyphenated one that is not a UUID.
const NOT_HYPHENATED: [&str; 5] = [
    "{6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d}",
    "6f1c2d7e5b7a4c529a3e0d4f1b2a3c4d",
    "urn:uuid:6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d",
    "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4g",
    "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4",
];

/// The error for `value` in `field`, read as a typed event, through serde, and through the
/// registry's decoder; all three must agree.
fn uuid_error(field: &str, value: Value) -> (String, String) {
    let mut event = sample("webchat", "offered");
    event[field] = value;
    let error = error_of::<WebChatEvent>(&event);
    let serde_error = serde_json::from_value::<WebChatEvent>(event.clone())
        .unwrap_err()
        .to_string();
    assert_eq!(serde_error, error.to_string());
    let ingest_error = Decoder::new(Registry::builtin())
        .decode(event.to_string().as_bytes())
        .unwrap_err();
    assert_eq!(ingest_error.kind().as_str(), error.kind());
    assert_eq!(ingest_error.to_string(), error.to_string());
    (error.kind().to_owned(), error.to_string())
}

#[test]
fn declared_uuid_fields_follow_the_rule_of_documented_ones() {
    for text in NOT_HYPHENATED
        .iter()
        .map(|t| json!(t))
        .chain([json!(42), json!([])])
    {
        let (kind, message) = uuid_error("actionId", text.clone());
        assert_eq!(kind, "invalid_field", "{message}");
        let expected = message.replace("`actionId`", "`conversationId`");
        assert_eq!(uuid_error("conversationId", text), (kind, expected));
    }
}

#[test]
fn uppercase_hyphenated_uuids_are_read_alike_and_written_lowercase() {
    let upper = "6F1C2D7E-5B7A-4C52-9A3E-0D4F1B2A3C4D";
    let mut event = sample("webchat", "offered");
    event["actionId"] = json!(upper);
    event["conversationId"] = json!(upper);
    let out = round_trip::<WebChatEvent>(&event);
    assert_eq!(out["actionId"], json!(upper.to_lowercase()));
    assert_eq!(out["conversationId"], json!(upper.to_lowercase()));
}

webaction_events::media_type! {
    /// A survey shown after a chat, with declared fields of number types.
    pub Survey = "survey" {
        states {
            /// Shown.
            initial Shown = "shown" -> Answered,
            /// Answered.
            terminal Answered = "answered",
        }
        fields {
            /// How many questions.
            questions: u32,
            /// The score given.
            score: f64,
            /// How long answering took.
            delay_ms: Option<i64>,
            /// Who answered.
            respondent: Option<String>,
        }
    }
}

fn survey(fields: &str) -> String {
    SAMPLE
        .replace("webchat", "survey")
        .replace("offered", "shown")
        .replace('}', &format!(",{fields}}}"))
}

#[test]
fn declared_number_fields_read_and_refuse_numbers_as_before() {
    let event = SurveyEvent::from_json_slice(
        survey(r#""questions":4294967295,"score":-1.5e-300,"delayMs":-9223372036854775808"#)
            .as_bytes(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (event.questions, event.score, event.delay_ms),
        (u32::MAX, -1.5e-300, Some(i64::MIN))
    );
    let event = SurveyEvent::from_json_slice(
        survey(r#""questions":0,"score":1e2,"delayMs":null"#).as_bytes(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (event.questions, event.score, event.delay_ms),
        (0, 100.0, None)
    );
    let cases = [
        (
            r#""questions":-1,"score":1"#,
            "invalid field `questions`: invalid value: integer `-1`, expected u32",
        ),
        (
            r#""questions":4294967296,"score":1"#,
            "invalid field `questions`: invalid value: integer `4294967296`, expected u32",
        ),
        (
            r#""questions":1.5,"score":1"#,
            "invalid field `questions`: invalid type: floating point `1.5`, expected u32",
        ),
        (
            r#""questions":1e2,"score":1"#,
            "invalid field `questions`: invalid type: floating point `100.0`, expected u32",
        ),
        (
            r#""questions":-0,"score":1"#,
            "invalid field `questions`: invalid type: floating point `-0.0`, expected u32",
        ),
        (
            r#""questions":"3","score":1"#,
            "invalid field `questions`: invalid type: string \"3\", expected u32",
        ),
        (
            r#""questions":1,"score":"x""#,
            "invalid field `score`: invalid type: string \"x\", expected f64",
        ),
        (
            r#""questions":1,"score":1,"delayMs":1.5"#,
            "invalid field `delayMs`: invalid type: floating point `1.5`, expected i64",
        ),
        (
            r#""questions":1,"score":1,"delayMs":9223372036854775808"#,
            "invalid field `delayMs`: invalid value: integer `9223372036854775808`, expected i64",
        ),
        (
            r#""questions":1,"score":1,"respondent":5"#,
            "invalid field `respondent`: invalid type: integer `5`, expected a string",
        ),
        (
            r#""questions":1,"score":1,"respondent":-2.5"#,
            "invalid field `respondent`: invalid type: floating point `-2.5`, expected a string",
        ),
    ];
    for (fields, message) in cases {
        let error = SurveyEvent::from_json_slice(survey(fields).as_bytes())
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.to_string().as_str()),
            ("invalid_field", message)
        );
    }
}
