//! The typestate API: every declared path of both built-in media types, driven step by
//! step, yields events whose states follow the declaration.

use std::collections::BTreeSet;
use std::mem::size_of;

use webaction_events::ingest::Tracker;
use webaction_events::{
    web_chat, ActionIds, ContentOffer, ContentOfferAction, ContentOfferEvent, MediaType, NewAction,
    Uuid, WebChat, WebChatAction, WebChatEvent,
};
use webaction_events::{Event, Registry};

fn ids() -> ActionIds {
    ActionIds::new(NewAction {
        action_map_id: Uuid::new_v4(),
        action_map_version: 3,
        customer_id: Uuid::new_v4(),
        session_id: Uuid::new_v4(),
    })
}

/// Every path from an initial state to a state that ends the lifecycle, as wire names.
fn declared_paths<M: MediaType>() -> BTreeSet<Vec<&'static str>> {
    fn walk<M: MediaType>(path: &mut Vec<M>, out: &mut BTreeSet<Vec<&'static str>>) {
        let last = *path.last().unwrap();
        if last.is_end() {
            out.insert(path.iter().map(|s| s.as_str()).collect());
            return;
        }
        for &next in last.successors() {
            path.push(next);
            walk(path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    for &initial in M::ALL.iter().filter(|s| s.is_initial()) {
        walk(&mut vec![initial], &mut out);
    }
    out
}

fn path_of<E: Event>(events: &[E]) -> Vec<&'static str> {
    // Every event of one action carries the same ids.
    assert!(events
        .windows(2)
        .all(|w| w[0].action_id() == w[1].action_id()
            && w[0].session_id() == w[1].session_id()
            && w[0].action_map_version() == w[1].action_map_version()));
    events.iter().map(|e| e.state().as_str()).collect()
}

/// Feeds every produced event to the run-time lifecycle tracker, which must accept each
/// step: what compiles is what the tracker allows.
fn track_all<E: Event>(runs: &[Vec<E>]) {
    let mut tracker = Tracker::new(&Registry::builtin());
    let mut tick = 0;
    for event in runs.iter().flatten() {
        tick += 1;
        if let Err(illegal) = tracker.track(event, tick) {
            panic!("the tracker refused a typestate-produced event: {illegal}");
        }
    }
    assert_eq!(
        tracker.len(),
        0,
        "every driven action ended, so none is still tracked"
    );
    // The tracker does refuse: an ended action's first event again is illegal.
    assert!(tracker.track(&runs[0][0], tick + 1).is_err());

    // A tracker built without this media type learns it from the first event.
    let mut tracker = Tracker::new(&Registry::empty());
    for event in runs.iter().flatten() {
        if let Err(illegal) = tracker.track(event, 0) {
            panic!("a tracker without the media type refused: {illegal}");
        }
    }
    assert!(tracker.is_empty());
}

#[test]
fn every_webchat_path_is_drivable() {
    let offered = || WebChat::offer(ids());
    let accepted = || offered().accept();
    let started = || accepted().start();
    let runs: Vec<Vec<WebChatEvent>> = vec![
        {
            let a = offered();
            vec![a.event().clone(), a.reject()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.ignore()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.time_out()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.error("widget failed")]
        },
        {
            let a = offered();
            let first = a.event().clone();
            let b = a.accept();
            vec![first, b.event().clone(), b.reject()]
        },
        {
            let a = offered();
            let first = a.event().clone();
            let b = a.accept();
            vec![first, b.event().clone(), b.error("boom")]
        },
        {
            let a = accepted();
            let first = WebChatEvent {
                action_state: WebChat::Offered,
                ..a.event().clone()
            };
            let second = a.event().clone();
            let b = a.start();
            vec![first, second, b.event().clone(), b.engage()]
        },
        {
            let a = accepted();
            let first = WebChatEvent {
                action_state: WebChat::Offered,
                ..a.event().clone()
            };
            let second = a.event().clone();
            let b = a.start();
            vec![first, second, b.event().clone(), b.abandon()]
        },
        {
            let b = started();
            let mut events = vec![
                WebChatEvent {
                    action_state: WebChat::Offered,
                    ..b.event().clone()
                },
                WebChatEvent {
                    action_state: WebChat::Accepted,
                    ..b.event().clone()
                },
                b.event().clone(),
            ];
            events.push(b.error("agent lost"));
            events
        },
    ];
    let driven: BTreeSet<_> = runs.iter().map(|run| path_of(run)).collect();
    assert_eq!(driven, declared_paths::<WebChat>());
    track_all(&runs);
    for run in &runs {
        let last = run.last().unwrap();
        if last.action_state == WebChat::Errored {
            assert!(
                last.error_message.is_some(),
                "errored carries its required field"
            );
        } else {
            assert!(run.iter().all(|e| e.error_message.is_none()));
        }
    }
}

#[test]
fn every_contentoffer_path_is_drivable() {
    let offered = || ContentOffer::offer(ids());
    let runs: Vec<Vec<ContentOfferEvent>> = vec![
        {
            let a = offered();
            vec![a.event().clone(), a.accept()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.reject()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.ignore()]
        },
        {
            let a = offered();
            vec![a.event().clone(), a.error("no content")]
        },
    ];
    let driven: BTreeSet<_> = runs.iter().map(|run| path_of(run)).collect();
    assert_eq!(driven, declared_paths::<ContentOffer>());
    track_all(&runs);
}

#[test]
fn fields_set_on_one_state_carry_over_and_errors_do_not() {
    let mut chat = WebChat::offer(ids()).accept();
    let conversation = Uuid::new_v4();
    chat.set_conversation_id(conversation);
    let started = chat.start();
    assert_eq!(started.event().conversation_id, Some(conversation));
    let errored = started.error("agent lost");
    assert_eq!(errored.error_message.as_deref(), Some("agent lost"));
    let json = serde_json::to_value(&errored).unwrap();
    assert_eq!(json["actionState"], "errored");
    assert_eq!(json["conversationId"], conversation.to_string());
}

#[test]
fn the_state_marker_costs_nothing() {
    assert_eq!(size_of::<web_chat::Offered>(), 0);
    assert_eq!(
        size_of::<WebChatAction<web_chat::Started>>(),
        size_of::<WebChatEvent>()
    );
    assert_eq!(
        size_of::<ContentOfferAction<webaction_events::content_offer::Offered>>(),
        size_of::<ContentOfferEvent>()
    );
}
