//! Events in, the same JSON out: the sample event, every state of both built-in media
//! types, aliases, unknown fields; and bad inputs, each with an error naming the field.

use serde_json::{json, Value};
use webaction_events::{
    ContentOffer, ContentOfferEvent, Event, EventError, MediaType, WebChat, WebChatEvent,
};

const SAMPLE: &str = r#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
 "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
 "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
 "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;

fn sample(media_type: &str, state: &str) -> Value {
    let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
    event["actionMediaType"] = json!(media_type);
    event["actionState"] = json!(state);
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
