//! The media types a program knows at run time, looked up by wire name.

use std::any::TypeId;

use crate::any::AnyEvent;
use crate::builtin::{ContentOffer, WebChat};
use crate::description::MediaTypeDescription;
use crate::event::{EventError, RawEvent};
use crate::media_type::{Event, MediaType};
use crate::suggest::closest;

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

    /// `webchat` and `contentoffer`.
    pub fn builtin() -> Self {
        let mut registry = Registry::empty();
        registry.register::<WebChat>();
        registry.register::<ContentOffer>();
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

impl Default for Registry {
    /// The same as [`Registry::builtin`].
    fn default() -> Self {
        Registry::builtin()
    }
}
