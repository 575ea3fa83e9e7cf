//! A JSON number as serde_json's parser hands it to a visitor without its
//! `arbitrary_precision` feature, for declared fields.
//!
//! The workspace turns `arbitrary_precision` on so that numbers in unknown fields keep their
//! text. That also changes how a `Value` number reaches a declared field's type: a
//! primitive parses the text (`-0` becomes an `i64` 0, `1e400` an infinite `f64`) and a
//! failure reads "invalid number". Reading the number as the parser did before keeps what a
//! declared field accepts, and the wording of its errors, as they were.

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde_json::Number;

/// One number, as the parser classifies it: an integer that fits `u64` (or `i64` when
/// negative, `-0` excepted), else an `f64`.
#[derive(Clone, Copy)]
pub(super) enum ParsedNumber {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl ParsedNumber {
    /// `None` for a number no `f64` holds, which the parser refuses as out of range.
    pub(super) fn new(number: &Number) -> Option<ParsedNumber> {
        let text = number.as_str();
        if !text.contains(['.', 'e', 'E']) {
            if !text.starts_with('-') {
                if let Ok(n) = text.parse() {
                    return Some(ParsedNumber::Unsigned(n));
                }
            } else if text != "-0" {
                if let Ok(n) = text.parse() {
                    return Some(ParsedNumber::Signed(n));
                }
            }
        }
        let float: f64 = text.parse().ok()?;
        float.is_finite().then_some(ParsedNumber::Float(float))
    }

    fn unexpected(self) -> Unexpected<'static> {
        match self {
            ParsedNumber::Unsigned(n) => Unexpected::Unsigned(n),
            ParsedNumber::Signed(n) => Unexpected::Signed(n),
            ParsedNumber::Float(n) => Unexpected::Float(n),
        }
    }
}

/// Every method as `serde_json::Value`'s deserializer treats a number without
/// `arbitrary_precision`.
impl<'de> Deserializer<'de> for ParsedNumber {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            ParsedNumber::Unsigned(n) => visitor.visit_u64(n),
            ParsedNumber::Signed(n) => visitor.visit_i64(n),
            ParsedNumber::Float(n) => visitor.visit_f64(n),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        Err(de::Error::invalid_type(self.unexpected(), &"string or map"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}
