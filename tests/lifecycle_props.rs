//! Properties of the generated transition tables, for every built-in media type and a
//! user-declared one: every random walk of the declared graph is accepted step by step,
//! every undeclared pair is refused, and events of any state survive a round trip.

mod common;

use common::sample_with;
use proptest::prelude::*;
use webaction_events::{ContentOffer, ContentOfferEvent, Event, MediaType, WebChat, WebChatEvent};

webaction_events::media_type! {
    /// A messaging offer with a loop: a visitor may reopen a minimised conversation.
    pub Messaging = "webMessagingOffer" {
        states {
            /// Offered.
            initial Offered = "offered" -> Opened | Dismissed,
            /// Opened.
            Opened = "opened" -> Minimised | Closed,
            /// Minimised.
            Minimised = "minimised" -> Opened | Closed,
            /// Dismissed.
            terminal Dismissed = "dismissed",
            /// Closed.
            terminal Closed = "closed",
        }
    }
}

/// Walks the graph from an initial state, choosing successors with `choices`, and checks
/// each step against the transition table and the description.
fn walk<M: MediaType>(start: usize, choices: &[usize]) {
    let initials: Vec<M> = M::ALL.iter().copied().filter(|s| s.is_initial()).collect();
    let mut state = initials[start % initials.len()];
    for &choice in choices {
        let next = state.successors();
        if next.is_empty() {
            assert!(
                state.is_end(),
                "{state} has no successor, so it must end the lifecycle"
            );
            return;
        }
        let chosen = next[choice % next.len()];
        assert!(state.can_transition_to(chosen), "{state} -> {chosen}");
        let described = &M::DESCRIPTION.states[state.index()].next;
        assert!(described.contains(&chosen.index()));
        state = chosen;
    }
}

/// Every pair is allowed exactly when the description lists it.
fn pairs_match_description<M: MediaType>() {
    for &from in M::ALL {
        for &to in M::ALL {
            let declared = M::DESCRIPTION.states[from.index()]
                .next
                .contains(&to.index());
            assert_eq!(from.can_transition_to(to), declared, "{from} -> {to}");
            assert_eq!(from.successors().contains(&to), declared, "{from} -> {to}");
        }
        if from.is_end() {
            assert!(from.successors().is_empty(), "{from} ends the lifecycle");
        }
    }
}

#[test]
fn undeclared_pairs_are_refused() {
    pairs_match_description::<WebChat>();
    pairs_match_description::<ContentOffer>();
    pairs_match_description::<Messaging>();
    // Spot checks that the table says what the domain notes say.
    assert!(!WebChat::Offered.can_transition_to(WebChat::Started));
    assert!(!WebChat::Rejected.can_transition_to(WebChat::Accepted));
    assert!(!ContentOffer::Offered.can_transition_to(ContentOffer::Offered));
}

fn event_json(
    media_type: &str,
    state: &str,
    conversation: Option<u128>,
    extra: &[(String, i64)],
) -> serde_json::Value {
    let mut event = sample_with(media_type, state);
    if state == "errored" {
        event["errorMessage"] = "failed".into();
    }
    if let (Some(id), "webchat") = (conversation, media_type) {
        event["conversationId"] = uuid::Uuid::from_u128(id).to_string().into();
    }
    for (key, value) in extra {
        // Prefix keeps random keys clear of the documented and declared fields.
        event[format!("x_{key}")] = (*value).into();
    }
    event
}

fn round_trips<E: Event>(input: serde_json::Value) {
    let event: E = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&event).unwrap(), input);
}

proptest! {
    #[test]
    fn random_walks_are_accepted(start in 0usize..4, choices in proptest::collection::vec(0usize..8, 0..16)) {
        walk::<WebChat>(start, &choices);
        walk::<ContentOffer>(start, &choices);
        walk::<Messaging>(start, &choices);
    }

    #[test]
    fn events_of_every_state_round_trip(
        state in 0usize..9,
        conversation in proptest::option::of(any::<u128>()),
        extra in proptest::collection::vec(("[a-zA-Z]{1,8}", any::<i64>()), 0..4),
    ) {
        let mut extra = extra;
        extra.sort();
        extra.dedup_by(|a, b| a.0 == b.0);
        let webchat = WebChat::ALL[state % WebChat::ALL.len()].as_str();
        round_trips::<WebChatEvent>(event_json("webchat", webchat, conversation, &extra));
        let offer = ContentOffer::ALL[state % ContentOffer::ALL.len()].as_str();
        round_trips::<ContentOfferEvent>(event_json("contentoffer", offer, None, &extra));
    }
}

/// The same properties through the test kit users get (`features = ["testing"]`): for
/// every media type here, each generated lifecycle is accepted whole by ingest, each
/// illegal step refused as one, and each malformed line refused with its kind.
mod kit {
    use super::Messaging;
    use proptest::prelude::*;
    use webaction_events::ingest::{ErrorKind, Ingest, Outcome};
    use webaction_events::testing::{illegal_step, lifecycle, malformed};
    use webaction_events::{AnyEvent, ContentOffer, Event, MediaType, Registry, WebChat};

    fn registry() -> Registry {
        Registry::builtin().with::<Messaging>()
    }

    fn line<E: Event>(event: &E) -> Vec<u8> {
        serde_json::to_vec(event).unwrap()
    }

    fn accepts_every_lifecycle<M: MediaType>(events: &[M::Event]) -> Result<(), TestCaseError> {
        let mut ingest = Ingest::builder(registry()).build(|_: &AnyEvent| {});
        for event in events {
            let outcome = ingest.ingest(&line(event));
            prop_assert!(matches!(outcome, Outcome::Emitted), "{outcome:?}");
        }
        Ok(())
    }

    fn refuses_the_illegal_step<M: MediaType>(
        before: &[M::Event],
        illegal: &M::Event,
    ) -> Result<(), TestCaseError> {
        let mut ingest = Ingest::builder(registry()).build(|_: &AnyEvent| {});
        for event in before {
            prop_assert!(matches!(ingest.ingest(&line(event)), Outcome::Emitted));
        }
        match ingest.ingest(&line(illegal)) {
            Outcome::Rejected(rejection) => {
                prop_assert_eq!(rejection.error.kind(), ErrorKind::IllegalTransition)
            }
            other => prop_assert!(false, "accepted an illegal step: {other:?}"),
        }
        Ok(())
    }

    fn refuses_with_its_kind(line: &[u8], kind: ErrorKind) -> Result<(), TestCaseError> {
        let mut ingest = Ingest::builder(registry()).build(|_: &AnyEvent| {});
        match ingest.ingest(line) {
            Outcome::Rejected(rejection) => prop_assert_eq!(rejection.error.kind(), kind),
            other => prop_assert!(
                false,
                "accepted {:?}: {other:?}",
                String::from_utf8_lossy(line)
            ),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn webchat_lifecycles(events in lifecycle::<WebChat>()) {
            accepts_every_lifecycle::<WebChat>(&events)?;
        }

        #[test]
        fn contentoffer_lifecycles(events in lifecycle::<ContentOffer>()) {
            accepts_every_lifecycle::<ContentOffer>(&events)?;
        }

        #[test]
        fn lifecycles_with_a_loop(events in lifecycle::<Messaging>()) {
            prop_assert!(events.last().unwrap().state().is_end());
            accepts_every_lifecycle::<Messaging>(&events)?;
        }

        #[test]
        fn webchat_illegal_steps((before, illegal) in illegal_step::<WebChat>()) {
            refuses_the_illegal_step::<WebChat>(&before, &illegal)?;
        }

        #[test]
        fn messaging_illegal_steps((before, illegal) in illegal_step::<Messaging>()) {
            refuses_the_illegal_step::<Messaging>(&before, &illegal)?;
        }

        #[test]
        fn malformed_lines((line, kind) in malformed::<WebChat>()) {
            refuses_with_its_kind(&line, kind)?;
        }

        #[test]
        fn malformed_lines_of_a_user_type((line, kind) in malformed::<Messaging>()) {
            refuses_with_its_kind(&line, kind)?;
        }
    }
}
