//! Topics: `"<mediaType>:<state>"` and `"<mediaType>:all"`, as the JavaScript SDK's
//! `ac('on', topic, callback)` names them.

use std::fmt;

use crate::description::{MediaTypeDescription, StateDescription};

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
            .map_or("all", |state| state.wire_name);
        write!(f, "{}:{}", self.description.wire_name, state)
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Topic({self})")
    }
}
