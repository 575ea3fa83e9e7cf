//! A request body, decoded: which content types are taken, and where each event is in
//! a body of newline-delimited events, a JSON array of events, or one event.

use std::ops::Range;

use serde_json::value::RawValue;

/// The content types `POST /v1/events` takes: `text/plain` is what `navigator.sendBeacon`
/// sends with a string body, and needs no CORS preflight.
pub const CONTENT_TYPES: [&str; 3] = ["application/x-ndjson", "application/json", "text/plain"];

/// Whether a `Content-Type` header names one of [`CONTENT_TYPES`] (parameters such as
/// `charset=UTF-8` allowed, case ignored).
pub(crate) fn content_type_taken(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    CONTENT_TYPES
        .iter()
        .any(|taken| essence.eq_ignore_ascii_case(taken))
}

/// Why a body holds no events to ingest: answered `400` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// Nothing but whitespace.
    #[error("the body is empty: expected newline-delimited events, a JSON array of events, or one event")]
    Empty,
    /// Bytes that are not UTF-8.
    #[error("the body is not UTF-8: invalid byte at offset {offset}")]
    NotUtf8 {
        /// Where the first invalid sequence starts.
        offset: usize,
    },
    /// Text that cannot be JSON.
    #[error("the body is not JSON at the top level: it starts with {found:?}; expected newline-delimited events, a JSON array of events, or one event")]
    NotJson {
        /// The first character that is not whitespace.
        found: char,
    },
    /// A body starting with `[` that is not a JSON array.
    #[error("the body is not a JSON array of events: {message}")]
    NotAnArray {
        /// What the parser said, with the line and column.
        message: String,
    },
}

/// The UTF-8 byte order mark, skipped at the start of a body as at the start of a file.
const BOM: &str = "\u{FEFF}";

/// The byte ranges of the events in `body`, in order: the elements of a JSON array, the
/// whole of a body holding one JSON object, or else its lines (blank lines skipped, each
/// line's `\r` kept for ingest to read as whitespace).
pub fn events(body: &[u8]) -> Result<Vec<Range<usize>>, BodyError> {
    let text = std::str::from_utf8(body).map_err(|error| BodyError::NotUtf8 {
        offset: error.valid_up_to(),
    })?;
    let start = if text.starts_with(BOM) { BOM.len() } else { 0 };
    let trimmed = text[start..].trim_start();
    let Some(first) = trimmed.chars().next() else {
        return Err(BodyError::Empty);
    };
    match first {
        '[' => {
            let elements: Vec<&RawValue> =
                serde_json::from_str(&text[start..]).map_err(|error| BodyError::NotAnArray {
                    message: error.to_string(),
                })?;
            Ok(elements
                .iter()
                .map(|element| span_of(text, element.get()))
                .collect())
        }
        '{' => match serde_json::from_str::<&RawValue>(&text[start..]) {
            Ok(one) => Ok(vec![span_of(text, one.get())]),
            // More than one object: newline-delimited.
            Err(_) => Ok(lines(text, start)),
        },
        found => Err(BodyError::NotJson { found }),
    }
}

/// Where `part`, a slice of `whole`, lies in it.
fn span_of(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr() as usize - whole.as_ptr() as usize;
    start..start + part.len()
}

// The line ends are found with `memchr`, which reads many bytes at a time: what a body
// of many events spends here is then small beside decoding them.
fn lines(text: &str, start: usize) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let ends = memchr::memchr_iter(b'\n', &bytes[start..])
        .map(|end| start + end)
        .chain(std::iter::once(bytes.len()));
    let mut spans = Vec::new();
    let mut at = start;
    for end in ends {
        if !bytes[at..end]
            .iter()
            .all(|b| matches!(b, b' ' | b'\t' | b'\r'))
        {
            spans.push(at..end);
        }
        at = end + 1;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(body: &str) -> Vec<&str> {
        events(body.as_bytes())
            .unwrap()
            .into_iter()
            .map(|span| &body[span])
            .collect()
    }

    #[test]
    fn newline_delimited_events_are_split_on_lines_skipping_blank_ones() {
        assert_eq!(
            texts("{\"a\":1}\r\n\n  \n{\"b\":2}"),
            ["{\"a\":1}\r", "{\"b\":2}"]
        );
    }

    #[test]
    fn an_array_gives_its_elements_and_one_object_itself_even_across_lines() {
        assert_eq!(
            texts(" [ {\"a\":1},\n {\"b\":\n2} ] "),
            ["{\"a\":1}", "{\"b\":\n2}"]
        );
        assert_eq!(texts("\u{FEFF}{\n\"a\": 1\n}\n"), ["{\n\"a\": 1\n}"]);
    }

    #[test]
    fn a_line_that_is_not_an_object_is_an_event_for_ingest_to_reject() {
        assert_eq!(texts("{\"a\":1}\nnot json"), ["{\"a\":1}", "not json"]);
    }

    #[test]
    fn undecodable_bodies_say_which_decode_failed() {
        assert_eq!(events(b"  \n"), Err(BodyError::Empty));
        assert_eq!(
            events(b"{\"a\":\"\xff\"}"),
            Err(BodyError::NotUtf8 { offset: 6 })
        );
        assert_eq!(events(b"hello"), Err(BodyError::NotJson { found: 'h' }));
        assert!(matches!(
            events(b"[{}, oops]"),
            Err(BodyError::NotAnArray { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn lines_are_the_non_blank_pieces_between_line_ends(
            text in "[a \t\r\n]{0,40}",
            start in 0usize..4,
        ) {
            let start = start.min(text.len());
            let expected: Vec<&str> = text[start..]
                .split('\n')
                .filter(|line| !line.trim_matches([' ', '\t', '\r']).is_empty())
                .collect();
            let found: Vec<&str> = lines(&text, start).into_iter().map(|span| &text[span]).collect();
            proptest::prop_assert_eq!(found, expected);
        }
    }

    #[test]
    fn content_types_ignore_parameters_and_case() {
        assert!(content_type_taken("text/plain;charset=UTF-8"));
        assert!(content_type_taken("Application/X-NDJSON"));
        assert!(!content_type_taken("application/xml"));
    }
}
