use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use events_core::AnyEvent;
use serde_json::json;

use crate::{idempotency_key, lock, SinkError};

/// Why an event went to the dead letter. Written with it, so the file says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterReason {
    /// The receiver refused the batch with a 4xx other than 408 and 429: retrying would
    /// not help.
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The start of the response body (at most 4 KiB).
        body: String,
    },
    /// The broker refused the event for good (e.g. larger than its maximum payload).
    Refused {
        /// What the broker said.
        error: String,
    },
    /// Every retry failed.
    RetriesExhausted {
        /// Attempts made, the first included.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
    /// The queue was full and the policy is [`Spill`](crate::FullQueuePolicy::Spill).
    QueueFull {
        /// The queue's capacity, in events.
        capacity: usize,
    },
    /// The sink was closed and its deadline passed before the event was delivered.
    Shutdown {
        /// The last failure, if the event had been tried.
        last_error: Option<String>,
    },
    /// The sink could not take the event (e.g. its file could not be written).
    SendFailed {
        /// What failed.
        error: String,
    },
}

impl DeadLetterReason {
    /// The stable name written as `reason`: `rejected`, `refused`, `retries_exhausted`,
    /// `queue_full`, `shutdown` or `send_failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            DeadLetterReason::Rejected { .. } => "rejected",
            DeadLetterReason::Refused { .. } => "refused",
            DeadLetterReason::RetriesExhausted { .. } => "retries_exhausted",
            DeadLetterReason::QueueFull { .. } => "queue_full",
            DeadLetterReason::Shutdown { .. } => "shutdown",
            DeadLetterReason::SendFailed { .. } => "send_failed",
        }
    }

    fn fields(&self) -> serde_json::Value {
        match self {
            DeadLetterReason::Rejected { status, body } => json!({"status": status, "body": body}),
            DeadLetterReason::RetriesExhausted {
                attempts,
                last_error,
            } => json!({"attempts": attempts, "error": last_error}),
            DeadLetterReason::Refused { error } => json!({"error": error}),
            DeadLetterReason::QueueFull { capacity } => json!({"capacity": capacity}),
            DeadLetterReason::Shutdown { last_error } => json!({"error": last_error}),
            DeadLetterReason::SendFailed { error } => json!({"error": error}),
        }
    }
}

/// Where events that could not be delivered go: an NDJSON file (or memory), one record
/// per event:
///
/// ```json
/// {"sink":"http","reason":"rejected","status":400,"body":"bad field","key":"<actionId>:<state>","event":{...}}
/// ```
///
/// The event is written exactly as the sink would have sent it, so the file can be
/// replayed once the cause is fixed (`jq -c .event dead.ndjson | webaction replay - ...`).
/// A handle is cheap to clone; clones write to the same place. The file is created on
/// the first record, so a run that dead-letters nothing leaves nothing behind.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    target: Mutex<Target>,
    records: AtomicU64,
    failures: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

#[derive(Debug)]
enum Target {
    File {
        path: PathBuf,
        file: Option<BufWriter<File>>,
    },
    Memory(Vec<String>),
}

impl DeadLetter {
    /// Records appended to the file at `path` (created when the first arrives).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        DeadLetter::with(Target::File {
            path: path.into(),
            file: None,
        })
    }

    /// Records kept in memory; read them with [`records`](Self::records).
    pub fn memory() -> Self {
        DeadLetter::with(Target::Memory(Vec::new()))
    }

    fn with(target: Target) -> Self {
        DeadLetter {
            inner: Arc::new(Inner {
                target: Mutex::new(target),
                records: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                first_failure: Mutex::new(None),
            }),
        }
    }

    /// The file's path, for a file dead letter.
    pub fn path(&self) -> Option<PathBuf> {
        match &*self.target() {
            Target::File { path, .. } => Some(path.clone()),
            Target::Memory(_) => None,
        }
    }

    /// Records written so far.
    pub fn len(&self) -> u64 {
        self.inner.records.load(Ordering::Relaxed)
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The records of a memory dead letter, one JSON line each; empty for a file.
    pub fn records(&self) -> Vec<String> {
        match &*self.target() {
            Target::Memory(records) => records.clone(),
            Target::File { .. } => Vec::new(),
        }
    }

    /// Writes one event, as its JSON text `event_json`, with the reason.
    pub fn write(
        &self,
        sink: &str,
        reason: &DeadLetterReason,
        key: &str,
        event_json: &[u8],
    ) -> Result<(), SinkError> {
        self.write_all(sink, reason, std::iter::once((key, event_json)))
    }

    /// Writes an event with the reason.
    pub fn write_event(
        &self,
        sink: &str,
        reason: &DeadLetterReason,
        event: &AnyEvent,
    ) -> Result<(), SinkError> {
        let mut json = Vec::new();
        event
            .write_json(&mut json)
            .map_err(|source| SinkError::Json {
                key: idempotency_key(event),
                source,
            })?;
        self.write(sink, reason, &idempotency_key(event), &json)
    }

    /// Writes several events with the same reason, then flushes the file once.
    pub(crate) fn write_all<'a>(
        &self,
        sink: &str,
        reason: &DeadLetterReason,
        events: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), SinkError> {
        let result = self.try_write_all(sink, reason, events);
        if let Err(error) = &result {
            // The worker has nobody to return this to; remember it for `close`.
            self.inner.failures.fetch_add(1, Ordering::Relaxed);
            let mut first = lock(&self.inner.first_failure);
            first.get_or_insert_with(|| error.to_string());
            tracing::error!(%error, "dead letter write failed");
        }
        result
    }

    fn try_write_all<'a>(
        &self,
        sink: &str,
        reason: &DeadLetterReason,
        events: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<(), SinkError> {
        // `{"sink":..,"reason":..,<reason fields>,"key":` once; then per event the key
        // and the event's own JSON, spliced in as is.
        let mut head = json!({"sink": sink, "reason": reason.kind()});
        if let (Some(head), serde_json::Value::Object(fields)) =
            (head.as_object_mut(), reason.fields())
        {
            head.extend(fields);
        }
        let mut head = serde_json::to_vec(&head).expect("a JSON object serializes");
        head.pop(); // the closing brace
        let mut target = self.target();
        let mut line = Vec::new();
        let mut written = 0;
        for (key, event_json) in events {
            line.clear();
            line.extend_from_slice(&head);
            line.extend_from_slice(b",\"key\":");
            serde_json::to_writer(&mut line, key).expect("a string serializes");
            line.extend_from_slice(b",\"event\":");
            line.extend_from_slice(event_json);
            line.extend_from_slice(b"}\n");
            match &mut *target {
                Target::Memory(records) => {
                    records.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned())
                }
                Target::File { path, file } => {
                    let io = |source| SinkError::Io {
                        target: path.display().to_string(),
                        source,
                    };
                    if file.is_none() {
                        *file = Some(BufWriter::new(open_append(path).map_err(io)?));
                    }
                    let writer = file.as_mut().expect("opened above");
                    writer.write_all(&line).map_err(io)?;
                }
            }
            written += 1;
        }
        if let Target::File {
            path,
            file: Some(file),
        } = &mut *target
        {
            file.flush().map_err(|source| SinkError::Io {
                target: path.display().to_string(),
                source,
            })?;
        }
        self.inner.records.fetch_add(written, Ordering::Relaxed);
        Ok(())
    }

    /// Checks now that the file can be written, so that a run fails before it reads
    /// anything rather than at its first undeliverable event. It never truncates: an
    /// existing file is opened for appending and left as it is; a missing one is created
    /// and removed again, so that a run that dead-letters nothing still leaves nothing
    /// behind. A disk that fills later is only found by the write. Always `Ok` for a
    /// memory dead letter.
    pub fn ensure_writable(&self) -> std::io::Result<()> {
        let Some(path) = self.path() else {
            return Ok(());
        };
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(created) => {
                drop(created);
                std::fs::remove_file(&path)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                OpenOptions::new().append(true).open(&path).map(drop)
            }
            Err(error) => Err(error),
        }
    }

    /// Fails if any record could not be written since the dead letter was made.
    pub fn check(&self) -> Result<(), SinkError> {
        let failures = self.inner.failures.load(Ordering::Relaxed);
        if failures == 0 {
            return Ok(());
        }
        let first = lock(&self.inner.first_failure).clone().unwrap_or_default();
        Err(SinkError::Io {
            target: self
                .path()
                .map_or_else(|| "dead letter".to_owned(), |p| p.display().to_string()),
            source: std::io::Error::other(format!(
                "{failures} dead-letter write(s) failed; first: {first}"
            )),
        })
    }

    fn target(&self) -> MutexGuard<'_, Target> {
        lock(&self.inner.target)
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}
