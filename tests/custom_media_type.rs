//! A media type declared outside `events-core`, through the facade only, gets the same
//! generated API as the built-in ones.

use webaction_events::{
    ActionIds, Event, EventError, JsonType, NewAction, Registry, StateKind, Uuid,
};

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
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 1,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
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
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 1,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
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
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 1,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
    let errored = WebMessagingOffer::offer(ids, Uuid::new_v4()).error("messenger failed", 503);
    assert_eq!(errored.error_code, Some(503));
    assert_eq!(errored.error_message.as_deref(), Some("messenger failed"));
    assert!(WebMessagingOffer::Errored.is_end() && !WebMessagingOffer::Errored.is_terminal());
}

#[test]
fn declared_uuid_fields_take_only_the_hyphenated_form() {
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 1,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
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

/// What issue 15 asked for: a media type declared in this crate is known to
/// `Events::new()`, `Registry::all()` and the default registry by topic string, with no
/// registration call and whatever the order of the calls.
#[test]
fn a_declared_media_type_is_known_without_registration() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use webaction_events::Events;

    let all = Registry::all();
    let names: Vec<_> = all.iter().map(|e| e.description.wire_name).collect();
    assert_eq!(names, ["webchat", "contentoffer", "webMessagingOffer"]);
    assert!(Registry::default().get("webMessagingOffer").is_some());
    assert!(Registry::builtin().get("webMessagingOffer").is_none());

    let events = Events::new();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let _subscription = events
        .on_topic("webMessagingOffer:all", move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .expect("declared, so known");
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 3,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
    events.emit(WebMessagingOffer::offer(ids, Uuid::new_v4()).event());
    assert_eq!(seen.load(Ordering::Relaxed), 1);

    // A closed registry still says how a media type becomes known.
    let closed = Events::with_registry(Registry::builtin());
    let error = closed
        .on_topic("webMessagingOffer:all", |_| {})
        .unwrap_err();
    assert!(
        error.to_string().contains("known to `Registry::all()`"),
        "{error}"
    );
}

/// `try_topic` is the run-time form of the const `topic`: an unknown state is an error
/// with a suggestion, not a panic.
#[test]
fn try_topic_reads_a_state_known_only_at_run_time() {
    use webaction_events::TopicError;

    let accepted = WebMessagingOffer::try_topic("accepted").unwrap();
    assert_eq!(accepted, WebMessagingOffer::topic("accepted"));
    assert_eq!(accepted.to_string(), "webMessagingOffer:accepted");
    assert!(WebMessagingOffer::try_topic("all").unwrap().is_all());
    assert_eq!(
        WebMessagingOffer::try_topic("conversationStarted").unwrap(),
        WebMessagingOffer::topic("conversed")
    );

    let error = WebMessagingOffer::try_topic("acepted").unwrap_err();
    assert_eq!(
        error,
        TopicError::UnknownState {
            topic: "webMessagingOffer:acepted".into(),
            media_type: "webMessagingOffer",
            state: "acepted".into(),
            suggestion: Some("accepted"),
            expected: vec!["offered", "accepted", "conversed", "errored"],
        }
    );
}

/// Generated arguments take `impl Into<T>`; setters and `extra_mut` change fields but not
/// the state (the action is not `Clone` and has no `&mut` to its whole event).
#[test]
fn arguments_take_into_and_setters_keep_the_state() {
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 1,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
    let mut offered = WebMessagingOffer::offer(ids, Uuid::new_v4());
    offered
        .set_page_url("https://example.com/pricing")
        .set_conversation_id(Uuid::nil());
    offered
        .extra_mut()
        .insert("campaign".into(), "winter".into());
    assert_eq!(offered.state(), WebMessagingOffer::Offered);
    // `error_code` is an `i64`; an `i32` or `u16` status is taken as it is.
    let errored = offered.error("messenger failed", 503_u16);
    assert_eq!(errored.error_code, Some(503));
    assert_eq!(
        errored.page_url.as_deref(),
        Some("https://example.com/pricing")
    );
    assert_eq!(errored.conversation_id, Some(Uuid::nil()));
    assert_eq!(errored.extra["campaign"], "winter");
}
