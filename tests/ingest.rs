//! Ingest: every error kind from the decoder, the tracker's lifecycle rules, its memory
//! bound, the illegal-event policies, and enrichment that survives serialization.

mod common;

use common::sample_with;
use proptest::prelude::*;
use serde_json::{json, Value};
use webaction_events::ingest::{
    Decoder, ErrorKind, IdleTimeout, IllegalPolicy, IllegalTransition, Ingest, Outcome, Tracker,
    TrackerConfig, TransitionRule,
};
use webaction_events::{
    AnyEvent, ContentOffer, MediaTypeDescription, Registry, Uuid, WebChat, WebChatEvent,
};

const WEBCHAT: usize = 0;
const CONTENTOFFER: usize = 1;

fn event(id: u128, media_type: &str, state: &str) -> Value {
    let mut event = sample_with(media_type, state);
    event["actionId"] = json!(Uuid::from_u128(id));
    event
}

fn line(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap()
}

fn kind_of(decoder: &Decoder, bytes: &[u8]) -> ErrorKind {
    decoder.decode(bytes).unwrap_err().kind()
}

#[test]
fn the_decoder_names_every_kind() {
    let decoder = Decoder::new(Registry::builtin()).with_max_line_bytes(1000);
    let ok = event(1, "webchat", "offered");
    assert!(decoder.decode(&line(&ok)).is_ok());
    assert!(decoder.decode(&[&line(&ok)[..], b"\r"].concat()).is_ok());

    let malformed: [&[u8]; 5] = [b"", b"{", b"[1]", b"{} {}", b"\"offered\""];
    for bytes in malformed {
        assert_eq!(
            kind_of(&decoder, bytes),
            ErrorKind::MalformedJson,
            "{bytes:?}"
        );
    }
    // Invalid UTF-8 is malformed JSON, even inside a value the parser only skips.
    let mut nested = line(&json!({"actionId": ["X"]}));
    let at = nested.iter().position(|&b| b == b'X').unwrap();
    nested[at] = 0xff;
    let error = decoder.decode(&nested).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MalformedJson);
    assert!(error.to_string().contains("UTF-8"), "{error}");

    let mut big = ok.clone();
    big["padding"] = json!("x".repeat(1000));
    let error = decoder.decode(&line(&big)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLarge);
    assert!(error.to_string().contains("limit of 1000 bytes"), "{error}");

    let mut missing = ok.clone();
    missing.as_object_mut().unwrap().remove("customerId");
    let error = decoder.decode(&line(&missing)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MissingField);
    assert!(error.to_string().contains("customerId"), "{error}");

    let mut invalid = ok.clone();
    invalid["actionMapVersion"] = json!("3");
    assert_eq!(kind_of(&decoder, &line(&invalid)), ErrorKind::InvalidField);
    invalid = ok.clone();
    invalid["sessionId"] = json!("1a2b3c4d");
    let error = decoder.decode(&line(&invalid)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidField);
    assert!(error.to_string().contains("sessionId"), "{error}");

    let error = decoder
        .decode(&line(&event(1, "contentofer", "offered")))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnknownMediaType);
    assert!(
        error.to_string().contains("did you mean `contentoffer`"),
        "{error}"
    );

    let error = decoder
        .decode(&line(&event(1, "webchat", "acepted")))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnknownState);
    assert!(
        error.to_string().contains("did you mean `accepted`"),
        "{error}"
    );

    // A state `errored` requires `errorMessage`.
    let error = decoder
        .decode(&line(&event(1, "webchat", "errored")))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::MissingField);
}

fn tracker() -> Tracker {
    Tracker::new(&Registry::builtin())
}

fn chat(tracker: &mut Tracker, id: u128, state: WebChat) -> Result<(), IllegalTransition> {
    tracker.track_state(WEBCHAT, Uuid::from_u128(id), state.index(), 0)
}

#[test]
fn the_tracker_refuses_each_kind_of_illegal_step_naming_from_and_to() {
    let mut t = tracker();
    let error = chat(&mut t, 1, WebChat::Accepted).unwrap_err();
    assert_eq!(
        (error.rule, error.from, error.to),
        (TransitionRule::NotInitial, None, "accepted")
    );
    assert_eq!(error.expected, ["offered"]);

    chat(&mut t, 1, WebChat::Offered).unwrap();
    let error = chat(&mut t, 1, WebChat::Offered).unwrap_err();
    assert_eq!(
        (error.rule, error.from, error.to),
        (TransitionRule::Repeated, Some("offered"), "offered")
    );
    let error = chat(&mut t, 1, WebChat::Started).unwrap_err();
    assert_eq!(
        (error.rule, error.from, error.to),
        (TransitionRule::NotASuccessor, Some("offered"), "started")
    );
    assert!(
        error.to_string().contains("`offered` -> `started`"),
        "{error}"
    );
    assert_eq!(
        error.expected,
        ["accepted", "rejected", "ignored", "timedout", "errored"]
    );

    // Refused steps changed nothing: the next step is judged against `offered`.
    chat(&mut t, 1, WebChat::Accepted).unwrap();
    assert_eq!(
        t.state_of(Uuid::from_u128(1)),
        Some(("webchat", "accepted"))
    );
    let error = t
        .track_state(
            CONTENTOFFER,
            Uuid::from_u128(1),
            ContentOffer::Accepted.index(),
            0,
        )
        .unwrap_err();
    assert_eq!(error.rule, TransitionRule::MediaTypeChanged);
    assert_eq!(error.from_media_type, Some("webchat"));

    chat(&mut t, 1, WebChat::Rejected).unwrap();
    assert_eq!(
        t.state_of(Uuid::from_u128(1)),
        None,
        "ended actions leave the live table"
    );
    assert_eq!(t.len(), 0);
    for late in [WebChat::Offered, WebChat::Engaged, WebChat::Rejected] {
        let error = chat(&mut t, 1, late).unwrap_err();
        assert_eq!(
            (error.rule, error.from, error.to),
            (TransitionRule::AfterEnd, Some("rejected"), late.as_str())
        );
    }
    assert_eq!(t.stats().ended, 1);
}

/// A walk of the declared graph from an initial state to an end, choosing by `choices`.
fn walk(description: &MediaTypeDescription, choices: &[usize]) -> Vec<usize> {
    let initial: Vec<usize> = (0..description.states.len())
        .filter(|&i| description.states[i].initial)
        .collect();
    let mut path = vec![initial[choices[0] % initial.len()]];
    for &choice in &choices[1..] {
        let state = &description.states[*path.last().unwrap()];
        if state.next.is_empty() {
            break;
        }
        path.push(state.next[choice % state.next.len()]);
    }
    path
}

proptest! {
    #[test]
    fn every_walk_of_the_graph_is_accepted_and_every_other_step_refused(
        media in 0usize..2,
        choices in prop::collection::vec(any::<usize>(), 8),
        bad_at in any::<usize>(),
        bad_state in any::<usize>(),
    ) {
        let description = [WebChat::DESCRIPTION, ContentOffer::DESCRIPTION][media];
        let path = walk(description, &choices);
        let id = Uuid::from_u128(7);
        let mut t = tracker();
        // An undeclared step inserted anywhere is refused, and the walk still passes.
        let at = bad_at % path.len();
        for (i, &state) in path.iter().enumerate() {
            if i == at {
                let previous = i.checked_sub(1).map(|p| path[p]);
                let allowed: Vec<usize> = match previous {
                    None => (0..description.states.len())
                        .filter(|&s| description.states[s].initial)
                        .collect(),
                    Some(p) => description.states[p].next.to_vec(),
                };
                let refused: Vec<usize> = (0..description.states.len())
                    .filter(|s| !allowed.contains(s))
                    .collect();
                if !refused.is_empty() {
                    let bad = refused[bad_state % refused.len()];
                    let error = t.track_state(media, id, bad, 0).unwrap_err();
                    prop_assert_eq!(error.to, description.states[bad].wire_name);
                    prop_assert_eq!(error.from, previous.map(|p| description.states[p].wire_name));
                }
            }
            prop_assert!(t.track_state(media, id, state, 0).is_ok(), "{:?}", path);
        }
        prop_assert!(t.is_empty(), "the walk ended");
    }
}

#[test]
fn never_ending_actions_keep_the_tracker_at_its_cap() {
    let cap = 10_000;
    let config = TrackerConfig {
        max_actions: cap,
        ..TrackerConfig::default()
    };
    let mut t = Tracker::with_config(&Registry::builtin(), config);
    let mut memory_at_cap = 0;
    for id in 0..20 * cap as u128 {
        chat_at(&mut t, id, WebChat::Offered).unwrap();
        // Some old actions keep going, so eviction must skip the recently seen.
        if id % 7 == 0 && id > 10 {
            let _ = chat_at(&mut t, id - 10, WebChat::Accepted);
        }
        assert!(t.len() <= cap);
        if id as usize == 2 * cap {
            memory_at_cap = t.memory_bytes();
        }
    }
    assert_eq!(t.len(), cap);
    assert_eq!(t.stats().evicted, 20 * cap as u64 - cap as u64);
    assert_eq!(
        t.memory_bytes(),
        memory_at_cap,
        "memory stops growing at the cap"
    );
    assert!(
        t.memory_bytes() <= 48 * cap,
        "{} bytes per live action",
        t.memory_bytes() as f64 / cap as f64
    );
    // The newest actions survived eviction.
    let newest = 20 * cap as u128 - 1;
    assert_eq!(
        t.state_of(Uuid::from_u128(newest)),
        Some(("webchat", "offered"))
    );
}

fn chat_at(t: &mut Tracker, id: u128, state: WebChat) -> Result<(), IllegalTransition> {
    t.track_state(WEBCHAT, Uuid::from_u128(id), state.index(), id as u32)
}

/// The CLOCK hand passes over an action seen since it last came by: 1 was seen again, so
/// one of 2 and 3 (whichever the hand meets first) goes.
#[test]
fn the_cap_evicts_an_action_not_seen_again() {
    let config = TrackerConfig {
        max_actions: 3,
        ..TrackerConfig::default()
    };
    let mut t = Tracker::with_config(&Registry::builtin(), config);
    for id in 1..=3 {
        chat(&mut t, id, WebChat::Offered).unwrap();
    }
    chat(&mut t, 1, WebChat::Accepted).unwrap();
    chat(&mut t, 4, WebChat::Offered).unwrap();
    assert!(t.state_of(Uuid::from_u128(1)).is_some());
    assert!(t.state_of(Uuid::from_u128(4)).is_some());
    let evicted: Vec<u128> = [2, 3]
        .into_iter()
        .filter(|&id| t.state_of(Uuid::from_u128(id)).is_none())
        .collect();
    assert_eq!(evicted.len(), 1, "one of 2 and 3 goes");
    assert_eq!(t.stats().evicted, 1);
    let error = chat(&mut t, evicted[0], WebChat::Accepted).unwrap_err();
    assert_eq!(error.rule, TransitionRule::NotInitial);
}

#[test]
fn idle_actions_expire_and_active_ones_do_not() {
    let config = TrackerConfig {
        idle_timeout: Some(100),
        ..TrackerConfig::default()
    };
    let mut t = Tracker::with_config(&Registry::builtin(), config);
    let id = |n: u128| Uuid::from_u128(n);
    t.track_state(WEBCHAT, id(1), WebChat::Offered.index(), 0)
        .unwrap();
    t.track_state(WEBCHAT, id(2), WebChat::Offered.index(), 0)
        .unwrap();
    t.track_state(WEBCHAT, id(2), WebChat::Accepted.index(), 90)
        .unwrap();
    // Other traffic moves the clock on, past twice the timeout after 90, by when both
    // must be forgotten.
    for tick in 91..=291 {
        let other = 1000 + u128::from(tick);
        t.track_state(WEBCHAT, id(other), WebChat::Offered.index(), tick)
            .unwrap();
        t.track_state(WEBCHAT, id(other), WebChat::Ignored.index(), tick)
            .unwrap();
        if tick == 99 {
            assert!(t.state_of(id(1)).is_some(), "not expired before its time");
        }
    }
    assert_eq!(t.state_of(id(1)), None, "idle since tick 0");
    assert_eq!(t.state_of(id(2)), None, "idle since tick 90");
    assert_eq!(t.stats().expired, 2);
    assert!(t.is_empty());
}

#[test]
fn policies_deliver_flagged_quarantine_or_drop_and_always_count() {
    let lines = [
        line(&event(1, "webchat", "offered")),
        line(&event(1, "webchat", "engaged")),
        line(&event(1, "webchat", "accepted")),
    ];
    let run = |policy| {
        let mut seen = Vec::new();
        let mut ingest = Ingest::builder(Registry::builtin())
            .illegal(policy)
            .build(|e: &AnyEvent| seen.push(e.state_name()));
        let outcomes: Vec<Outcome> = lines.iter().map(|l| ingest.ingest(l)).collect();
        let stats = *ingest.stats();
        drop(ingest);
        (seen, outcomes, stats)
    };

    let (seen, outcomes, stats) = run(IllegalPolicy::Quarantine);
    assert_eq!(seen, ["offered", "accepted"]);
    match &outcomes[1] {
        Outcome::Rejected(rejection) => {
            assert_eq!(rejection.error.kind(), ErrorKind::IllegalTransition);
            assert_eq!(rejection.event.as_ref().unwrap().state_name(), "engaged");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!((stats.valid, stats.rejected), (2, 1));

    let (seen, outcomes, stats) = run(IllegalPolicy::Deliver);
    assert_eq!(
        seen,
        ["offered", "engaged", "accepted"],
        "flagged, and state unchanged"
    );
    assert!(matches!(outcomes[1], Outcome::Flagged(_)));
    assert_eq!((stats.valid, stats.flagged, stats.rejected), (2, 1, 0));

    let (seen, outcomes, stats) = run(IllegalPolicy::Drop);
    assert_eq!(seen, ["offered", "accepted"]);
    assert!(matches!(outcomes[1], Outcome::Dropped(_)));
    assert_eq!((stats.valid, stats.dropped, stats.rejected), (2, 1, 0));
    assert_eq!(
        stats.count(ErrorKind::IllegalTransition),
        1,
        "dropped, still counted"
    );
}

#[test]
fn a_rejected_line_never_changes_the_tracked_state() {
    let mut ingest = Ingest::builder(Registry::builtin()).build(|_: &AnyEvent| {});
    assert!(ingest
        .ingest(&line(&event(1, "webchat", "offered")))
        .is_valid());
    let mut broken = event(1, "webchat", "accepted");
    broken["actionMapVersion"] = json!(-1);
    assert!(!ingest.ingest(&line(&broken)).is_valid());
    assert!(!ingest
        .ingest(&line(&event(1, "webchat", "started")))
        .is_valid());
    assert!(!ingest
        .ingest(&line(&event(1, "webchat", "engaged")))
        .is_valid());
    assert!(ingest
        .ingest(&line(&event(1, "webchat", "accepted")))
        .is_valid());
    assert!(ingest
        .ingest(&line(&event(1, "webchat", "started")))
        .is_valid());
}

#[test]
fn enrichment_adds_the_conversation_id_and_it_survives_serialization() {
    let conversation = Uuid::from_u128(0xc0);
    let mut out = Vec::new();
    let mut ingest = Ingest::builder(Registry::builtin())
        .enrich(move |event: &mut AnyEvent| {
            if let Some(chat) = event.downcast_mut::<WebChatEvent>() {
                chat.conversation_id = Some(conversation);
            }
            event
                .extra_mut()
                .insert("source".into(), json!("collector-1"));
        })
        .build(|event: &AnyEvent| {
            let mut bytes = Vec::new();
            event.write_json(&mut bytes).unwrap();
            out.push(serde_json::from_slice::<Value>(&bytes).unwrap());
        });
    let mut with_unknown = event(1, "webchat", "offered");
    with_unknown["pageUrl"] = json!("https://example.com/");
    assert!(ingest.ingest(&line(&with_unknown)).is_valid());
    assert!(ingest
        .ingest(&line(&event(2, "contentoffer", "offered")))
        .is_valid());
    drop(ingest);
    assert_eq!(out[0]["conversationId"], json!(conversation));
    assert_eq!(out[0]["source"], "collector-1");
    assert_eq!(
        out[0]["pageUrl"], "https://example.com/",
        "unknown fields kept"
    );
    assert!(
        out[1].get("conversationId").is_none(),
        "only webchat events"
    );
    assert_eq!(out[1]["source"], "collector-1");
    // What was written reads back as the same typed event.
    let back: WebChatEvent = serde_json::from_value(out[0].clone()).unwrap();
    assert_eq!(back.conversation_id, Some(conversation));
}

#[test]
fn idle_time_can_be_counted_in_lines() {
    let mut ingest = Ingest::builder(Registry::builtin())
        .idle_timeout(Some(IdleTimeout::Events(5)))
        .build(|_: &AnyEvent| {});
    assert!(ingest
        .ingest(&line(&event(1, "webchat", "offered")))
        .is_valid());
    for other in 0..12 {
        let _ = ingest.ingest(b"{not an event");
        let _ = ingest.ingest(&line(&event(100 + other, "webchat", "offered")));
    }
    let outcome = ingest.ingest(&line(&event(1, "webchat", "accepted")));
    assert_eq!(
        outcome.error().unwrap().kind(),
        ErrorKind::IllegalTransition
    );
    assert!(ingest.tracker_stats().expired >= 1);
}

/// `IdleTimeout::Events(n)`: an action stays known with up to `n` lines between two of
/// its events, and is forgotten with more.
#[test]
fn idle_lines_keep_an_action_through_exactly_that_many_lines() {
    for n in [1u32, 2, 5] {
        for between in [0, n - 1, n, n + 1, n + 2] {
            let mut ingest = Ingest::builder(Registry::builtin())
                .idle_timeout(Some(IdleTimeout::Events(n)))
                .build(|_: &AnyEvent| {});
            assert!(ingest
                .ingest(&line(&event(1, "webchat", "offered")))
                .is_valid());
            for other in 0..between {
                // Any line counts, an event of another action or not an event at all.
                if other % 2 == 0 {
                    let other = line(&event(100 + u128::from(other), "webchat", "offered"));
                    assert!(ingest.ingest(&other).is_valid());
                } else {
                    let _ = ingest.ingest(b"{not an event");
                }
            }
            let outcome = ingest.ingest(&line(&event(1, "webchat", "accepted")));
            assert_eq!(
                outcome.is_valid(),
                between <= n,
                "idle {n} lines, {between} lines between"
            );
            assert_eq!(ingest.tracker_stats().expired > 0, between > n);
        }
    }
}

/// In ticks: an action idle for exactly the timeout is kept, one idle a tick longer is
/// forgotten, from any first tick (ticks wrap around, and a first tick half the range away
/// from 0 once kept idle actions forever).
#[test]
fn an_action_is_forgotten_only_when_idle_longer_than_the_timeout() {
    for (timeout, start) in [1u32, 3, 100]
        .into_iter()
        .flat_map(|timeout| [0, 1 << 31, u32::MAX - 1].map(|start| (timeout, start)))
    {
        for idle in [timeout - 1, timeout, timeout + 1] {
            let config = TrackerConfig {
                idle_timeout: Some(timeout),
                ..TrackerConfig::default()
            };
            let mut t = Tracker::with_config(&Registry::builtin(), config);
            t.track_state(WEBCHAT, Uuid::from_u128(1), WebChat::Offered.index(), start)
                .unwrap();
            let result = t.track_state(
                WEBCHAT,
                Uuid::from_u128(1),
                WebChat::Accepted.index(),
                start.wrapping_add(idle),
            );
            assert_eq!(
                result.is_ok(),
                idle <= timeout,
                "timeout {timeout}, idle {idle}"
            );
        }
    }
}

#[test]
fn ingest_emits_on_the_bus_to_typed_and_topic_subscribers() {
    use std::sync::{Arc, Mutex};
    use webaction_events::Events;

    let events = Events::new();
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&accepted);
    events.on(WebChat::Accepted, move |event: &WebChatEvent| {
        sink.lock().unwrap().push(event.conversation_id);
    });
    let topics = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&topics);
    events
        .on_topic("contentoffer:all", move |event: &AnyEvent| {
            sink.lock().unwrap().push(event.topic().to_string());
        })
        .unwrap();

    let conversation = Uuid::from_u128(0xc0);
    let mut ingest = Ingest::builder(Registry::builtin())
        .enrich(move |event: &mut AnyEvent| {
            if let Some(chat) = event.downcast_mut::<WebChatEvent>() {
                chat.conversation_id = Some(conversation);
            }
        })
        .build(&events);
    for (id, media_type, state) in [
        (1, "webchat", "offered"),
        (1, "webchat", "accepted"),
        (1, "webchat", "accepted"), // repeated: quarantined, not emitted
        (2, "contentoffer", "offered"),
        (2, "contentoffer", "ignored"),
        (3, "contentoffer", "ignored"), // not initial: quarantined
    ] {
        let _ = ingest.ingest(&line(&event(id, media_type, state)));
    }
    assert_eq!(ingest.stats().valid, 4);
    assert_eq!(*accepted.lock().unwrap(), [Some(conversation)]);
    assert_eq!(
        *topics.lock().unwrap(),
        ["contentoffer:offered", "contentoffer:ignored"]
    );
}

/// What eviction promises, written the obvious way: the CLOCK hand evicts an action whose
/// touched bit is clear, so while some live action has not been seen since it started
/// (its bit was never set), the one evicted was not seen since the eviction before (the
/// hand only clears bits as it walks, at an eviction). Which one it is depends on the
/// table's layout, so the model learns it from the tracker.
#[derive(Default)]
struct EvictionModel {
    /// Each live action's state, whether it was seen since the last eviction (or since
    /// it started after it), and whether it was ever seen after its start.
    live: std::collections::HashMap<u128, (WebChat, bool, bool)>,
}

impl EvictionModel {
    /// The verdict the model expects, before the tracker's; an eviction is checked by
    /// [`evicted`](Self::evicted) after it.
    fn track(&mut self, id: u128, state: WebChat) -> bool {
        match self.live.get(&id).copied() {
            Some((from, _, _)) => {
                if !from.can_transition_to(state) {
                    return false;
                }
                if state.is_end() || state.is_terminal() {
                    self.live.remove(&id);
                } else {
                    self.live.insert(id, (state, true, true));
                }
                true
            }
            None => state.is_initial(),
        }
    }

    /// After a new action `id` started at the cap: finds which action the tracker evicted
    /// and checks it against the promise.
    fn evicted(&mut self, tracker: &Tracker, id: u128) -> Result<(), TestCaseError> {
        let gone: Vec<u128> = self
            .live
            .keys()
            .copied()
            .filter(|&other| tracker.state_of(Uuid::from_u128(other)).is_none())
            .collect();
        prop_assert_eq!(gone.len(), 1, "one action evicted");
        let never_seen_again = self.live.values().any(|&(_, _, seen)| !seen);
        let (_, seen_since, _) = self.live.remove(&gone[0]).unwrap();
        if never_seen_again {
            prop_assert!(!seen_since, "{} was seen since the last eviction", gone[0]);
        }
        for entry in self.live.values_mut() {
            entry.1 = false;
        }
        self.live.insert(id, (WebChat::Offered, false, false));
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// At a small cap, with ends and re-sightings shifting slots around, each eviction
    /// keeps the promise, and the tracker judges and keeps every other action as the model
    /// does, in the states it keeps them.
    #[test]
    fn eviction_keeps_the_clock_promise(
        steps in proptest::collection::vec((0u128..120, 0usize..4), 1..3000),
    ) {
        let cap = 24;
        let config = TrackerConfig {
            max_actions: cap,
            remember_ended: 0,
            ..TrackerConfig::default()
        };
        let mut tracker = Tracker::with_config(&Registry::builtin(), config);
        let mut model = EvictionModel::default();
        // A step moves an action along offered → accepted → started → engaged; the pick
        // chooses the next state or, now and then, one that is not allowed.
        let path = [WebChat::Offered, WebChat::Accepted, WebChat::Started, WebChat::Engaged];
        for (id, pick) in steps {
            let next = match model.live.get(&id) {
                None => WebChat::Offered,
                Some((from, _, _)) => {
                    let at = path.iter().position(|s| s == from).unwrap();
                    if pick == 0 { path[(at + 2) % 4] } else { path[at + 1] }
                }
            };
            let starts = !model.live.contains_key(&id);
            let expected = model.track(id, next);
            let got = tracker.track_state(WEBCHAT, Uuid::from_u128(id), next.index(), 0);
            prop_assert_eq!(got.is_ok(), expected, "{} {:?}", id, next);
            if starts && expected {
                if model.live.len() == cap {
                    model.evicted(&tracker, id)?;
                } else {
                    model.live.insert(id, (WebChat::Offered, false, false));
                }
            }
            prop_assert_eq!(tracker.len(), model.live.len());
        }
        for id in 0..120 {
            let expected = model.live.get(&id).map(|(state, _, _)| ("webchat", state.as_str()));
            prop_assert_eq!(tracker.state_of(Uuid::from_u128(id)), expected, "action {}", id);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// As long as events keep arriving (here, every 0 to 2 ticks, from any start, wrapping
    /// around), an action idle for more than the timeout is forgotten, never earlier, and
    /// by the first event after `2 × timeout + 1` idle ticks.
    #[test]
    fn idle_actions_are_forgotten_between_the_timeout_and_twice_it(
        timeout in 1u32..8,
        start in any::<u32>(),
        steps in proptest::collection::vec((0u128..12, 0u32..3), 1..400),
    ) {
        let config = TrackerConfig {
            idle_timeout: Some(timeout),
            ..TrackerConfig::default()
        };
        let mut t = Tracker::with_config(&Registry::builtin(), config);
        // Never-ending lifecycles: offered → accepted → started, then started again (a
        // repeated state, refused) until the action is forgotten.
        let path = [WebChat::Offered, WebChat::Accepted, WebChat::Started];
        let mut live = std::collections::HashMap::<u128, (usize, u32)>::new();
        let mut now = start;
        for (id, ticks) in steps {
            now = now.wrapping_add(ticks);
            let at = live.get(&id).map_or(0, |&(at, _)| (at + 1).min(2));
            let state = path[at].index();
            if t.track_state(WEBCHAT, Uuid::from_u128(id), state, now).is_ok() {
                live.insert(id, (at, now));
            }
            let mut forgotten = Vec::new();
            for (&other, &(_, last)) in &live {
                let idle = now.wrapping_sub(last);
                if t.state_of(Uuid::from_u128(other)).is_some() {
                    prop_assert!(idle <= 2 * timeout, "{} idle {} ticks", other, idle);
                } else {
                    prop_assert!(idle > timeout, "{} forgotten after {} ticks", other, idle);
                    forgotten.push(other);
                }
            }
            for other in forgotten {
                live.remove(&other);
            }
        }
    }
}

/// Records what ingest emits, with the state each action stepped from.
#[derive(Default)]
struct Recorder(Vec<String>);

impl webaction_events::ingest::Emit for Recorder {
    fn emit(&mut self, event: &AnyEvent) {
        self.0
            .push(format!("emit {} {}", event.action_id(), event.topic()));
    }

    fn emit_flagged(&mut self, event: &AnyEvent, illegal: &IllegalTransition) {
        self.0.push(format!("flagged {} {illegal}", event.topic()));
    }

    fn wants_steps(&self) -> bool {
        true
    }

    fn emit_step(&mut self, event: &AnyEvent, from: Option<&'static str>) {
        self.0.push(format!(
            "step {} {} from {from:?}",
            event.action_id(),
            event.topic()
        ));
    }
}

/// A line of a few actions: a state of either media type, or now and then a broken line.
fn batch_line() -> impl Strategy<Value = Vec<u8>> {
    let states: Vec<(&str, &str)> = [WebChat::DESCRIPTION, ContentOffer::DESCRIPTION]
        .iter()
        .flat_map(|m| m.states.iter().map(move |s| (m.wire_name, s.wire_name)))
        .collect();
    prop_oneof![
        12 => (0u128..6, prop::sample::select(states))
            .prop_map(|(id, (media, state))| line(&event(id, media, state))),
        1 => Just(b"{not json".to_vec()),
        1 => Just(br#"{"actionMediaType":"webchat"}"#.to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// `ingest_batch` is `ingest` line by line: the same outcomes, emits (with the state
    /// stepped from), counts and tracker counts, however the stream is cut into batches,
    /// with a cap, an ended memory and an idle timeout small enough to act. So is
    /// `ingest_decoded_batch` of lines decoded elsewhere with the builder's decoder (what
    /// `webaction serve` does on its request threads), and `ingest_decoded_batch_keeping`,
    /// which gives back, in order, every decoded event that no outcome holds.
    #[test]
    fn a_batch_is_ingested_as_its_lines_one_by_one(
        lines in prop::collection::vec(batch_line(), 0..80),
        cuts in prop::collection::vec(1usize..20, 1..10),
        policy in prop::sample::select(vec![IllegalPolicy::Deliver, IllegalPolicy::Quarantine, IllegalPolicy::Drop]),
        idle in prop::option::of(1u32..6),
        how in 0..3u8,
    ) {
        let builder = || {
            Ingest::builder(Registry::builtin())
                .max_actions(3)
                .remember_ended(2)
                .idle_timeout(idle.map(IdleTimeout::Events))
                .illegal(policy)
        };
        let build = || builder().build(Recorder::default());
        let decoder = builder().decoder();
        let describe = |outcome: Outcome| format!("{outcome:?}");
        let mut single = build();
        let mut batched = build();
        // Which action the cap evicts, and when the sweep comes by an idle one, follow from
        // the live table's layout, and so from its hash seed: the batched ingest takes the
        // single one's, with the rest of its (empty) state.
        batched.restore(&single.checkpoint()).unwrap();
        let expected: Vec<String> = lines.iter().map(|l| describe(single.ingest(l))).collect();
        let mut got = Vec::new();
        let (mut start, mut cut) = (0, cuts.iter().cycle());
        while start < lines.len() {
            let end = (start + cut.next().unwrap()).min(lines.len());
            let decoded = || lines[start..end].iter().map(|l| decoder.decode(l)).collect::<Vec<_>>();
            match how {
                0 => batched.ingest_batch(&lines[start..end], |i, outcome| {
                    got.push((start + i, describe(outcome)));
                }),
                1 => batched.ingest_decoded_batch(decoded(), |i, outcome| {
                    got.push((start + i, describe(outcome)));
                }),
                _ => {
                    let decoded = decoded();
                    let ids: Vec<_> = decoded
                        .iter()
                        .map(|line| line.as_ref().ok().map(|d| d.event.action_id()))
                        .collect();
                    let mut spent = Vec::new();
                    let mut expected_spent = Vec::new();
                    batched.ingest_decoded_batch_keeping(decoded, &mut spent, |i, outcome| {
                        let held = matches!(&outcome, Outcome::Rejected(r) if r.event.is_some());
                        if let (Some(id), false) = (ids[i], held) {
                            expected_spent.push(id);
                        }
                        got.push((start + i, describe(outcome)));
                    });
                    let spent: Vec<_> = spent.iter().map(|event| event.action_id()).collect();
                    prop_assert_eq!(spent, expected_spent);
                }
            }
            start = end;
        }
        let positions: Vec<usize> = got.iter().map(|(i, _)| *i).collect();
        prop_assert_eq!(positions, (0..lines.len()).collect::<Vec<_>>());
        prop_assert_eq!(got.into_iter().map(|(_, o)| o).collect::<Vec<_>>(), expected);
        prop_assert_eq!(batched.stats(), single.stats());
        prop_assert_eq!(batched.tracker_stats(), single.tracker_stats());
        prop_assert_eq!(&batched.emitter().0, &single.emitter().0);
    }
}
