//! A test kit for media types (feature `testing`): proptest strategies that walk a media
//! type's declared graph the way `webaction simulate` does, and a bus that records what
//! it was given. What this project's own property tests use, for any media type.
//!
//! ```
//! use events_core::ingest::Tracker;
//! use events_core::testing::{illegal_step, lifecycle};
//! use events_core::{Registry, WebChat};
//! use proptest::prelude::*;
//!
//! proptest!(|(events in lifecycle::<WebChat>())| {
//!     let mut tracker = Tracker::new(&Registry::builtin());
//!     for (tick, event) in events.iter().enumerate() {
//!         prop_assert!(tracker.track(event, tick as u32).is_ok());
//!     }
//! });
//! proptest!(|((before, illegal) in illegal_step::<WebChat>())| {
//!     let mut tracker = Tracker::new(&Registry::builtin());
//!     for (tick, event) in before.iter().enumerate() {
//!         prop_assert!(tracker.track(event, tick as u32).is_ok());
//!     }
//!     prop_assert!(tracker.track(&illegal, before.len() as u32).is_err());
//! });
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::action::ActionIds;
use crate::any::AnyEvent;
use crate::bus::{Events, Subscription};
use crate::description::{FieldDescription, JsonType, StateDescription};
use crate::event::CustomerIdType;
use crate::ingest::ErrorKind;
use crate::media_type::MediaType;

/// The longest walk before a lifecycle heads for its end: loops in a graph
/// (`opened -> minimised -> opened`) are walked at most this many steps.
const MAX_WALK: usize = 24;

/// A random version-4 `Uuid`.
pub fn uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(|bytes| uuid::Builder::from_random_bytes(bytes).into_uuid())
}

/// The ids of one action of a cookie-identified visitor.
pub fn action_ids() -> impl Strategy<Value = ActionIds> {
    (uuid(), uuid(), 1..100u32, uuid(), uuid()).prop_map(
        |(action_id, action_map_id, action_map_version, customer_id, session_id)| ActionIds {
            action_id,
            action_map_id,
            action_map_version,
            customer_id,
            customer_id_type: CustomerIdType::Cookie,
            session_id,
        },
    )
}

/// The states of a valid lifecycle of `M`: an initial state, declared steps, and an
/// ending state last.
pub fn lifecycle_states<M: MediaType>() -> impl Strategy<Value = Vec<M>> {
    let initials: Vec<M> = M::ALL.iter().copied().filter(|s| s.is_initial()).collect();
    (
        proptest::sample::select(initials),
        proptest::collection::vec(any::<Index>(), 0..MAX_WALK),
    )
        .prop_map(|(initial, choices)| {
            let mut states = vec![initial];
            for choice in choices {
                let last = *states.last().expect("starts with the initial state");
                if last.is_end() {
                    break;
                }
                states.push(*choice.get(last.successors()));
            }
            finish(&mut states);
            states
        })
}

/// Extends a walk along a shortest path to a state that ends the lifecycle (every
/// declaration has one reachable from each state: the macro checks it).
fn finish<M: MediaType>(states: &mut Vec<M>) {
    let last = *states.last().expect("a walk has a state");
    if last.is_end() {
        return;
    }
    let mut previous: Vec<Option<M>> = vec![None; M::ALL.len()];
    let mut queue = std::collections::VecDeque::from([last]);
    let mut seen = vec![false; M::ALL.len()];
    seen[last.index()] = true;
    while let Some(state) = queue.pop_front() {
        if state.is_end() {
            let mut path = vec![state];
            while let Some(before) = previous[path.last().expect("non-empty").index()] {
                if before == last {
                    break;
                }
                path.push(before);
            }
            states.extend(path.into_iter().rev());
            return;
        }
        for &next in state.successors() {
            if !seen[next.index()] {
                seen[next.index()] = true;
                previous[next.index()] = Some(state);
                queue.push_back(next);
            }
        }
    }
    unreachable!("the declaration guarantees an ending state is reachable from {last:?}");
}

/// The events of one valid lifecycle of `M`, as a producer would send them: the same ids
/// throughout, every field the media type or each state requires filled in.
pub fn lifecycle<M: MediaType>() -> impl Strategy<Value = Vec<M::Event>> {
    (action_ids(), lifecycle_states::<M>(), uuid()).prop_map(|(ids, states, value)| {
        states
            .into_iter()
            .map(|state| event_of::<M>(&ids, state, value))
            .collect()
    })
}

/// A valid beginning of a lifecycle of `M` and one event the tracker must refuse after
/// it: a state that may not follow the last one (or any state after an end).
pub fn illegal_step<M: MediaType>() -> impl Strategy<Value = (Vec<M::Event>, M::Event)> {
    (
        action_ids(),
        lifecycle_states::<M>(),
        any::<Index>(),
        any::<Index>(),
        uuid(),
    )
        .prop_filter_map(
            "the walk's state may be followed by every state",
            |(ids, states, cut, pick, value)| {
                let prefix = &states[..=cut.index(states.len())];
                let last = *prefix.last().expect("non-empty");
                let refused: Vec<M> = M::ALL
                    .iter()
                    .copied()
                    .filter(|&next| last.is_end() || !last.can_transition_to(next))
                    .collect();
                if refused.is_empty() {
                    return None;
                }
                let events = prefix
                    .iter()
                    .map(|&state| event_of::<M>(&ids, state, value))
                    .collect();
                Some((events, event_of::<M>(&ids, *pick.get(&refused), value)))
            },
        )
}

/// One event of `M`, as a line, broken in one way, with the kind of error ingest must
/// report for it.
pub fn malformed<M: MediaType>() -> impl Strategy<Value = (Vec<u8>, ErrorKind)> {
    let states: Vec<M> = M::ALL.to_vec();
    (
        action_ids(),
        proptest::sample::select(states),
        uuid(),
        0..5u8,
        any::<Index>(),
    )
        .prop_map(|(ids, state, value, defect, cut)| {
            let mut event = ids.event_json(M::DESCRIPTION, description_of(state), |field| {
                sample_value(field, value)
            });
            let kind = match defect {
                0 => {
                    let mut line = Value::Object(event).to_string().into_bytes();
                    // Cut inside the object: never a whole JSON value.
                    line.truncate(cut.index(line.len() - 1));
                    return (line, ErrorKind::MalformedJson);
                }
                1 => {
                    event.remove("actionId");
                    ErrorKind::MissingField
                }
                2 => {
                    event.insert("actionMapVersion".into(), json!("three"));
                    ErrorKind::InvalidField
                }
                3 => {
                    event.insert("actionState".into(), json!("no such state"));
                    ErrorKind::UnknownState
                }
                _ => {
                    event.insert("actionMediaType".into(), json!("no such media type"));
                    ErrorKind::UnknownMediaType
                }
            };
            (Value::Object(event).to_string().into_bytes(), kind)
        })
}

fn description_of<M: MediaType>(state: M) -> &'static StateDescription {
    &M::DESCRIPTION.states[state.index()]
}

fn event_of<M: MediaType>(ids: &ActionIds, state: M, value: Uuid) -> M::Event {
    let json = ids.event_json(M::DESCRIPTION, description_of(state), |field| {
        sample_value(field, value)
    });
    serde_json::from_value(Value::Object(json)).unwrap_or_else(|error| {
        panic!(
            "a generated `{}` event does not decode ({error}): a field type the kit cannot \
             fill; build the events with the typestate API instead",
            M::DESCRIPTION.wire_name
        )
    })
}

/// A value of a required field, by its JSON type.
fn sample_value(field: &FieldDescription, uuid: Uuid) -> Value {
    match field.json_type {
        JsonType::Uuid => json!(uuid),
        JsonType::String => json!(format!("sample {}", field.wire_name)),
        JsonType::Integer => json!(1),
        JsonType::Number => json!(0.5),
        JsonType::Boolean => json!(true),
        JsonType::Array => json!([]),
        JsonType::Object => json!({}),
        _ => Value::Null,
    }
}

/// Every event a bus emitted to its `on_any` handlers, kept for assertions.
///
/// ```
/// use events_core::testing::Recorder;
/// use events_core::{ActionIds, Events, NewAction, Uuid, WebChat, WebChatEvent};
///
/// let events = Events::new();
/// let recorder = Recorder::attach(&events);
/// let ids = ActionIds::new(NewAction {
///     action_map_id: Uuid::new_v4(),
///     action_map_version: 1,
///     customer_id: Uuid::new_v4(),
///     session_id: Uuid::new_v4(),
/// });
/// let offered = WebChat::offer(ids);
/// events.emit(offered.event());
/// assert_eq!(recorder.topics(), ["webchat:offered"]);
/// assert_eq!(recorder.of::<WebChat>()[0].action_state, WebChat::Offered);
/// ```
#[derive(Debug, Clone)]
pub struct Recorder {
    seen: Arc<Mutex<Vec<Box<AnyEvent>>>>,
    subscription: Subscription,
}

impl Recorder {
    /// Starts recording every event `events` emits from now on.
    pub fn attach(events: &Events) -> Self {
        let seen: Arc<Mutex<Vec<Box<AnyEvent>>>> = Arc::default();
        let sink = Arc::clone(&seen);
        let subscription = events.on_any(move |event| {
            sink.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event.clone_box());
        });
        Recorder { seen, subscription }
    }

    /// The subscription that records, to stop with [`Events::off`].
    pub fn subscription(&self) -> Subscription {
        self.subscription
    }

    /// Every event recorded, in emit order.
    pub fn all(&self) -> Vec<Box<AnyEvent>> {
        self.lock().clone()
    }

    /// The topic of each event recorded, in emit order.
    pub fn topics(&self) -> Vec<String> {
        self.lock().iter().map(|e| e.topic().to_string()).collect()
    }

    /// The events of media type `M` recorded, in emit order.
    pub fn of<M: MediaType>(&self) -> Vec<M::Event> {
        self.lock()
            .iter()
            .filter_map(|e| e.downcast_ref::<M::Event>().cloned())
            .collect()
    }

    /// How many events were recorded.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Forgets what was recorded.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Box<AnyEvent>>> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
