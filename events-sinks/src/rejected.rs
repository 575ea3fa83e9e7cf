//! The dead letter of rejected input: one JSON object per line that ingest rejected,
//! `{"line": N, "kind": "...", "error": "...", "raw": "<the line exactly as read>"}`
//! (`webaction check`), or, for an event of an HTTP request,
//! `{"request": "<request id>", "index": I, "kind": ..., "error": ..., "raw": ...}`
//! (`webaction serve`), or, for a message of a JetStream stream,
//! `{"subject": "<subject>", "sequence": N, "kind": ..., "error": ..., "raw": ...}`
//! (`webaction consume`).
//!
//! `raw` holds the line byte for byte when it is UTF-8. JSON strings cannot hold other
//! bytes: for such a line `raw` holds it with each invalid sequence replaced by U+FFFD, and
//! `raw_base64` holds the exact bytes. A line over the length limit is streamed, never
//! held whole in memory, and gets a `len` field (its length in bytes); it follows the same
//! rule, so its exact bytes are kept too.

use std::fs::File;
use std::io::{self, Seek, Write};

use base64::Engine as _;

/// Writes dead-letter records of rejected input (where [`DeadLetter`](crate::DeadLetter)
/// keeps events a sink could not deliver).
#[derive(Debug)]
pub struct RejectedLines<W: Write> {
    out: W,
    /// Bytes of an incomplete UTF-8 sequence at the end of the last chunk.
    carry: Vec<u8>,
    /// Whether the raw text written so far lost bytes to U+FFFD.
    lossy: bool,
    /// A streamed line's bytes, kept in a temporary file: whether the line is UTF-8 is
    /// known only at its end, and by then its start is written and gone from memory.
    spill: Option<File>,
}

impl<W: Write> RejectedLines<W> {
    /// Records go to `out` (buffer it: records are written in small pieces).
    pub fn new(out: W) -> Self {
        RejectedLines {
            out,
            carry: Vec::new(),
            lossy: false,
            spill: None,
        }
    }

    /// Writes the record of a line read whole.
    pub fn write(&mut self, line: u64, kind: &str, error: &str, raw: &[u8]) -> io::Result<()> {
        self.write_at(At::Line(line), kind, error, raw)
    }

    /// Writes the record of the event at `index` (0-based) of the request `request`.
    pub fn write_in_request(
        &mut self,
        request: &str,
        index: usize,
        kind: &str,
        error: &str,
        raw: &[u8],
    ) -> io::Result<()> {
        self.write_at(At::Request { request, index }, kind, error, raw)
    }

    /// Writes the record of the message at stream sequence `sequence` on `subject`.
    pub fn write_in_stream(
        &mut self,
        subject: &str,
        sequence: u64,
        kind: &str,
        error: &str,
        raw: &[u8],
    ) -> io::Result<()> {
        self.write_at(At::Stream { subject, sequence }, kind, error, raw)
    }

    fn write_at(&mut self, at: At<'_>, kind: &str, error: &str, raw: &[u8]) -> io::Result<()> {
        self.begin(at, kind, error)?;
        self.raw_chunk(raw)?;
        self.finish_raw()?;
        if self.lossy {
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw);
            write!(self.out, r#","raw_base64":"{encoded}""#)?;
        }
        self.out.write_all(b"}\n")
    }

    /// Starts a record whose raw text follows in chunks ([`raw_chunk`](Self::raw_chunk)),
    /// for a line too long to hold; end it with [`end_streamed`](Self::end_streamed). The
    /// chunks are also kept in a temporary file, for `raw_base64` should they not be UTF-8.
    pub fn begin_streamed(&mut self, line: u64, kind: &str, error: &str) -> io::Result<()> {
        self.begin(At::Line(line), kind, error)?;
        self.spill = Some(tempfile::tempfile()?);
        Ok(())
    }

    fn begin(&mut self, at: At<'_>, kind: &str, error: &str) -> io::Result<()> {
        self.carry.clear();
        self.lossy = false;
        self.spill = None;
        match at {
            At::Line(line) => write!(self.out, r#"{{"line":{line},"kind":"#)?,
            At::Request { request, index } => {
                self.out.write_all(br#"{"request":"#)?;
                serde_json::to_writer(&mut self.out, request)?;
                write!(self.out, r#","index":{index},"kind":"#)?;
            }
            At::Stream { subject, sequence } => {
                self.out.write_all(br#"{"subject":"#)?;
                serde_json::to_writer(&mut self.out, subject)?;
                write!(self.out, r#","sequence":{sequence},"kind":"#)?;
            }
        }
        serde_json::to_writer(&mut self.out, kind)?;
        self.out.write_all(br#","error":"#)?;
        serde_json::to_writer(&mut self.out, error)?;
        self.out.write_all(br#","raw":""#)
    }

    /// Appends raw bytes to the record's `raw` string, escaped.
    pub fn raw_chunk(&mut self, chunk: &[u8]) -> io::Result<()> {
        if let Some(spill) = &mut self.spill {
            spill.write_all(chunk)?;
        }
        let joined;
        let mut bytes = chunk;
        if !self.carry.is_empty() {
            let mut carried = std::mem::take(&mut self.carry);
            carried.extend_from_slice(chunk);
            joined = carried;
            bytes = &joined;
        }
        loop {
            match std::str::from_utf8(bytes) {
                Ok(text) => return escape(&mut self.out, text),
                Err(error) => {
                    let (valid, rest) = bytes.split_at(error.valid_up_to());
                    // Checked by `from_utf8` just above.
                    escape(
                        &mut self.out,
                        std::str::from_utf8(valid).unwrap_or_default(),
                    )?;
                    match error.error_len() {
                        Some(len) => {
                            self.lossy = true;
                            self.out.write_all("\u{FFFD}".as_bytes())?;
                            bytes = &rest[len..];
                        }
                        None => {
                            // A sequence cut by the chunk boundary: finish it next time.
                            self.carry = rest.to_vec();
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    fn finish_raw(&mut self) -> io::Result<()> {
        if !self.carry.is_empty() {
            self.carry.clear();
            self.lossy = true;
            self.out.write_all("\u{FFFD}".as_bytes())?;
        }
        self.out.write_all(b"\"")
    }

    /// Ends a streamed record, with the line's full length.
    pub fn end_streamed(&mut self, len: u64) -> io::Result<()> {
        self.finish_raw()?;
        if let Some(mut spill) = self.spill.take() {
            if self.lossy {
                spill.rewind()?;
                self.out.write_all(br#","raw_base64":""#)?;
                let mut encoder = base64::write::EncoderWriter::new(
                    &mut self.out,
                    &base64::engine::general_purpose::STANDARD,
                );
                io::copy(&mut spill, &mut encoder)?;
                encoder.finish()?.write_all(b"\"")?;
            }
        }
        write!(self.out, r#","len":{len}}}"#)?;
        self.out.write_all(b"\n")
    }

    /// Flushes the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The output, to write to between records (to take what a `Vec` collected, say).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The output.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Where a rejected event was read: the first fields of its record.
#[derive(Debug, Clone, Copy)]
enum At<'a> {
    Line(u64),
    Request { request: &'a str, index: usize },
    Stream { subject: &'a str, sequence: u64 },
}

/// Writes `text` as the inside of a JSON string.
fn escape(out: &mut impl Write, text: &str) -> io::Result<()> {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.write_all(&bytes[start..i])?;
                write!(out, "\\u{b:04x}")?;
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.write_all(&bytes[start..i])?;
        out.write_all(escaped)?;
        start = i + 1;
    }
    out.write_all(&bytes[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn record(raw: &[u8]) -> Value {
        let mut letter = RejectedLines::new(Vec::new());
        letter
            .write(7, "malformed_json", "oops \"quoted\"", raw)
            .unwrap();
        let out = letter.into_inner();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn raw_text_survives_escaping_byte_for_byte() {
        let raw = "{\"a\":\"tab\\t\"}\t\u{1}\\ \u{2028} é \r".as_bytes();
        let value = record(raw);
        assert_eq!(value["raw"].as_str().unwrap().as_bytes(), raw);
        assert_eq!(value["line"], 7);
        assert!(value.get("raw_base64").is_none());
    }

    #[test]
    fn an_event_of_a_request_is_named_by_the_request_and_its_index() {
        let mut letter = RejectedLines::new(Vec::new());
        letter
            .write_in_request("r-\"1", 4, "missing_field", "no actionId", b"{}")
            .unwrap();
        let value: Value = serde_json::from_slice(&letter.into_inner()).unwrap();
        assert_eq!(value["request"], "r-\"1");
        assert_eq!(value["index"], 4);
        assert_eq!(value["raw"], "{}");
        assert!(value.get("line").is_none());
    }

    #[test]
    fn invalid_utf8_is_kept_exactly_in_base64() {
        let raw = b"{\"x\":\"\xff\xfe\"} \xe2\x82";
        let value = record(raw);
        assert_eq!(value["raw"], "{\"x\":\"\u{FFFD}\u{FFFD}\"} \u{FFFD}");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value["raw_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, raw);
    }

    #[test]
    fn a_streamed_line_that_is_not_utf8_is_kept_exactly_in_base64() {
        let mut letter = RejectedLines::new(Vec::new());
        letter.begin_streamed(3, "too_large", "too long").unwrap();
        let raw: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 256) as u8).collect();
        for chunk in raw.chunks(333) {
            letter.raw_chunk(chunk).unwrap();
        }
        letter.end_streamed(raw.len() as u64).unwrap();
        let value: Value = serde_json::from_slice(&letter.into_inner()).unwrap();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value["raw_base64"].as_str().unwrap())
            .unwrap();
        assert_eq!(decoded, raw);
        assert_eq!(value["len"], 5000);
    }

    #[test]
    fn streamed_chunks_join_multibyte_characters_cut_at_a_boundary() {
        let mut letter = RejectedLines::new(Vec::new());
        letter.begin_streamed(1, "too_large", "too long").unwrap();
        let text = "aé€😀z".as_bytes();
        for chunk in text.chunks(1) {
            letter.raw_chunk(chunk).unwrap();
        }
        letter.end_streamed(text.len() as u64).unwrap();
        let value: Value = serde_json::from_slice(&letter.into_inner()).unwrap();
        assert_eq!(value["raw"], "aé€😀z");
        assert_eq!(value["len"], text.len());
        assert!(value.get("raw_base64").is_none());
    }
}
