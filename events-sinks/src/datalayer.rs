use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use events_core::AnyEvent;

use crate::lock;
use crate::ndjson::{write_event, Hold, Out};
use crate::stats::Counters;
use crate::{FileOptions, Output, Receipt, Sink, SinkError, SinkStats};

/// How a [`DataLayerSink`] lays its objects out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataLayerFormat {
    /// One object per line.
    #[default]
    Ndjson,
    /// One JSON array, closed by [`close`](Sink::close): what a page can assign to
    /// `window.dataLayer` or replay with `dataLayer.push(...array)`.
    Array,
}

impl DataLayerFormat {
    /// The format a file name suggests: `Array` for `.json`, `Ndjson` otherwise.
    pub fn for_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => DataLayerFormat::Array,
            _ => DataLayerFormat::Ndjson,
        }
    }
}

/// Writes each event as a tag manager's data-layer object: `event` names what happened,
/// `"<mediaType>_<state>"` (e.g. `webchat_offered`), followed by every field of the event.
///
/// `event` is the data layer's own key. An event field whose name could collide with it
/// is escaped with one more leading underscore ([`datalayer_field_name`]): `event` is
/// written `_event`, `_event` is written `__event`, and so on for every name matching
/// `^_*event$`; every other name is written as is. The mapping is injective, so no field
/// is ever dropped or overwritten, and [`original_field_name`] reverses it. (Nesting the
/// event under a key of its own would also avoid collisions, but tag-manager triggers
/// and variables read top-level keys, and the common case, no such field, would then
/// pay for the rare one.)
pub struct DataLayerSink {
    out: Mutex<Out>,
    format: DataLayerFormat,
    counters: Counters,
}

impl DataLayerSink {
    /// A data layer written to standard output or a file created at the path.
    pub fn open(output: &Output, format: DataLayerFormat) -> Result<Self, SinkError> {
        DataLayerSink::open_with(output, format, FileOptions::default())
    }

    /// A data layer written to standard output or a file opened as `options` say. A
    /// JSON array cannot be appended to: [`DataLayerFormat::Array`] with
    /// [`FileOptions::append`] is a [`SinkError::Config`].
    pub fn open_with(
        output: &Output,
        format: DataLayerFormat,
        options: FileOptions,
    ) -> Result<Self, SinkError> {
        if options.append && format == DataLayerFormat::Array {
            return Err(SinkError::Config(
                "a data layer written as one JSON array cannot be appended to; \
                 use the NDJSON layout (a path not ending in `.json`)"
                    .to_owned(),
            ));
        }
        Ok(DataLayerSink::with(
            Out::open_with(output, options)?,
            format,
        ))
    }

    /// A data layer written to any writer.
    pub fn to_writer(writer: impl Write + Send + 'static, format: DataLayerFormat) -> Self {
        DataLayerSink::with(Out::new(Box::new(writer), "writer".to_owned()), format)
    }

    fn with(out: Out, format: DataLayerFormat) -> Self {
        DataLayerSink {
            out: Mutex::new(out),
            format,
            counters: Counters::default(),
        }
    }

    /// The object for one event, as JSON text appended to `out`.
    pub fn write_object(out: &mut Vec<u8>, event: &AnyEvent) -> Result<(), SinkError> {
        out.extend_from_slice(b"{\"event\":\"");
        // Wire names are identifiers declared in Rust source: no quote or backslash.
        out.extend_from_slice(event.media_type_name().as_bytes());
        out.push(b'_');
        out.extend_from_slice(event.state_name().as_bytes());
        out.extend_from_slice(b"\",");
        if event.extra().keys().any(|name| escaped(name)) {
            let fields: serde_json::Map<String, serde_json::Value> = match event.to_json() {
                serde_json::Value::Object(fields) => fields
                    .into_iter()
                    .map(|(name, value)| (datalayer_field_name(&name).into_owned(), value))
                    .collect(),
                _ => unreachable!("an event serializes to an object"),
            };
            let start = out.len();
            serde_json::to_writer(&mut *out, &fields).expect("a JSON value serializes");
            out.remove(start);
        } else {
            let start = out.len();
            write_event(out, event)?;
            // Splice: drop the event's own opening brace, keep its fields and closing one.
            out.remove(start);
        }
        Ok(())
    }
}

/// Whether an event field named `name` needs escaping: `^_*event$`.
fn escaped(name: &str) -> bool {
    name.trim_start_matches('_') == "event"
}

/// The name an event field gets in a data-layer object: one more leading underscore for
/// a name matching `^_*event$` (`event` → `_event`, `_event` → `__event`), so that it
/// never collides with the data layer's own `event` key nor with another field; any
/// other name unchanged. [`original_field_name`] is its inverse.
///
/// ```
/// use events_sinks::{datalayer_field_name, original_field_name};
///
/// assert_eq!(datalayer_field_name("event"), "_event");
/// assert_eq!(datalayer_field_name("_event"), "__event");
/// assert_eq!(datalayer_field_name("pageUrl"), "pageUrl");
/// assert_eq!(original_field_name("__event").as_deref(), Some("_event"));
/// assert_eq!(original_field_name("event"), None);
/// ```
pub fn datalayer_field_name(name: &str) -> Cow<'_, str> {
    if escaped(name) {
        Cow::Owned(format!("_{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// The event field a data-layer object's key `name` holds: the inverse of
/// [`datalayer_field_name`]. `None` for `event` itself, the data layer's own key (the
/// `"<mediaType>_<state>"` name), which holds no field of the event.
pub fn original_field_name(name: &str) -> Option<Cow<'_, str>> {
    match name.strip_prefix('_') {
        _ if name == "event" => None,
        Some(rest) if escaped(rest) => Some(Cow::Borrowed(rest)),
        _ => Some(Cow::Borrowed(name)),
    }
}

impl DataLayerSink {
    fn take(&self, event: &AnyEvent, receipt: Option<&Receipt>) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        let first = out.taken() == 0;
        out.line.clear();
        if self.format == DataLayerFormat::Array {
            out.line
                .extend_from_slice(if first { b"[\n" } else { b",\n" });
        }
        DataLayerSink::write_object(&mut out.line, event)?;
        if self.format == DataLayerFormat::Ndjson {
            out.line.push(b'\n');
        }
        let hold = match receipt {
            Some(_) => Hold::UntilCommit,
            None => Hold::Buffered,
        };
        out.write_line(hold, &self.counters)?;
        if let Some(receipt) = receipt {
            out.unconfirmed.push(receipt);
        }
        Ok(())
    }
}

impl Sink for DataLayerSink {
    fn send(&self, event: &AnyEvent) -> Result<(), SinkError> {
        self.take(event, None)
    }

    fn send_confirmed(&self, event: &AnyEvent, receipt: &Receipt) -> Result<(), SinkError> {
        self.take(event, Some(receipt))
    }

    fn flush(&self, _deadline: Instant) -> Result<(), SinkError> {
        lock(&self.out).flush(&self.counters)
    }

    fn commit(&self) -> Result<(), SinkError> {
        lock(&self.out).flush(&self.counters)
    }

    fn close(&self, _deadline: Instant) -> Result<SinkStats, SinkError> {
        let mut out = lock(&self.out);
        if out.closed {
            return Ok(self.stats());
        }
        out.closed = true;
        if self.format == DataLayerFormat::Array {
            let empty = out.taken() == 0;
            out.write_raw(if empty { b"[]\n" } else { b"\n]\n" });
        }
        out.flush(&self.counters)?;
        Ok(self.stats())
    }

    fn stats(&self) -> SinkStats {
        self.counters.snapshot()
    }
}

impl fmt::Debug for DataLayerSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataLayerSink")
            .field("target", &lock(&self.out).target)
            .field("format", &self.format)
            .field("stats", &self.stats())
            .finish()
    }
}
