//! The ingest thread: the one owner of the lifecycle tracker. Requests decode their
//! events on their own threads and hand them over in order; it enriches, tracks and
//! hands each accepted event to every sink with the request's [`Receipt`], and builds a
//! dead-letter record for each rejected one. Then it asks the commit thread to make the
//! sinks and the dead letter durable, and goes on with the next requests while that
//! commit writes and syncs. The commit thread takes every ask made while it was busy at
//! once: many requests share one write, flush and sync (group commit).
//!
//! One thread rather than a mutex around the tracker: the tracker's verdicts are those
//! of `webaction check` over the same events in the same order, and the requests'
//! threads never wait for each other's tracking. What can run on any
//! thread — parsing the body, decoding each event — runs on the requests' threads
//! ([`Ingest::ingest_decoded_batch`](events_core::ingest::Ingest::ingest_decoded_batch)).

use std::cell::Cell;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use events_core::ingest::{
    Decoded, Decoder, Emit, Enrich, Ingest, IngestBuilder, IngestError, Outcome,
};
use events_core::AnyEvent;
use events_sinks::{
    DeadLetter, DeadLetterReason, Fate, Fsync, Receipt, RejectedLines, Sink, SinkError,
};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;
use crate::report::LiveReport;

/// One request's events, for the ingest thread.
#[derive(Debug)]
pub(crate) struct Job {
    /// Names the request in the dead letter.
    pub(crate) request_id: String,
    pub(crate) body: Bytes,
    /// Where each event is in `body`.
    pub(crate) events: Arc<[Range<usize>]>,
    /// Each event decoded, enriched and written as JSON on the request's thread.
    pub(crate) prepared: Prepared,
    pub(crate) work: Work,
    /// Told each accepted event's fate at the sinks.
    pub(crate) receipt: Receipt,
    /// Told the dead letter's fate: one event for all the rejected records, if any.
    pub(crate) letter: Receipt,
    pub(crate) reply: oneshot::Sender<Reply>,
}

/// The ingest thread's answer to a job.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) processed: Processed,
    /// The job's events, given back to be dropped on the request's thread, which
    /// allocated them (see
    /// [`Ingest::ingest_decoded_batch_keeping`](events_core::ingest::Ingest::ingest_decoded_batch_keeping)):
    /// the ingest thread, which every event goes through, does not free them. They are
    /// held until the request is answered, as its body is: within
    /// [`Config::max_unconfirmed_events`](crate::Config::max_unconfirmed_events).
    pub(crate) spent: Vec<Box<AnyEvent>>,
}

/// A request's events made ready on the request's own thread — decoded, enriched, and
/// each decoded one written as JSON for the sinks — so that the ingest thread only
/// tracks them and hands them on.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    pub(crate) decoded: Vec<Result<Decoded, IngestError>>,
    /// The JSON of the decoded events, one after the other.
    json: Vec<u8>,
    /// Where each line's JSON is in `json`: none for a line that did not decode, or an
    /// event that cannot be written (its sinks then write it, and say why they cannot).
    json_spans: Vec<Option<Range<usize>>>,
}

impl Prepared {
    /// Decodes the events at `spans` of `body`, enriches them (one request at a time:
    /// `enrich` is one function), and writes each as JSON: what `Ingest::ingest` would
    /// do before tracking, and what the sinks would do after.
    pub(crate) fn new(
        decoder: &Decoder,
        enrich: Option<&Mutex<Enrich>>,
        body: &[u8],
        spans: &[Range<usize>],
    ) -> Self {
        let mut decoded: Vec<Result<Decoded, IngestError>> = spans
            .iter()
            .map(|span| decoder.decode(&body[span.clone()]))
            .collect();
        if let Some(enrich) = enrich {
            let mut enrich = enrich.lock().unwrap_or_else(PoisonError::into_inner);
            for line in decoded.iter_mut().flatten() {
                enrich(&mut *line.event);
            }
        }
        let mut json = Vec::with_capacity(body.len() + body.len() / 4);
        let json_spans = decoded
            .iter()
            .map(|line| {
                let event = &line.as_ref().ok()?.event;
                let start = json.len();
                match event.write_json(&mut json) {
                    Ok(()) => Some(start..json.len()),
                    Err(_) => {
                        json.truncate(start);
                        None
                    }
                }
            })
            .collect();
        Prepared {
            decoded,
            json,
            json_spans,
        }
    }
}

/// What the ingest thread does with a job's events.
#[derive(Debug)]
pub(crate) enum Work {
    /// Track them: new events.
    Track,
    /// Deliver again what was tracked before with these verdicts and not confirmed —
    /// the accepted events to the sinks (`sinks`), the rejected ones' records to the
    /// dead letter (`letter`) — judging nothing twice.
    Redeliver {
        verdicts: Arc<Processed>,
        sinks: bool,
        letter: bool,
    },
}

/// What ingest made of a request's events; their durability comes through the receipt.
#[derive(Debug, Default, Clone)]
pub(crate) struct Processed {
    pub(crate) accepted: usize,
    /// In the order of their index.
    pub(crate) rejected: Vec<Rejected>,
}

/// One rejected event, as the answer lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Rejected {
    pub(crate) index: usize,
    pub(crate) kind: &'static str,
    pub(crate) error: String,
}

/// What the ingest thread receives.
#[derive(Debug)]
pub(crate) enum Message {
    Job(Job),
    /// No more jobs: commit and stop.
    Stop,
}

/// The dead letter of rejected events, on the commit thread: the ingest thread builds
/// the records in memory, and they are appended to the file in one write per commit, so
/// that they never interleave with the records the sinks append to the same file.
pub(crate) struct RejectedFile {
    path: PathBuf,
    file: Option<File>,
    fsync: Fsync,
}

impl RejectedFile {
    pub(crate) fn new(path: &Path, fsync: Fsync) -> Self {
        RejectedFile {
            path: path.to_owned(),
            file: None,
            fsync,
        }
    }

    fn commit(&mut self, records: &[u8]) -> std::io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&self.path)?,
            );
        }
        let file = self.file.as_mut().expect("opened above");
        file.write_all(records)?;
        if self.fsync == Fsync::OnCommit {
            file.sync_data()?;
        }
        Ok(())
    }
}

/// What the ingest thread asks the commit thread to make durable: the dead-letter
/// records built since the last time, the receipts waiting for them, and (always)
/// whatever the sinks hold.
#[derive(Debug, Default)]
pub(crate) struct Commit {
    records: Vec<u8>,
    awaiting: Vec<Receipt>,
}

/// Hands accepted events to every sink with the current request's receipt; an event a
/// sink refuses goes to the sinks' dead letter, as `replay`'s forwarder does.
struct ToSinks {
    sinks: Vec<Arc<dyn Sink>>,
    /// The current job's events as JSON, and where each line's is.
    json: Vec<u8>,
    json_spans: Vec<Option<Range<usize>>>,
    /// The line of the current job being settled: the one an emitted event is.
    line: Rc<Cell<usize>>,
    sink_dead_letter: DeadLetter,
    receipt: Option<Receipt>,
    report: Option<Arc<dyn LiveReport>>,
    /// Accepted events by media type in the current request: the metric is updated
    /// once per request, not per event.
    accepted: Vec<(&'static str, u64)>,
}

impl Emit for ToSinks {
    fn emit(&mut self, event: &AnyEvent) {
        self.emit_step(event, None);
    }

    // The step costs a tracker lookup per event: only a report needs it.
    fn wants_steps(&self) -> bool {
        self.report.is_some()
    }

    fn emit_step(&mut self, event: &AnyEvent, from: Option<&'static str>) {
        let media_type = event.media_type_name();
        match self
            .accepted
            .iter_mut()
            .find(|(name, _)| *name == media_type)
        {
            Some((_, n)) => *n += 1,
            None => self.accepted.push((media_type, 1)),
        }
        if let Some(report) = &self.report {
            report.accepted(event, from);
        }
        self.deliver(event);
    }
}

impl ToSinks {
    /// Takes `job`'s receipt and prepared JSON for the events it is about to be handed;
    /// gives back the decoded events.
    fn begin(&mut self, job: &mut Job) -> Vec<Result<Decoded, IngestError>> {
        let Prepared {
            decoded,
            json,
            json_spans,
        } = std::mem::take(&mut job.prepared);
        self.receipt = Some(job.receipt.clone());
        (self.json, self.json_spans) = (json, json_spans);
        decoded
    }

    /// The job is handed over: nothing more goes with its receipt.
    fn end(&mut self) {
        self.receipt = None;
        self.json.clear();
        self.json_spans.clear();
    }

    /// Hands `event` to every sink, uncounted: an event accepted now, or one accepted
    /// before whose delivery was not confirmed.
    fn deliver(&self, event: &AnyEvent) {
        let Some(receipt) = &self.receipt else {
            return;
        };
        let json = self
            .json_spans
            .get(self.line.get())
            .cloned()
            .flatten()
            .map(|span| &self.json[span]);
        for sink in &self.sinks {
            let sent = match json {
                Some(json) => sink.send_confirmed_json(event, json, receipt),
                None => sink.send_confirmed(event, receipt),
            };
            if let Err(error) = sent {
                refused(&self.sink_dead_letter, receipt, event, &error);
            }
        }
    }
}

fn refused(dead_letter: &DeadLetter, receipt: &Receipt, event: &AnyEvent, error: &SinkError) {
    tracing::error!(%error, "a sink refused an event");
    let reason = DeadLetterReason::SendFailed {
        error: error.to_string(),
    };
    receipt.expect(1);
    let fate = match dead_letter.write_event("collector", &reason, event) {
        Ok(()) => Fate::DeadLettered,
        Err(_) => Fate::Lost,
    };
    receipt.resolve(fate, 1);
}

/// Runs the ingest thread until [`Message::Stop`] (or every sender is gone).
pub(crate) fn run(
    builder: IngestBuilder,
    sinks: Vec<Arc<dyn Sink>>,
    sink_dead_letter: DeadLetter,
    metrics: Arc<Metrics>,
    report: Option<Arc<dyn LiveReport>>,
    mut inbox: mpsc::Receiver<Message>,
    commits: std::sync::mpsc::Sender<Commit>,
) {
    let emit = ToSinks {
        sinks: sinks.clone(),
        json: Vec::new(),
        json_spans: Vec::new(),
        line: Rc::default(),
        sink_dead_letter,
        receipt: None,
        report: report.clone(),
        accepted: Vec::new(),
    };
    // For the media type of a line that failed to decode, in the metrics.
    let decoder = builder.decoder();
    let mut ingest = builder.build(emit);
    // The dead-letter records and the receipts waiting for them, until the next commit.
    let mut rejected = RejectedLines::new(Vec::new());
    let mut awaiting_letter: Vec<Receipt> = Vec::new();
    let mut stop = false;
    while !stop {
        let Some(first) = inbox.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        // Everything queued now goes into this commit.
        while let Some(message) = next.take() {
            match message {
                Message::Stop => {
                    stop = true;
                    break;
                }
                Message::Job(mut job) => {
                    let (processed, spent, letter_written) = match &job.work {
                        Work::Track => {
                            let (processed, spent) = track(
                                &mut ingest,
                                &mut job,
                                &mut rejected,
                                &decoder,
                                &metrics,
                                &report,
                            );
                            (processed, spent, true)
                        }
                        Work::Redeliver {
                            verdicts,
                            sinks,
                            letter,
                        } => {
                            let (verdicts, sinks, letter) = (Arc::clone(verdicts), *sinks, *letter);
                            redeliver(
                                &mut ingest,
                                &mut job,
                                &mut rejected,
                                &verdicts,
                                sinks,
                                letter,
                            );
                            ((*verdicts).clone(), Vec::new(), letter)
                        }
                    };
                    if letter_written && !processed.rejected.is_empty() {
                        job.letter.expect(1);
                        awaiting_letter.push(job.letter.clone());
                    }
                    job.receipt.seal();
                    job.letter.seal();
                    // The request may have gone (its client disconnected): nothing to do.
                    let _ = job.reply.send(Reply { processed, spent });
                    // Each job's commit is asked for as soon as it is handed over, not
                    // after the whole drain: answered at the end of a long drain, the
                    // connections would all send again at once, and decode, track and
                    // commit would take turns instead of overlapping. The commit
                    // thread still takes every ask made during its last commit at once.
                    ask_commit(&commits, &mut rejected, &mut awaiting_letter);
                }
            }
            next = inbox.try_recv().ok();
        }
    }
    ask_commit(&commits, &mut rejected, &mut awaiting_letter);
}

/// Hands what was taken since the last time to the commit thread, which makes it
/// durable while this one goes on: the next requests are tracked during the last ones'
/// write and sync (pipelined group commit).
fn ask_commit(
    commits: &std::sync::mpsc::Sender<Commit>,
    rejected: &mut RejectedLines<Vec<u8>>,
    awaiting: &mut Vec<Receipt>,
) {
    let records = std::mem::take(rejected.get_mut());
    let awaiting = std::mem::take(awaiting);
    // The commit thread is gone only if it panicked: then nothing is confirmed, and the
    // receipts dropped unresolved answer 503 at the ack timeout.
    let _ = commits.send(Commit { records, awaiting });
}

/// Runs the commit thread until the ingest thread is gone: each commit takes every
/// request made while the last one ran.
pub(crate) fn commit_all(
    sinks: Vec<Arc<dyn Sink>>,
    mut file: RejectedFile,
    requests: std::sync::mpsc::Receiver<Commit>,
) {
    while let Ok(mut next) = requests.recv() {
        while let Ok(more) = requests.try_recv() {
            next.records.extend_from_slice(&more.records);
            next.awaiting.extend(more.awaiting);
        }
        commit(&sinks, &mut file, &next.records, next.awaiting);
    }
}

/// Tracks a job's events, delivers the accepted ones and writes the rejected ones to
/// the dead letter (in memory, until the commit).
fn track(
    ingest: &mut Ingest<ToSinks>,
    job: &mut Job,
    rejected: &mut RejectedLines<Vec<u8>>,
    decoder: &Decoder,
    metrics: &Metrics,
    report: &Option<Arc<dyn LiveReport>>,
) -> (Processed, Vec<Box<AnyEvent>>) {
    let decoded = ingest.emitter().begin(job);
    let emitter = ingest.emitter();
    // An event is emitted while its line is settled, after every line before it (the
    // tracker judges in order): the line to find its JSON at is the one after the last
    // settled.
    let line = Rc::clone(&emitter.line);
    line.set(0);
    let mut processed = Processed::default();
    let mut spent = Vec::with_capacity(decoded.len());
    ingest.ingest_decoded_batch_keeping(decoded, &mut spent, |index, outcome| {
        line.set(index + 1);
        let raw = &job.body[job.events[index].clone()];
        let error = match &outcome {
            Outcome::Emitted | Outcome::Flagged(_) => {
                processed.accepted += 1;
                return;
            }
            outcome => outcome.error().expect("not emitted"),
        };
        let kind = error.kind().as_str();
        // Labelled by the media type the line names, when it names a registered one,
        // even if it did not decode: `unknown` only when it names none.
        let media_type = match &outcome {
            Outcome::Rejected(rejection) => match &rejection.event {
                Some(event) => Some(event.media_type_name()),
                None => decoder.media_type_of(raw),
            },
            Outcome::Dropped(illegal) => Some(illegal.media_type),
            _ => decoder.media_type_of(raw),
        };
        metrics.rejected(media_type.unwrap_or("unknown"), kind);
        if let Some(report) = report {
            report.rejected(raw, &outcome);
        }
        let message = error.to_string();
        // Into memory: cannot fail.
        let _ = rejected.write_in_request(&job.request_id, index, kind, &message, raw);
        processed.rejected.push(Rejected {
            index,
            kind,
            error: message,
        });
    });
    let emitter = ingest.emitter();
    emitter.end();
    for (media_type, n) in emitter.accepted.drain(..) {
        metrics.accepted(media_type, n);
    }
    if let Some(report) = report {
        report.counts(ingest.stats());
    }
    (processed, spent)
}

/// Delivers again the events of a job tracked before under `verdicts`: the accepted
/// ones to the sinks (prepared again from the first body, not tracked), and the rejected ones' records to
/// the dead letter, as far as each was not confirmed. Counted nowhere: they were when
/// they were tracked.
fn redeliver(
    ingest: &mut Ingest<ToSinks>,
    job: &mut Job,
    rejected: &mut RejectedLines<Vec<u8>>,
    verdicts: &Processed,
    sinks: bool,
    letter: bool,
) {
    if sinks {
        let decoded = ingest.emitter().begin(job);
        let emitter = ingest.emitter();
        let mut refused = verdicts.rejected.iter().map(|r| r.index).peekable();
        for (index, decoded) in decoded.into_iter().enumerate() {
            if refused.next_if_eq(&index).is_some() {
                continue;
            }
            match decoded {
                Ok(Decoded { event, .. }) => {
                    emitter.line.set(index);
                    emitter.deliver(&*event);
                }
                // The same bytes through the same decoder decode the same way; if they
                // ever did not, the event is not confirmed and the batch stays held.
                Err(error) => {
                    tracing::error!(%error, index, "an accepted event no longer decodes");
                    job.receipt.expect(1);
                    job.receipt.resolve(Fate::Lost, 1);
                }
            }
        }
        emitter.end();
    }
    if letter {
        for refused in &verdicts.rejected {
            let raw = &job.body[job.events[refused.index].clone()];
            let _ = rejected.write_in_request(
                &job.request_id,
                refused.index,
                refused.kind,
                &refused.error,
                raw,
            );
        }
    }
}

/// Makes what was taken since the last commit durable, and resolves the receipts
/// waiting for the dead letter.
fn commit(
    sinks: &[Arc<dyn Sink>],
    file: &mut RejectedFile,
    records: &[u8],
    awaiting: Vec<Receipt>,
) {
    for sink in sinks {
        if let Err(error) = sink.commit() {
            tracing::error!(%error, "committing a sink");
        }
    }
    let fate = match file.commit(records) {
        Ok(()) => Fate::Delivered,
        Err(error) => {
            tracing::error!(%error, path = %file.path.display(), "writing the dead letter");
            Fate::Lost
        }
    };
    // The dead letter's part of a receipt counts as one "delivered" event when written:
    // a request is answered 200 only once its rejected events are durable too.
    for receipt in awaiting {
        receipt.resolve(fate, 1);
    }
}
