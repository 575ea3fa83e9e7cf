//! A media type the vendor lists without a documented browser lifecycle
//! (`webMessagingOffer`), declared in user code with nothing but the facade as dependency.
//!
//! Run it with `cargo run --example custom_media_type`.

use webaction_events::{ActionIds, Event, MediaType, NewAction, Registry, Topic, Uuid};

webaction_events::media_type! {
    /// An offer to start a web messaging conversation.
    pub WebMessagingOffer = "webMessagingOffer" {
        version = 1;
        states {
            /// The messaging offer is shown.
            initial Offered = "offered" (verb offer) -> Accepted | Rejected | Errored,
            /// The visitor opened the messenger from the offer.
            Accepted = "accepted" (verb accept) -> Conversed | Errored,
            /// The visitor sent a first message.
            terminal Conversed = "conversed" (aliases "conversationStarted"; verb converse),
            /// The visitor dismissed the offer.
            terminal Rejected = "rejected" (verb reject),
            /// The messenger failed to load.
            end Errored = "errored" (requires error_message; verb error),
        }
        fields {
            /// The messenger deployment the offer opens.
            deployment_id: Uuid = "deploymentId",
            /// The conversation, once the visitor wrote.
            conversation_id: Option<Uuid> = "conversationId",
        }
    }
}

/// Checked at compile time: a misspelt state here does not build.
const CONVERSED: Topic = WebMessagingOffer::topic("conversationStarted");

fn main() {
    // The typestate API: only declared transitions exist as methods.
    let ids = ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 2,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    });
    let deployment = Uuid::new_v4();
    let offer = WebMessagingOffer::offer(ids, deployment);
    let mut accepted = offer.accept();
    accepted.set_conversation_id(Uuid::new_v4());
    let last = accepted.converse();
    let line = serde_json::to_string(&last).expect("events serialize");
    println!("{line}");

    // Reading it back, through the registry as ingest does.
    let registry = Registry::builtin().with::<WebMessagingOffer>();
    let raw = webaction_events::RawEvent::from_slice(line.as_bytes())
        .expect("well-formed JSON")
        .expect("an event");
    let entry = registry.get(&raw.media_type).expect("registered");
    let event = entry.from_raw(raw).expect("valid");
    println!("{} on topic {}", event.media_type_name(), event.topic());
    assert_eq!(event.topic(), CONVERSED);

    let typed = event
        .downcast_ref::<WebMessagingOfferEvent>()
        .expect("this media type");
    assert_eq!(typed.deployment_id, deployment);
    assert!(typed.state().is_terminal());
    println!(
        "{} states, first {:?}",
        WebMessagingOffer::DESCRIPTION.states.len(),
        <WebMessagingOffer as MediaType>::ALL[0]
    );
}
