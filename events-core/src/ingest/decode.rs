//! Bytes to a typed event, through the registry: the first stage of ingest.

use crate::any::AnyEvent;
use crate::event::RawEvent;
use crate::ingest::error::IngestError;
use crate::registry::Registry;

/// The default longest line [`Decoder`] reads: 1 MiB. Web-action events are a few hundred
/// bytes; a line this long is a broken producer, not an event.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// Reads one JSON event into the typed event of its media type, looked up in a
/// [`Registry`] by `actionMediaType`.
///
/// The documented fields are read in one pass without building a `serde_json::Value`
/// (see [`RawEvent::from_slice`]); only fields the event does not document or declare are
/// kept as JSON.
///
/// ```
/// use events_core::{ingest::Decoder, Registry, WebChatEvent};
/// let decoder = Decoder::new(Registry::builtin());
/// let line = br#"{"actionId":"6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d","actionState":"offered",
///  "actionMediaType":"webchat","actionMapId":"0b9e8f7a-6d5c-4b3a-8f2e-1d0c9b8a7f6e",
///  "actionMapVersion":3,"customerId":"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d",
///  "customerIdType":"cookie","sessionId":"1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}"#;
/// let decoded = decoder.decode(line).unwrap();
/// assert_eq!(decoded.event.topic().to_string(), "webchat:offered");
/// assert!(decoded.event.downcast_ref::<WebChatEvent>().is_some());
///
/// let error = decoder.decode(br#"{"actionMediaType":"webchta"}"#).unwrap_err();
/// assert_eq!(error.kind().as_str(), "missing_field");
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    registry: Registry,
    max_line_bytes: usize,
}

/// A decoded event and the position of its media type in the decoder's registry.
#[derive(Debug)]
pub struct Decoded {
    /// The position of the event's media type in [`Registry::iter`].
    pub media_index: usize,
    /// The typed event, behind the type-erased view.
    pub event: Box<AnyEvent>,
}

impl Decoder {
    /// A decoder for the media types in `registry`, with the default line limit.
    pub fn new(registry: Registry) -> Self {
        Decoder {
            registry,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }

    /// Sets the longest line accepted, in bytes; longer lines are `too_large`.
    pub fn with_max_line_bytes(mut self, max_line_bytes: usize) -> Self {
        self.max_line_bytes = max_line_bytes;
        self
    }

    /// The longest line accepted, in bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// The media types this decoder knows.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Reads one event. Leading and trailing JSON whitespace (including a `\r` before the
    /// line end) is allowed; anything else around the object is `malformed_json`. The
    /// `\r` of a CRLF line end does not count against the line limit.
    pub fn decode(&self, line: &[u8]) -> Result<Decoded, IngestError> {
        let content = line.strip_suffix(b"\r").unwrap_or(line);
        if content.len() > self.max_line_bytes {
            return Err(IngestError::TooLarge {
                len: line.len(),
                max: self.max_line_bytes,
            });
        }
        self.decode_unchecked(line)
            .map_err(|error| utf8_error(line).unwrap_or(error))
    }

    /// The registered media type a line names in `actionMediaType`, when the line is a
    /// JSON object with that field and the name is registered; else `None`. What a line
    /// that failed to [`decode`](Self::decode) is still counted under (a metric labelled
    /// by media type stays bounded to the registered ones). It parses the line again, so
    /// it is for the failed lines only.
    ///
    /// ```
    /// use events_core::{ingest::Decoder, Registry};
    /// let decoder = Decoder::new(Registry::builtin());
    /// let line = br#"{"actionMediaType":"webchat","actionId":"not a uuid"}"#;
    /// assert!(decoder.decode(line).is_err());
    /// assert_eq!(decoder.media_type_of(line), Some("webchat"));
    /// assert_eq!(decoder.media_type_of(br#"{"actionMediaType":"fax"}"#), None);
    /// assert_eq!(decoder.media_type_of(b"{not json"), None);
    /// ```
    pub fn media_type_of(&self, line: &[u8]) -> Option<&'static str> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(line).ok()?;
        let named = object.get("actionMediaType")?.as_str()?;
        self.registry
            .iter()
            .map(|entry| entry.description.wire_name)
            .find(|wire_name| *wire_name == named)
    }

    fn decode_unchecked(&self, line: &[u8]) -> Result<Decoded, IngestError> {
        let raw = match RawEvent::from_slice(line) {
            Ok(Ok(raw)) => raw,
            Ok(Err(error)) => return Err(error.into()),
            Err(error) => return Err(IngestError::malformed(&error)),
        };
        let Some((media_index, entry)) = self
            .registry
            .iter()
            .enumerate()
            .find(|(_, entry)| entry.description.wire_name == raw.media_type)
        else {
            return Err(IngestError::UnknownMediaType {
                suggestion: self.registry.suggest(&raw.media_type),
                found: raw.media_type.into_owned(),
                registered: self
                    .registry
                    .iter()
                    .map(|entry| entry.description.wire_name)
                    .collect(),
            });
        };
        Ok(Decoded {
            media_index,
            event: entry.from_raw(raw)?,
        })
    }
}

/// The `malformed_json` error for a line that is not UTF-8, whatever else is wrong with it.
///
/// Only checked once decoding failed: a decoded event has had every string in it read, and
/// the parser refuses invalid UTF-8 in strings, so the valid path pays nothing. A failed
/// one may have skipped a nested value without reading its strings.
fn utf8_error(line: &[u8]) -> Option<IngestError> {
    let error = std::str::from_utf8(line).err()?;
    Some(IngestError::MalformedJson {
        message: format!("invalid UTF-8 at byte {}", error.valid_up_to()),
        column: Some(error.valid_up_to() + 1),
    })
}
