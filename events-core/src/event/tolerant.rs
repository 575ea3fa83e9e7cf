//! The tolerant parse: serde's visitors over the whole object, which read every
//! well-formed line to its end and word the first semantic error in it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{hyphenated_uuid, not_a_uuid_string, CustomerIdType, EventError, Key, RawEvent};

impl<'de> Deserialize<'de> for RawEvent<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEventSeed
            .deserialize(deserializer)?
            .map_err(de::Error::custom)
    }
}

/// Deserializes a [`RawEvent`], keeping semantic errors apart from syntax errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawEventSeed;

impl<'de> DeserializeSeed<'de> for RawEventSeed {
    type Value = Result<RawEvent<'de>, EventError>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(RawEventVisitor)
    }
}

struct RawEventVisitor;

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
        fn required<T>(value: Option<T>, key: Key) -> Result<T, EventError> {
            value.ok_or(EventError::MissingField {
                field: key.wire_name(),
                state: None,
            })
        }
        Ok(RawEvent {
            action_id: required(self.action_id, Key::ActionId)?,
            state: required(self.state, Key::ActionState)?,
            media_type: required(self.media_type, Key::ActionMediaType)?,
            action_map_id: required(self.action_map_id, Key::ActionMapId)?,
            action_map_version: required(self.action_map_version, Key::ActionMapVersion)?,
            customer_id: required(self.customer_id, Key::CustomerId)?,
            customer_id_type: required(self.customer_id_type, Key::CustomerIdType)?,
            session_id: required(self.session_id, Key::SessionId)?,
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
