//! The event side of a media type: the documented fields every event carries, the fast
//! parser that reads them, and the errors that name what is wrong.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::description::MediaTypeDescription;
use crate::suggest::closest;

#[cfg(test)]
mod tests;

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

impl EventError {
    /// The stable name of this error's kind: `missing_field`, `invalid_field` or
    /// `unknown_state`. A wrong media type counts as `invalid_field` here: it is a valid
    /// media type, only not the one expected.
    pub fn kind(&self) -> &'static str {
        match self {
            EventError::MissingField { .. } => "missing_field",
            EventError::InvalidField { .. } | EventError::WrongMediaType { .. } => "invalid_field",
            EventError::UnknownState(_) => "unknown_state",
        }
    }

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
    pub fn take_field<T: de::DeserializeOwned>(
        &mut self,
        wire_name: &'static str,
    ) -> Result<Option<T>, EventError> {
        match self.rest.shift_remove(wire_name) {
            None => Ok(None),
            Some(value) => T::deserialize(value)
                .map(Some)
                .map_err(|error| EventError::invalid(wire_name, error)),
        }
    }
}

impl<'de> Deserialize<'de> for RawEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEventSeed
            .deserialize(deserializer)?
            .map_err(de::Error::custom)
    }
}

/// Deserializes a [`RawEvent`], keeping semantic errors apart from syntax errors.
#[derive(Debug, Clone, Copy)]
struct RawEventSeed;

impl<'de> DeserializeSeed<'de> for RawEventSeed {
    type Value = Result<RawEvent<'de>, EventError>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(RawEventVisitor)
    }
}

struct RawEventVisitor;

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
    fn from_wire(name: &str) -> Option<Key> {
        Some(match name {
            "actionId" => Key::ActionId,
            "actionState" => Key::ActionState,
            "actionMediaType" => Key::ActionMediaType,
            "actionMapId" => Key::ActionMapId,
            "actionMapVersion" => Key::ActionMapVersion,
            "customerId" => Key::CustomerId,
            "customerIdType" => Key::CustomerIdType,
            "sessionId" => Key::SessionId,
            "errorCode" => Key::ErrorCode,
            "errorMessage" => Key::ErrorMessage,
            _ => return None,
        })
    }

    fn wire_name(self) -> &'static str {
        match self {
            Key::ActionId => "actionId",
            Key::ActionState => "actionState",
            Key::ActionMediaType => "actionMediaType",
            Key::ActionMapId => "actionMapId",
            Key::ActionMapVersion => "actionMapVersion",
            Key::CustomerId => "customerId",
            Key::CustomerIdType => "customerIdType",
            Key::SessionId => "sessionId",
            Key::ErrorCode => "errorCode",
            Key::ErrorMessage => "errorMessage",
        }
    }
}

/// An object key: a documented field, or any other key kept as text.
enum AnyKey<'de> {
    Documented(Key),
    Other(Cow<'de, str>),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = AnyKey<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = AnyKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Key::from_wire(key).map_or(AnyKey::Other(Cow::Borrowed(key)), AnyKey::Documented))
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Key::from_wire(key).map_or_else(
            || AnyKey::Other(Cow::Owned(key.to_owned())),
            AnyKey::Documented,
        ))
    }
}

/// Any JSON value, with strings borrowed where the input allows and compound values
/// skipped: documented fields are scalars, so an array or object there is only an error to
/// report, and reporting it must not stop the parse.
enum Scalar<'de> {
    Str(Cow<'de, str>),
    Signed(i64),
    Unsigned(u64),
    Float,
    Bool,
    Null,
    Array,
    Object,
}

impl Scalar<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "a string",
            Scalar::Signed(_) | Scalar::Unsigned(_) => "an integer",
            Scalar::Float => "a number with a fraction",
            Scalar::Bool => "a boolean",
            Scalar::Null => "null",
            Scalar::Array => "an array",
            Scalar::Object => "an object",
        }
    }
}

struct ScalarSeed;

impl<'de> DeserializeSeed<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScalarSeed {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Signed(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Scalar::Unsigned(v))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Array)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

fn wrong_type(key: Key, expected: &str, found: &Scalar<'_>) -> EventError {
    EventError::invalid(
        key.wire_name(),
        format_args!("expected {expected}, found {}", found.kind()),
    )
}

fn as_str<'de>(key: Key, value: Scalar<'de>) -> Result<Cow<'de, str>, EventError> {
    match value {
        Scalar::Str(text) => Ok(text),
        other => Err(wrong_type(key, "a string", &other)),
    }
}

fn as_uuid(key: Key, value: Scalar<'_>) -> Result<Uuid, EventError> {
    let text = as_str(key, value)
        .map_err(|_| EventError::invalid(key.wire_name(), "expected a UUID string"))?;
    // Only the hyphenated form the vendor sends (and the generated JSON Schema's
    // `format: uuid` means): `Uuid::parse_str` alone would also take braces, `urn:uuid:`
    // and 32 bare hex digits, which would make the schema and the reader disagree.
    if text.len() != 36 {
        return Err(EventError::invalid(
            key.wire_name(),
            format_args!("`{text}` is not a hyphenated UUID (8-4-4-4-12 hex digits)"),
        ));
    }
    Uuid::parse_str(&text).map_err(|error| {
        EventError::invalid(
            key.wire_name(),
            format_args!("`{text}` is not a UUID: {error}"),
        )
    })
}

fn as_i64(key: Key, value: &Scalar<'_>) -> Result<i64, EventError> {
    match *value {
        Scalar::Signed(n) => Ok(n),
        Scalar::Unsigned(n) => i64::try_from(n)
            .map_err(|_| EventError::invalid(key.wire_name(), format_args!("{n} is out of range"))),
        ref other => Err(wrong_type(key, "an integer", other)),
    }
}

/// The documented fields while the object is being read.
#[derive(Default)]
struct Partial<'de> {
    media_type: Option<Cow<'de, str>>,
    state: Option<Cow<'de, str>>,
    action_id: Option<Uuid>,
    action_map_id: Option<Uuid>,
    action_map_version: Option<u32>,
    customer_id: Option<Uuid>,
    customer_id_type: Option<CustomerIdType>,
    session_id: Option<Uuid>,
    error_code: Option<i64>,
    error_message: Option<String>,
    /// Which documented keys were seen, to catch a key given twice.
    seen: u16,
}

impl<'de> Partial<'de> {
    fn set(&mut self, key: Key, value: Scalar<'de>) -> Result<(), EventError> {
        let bit = 1 << key as u16;
        if self.seen & bit != 0 {
            return Err(EventError::invalid(
                key.wire_name(),
                "appears more than once",
            ));
        }
        self.seen |= bit;
        match key {
            Key::ActionId => self.action_id = Some(as_uuid(key, value)?),
            Key::ActionMapId => self.action_map_id = Some(as_uuid(key, value)?),
            Key::CustomerId => self.customer_id = Some(as_uuid(key, value)?),
            Key::SessionId => self.session_id = Some(as_uuid(key, value)?),
            Key::ActionState => self.state = Some(as_str(key, value)?),
            Key::ActionMediaType => self.media_type = Some(as_str(key, value)?),
            Key::CustomerIdType => {
                self.customer_id_type = Some(CustomerIdType::from(&*as_str(key, value)?))
            }
            Key::ActionMapVersion => {
                let version = as_i64(key, &value)?;
                let version = u32::try_from(version).map_err(|_| {
                    EventError::invalid(
                        key.wire_name(),
                        format_args!("{version} is not a version number"),
                    )
                })?;
                self.action_map_version = Some(version);
            }
            // The vendor documents these two as optional, so `null` means absent.
            Key::ErrorCode => {
                self.error_code = match value {
                    Scalar::Null => None,
                    ref other => Some(as_i64(key, other)?),
                }
            }
            Key::ErrorMessage => {
                self.error_message = match value {
                    Scalar::Null => None,
                    other => Some(as_str(key, other)?.into_owned()),
                }
            }
        }
        Ok(())
    }

    fn finish(self, rest: Map<String, Value>) -> Result<RawEvent<'de>, EventError> {
        fn required<T>(value: Option<T>, field: &'static str) -> Result<T, EventError> {
            value.ok_or(EventError::MissingField { field, state: None })
        }
        Ok(RawEvent {
            action_id: required(self.action_id, "actionId")?,
            state: required(self.state, "actionState")?,
            media_type: required(self.media_type, "actionMediaType")?,
            action_map_id: required(self.action_map_id, "actionMapId")?,
            action_map_version: required(self.action_map_version, "actionMapVersion")?,
            customer_id: required(self.customer_id, "customerId")?,
            customer_id_type: required(self.customer_id_type, "customerIdType")?,
            session_id: required(self.session_id, "sessionId")?,
            error_code: self.error_code,
            error_message: self.error_message,
            rest,
        })
    }
}

impl<'de> Visitor<'de> for RawEventVisitor {
    type Value = Result<RawEvent<'de>, EventError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a web-action event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut partial = Partial::default();
        let mut rest = Map::new();
        // The first semantic error is kept and the object is still read to its end, so that
        // a well-formed line is never reported as malformed.
        let mut first_error = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                AnyKey::Documented(key) => {
                    let value = map.next_value_seed(ScalarSeed)?;
                    if first_error.is_none() {
                        if let Err(error) = partial.set(key, value) {
                            first_error = Some(error);
                        }
                    }
                }
                AnyKey::Other(key) => {
                    let value: Value = map.next_value()?;
                    if rest.contains_key(&*key) {
                        first_error.get_or_insert_with(|| {
                            EventError::invalid(&key, "appears more than once")
                        });
                    }
                    rest.insert(key.into_owned(), value);
                }
            }
        }
        Ok(match first_error {
            Some(error) => Err(error),
            None => partial.finish(rest),
        })
    }
}

/// The strict parse in front of the tolerant one: `Some` only for an event the tolerant
/// parse reads as exactly the same `RawEvent`, `None` on any doubt (a syntax error, a
/// wrong type, a field given twice or missing, a key it cannot vouch for).
///
/// What makes it faster is the work it can skip because it may give up: keys and UUIDs are
/// read as bytes, without the UTF-8 check (a documented name or a UUID is ASCII), values
/// are read with the type the field needs instead of any type, and no error is built.
fn fast_parse(bytes: &[u8]) -> Option<RawEvent<'_>> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let raw = deserializer.deserialize_map(FastVisitor).ok()??;
    deserializer.end().ok()?;
    Some(raw)
}

struct FastVisitor;

impl<'de> Visitor<'de> for FastVisitor {
    type Value = Option<RawEvent<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a web-action event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        /// Fills a field's slot; `None` when the key was already given (or the value was
        /// not usable).
        fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
            match slot {
                Some(_) => None,
                None => {
                    *slot = Some(value?);
                    Some(())
                }
            }
        }
        let mut action_id = None;
        let mut state = None;
        let mut media_type = None;
        let mut action_map_id = None;
        let mut action_map_version = None;
        let mut customer_id = None;
        let mut customer_id_type = None;
        let mut session_id = None;
        // `Some(None)` is a `null` that was read: still a key seen once.
        let mut error_code: Option<Option<i64>> = None;
        let mut error_message: Option<Option<String>> = None;
        let mut rest = Map::new();
        while let Some(key) = map.next_key_seed(FastKeySeed)? {
            let done = match key {
                FastKey::Documented(key) => match key {
                    Key::ActionId => once(&mut action_id, map.next_value_seed(UuidSeed)?),
                    Key::ActionMapId => once(&mut action_map_id, map.next_value_seed(UuidSeed)?),
                    Key::CustomerId => once(&mut customer_id, map.next_value_seed(UuidSeed)?),
                    Key::SessionId => once(&mut session_id, map.next_value_seed(UuidSeed)?),
                    Key::ActionState => once(&mut state, Some(map.next_value_seed(StrSeed)?)),
                    Key::ActionMediaType => {
                        once(&mut media_type, Some(map.next_value_seed(StrSeed)?))
                    }
                    Key::CustomerIdType => once(
                        &mut customer_id_type,
                        Some(CustomerIdType::from(&*map.next_value_seed(StrSeed)?)),
                    ),
                    Key::ActionMapVersion => once(&mut action_map_version, Some(map.next_value()?)),
                    Key::ErrorCode => once(&mut error_code, Some(map.next_value()?)),
                    Key::ErrorMessage => once(&mut error_message, Some(map.next_value()?)),
                },
                FastKey::Other(key) => {
                    let value: Value = map.next_value()?;
                    if rest.contains_key(&*key) {
                        None
                    } else {
                        rest.insert(key.into_owned(), value);
                        Some(())
                    }
                }
                FastKey::Doubtful => None,
            };
            // Giving up in the middle of the object is enough: the deserializer then fails
            // on the unread rest, which `fast_parse` also maps to `None`.
            if done.is_none() {
                return Ok(None);
            }
        }
        let assemble = || {
            Some(RawEvent {
                media_type: media_type?,
                state: state?,
                action_id: action_id?,
                action_map_id: action_map_id?,
                action_map_version: action_map_version?,
                customer_id: customer_id?,
                customer_id_type: customer_id_type?,
                session_id: session_id?,
                error_code: error_code.flatten(),
                error_message: error_message.flatten(),
                rest,
            })
        };
        Ok(assemble())
    }
}

/// An object key as the fast parse sees it.
enum FastKey<'de> {
    Documented(Key),
    /// Any other key, checked to be what the tolerant parse would read.
    Other(Cow<'de, str>),
    /// A key the tolerant parse might refuse or read differently.
    Doubtful,
}

impl Key {
    fn from_wire_bytes(name: &[u8]) -> Option<Key> {
        Some(match name {
            b"actionId" => Key::ActionId,
            b"actionState" => Key::ActionState,
            b"actionMediaType" => Key::ActionMediaType,
            b"actionMapId" => Key::ActionMapId,
            b"actionMapVersion" => Key::ActionMapVersion,
            b"customerId" => Key::CustomerId,
            b"customerIdType" => Key::CustomerIdType,
            b"sessionId" => Key::SessionId,
            b"errorCode" => Key::ErrorCode,
            b"errorMessage" => Key::ErrorMessage,
            _ => return None,
        })
    }
}

/// Reads a key as bytes: serde_json then neither checks UTF-8 nor refuses raw control
/// characters, so a key that is not a documented name is checked here for both, the way
/// the tolerant parse's `&str` key would be. A control character that came from an escape
/// (`\n`) is valid JSON but cannot be told apart from a raw one here: doubtful.
struct FastKeySeed;

impl FastKeySeed {
    fn other(name: &[u8]) -> Option<&str> {
        if name.iter().any(|&b| b < 0x20) {
            return None;
        }
        std::str::from_utf8(name).ok()
    }
}

impl<'de> DeserializeSeed<'de> for FastKeySeed {
    type Value = FastKey<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for FastKeySeed {
    type Value = FastKey<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_bytes<E: de::Error>(self, name: &'de [u8]) -> Result<Self::Value, E> {
        Ok(match Key::from_wire_bytes(name) {
            Some(key) => FastKey::Documented(key),
            None => FastKeySeed::other(name).map_or(FastKey::Doubtful, |name| {
                FastKey::Other(Cow::Borrowed(name))
            }),
        })
    }

    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Self::Value, E> {
        Ok(match Key::from_wire_bytes(name) {
            Some(key) => FastKey::Documented(key),
            None => FastKeySeed::other(name).map_or(FastKey::Doubtful, |name| {
                FastKey::Other(Cow::Owned(name.to_owned()))
            }),
        })
    }
}

/// Reads a UUID field as bytes: a valid hyphenated UUID is ASCII, so the UTF-8 check is
/// redundant, and any other bytes are `None`. `Uuid::try_parse_ascii` takes the same
/// inputs as the tolerant parse's `Uuid::parse_str`, and the length check keeps only the
/// hyphenated form, as there.
struct UuidSeed;

impl<'de> DeserializeSeed<'de> for UuidSeed {
    type Value = Option<Uuid>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for UuidSeed {
    type Value = Option<Uuid>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hyphenated UUID string")
    }

    fn visit_bytes<E: de::Error>(self, text: &[u8]) -> Result<Self::Value, E> {
        if text.len() != 36 {
            return Ok(None);
        }
        Ok(Uuid::try_parse_ascii(text).ok())
    }
}

/// Reads a string field, borrowed when it has no escapes, through serde_json's checked
/// `&str` path exactly like the tolerant parse.
struct StrSeed;

impl<'de> DeserializeSeed<'de> for StrSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for StrSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}
