//! The media types a program knows at run time, looked up by wire name, and topic strings
//! read against them.

use std::any::TypeId;

use crate::any::AnyEvent;
use crate::description::MediaTypeDescription;
use crate::event::{EventError, RawEvent};
use crate::media_type::{Event, MediaType};
use crate::topic::{Topic, TopicError};
use events_spec::closest;

/// One media type, type-erased: its description and how to finish reading its events.
#[derive(Clone, Copy)]
pub struct MediaTypeEntry {
    /// Everything its declaration says.
    pub description: &'static MediaTypeDescription,
    from_raw: fn(RawEvent<'_>) -> Result<Box<AnyEvent>, EventError>,
    event_type: TypeId,
}

impl MediaTypeEntry {
    /// The entry of media type `M`.
    pub fn of<M: MediaType>() -> Self {
        MediaTypeEntry {
            description: M::DESCRIPTION,
            from_raw: |raw| Ok(Box::new(M::Event::from_raw(raw)?)),
            event_type: TypeId::of::<M::Event>(),
        }
    }

    /// The `TypeId` of the media type's event struct: how the event bus finds the handlers
    /// of an event without comparing wire names.
    pub fn event_type(&self) -> TypeId {
        self.event_type
    }

    /// Finishes reading an event of this media type (see [`Event::from_raw`]).
    pub fn from_raw(&self, raw: RawEvent<'_>) -> Result<Box<AnyEvent>, EventError> {
        (self.from_raw)(raw)
    }
}

impl std::fmt::Debug for MediaTypeEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("MediaTypeEntry")
            .field(&self.description.wire_name)
            .finish()
    }
}

/// The media types known at run time: the built-in ones, plus any registered.
///
/// ```
/// use events_core::{Registry, WebChat};
/// let registry = Registry::builtin();
/// assert!(registry.get("webchat").is_some());
/// assert_eq!(registry.suggest("webchta"), Some("webchat"));
/// ```
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<MediaTypeEntry>,
}

impl Registry {
    /// No media types at all.
    pub fn empty() -> Self {
        Registry {
            entries: Vec::new(),
        }
    }

    /// Adds media type `M`; registering one twice keeps one entry. A different media type
    /// with the same wire name replaces the earlier one.
    pub fn register<M: MediaType>(&mut self) -> &mut Self {
        let entry = MediaTypeEntry::of::<M>();
        match self
            .entries
            .iter_mut()
            .find(|e| e.description.wire_name == entry.description.wire_name)
        {
            Some(existing) => *existing = entry,
            None => self.entries.push(entry),
        }
        self
    }

    /// Builder form of [`register`](Self::register).
    pub fn with<M: MediaType>(mut self) -> Self {
        self.register::<M>();
        self
    }

    /// The media type with this wire name.
    pub fn get(&self, wire_name: &str) -> Option<&MediaTypeEntry> {
        self.entries
            .iter()
            .find(|e| e.description.wire_name == wire_name)
    }

    /// Every registered media type, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = &MediaTypeEntry> {
        self.entries.iter()
    }

    /// The registered wire name closest to `wire_name`, when one is a likely typo of it.
    pub fn suggest(&self, wire_name: &str) -> Option<&'static str> {
        closest(
            wire_name,
            self.entries.iter().map(|e| e.description.wire_name),
        )
    }
}

impl Topic {
    /// Reads a topic string, `"<mediaType>:<state>"` or `"<mediaType>:all"`, the way the
    /// JavaScript SDK's `ac('on', topic, callback)` takes it. The media type must be in
    /// `registry`; the state may be a wire name or an alias (`webchat:timed out`).
    ///
    /// ```
    /// use events_core::{Registry, Topic, TopicError, WebChat};
    /// let registry = Registry::builtin();
    /// assert_eq!(Topic::parse(&registry, "webchat:offered")?, WebChat::topic("offered"));
    /// assert!(Topic::parse(&registry, "webchat:all")?.is_all());
    ///
    /// let error = Topic::parse(&registry, "webchat:offred").unwrap_err();
    /// assert_eq!(error.suggestion(), Some("offered"));
    /// assert_eq!(
    ///     error.to_string(),
    ///     "unknown state `offred` for media type `webchat` in topic `webchat:offred` \
    ///      (did you mean `offered`?); expected one of: offered, accepted, rejected, \
    ///      ignored, timedout, errored, started, engaged, abandoned, all"
    /// );
    /// # Ok::<(), TopicError>(())
    /// ```
    pub fn parse(registry: &Registry, topic: &str) -> Result<Topic, TopicError> {
        let Some((media_type, state)) = topic.split_once(events_spec::TOPIC_SEPARATOR) else {
            return Err(TopicError::MissingSeparator {
                topic: topic.to_owned(),
            });
        };
        let Some(entry) = registry.get(media_type) else {
            return Err(TopicError::UnknownMediaType {
                topic: topic.to_owned(),
                media_type: media_type.to_owned(),
                suggestion: registry.suggest(media_type),
                expected: registry.iter().map(|e| e.description.wire_name).collect(),
            });
        };
        let description = entry.description;
        if state == events_spec::ALL_STATES {
            return Ok(Topic::all(description));
        }
        match description.states.iter().position(|s| s.accepts(state)) {
            Some(index) => Ok(Topic::state(description, index)),
            None => Err(TopicError::UnknownState {
                topic: topic.to_owned(),
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
}

/// What `on_topic`, `once_topic`, `off_topic` and `stream` accept as a topic: a string,
/// checked against a [`Registry`] when subscribing, or a [`Topic`] checked at compile time
/// (`WebChat::topic("offered")` in a `const`, or [`topic!`](crate::topic!)).
pub trait IntoTopic {
    /// The topic, or why the string names none in `registry`.
    fn into_topic(self, registry: &Registry) -> Result<Topic, TopicError>;
}

impl IntoTopic for Topic {
    fn into_topic(self, _: &Registry) -> Result<Topic, TopicError> {
        Ok(self)
    }
}

impl IntoTopic for &Topic {
    fn into_topic(self, _: &Registry) -> Result<Topic, TopicError> {
        Ok(*self)
    }
}

impl IntoTopic for &str {
    fn into_topic(self, registry: &Registry) -> Result<Topic, TopicError> {
        Topic::parse(registry, self)
    }
}

impl IntoTopic for &String {
    fn into_topic(self, registry: &Registry) -> Result<Topic, TopicError> {
        Topic::parse(registry, self)
    }
}

impl IntoTopic for String {
    fn into_topic(self, registry: &Registry) -> Result<Topic, TopicError> {
        Topic::parse(registry, &self)
    }
}
