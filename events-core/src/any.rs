//! Events of any media type behind one type: what topic subscribers, the ingest pipeline
//! and sinks handle when they do not know the media type at compile time.

use std::any::Any;
use std::fmt::Debug;

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::description::{MediaTypeDescription, StateDescription};
use crate::event::CustomerIdType;
use crate::media_type::{Event, MediaType};
use crate::topic::Topic;

/// An event of some media type, known at run time: the common fields, the state, the
/// media type, and the whole event as JSON. Every [`Event`] is one; use it as
/// [`&AnyEvent`](AnyEvent) or `Box<AnyEvent>`.
///
/// `downcast_ref::<E>()` (an inherent method of `dyn DynEvent`) gets the typed event back.
pub trait DynEvent: Debug + Send + Sync + 'static {
    /// The media type's description.
    fn media_type(&self) -> &'static MediaTypeDescription;
    /// The state's index in the media type's states.
    fn state_index(&self) -> usize;
    /// `actionId`.
    fn action_id(&self) -> Uuid;
    /// `actionMapId`.
    fn action_map_id(&self) -> Uuid;
    /// `actionMapVersion`.
    fn action_map_version(&self) -> u32;
    /// `customerId`.
    fn customer_id(&self) -> Uuid;
    /// `customerIdType`.
    fn customer_id_type(&self) -> &CustomerIdType;
    /// `sessionId`.
    fn session_id(&self) -> Uuid;
    /// `errorCode`.
    fn error_code(&self) -> Option<i64>;
    /// `errorMessage`.
    fn error_message(&self) -> Option<&str>;
    /// Fields neither documented nor declared.
    fn extra(&self) -> &Map<String, Value>;
    /// The same, to add or change fields.
    fn extra_mut(&mut self) -> &mut Map<String, Value>;
    /// The whole event as JSON, exactly as it is written out.
    fn to_json(&self) -> Value;
    /// Appends the event's JSON to `out`, without building a [`Value`].
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
    /// A copy, boxed.
    fn clone_box(&self) -> Box<AnyEvent>;
    /// For `downcast_ref` on `dyn DynEvent`.
    fn as_any(&self) -> &dyn Any;
    /// For `downcast_mut` on `dyn DynEvent`.
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// For `downcast` of a boxed `AnyEvent`.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

/// An event of any media type. See [`DynEvent`] for what it offers.
pub type AnyEvent = dyn DynEvent;

impl<E: Event> DynEvent for E {
    fn media_type(&self) -> &'static MediaTypeDescription {
        E::MediaType::DESCRIPTION
    }
    fn state_index(&self) -> usize {
        self.state().index()
    }
    fn action_id(&self) -> Uuid {
        Event::action_id(self)
    }
    fn action_map_id(&self) -> Uuid {
        Event::action_map_id(self)
    }
    fn action_map_version(&self) -> u32 {
        Event::action_map_version(self)
    }
    fn customer_id(&self) -> Uuid {
        Event::customer_id(self)
    }
    fn customer_id_type(&self) -> &CustomerIdType {
        Event::customer_id_type(self)
    }
    fn session_id(&self) -> Uuid {
        Event::session_id(self)
    }
    fn error_code(&self) -> Option<i64> {
        Event::error_code(self)
    }
    fn error_message(&self) -> Option<&str> {
        Event::error_message(self)
    }
    fn extra(&self) -> &Map<String, Value> {
        Event::extra(self)
    }
    fn extra_mut(&mut self) -> &mut Map<String, Value> {
        Event::extra_mut(self)
    }
    fn to_json(&self) -> Value {
        // An event serializes to a map of strings to JSON values; that cannot fail.
        serde_json::to_value(self).expect("an event always serializes to JSON")
    }
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        self.append_json(out)
    }
    fn clone_box(&self) -> Box<AnyEvent> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

impl AnyEvent {
    /// The state's description.
    pub fn state(&self) -> &'static StateDescription {
        &self.media_type().states[self.state_index()]
    }

    /// The state's wire name, e.g. `offered`.
    pub fn state_name(&self) -> &'static str {
        self.state().wire_name
    }

    /// The media type's wire name, e.g. `webchat`.
    pub fn media_type_name(&self) -> &'static str {
        self.media_type().wire_name
    }

    /// The topic `"<mediaType>:<state>"` this event is published on.
    pub fn topic(&self) -> Topic {
        Topic::state(self.media_type(), self.state_index())
    }

    /// The typed event, when it is of type `E`.
    pub fn downcast_ref<E: Event>(&self) -> Option<&E> {
        self.as_any().downcast_ref()
    }

    /// The typed event, mutably, when it is of type `E`.
    pub fn downcast_mut<E: Event>(&mut self) -> Option<&mut E> {
        self.as_any_mut().downcast_mut()
    }

    /// The typed event, moved out of its box, when it is of type `E`; else the box back.
    pub fn downcast<E: Event>(self: Box<Self>) -> Result<E, Box<AnyEvent>> {
        if self.as_any().is::<E>() {
            let any = self.into_any();
            Ok(*any.downcast::<E>().expect("checked with `is`"))
        } else {
            Err(self)
        }
    }
}

impl Clone for Box<AnyEvent> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

impl serde::Serialize for AnyEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Through `Value` keeps `DynEvent` object-safe; the hot paths use `write_json`.
        self.to_json().serialize(serializer)
    }
}
