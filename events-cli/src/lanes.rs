//! Ingest on every core, each action's events judged in input order: lines are read in
//! batches, every batch is handed whole to every worker thread, each worker judges the
//! lines whose `actionId` hashes to it (the reader marks each line with its worker), and
//! what the workers make of them is merged back in input order.
//!
//! Each worker owns the tracker of its actions, so an action's lifecycle is judged by one
//! tracker, in the order its lines came; lines of different actions are independent. The
//! one stateful stage of ingest is the tracker: decoding and validation depend on the
//! line alone, so a line whose `actionId` the routing scan cannot find goes through the
//! full decode on the reader to find it, and if that fails too, the first worker refuses
//! it.
//!
//! The reader finds each line's worker as it reads the line, while its bytes are in its
//! core's cache: the scan for the `actionId` is about a hundred instructions, hash
//! included (see `Route::worker_of`), where a worker on another core scanning every line
//! itself paid a cache miss per line. Workers skip the lines that are not theirs without
//! reading them, and each worker answers a batch with what became of its lines, in
//! order: the merge takes each line's from the worker the line is marked for.
//!
//! Worker 0 runs on the reader's thread, between batches: with `N` workers there are `N`
//! threads, not `N + 1` on `N` cores, whose scheduler would hand the reader a core a few
//! milliseconds at a time while the workers ran dry. It takes a smaller share of the
//! actions (`READER_COST`), so that reading plus its share is what each other worker
//! does.
//!
//! Memory stays bounded: at most [`IN_FLIGHT`] batches are between the reader and the
//! workers (bounded channels both ways, the batches shared, not copied, between workers),
//! a batch holds at most [`BATCH_LINES`] lines and about [`BATCH_BYTES`] bytes, and the
//! caller splits the tracker's cap between workers. With one worker nothing is spawned:
//! the batch is judged on the calling thread.

use std::collections::VecDeque;
use std::io::BufRead;
use std::ops::Range;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use events_core::ingest::{Decoder, Emit, Ingest, IngestStats};
use events_core::Uuid;
use indicatif::ProgressBar;

use crate::input::{is_blank, Line, LineReader, StreamError};
use crate::shutdown::Shutdown;

/// The most lines in one batch.
pub const BATCH_LINES: usize = 1024;
/// A batch is closed once it holds this many bytes of lines.
pub const BATCH_BYTES: usize = 1 << 19;
/// The most batches read but not merged back: with [`BATCH_BYTES`], at most 8 MiB of
/// lines. Enough that the other workers do not run dry while the reader's thread waits
/// for a core (a busy machine's scheduler takes it away a few milliseconds at a time,
/// and a batch is a fraction of a millisecond of a worker's work), little next to the
/// trackers. Four measured no faster and left less slack (BENCHMARKS.md, nineteenth
/// session).
pub const IN_FLIGHT: usize = 16;

/// What a worker does with the lines routed to it.
pub trait Worker: Send + 'static {
    /// What becomes of one line, handed back to the reader in input order.
    type Settled: Send + 'static;
    /// What the worker gives back at the end (its counts, its report).
    type Summary: Send + 'static;
    /// Judges `lines` (each with its position in the stream, see
    /// [`Ingest::ingest_batch_at`](events_core::ingest::Ingest::ingest_batch_at)),
    /// pushing one settled value per line, in order.
    fn judge(&mut self, lines: &[(u64, &[u8])], settled: &mut Vec<Self::Settled>);
    /// Ends the worker.
    fn finish(self) -> Self::Summary;
}

/// Lines read together, shared with the workers: the bytes of worker 0's lines in one
/// buffer, each other worker's in a buffer of its own.
///
/// Why apart: a worker on another core reads lines the reader's core just wrote. Spread
/// as every other line of one buffer, each of its lines is a fresh miss; in a buffer of
/// its own they are one sequential sweep, which the hardware prefetcher follows. The
/// reader routes a line while it lies in the input's read buffer and copies it once,
/// into its worker's buffer; a line across the read buffer's end is first gathered in
/// `bytes`, then moved: a copy of bytes still in its cache.
#[derive(Debug, Default)]
pub struct LineBatch {
    bytes: Vec<u8>,
    /// The lines of workers 1 and on: `others[w - 1]` holds worker `w`'s.
    others: Vec<Vec<u8>>,
    /// Bytes in `others`, for [`is_full`](Self::is_full).
    other_bytes: usize,
    lines: Vec<BatchLine>,
}

/// One line of a [`LineBatch`].
#[derive(Debug, Clone)]
pub struct BatchLine {
    /// Its line number in the input (1-based, blank lines counted).
    pub number: u64,
    /// Its position among the lines ingest counts (blank lines not counted): the tick of
    /// an idle timeout counted in lines.
    pub position: u64,
    range: Range<usize>,
    /// The worker whose line it is (see `Route::worker_of`).
    worker: u16,
}

impl LineBatch {
    /// An empty batch with room for a full one's lines. Its byte buffers grow as the
    /// first fill needs, once (batches are recycled): each worker's share of a batch is
    /// known only then, and room for all of [`BATCH_BYTES`] in each buffer was mostly
    /// never written but still committed, and with transparent huge pages zeroed
    /// (BENCHMARKS.md, nineteenth session).
    fn with_line_room() -> Self {
        LineBatch {
            bytes: Vec::new(),
            others: Vec::new(),
            other_bytes: 0,
            lines: Vec::with_capacity(BATCH_LINES),
        }
    }

    /// Whether the batch should be handed on before another line is added.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= BATCH_LINES || self.bytes.len() + self.other_bytes >= BATCH_BYTES
    }

    /// Whether the batch has no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The bytes of `line`.
    pub fn bytes(&self, line: &BatchLine) -> &[u8] {
        match usize::from(line.worker).checked_sub(1) {
            None => &self.bytes[line.range.clone()],
            Some(other) => &self.others[other][line.range.clone()],
        }
    }

    /// Adds the complete line that ends `bytes` from `start`, for worker `worker`: moved
    /// to that worker's buffer unless it is worker 0's (a line that lay across the
    /// reader's buffer, read before its worker was known).
    fn push_line(&mut self, number: u64, position: u64, start: usize, worker: u16) {
        let range = match usize::from(worker).checked_sub(1) {
            None => start..self.bytes.len(),
            Some(other) => {
                let range = append_to(&mut self.others, other, &self.bytes[start..]);
                self.other_bytes += range.len();
                self.bytes.truncate(start);
                range
            }
        };
        self.lines.push(BatchLine {
            number,
            position,
            range,
            worker,
        });
    }

    /// Adds `line` for worker `worker`, copied once, into that worker's buffer.
    fn push(&mut self, number: u64, position: u64, line: &[u8], worker: u16) {
        let range = match usize::from(worker).checked_sub(1) {
            None => {
                let from = self.bytes.len();
                self.bytes.extend_from_slice(line);
                from..self.bytes.len()
            }
            Some(other) => {
                self.other_bytes += line.len();
                append_to(&mut self.others, other, line)
            }
        };
        self.lines.push(BatchLine {
            number,
            position,
            range,
            worker,
        });
    }

    /// The lines, in input order.
    pub fn lines(&self) -> &[BatchLine] {
        &self.lines
    }
}

/// Appends `line` to the buffer of worker `other + 1` in `others`, giving its range there.
fn append_to(others: &mut Vec<Vec<u8>>, other: usize, line: &[u8]) -> Range<usize> {
    if others.len() <= other {
        others.resize_with(other + 1, Vec::new);
    }
    let buffer = &mut others[other];
    let from = buffer.len();
    buffer.extend_from_slice(line);
    from..buffer.len()
}

/// What one worker made of the lines of a batch marked for it, in input order.
type Judged<T> = Vec<T>;

struct Lane<T> {
    batches: SyncSender<Arc<LineBatch>>,
    judged: Receiver<Judged<T>>,
}

/// The workers and the batches in flight between them and the reader.
pub struct Lanes<W: Worker> {
    mode: Mode<W>,
    /// Batches merged back, emptied, for the reader to fill again: their buffers are
    /// taken once, not per batch.
    spare: Vec<LineBatch>,
}

enum Mode<W: Worker> {
    /// One worker, on the calling thread.
    Inline(W, Vec<W::Settled>),
    Threads {
        /// Worker 0, on the calling thread beside the reader, and the routing of lines.
        own: Box<(W, Route)>,
        /// Workers 1 and on, each on its thread.
        lanes: Vec<Lane<W::Settled>>,
        handles: Vec<JoinHandle<W::Summary>>,
        /// Handed to every worker, not yet merged back, with what worker 0 made of it.
        in_flight: VecDeque<(Arc<LineBatch>, Judged<W::Settled>)>,
    },
}

impl<W: Worker> std::fmt::Debug for Lanes<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workers = match &self.mode {
            Mode::Inline(..) => 1,
            Mode::Threads { lanes, .. } => lanes.len() + 1,
        };
        f.debug_struct("Lanes").field("workers", &workers).finish()
    }
}

impl<W: Worker> Lanes<W> {
    /// `workers` workers (at least one, at most 65,536), the `i`th made by `make(i)`;
    /// `decoder` routes the lines whose `actionId` the scan cannot find.
    pub fn new(workers: usize, decoder: Decoder, mut make: impl FnMut(usize) -> W) -> Self {
        assert!((1..=1 << 16).contains(&workers), "1 to 65,536 workers");
        let mode = if workers == 1 {
            Mode::Inline(make(0), Vec::new())
        } else {
            let own = Box::new((make(0), Route::new(workers, decoder)));
            let mut lanes = Vec::with_capacity(workers - 1);
            let mut handles = Vec::with_capacity(workers - 1);
            for i in 1..workers {
                let (batches, batch_queue) = sync_channel(IN_FLIGHT);
                let (judged_queue, judged) = sync_channel(IN_FLIGHT);
                let worker = make(i);
                let handle = std::thread::Builder::new()
                    .name(format!("ingest-{i}"))
                    .spawn(move || work(worker, i, batch_queue, judged_queue))
                    .expect("a worker thread starts");
                lanes.push(Lane { batches, judged });
                handles.push(handle);
            }
            Mode::Threads {
                own,
                lanes,
                handles,
                in_flight: VecDeque::new(),
            }
        };
        Lanes {
            mode,
            spare: Vec::new(),
        }
    }

    /// The worker of a line just read (0 with one worker). The reader finds it while the
    /// line's bytes are in its core's cache: a worker on another core scanning every line
    /// itself paid a cache miss per line (about 80 ns, more than the scan).
    fn worker_of(&self, line: &[u8]) -> u16 {
        match &self.mode {
            Mode::Inline(..) => 0,
            // At most 65,536 workers (`new`).
            Mode::Threads { own, .. } => own.1.worker_of(line) as u16,
        }
    }

    /// An empty batch to fill.
    pub fn empty_batch(&mut self) -> LineBatch {
        self.spare.pop().unwrap_or_else(LineBatch::with_line_room)
    }

    /// Hands `batch` to the workers; `merge` gets, in input order, every line of the
    /// batches that had to be merged back to keep [`IN_FLIGHT`] batches at most, with what
    /// became of it.
    pub fn submit(
        &mut self,
        batch: LineBatch,
        mut merge: impl FnMut(&LineBatch, &BatchLine, W::Settled),
    ) {
        if batch.is_empty() {
            return;
        }
        match &mut self.mode {
            Mode::Inline(worker, settled) => {
                let lines: Vec<(u64, &[u8])> = batch
                    .lines
                    .iter()
                    .map(|line| (line.position, batch.bytes(line)))
                    .collect();
                settled.clear();
                worker.judge(&lines, settled);
                for (line, value) in batch.lines.iter().zip(settled.drain(..)) {
                    merge(&batch, line, value);
                }
                recycle(&mut self.spare, batch);
            }
            Mode::Threads {
                own,
                lanes,
                in_flight,
                ..
            } => {
                let batch = Arc::new(batch);
                // Every worker gets every batch and answers each, maybe with no line of
                // its own, so that the judged lines come back batch by batch from each.
                for lane in lanes.iter() {
                    lane.batches
                        .send(Arc::clone(&batch))
                        .expect("workers outlive the lanes");
                }
                let judged = judge_own(&mut own.0, 0, &batch);
                in_flight.push_back((batch, judged));
                while in_flight.len() > IN_FLIGHT - 1 {
                    merge_oldest(lanes, in_flight, &mut self.spare, &mut merge);
                }
            }
        }
    }

    /// Merges back every batch in flight (before something the reader writes itself, in
    /// order, and at the end).
    pub fn drain(&mut self, mut merge: impl FnMut(&LineBatch, &BatchLine, W::Settled)) {
        if let Mode::Threads {
            lanes, in_flight, ..
        } = &mut self.mode
        {
            while !in_flight.is_empty() {
                merge_oldest(lanes, in_flight, &mut self.spare, &mut merge);
            }
        }
    }

    /// Merges back what is in flight and ends the workers, giving back their summaries.
    pub fn finish(
        mut self,
        merge: impl FnMut(&LineBatch, &BatchLine, W::Settled),
    ) -> Vec<W::Summary> {
        self.drain(merge);
        match self.mode {
            Mode::Inline(worker, _) => vec![worker.finish()],
            Mode::Threads {
                own,
                lanes,
                handles,
                ..
            } => {
                // Closing the batch queues ends the workers.
                drop(lanes);
                let own = own.0.finish();
                std::iter::once(own)
                    .chain(handles.into_iter().map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    }))
                    .collect()
            }
        }
    }
}

/// Interleaves what the workers made of the oldest batch in flight, in input order: each
/// line was judged by the worker it is marked for, which settled its lines in order.
fn merge_oldest<T>(
    lanes: &[Lane<T>],
    in_flight: &mut VecDeque<(Arc<LineBatch>, Judged<T>)>,
    spare: &mut Vec<LineBatch>,
    merge: &mut impl FnMut(&LineBatch, &BatchLine, T),
) {
    let Some((batch, own)) = in_flight.pop_front() else {
        return;
    };
    let others = lanes.iter().map(|lane| {
        lane.judged
            .recv()
            .unwrap_or_else(|_| panic!("an ingest worker stopped: see its panic above"))
    });
    let mut judged: Vec<_> = std::iter::once(own)
        .chain(others)
        .map(Vec::into_iter)
        .collect();
    for line in &batch.lines {
        let value = judged[usize::from(line.worker)]
            .next()
            .expect("a settled value per line marked for the worker");
        merge(&batch, line, value);
    }
    // The workers let go of the batch before they answer: it is the reader's alone now.
    if let Ok(batch) = Arc::try_unwrap(batch) {
        recycle(spare, batch);
    }
}

/// Keeps `batch` for the reader to fill again, up to what can be in flight at once.
fn recycle(spare: &mut Vec<LineBatch>, mut batch: LineBatch) {
    if spare.len() <= IN_FLIGHT {
        batch.bytes.clear();
        batch.others.iter_mut().for_each(Vec::clear);
        batch.other_bytes = 0;
        batch.lines.clear();
        spare.push(batch);
    }
}

/// What the reader costs per line (splitting it, copying it into a batch, routing it,
/// merging what became of it), relative to what judging it costs a worker, decode
/// included: about 1/8 in instructions when it was first set (`check`, see
/// BENCHMARKS.md); judging has become cheaper since (the ended memory's tags, the
/// tracker's read-ahead) and the reader's part has not: 3/16 balanced best before the
/// read-ahead of four lines, 1/4 after it (BENCHMARKS.md, sixteenth session). In time
/// it depends on the input: more when the kernel copies a file on the reader's thread,
/// less when the input is in memory, where the other workers pay more per line than
/// worker 0 (the first touch of lines another core wrote). Worker 0 shares the calling
/// thread with the reader, so it takes that much less of the actions.
const READER_COST: f64 = 0.25;

/// Which worker a line is for.
struct Route {
    /// Hashes below this go to worker 0 (on the reader's thread); the others are split
    /// evenly between the rest.
    first_share: u64,
    /// `(workers − 1) × 2⁶⁴ / (2⁶⁴ − first_share)`: a hash past `first_share`, times
    /// this, names one of the other workers in its top 64 bits (a multiplication, where
    /// a division would cost a hundred cycles per line).
    rest_scale: u128,
    decoder: Decoder,
}

impl Route {
    fn new(workers: usize, decoder: Decoder) -> Self {
        // With `n` workers, worker 0 takes `(1 − (n − 1) × READER_COST) / n` of the hash
        // range, so that the reader's work plus its own is what each other one does.
        let n = workers as f64;
        let share = ((1.0 - (n - 1.0) * READER_COST) / n).clamp(0.0, 1.0);
        let first_share = (share * u64::MAX as f64) as u64;
        let range = u128::from(u64::MAX - first_share) + 1;
        Route {
            first_share,
            rest_scale: ((workers as u128 - 1) << 64) / range,
            decoder,
        }
    }

    /// The worker of a line: by its `actionId`, found by the scan or else by the full
    /// decode; a line without a readable one is refused alike by any worker, so it goes to
    /// the first.
    ///
    /// The reader runs this on every line, so it is kept to about a hundred
    /// instructions: the scan does not validate the id it finds, and only its last 16 digits count (see
    /// [`route_key`]). A line whose id text is not a valid id goes to whichever worker its
    /// bytes name, which refuses it in the decode as any would. An id the scan cannot read
    /// is routed by the text the decode gives it, so that it goes where its other events
    /// go.
    fn worker_of(&self, line: &[u8]) -> usize {
        let key = match action_id_text(line).and_then(route_key) {
            Some(key) => key,
            None => match self.decoder.decode(line) {
                Ok(decoded) => {
                    let mut text = [0u8; 36];
                    let id = decoded.event.action_id();
                    route_key(id.hyphenated().encode_lower(&mut text).as_bytes())
                        .expect("a hyphenated id is 36 bytes")
                }
                Err(_) => return 0,
            },
        };
        let mixed = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        match mixed.checked_sub(self.first_share) {
            None => 0,
            Some(rest) => 1 + ((u128::from(rest) * self.rest_scale) >> 64) as usize,
        }
    }
}

/// What routing reads of a hyphenated id's text: its last 16 hex digits, each byte `b`
/// taken as `(b & 0xF) + 9 × bit 6 of b`, eight bytes at a time. That is the digit's
/// value for `0-9`, `a-f` and `A-F` alike, so the same id routes the same whatever the
/// case of its digits; other bytes give something, which is all an invalid id needs.
/// `None` when `text` is not 36 bytes long.
fn route_key(text: &[u8]) -> Option<u64> {
    const LOW: u64 = 0x0F0F_0F0F_0F0F_0F0F;
    const BIT6: u64 = 0x0101_0101_0101_0101;
    let text: &[u8; 36] = text.try_into().ok()?;
    let digits = |at: usize| {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&text[at..at + 8]);
        let x = u64::from_le_bytes(bytes);
        (x & LOW) + 9 * ((x >> 6) & BIT6)
    };
    // Bytes 20 to 35: the last group but one (its hyphen included, a constant) and the
    // last one.
    Some(digits(20) ^ digits(28).rotate_left(29))
}

/// Judges the lines of `batch` that the reader marked for worker `index`.
fn judge_own<W: Worker>(worker: &mut W, index: usize, batch: &LineBatch) -> Judged<W::Settled> {
    // Room for every line of the batch: filling it never reallocates.
    let mut lines = Vec::with_capacity(batch.lines.len());
    lines.extend(
        batch
            .lines
            .iter()
            .filter(|line| usize::from(line.worker) == index)
            .map(|line| (line.position, batch.bytes(line))),
    );
    let mut settled = Vec::with_capacity(lines.len());
    worker.judge(&lines, &mut settled);
    settled
}

fn work<W: Worker>(
    mut worker: W,
    index: usize,
    batches: Receiver<Arc<LineBatch>>,
    judged: SyncSender<Judged<W::Settled>>,
) -> W::Summary {
    for batch in batches {
        let result = judge_own(&mut worker, index, &batch);
        // Before answering, so that the reader can reuse the batch's buffers.
        drop(batch);
        if judged.send(result).is_err() {
            // The reader is gone (it panicked): nothing left to do.
            break;
        }
    }
    worker.finish()
}

/// The `actionId` of a line, found without decoding it: the value of the first key
/// `actionId` of the top-level object, when it is a string without escapes that reads as
/// a UUID. `None` when there is none such; a line where it is wrong does not decode (a
/// valid event has one `actionId`, a hyphenated UUID), and any worker refuses it alike.
///
/// It walks the line's structure (strings, brackets) up to that key, which is the first
/// one in the events producers write: a few bytes.
pub fn scan_action_id(line: &[u8]) -> Option<Uuid> {
    Uuid::try_parse_ascii(action_id_text(line)?).ok()
}

/// The bytes of the string value of the first key `actionId` of the top-level object, when
/// it has no escapes (see [`scan_action_id`]).
fn action_id_text(line: &[u8]) -> Option<&[u8]> {
    // The layout producers write, and `simulate`: read in place, without the walk below
    // (which would find the same bytes).
    const FIRST: &[u8] = b"{\"actionId\":\"";
    if let Some(value) = line.strip_prefix(FIRST) {
        if let Some(text) = value.get(..36) {
            // Every byte looked at, without an early exit: a few vector compares, where a
            // loop that stops at the first quote costs a branch per byte.
            let plain = text
                .iter()
                .fold(true, |plain, &b| plain & (b != b'"') & (b != b'\\'));
            if value.get(36) == Some(&b'"') && plain {
                return Some(text);
            }
        }
    }
    const KEY: &[u8] = b"\"actionId\"";
    let mut depth = 0usize;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b'"' => {
                if depth == 1 && line[i..].starts_with(KEY) {
                    let after = skip_whitespace(&line[i + KEY.len()..]);
                    // Followed by `:`, a string is a key; a value never is.
                    if let Some(value) = after.strip_prefix(b":") {
                        let value = skip_whitespace(value).strip_prefix(b"\"")?;
                        let end = value.iter().position(|&b| b == b'"' || b == b'\\')?;
                        if value[end] != b'"' {
                            return None;
                        }
                        return Some(&value[..end]);
                    }
                }
                i += 1;
                while i < line.len() && line[i] != b'"' {
                    i += if line[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_whitespace(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// What the reader does with what the workers made of each line, and with the lines it
/// handles itself.
pub trait Settle<T> {
    /// Takes what became of `line`, in input order.
    fn settled(&mut self, batch: &LineBatch, line: &BatchLine, value: T);

    /// Takes a line over the limit (its line `number`, its first bytes `head`): drains the
    /// rest from `lines` and counts it. Every line before it has been settled.
    fn too_large<R: BufRead>(
        &mut self,
        lines: &mut LineReader<R>,
        number: u64,
        head: &[u8],
    ) -> Result<(), StreamError>;

    /// A failure [`settled`](Self::settled) met, which ends the stream.
    fn failed(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    /// Whether to stop reading (what was read is still judged and settled).
    fn stop(&self) -> bool {
        false
    }
}

/// Reads every line of `lines` into batches for `lanes`, settling each line in input
/// order through `settle`, and ends the workers, giving back their summaries. Once
/// `shutdown` is requested (a signal), reading stops at the next line: what was read is
/// still judged and settled.
pub fn feed<R: BufRead, W: Worker>(
    mut lanes: Lanes<W>,
    lines: &mut LineReader<R>,
    settle: &mut impl Settle<W::Settled>,
    progress: &ProgressBar,
    shutdown: &Shutdown,
) -> Result<Vec<W::Summary>, StreamError> {
    let mut batch = lanes.empty_batch();
    let result = read_all(&mut lanes, &mut batch, lines, settle, progress, shutdown);
    // Even after a failure, what was read is judged, so that the counts cover it.
    lanes.submit(batch, |b, l, v| settle.settled(b, l, v));
    let summaries = lanes.finish(|b, l, v| settle.settled(b, l, v));
    result?;
    settle.failed()?;
    progress.set_position(lines.bytes_read());
    Ok(summaries)
}

fn read_all<R: BufRead, W: Worker>(
    lanes: &mut Lanes<W>,
    batch: &mut LineBatch,
    lines: &mut LineReader<R>,
    settle: &mut impl Settle<W::Settled>,
    progress: &ProgressBar,
    shutdown: &Shutdown,
) -> Result<(), StreamError> {
    let mut head = Vec::new();
    let mut position = 0;
    while !shutdown.requested() && !settle.stop() {
        // A line whole in the reader's buffer is routed where it lies and copied once,
        // into its worker's buffer (see `LineBatch`).
        let number = lines.line_number() + 1;
        let buffered = lines
            .buffered_line(|line| {
                let blank = is_blank(line);
                if !blank {
                    batch.push(number, position + 1, line, lanes.worker_of(line));
                }
                !blank
            })
            .map_err(StreamError::Read)?;
        if let Some(pushed) = buffered {
            if number.is_multiple_of(4096) {
                progress.set_position(lines.bytes_read());
            }
            if pushed {
                position += 1;
                if batch.is_full() {
                    let full = std::mem::replace(batch, lanes.empty_batch());
                    lanes.submit(full, |b, l, v| settle.settled(b, l, v));
                }
            }
            settle.failed()?;
            continue;
        }
        // Any other line is read into the batch, and moved once its worker is known.
        let start = batch.bytes.len();
        let read = lines.append_line(&mut batch.bytes);
        let Some(line) = read.map_err(StreamError::Read).inspect_err(|_| {
            batch.bytes.truncate(start);
        })?
        else {
            batch.bytes.truncate(start);
            break;
        };
        let number = lines.line_number();
        if number.is_multiple_of(4096) {
            progress.set_position(lines.bytes_read());
        }
        match line {
            Line::TooLarge => {
                head.clear();
                head.extend_from_slice(&batch.bytes[start..]);
                batch.bytes.truncate(start);
                // The reader settles it itself: everything before it goes first.
                let full = std::mem::replace(batch, lanes.empty_batch());
                lanes.submit(full, |b, l, v| settle.settled(b, l, v));
                lanes.drain(|b, l, v| settle.settled(b, l, v));
                settle.failed()?;
                position += 1;
                settle.too_large(lines, number, &head)?;
            }
            Line::Complete if is_blank(&batch.bytes[start..]) => batch.bytes.truncate(start),
            Line::Complete => {
                position += 1;
                let worker = lanes.worker_of(&batch.bytes[start..]);
                batch.push_line(number, position, start, worker);
                if batch.is_full() {
                    let full = std::mem::replace(batch, lanes.empty_batch());
                    lanes.submit(full, |b, l, v| settle.settled(b, l, v));
                }
            }
        }
        settle.failed()?;
    }
    Ok(())
}

/// Drains the rest of a line over the limit and counts it in `ingest`, for the commands
/// that keep nothing of it.
pub fn skip_too_large<R: BufRead, E: Emit>(
    lines: &mut LineReader<R>,
    ingest: &mut Ingest<E>,
    head: &[u8],
) -> Result<(), StreamError> {
    let rest = lines.drain_rest(|_| Ok(())).map_err(StreamError::Read)?;
    let _ = ingest.too_large(head.len() + rest as usize);
    Ok(())
}

/// The sum of the workers' counts.
pub fn total(parts: impl IntoIterator<Item = IngestStats>) -> IngestStats {
    let mut total = IngestStats::default();
    for part in parts {
        total.events += part.events;
        total.valid += part.valid;
        total.flagged += part.flagged;
        total.dropped += part.dropped;
        total.rejected += part.rejected;
        for (sum, count) in total.by_kind.iter_mut().zip(part.by_kind) {
            *sum += count;
        }
    }
    total
}

/// The worker count when `--threads` is not given: the available parallelism.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Settles each line as what its worker saw of it: the worker, the line's position
    /// and its bytes.
    struct Echo(usize);

    impl Worker for Echo {
        type Settled = (usize, u64, Vec<u8>);
        type Summary = ();

        fn judge(&mut self, lines: &[(u64, &[u8])], settled: &mut Vec<Self::Settled>) {
            settled.extend(
                lines
                    .iter()
                    .map(|&(position, bytes)| (self.0, position, bytes.to_vec())),
            );
        }

        fn finish(self) {}
    }

    /// Every line settled, in the order the reader settled them: its number, its worker,
    /// its position and its bytes.
    #[derive(Default)]
    struct Settled(Vec<(u64, usize, u64, Vec<u8>)>);

    impl Settle<(usize, u64, Vec<u8>)> for Settled {
        fn settled(&mut self, batch: &LineBatch, line: &BatchLine, value: (usize, u64, Vec<u8>)) {
            let (worker, position, bytes) = value;
            assert_eq!(batch.bytes(line), &bytes[..], "the line its worker judged");
            self.0.push((line.number, worker, position, bytes));
        }

        fn too_large<R: BufRead>(
            &mut self,
            lines: &mut LineReader<R>,
            _: u64,
            _: &[u8],
        ) -> Result<(), StreamError> {
            lines.drain_rest(|_| Ok(())).map_err(StreamError::Read)?;
            Ok(())
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        /// However many workers, every line comes back once, in input order, with its
        /// position among the counted lines, judged by the one worker of its action, over
        /// batches of any fill.
        #[test]
        fn lines_come_back_in_input_order_each_action_on_one_worker(
            workers in 1usize..5,
            lines in prop::collection::vec((0usize..12, 0u8..4), 0..3000),
            // Small read buffers put lines across their ends: those take the reader's
            // other path.
            capacity in prop_oneof![Just(1usize << 20), 1usize..200],
        ) {
            let ids: Vec<String> = (0..12)
                .map(|i| format!("6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a{i:04x}"))
                .collect();
            let mut input = String::new();
            for (n, &(id, layout)) in lines.iter().enumerate() {
                let id = &ids[id];
                input.push_str(&match layout {
                    0 => String::new(),
                    1 => format!(r#"{{ "n": {n}, "actionId" : "{id}" }}"#),
                    // The id in capitals: the same action, its worker alike.
                    2 => format!(r#"{{"actionId":"{}","n":{n}}}"#, id.to_uppercase()),
                    _ => format!(r#"{{"actionId":"{id}","n":{n}}}"#),
                });
                input.push('\n');
            }
            let registry = events_core::Registry::builtin();
            let decoder = crate::input::Limits::default()
                .ingest(&registry, events_core::ingest::Discard)
                .decoder()
                .clone();
            let lanes = Lanes::new(workers, decoder, Echo);
            let mut reader =
                LineReader::new(std::io::BufReader::with_capacity(capacity, input.as_bytes()), 1 << 16);
            let mut settled = Settled::default();
            let shutdown = Shutdown::manual();
            feed(lanes, &mut reader, &mut settled, &ProgressBar::hidden(), &shutdown)
                .unwrap();
            let expected: Vec<(u64, Vec<u8>)> = input
                .lines()
                .enumerate()
                .filter(|(_, line)| !line.is_empty())
                .map(|(i, line)| (i as u64 + 1, line.as_bytes().to_vec()))
                .collect();
            let got: Vec<(u64, Vec<u8>)> = settled
                .0
                .iter()
                .map(|(number, _, _, bytes)| (*number, bytes.clone()))
                .collect();
            prop_assert_eq!(got, expected);
            let positions: Vec<u64> = settled.0.iter().map(|line| line.2).collect();
            prop_assert_eq!(positions, (1..=settled.0.len() as u64).collect::<Vec<_>>());
            let mut worker_of_id = std::collections::HashMap::new();
            let counted = lines.iter().filter(|&&(_, layout)| layout != 0);
            for (&(id, _), &(_, worker, _, _)) in counted.zip(&settled.0) {
                prop_assert!(worker < workers);
                let first = *worker_of_id.entry(id).or_insert(worker);
                prop_assert_eq!(worker, first, "action {} on two workers", id);
            }
        }
    }

    #[test]
    fn the_scan_finds_the_top_level_action_id_only() {
        let id = "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d";
        let expected = Uuid::parse_str(id).ok();
        let found = |line: String| scan_action_id(line.as_bytes());
        assert_eq!(found(format!(r#"{{"actionId":"{id}","x":1}}"#)), expected);
        assert_eq!(
            found(format!(r#"{{ "a" : "actionId", "actionId" : "{id}" }}"#)),
            expected
        );
        assert_eq!(
            found(format!(
                r#"{{"n":{{"actionId":"00000000-0000-4000-8000-000000000000"}},"s":"\"actionId\":","actionId":"{id}"}}"#
            )),
            expected
        );
        assert_eq!(found(format!(r#"{{"actionId":"{}"}}"#, &id[..30])), None);
        assert_eq!(found(r#"{"actionId":"6f1c2d7e\u002d5b7a"}"#.into()), None);
        assert_eq!(found(r#"{"actionState":"offered"}"#.into()), None);
        assert_eq!(found(r#"{"actionId":"#.into()), None);
    }

    /// Routing reads a valid id alike whatever the case of its digits, tells ids apart
    /// by their last digits, and reads only text of a hyphenated id's length.
    #[test]
    fn the_route_key_ignores_case_and_reads_the_last_digits() {
        let key = |id: &str| route_key(id.as_bytes());
        let id = "6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4d";
        assert_eq!(key(id), key(&id.to_uppercase()));
        assert_ne!(key(id), key("6f1c2d7e-5b7a-4c52-9a3e-0d4f1b2a3c4e"));
        assert_ne!(key(id), key("6f1c2d7e-5b7a-4c52-9a4e-0d4f1b2a3c4d"));
        assert_eq!(key("6f1c2d7e5b7a4c529a3e0d4f1b2a3c4d"), None);
    }
}
