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

/// One `media_type!` declaration, submitted at link time (see [`Registry::all`]).
/// Generated code makes these; not public API.
#[doc(hidden)]
#[derive(Debug)]
pub struct Declared(fn() -> MediaTypeEntry);

impl Declared {
    #[doc(hidden)]
    pub const fn new(entry: fn() -> MediaTypeEntry) -> Self {
        Declared(entry)
    }
}

inventory::collect!(Declared);

/// The media types known at run time.
///
/// [`Registry::all`] is every media type declared with `media_type!` anywhere in the
/// program, the built-in ones included: what [`Events::new`](crate::Events::new) and
/// `Registry::default()` use. An explicit registry ([`Registry::builtin`],
/// [`Registry::empty`] plus [`register`](Registry::register)) is a closed set, for tests
/// and for programs that want to accept only some media types.
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

    /// Every media type declared with `media_type!` in this program: the built-in ones
    /// first, in [`builtin`](Self::builtin) order, then the others by wire name, so the
    /// order (and everything generated from it) does not depend on link order.
    ///
    /// A declaration reusing a built-in wire name does not replace the built-in here
    /// (`Registry::builtin().with::<T>()` does). Two other declarations with the same wire
    /// name are a mistake this cannot report; the one whose Rust name sorts first is kept,
    /// the same one on every run.
    ///
    /// ```
    /// use events_core::Registry;
    /// events_core::media_type! {
    ///     /// A co-browsing session.
    ///     pub Cobrowse = "cobrowse" {
    ///         states { initial Offered = "offered" -> Active, terminal Active = "active" }
    ///     }
    /// }
    /// let all = Registry::all();
    /// let names: Vec<_> = all.iter().map(|e| e.description.wire_name).collect();
    /// assert_eq!(names, ["webchat", "contentoffer", "cobrowse"]);
    /// ```
    pub fn all() -> Self {
        let mut registry = Registry::builtin();
        let mut declared: Vec<MediaTypeEntry> = inventory::iter::<Declared>
            .into_iter()
            .map(|declared| (declared.0)())
            .filter(|entry| registry.get(entry.description.wire_name).is_none())
            .collect();
        declared.sort_by_key(|e| (e.description.wire_name, e.description.rust_name));
        declared.dedup_by_key(|e| e.description.wire_name);
        registry.entries.extend(declared);
        registry
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
        Topic::of_state(entry.description, state).map_err(|unknown| unknown.in_topic(topic))
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
