//! Reading newline-delimited JSON: a file or standard input, line by line, with a limit
//! on how much of one line is held in memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
#[cfg(unix)]
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use clap::builder::RangedU64ValueParser;
use events_core::ingest::{
    Emit, IdleTimeout, IllegalPolicy, Ingest, IngestBuilder, TrackerConfig, DEFAULT_MAX_LINE_BYTES,
};
use events_core::Registry;

use crate::CliError;

/// An opened input: a file, or standard input for `-` or no path.
pub struct Input {
    /// The lines.
    pub reader: Box<dyn BufRead + Send>,
    /// The path as given, `-` for standard input: for messages.
    pub path: PathBuf,
    /// The file's size, when known (for progress).
    pub len: Option<u64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("path", &self.path)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// Opens `path`, or standard input when it is `None` or `-`. A missing or unreadable file
/// is a [`CliError::Io`] naming it, and so is a closed standard input (`<&-`): reading it
/// would look like an empty stream, and a pipeline that lost its input must not pass.
pub fn open(path: Option<&Path>) -> Result<Input, CliError> {
    match path {
        None => stdin(),
        Some(path) if path == Path::new("-") => stdin(),
        Some(path) => {
            let file = File::open(path).map_err(|e| CliError::io("cannot open", path, e))?;
            let metadata = file
                .metadata()
                .map_err(|e| CliError::io("cannot read", path, e))?;
            if metadata.is_dir() {
                return Err(CliError::io(
                    "cannot read",
                    path,
                    io::Error::other("is a directory"),
                ));
            }
            Ok(Input {
                reader: Box::new(BufReader::with_capacity(1 << 16, file)),
                path: path.to_owned(),
                len: Some(metadata.len()),
            })
        }
    }
}

fn stdin() -> Result<Input, CliError> {
    let stdin = io::stdin();
    if let Err(error) = stdin_is_open(&stdin) {
        return Err(CliError::io("cannot read", "-", error));
    }
    Ok(Input {
        reader: Box::new(BufReader::with_capacity(1 << 16, stdin)),
        path: PathBuf::from("-"),
        len: None,
    })
}

/// A closed descriptor 0 (`<&-`) is not seen as closed: at start-up the standard library
/// opens `/dev/null` in its place, read-write, so it reads as an empty stream. A shell's
/// `< /dev/null` opens it read-only, so read-write `/dev/null` on descriptor 0 is taken
/// for a closed standard input.
#[cfg(unix)]
fn stdin_is_open(stdin: &io::Stdin) -> io::Result<()> {
    use rustix::fs::{fcntl_getfl, OFlags};
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let metadata = File::from(stdin.as_fd().try_clone_to_owned()?).metadata()?;
    let null = std::fs::metadata("/dev/null")?;
    let read_write = fcntl_getfl(stdin)? & OFlags::ACCMODE == OFlags::RDWR;
    if metadata.file_type().is_char_device() && metadata.rdev() == null.rdev() && read_write {
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "standard input is closed",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn stdin_is_open(_: &io::Stdin) -> io::Result<()> {
    Ok(())
}

/// Limits shared by the commands that ingest a stream. Each is range-checked when the
/// command line is parsed: a value the tracker cannot serve is a usage error naming the
/// option and its range, not a hang or an overflow later.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// Lines longer than this many bytes are rejected as `too_large` (the `\r` of a CRLF
    /// line end does not count).
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_MAX_LINE_BYTES,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_LINE_BYTES))]
    pub max_line_bytes: usize,
    /// The most actions whose lifecycle is tracked at once; beyond it the least recently
    /// seen is forgotten.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_ACTIONS))]
    pub max_actions: usize,
    /// Forget an action once more than this many lines pass without an event of it
    /// (default: never; the cap still bounds memory).
    #[arg(long, value_name = "LINES",
        value_parser = RangedU64ValueParser::<u32>::new().range(1..=u64::from(u32::MAX)))]
    pub idle_lines: Option<u32>,
    /// Ingest on this many threads (default: the available parallelism). Lines are routed
    /// to a thread by their `actionId`, so that each action's events are judged in order,
    /// and the results are merged back in input order: the output is the same as with
    /// `--threads 1`, except that `--max-actions` is split between the threads (each
    /// evicts among its own actions) and `--idle-lines` may forget an action that is idle
    /// between once and twice the limit at a different line.
    #[arg(long, value_name = "N",
        value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_THREADS))]
    pub threads: Option<usize>,
}

/// The most `--threads`: a line's thread is stored in 16 bits.
const MAX_THREADS: u64 = 1 << 16;

/// The longest line limit accepted: 1 GiB. Lines are held in memory up to the limit.
const MAX_LINE_BYTES: u64 = 1 << 30;

/// The most actions the tracker can serve.
const MAX_ACTIONS: u64 = TrackerConfig::MAX_ACTIONS as u64;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            max_actions: 1_000_000,
            idle_lines: None,
            threads: Some(1),
        }
    }
}

impl Limits {
    /// An ingest pipeline with these limits, quarantining illegal transitions. Idleness is
    /// counted in lines, so that a file gives the same result however fast it is read.
    pub fn ingest<E: Emit>(&self, registry: &Registry, emit: E) -> Ingest<E> {
        self.worker_ingest(registry, emit, 1)
    }

    /// The threads to ingest on: `--threads`, or the available parallelism.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(crate::lanes::default_threads)
    }

    /// The pipeline of one of `workers` ingest threads: as [`ingest`](Self::ingest), with
    /// its share of `--max-actions`.
    pub fn worker_ingest<E: Emit>(
        &self,
        registry: &Registry,
        emit: E,
        workers: usize,
    ) -> Ingest<E> {
        self.worker_builder(registry, workers).build(emit)
    }

    /// The builder of [`ingest`](Self::ingest)'s pipeline, for a caller that adds to it
    /// (enrichment) or builds it elsewhere (`serve`'s ingest thread).
    pub fn builder(&self, registry: &Registry) -> IngestBuilder {
        self.worker_builder(registry, 1)
    }

    /// The builder of one partition's pipeline of `partitions` (`webaction consume`):
    /// its share of `--max-actions`, as one of that many threads.
    pub fn partition_builder(&self, registry: &Registry, partitions: usize) -> IngestBuilder {
        self.worker_builder(registry, partitions)
    }

    fn worker_builder(&self, registry: &Registry, workers: usize) -> IngestBuilder {
        Ingest::builder(registry.clone())
            .max_line_bytes(self.max_line_bytes)
            .max_actions(self.max_actions.div_ceil(workers))
            .idle_timeout(self.idle_lines.map(IdleTimeout::Events))
            .illegal(IllegalPolicy::Quarantine)
    }
}

/// A read or a write failed while streaming.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Reading the input failed.
    #[error("read: {0}")]
    Read(#[source] io::Error),
    /// Writing the dead letter failed.
    #[error("write: {0}")]
    Write(#[source] io::Error),
}

/// One line as [`LineReader::next_line`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The whole line is in the buffer, without its `\n` (a `\r` before it is kept).
    Complete,
    /// The line is longer than the limit: the buffer holds its first bytes (more than
    /// `limit`, at most `limit + 2`), and [`LineReader::drain_rest`] reads the rest.
    TooLarge,
}

/// The UTF-8 byte order mark. RFC 8259 (§8.1) lets a parser ignore one at the start of a
/// text, and editors on Windows write it; at the start of the stream it is skipped.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits a stream into lines on `\n`, numbering them from 1 (blank lines included).
///
/// The length limit counts a line's content: the `\r` of a CRLF line end does not count,
/// so that the same events pass the same limit whichever line ends a file has.
#[derive(Debug)]
pub struct LineReader<R> {
    reader: R,
    limit: usize,
    number: u64,
    bytes: u64,
    /// The last too-large line ended within what was read (its `\n` is consumed), so
    /// [`drain_rest`](Self::drain_rest) has nothing to read.
    rest_consumed: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads `reader`, holding at most `limit + 1` bytes of a line.
    pub fn new(reader: R, limit: usize) -> Self {
        LineReader {
            reader,
            limit,
            number: 0,
            bytes: 0,
            rest_consumed: false,
        }
    }

    /// The number of the last line read (1-based).
    pub fn line_number(&self) -> u64 {
        self.number
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Reads the next line into `buf` (cleared first); `None` at the end of input.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
        buf.clear();
        self.append_line(buf)
    }

    /// Reads the next line onto the end of `buf`, after what it holds (so that lines can
    /// be gathered in one buffer without a copy each); `None` at the end of input. The
    /// limit counts only the line's own bytes.
    pub fn append_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
        let start = buf.len();
        self.rest_consumed = false;
        let mut started = false;
        if self.number == 0 && self.bytes == 0 {
            started = self.skip_bom(buf)?;
        }
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !started {
                    return Ok(None);
                }
                self.number += 1;
                return Ok(Some(self.judge(&buf[start..])));
            }
            started = true;
            let newline = memchr::memchr(b'\n', available);
            let content = newline.unwrap_or(available.len());
            // Room for the limit, a `\r` that may end the line, and one byte more to tell
            // that the line is too long.
            let room = self.limit + 2 - (buf.len() - start);
            if content >= room {
                buf.extend_from_slice(&available[..room]);
                self.reader.consume(room);
                self.bytes += room as u64;
                self.number += 1;
                return Ok(Some(Line::TooLarge));
            }
            buf.extend_from_slice(&available[..content]);
            let used = content + usize::from(newline.is_some());
            self.reader.consume(used);
            self.bytes += used as u64;
            if newline.is_some() {
                self.number += 1;
                return Ok(Some(self.judge(&buf[start..])));
            }
        }
    }

    /// The next line, when it lies whole in the reader's buffer within the limit: `with`
    /// gets its bytes (without the `\n`) where they lie, and the line is consumed, so that
    /// a caller that decides where a line goes by its bytes copies it once, there. `None`,
    /// with nothing consumed, when it does not (a line across the buffer's end, over the
    /// limit, the last one without a `\n`, the first of the stream, which may start with a
    /// byte order mark): then [`append_line`](Self::append_line) reads it.
    pub fn buffered_line<T>(&mut self, with: impl FnOnce(&[u8]) -> T) -> io::Result<Option<T>> {
        if self.number == 0 && self.bytes == 0 {
            return Ok(None);
        }
        let available = match self.reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(newline) = memchr::memchr(b'\n', available) else {
            return Ok(None);
        };
        let line = &available[..newline];
        if line.strip_suffix(b"\r").unwrap_or(line).len() > self.limit {
            return Ok(None);
        }
        let value = with(line);
        self.reader.consume(newline + 1);
        self.bytes += newline as u64 + 1;
        self.number += 1;
        self.rest_consumed = false;
        Ok(Some(value))
    }

    /// Whether a whole line in `buf` fits the limit, its CRLF `\r` not counted.
    fn judge(&mut self, buf: &[u8]) -> Line {
        let content = buf.strip_suffix(b"\r").unwrap_or(buf);
        if content.len() > self.limit {
            self.rest_consumed = true;
            Line::TooLarge
        } else {
            Line::Complete
        }
    }

    /// Consumes a byte order mark at the start of the stream. Bytes that only begin like
    /// one are the start of the first line: they go to `buf`, and `true` says so.
    fn skip_bom(&mut self, buf: &mut Vec<u8>) -> io::Result<bool> {
        let mut matched = 0;
        while matched < BOM.len() {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.first() != Some(&BOM[matched]) {
                break;
            }
            self.reader.consume(1);
            self.bytes += 1;
            matched += 1;
        }
        if matched == BOM.len() {
            return Ok(false);
        }
        buf.extend_from_slice(&BOM[..matched]);
        Ok(matched > 0)
    }

    /// After [`Line::TooLarge`]: passes the rest of the line to `each` chunk by chunk,
    /// consuming its `\n`; returns how many bytes the rest held.
    pub fn drain_rest(&mut self, mut each: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<u64> {
        if std::mem::take(&mut self.rest_consumed) {
            return Ok(0);
        }
        let mut total = 0;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(available) => available,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(total);
            }
            let newline = memchr::memchr(b'\n', available);
            let content = newline.unwrap_or(available.len());
            each(&available[..content])?;
            total += content as u64;
            let used = content + usize::from(newline.is_some());
            self.reader.consume(used);
            self.bytes += used as u64;
            if newline.is_some() {
                return Ok(total);
            }
        }
    }
}

/// Whether a line holds only spaces, tabs and carriage returns: skipped, not an error.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limit: usize) -> Vec<(Vec<u8>, Line, u64)> {
        // A tiny buffer makes lines cross `fill_buf` boundaries.
        let mut reader = LineReader::new(BufReader::with_capacity(3, input), limit);
        let mut out = Vec::new();
        let mut buf = Vec::new();
        while let Some(line) = reader.next_line(&mut buf).unwrap() {
            let mut whole = buf.clone();
            if line == Line::TooLarge {
                reader
                    .drain_rest(|chunk| {
                        whole.extend_from_slice(chunk);
                        Ok(())
                    })
                    .unwrap();
            }
            out.push((whole, line, reader.line_number()));
        }
        out
    }

    #[test]
    fn splits_on_newlines_keeping_carriage_returns_and_a_last_unterminated_line() {
        let got = lines(b"ab\r\n\ncdef\ng", 100);
        let texts: Vec<&[u8]> = got.iter().map(|(t, _, _)| t.as_slice()).collect();
        assert_eq!(texts, [&b"ab\r"[..], b"", b"cdef", b"g"]);
        assert_eq!(got.iter().map(|l| l.2).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    /// Lines taken where they lie in the buffer whenever they can be, and read otherwise,
    /// are the lines `append_line` alone reads, with the same numbers and byte counts.
    #[test]
    fn buffered_lines_are_the_lines_append_line_reads() {
        let input = b"\xEF\xBB\xBFfirst\nab\r\n\n123456789\ncd\r\n0123\r\nlast";
        for capacity in 1..input.len() + 2 {
            let mut reader = LineReader::new(BufReader::with_capacity(capacity, &input[..]), 5);
            let mut got = Vec::new();
            let mut buf = Vec::new();
            loop {
                let before = reader.line_number();
                if let Some(line) = reader.buffered_line(<[u8]>::to_vec).unwrap() {
                    assert_eq!(reader.line_number(), before + 1);
                    got.push((line, Line::Complete, reader.bytes_read()));
                    continue;
                }
                let Some(line) = reader.next_line(&mut buf).unwrap() else {
                    break;
                };
                if line == Line::TooLarge {
                    reader.drain_rest(|_| Ok(())).unwrap();
                }
                got.push((buf.clone(), line, reader.bytes_read()));
            }
            let texts: Vec<&[u8]> = got.iter().map(|(text, _, _)| &text[..]).collect();
            assert_eq!(
                texts,
                [
                    &b"first"[..],
                    b"ab\r",
                    b"",
                    b"1234567",
                    b"cd\r",
                    b"0123\r",
                    b"last"
                ],
                "buffer of {capacity}"
            );
            let kinds: Vec<Line> = got.iter().map(|line| line.1).collect();
            assert_eq!(kinds[3], Line::TooLarge, "buffer of {capacity}");
            assert!(kinds
                .iter()
                .enumerate()
                .all(|(i, &k)| i == 3 || k == Line::Complete));
            let ends: Vec<u64> = got.iter().map(|line| line.2).collect();
            assert_eq!(ends, [9, 13, 14, 24, 28, 34, 38], "buffer of {capacity}");
        }
    }

    #[test]
    fn a_line_over_the_limit_is_too_large_and_the_next_line_is_intact() {
        let got = lines(b"12345678\n123\n1234", 4);
        assert_eq!(got[0], (b"12345678".to_vec(), Line::TooLarge, 1));
        assert_eq!(got[1], (b"123".to_vec(), Line::Complete, 2));
        assert_eq!(got[2], (b"1234".to_vec(), Line::Complete, 3));
        assert_eq!(lines(b"12345\n", 4)[0].1, Line::TooLarge);
    }
}
