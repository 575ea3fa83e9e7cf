//! The fast parse: a hand-written scanner for the shape every SDK sends, in front of the
//! tolerant parse.

use std::borrow::Cow;

use serde_json::{Map, Value};
use uuid::Uuid;

use super::{CustomerIdType, Key, RawEvent};

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
pub(super) fn fast_parse(bytes: &[u8]) -> Option<RawEvent<'_>> {
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

/// For each length of key, the positions in [`Key::ALL`] of the keys that long (`NONE`
/// for none): the length picks at most two candidates, as a `match` on the bytes would.
const BY_LENGTH: [[u8; 2]; BY_LENGTH_LEN] = by_length();
const NONE: u8 = u8::MAX;
const BY_LENGTH_LEN: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < Key::ALL.len() {
        if Key::ALL[i].1.len() > longest {
            longest = Key::ALL[i].1.len();
        }
        i += 1;
    }
    longest + 1
};

const fn by_length() -> [[u8; 2]; BY_LENGTH_LEN] {
    let mut table = [[NONE; 2]; BY_LENGTH_LEN];
    let mut i = 0;
    while i < Key::ALL.len() {
        let slots = &mut table[Key::ALL[i].1.len()];
        let slot = if slots[0] == NONE { 0 } else { 1 };
        assert!(
            slots[slot] == NONE,
            "more than two documented keys of one length"
        );
        slots[slot] = i as u8;
        i += 1;
    }
    table
}

impl Key {
    pub(super) fn from_wire_bytes(name: &[u8]) -> Option<Key> {
        for &at in BY_LENGTH.get(name.len())? {
            let &(key, wire_name) = Key::ALL.get(usize::from(at))?;
            if wire_name.as_bytes() == name {
                return Some(key);
            }
        }
        None
    }
}
