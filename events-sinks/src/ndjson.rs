use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use events_core::AnyEvent;

use crate::lock;
use crate::receipt::{Fate, Unconfirmed};
use crate::stats::Counters;
use crate::{idempotency_key, Output, Receipt, Sink, SinkError, SinkStats};

/// When a file sink asks the system to put its writes on disk (`fdatasync`), beyond
/// writing them out of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fsync {
    /// Never: a flush hands the bytes to the system, which survives the process being
    /// killed (`kill -9`), not the machine losing power.
    #[default]
    Never,
    /// At every flush and [`commit`](Sink::commit): what is confirmed survives a power
    /// loss too. A collector's group commit shares one sync among many requests.
    OnCommit,
}

/// How a file sink opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileOptions {
    /// Append to an existing file instead of truncating it: what a long-running
    /// collector needs, so that a restart keeps what was confirmed before it.
    pub append: bool,
    /// When to sync.
    pub fsync: Fsync,
}

/// Writes each event as one line of JSON, exactly as it came in plus any enrichment:
/// unknown fields included, in their order.
///
/// Writes go through a 64 KiB buffer; [`flush`](Sink::flush) and [`close`](Sink::close)
/// push it out, and report a failure to do so. Events sent with a receipt
/// ([`send_confirmed`](Sink::send_confirmed)) stay buffered past that, up to 16 MiB, until
/// the [`commit`](Sink::commit) that confirms them writes them: the sender only copies,
/// and the thread that commits, which waits for the disk anyway, writes. (While a commit
/// writes one buffer, senders fill another: at most twice that is held.) An event counts
/// as delivered once its whole line is written; when a write fails, the events the
/// buffer still held count as [`lost`](SinkStats::lost) and the error names the target.
pub struct NdjsonSink {
    out: Mutex<Out>,
    counters: Counters,
}

impl NdjsonSink {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self, SinkError> {
        NdjsonSink::create_with(path, FileOptions::default())
    }

    /// Opens the file at `path` as `options` say: truncated or appended to, synced or
    /// not.
    pub fn create_with(path: impl AsRef<Path>, options: FileOptions) -> Result<Self, SinkError> {
        Ok(NdjsonSink::with(Out::create_with(path.as_ref(), options)?))
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
        NdjsonSink::open_with(output, FileOptions::default())
    }

    /// Standard output or a file opened as `options` say.
    pub fn open_with(output: &Output, options: FileOptions) -> Result<Self, SinkError> {
        Ok(NdjsonSink::with(Out::open_with(output, options)?))
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
        out.write_line(Hold::Buffered, &self.counters)
    }

    fn send_confirmed(&self, event: &AnyEvent, receipt: &Receipt) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        out.line.clear();
        write_event(&mut out.line, event)?;
        out.line.push(b'\n');
        out.write_line(Hold::UntilCommit, &self.counters)?;
        out.unconfirmed.push(receipt);
        Ok(())
    }

    fn send_confirmed_json(
        &self,
        _event: &AnyEvent,
        json: &[u8],
        receipt: &Receipt,
    ) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        out.write_json_line(json, Hold::UntilCommit, &self.counters)?;
        out.unconfirmed.push(receipt);
        Ok(())
    }

    fn flush(&self, _deadline: Instant) -> Result<(), SinkError> {
        lock(&self.out).flush(&self.counters)
    }

    /// Takes the buffer under the sink's lock, then lets it go while it writes, flushes
    /// and has the system put the bytes on disk: senders fill the next buffer meanwhile
    /// (a collector's ingest thread goes on tracking during the write and the sync). The
    /// writer's own lock, taken before the sink's is let go, keeps the writes in the
    /// order their buffers were taken. The receipts of what was written are resolved
    /// once it is synced; a sync also covers whatever another commit wrote before it, so
    /// commits that overlap resolve nothing early.
    fn commit(&self) -> Result<(), SinkError> {
        let mut out = lock(&self.out);
        let mut taken = out.take_buffer();
        let writer = Arc::clone(&out.writer);
        let mut writer = lock(&writer);
        let sync = out.sync.clone();
        let target = out.target.clone();
        drop(out);
        let io = |source| SinkError::Io {
            target: target.clone(),
            source,
        };
        let written = write_counted(&mut **writer, &taken.bytes, &taken.ends, &self.counters)
            .and_then(|()| writer.flush())
            .map_err(io);
        drop(writer);
        let result = written.and_then(|()| match sync {
            Some(file) => file.sync_data().map_err(io),
            None => Ok(()),
        });
        taken.receipts.resolve(match result {
            Ok(()) => Fate::Delivered,
            Err(_) => Fate::Lost,
        });
        lock(&self.out).give_back(taken.bytes);
        result
    }

    fn close(&self, _deadline: Instant) -> Result<SinkStats, SinkError> {
        let mut out = lock(&self.out);
        out.closed = true;
        out.flush(&self.counters)?;
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

/// What a commit took from an [`Out`] to write with its lock let go.
struct Taken {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    receipts: Unconfirmed,
}

/// Writes all of `bytes` to `writer`, counting each event whose bytes (up to its end in
/// `ends`) all went out as delivered and, on a failure, every other one as lost.
fn write_counted(
    writer: &mut dyn Write,
    bytes: &[u8],
    ends: &[usize],
    counters: &Counters,
) -> std::io::Result<()> {
    let mut written = 0;
    let mut failure = None;
    while written < bytes.len() {
        match writer.write(&bytes[written..]) {
            Ok(0) => {
                failure = Some(std::io::Error::from(std::io::ErrorKind::WriteZero));
                break;
            }
            Ok(n) => written += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    let delivered = ends.partition_point(|&end| end <= written);
    Counters::add(&counters.delivered, delivered);
    Counters::add(&counters.lost, ends.len() - delivered);
    failure.map_or(Ok(()), Err)
}

/// A process killed mid-write (`kill -9`) can leave a last line without its `\n`: one
/// appended to then would glue the next event to that fragment and spoil both. The
/// fragment (never confirmed) gets its line end, and the events after it their own lines.
fn end_with_newline(mut file: &File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8];
    // The file is opened for reading too; appends go to the end wherever this seeks.
    file.seek(SeekFrom::Start(len - 1))?;
    match file.read_exact(&mut last) {
        Ok(()) if last[0] == b'\n' => Ok(()),
        Ok(()) => file.write_all(b"\n"),
        Err(error) => Err(error),
    }
}

/// How many bytes [`Out`] holds before writing them out.
const BUFFER: usize = 64 * 1024;

/// How many bytes of confirmed events [`Out`] holds before writing them out without
/// waiting for the commit: a bound on memory, not a buffer size. Confirmed events are
/// only confirmed by a commit, so writing them earlier gains nothing and costs their
/// sender the copy into the page cache — on a collector, its one ingest thread, while
/// the commit thread that waits for the disk anyway could do it.
const CONFIRMED_BUFFER: usize = 16 * 1024 * 1024;

/// Until when [`Out`] holds an event's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Until [`BUFFER`] is full: an event sent without a receipt.
    Buffered,
    /// Until the next commit, or [`CONFIRMED_BUFFER`]: an event sent with a receipt.
    UntilCommit,
}

impl Hold {
    fn limit(self) -> usize {
        match self {
            Hold::Buffered => BUFFER,
            Hold::UntilCommit => CONFIRMED_BUFFER,
        }
    }
}

/// A buffered writer that names its target in errors, refuses writes once closed, and
/// knows which events its buffer holds: an event counts as delivered once the writer has
/// taken all of its bytes, and as lost when a write fails before that (a closed pipe, a
/// full disk), so that a failure never hides what it cost.
pub(crate) struct Out {
    /// Locked by whoever writes, under this `Out`'s own lock; a commit keeps it while it
    /// writes a buffer it took, having let the other go (see [`NdjsonSink::commit`]).
    writer: Arc<Mutex<Box<dyn Write + Send>>>,
    /// The file again, to sync, under [`Fsync::OnCommit`]: shared, so that a commit
    /// syncs without holding the sink's lock.
    sync: Option<Arc<File>>,
    /// Receipts of the buffered events and of those written out since the last flush:
    /// resolved when a flush makes them durable.
    pub(crate) unconfirmed: Unconfirmed,
    /// Bytes not yet written.
    buffer: Vec<u8>,
    /// The buffer a commit wrote, empty, for the next one to take: so that a buffer
    /// grown to a commit's size is not grown again for each.
    spare: Vec<u8>,
    /// Where each buffered event's bytes end in `buffer`.
    ends: Vec<usize>,
    /// Events taken so far.
    taken: u64,
    pub(crate) line: Vec<u8>,
    pub(crate) target: String,
    pub(crate) closed: bool,
}

impl Out {
    pub(crate) fn new(writer: Box<dyn Write + Send>, target: String) -> Self {
        Out {
            writer: Arc::new(Mutex::new(writer)),
            sync: None,
            unconfirmed: Unconfirmed::default(),
            buffer: Vec::with_capacity(BUFFER),
            spare: Vec::new(),
            ends: Vec::new(),
            taken: 0,
            line: Vec::with_capacity(1024),
            target,
            closed: false,
        }
    }

    pub(crate) fn create_with(path: &Path, options: FileOptions) -> Result<Self, SinkError> {
        let io = |source| SinkError::Io {
            target: path.display().to_string(),
            source,
        };
        let file = if options.append {
            std::fs::OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(path)
        } else {
            File::create(path)
        }
        .map_err(io)?;
        if options.append {
            end_with_newline(&file).map_err(io)?;
        }
        let sync = match options.fsync {
            Fsync::Never => None,
            Fsync::OnCommit => Some(Arc::new(file.try_clone().map_err(io)?)),
        };
        let mut out = Out::new(Box::new(file), path.display().to_string());
        out.sync = sync;
        Ok(out)
    }

    pub(crate) fn open_with(output: &Output, options: FileOptions) -> Result<Self, SinkError> {
        match output {
            Output::Stdout => Ok(Out::new(Box::new(std::io::stdout()), "stdout".to_owned())),
            Output::File(path) => Out::create_with(path, options),
        }
    }

    /// Events taken so far (delivered, buffered or lost).
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// Takes `self.line` as one event's bytes. When the buffer is full it is written out
    /// first; if that fails, this event is not taken (the caller still holds it) and the
    /// buffered ones count as lost.
    pub(crate) fn write_line(&mut self, hold: Hold, counters: &Counters) -> Result<(), SinkError> {
        let line = std::mem::take(&mut self.line);
        let taken = self.take(&line, b"", hold, counters);
        self.line = line;
        taken
    }

    /// Takes `json` and a line end as one event's bytes, as [`write_line`](Self::write_line)
    /// takes `self.line`: JSON written before, copied into the buffer once.
    pub(crate) fn write_json_line(
        &mut self,
        json: &[u8],
        hold: Hold,
        counters: &Counters,
    ) -> Result<(), SinkError> {
        self.take(json, b"\n", hold, counters)
    }

    /// Takes `bytes` then `end` as one event's bytes.
    fn take(
        &mut self,
        bytes: &[u8],
        end: &[u8],
        hold: Hold,
        counters: &Counters,
    ) -> Result<(), SinkError> {
        if self.closed {
            return Err(SinkError::Closed);
        }
        let len = bytes.len() + end.len();
        if !self.buffer.is_empty() && self.buffer.len() + len > hold.limit() {
            self.write_out(counters)?;
        }
        self.buffer.extend_from_slice(bytes);
        self.buffer.extend_from_slice(end);
        self.ends.push(self.buffer.len());
        self.taken += 1;
        Ok(())
    }

    /// Bytes that belong to no event (a JSON array's brackets).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Writes the buffer out, flushes the writer and syncs the file when asked to; then
    /// the receipts of everything taken so far are resolved: delivered, or lost when any
    /// step failed (the bytes may or may not have reached the disk; the caller is told
    /// they did not).
    pub(crate) fn flush(&mut self, counters: &Counters) -> Result<(), SinkError> {
        let result = self
            .write_out(counters)
            .and_then(|()| {
                lock(&self.writer)
                    .flush()
                    .map_err(|source| self.error(source))
            })
            .and_then(|()| match &self.sync {
                Some(file) => file.sync_data().map_err(|source| self.error(source)),
                None => Ok(()),
            });
        self.unconfirmed.resolve(match result {
            Ok(()) => Fate::Delivered,
            Err(_) => Fate::Lost,
        });
        result
    }

    /// Writes the whole buffer, counting each event whose bytes all went out as delivered
    /// and, on a failure, every other buffered event as lost. The buffer is empty after.
    pub(crate) fn write_out(&mut self, counters: &Counters) -> Result<(), SinkError> {
        let written = write_counted(
            &mut **lock(&self.writer),
            &self.buffer,
            &self.ends,
            counters,
        );
        self.buffer.clear();
        self.ends.clear();
        written.map_err(|source| {
            // Which of them reached the file is not known: none is confirmed.
            self.unconfirmed.resolve(Fate::Lost);
            self.error(source)
        })
    }

    /// Takes what a commit writes: the buffer, where its events end, and the receipts
    /// of everything taken since the last flush. The buffer is empty after.
    fn take_buffer(&mut self) -> Taken {
        let spare = std::mem::take(&mut self.spare);
        Taken {
            bytes: std::mem::replace(&mut self.buffer, spare),
            ends: std::mem::take(&mut self.ends),
            receipts: std::mem::take(&mut self.unconfirmed),
        }
    }

    /// A buffer a commit is done with, for the next.
    fn give_back(&mut self, mut bytes: Vec<u8>) {
        bytes.clear();
        if bytes.capacity() > self.spare.capacity() {
            self.spare = bytes;
        }
    }

    pub(crate) fn error(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            target: self.target.clone(),
            source,
        }
    }
}
