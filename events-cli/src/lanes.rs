//! Ingest on every core, each action's events judged in input order: lines are read in
//! batches, routed to worker threads by a hash of their `actionId`, and what the workers
//! make of them is merged back in input order.
//!
//! Each worker owns the tracker of its actions, so an action's lifecycle is judged by one
//! tracker, in the order its lines came; lines of different actions are independent. The
//! one stateful stage of ingest is the tracker: decoding and validation depend on the
//! line alone, so a line whose `actionId` the routing scan cannot find goes through the
//! full decode on the routing side, and if that fails too, any worker refuses it alike.
//!
//! Memory stays bounded: at most [`IN_FLIGHT`] batches are between the reader and the
//! workers (bounded channels both ways), a batch holds at most [`BATCH_LINES`] lines and
//! about [`BATCH_BYTES`] bytes, and the caller splits the tracker's cap between workers.
//! With one worker nothing is spawned: the batch is judged on the calling thread.

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
/// The most batches read but not merged back.
pub const IN_FLIGHT: usize = 4;

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

/// Lines read together: their bytes in one buffer, shared with the workers.
#[derive(Debug, Default)]
pub struct LineBatch {
    bytes: Vec<u8>,
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
}

impl LineBatch {
    /// Adds a line.
    pub fn push(&mut self, number: u64, position: u64, line: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(line);
        self.lines.push(BatchLine {
            number,
            position,
            range: start..self.bytes.len(),
        });
    }

    /// Whether the batch should be handed on before another line is added.
    pub fn is_full(&self) -> bool {
        self.lines.len() >= BATCH_LINES || self.bytes.len() >= BATCH_BYTES
    }

    /// Whether the batch has no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The bytes of `line`.
    pub fn bytes(&self, line: &BatchLine) -> &[u8] {
        &self.bytes[line.range.clone()]
    }

    /// The lines, in input order.
    pub fn lines(&self) -> &[BatchLine] {
        &self.lines
    }
}

/// A batch's lines for one worker: positions in the batch's buffer.
struct Job {
    batch: Arc<LineBatch>,
    lines: Vec<usize>,
}

/// A batch handed to the workers, not yet merged back.
struct InFlight {
    batch: Arc<LineBatch>,
    /// The worker of each line.
    route: Vec<u16>,
}

struct Lane<T> {
    jobs: SyncSender<Job>,
    settled: Receiver<Vec<T>>,
}

/// The workers and the batches in flight between them and the reader.
pub struct Lanes<W: Worker> {
    mode: Mode<W>,
    decoder: Decoder,
}

enum Mode<W: Worker> {
    /// One worker, on the calling thread.
    Inline(W, Vec<W::Settled>),
    Threads {
        lanes: Vec<Lane<W::Settled>>,
        handles: Vec<JoinHandle<W::Summary>>,
        in_flight: VecDeque<InFlight>,
    },
}

impl<W: Worker> std::fmt::Debug for Lanes<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let workers = match &self.mode {
            Mode::Inline(..) => 1,
            Mode::Threads { lanes, .. } => lanes.len(),
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
            let mut lanes = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for i in 0..workers {
                let (jobs, job_queue) = sync_channel::<Job>(IN_FLIGHT);
                let (settled_queue, settled) = sync_channel(IN_FLIGHT);
                let worker = make(i);
                let handle = std::thread::Builder::new()
                    .name(format!("ingest-{i}"))
                    .spawn(move || work(worker, job_queue, settled_queue))
                    .expect("a worker thread starts");
                lanes.push(Lane { jobs, settled });
                handles.push(handle);
            }
            Mode::Threads {
                lanes,
                handles,
                in_flight: VecDeque::new(),
            }
        };
        Lanes { mode, decoder }
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
            }
            Mode::Threads {
                lanes, in_flight, ..
            } => {
                let workers = lanes.len();
                let batch = Arc::new(batch);
                let mut jobs: Vec<Vec<usize>> = vec![Vec::new(); workers];
                let route: Vec<u16> = batch
                    .lines
                    .iter()
                    .enumerate()
                    .map(|(i, line)| {
                        let worker = route(&self.decoder, batch.bytes(line), workers);
                        jobs[worker].push(i);
                        worker as u16
                    })
                    .collect();
                // Every worker gets a job per batch, maybe empty, so that the settled
                // lines come back batch by batch from each.
                for (lane, lines) in lanes.iter().zip(jobs) {
                    let job = Job {
                        batch: Arc::clone(&batch),
                        lines,
                    };
                    lane.jobs.send(job).expect("workers outlive the lanes");
                }
                in_flight.push_back(InFlight { batch, route });
                while in_flight.len() > IN_FLIGHT - 1 {
                    merge_oldest(lanes, in_flight, &mut merge);
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
                merge_oldest(lanes, in_flight, &mut merge);
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
            Mode::Threads { lanes, handles, .. } => {
                // Closing the job queues ends the workers.
                drop(lanes);
                handles
                    .into_iter()
                    .map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            }
        }
    }
}

fn merge_oldest<T>(
    lanes: &[Lane<T>],
    in_flight: &mut VecDeque<InFlight>,
    merge: &mut impl FnMut(&LineBatch, &BatchLine, T),
) {
    let Some(InFlight { batch, route }) = in_flight.pop_front() else {
        return;
    };
    let mut settled: Vec<std::vec::IntoIter<T>> = lanes
        .iter()
        .map(|lane| {
            lane.settled
                .recv()
                .unwrap_or_else(|_| panic!("an ingest worker stopped: see its panic above"))
                .into_iter()
        })
        .collect();
    for (line, &worker) in batch.lines.iter().zip(&route) {
        let value = settled[usize::from(worker)]
            .next()
            .expect("a settled value per routed line");
        merge(&batch, line, value);
    }
}

fn work<W: Worker>(
    mut worker: W,
    jobs: Receiver<Job>,
    settled: SyncSender<Vec<W::Settled>>,
) -> W::Summary {
    for job in jobs {
        let lines: Vec<(u64, &[u8])> = job
            .lines
            .iter()
            .map(|&i| {
                let line = &job.batch.lines[i];
                (line.position, job.batch.bytes(line))
            })
            .collect();
        let mut out = Vec::with_capacity(lines.len());
        worker.judge(&lines, &mut out);
        if settled.send(out).is_err() {
            // The reader is gone (it panicked): nothing left to do.
            break;
        }
    }
    worker.finish()
}

/// The worker of a line: by its `actionId`, found by [`scan_action_id`] or else by the
/// full decode; a line without a readable one is refused alike by every worker, so it
/// goes to the first.
fn route(decoder: &Decoder, line: &[u8], workers: usize) -> usize {
    let id = match scan_action_id(line) {
        Some(id) => id,
        None => match decoder.decode(line) {
            Ok(decoded) => decoded.event.action_id(),
            Err(_) => return 0,
        },
    };
    let v = id.as_u128();
    let mixed = ((v as u64) ^ ((v >> 64) as u64)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((u128::from(mixed) * workers as u128) >> 64) as usize
}

/// The `actionId` of a line, found without decoding it: the value of the first key
/// `actionId` of the top-level object, when it is a string without escapes that reads as
/// a UUID. `None` when there is none such; a line where it is wrong does not decode (a
/// valid event has one `actionId`, a hyphenated UUID), and any worker refuses it alike.
///
/// It walks the line's structure (strings, brackets) up to that key, which is the first
/// one in the events producers write: a few bytes.
pub fn scan_action_id(line: &[u8]) -> Option<Uuid> {
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
                        return Uuid::try_parse_ascii(&value[..end]).ok();
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
    let mut batch = LineBatch::default();
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
    let mut buf = Vec::new();
    let mut position = 0;
    while !shutdown.requested() && !settle.stop() {
        let Some(line) = lines.next_line(&mut buf).map_err(StreamError::Read)? else {
            break;
        };
        let number = lines.line_number();
        if number.is_multiple_of(4096) {
            progress.set_position(lines.bytes_read());
        }
        match line {
            Line::TooLarge => {
                // The reader settles it itself: everything before it goes first.
                lanes.submit(std::mem::take(batch), |b, l, v| settle.settled(b, l, v));
                lanes.drain(|b, l, v| settle.settled(b, l, v));
                settle.failed()?;
                position += 1;
                settle.too_large(lines, number, &buf)?;
            }
            Line::Complete if is_blank(&buf) => {}
            Line::Complete => {
                position += 1;
                batch.push(number, position, &buf);
                if batch.is_full() {
                    lanes.submit(std::mem::take(batch), |b, l, v| settle.settled(b, l, v));
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
}
