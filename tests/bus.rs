//! The event bus: every subscription method, `off` by handle and by topic, the order
//! handlers run in, `once` under concurrent emits, changes from inside a handler, and
//! panicking handlers.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use common::sample_with;
use serde_json::{json, Value};
use webaction_events::{
    AnyEvent, ContentOffer, ContentOfferEvent, Emitter, Events, Registry, Subscription, Topic,
    TopicError, WebChat, WebChatEvent,
};

fn json_of(media_type: &str, state: &str) -> Value {
    let mut event = sample_with(media_type, state);
    if state == "errored" {
        event["errorMessage"] = json!("widget failed to render");
    }
    event
}

fn webchat(state: WebChat) -> WebChatEvent {
    serde_json::from_value(json_of("webchat", state.as_str())).unwrap()
}

fn content_offer(state: ContentOffer) -> ContentOfferEvent {
    serde_json::from_value(json_of("contentoffer", state.as_str())).unwrap()
}

/// What handlers saw, in the order they saw it.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, entry: impl Into<String>) {
        self.0.lock().unwrap().push(entry.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// A handler of any event that logs `name` and the event's topic.
    fn any(&self, name: &'static str) -> impl Fn(&AnyEvent) + Send + Sync + 'static {
        let log = self.clone();
        move |event| log.push(format!("{name} {}", event.topic()))
    }
}

#[test]
fn on_calls_the_typed_handler_of_its_state_only() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on(WebChat::Offered, move |event: &WebChatEvent| {
        l.push(format!("offered {}", event.action_state));
    });
    events.emit(&webchat(WebChat::Offered));
    events.emit(&webchat(WebChat::Accepted));
    events.emit(&content_offer(ContentOffer::Offered));
    assert_eq!(log.take(), ["offered offered"]);
}

#[test]
fn once_calls_its_handler_for_the_first_event_only() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    let subscription = events.once(WebChat::Accepted, move |_| {
        c.fetch_add(1, Ordering::SeqCst);
    });
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "another state does not use it up"
    );
    events.emit(&webchat(WebChat::Accepted));
    events.emit(&webchat(WebChat::Accepted));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(events.handler_count(), 0);
    assert!(!events.off(subscription), "a once handler that ran is gone");
}

#[test]
fn on_all_sees_every_state_of_its_media_type_only() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on_all::<WebChat>(move |event| l.push(event.action_state.as_str()));
    for state in WebChat::ALL {
        events.emit(&webchat(state));
    }
    events.emit(&content_offer(ContentOffer::Offered));
    let expected: Vec<_> = WebChat::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(log.take(), expected);
}

#[test]
fn once_all_runs_once_for_whichever_state_comes_first() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.once_all::<ContentOffer>(move |event| l.push(event.action_state.as_str()));
    events.emit(&content_offer(ContentOffer::Ignored));
    events.emit(&content_offer(ContentOffer::Offered));
    assert_eq!(log.take(), ["ignored"]);
}

#[test]
fn on_any_and_once_any_see_every_media_type() {
    let events = Events::new();
    let log = Log::default();
    events.on_any(log.any("any"));
    events.once_any(log.any("once"));
    events.emit(&webchat(WebChat::Offered));
    events.emit(&content_offer(ContentOffer::Rejected));
    assert_eq!(
        log.take(),
        [
            "any webchat:offered",
            "once webchat:offered",
            "any contentoffer:rejected"
        ]
    );
}

#[test]
fn on_topic_and_once_topic_take_the_javascript_topics() {
    let events = Events::new();
    let log = Log::default();
    events
        .on_topic("webchat:offered", log.any("offered"))
        .unwrap();
    events.on_topic("webchat:all", log.any("all")).unwrap();
    events
        .once_topic("contentoffer:accepted", log.any("once"))
        .unwrap();
    // An alias names the same state.
    events
        .on_topic("webchat:timed out", log.any("alias"))
        .unwrap();
    events.emit(&webchat(WebChat::Offered));
    events.emit(&webchat(WebChat::TimedOut));
    events.emit(&content_offer(ContentOffer::Accepted));
    events.emit(&content_offer(ContentOffer::Accepted));
    assert_eq!(
        log.take(),
        [
            "offered webchat:offered",
            "all webchat:offered",
            "all webchat:timedout",
            "alias webchat:timedout",
            "once contentoffer:accepted",
        ]
    );
}

#[test]
fn on_topic_takes_compile_time_topics_too() {
    const ACCEPTED: Topic = WebChat::topic("accepted");
    let events = Events::new();
    let log = Log::default();
    events.on_topic(ACCEPTED, log.any("const")).unwrap();
    events
        .on_topic(webaction_events::topic!(WebChat, "all"), log.any("macro"))
        .unwrap();
    events.emit(&webchat(WebChat::Accepted));
    assert_eq!(
        log.take(),
        ["const webchat:accepted", "macro webchat:accepted"]
    );
}

#[test]
fn emit_any_reaches_typed_and_topic_handlers() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on(WebChat::Offered, move |event: &WebChatEvent| {
        l.push(format!("typed {}", event.action_id));
    });
    events
        .on_topic("webchat:offered", log.any("topic"))
        .unwrap();
    let boxed: Box<AnyEvent> = Box::new(webchat(WebChat::Offered));
    events.emit_any(&*boxed);
    assert_eq!(
        log.take(),
        [
            "typed 6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d",
            "topic webchat:offered"
        ]
    );
}

#[test]
fn handlers_run_in_subscription_order_whatever_the_method() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on_all::<WebChat>(move |_| l.push("1 on_all"));
    events.on_any(log.any("2 on_any"));
    let l = log.clone();
    events.on(WebChat::Offered, move |_| l.push("3 on"));
    events
        .on_topic("webchat:offered", log.any("4 topic"))
        .unwrap();
    events
        .on_topic("webchat:all", log.any("5 topic all"))
        .unwrap();
    let l = log.clone();
    events.once(WebChat::Offered, move |_| l.push("6 once"));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        [
            "1 on_all",
            "2 on_any webchat:offered",
            "3 on",
            "4 topic webchat:offered",
            "5 topic all webchat:offered",
            "6 once",
        ]
    );
}

#[test]
fn handlers_run_on_the_emitting_thread() {
    let events = Events::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    events.on_any(move |_| s.lock().unwrap().push(std::thread::current().id()));
    let emitter = {
        let events = events.clone();
        std::thread::spawn(move || {
            events.emit(&webchat(WebChat::Offered));
            std::thread::current().id()
        })
    };
    let emitter = emitter.join().unwrap();
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        *seen.lock().unwrap(),
        [emitter, std::thread::current().id()]
    );
}

#[test]
fn off_removes_exactly_one_handler() {
    let events = Events::new();
    let log = Log::default();
    let first = events
        .on_topic("webchat:offered", log.any("first"))
        .unwrap();
    let second = events
        .on_topic("webchat:offered", log.any("second"))
        .unwrap();
    assert_ne!(first, second);
    assert!(events.off(first));
    assert!(!events.off(first), "already removed");
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["second webchat:offered"]);
    assert_eq!(events.handler_count(), 1);
}

#[test]
fn off_ignores_a_subscription_of_another_bus() {
    let one = Events::new();
    let other = Events::new();
    let subscription = one.on_any(|_| {});
    other.on_any(|_| {});
    assert!(!other.off(subscription));
    assert_eq!(other.handler_count(), 1);
    assert!(one.off(subscription));
}

#[test]
fn dropping_a_subscription_does_not_unsubscribe_but_a_guard_does() {
    let events = Events::new();
    let log = Log::default();
    let _ = events.on_topic("webchat:offered", log.any("kept")).unwrap();
    let guard = events
        .on_topic("webchat:offered", log.any("guarded"))
        .unwrap()
        .guard(&events);
    events.emit(&webchat(WebChat::Offered));
    drop(guard);
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        [
            "kept webchat:offered",
            "guarded webchat:offered",
            "kept webchat:offered"
        ]
    );
    let released = events
        .on_topic("webchat:offered", log.any("released"))
        .unwrap()
        .guard(&events)
        .release();
    assert_eq!(events.handler_count(), 2);
    assert!(events.off(released));
}

#[test]
fn off_topic_removes_every_handler_of_exactly_that_topic() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on_all::<WebChat>(move |_| l.push("typed all"));
    events
        .on_topic("webchat:all", log.any("topic all"))
        .unwrap();
    events
        .once_topic("webchat:all", log.any("once all"))
        .unwrap();
    let l = log.clone();
    events.on(WebChat::Offered, move |_| l.push("typed offered"));
    events.on_any(log.any("any"));

    assert_eq!(events.off_topic("webchat:all"), Ok(3));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["typed offered", "any webchat:offered"]);

    assert_eq!(events.off_topic(WebChat::topic("offered")), Ok(1));
    assert_eq!(events.off_topic("webchat:offered"), Ok(0));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["any webchat:offered"]);
    assert!(matches!(
        events.off_topic("webchat:ofered"),
        Err(TopicError::UnknownState { .. })
    ));
}

#[test]
fn topic_errors_say_what_is_unknown_and_suggest_the_closest() {
    let events = Events::new();
    let unknown_state = events.on_topic("webchat:offred", |_| {}).unwrap_err();
    assert_eq!(
        unknown_state,
        TopicError::UnknownState {
            topic: "webchat:offred".into(),
            media_type: "webchat",
            state: "offred".into(),
            suggestion: Some("offered"),
            expected: WebChat::ALL.iter().map(|s| s.as_str()).collect(),
        }
    );
    assert_eq!(
        unknown_state.to_string(),
        "unknown state `offred` for media type `webchat` in topic `webchat:offred` \
         (did you mean `offered`?); expected one of: offered, accepted, rejected, ignored, \
         timedout, errored, started, engaged, abandoned, all"
    );

    let no_suggestion = events
        .once_topic("contentoffer:banana", |_| {})
        .unwrap_err();
    assert_eq!(no_suggestion.suggestion(), None);
    assert_eq!(
        no_suggestion.to_string(),
        "unknown state `banana` for media type `contentoffer` in topic \
         `contentoffer:banana`; expected one of: offered, accepted, rejected, ignored, \
         errored, all"
    );

    // `all` is a state as far as topics go, and a likely typo of it is caught too.
    let all = events.on_topic("webchat:al", |_| {}).unwrap_err();
    assert_eq!(all.suggestion(), Some("all"));

    // A media type's alias spelling is suggested as itself.
    let alias = events.on_topic("webchat:timedOt", |_| {}).unwrap_err();
    assert_eq!(alias.suggestion(), Some("timedOut"));

    let unknown_media = events.on_topic("webchta:offered", |_| {}).unwrap_err();
    assert_eq!(
        unknown_media,
        TopicError::UnknownMediaType {
            topic: "webchta:offered".into(),
            media_type: "webchta".into(),
            suggestion: Some("webchat"),
            // `Events::new()` knows every declaration in the program: this file's `Poll`.
            expected: vec!["webchat", "contentoffer", "poll"],
        }
    );
    assert_eq!(
        unknown_media.to_string(),
        "unknown media type `webchta` in topic `webchta:offered` (did you mean \
         `webchat`?); known media types: webchat, contentoffer, poll (every `media_type!` \
         declaration in the program is known to `Registry::all()` and `Events::new()`; an \
         explicit registry knows what was added with `register`)"
    );
    let case = events.stream("ContentOffer:offered", 1).unwrap_err();
    assert_eq!(case.suggestion(), Some("contentoffer"));

    let separator = events.off_topic("webchat.offered").unwrap_err();
    assert_eq!(
        separator,
        TopicError::MissingSeparator {
            topic: "webchat.offered".into()
        }
    );
    assert_eq!(
        separator.to_string(),
        "topic `webchat.offered` has no `:`; expected `<mediaType>:<state>` or \
         `<mediaType>:all`"
    );
    assert_eq!(
        events.handler_count(),
        0,
        "nothing subscribed by a refused topic"
    );
}

#[test]
fn topic_strings_name_only_registered_media_types() {
    let events = Events::with_registry(Registry::empty());
    let error = events.on_topic("webchat:offered", |_| {}).unwrap_err();
    assert_eq!(
        error,
        TopicError::UnknownMediaType {
            topic: "webchat:offered".into(),
            media_type: "webchat".into(),
            suggestion: None,
            expected: vec![],
        }
    );
    // A typed subscription registers its media type.
    events.on(WebChat::Offered, |_| {});
    assert!(events.on_topic("webchat:offered", |_| {}).is_ok());
    events.register::<ContentOffer>();
    assert!(events.on_topic("contentoffer:all", |_| {}).is_ok());
}

webaction_events::media_type! {
    /// A poll shown on the page.
    pub Poll = "poll" {
        states {
            /// The poll is shown.
            initial Shown = "shown" -> Answered,
            /// The visitor answered.
            terminal Answered = "answered",
        }
    }
}

#[test]
fn user_declared_media_types_work_typed_and_by_topic() {
    let events = Events::new();
    let log = Log::default();
    // Known before any typed call names `Poll`: the declaration registered it.
    events.on_topic("poll:shown", log.any("early")).unwrap();
    let l = log.clone();
    events.on(Poll::Answered, move |event: &PollEvent| {
        l.push(format!("typed {}", event.action_state));
    });
    events.on_topic("poll:all", log.any("topic")).unwrap();
    events.on_any(log.any("any"));
    let shown: PollEvent = serde_json::from_value(json_of("poll", "shown")).unwrap();
    let answered: PollEvent = serde_json::from_value(json_of("poll", "answered")).unwrap();
    events.emit(&shown);
    events.emit_any(&answered);
    assert_eq!(
        log.take(),
        [
            "early poll:shown",
            "topic poll:shown",
            "any poll:shown",
            "typed answered",
            "topic poll:answered",
            "any poll:answered"
        ]
    );
}

#[test]
fn a_const_topic_of_an_unregistered_media_type_still_gets_its_events() {
    let events = Events::with_registry(Registry::empty());
    let log = Log::default();
    events
        .on_topic(Poll::topic("shown"), log.any("const"))
        .unwrap();
    let shown: PollEvent = serde_json::from_value(json_of("poll", "shown")).unwrap();
    events.emit(&shown);
    assert_eq!(log.take(), ["const poll:shown"]);
}

webaction_events::media_type! {
    /// Another declaration under the wire name of `Poll`: another Rust type, whose events
    /// reach the handlers of `poll` topics by wire name.
    pub PollCopy = "poll" {
        states {
            /// The poll is shown.
            initial Shown = "shown" -> Answered,
            /// The visitor answered.
            terminal Answered = "answered",
        }
    }
}

/// The typed table of `poll` holds `PollEvent` handlers; events of the other type under
/// the same wire name must still reach their own typed handlers and every topic handler,
/// and never a handler of `PollEvent`, by `emit` and by `emit_any`.
#[test]
fn two_types_under_one_wire_name_each_reach_their_own_typed_handlers() {
    let events = Events::new();
    let log = Log::default();
    let l = log.clone();
    events.on(Poll::Shown, move |event: &PollEvent| {
        l.push(format!("poll {}", event.action_state));
    });
    let l = log.clone();
    events.on_all::<PollCopy>(move |event: &PollCopyEvent| {
        l.push(format!("copy {}", event.action_state));
    });
    events.on_topic("poll:shown", log.any("topic")).unwrap();
    let poll: PollEvent = serde_json::from_value(json_of("poll", "shown")).unwrap();
    let copy: PollCopyEvent = serde_json::from_value(json_of("poll", "shown")).unwrap();
    for _ in 0..2 {
        events.emit(&poll);
        events.emit(&copy);
        events.emit_any(&poll);
        events.emit_any(&copy);
    }
    let round = [
        "poll shown",
        "topic poll:shown",
        "copy shown",
        "topic poll:shown",
    ];
    let expected: Vec<_> = round
        .iter()
        .chain(&round)
        .chain(&round)
        .chain(&round)
        .copied()
        .collect();
    assert_eq!(log.take(), expected);
}

/// A thread's copies of several buses' tables: each emit sees its own bus's handlers, and
/// a change to one bus is seen by its next emit whichever bus the thread used in between.
#[test]
fn a_thread_emitting_on_several_buses_in_turn_sees_each_ones_changes() {
    let mut buses: Vec<Events> = (0..3).map(|_| Events::new()).collect();
    let log = Log::default();
    let event = webchat(WebChat::Offered);
    let mut subscriptions = Vec::new();
    for (n, bus) in buses.iter().enumerate() {
        let l = log.clone();
        subscriptions.push(bus.on(WebChat::Offered, move |_| l.push(format!("bus {n}"))));
    }
    for bus in &buses {
        bus.emit(&event);
    }
    assert_eq!(log.take(), ["bus 0", "bus 1", "bus 2"]);
    // Changed while this thread holds copies of all three.
    assert!(buses[1].off(subscriptions[1]));
    let l = log.clone();
    buses[0]
        .on_topic("webchat:offered", move |_| l.push("bus 0 topic"))
        .unwrap();
    for round in 0..2 {
        for bus in buses.iter().rev() {
            bus.emit(&event);
        }
        assert_eq!(
            log.take(),
            ["bus 2", "bus 0", "bus 0 topic"],
            "round {round}"
        );
    }
    drop(buses.remove(2));
    buses[1].emit(&event);
    buses[0].emit(&event);
    assert_eq!(log.take(), ["bus 0", "bus 0 topic"]);
}

/// Two threads emit the same event at the same moment, many times over; each `once`
/// handler must run exactly once per round.
#[test]
fn once_runs_exactly_once_under_two_emitting_threads() {
    once_runs_exactly_once_under_two_threads(|events| {
        let events = events.clone();
        Box::new(move |event| events.emit(event))
    });
}

type EmitFn = Box<dyn FnMut(&WebChatEvent) + Send>;

/// Two threads emit, each through what `emit_on` makes of the bus, while the main thread
/// subscribes a `once` handler (typed) and a `once_topic` one per round: each runs once.
fn once_runs_exactly_once_under_two_threads(emit_on: impl Fn(&Events) -> EmitFn) {
    const ROUNDS: usize = 2_000;
    let events = Events::new();
    let event = webchat(WebChat::Offered);
    let calls = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(3));
    let emitters: Vec<_> = (0..2)
        .map(|_| {
            let (mut emit, event, barrier) = (emit_on(&events), event.clone(), barrier.clone());
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    barrier.wait(); // subscribed
                    emit(&event);
                    barrier.wait(); // both emitted
                }
            })
        })
        .collect();
    for round in 0..ROUNDS {
        let before = calls.load(Ordering::SeqCst);
        let c = Arc::clone(&calls);
        events.once(WebChat::Offered, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        let c = Arc::clone(&calls);
        events
            .once_topic("webchat:all", move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        barrier.wait();
        barrier.wait();
        assert_eq!(calls.load(Ordering::SeqCst), before + 2, "round {round}");
        assert_eq!(events.handler_count(), 0, "round {round}");
    }
    for emitter in emitters {
        emitter.join().unwrap();
    }
}

#[test]
fn a_handler_may_subscribe_during_an_emit_and_the_new_handler_waits_for_the_next() {
    let events = Events::new();
    let log = Log::default();
    let (bus, l) = (events.clone(), log.clone());
    events.on_any(move |event| {
        l.push(format!("outer {}", event.state_name()));
        let inner = l.clone();
        bus.once(WebChat::Offered, move |_| inner.push("added"));
    });
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["outer offered"]);
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["outer offered", "added"]);
}

#[test]
fn a_handler_may_remove_itself_and_others_during_an_emit() {
    let events = Events::new();
    let log = Log::default();
    let own = Arc::new(Mutex::new(None::<Subscription>));
    let later = Arc::new(Mutex::new(None::<Subscription>));
    let (bus, l, o, x) = (events.clone(), log.clone(), own.clone(), later.clone());
    let first = events.on(WebChat::Offered, move |_| {
        l.push("first");
        assert!(bus.off(o.lock().unwrap().unwrap()), "removes itself");
        assert!(
            bus.off(x.lock().unwrap().unwrap()),
            "removes the one after it"
        );
    });
    *own.lock().unwrap() = Some(first);
    let l = log.clone();
    events.on(WebChat::Offered, move |_| l.push("second"));
    let l = log.clone();
    *later.lock().unwrap() = Some(events.on(WebChat::Offered, move |_| l.push("removed")));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        ["first", "second"],
        "removed mid-emit: not called"
    );
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["second"]);
}

#[test]
fn a_handler_may_clear_its_topic_and_emit_again_during_an_emit() {
    let events = Events::new();
    let log = Log::default();
    let (bus, l) = (events.clone(), log.clone());
    events
        .on_topic("webchat:offered", move |event| {
            l.push(format!("offered, {} handlers", bus.handler_count()));
            bus.off_topic("webchat:offered").unwrap();
            // A nested emit, after the change, sees the new table.
            bus.emit_any(event);
        })
        .unwrap();
    let l = log.clone();
    events.on_any(move |event| l.push(format!("any {}", event.state_name())));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        ["offered, 2 handlers", "any offered", "any offered"],
        "the nested emit's `any`, then the outer one's"
    );
}

#[test]
fn a_once_handler_that_emits_the_same_event_is_not_run_twice() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let (bus, c) = (events.clone(), calls.clone());
    events.once(WebChat::Offered, move |event| {
        c.fetch_add(1, Ordering::SeqCst);
        bus.emit(event);
    });
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn a_panicking_handler_does_not_stop_the_others_nor_poison_the_bus() {
    let events = Events::new();
    let log = Log::default();
    let reports = Log::default();
    let r = reports.clone();
    events.set_panic_hook(move |panic| {
        r.push(format!(
            "{} {:?} {} {}",
            panic.subscription.id(),
            panic.topic.map(|t| t.to_string()),
            panic.event.topic(),
            panic.message
        ));
    });
    events.on_any(log.any("before"));
    let panicking = events.on(WebChat::Offered, |event| {
        panic!("handler failed on {}", event.action_state)
    });
    events
        .on_topic("webchat:offered", log.any("after"))
        .unwrap();
    events.on_any(|_| std::panic::panic_any(42_u8));

    events.emit(&webchat(WebChat::Offered));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        [
            "before webchat:offered",
            "after webchat:offered",
            "before webchat:offered",
            "after webchat:offered"
        ]
    );
    let id = panicking.id();
    let last = id + 2;
    assert_eq!(
        reports.take(),
        [
            format!("{id} Some(\"webchat:offered\") webchat:offered handler failed on offered"),
            format!("{last} None webchat:offered (a panic payload that is not a string)"),
            format!("{id} Some(\"webchat:offered\") webchat:offered handler failed on offered"),
            format!("{last} None webchat:offered (a panic payload that is not a string)"),
        ]
    );
    // The bus still takes changes.
    assert!(events.off(panicking));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        ["before webchat:offered", "after webchat:offered"]
    );
}

#[test]
fn a_panicking_panic_hook_is_contained_too() {
    let events = Events::new();
    let log = Log::default();
    events.set_panic_hook(|_| panic!("the hook fails as well"));
    events.on_any(|_| panic!("handler fails"));
    events.on_any(log.any("still runs"));
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["still runs webchat:offered"]);
}

#[test]
fn the_bus_is_send_sync_and_shared() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Events>();
    assert_send_sync::<Subscription>();
    let events = Arc::new(Events::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    events.on_all::<WebChat>(move |_| {
        c.fetch_add(1, Ordering::Relaxed);
    });
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let events = Arc::clone(&events);
            std::thread::spawn(move || {
                let event = webchat(WebChat::Started);
                for _ in 0..1000 {
                    events.emit(&event);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(calls.load(Ordering::Relaxed), 4000);
}

#[test]
fn subscribing_from_many_threads_while_others_emit_loses_nothing() {
    let events = Events::new();
    let calls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let emitter = {
        let (events, stop) = (events.clone(), stop.clone());
        std::thread::spawn(move || {
            let event = webchat(WebChat::Offered);
            while !stop.load(Ordering::Relaxed) {
                events.emit(&event);
            }
        })
    };
    let subscribers: Vec<_> = (0..2)
        .map(|_| {
            let (events, calls) = (events.clone(), calls.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let c = calls.clone();
                    let sub = events.on(WebChat::Offered, move |_| {
                        c.fetch_add(1, Ordering::Relaxed);
                    });
                    assert!(events.off(sub));
                }
            })
        })
        .collect();
    for subscriber in subscribers {
        subscriber.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    emitter.join().unwrap();
    assert_eq!(events.handler_count(), 0);
    // Every handler is gone now: an emit from this thread reaches none.
    let before = calls.load(Ordering::Relaxed);
    events.emit(&webchat(WebChat::Offered));
    assert_eq!(calls.load(Ordering::Relaxed), before);
}

#[test]
fn a_removed_handler_is_dropped_once_no_thread_uses_it() {
    struct DropFlag(Arc<AtomicUsize>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let events = Events::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(drops.clone());
    let sub = events.on_any(move |_| {
        let _ = &flag;
    });
    events.emit(&webchat(WebChat::Offered)); // this thread now holds a copy of the table
    assert!(events.off(sub));
    assert_eq!(
        drops.load(Ordering::SeqCst),
        0,
        "still in this thread's copy"
    );
    events.emit(&webchat(WebChat::Offered)); // refreshes the copy
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn debug_output_names_the_bus_and_its_handler_count() {
    let events = Events::new();
    events.on_any(|_| {});
    let debug = format!("{events:?}");
    assert!(debug.starts_with("Events { id: "), "{debug}");
    assert!(debug.ends_with("handlers: 1 }"), "{debug}");
}

// --- `Emitter`: the same semantics through a handle that holds its copy of the table ---

#[test]
fn an_emitter_sees_every_change_made_after_it_was_made_in_subscription_order() {
    let events = Events::new();
    let log = Log::default();
    // Made before any subscription: its first copy has no slots for webchat at all.
    let mut emitter: Emitter<WebChatEvent> = events.emitter();
    emitter.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), Vec::<String>::new());

    events.on_any(log.any("any"));
    let l = log.clone();
    let typed = events.on(WebChat::Offered, move |e| {
        l.push(format!("typed {}", e.action_state))
    });
    events.on_topic("webchat:all", log.any("topic")).unwrap();
    events.on_all::<ContentOffer>(|_| panic!("another media type"));
    emitter.emit(&webchat(WebChat::Offered));
    emitter.emit(&webchat(WebChat::Engaged));
    assert_eq!(
        log.take(),
        [
            "any webchat:offered",
            "typed offered",
            "topic webchat:offered",
            "any webchat:engaged",
            "topic webchat:engaged"
        ]
    );

    // Without typed subscriptions the media type's table is erased: still reached.
    assert!(events.off(typed));
    emitter.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["any webchat:offered", "topic webchat:offered"]);
    assert_eq!(
        emitter.events().handler_count(),
        3,
        "any, topic, and the other media type's"
    );
}

#[test]
fn an_emitter_does_not_call_a_handler_removed_during_its_emit() {
    let events = Events::new();
    let log = Log::default();
    let later = Arc::new(Mutex::new(None::<Subscription>));
    let (bus, l, x) = (events.clone(), log.clone(), later.clone());
    events.on(WebChat::Offered, move |_| {
        l.push("first");
        assert!(
            bus.off(x.lock().unwrap().unwrap()),
            "removes the one after it"
        );
    });
    let l = log.clone();
    *later.lock().unwrap() = Some(events.on(WebChat::Offered, move |_| l.push("removed")));
    let mut emitter = events.emitter::<WebChatEvent>();
    emitter.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["first"]);
    emitter.emit(&webchat(WebChat::Offered));
    assert_eq!(log.take(), ["first"]);
}

#[test]
fn once_runs_exactly_once_under_two_threads_with_their_own_emitters() {
    once_runs_exactly_once_under_two_threads(|events| {
        let mut emitter = events.emitter::<WebChatEvent>();
        Box::new(move |event| emitter.emit(event))
    });
}

#[test]
fn a_panicking_handler_does_not_stop_an_emitters_other_handlers() {
    let events = Events::new();
    let log = Log::default();
    let reports = Log::default();
    let r = reports.clone();
    events.set_panic_hook(move |panic| r.push(panic.message));
    events.on(WebChat::Offered, |_| panic!("first failed"));
    events.on_any(log.any("after"));
    let mut emitter = events.emitter::<WebChatEvent>();
    emitter.emit(&webchat(WebChat::Offered));
    emitter.emit(&webchat(WebChat::Offered));
    assert_eq!(
        log.take(),
        ["after webchat:offered", "after webchat:offered"]
    );
    assert_eq!(reports.take(), ["first failed", "first failed"]);
}
