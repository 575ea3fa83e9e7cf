//! Why a line was rejected: one error type for every stage of ingest, with a stable kind.

use std::fmt;

use uuid::Uuid;

use crate::event::EventError;

/// The stable name of an [`IngestError`]'s kind. The names (see [`as_str`](Self::as_str))
/// are part of the contract: the `webaction check` command and dead-letter files use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `malformed_json`: not a JSON object (syntax error, trailing data, invalid UTF-8).
    MalformedJson,
    /// `missing_field`: a required field is absent.
    MissingField,
    /// `invalid_field`: a field has the wrong JSON type, is not a UUID, is out of range, or
    /// appears twice.
    InvalidField,
    /// `unknown_media_type`: `actionMediaType` names no registered media type.
    UnknownMediaType,
    /// `unknown_state`: `actionState` is not a state of the media type.
    UnknownState,
    /// `illegal_transition`: the state does not follow the action's previous state.
    IllegalTransition,
    /// `too_large`: the line is longer than the configured limit.
    TooLarge,
}

impl ErrorKind {
    /// Every kind, in the order reports list them.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::MalformedJson,
        ErrorKind::MissingField,
        ErrorKind::InvalidField,
        ErrorKind::UnknownMediaType,
        ErrorKind::UnknownState,
        ErrorKind::IllegalTransition,
        ErrorKind::TooLarge,
    ];

    /// The kind's stable name, e.g. `malformed_json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::MalformedJson => "malformed_json",
            ErrorKind::MissingField => "missing_field",
            ErrorKind::InvalidField => "invalid_field",
            ErrorKind::UnknownMediaType => "unknown_media_type",
            ErrorKind::UnknownState => "unknown_state",
            ErrorKind::IllegalTransition => "illegal_transition",
            ErrorKind::TooLarge => "too_large",
        }
    }

    /// The position of this kind in [`ALL`](Self::ALL), for counting by kind in an array.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The kind with this stable name.
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl EventError {
    /// The error's stable kind: [`MissingField`](ErrorKind::MissingField),
    /// [`InvalidField`](ErrorKind::InvalidField) or
    /// [`UnknownState`](ErrorKind::UnknownState). A wrong media type counts as
    /// `InvalidField` here: it is a valid media type, only not the one expected.
    pub fn error_kind(&self) -> ErrorKind {
        match self {
            EventError::MissingField { .. } => ErrorKind::MissingField,
            EventError::InvalidField { .. } | EventError::WrongMediaType { .. } => {
                ErrorKind::InvalidField
            }
            EventError::UnknownState(_) => ErrorKind::UnknownState,
        }
    }

    /// The stable name of this error's kind: `missing_field`, `invalid_field` or
    /// `unknown_state`. A wrong media type counts as `invalid_field` here: it is a valid
    /// media type, only not the one expected.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
    }
}

/// Why one line of input was not accepted as a valid event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The line is not well-formed JSON, or not valid UTF-8.
    #[error("malformed JSON: {message}")]
    MalformedJson {
        /// The parser's message, with the column where it stopped.
        message: String,
        /// The byte offset in the line where the parser stopped, when known.
        column: Option<usize>,
    },
    /// The line is longer than the configured limit; it was not parsed.
    #[error("line of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The line's length in bytes (at least `max + 1` when the reader stopped early).
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// `actionMediaType` is not a registered media type.
    #[error("unknown media type `{found}`{}; registered: {}",
        .suggestion.map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default(),
        .registered.join(", "))]
    UnknownMediaType {
        /// The `actionMediaType` given.
        found: String,
        /// The closest registered wire name, when one is close.
        suggestion: Option<&'static str>,
        /// Every registered wire name.
        registered: Vec<&'static str>,
    },
    /// A well-formed object that is not a valid event of its media type.
    #[error(transparent)]
    Event(#[from] EventError),
    /// A valid event whose state does not follow its action's last accepted state.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
}

impl IngestError {
    /// The error's stable kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            IngestError::MalformedJson { .. } => ErrorKind::MalformedJson,
            IngestError::TooLarge { .. } => ErrorKind::TooLarge,
            IngestError::UnknownMediaType { .. } => ErrorKind::UnknownMediaType,
            IngestError::Event(error) => error.error_kind(),
            IngestError::IllegalTransition(_) => ErrorKind::IllegalTransition,
        }
    }

    pub(crate) fn malformed(error: &serde_json::Error) -> Self {
        IngestError::MalformedJson {
            message: error.to_string(),
            column: (error.column() > 0).then(|| error.column()),
        }
    }
}

/// Why a state may not follow an action's last accepted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransitionRule {
    /// The action is not tracked (never seen, ended and forgotten, or expired), and its
    /// first event must be in an initial state.
    NotInitial,
    /// The action's lifecycle already ended.
    AfterEnd,
    /// The same state again, which the declaration does not allow.
    Repeated,
    /// The state is not one the declaration lets follow the previous one (a skipped step,
    /// or a step back).
    NotASuccessor,
    /// The action was tracked under another media type.
    MediaTypeChanged,
}

/// An event whose state may not follow its action's last accepted state, naming both.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal transition for action {action_id} ({media_type}): {}", self.describe())]
pub struct IllegalTransition {
    /// The action.
    pub action_id: Uuid,
    /// The event's media type.
    pub media_type: &'static str,
    /// The action's last accepted state, or `None` when the action is not tracked.
    pub from: Option<&'static str>,
    /// The media type of `from`, when it differs from the event's.
    pub from_media_type: Option<&'static str>,
    /// The event's state.
    pub to: &'static str,
    /// Which rule the step breaks.
    pub rule: TransitionRule,
    /// The states that may come instead: the initial states, or `from`'s successors.
    pub expected: Vec<&'static str>,
}

impl IllegalTransition {
    fn describe(&self) -> String {
        let expected = if self.expected.is_empty() {
            "none".to_owned()
        } else {
            self.expected.join(", ")
        };
        let from = self.from.unwrap_or("(none)");
        let to = self.to;
        match self.rule {
            TransitionRule::NotInitial => format!(
                "`{to}` cannot start a lifecycle and the action is not tracked (never seen, \
                 ended, or expired); a lifecycle starts with one of: {expected}"
            ),
            TransitionRule::AfterEnd => {
                format!("`{from}` -> `{to}`: the lifecycle already ended in `{from}`")
            }
            TransitionRule::Repeated => format!("`{from}` -> `{to}`: repeated state"),
            TransitionRule::NotASuccessor => {
                format!("`{from}` -> `{to}`: `{to}` does not follow `{from}`; expected one of: {expected}")
            }
            TransitionRule::MediaTypeChanged => format!(
                "`{}:{from}` -> `{}:{to}`: the action changed media type",
                self.from_media_type.unwrap_or("?"),
                self.media_type
            ),
        }
    }
}
