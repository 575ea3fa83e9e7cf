//! A media type declared outside `events-core`, through the facade only, gets the same
//! generated API as the built-in ones.

use webaction_events::{ActionIds, Event, EventError, JsonType, Registry, StateKind, Uuid};

webaction_events::media_type! {
    /// An offer to start a web messaging conversation.
    pub WebMessagingOffer = "webMessagingOffer" {
        version = 3;
        states {
            /// Shown.
            initial Offered = "offered" (verb offer) -> Accepted | Errored,
            /// Opened.
            Accepted = "accepted" (verb accept) -> Conversed,
            /// Wrote.
            terminal Conversed = "conversed" (aliases "conversationStarted"; requires conversation_id),
            /// Failed.
            end Errored = "errored" (requires error_message, error_code; verb error),
        }
        fields {
            /// The messenger deployment.
            deployment_id: Uuid = "deploymentId",
            /// The conversation.
            conversation_id: Option<Uuid> = "conversationId",
            /// Where the page was.
            page_url: Option<String>,
        }
    }
}

#[test]
fn the_description_holds_everything_declared() {
    let description = WebMessagingOffer::DESCRIPTION;
    assert_eq!(description.rust_name, "WebMessagingOffer");
    assert_eq!(description.wire_name, "webMessagingOffer");
    assert_eq!(
        description.docs,
        "An offer to start a web messaging conversation."
    );
    assert_eq!(description.version, 3);
    let conversed = description.state("conversationStarted").unwrap();
    assert_eq!(conversed.wire_name, "conversed");
    assert_eq!(conversed.kind, StateKind::Terminal);
    assert_eq!(conversed.requires, ["conversationId"]);
    let errored = description.state("errored").unwrap();
    assert_eq!(errored.kind, StateKind::End);
    assert_eq!(errored.requires, ["errorMessage", "errorCode"]);
    let fields: Vec<_> = description
        .fields
        .iter()
        .map(|f| (f.rust_name, f.wire_name, f.json_type, f.required))
        .collect();
    assert_eq!(
        fields,
        [
            ("deployment_id", "deploymentId", JsonType::Uuid, true),
            ("conversation_id", "conversationId", JsonType::Uuid, false),
            ("page_url", "pageUrl", JsonType::String, false),
        ]
    );
    assert_eq!(description.all_fields().count(), 13);
    let transitions: Vec<_> = description
        .transitions()
        .map(|(from, to)| format!("{}->{}", from.wire_name, to.wire_name))
        .collect();
    assert_eq!(
        transitions,
        [
            "offered->accepted",
            "offered->errored",
            "accepted->conversed"
        ]
    );
}

#[test]
fn typestate_serde_and_registry_work_for_user_types() {
    let deployment = Uuid::new_v4();
    let ids = ActionIds::new(Uuid::new_v4(), 1, Uuid::new_v4(), Uuid::new_v4());
    let conversation = Uuid::new_v4();
    let last = WebMessagingOffer::offer(ids, deployment)
        .accept()
        .conversed(conversation);
    assert_eq!(last.conversation_id, Some(conversation));
    let json = serde_json::to_string(&last).unwrap();

    let registry = Registry::builtin().with::<WebMessagingOffer>();
    let raw = webaction_events::RawEvent::from_slice(json.as_bytes())
        .unwrap()
        .unwrap();
    let any = registry
        .get("webMessagingOffer")
        .unwrap()
        .from_raw(raw)
        .unwrap();
    assert_eq!(any.downcast_ref::<WebMessagingOfferEvent>(), Some(&last));
    assert_eq!(any.topic().to_string(), "webMessagingOffer:conversed");
}

#[test]
fn state_requirements_and_required_fields_are_checked() {
    let ids = ActionIds::new(Uuid::new_v4(), 1, Uuid::new_v4(), Uuid::new_v4());
    let accepted = WebMessagingOffer::offer(ids, Uuid::new_v4()).accept();
    let mut json = serde_json::to_value(accepted.event()).unwrap();
    json["actionState"] = "conversationStarted".into();
    let error = WebMessagingOfferEvent::from_json_slice(json.to_string().as_bytes())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        error,
        EventError::MissingField {
            field: "conversationId",
            state: Some("conversed")
        }
    );
    json.as_object_mut().unwrap().remove("deploymentId");
    json["actionState"] = "accepted".into();
    let error = WebMessagingOfferEvent::from_json_slice(json.to_string().as_bytes())
        .unwrap()
        .unwrap_err();
    assert_eq!(error.to_string(), "missing field `deploymentId`");
}

#[test]
fn end_state_steps_take_their_required_fields() {
    let ids = ActionIds::new(Uuid::new_v4(), 1, Uuid::new_v4(), Uuid::new_v4());
    let errored = WebMessagingOffer::offer(ids, Uuid::new_v4()).error("messenger failed", 503);
    assert_eq!(errored.error_code, Some(503));
    assert_eq!(errored.error_message.as_deref(), Some("messenger failed"));
    assert!(WebMessagingOffer::Errored.is_end() && !WebMessagingOffer::Errored.is_terminal());
}

#[test]
fn declared_uuid_fields_take_only_the_hyphenated_form() {
    let ids = ActionIds::new(Uuid::new_v4(), 1, Uuid::new_v4(), Uuid::new_v4());
    let conversed = WebMessagingOffer::offer(ids, Uuid::new_v4())
        .accept()
        .conversed(Uuid::new_v4());
    let event = serde_json::to_value(&conversed).unwrap();
    let braced = "{6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d}";
    let simple = "6f1c2d7e5b7a4c529a3e0d4f1b2a3c4d";
    for field in ["actionId", "deploymentId", "conversationId"] {
        for text in [braced, simple] {
            let mut event = event.clone();
            event[field] = text.into();
            let error = WebMessagingOfferEvent::from_json_slice(event.to_string().as_bytes())
                .unwrap()
                .unwrap_err();
            assert_eq!(error.kind(), "invalid_field");
            assert_eq!(
                error.to_string(),
                format!(
                    "invalid field `{field}`: `{text}` is not a hyphenated UUID (8-4-4-4-12 hex digits)"
                )
            );
        }
    }
}
