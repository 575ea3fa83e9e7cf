//! Topics: `"<mediaType>:<state>"` and `"<mediaType>:all"`, as the JavaScript SDK's
//! `ac('on', topic, callback)` names them. Reading a topic string needs the media types
//! known at run time, so that lives with the [`Registry`](crate::Registry).

use std::fmt;

use crate::description::{MediaTypeDescription, StateDescription};
use events_spec::closest;

/// One subscription topic: a media type and one of its states, or all of them.
///
/// Built at compile time by the generated `topic` function (`WebChat::topic("offered")`),
/// which refuses an unknown state in a `const`, or from a typed state with
/// [`MediaType::topic_of`](crate::MediaType::topic_of).
#[derive(Clone, Copy)]
pub struct Topic {
    description: &'static MediaTypeDescription,
    /// The state's index, or `None` for `all`.
    state: Option<usize>,
}

impl Topic {
    /// The topic of one media type's state, by the state's wire name or alias, or `all`:
    /// what a generated `try_topic` calls, and [`Topic::parse`] after finding the media
    /// type. The error's `topic` is `"<mediaType>:<state>"`.
    pub fn of_state(
        description: &'static MediaTypeDescription,
        state: &str,
    ) -> Result<Topic, TopicError> {
        if state == events_spec::ALL_STATES {
            return Ok(Topic::all(description));
        }
        match description.states.iter().position(|s| s.accepts(state)) {
            Some(index) => Ok(Topic::state(description, index)),
            None => Err(TopicError::UnknownState {
                topic: format!(
                    "{}{}{state}",
                    description.wire_name,
                    events_spec::TOPIC_SEPARATOR
                ),
                media_type: description.wire_name,
                state: state.to_owned(),
                suggestion: closest(
                    state,
                    description
                        .states
                        .iter()
                        .flat_map(|s| std::iter::once(s.wire_name).chain(s.aliases.iter().copied()))
                        .chain([events_spec::ALL_STATES]),
                ),
                expected: description.states.iter().map(|s| s.wire_name).collect(),
            }),
        }
    }

    /// `"<mediaType>:all"`.
    pub const fn all(description: &'static MediaTypeDescription) -> Self {
        Topic {
            description,
            state: None,
        }
    }

    /// `"<mediaType>:<state>"` for the state at `index` in `description.states`.
    ///
    /// # Panics
    /// When `index` is not a state of `description` (in a `const`, a compile error).
    pub const fn state(description: &'static MediaTypeDescription, index: usize) -> Self {
        assert!(index < description.states.len(), "state index out of range");
        Topic {
            description,
            state: Some(index),
        }
    }

    /// The media type's description.
    pub const fn media_type(&self) -> &'static MediaTypeDescription {
        self.description
    }

    /// The state, or `None` when the topic is `<mediaType>:all`.
    pub fn state_description(&self) -> Option<&'static StateDescription> {
        let states: &'static [StateDescription] = self.description.states;
        self.state.map(|index| &states[index])
    }

    /// The state's index in its media type's states, or `None` for `all`.
    pub const fn state_index(&self) -> Option<usize> {
        self.state
    }

    /// Whether this topic is `<mediaType>:all`.
    pub const fn is_all(&self) -> bool {
        self.state.is_none()
    }

    /// Whether an event of media type `media_type` in the state at `state_index` is
    /// published on this topic.
    pub fn matches(&self, media_type: &MediaTypeDescription, state_index: usize) -> bool {
        self.description.wire_name == media_type.wire_name
            && self.state.is_none_or(|index| index == state_index)
    }
}

/// Why a topic string was refused: which part is wrong, and the closest valid spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TopicError {
    /// The topic has no `:` between media type and state.
    #[error("topic `{topic}` has no `:`; expected `<mediaType>:<state>` or `<mediaType>:all`")]
    MissingSeparator {
        /// The topic as given.
        topic: String,
    },
    /// The media type (before the `:`) is not registered.
    #[error(
        "unknown media type `{media_type}` in topic `{topic}`{}; known media types: {} \
         (every `media_type!` declaration in the program is known to `Registry::all()` and \
         `Events::new()`; an explicit registry knows what was added with `register`)",
        did_you_mean(*.suggestion),
        expected.join(", "),
    )]
    UnknownMediaType {
        /// The topic as given.
        topic: String,
        /// The media type as given.
        media_type: String,
        /// The closest registered media type, when one is close.
        suggestion: Option<&'static str>,
        /// Every registered media type.
        expected: Vec<&'static str>,
    },
    /// The media type is known, but the state (after the `:`) is neither one of its states
    /// nor `all`.
    #[error(
        "unknown state `{state}` for media type `{media_type}` in topic `{topic}`{}; \
         expected one of: {}, all",
        did_you_mean(*.suggestion),
        expected.join(", "),
    )]
    UnknownState {
        /// The topic as given.
        topic: String,
        /// The media type's wire name.
        media_type: &'static str,
        /// The state as given.
        state: String,
        /// The closest state (or `all`), when one is close.
        suggestion: Option<&'static str>,
        /// The media type's states, by wire name.
        expected: Vec<&'static str>,
    },
}

impl TopicError {
    /// The same error, naming `topic` as the string that was refused.
    pub(crate) fn in_topic(mut self, topic: &str) -> Self {
        match &mut self {
            TopicError::MissingSeparator { topic: t }
            | TopicError::UnknownMediaType { topic: t, .. }
            | TopicError::UnknownState { topic: t, .. } => topic.clone_into(t),
        }
        self
    }

    /// The topic string that was refused.
    pub fn topic(&self) -> &str {
        match self {
            TopicError::MissingSeparator { topic }
            | TopicError::UnknownMediaType { topic, .. }
            | TopicError::UnknownState { topic, .. } => topic,
        }
    }

    /// The closest valid spelling of the part at fault, when one is close.
    pub fn suggestion(&self) -> Option<&'static str> {
        match self {
            TopicError::MissingSeparator { .. } => None,
            TopicError::UnknownMediaType { suggestion, .. }
            | TopicError::UnknownState { suggestion, .. } => *suggestion,
        }
    }
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!(" (did you mean `{s}`?)"))
}

impl PartialEq for Topic {
    fn eq(&self, other: &Self) -> bool {
        self.description.wire_name == other.description.wire_name && self.state == other.state
    }
}

impl Eq for Topic {}

impl std::hash::Hash for Topic {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.description.wire_name.hash(state);
        self.state.hash(state);
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self
            .state_description()
            .map_or(events_spec::ALL_STATES, |state| state.wire_name);
        let separator = events_spec::TOPIC_SEPARATOR;
        write!(f, "{}{separator}{state}", self.description.wire_name)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({self})")
    }
}
