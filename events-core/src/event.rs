//! The event side of a media type: the documented fields every event carries, the fast
//! parser that reads them, and the errors that name what is wrong.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::description::MediaTypeDescription;
use events_spec::closest;

mod number;
#[cfg(test)]
mod tests;

use number::ParsedNumber;

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
    // With `arbitrary_precision`, serde_json hands a number that is not an integer of
    // `u64` or `i64` (a fraction, an exponent, `-0`, more digits) to `visit_map`, as a map
    // only `Value` tells from an object. Every such number was an `f64` before.
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(if value.is_number() {
            Scalar::Float
        } else {
            Scalar::Object
        })
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
    match value {
        Scalar::Str(text) => hyphenated_uuid(key.wire_name(), &text),
        _ => Err(not_a_uuid_string(key.wire_name())),
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
/// parse reads as exactly the same `RawEvent`, `None` on any doubt.
///
/// It reads the shape every SDK sends and nothing else: an object whose keys and string
/// values have no escape, UUIDs as 36 bytes, integers without fraction or exponent (and
/// without sign, but for `errorCode`). Anything else (an escape, a wrong type, a field
/// given twice or missing, a syntax error) is `None`, and the tolerant parse decides. The
/// values of fields it does not know are read by serde_json itself, as in the tolerant
/// parse.
///
/// What makes it faster than serde_json into a derived struct is the work it skips because
/// it may give up: no escape handling, no UTF-8 check of documented keys and UUIDs (ASCII
/// by construction), no dispatch through `Visitor`s, no error values.
fn fast_parse(bytes: &[u8]) -> Option<RawEvent<'_>> {
    /// Fills a field's slot; `None` when the key was already given or the value is not
    /// one the fast parse reads.
    fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
        match slot {
            Some(_) => None,
            None => {
                *slot = Some(value?);
                Some(())
            }
        }
    }
    let mut line = Cursor { bytes, at: 0 };
    let mut action_id = None;
    let mut state = None;
    let mut media_type = None;
    let mut action_map_id = None;
    let mut action_map_version = None;
    let mut customer_id = None;
    let mut customer_id_type = None;
    let mut session_id = None;
    // `Some(None)` is a `null` that was read: still a key given once.
    let mut error_code: Option<Option<i64>> = None;
    let mut error_message: Option<Option<String>> = None;
    let mut rest = Map::new();
    line.eat(b'{')?;
    loop {
        let key = line.plain_string()?;
        line.eat(b':')?;
        match Key::from_wire_bytes(key) {
            Some(Key::ActionId) => once(&mut action_id, line.uuid())?,
            Some(Key::ActionMapId) => once(&mut action_map_id, line.uuid())?,
            Some(Key::CustomerId) => once(&mut customer_id, line.uuid())?,
            Some(Key::SessionId) => once(&mut session_id, line.uuid())?,
            Some(Key::ActionState) => once(&mut state, line.text().map(Cow::Borrowed))?,
            Some(Key::ActionMediaType) => once(&mut media_type, line.text().map(Cow::Borrowed))?,
            Some(Key::CustomerIdType) => {
                once(&mut customer_id_type, line.text().map(CustomerIdType::from))?
            }
            Some(Key::ActionMapVersion) => once(
                &mut action_map_version,
                line.unsigned(10).and_then(|n| u32::try_from(n).ok()),
            )?,
            // The vendor documents these two as optional, so `null` means absent.
            Some(Key::ErrorCode) => once(&mut error_code, line.nullable(Cursor::integer))?,
            Some(Key::ErrorMessage) => once(
                &mut error_message,
                line.nullable(|line| line.text().map(str::to_owned)),
            )?,
            None => {
                let key = std::str::from_utf8(key).ok()?;
                let value = line.value()?;
                if rest.contains_key(key) {
                    return None;
                }
                rest.insert(key.to_owned(), value);
            }
        }
        line.skip_whitespace();
        match line.bytes.get(line.at) {
            Some(b',') => line.at += 1,
            Some(b'}') => {
                line.at += 1;
                break;
            }
            _ => return None,
        }
    }
    line.skip_whitespace();
    if line.at != bytes.len() {
        return None;
    }
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
}

/// The fast parse's position in a line. Every reader skips the whitespace before its
/// token and returns `None` for anything it does not read exactly as serde_json would.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// JSON's whitespace, the four bytes serde_json skips.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        if self.bytes.get(self.at) != Some(&byte) {
            return None;
        }
        self.at += 1;
        Some(())
    }

    /// A string's bytes, when it has no escape and no raw control character (which
    /// serde_json refuses): then the bytes between the quotes are the string. Not yet
    /// checked to be UTF-8.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let rest = &self.bytes[self.at..];
        let len = string_stop(rest)?;
        if rest[len] != b'"' {
            return None;
        }
        self.at += len + 1;
        Some(&rest[..len])
    }

    /// A string without escapes, checked to be UTF-8 as serde_json checks it.
    fn text(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.plain_string()?).ok()
    }

    /// A hyphenated UUID string. `Uuid::try_parse_ascii` takes the same inputs as the
    /// tolerant parse's `Uuid::parse_str`, and at 36 bytes only the hyphenated form; its
    /// bytes are all hex digits or hyphens, so there is no escape, control character or
    /// quote among them to look for, and no UTF-8 to check.
    fn uuid(&mut self) -> Option<Uuid> {
        self.eat(b'"')?;
        let text = self.bytes.get(self.at..self.at + 36)?;
        if self.bytes.get(self.at + 36) != Some(&b'"') {
            return None;
        }
        let uuid = Uuid::try_parse_ascii(text).ok()?;
        self.at += 37;
        Some(uuid)
    }

    /// JSON's unsigned integer (`0`, or digits without a leading zero) of at most
    /// `max_digits` digits. A fraction or exponent after it is left for the caller's
    /// check of what follows the value, which only takes `,`, `}` or whitespace.
    fn unsigned(&mut self, max_digits: usize) -> Option<u64> {
        self.skip_whitespace();
        self.digits(max_digits)
    }

    /// The digits of an integer, right at the cursor (JSON has no whitespace after `-`).
    fn digits(&mut self, max_digits: usize) -> Option<u64> {
        let start = self.at;
        let mut n: u64 = 0;
        while let Some(&digit @ b'0'..=b'9') = self.bytes.get(self.at) {
            if self.at - start == max_digits {
                return None;
            }
            n = n * 10 + u64::from(digit - b'0');
            self.at += 1;
        }
        match self.at - start {
            0 => None,
            1 => Some(n),
            _ if self.bytes[start] == b'0' => None,
            _ => Some(n),
        }
    }

    /// An integer that surely fits in `i64` (at most 18 digits). `-0` is left to the
    /// tolerant parse (serde_json reads it as a float).
    fn integer(&mut self) -> Option<i64> {
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
            let n = self.digits(18)?;
            return (n != 0).then(|| -(n as i64));
        }
        self.digits(18).map(|n| n as i64)
    }

    /// `null` as `None`, anything else read by `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        self.skip_whitespace();
        if self.bytes[self.at..].starts_with(b"null") {
            self.at += 4;
            return Some(None);
        }
        read(self).map(Some)
    }

    /// Any JSON value, read by serde_json exactly as the tolerant parse reads a field it
    /// does not know.
    fn value(&mut self) -> Option<Value> {
        let mut values =
            serde_json::Deserializer::from_slice(&self.bytes[self.at..]).into_iter::<Value>();
        let value = values.next()?.ok()?;
        // This serde_json starts counting its recursion limit at the value, the tolerant
        // parse at the event object around it: close to the limit, the two could differ.
        if nesting(&value) > 100 {
            return None;
        }
        self.at += values.byte_offset();
        Some(value)
    }
}

/// Where a string's plain run ends: the index of the first `"`, `\\` or control character
/// (below 0x20), eight bytes at a time as serde_json looks for them.
fn string_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH_BITS: u64 = ONES << 7;
    /// The high bit of each byte of `word` that is zero; bits above the lowest one may be
    /// wrong (a borrow runs on), so only the lowest is used.
    fn zero_bytes(word: u64) -> u64 {
        word.wrapping_sub(ONES) & !word & HIGH_BITS
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let stops = zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')))
            | (word.wrapping_sub(ONES * 0x20) & !word & HIGH_BITS);
        if stops != 0 {
            return Some(offset + stops.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    let at = tail
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(offset + at)
}

/// How deeply arrays and objects nest in `value` (0 for a scalar).
fn nesting(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(nesting).max().unwrap_or(0),
        Value::Object(fields) => 1 + fields.values().map(nesting).max().unwrap_or(0),
        _ => 0,
    }
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
