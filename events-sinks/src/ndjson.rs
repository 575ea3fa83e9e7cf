use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;

use events_core::AnyEvent;

use crate::dead_letter::lock;
use crate::stats::Counters;
use crate::{idempotency_key, Output, Sink, SinkError, SinkStats};

/// Writes each event as one line of JSON, exactly as it came in plus any enrichment:
/// unknown fields included, in their order.
///
/// Writes go through a buffer; [`flush`](Sink::flush) and [`close`](Sink::close) push it
/// out, and report a failure to do so.
pub struct NdjsonSink {
    out: Mutex<Out>,
    counters: Counters,
}

impl NdjsonSink {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        Ok(NdjsonSink::with(Out::create(path.as_ref())?))
    }

    /// Standard output.
    pub fn stdout() -> Self {
        NdjsonSink::with(Out::new(Box::new(std::io::stdout()), "stdout".to_owned()))
    }

    /// Any writer, e.g. a socket or a `Vec<u8>`.
    pub fn to_writer(writer: impl Write + Send + 'static) -> Self {
        NdjsonSink::with(Out::new(Box::new(writer), "writer".to_owned()))
    }

    /// Standard output or a file created at the path.
    pub fn open(output: &Output) -> Result<Self, SinkError> {
        match output {
            Output::Stdout => Ok(NdjsonSink::stdout()),
            Output::File(path) => NdjsonSink::create(path),
        }
    }

    fn with(out: Out) -> Self {
        NdjsonSink {
            out: Mutex::new(out),
            counters: Counters::default(),
        }
    }
}

impl Sink for NdjsonSink {
    fn send(&self, event: &AnyEvent) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        out.line.clear();
        write_event(&mut out.line, event)?;
        out.line.push(b'\n');
        out.write_line()?;
        Counters::add(&self.counters.delivered, 1);
        Ok(())
    }

    fn flush(&self, _deadline: Instant) -> Result<(), SinkError> {
        lock(&self.out).flush()
    }

    fn close(&self, _deadline: Instant) -> Result<SinkStats, SinkError> {
        let mut out = lock(&self.out);
        out.closed = true;
        out.flush()?;
        drop(out);
        Ok(self.stats())
    }

    fn stats(&self) -> SinkStats {
        self.counters.snapshot()
    }
}

impl fmt::Debug for NdjsonSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NdjsonSink")
            .field("target", &lock(&self.out).target)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Appends the event's JSON to `out`, naming the event in the error.
pub(crate) fn write_event(out: &mut Vec<u8>, event: &AnyEvent) -> Result<(), SinkError> {
    event.write_json(out).map_err(|source| SinkError::Json {
        key: idempotency_key(event),
        source,
    })
}

/// A buffered writer that names its target in errors and refuses writes once closed.
pub(crate) struct Out {
    writer: BufWriter<Box<dyn Write + Send>>,
    pub(crate) line: Vec<u8>,
    pub(crate) target: String,
    pub(crate) closed: bool,
}

impl Out {
    pub(crate) fn new(writer: Box<dyn Write + Send>, target: String) -> Self {
        Out {
            writer: BufWriter::with_capacity(64 * 1024, writer),
            line: Vec::with_capacity(1024),
            target,
            closed: false,
        }
    }

    pub(crate) fn create(path: &Path) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|source| SinkError::Io {
            target: path.display().to_string(),
            source,
        })?;
        Ok(Out::new(Box::new(file), path.display().to_string()))
    }

    pub(crate) fn open(output: &Output) -> Result<Self, SinkError> {
        match output {
            Output::Stdout => Ok(Out::new(Box::new(std::io::stdout()), "stdout".to_owned())),
            Output::File(path) => Out::create(path),
        }
    }

    /// Writes `self.line`.
    pub(crate) fn write_line(&mut self) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        let Out {
            writer,
            line,
            target,
            ..
        } = self;
        writer.write_all(line).map_err(|source| SinkError::Io {
            target: target.clone(),
            source,
        })
    }

    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.writer
            .write_all(bytes)
            .map_err(|source| SinkError::Io {
                target: self.target.clone(),
                source,
            })
    }

    pub(crate) fn flush(&mut self) -> Result<(), SinkError> {
        self.writer.flush().map_err(|source| SinkError::Io {
            target: self.target.clone(),
            source,
        })
    }
}
