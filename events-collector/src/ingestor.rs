//! The ingest thread: the one owner of the lifecycle tracker. Requests hand it their
//! events in order; it decodes, enriches, tracks and hands each accepted event to every
//! sink with the request's [`Receipt`], writes each rejected one to the dead letter, and
//! then makes the sinks and the dead letter durable once for everything it took since
//! the last time: many requests share one write, flush and sync (group commit).
//!
//! One thread rather than a mutex around the tracker: the tracker's work per event is
//! small next to a request's parsing and I/O, which stay on the server's threads, and a
//! thread that drains its queue before committing gets group commit for free.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use events_core::ingest::{Emit, IngestBuilder, Outcome};
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
    pub(crate) events: Vec<Range<usize>>,
    /// Told each accepted event's fate, and the dead letter's.
    pub(crate) receipt: Receipt,
    pub(crate) reply: oneshot::Sender<Processed>,
}

/// What ingest made of a request's events; their durability comes through the receipt.
#[derive(Debug, Default)]
pub(crate) struct Processed {
    pub(crate) accepted: usize,
    pub(crate) rejected: Vec<Rejected>,
}

/// One rejected event, as the answer lists it.
#[derive(Debug)]
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

/// The dead letter of rejected events: records are built in memory and appended to the
/// file in one write per commit, so that they never interleave with the records the
/// sinks append to the same file.
pub(crate) struct RejectedFile {
    path: PathBuf,
    letter: RejectedLines<Vec<u8>>,
    file: Option<File>,
    fsync: Fsync,
}

impl RejectedFile {
    pub(crate) fn new(path: &Path, fsync: Fsync) -> Self {
        RejectedFile {
            path: path.to_owned(),
            letter: RejectedLines::new(Vec::new()),
            file: None,
            fsync,
        }
    }

    fn commit(&mut self) -> std::io::Result<()> {
        let records = self.letter.get_mut();
        if records.is_empty() {
            return Ok(());
        }
        let result = (|| {
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
        })();
        records.clear();
        result
    }
}

/// Hands accepted events to every sink with the current request's receipt; an event a
/// sink refuses goes to the sinks' dead letter, as `replay`'s forwarder does.
struct ToSinks {
    sinks: Vec<Arc<dyn Sink>>,
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
        let Some(receipt) = &self.receipt else {
            return;
        };
        for sink in &self.sinks {
            if let Err(error) = sink.send_confirmed(event, receipt) {
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
    mut rejected: RejectedFile,
    metrics: Arc<Metrics>,
    report: Option<Arc<dyn LiveReport>>,
    mut inbox: mpsc::Receiver<Message>,
) {
    let emit = ToSinks {
        sinks: sinks.clone(),
        sink_dead_letter,
        receipt: None,
        report: report.clone(),
        accepted: Vec::new(),
    };
    let mut ingest = builder.build(emit);
    // Receipts waiting for the dead letter's commit.
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
                Message::Job(job) => {
                    ingest.emitter().receipt = Some(job.receipt.clone());
                    let mut processed = Processed::default();
                    for (index, span) in job.events.iter().enumerate() {
                        let raw = &job.body[span.clone()];
                        match ingest.ingest(raw) {
                            Outcome::Emitted | Outcome::Flagged(_) => processed.accepted += 1,
                            outcome => {
                                let error = outcome.error().expect("not emitted");
                                let kind = error.kind().as_str();
                                let media_type = match &outcome {
                                    Outcome::Rejected(rejection) => rejection
                                        .event
                                        .as_ref()
                                        .map_or("unknown", |event| event.media_type_name()),
                                    _ => "unknown",
                                };
                                metrics.rejected(media_type, kind);
                                if let Some(report) = &report {
                                    report.rejected(raw, &outcome);
                                }
                                let message = error.to_string();
                                // Into memory: cannot fail.
                                let _ = rejected.letter.write_in_request(
                                    &job.request_id,
                                    index,
                                    kind,
                                    &message,
                                    raw,
                                );
                                processed.rejected.push(Rejected {
                                    index,
                                    kind,
                                    error: message,
                                });
                            }
                        }
                    }
                    let emitter = ingest.emitter();
                    emitter.receipt = None;
                    for (media_type, n) in emitter.accepted.drain(..) {
                        metrics.accepted(media_type, n);
                    }
                    if let Some(report) = &report {
                        report.counts(ingest.stats());
                    }
                    if !processed.rejected.is_empty() {
                        job.receipt.expect(1);
                        awaiting_letter.push(job.receipt.clone());
                    }
                    job.receipt.seal();
                    // The request may have gone (its client disconnected): nothing to do.
                    let _ = job.reply.send(processed);
                }
            }
            next = inbox.try_recv().ok();
        }
        commit(&sinks, &mut rejected, &mut awaiting_letter);
    }
    commit(&sinks, &mut rejected, &mut awaiting_letter);
}

/// Makes what was taken since the last commit durable, and resolves the receipts
/// waiting for the dead letter.
fn commit(sinks: &[Arc<dyn Sink>], rejected: &mut RejectedFile, awaiting: &mut Vec<Receipt>) {
    for sink in sinks {
        if let Err(error) = sink.commit() {
            tracing::error!(%error, "committing a sink");
        }
    }
    let fate = match rejected.commit() {
        Ok(()) => Fate::Delivered,
        Err(error) => {
            tracing::error!(%error, path = %rejected.path.display(), "writing the dead letter");
            Fate::Lost
        }
    };
    // The dead letter's part of a receipt counts as one "delivered" event when written:
    // a request is answered 200 only once its rejected events are durable too.
    for receipt in awaiting.drain(..) {
        receipt.resolve(fate, 1);
    }
}
