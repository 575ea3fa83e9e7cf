//! The event side of a media type: the documented fields every event carries, the fast
//! parser that reads them, and the errors that name what is wrong.
//!
//! This file holds the types and the rules both parses share; `tolerant` is the serde parse
//! that decides and words every error, `fast` the strict scanner in front of it.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::description::MediaTypeDescription;
use events_spec::closest;

mod fast;
mod number;
#[cfg(test)]
mod tests;
mod tolerant;

use fast::fast_parse;
use number::ParsedNumber;
use tolerant::RawEventSeed;

/// The kind of customer id an event carries (`customerIdType`).
///
/// The vendor sends `cookie` today; any other value is kept as it came, so that a newer
/// SDK's id type is not an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum CustomerIdType {
    /// `"cookie"`: the visitor's tracking cookie.
    #[default]
    Cookie,
    /// Any other value, kept verbatim.
    Other(String),
}

impl CustomerIdType {
    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            CustomerIdType::Cookie => "cookie",
            CustomerIdType::Other(other) => other,
        }
    }
}

impl From<&str> for CustomerIdType {
    fn from(value: &str) -> Self {
        match value {
            "cookie" => CustomerIdType::Cookie,
            other => CustomerIdType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for CustomerIdType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CustomerIdType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CustomerIdType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(CustomerIdType::from(&*value))
    }
}

/// A state name that is not one of a media type's states or aliases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state `{found}` for media type `{media_type}`{}; expected one of: {}",
    .suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
    .expected.join(", "))]
pub struct UnknownState {
    /// The media type's wire name.
    pub media_type: &'static str,
    /// The name that was given.
    pub found: String,
    /// The closest valid name, when one is close.
    pub suggestion: Option<&'static str>,
    /// The valid wire names.
    pub expected: Vec<&'static str>,
}

impl UnknownState {
    /// The error for `found`, with a suggestion from `description`'s states and aliases.
    pub fn new(description: &'static MediaTypeDescription, found: &str) -> Self {
        let names = description.states.iter().flat_map(|state| {
            std::iter::once(state.wire_name).chain(state.aliases.iter().copied())
        });
        UnknownState {
            media_type: description.wire_name,
            found: found.to_owned(),
            suggestion: closest(found, names),
            expected: description
                .states
                .iter()
                .map(|state| state.wire_name)
                .collect(),
        }
    }
}

/// Why an event could not be read. Every variant names the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// A field every event (or every event in this state) must carry is absent.
    #[error("missing field `{field}`{}", .state.map(|s| format!(" (required in state `{s}`)")).unwrap_or_default())]
    MissingField {
        /// The field's wire name.
        field: &'static str,
        /// The state that requires it, when only some states do.
        state: Option<&'static str>,
    },
    /// A field is present but its value is unusable: wrong JSON type, not a UUID, out of
    /// range, or given twice.
    #[error("invalid field `{field}`: {reason}")]
    InvalidField {
        /// The field's wire name.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The event's `actionMediaType` is not the media type it was read as.
    #[error("invalid field `actionMediaType`: expected `{expected}`, found `{found}`")]
    WrongMediaType {
        /// The media type the event was read as.
        expected: &'static str,
        /// The `actionMediaType` it carries.
        found: String,
    },
    /// The event's `actionState` is not a state of its media type.
    #[error("invalid field `actionState`: {0}")]
    UnknownState(#[from] UnknownState),
}

// `kind` and `error_kind` live next to `ErrorKind`, in `ingest::error`: this module does
// not know of ingest, which wraps `EventError`.
impl EventError {
    fn invalid(field: &str, reason: impl fmt::Display) -> Self {
        EventError::InvalidField {
            field: field.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// The documented fields of one event, read and typed, with the media type and state still
/// as text and every other field kept as JSON, in order.
///
/// This is the media-type-independent half of reading an event: one pass over the JSON
/// object, with no `serde_json::Value` for the documented fields. A media type's
/// [`Event::from_raw`](crate::Event::from_raw) finishes the job.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent<'a> {
    /// `actionMediaType`, as sent.
    pub media_type: Cow<'a, str>,
    /// `actionState`, as sent.
    pub state: Cow<'a, str>,
    /// `actionId`.
    pub action_id: Uuid,
    /// `actionMapId`.
    pub action_map_id: Uuid,
    /// `actionMapVersion`.
    pub action_map_version: u32,
    /// `customerId`.
    pub customer_id: Uuid,
    /// `customerIdType`.
    pub customer_id_type: CustomerIdType,
    /// `sessionId`.
    pub session_id: Uuid,
    /// `errorCode`, when present and not `null`.
    pub error_code: Option<i64>,
    /// `errorMessage`, when present and not `null`.
    pub error_message: Option<String>,
    /// Every other field, in the order it came.
    pub rest: Map<String, Value>,
}

impl<'a> RawEvent<'a> {
    /// Reads one JSON object. The outer error is JSON that is not well-formed; the inner
    /// one, a well-formed object that is not an event.
    pub fn from_slice(bytes: &'a [u8]) -> Result<Result<Self, EventError>, serde_json::Error> {
        // Almost every line is a valid event: a strict parse that gives up on any doubt
        // reads those faster, and the tolerant parse behind it is the one that decides
        // (and words) every error. A line it gives up on is read twice; errors are rare.
        if let Some(raw) = fast_parse(bytes) {
            debug_assert_eq!(
                Self::from_slice_tolerant(bytes)
                    .ok()
                    .and_then(Result::ok)
                    .as_ref(),
                Some(&raw),
                "the fast parse accepted a line the tolerant parse reads differently: {:?}",
                String::from_utf8_lossy(bytes),
            );
            return Ok(Ok(raw));
        }
        Self::from_slice_tolerant(bytes)
    }

    /// The parse that reads every well-formed object to its end and reports the first
    /// semantic error in it; [`from_slice`](Self::from_slice) falls back to it.
    fn from_slice_tolerant(bytes: &'a [u8]) -> Result<Result<Self, EventError>, serde_json::Error> {
        let mut deserializer = serde_json::Deserializer::from_slice(bytes);
        let raw = RawEventSeed.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(raw)
    }

    /// Takes a media type's own field out of [`rest`](Self::rest) and converts it.
    /// `Ok(None)` when absent.
    ///
    /// A field of type [`Uuid`] or `Option<Uuid>` follows the rule of the documented UUID
    /// fields: the hyphenated form only, with the same errors.
    pub fn take_field<T: de::DeserializeOwned + 'static>(
        &mut self,
        wire_name: &'static str,
    ) -> Result<Option<T>, EventError> {
        let Some(value) = self.rest.shift_remove(wire_name) else {
            return Ok(None);
        };
        // Decided by the type itself rather than by how a declaration spells it, so that an
        // alias or a re-export of `Uuid` gets the same rule. `null` is an absent
        // `Option<Uuid>`, as serde reads it.
        let uuid = TypeId::of::<T>() == TypeId::of::<Uuid>();
        let optional_uuid = TypeId::of::<T>() == TypeId::of::<Option<Uuid>>() && !value.is_null();
        if uuid || optional_uuid {
            match &value {
                Value::String(text) => hyphenated_uuid(wire_name, text)?,
                _ => return Err(not_a_uuid_string(wire_name)),
            };
        }
        declared_value(value)
            .map(Some)
            .map_err(|error| EventError::invalid(wire_name, error))
    }
}

/// A declared field's JSON as its type. A number is read as serde_json's parser reads it
/// without `arbitrary_precision` (see [`ParsedNumber`]), but for a field declared as JSON,
/// which keeps the number's text as an unknown field does.
fn declared_value<T: de::DeserializeOwned + 'static>(value: Value) -> serde_json::Result<T> {
    let is = |other: TypeId| TypeId::of::<T>() == other;
    let json = is(TypeId::of::<Value>())
        || is(TypeId::of::<Option<Value>>())
        || is(TypeId::of::<serde_json::Number>());
    match value {
        Value::Number(number) if !json => match ParsedNumber::new(&number) {
            Some(number) => T::deserialize(number),
            None => Err(de::Error::custom("number out of range")),
        },
        other => T::deserialize(other),
    }
}

/// The documented fields, as the parser tells keys apart without allocating.
#[derive(Clone, Copy)]
enum Key {
    ActionId,
    ActionState,
    ActionMediaType,
    ActionMapId,
    ActionMapVersion,
    CustomerId,
    CustomerIdType,
    SessionId,
    ErrorCode,
    ErrorMessage,
}

impl Key {
    /// Every key with its wire name, in the order of the variants (so a key's position is
    /// `key as usize`) and of `events_spec::DOCUMENTED_FIELDS`; a test checks both. Both
    /// parses look keys up here.
    const ALL: [(Key, &'static str); 10] = [
        (Key::ActionId, "actionId"),
        (Key::ActionState, "actionState"),
        (Key::ActionMediaType, "actionMediaType"),
        (Key::ActionMapId, "actionMapId"),
        (Key::ActionMapVersion, "actionMapVersion"),
        (Key::CustomerId, "customerId"),
        (Key::CustomerIdType, "customerIdType"),
        (Key::SessionId, "sessionId"),
        (Key::ErrorCode, "errorCode"),
        (Key::ErrorMessage, "errorMessage"),
    ];

    fn from_wire(name: &str) -> Option<Key> {
        Key::ALL
            .iter()
            .find(|(_, wire_name)| *wire_name == name)
            .map(|&(key, _)| key)
    }

    fn wire_name(self) -> &'static str {
        Key::ALL[self as usize].1
    }
}

fn not_a_uuid_string(field: &str) -> EventError {
    EventError::invalid(field, "expected a UUID string")
}

/// The one rule for the text of every UUID field, documented or declared.
///
/// Only the hyphenated form the vendor sends (and the generated JSON Schema's
/// `format: uuid` means): `Uuid::parse_str` alone would also take braces, `urn:uuid:`
/// and 32 bare hex digits, which would make the schema and the reader disagree. Either
/// case of hex digit is taken, as `Uuid::parse_str` takes it; output is lowercase.
fn hyphenated_uuid(field: &str, text: &str) -> Result<Uuid, EventError> {
    if text.len() != 36 {
        return Err(EventError::invalid(
            field,
            format_args!("`{text}` is not a hyphenated UUID (8-4-4-4-12 hex digits)"),
        ));
    }
    Uuid::parse_str(text).map_err(|error| {
        EventError::invalid(field, format_args!("`{text}` is not a UUID: {error}"))
    })
}
